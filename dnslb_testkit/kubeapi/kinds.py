"""The resource kinds the double serves, and how each is addressed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from dnslb.core.config.crds import crd
from dnslb.core.config.resources import CRD_KINDS
from dnslb_testkit.kubeapi.errors import GroupResource


@dataclass(frozen=True)
class ResourceKind:
    """One served resource: `services` in core/v1, `leases` in coordination.k8s.io/v1, …"""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    status_subresource: bool = False
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # `kubectl get <category>` lists every kind in it
    # metadata.generation counts spec changes (Services and custom resources here).
    tracks_generation: bool = False
    # DELETE answers with the deleted object (else with a Success Status), as apiserver does per kind.
    delete_returns_object: bool = False
    # Custom resources: JSON and merge patches only (strategic merge needs Go struct tags).
    custom: bool = False
    # PUT of a missing object creates it (apiserver's AllowCreateOnUpdate).
    create_on_update: bool = False
    # PUT without metadata.resourceVersion overwrites (apiserver's AllowUnconditionalUpdate); else 422.
    unconditional_update: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> GroupResource:
        return GroupResource(self.group, self.plural)

    @property
    def group_version(self) -> tuple[str, str]:
        return (self.group, self.version)


NAMESPACES = ResourceKind("", "v1", "Namespace", "namespaces", False, True, ("ns",), delete_returns_object=True)
# Services carry no metadata.generation: apiserver's Service strategy never sets it.
SERVICES = ResourceKind(
    "", "v1", "Service", "services", True, True, ("svc",), delete_returns_object=True, create_on_update=True
)
NODES = ResourceKind("", "v1", "Node", "nodes", False, True, ("no",))
EVENTS = ResourceKind("", "v1", "Event", "events", True, False, ("ev",), create_on_update=True)
CONFIG_MAPS = ResourceKind("", "v1", "ConfigMap", "configmaps", True, False, ("cm",))
SECRETS = ResourceKind("", "v1", "Secret", "secrets", True, False)
ENDPOINT_SLICES = ResourceKind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True)
LEASES = ResourceKind(
    "coordination.k8s.io", "v1", "Lease", "leases", True, create_on_update=True, unconditional_update=False
)
# Ingresses and IngressClasses count spec changes in metadata.generation (their apiserver strategies do).
INGRESSES = ResourceKind(
    "networking.k8s.io", "v1", "Ingress", "ingresses", True, True, ("ing",), tracks_generation=True
)
INGRESS_CLASSES = ResourceKind(
    "networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, tracks_generation=True
)


def _custom(definition: Mapping[str, Any]) -> ResourceKind:
    """The kind a CustomResourceDefinition serves (its storage version), as the CRD names it."""
    spec, names = definition["spec"], definition["spec"]["names"]
    version = next(v for v in spec["versions"] if v["storage"])
    return ResourceKind(
        spec["group"],
        version["name"],
        names["kind"],
        names["plural"],
        namespaced=spec["scope"] == "Namespaced",
        status_subresource="status" in version.get("subresources", {}),
        short_names=tuple(names.get("shortNames", ())),
        categories=tuple(names.get("categories", ())),
        tracks_generation=True,
        delete_returns_object=True,
        custom=True,
        unconditional_update=False,
    )


# The CRDs of the kinds DNS sources read (Gateway API, external-dns's DNSEndpoint), written for the double.
SOURCE_CRD_DIRECTORY = Path(__file__).resolve().parent.parent / "crds"


def load_crds(directory: Path) -> dict[str, Mapping[str, Any]]:
    """Kind → CustomResourceDefinition, from every `*.yaml` in `directory` (as `kubectl apply -f` would install
    them); a kind named twice is an error, since the double keys its CRDs by kind."""
    found: dict[str, Mapping[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                continue
            kind = document["spec"]["names"]["kind"]
            if kind in found:
                raise ValueError(f"{path}: a second CustomResourceDefinition for kind {kind}")
            found[kind] = document
    return found


def _all_crds() -> dict[str, Mapping[str, Any]]:
    own = {kind: crd(model) for kind, model in CRD_KINDS.items()}
    sources = load_crds(SOURCE_CRD_DIRECTORY)
    if clash := set(own) & set(sources):
        raise ValueError(f"{SOURCE_CRD_DIRECTORY}: kinds dnslb.io already defines: {sorted(clash)}")
    return {**own, **sources}


# The CRDs the double serves: dnslb's own, made from the same models as deploy/crds, and those of
# dnslb_testkit/crds. The kinds' names, short names and categories, their schemas (schemas.py), and the printer
# columns of their Tables (tables.py), are the CRDs'.
CRDS: Mapping[str, Mapping[str, Any]] = MappingProxyType(_all_crds())
ADDRESS_POOLS = _custom(CRDS["AddressPool"])
BGP_PEERS = _custom(CRDS["BGPPeer"])
BGP_ADVERTISEMENTS = _custom(CRDS["BGPAdvertisement"])
DNS_PROVIDERS = _custom(CRDS["DNSProvider"])
NODE_ANNOUNCEMENTS = _custom(CRDS["NodeAnnouncement"])
GATEWAY_CLASSES = _custom(CRDS["GatewayClass"])
GATEWAYS = _custom(CRDS["Gateway"])
HTTP_ROUTES = _custom(CRDS["HTTPRoute"])
GRPC_ROUTES = _custom(CRDS["GRPCRoute"])
TLS_ROUTES = _custom(CRDS["TLSRoute"])
TCP_ROUTES = _custom(CRDS["TCPRoute"])
UDP_ROUTES = _custom(CRDS["UDPRoute"])
DNS_ENDPOINTS = _custom(CRDS["DNSEndpoint"])

ALL_KINDS: tuple[ResourceKind, ...] = (
    NAMESPACES,
    SERVICES,
    NODES,
    EVENTS,
    CONFIG_MAPS,
    SECRETS,
    ENDPOINT_SLICES,
    LEASES,
    INGRESSES,
    INGRESS_CLASSES,
    ADDRESS_POOLS,
    BGP_PEERS,
    BGP_ADVERTISEMENTS,
    DNS_PROVIDERS,
    NODE_ANNOUNCEMENTS,
    GATEWAY_CLASSES,
    GATEWAYS,
    HTTP_ROUTES,
    GRPC_ROUTES,
    TLS_ROUTES,
    TCP_ROUTES,
    UDP_ROUTES,
    DNS_ENDPOINTS,
)

_BY_PATH = {(k.group, k.version, k.plural): k for k in ALL_KINDS}


def kind_at(group: str, version: str, plural: str) -> ResourceKind | None:
    """The kind served at `/apis/<group>/<version>/<plural>` (group "" is `/api/v1`)."""
    return _BY_PATH.get((group, version, plural))


_BY_TYPE = {(k.api_version, k.kind): k for k in ALL_KINDS}


def kind_of(api_version: str, kind: str) -> ResourceKind | None:
    """The kind an object's `apiVersion` and `kind` name."""
    return _BY_TYPE.get((api_version, kind))


def group_versions() -> list[tuple[str, str]]:
    """Every served (group, version), core first, in a stable order."""
    seen: dict[tuple[str, str], None] = {}
    for kind in served():
        seen.setdefault(kind.group_version, None)
    return list(seen)


_UNSERVED: set[str] = set()


def served() -> tuple[ResourceKind, ...]:
    """The kinds this process serves: all but those `unserve` took away."""
    return tuple(k for k in ALL_KINDS if k.kind not in _UNSERVED)


def unserve(names: Iterable[str]) -> None:
    """Serve these custom kinds no more in this process, as a cluster without their CRDs: their paths answer 404 and
    discovery leaves them out. For a test of what runs against such a cluster."""
    for name in names:
        found = [k for k in ALL_KINDS if k.kind == name]
        if not found or not found[0].custom:
            raise ValueError(f"{name!r} is not a custom kind the double serves")
        kind = found[0]
        _UNSERVED.add(name)
        _BY_PATH.pop((kind.group, kind.version, kind.plural), None)
        _BY_TYPE.pop((kind.api_version, kind.kind), None)
