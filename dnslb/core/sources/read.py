"""Every enabled source read at once: the objects of each kind in, their records and problems out. Pure.

The controller feeds it its caches, `dnslb plan` the manifests it is given; both then hand the records to
`dnslb.core.dns.desired.claims` beside the Services'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dnslb.core.diagnostics import INVALID_OBJECT, Diagnostic, failed
from dnslb.core.dns.desired import shares
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources.dnsendpoint import dnsendpoint_records
from dnslb.core.sources.gateway import PROTOCOLS, RouteKind, route_records
from dnslb.core.sources.ingress import ingress_records
from dnslb.core.sources.records import SourceRecord

Obj = Mapping[str, Any]

# --source names, as external-dns spells its sources (its `crd` source is dnslb's `dnsendpoint`)
SERVICE = "service"
INGRESS = "ingress"
DNSENDPOINT = "dnsendpoint"
ROUTE_SOURCES: Mapping[str, RouteKind] = {
    "gateway-httproute": "HTTPRoute",
    "gateway-grpcroute": "GRPCRoute",
    "gateway-tlsroute": "TLSRoute",
    "gateway-tcproute": "TCPRoute",
    "gateway-udproute": "UDPRoute",
}
SOURCES = (SERVICE, INGRESS, *ROUTE_SOURCES, DNSENDPOINT)
KIND_OF = {INGRESS: "Ingress", DNSENDPOINT: "DNSEndpoint", **ROUTE_SOURCES}


def parse_sources(text: str) -> frozenset[str]:
    """A --source value: comma-separated names of `SOURCES`; ValueError naming the first unknown one."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name not in SOURCES:
            raise ValueError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
    if not names:
        raise ValueError("no source named")
    return frozenset(names)


@dataclass(frozen=True)
class SourceSettings:
    """What the sources are told: which are on, which classes are ours, whether Ingress TLS hosts count."""

    enabled: frozenset[str] = frozenset({SERVICE})
    ingress_classes: frozenset[str] = frozenset()  # empty: every class
    gateway_classes: frozenset[str] = frozenset()
    tls_hosts: bool = True


SERVICES_ONLY = SourceSettings()


@dataclass(frozen=True)
class SourceObjects:
    """The objects of every source kind, as the API returns them."""

    ingresses: Iterable[Obj] = ()
    routes: Mapping[RouteKind, Iterable[Obj]] = field(default_factory=dict)
    gateways: Mapping[ObjectKey, Obj] = field(default_factory=dict)
    dnsendpoints: Iterable[Obj] = ()
    namespace_labels: Callable[[str], Mapping[str, str]] = lambda namespace: {}


@dataclass(frozen=True)
class SourcesRead:
    records: tuple[SourceRecord, ...]
    problems: tuple[Diagnostic, ...]
    owners: frozenset[ObjectRef]  # every object read, with records or without: the ones that exist
    sharing: frozenset[ObjectRef] = frozenset()  # those that opt in to sharing their hostnames (desired.shares)
    # kinds whose objects are not all known yet (their cache has not synced): the names they own must not be deleted
    incomplete: frozenset[str] = frozenset()


NO_SOURCES = SourcesRead((), (), frozenset())


Read = tuple[list[SourceRecord], list[Diagnostic]]
Memo = dict[tuple[str, str, str], tuple[str, Read]]  # (kind, namespace, name) → (resourceVersion, what it read)


def read_sources(objects: SourceObjects, settings: SourceSettings, memo: Memo | None = None) -> SourcesRead:
    """`memo`: what earlier calls (with the same settings) read of each Ingress and DNSEndpoint, by resourceVersion,
    so that a pass reads only the objects that changed; kept by the caller, forgotten objects pruned here. Routes are
    read every time: what they want depends on their Gateways and Namespaces too."""
    records: list[SourceRecord] = []
    problems: list[Diagnostic] = []
    owners: set[ObjectRef] = set()
    sharing: set[ObjectRef] = set()

    def add(kind: str, obj: Obj, found: tuple[list[SourceRecord], list[Diagnostic]]) -> None:
        records.extend(found[0])
        problems.extend(found[1])
        ref = _ref(kind, obj)
        if ref is None:
            return
        owners.add(ref)
        annotations = obj["metadata"].get("annotations")
        if found[0] and isinstance(annotations, Mapping):
            share, problem = shares({k: v for k, v in annotations.items() if isinstance(v, str)})
            if share:
                sharing.add(ref)
            if problem is not None:
                problems.append(Diagnostic(ref, INVALID_OBJECT, problem[1], field=problem[0]))

    seen: set[tuple[str, str, str]] = set()

    def remembered(kind: str, obj: Obj, read: Callable[[Obj], Read]) -> Read:
        metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
        version = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
        if memo is None or not isinstance(version, str) or not version:
            return read(obj)
        key = (kind, str(metadata.get("namespace")), str(metadata.get("name")))  # type: ignore[union-attr]
        seen.add(key)
        found = memo.get(key)
        if found is None or found[0] != version:
            found = memo[key] = (version, read(obj))
        return found[1]

    def one(kind: str, obj: Obj, read: Callable[[], Read]) -> None:
        try:  # a bug meeting one object costs its names this pass (held, not deleted: ProcessingFailed), not all
            add(kind, obj, read())
        except Exception as exc:
            ref = _ref(kind, obj)
            if ref is not None:
                owners.add(ref)
                problems.append(failed(ref, exc))

    def ingress(obj: Obj) -> Read:
        return ingress_records(obj, settings.ingress_classes, tls_hosts=settings.tls_hosts)

    if INGRESS in settings.enabled:
        for obj in objects.ingresses:
            one("Ingress", obj, partial(remembered, "Ingress", obj, ingress))
    for source, kind in ROUTE_SOURCES.items():
        if source in settings.enabled and kind in PROTOCOLS:
            for obj in objects.routes.get(kind, ()):
                gateways, classes, labels = objects.gateways, settings.gateway_classes, objects.namespace_labels
                one(kind, obj, partial(route_records, obj, kind, gateways, classes, labels))
    if DNSENDPOINT in settings.enabled:
        for obj in objects.dnsendpoints:
            one("DNSEndpoint", obj, partial(remembered, "DNSEndpoint", obj, dnsendpoint_records))
    if memo is not None:
        for key in set(memo) - seen:
            del memo[key]
    return SourcesRead(tuple(records), tuple(dict.fromkeys(problems)), frozenset(owners), frozenset(sharing))


def _ref(kind: str, obj: Obj) -> ObjectRef | None:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
        return None
    namespace = metadata.get("namespace")
    return ObjectRef(kind, ObjectKey(namespace if isinstance(namespace, str) and namespace else "default",
                                     metadata["name"]))  # fmt: skip
