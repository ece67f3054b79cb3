"""BGP: the pure announcement policy and flap damping, and the ExaBGP driver."""
