"""Annotation names (of Services, and of the source objects for the DNS ones). Each purpose lists dnslb's own name
first, then the MetalLB / external-dns names it also reads so that a migration needs no manifest edits; the first one
present wins."""

from __future__ import annotations

from collections.abc import Mapping

HOSTNAME = (
    "dnslb.io/hostname",
    "external-dns.alpha.kubernetes.io/hostname",
    "external-dns.kubernetes.io/hostname",
)
TTL = ("dnslb.io/ttl", "external-dns.alpha.kubernetes.io/ttl", "external-dns.kubernetes.io/ttl")
LOAD_BALANCER_IPS = ("dnslb.io/load-balancer-ips", "metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")
ADDRESS_POOL = ("dnslb.io/address-pool", "metallb.io/address-pool", "metallb.universe.tf/address-pool")
ALLOW_SHARED_IP = ("dnslb.io/allow-shared-ip", "metallb.io/allow-shared-ip", "metallb.universe.tf/allow-shared-ip")
# external-dns's: an object naming another controller than its own value is that controller's, and skipped
CONTROLLER = ("external-dns.alpha.kubernetes.io/controller", "external-dns.kubernetes.io/controller")
OUR_CONTROLLER = "dns-controller"
# external-dns's record targets: read on Ingresses and Gateways (`dnslb.core.sources`); on a Service, where dnslb
# publishes the VIPs, it is not used
TARGET = ("external-dns.alpha.kubernetes.io/target", "external-dns.kubernetes.io/target")
# "true" on two objects claiming one hostname: both get it, their addresses together (blue/green), where the tenant
# grants allow both namespaces; otherwise the earlier-created object keeps it
SHARED_HOSTNAMES = ("dnslb.io/shared-hostnames",)
BGP_COMMUNITIES = ("dnslb.io/bgp-communities",)
BGP_LOCAL_PREF = ("dnslb.io/bgp-local-pref",)

ALLOCATED_FROM_POOL = "dnslb.io/ip-allocated-from-pool"


def lookup(annotations: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    """(name, value) of the first of `names` present, else None."""
    for name in names:
        if name in annotations:
            return name, annotations[name]
    return None


def field(name: str) -> str:
    """The field path of an annotation, as written in errors and Events."""
    return f"metadata.annotations[{name}]"
