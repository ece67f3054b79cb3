"""`dnslb lab`: the whole system in network namespaces on one machine, replaying the production test."""
