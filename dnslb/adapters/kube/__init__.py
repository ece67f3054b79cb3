"""The only code that talks to Kubernetes: informers, status and Event writers, conditions, leases."""
