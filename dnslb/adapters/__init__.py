"""Adapters: the only code that talks to the outside world (Kubernetes, ExaBGP, DNS providers)."""
