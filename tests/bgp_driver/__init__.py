"""Tests of the ExaBGP driver: typed routes, config rendering, the relay, and ExaBGP against a real BIRD."""
