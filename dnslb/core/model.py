"""Plain values shared by the core and the adapters: Services, Nodes and endpoints as dnslb sees them.

The readers here take objects as the API (or a manifest) gives them and are strict: ASCII grammars, known values,
ranges. What would make the whole object meaningless raises `ShapeError` naming the field; a bad value in a field
dnslb can do without (an address in status that is no address) is left out and kept in the view's `problems`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from dnslb.core.diagnostics import INVALID_OBJECT, Diagnostic
from dnslb.core.grammar import is_dns1123_label, is_dns1123_subdomain, parse_ip, show
from dnslb.core.objects import ObjectKey, ObjectRef

_EMPTY: Mapping[str, str] = MappingProxyType({})


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
    dns_published: tuple[str, str, str] | None = None  # the DNSPublished condition found: status, reason, message
    problems: tuple[Diagnostic, ...] = ()  # fields left out because their values were unusable

    @property
    def order(self) -> tuple[bool, str, str, str]:
        """Earlier-created first, not-yet-created last; ties by name, so every process orders Services alike."""
        return (not self.created, self.created, self.key.namespace, self.key.name)


class ShapeError(ValueError):
    """An object that is not shaped as its kind must be: `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
FAMILIES = ("IPv4", "IPv6")
PROTOCOLS = ("TCP", "UDP", "SCTP")
TRAFFIC_POLICIES = ("Cluster", "Local")
DNS_PUBLISHED_CONDITION = "dnslb.io/DNSPublished"  # what each hostname of the Service came to (see core/dns/gate)
_QUALIFIED_NAME = re.compile(r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")
_UID = re.compile(r"[-A-Za-z0-9]{1,64}")


def service_view(obj: Mapping[str, Any]) -> ServiceView:
    """Read a v1 Service (as the API returns it or `kubectl get -o yaml` prints it) into a ServiceView."""
    metadata = _mapping(obj.get("metadata"), "metadata")
    spec = _mapping(obj.get("spec"), "spec")
    status = _mapping(obj.get("status"), "status")
    key = ObjectKey(_namespace(metadata), _name(metadata))
    policy = _choice(spec, "ipFamilyPolicy", FAMILY_POLICIES, "SingleStack")
    families = _families(spec.get("ipFamilies"), policy)
    ingress_ips, problems = _ingress_ips(key, status)
    return ServiceView(
        key=key,
        uid=_uid(metadata),
        created=_timestamp(metadata.get("creationTimestamp")),
        type=_choice(spec, "type", SERVICE_TYPES, "ClusterIP"),
        load_balancer_class=_qualified_name(spec.get("loadBalancerClass"), "spec.loadBalancerClass"),
        load_balancer_ip=_optional_string(spec.get("loadBalancerIP"), "spec.loadBalancerIP"),
        ip_family_policy=policy,
        ip_families=families,
        ports=_ports(spec.get("ports")),
        external_traffic_policy=_choice(spec, "externalTrafficPolicy", TRAFFIC_POLICIES, "Cluster"),
        selector=_strings(spec.get("selector"), "spec.selector"),
        labels=_strings(metadata.get("labels"), "metadata.labels"),
        annotations=_strings(metadata.get("annotations"), "metadata.annotations"),
        ingress_ips=ingress_ips,
        health_check_node_port=_port_number(spec.get("healthCheckNodePort"), "spec.healthCheckNodePort"),
        dns_published=_dns_published(status.get("conditions")),
        problems=problems,
    )


def _dns_published(conditions: Any) -> tuple[str, str, str] | None:
    """Our condition as the API holds it; anything malformed reads as absent (it is written again)."""
    for entry in conditions if isinstance(conditions, list) else ():
        if isinstance(entry, dict) and entry.get("type") == DNS_PUBLISHED_CONDITION:
            fields = (entry.get("status"), entry.get("reason"), entry.get("message"))
            return fields if all(isinstance(f, str) for f in fields) else None  # type: ignore[return-value]
    return None


def _namespace(metadata: Mapping[str, Any]) -> str:
    namespace = metadata.get("namespace")
    if namespace is None or namespace == "":
        return "default"  # a manifest without one; the API always says
    if not is_dns1123_label(namespace):
        raise ShapeError("metadata.namespace", f"{show(namespace)} is not a namespace name")
    return str(namespace)


def _name(metadata: Mapping[str, Any], *, subdomain: bool = False) -> str:
    name = metadata.get("name")
    if name is None or name == "":
        raise ShapeError("metadata.name", "is missing")
    if not (is_dns1123_subdomain(name) if subdomain else is_dns1123_label(name)):
        raise ShapeError("metadata.name", f"{show(name)} is not a valid name")
    return str(name)


def _uid(metadata: Mapping[str, Any]) -> str:
    uid = metadata.get("uid")
    if uid is None or uid == "":
        return ""
    if not isinstance(uid, str) or not _UID.fullmatch(uid):
        raise ShapeError("metadata.uid", f"{show(uid)} is not a uid")
    return uid


def _choice(spec: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = spec.get(name)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise ShapeError(f"spec.{name}", f"{show(value)} is not one of {', '.join(allowed)}")
    return str(value)


def _families(value: Any, policy: str) -> tuple[str, ...]:
    if value is None or value == []:
        return ("IPv4", "IPv6") if policy == "RequireDualStack" else ("IPv4",)
    if not isinstance(value, list) or not 1 <= len(value) <= 2 or any(f not in FAMILIES for f in value):
        raise ShapeError("spec.ipFamilies", f"{show(value)} is not a list of IPv4 and/or IPv6")
    if len(set(value)) != len(value):
        raise ShapeError("spec.ipFamilies", f"{show(value)} names a family twice")
    return tuple(str(f) for f in value)


def _ports(value: Any) -> tuple[Port, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ShapeError("spec.ports", "is not a list")
    ports = []
    for i, item in enumerate(value):
        where = f"spec.ports[{i}]"
        entry = _mapping(item, where)
        number = _port_number(entry.get("port"), f"{where}.port")
        if number is None:
            raise ShapeError(f"{where}.port", "is missing")
        protocol = entry.get("protocol") or "TCP"
        if protocol not in PROTOCOLS:
            raise ShapeError(f"{where}.protocol", f"{show(protocol)} is not one of {', '.join(PROTOCOLS)}")
        ports.append(Port(str(protocol), number))
    return tuple(ports)


def _port_number(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= 65535:
        raise ShapeError(where, f"{show(value)} is not a port number (1-65535)")
    return value


def _qualified_name(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 316 or not _QUALIFIED_NAME.fullmatch(value):
        raise ShapeError(where, f"{show(value)} is not a qualified name")
    return value


def _optional_string(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ShapeError(where, f"{show(value)} is not a string")
    return value


def _ingress_ips(key: ObjectKey, status: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[Diagnostic, ...]]:
    """The IPs in status.loadBalancer.ingress, parsed; an entry that is no IP is left out and reported."""
    ingress = _mapping(status.get("loadBalancer"), "status.loadBalancer").get("ingress")
    if ingress is None:
        return (), ()
    if not isinstance(ingress, list):
        raise ShapeError("status.loadBalancer.ingress", "is not a list")
    ips: list[str] = []
    problems: list[Diagnostic] = []
    for i, entry in enumerate(ingress):
        where = f"status.loadBalancer.ingress[{i}].ip"
        ip = _mapping(entry, f"status.loadBalancer.ingress[{i}]").get("ip")
        if ip is None or ip == "":
            continue  # a hostname entry, written by another load balancer
        try:
            ips.append(str(parse_ip(ip)))
        except ValueError as exc:
            message = f"{exc}; left out"
            problems.append(Diagnostic(ObjectRef("Service", key), INVALID_OBJECT, message, field=where))
    return tuple(ips), tuple(problems)


_SPEC_FIELDS = (
    "type", "loadBalancerClass", "loadBalancerIP", "ipFamilyPolicy", "ipFamilies", "ports", "externalTrafficPolicy",
    "selector", "healthCheckNodePort",
)  # fmt: skip


# What a real server sends and no reader here uses, often larger than the rest of the object together.
_NOT_READ = ("managedFields", "ownerReferences", "finalizers")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _trimmed_metadata(metadata: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    metadata = _dict(metadata)
    kept = {k: metadata[k] for k in keys if k in metadata}
    annotations = kept.get("annotations")
    if isinstance(annotations, dict) and _LAST_APPLIED in annotations:
        kept["annotations"] = {k: v for k, v in annotations.items() if k != _LAST_APPLIED}
    return kept


def service_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """Only what `service_view` reads (and resourceVersion), so a cache of 10,000 Services stays small. Never
    raises: what is malformed is kept as it is, for `service_view` to name."""
    metadata, spec, status = obj.get("metadata"), obj.get("spec"), obj.get("status")
    if isinstance(metadata, dict):
        metadata = _trimmed_metadata(
            metadata, ("name", "namespace", "uid", "creationTimestamp", "resourceVersion", "labels", "annotations")
        )
    if isinstance(spec, dict):
        spec = {k: spec[k] for k in _SPEC_FIELDS if k in spec} | {"ports": _trimmed_ports(spec.get("ports"))}
    if isinstance(status, dict):
        conditions = status.get("conditions")
        ours = (
            [c for c in conditions if isinstance(c, dict) and c.get("type") == DNS_PUBLISHED_CONDITION]
            if isinstance(conditions, list)
            else []
        )
        status = {
            **({"loadBalancer": status["loadBalancer"]} if status.get("loadBalancer") is not None else {}),
            **({"conditions": ours} if ours else {}),
        }
    return {"metadata": metadata, "spec": spec, "status": status}


def announced_service_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """What the speaker reads of a Service: `service_fields` without labels, creationTimestamp, selector and ports,
    which only the allocator uses (10,000 Services: a few megabytes less on every node)."""
    trimmed = service_fields(obj)
    if isinstance(trimmed["metadata"], dict):
        trimmed["metadata"].pop("labels", None)
        trimmed["metadata"].pop("creationTimestamp", None)
    if isinstance(trimmed["spec"], dict):
        trimmed["spec"] = {k: v for k, v in trimmed["spec"].items() if k not in ("selector", "ports")}
    return trimmed


def _trimmed_ports(ports: Any) -> Any:
    if not isinstance(ports, list):
        return ports
    return [{"port": p.get("port"), "protocol": p.get("protocol")} if isinstance(p, dict) else p for p in ports]


def slice_fields(obj: dict[str, Any], node: str) -> dict[str, Any] | None:
    """What `endpoint_views` reads of the endpoints on `node` (all a speaker needs: whether its node runs a ready
    endpoint of a Local Service); None when the slice has none there, so it is not kept at all. 30,000
    EndpointSlices with their addresses, ports, hints and managedFields would cost every speaker hundreds of
    megabytes."""
    metadata = _dict(obj.get("metadata"))
    endpoints = obj.get("endpoints")
    if isinstance(endpoints, list):
        endpoints = [
            {k: e[k] for k in ("nodeName", "conditions") if k in e} if isinstance(e, dict) else e
            for e in endpoints
            if not isinstance(e, dict) or e.get("nodeName") == node
        ]
        if not endpoints:
            return None
    trimmed = _trimmed_metadata(metadata, ("name", "namespace", "uid", "resourceVersion"))
    labels = _dict(metadata.get("labels"))
    if "kubernetes.io/service-name" in labels:
        trimmed["labels"] = {"kubernetes.io/service-name": labels["kubernetes.io/service-name"]}
    return {"metadata": trimmed, "endpoints": endpoints}


def node_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """Only what `node_view` reads (no images, no volumes, no capacity)."""
    status = _dict(obj.get("status"))
    return {
        "metadata": _trimmed_metadata(obj.get("metadata"), ("name", "uid", "resourceVersion", "labels")),
        "spec": {k: v for k, v in _dict(obj.get("spec")).items() if k == "unschedulable"},
        "status": {k: status[k] for k in ("conditions", "addresses") if k in status},
    }


def without_unread_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without the metadata no reader uses (managedFields above all)."""
    metadata = _dict(obj.get("metadata"))
    if not any(k in metadata for k in _NOT_READ) and _LAST_APPLIED not in _dict(metadata.get("annotations")):
        return obj
    kept = {k: v for k, v in metadata.items() if k not in _NOT_READ}
    return {**obj, "metadata": _trimmed_metadata(kept, tuple(kept))}


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ShapeError(path, "is not a mapping")
    return value


_NOTHING: Mapping[str, str] = MappingProxyType({})  # one for every empty map: 10,000 Services have no selector


def _strings(value: Any, path: str) -> Mapping[str, str]:
    mapping = _mapping(value, path)
    for k, v in mapping.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ShapeError(f"{path}[{show(k)}]", "keys and values must be strings")
    return MappingProxyType(dict(mapping)) if mapping else _NOTHING


def _timestamp(value: Any) -> str:
    """RFC 3339 as the API writes it; YAML loaders turn it into a datetime, so turn it back."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ShapeError("metadata.creationTimestamp", f"{show(value)} is not an RFC 3339 time")
    return value


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
    conditions: dict[str, str] = {}
    for i, condition in enumerate(_list(status.get("conditions"), "status.conditions")):
        entry = _mapping(condition, f"status.conditions[{i}]")
        if isinstance(entry.get("type"), str) and isinstance(entry.get("status"), str):
            conditions[entry["type"]] = entry["status"]
    addresses: list[tuple[bool, str]] = []
    for i, item in enumerate(_list(status.get("addresses"), "status.addresses")):
        entry = _mapping(item, f"status.addresses[{i}]")
        try:
            ip = parse_ip(entry.get("address"))
        except ValueError:
            continue  # a Hostname entry, or an address that is none: no use as a BGP source
        addresses.append((entry.get("type") != "InternalIP", str(ip)))
    return NodeView(
        name=_name(metadata, subdomain=True),
        labels=_strings(metadata.get("labels"), "metadata.labels"),
        ready=conditions.get("Ready") == "True",
        network_unavailable=conditions.get("NetworkUnavailable") == "True",
        unschedulable=spec.get("unschedulable") is True,
        addresses=tuple(address for _, address in sorted(addresses, key=lambda a: a[0])),
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
    service = _strings(metadata.get("labels"), "metadata.labels").get("kubernetes.io/service-name")
    if not service:
        return []
    if not is_dns1123_label(service):
        raise ShapeError("metadata.labels[kubernetes.io/service-name]", f"{show(service)} is not a Service name")
    key = ObjectKey(_namespace(metadata), service)
    views = []
    for i, item in enumerate(_list(obj.get("endpoints"), "endpoints")):
        endpoint = _mapping(item, f"endpoints[{i}]")
        node = endpoint.get("nodeName")
        if node is None or node == "":
            continue
        if not is_dns1123_subdomain(node):
            raise ShapeError(f"endpoints[{i}].nodeName", f"{show(node)} is not a node name")
        ready = _mapping(endpoint.get("conditions"), f"endpoints[{i}].conditions").get("ready")
        views.append(EndpointView(key, str(node), ready is not False))  # absent means ready, per the API
    return views


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ShapeError(path, "is not a list")
    return value
