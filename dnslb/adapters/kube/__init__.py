"""The only code that talks to Kubernetes: informers, the status writer, the Event recorder, leases, Secrets and
ConfigMaps."""
