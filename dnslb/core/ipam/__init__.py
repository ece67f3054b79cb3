"""IP address management: pools, requested IPs, sharing, dual-stack, stability. Pure: no Kubernetes, no I/O."""

from dnslb.core.ipam.allocator import Allocation, Allocator, PoolUsage
from dnslb.core.ipam.request import CLASSLESS, ClassFilter, Request, not_handled_because, request_for

__all__ = [
    "CLASSLESS",
    "Allocation",
    "Allocator",
    "ClassFilter",
    "PoolUsage",
    "Request",
    "not_handled_because",
    "request_for",
]
