"""Plain values shared by the core and the adapters: Services as dnslb sees them, keys, ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, order=True)
class ObjectKey:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class Port:
    protocol: str
    port: int

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True)
class ServiceView:
    """The fields of a v1 Service that dnslb reads, with the API server's defaults applied."""

    key: ObjectKey
    uid: str = ""
    created: str = ""
    type: str = "ClusterIP"
    load_balancer_class: str | None = None
    load_balancer_ip: str | None = None
    ip_family_policy: str = "SingleStack"
    ip_families: tuple[str, ...] = ("IPv4",)
    ports: tuple[Port, ...] = ()
    external_traffic_policy: str = "Cluster"
    selector: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    ingress_ips: tuple[str, ...] = ()
    health_check_node_port: int | None = None

    @property
    def order(self) -> tuple[bool, str, str, str]:
        """Earlier-created first, not-yet-created last; ties by name, so every process orders Services alike."""
        return (not self.created, self.created, self.key.namespace, self.key.name)


class ServiceShapeError(ValueError):
    """A document that claims to be a Service but is not shaped like one."""


def service_view(obj: Mapping[str, Any]) -> ServiceView:
    """Read a v1 Service (as the API returns it or `kubectl get -o yaml` prints it) into a ServiceView."""
    metadata = _mapping(obj.get("metadata"), "metadata")
    spec = _mapping(obj.get("spec"), "spec")
    status = _mapping(obj.get("status"), "status")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise ServiceShapeError("metadata.name is missing")
    namespace = metadata.get("namespace") or "default"
    ingress = _mapping(status.get("loadBalancer"), "status.loadBalancer").get("ingress") or []
    policy = spec.get("ipFamilyPolicy") or "SingleStack"
    families = tuple(spec.get("ipFamilies") or (("IPv4", "IPv6") if policy == "RequireDualStack" else ("IPv4",)))
    return ServiceView(
        key=ObjectKey(str(namespace), name),
        uid=str(metadata.get("uid") or ""),
        created=_timestamp(metadata.get("creationTimestamp")),
        type=str(spec.get("type") or "ClusterIP"),
        load_balancer_class=spec.get("loadBalancerClass") or None,
        load_balancer_ip=spec.get("loadBalancerIP") or None,
        ip_family_policy=str(policy),
        ip_families=families,
        ports=tuple(
            Port(str(p.get("protocol") or "TCP"), int(p["port"]))
            for p in spec.get("ports") or []
            if isinstance(p, Mapping) and isinstance(p.get("port"), int)
        ),
        external_traffic_policy=str(spec.get("externalTrafficPolicy") or "Cluster"),
        selector=_strings(spec.get("selector"), "spec.selector"),
        labels=_strings(metadata.get("labels"), "metadata.labels"),
        annotations=_strings(metadata.get("annotations"), "metadata.annotations"),
        ingress_ips=tuple(str(i["ip"]) for i in ingress if isinstance(i, Mapping) and i.get("ip")),
        health_check_node_port=spec.get("healthCheckNodePort")
        if isinstance(spec.get("healthCheckNodePort"), int)
        else None,
    )


_SPEC_FIELDS = (
    "type", "loadBalancerClass", "loadBalancerIP", "ipFamilyPolicy", "ipFamilies", "ports", "externalTrafficPolicy",
    "selector", "healthCheckNodePort",
)  # fmt: skip


def service_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """Only what `service_view` reads (and resourceVersion), so a cache of 10,000 Services stays small."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    load_balancer = (obj.get("status") or {}).get("loadBalancer")
    return {
        "metadata": {
            k: metadata[k]
            for k in ("name", "namespace", "uid", "creationTimestamp", "resourceVersion", "labels", "annotations")
            if k in metadata
        },
        "spec": {
            **{k: spec[k] for k in _SPEC_FIELDS if k in spec and k != "ports"},
            "ports": [{"port": p.get("port"), "protocol": p.get("protocol")} for p in spec.get("ports") or []],
        },
        "status": {"loadBalancer": load_balancer} if load_balancer else {},
    }


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ServiceShapeError(f"{path} is not a mapping")
    return value


def _strings(value: Any, path: str) -> Mapping[str, str]:
    mapping = _mapping(value, path)
    if not all(isinstance(v, str) for v in mapping.values()):
        raise ServiceShapeError(f"{path} values must be strings")
    return MappingProxyType({str(k): v for k, v in mapping.items()})


def _timestamp(value: Any) -> str:
    """RFC 3339 as the API writes it; YAML loaders turn it into a datetime, so turn it back."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value or "")


EXCLUDE_FROM_LB = "node.kubernetes.io/exclude-from-external-load-balancers"


@dataclass(frozen=True)
class NodeView:
    """The fields of a v1 Node the speaker reads."""

    name: str
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    ready: bool = False
    network_unavailable: bool = False
    unschedulable: bool = False
    addresses: tuple[str, ...] = ()  # InternalIP first


def node_view(obj: Mapping[str, Any]) -> NodeView:
    metadata = _mapping(obj.get("metadata"), "metadata")
    spec = _mapping(obj.get("spec"), "spec")
    status = _mapping(obj.get("status"), "status")
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or [] if isinstance(c, Mapping)}
    addresses = sorted(
        (a for a in status.get("addresses") or [] if isinstance(a, Mapping) and a.get("address")),
        key=lambda a: a.get("type") != "InternalIP",
    )
    return NodeView(
        name=str(metadata.get("name") or ""),
        labels=_strings(metadata.get("labels"), "metadata.labels"),
        ready=conditions.get("Ready") == "True",
        network_unavailable=conditions.get("NetworkUnavailable") == "True",
        unschedulable=bool(spec.get("unschedulable")),
        addresses=tuple(str(a["address"]) for a in addresses),
    )


@dataclass(frozen=True)
class EndpointView:
    """One endpoint of a Service, from an EndpointSlice: where it runs and whether it takes traffic."""

    service: ObjectKey
    node: str
    ready: bool


def endpoint_views(obj: Mapping[str, Any]) -> list[EndpointView]:
    """The endpoints of one discovery.k8s.io/v1 EndpointSlice."""
    metadata = _mapping(obj.get("metadata"), "metadata")
    service = (metadata.get("labels") or {}).get("kubernetes.io/service-name")
    if not service:
        return []
    key = ObjectKey(str(metadata.get("namespace") or "default"), str(service))
    views = []
    for endpoint in obj.get("endpoints") or []:
        if not isinstance(endpoint, Mapping) or not endpoint.get("nodeName"):
            continue
        conditions = endpoint.get("conditions") or {}
        ready = conditions.get("ready") is not False  # absent means ready, per the EndpointSlice API
        views.append(EndpointView(key, str(endpoint["nodeName"]), ready))
    return views
