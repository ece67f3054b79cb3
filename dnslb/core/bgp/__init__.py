"""BGP, pure: the announcement policy, flap damping, routes as typed values and the updates between two sets."""
