"""The Service vocabulary the defaulting, validation and allocation modules share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
IP_FAMILIES = ("IPv4", "IPv6")
PROTOCOLS = ("SCTP", "TCP", "UDP")
TRAFFIC_POLICIES = ("Cluster", "Local")
SESSION_AFFINITIES = ("ClientIP", "None")
IP_MODES = ("Proxy", "VIP")
HEADLESS = "None"
DEFAULT_AFFINITY_TIMEOUT = 10800


def other_family(family: str) -> str:
    return "IPv6" if family == "IPv4" else "IPv4"


def externally_accessible(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer") or (
        spec.get("type") == "ClusterIP" and bool(spec.get("externalIPs"))
    )


def needs_node_ports(spec: Mapping[str, Any]) -> bool:
    if spec.get("type") == "NodePort":
        return True
    return spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def needs_health_check_port(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def is_headless(spec: Mapping[str, Any]) -> bool:
    return spec.get("clusterIP") == HEADLESS


def service_ports(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = spec.get("ports") or []
    return ports


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
