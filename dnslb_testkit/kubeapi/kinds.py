"""The resource kinds the double serves, and how each is addressed."""

from __future__ import annotations

from dataclasses import dataclass

from dnslb_testkit.kubeapi.errors import GroupResource

CUSTOM_GROUP = "dnslb.io"
CUSTOM_VERSION = "v1alpha1"


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


def _custom(kind: str, plural: str, short_names: tuple[str, ...] = ()) -> ResourceKind:
    return ResourceKind(
        CUSTOM_GROUP,
        CUSTOM_VERSION,
        kind,
        plural,
        namespaced=True,
        status_subresource=True,
        short_names=short_names,
        tracks_generation=True,
        delete_returns_object=True,
        custom=True,
        unconditional_update=False,
    )


ADDRESS_POOLS = _custom("AddressPool", "addresspools")
BGP_PEERS = _custom("BGPPeer", "bgppeers")
BGP_ADVERTISEMENTS = _custom("BGPAdvertisement", "bgpadvertisements")
DNS_PROVIDERS = _custom("DNSProvider", "dnsproviders")

ALL_KINDS: tuple[ResourceKind, ...] = (
    NAMESPACES,
    SERVICES,
    NODES,
    EVENTS,
    CONFIG_MAPS,
    SECRETS,
    ENDPOINT_SLICES,
    LEASES,
    ADDRESS_POOLS,
    BGP_PEERS,
    BGP_ADVERTISEMENTS,
    DNS_PROVIDERS,
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
    for kind in ALL_KINDS:
        seen.setdefault(kind.group_version, None)
    return list(seen)
