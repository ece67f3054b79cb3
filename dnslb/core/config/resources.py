"""The config resources of group dnslb.io/v1alpha1, as frozen models with strict validation.

The same models validate local YAML files and generate the CRD schemas in deploy/crds, so the two cannot drift.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator
from pydantic_core import PydanticCustomError

from dnslb.core.config.addresses import AddressRange, parse_address_range
from dnslb.core.config.communities import parse_community
from dnslb.core.grammar import parse_ip
from dnslb.core.objects import ObjectKey, ObjectRef

GROUP = "dnslb.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DOMAIN_LABEL = re.compile(r"[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9])?")
_PROVIDER_TYPE = re.compile(r"[a-z0-9]([-a-z0-9_]*[a-z0-9])?")


def _invalid(template: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError("invalid", template, context)


def _address_entry(text: str) -> str:
    try:
        parse_address_range(text)
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    return text


def _ip(text: str) -> str:
    try:
        parse_ip(text)
    except ValueError:
        raise _invalid("'{text}' is not an IP address", text=text) from None
    return text


def _ipv4(text: str) -> str:
    try:
        if parse_ip(text).version != 4:
            raise ValueError(text)
    except ValueError:
        raise _invalid("'{text}' is not an IPv4 address", text=text) from None
    return text


def _community(text: str) -> str:
    try:
        parse_community(text)
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    return text


def _non_empty(items: tuple[Any, ...]) -> tuple[Any, ...]:
    # An after-validator, not min_length: pydantic would also count items that failed as missing.
    if not items:
        raise PydanticCustomError("too_short", "needs at least one item")
    return items


def _name(text: str) -> str:
    if len(text) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(text):
        raise _invalid("'{text}' is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')", text=text)
    return text


def _domain(text: str) -> str:
    name = text.lower().rstrip(".")
    if not name or len(name) > 253 or not all(_DOMAIN_LABEL.fullmatch(label) for label in name.split(".")):
        raise _invalid("'{text}' is not a domain name", text=text)
    return name


AddressEntry = Annotated[StrictStr, AfterValidator(_address_entry)]
IPString = Annotated[StrictStr, AfterValidator(_ip)]
IPv4String = Annotated[StrictStr, AfterValidator(_ipv4)]
CommunityString = Annotated[StrictStr, AfterValidator(_community)]
ResourceName = Annotated[StrictStr, AfterValidator(_name)]
DomainName = Annotated[StrictStr, AfterValidator(_domain)]
ASN = Annotated[StrictInt, Field(ge=1, le=4294967295)]
NON_EMPTY = (AfterValidator(_non_empty), Field(json_schema_extra={"minItems": 1}))


class Spec(BaseModel):
    """Base of every spec model: frozen, strict about unknown fields, camelCase on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, alias_generator=None)


class LabelSelectorRequirement(Spec):
    key: StrictStr
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[StrictStr, ...] = ()

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise _invalid("operator {op} needs values", op=self.operator)
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise _invalid("operator {op} takes no values", op=self.operator)
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


class LabelSelector(Spec):
    """A Kubernetes label selector; an empty one matches everything."""

    match_labels: dict[StrictStr, StrictStr] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: tuple[LabelSelectorRequirement, ...] = Field(default=(), alias="matchExpressions")

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )


def any_selector_matches(selectors: tuple[LabelSelector, ...], labels: Mapping[str, str]) -> bool:
    """True when no selectors are given, or any one of them matches."""
    return not selectors or any(s.matches(labels) for s in selectors)


class ServiceAllocation(Spec):
    priority: StrictInt | None = Field(
        default=None, ge=0, description="Lower numbers are tried first; pools without a priority come last."
    )
    namespaces: tuple[ResourceName, ...] = ()
    namespace_selectors: tuple[LabelSelector, ...] = Field(default=(), alias="namespaceSelectors")
    service_selectors: tuple[LabelSelector, ...] = Field(default=(), alias="serviceSelectors")


class AddressPoolSpec(Spec):
    addresses: Annotated[tuple[AddressEntry, ...], *NON_EMPTY] = Field(
        description="CIDRs (10.0.0.0/24, fd00::/64) and ranges (10.0.0.10-10.0.0.20)."
    )
    auto_assign: StrictBool = Field(default=True, alias="autoAssign")
    avoid_buggy_ips: StrictBool = Field(
        default=False, alias="avoidBuggyIPs", description="Never hand out IPv4 addresses ending in .0 or .255."
    )
    service_allocation: ServiceAllocation | None = Field(default=None, alias="serviceAllocation")
    health_withdraw: StrictBool = Field(
        default=False,
        alias="healthWithdraw",
        description=(
            "Withdraw this pool's VIPs from a node whose data path fails its health check (kube-proxy's /healthz, "
            "or the Service's healthCheckNodePort for externalTrafficPolicy Local)."
        ),
    )

    def ranges(self) -> tuple[AddressRange, ...]:
        return tuple(parse_address_range(a) for a in self.addresses)


class SecretKeyRef(Spec):
    name: ResourceName
    key: StrictStr = "password"


class BGPPeerSpec(Spec):
    my_asn: ASN = Field(alias="myASN")
    peer_asn: ASN = Field(alias="peerASN")
    peer_address: IPString = Field(alias="peerAddress")
    peer_port: StrictInt = Field(default=179, ge=1, le=65535, alias="peerPort")
    listen_port: StrictInt = Field(
        default=179,
        ge=0,
        le=65535,
        alias="listenPort",
        description="Port the speaker also accepts this peer's connection on, at sourceAddress (the node's address), "
        "so that a session lost to a silent outage returns as soon as the router retries, not after ExaBGP's "
        "reconnect backoff (up to 60 s); 0: only connect out. Needs NET_BIND_SERVICE below 1024.",
    )
    source_address: IPString | None = Field(default=None, alias="sourceAddress")
    router_id: IPv4String | None = Field(default=None, alias="routerID")
    hold_time: StrictInt = Field(
        default=9, ge=3, le=65535, alias="holdTime", description="Seconds; ExaBGP has no BFD, so keep it short."
    )
    keepalive_time: StrictInt | None = Field(
        default=None,
        ge=1,
        le=21845,
        alias="keepaliveTime",
        description="Seconds, read for MetalLB's objects; ExaBGP keeps alive every holdTime / 3 whatever it says.",
    )
    password_secret: SecretKeyRef | None = Field(default=None, alias="passwordSecret")
    ebgp_multi_hop: StrictBool = Field(default=False, alias="ebgpMultiHop")
    enable_graceful_restart: StrictBool = Field(
        default=False,
        alias="enableGracefulRestart",
        description="Offer graceful restart (RFC 4724, restart time 120 s): a restarted speaker changes no path at "
        "this router, which keeps the node's paths meanwhile; a node that dies still loses them on the hold timer.",
    )
    node_selectors: tuple[LabelSelector, ...] = Field(default=(), alias="nodeSelectors")

    @model_validator(mode="after")
    def _keepalive_below_hold(self) -> BGPPeerSpec:
        if self.keepalive_time is not None and self.keepalive_time >= self.hold_time:
            raise _invalid("keepaliveTime {k} must be below holdTime {h}", k=self.keepalive_time, h=self.hold_time)
        source, peer = self.source_address, self.peer_address
        if source is not None and ipaddress.ip_address(source).version != ipaddress.ip_address(peer).version:
            raise _invalid("sourceAddress and peerAddress must be of one IP family")
        return self


class BGPAdvertisementSpec(Spec):
    address_pools: tuple[ResourceName, ...] = Field(default=(), alias="addressPools")
    address_pool_selectors: tuple[LabelSelector, ...] = Field(default=(), alias="addressPoolSelectors")
    node_selectors: tuple[LabelSelector, ...] = Field(default=(), alias="nodeSelectors")
    peers: tuple[ResourceName, ...] = ()
    local_pref: StrictInt | None = Field(default=None, ge=0, le=4294967295, alias="localPref")
    communities: tuple[CommunityString, ...] = ()
    aggregation_length: StrictInt = Field(default=32, ge=0, le=32, alias="aggregationLength")
    aggregation_length_v6: StrictInt = Field(default=128, ge=0, le=128, alias="aggregationLengthV6")


class ProviderLimits(Spec):
    """Overrides of a provider's own request limits (only ever lower them)."""

    max_changes: StrictInt | None = Field(default=None, ge=1, alias="maxChanges")
    max_values: StrictInt | None = Field(default=None, ge=1, alias="maxValues")
    max_bytes: StrictInt | None = Field(default=None, ge=512, alias="maxBytes")
    requests_per_second: StrictInt | None = Field(default=None, ge=1, alias="requestsPerSecond")


class DomainGrant(Spec):
    domain: DomainName
    namespaces: Annotated[tuple[ResourceName, ...], *NON_EMPTY]


class SecretRef(Spec):
    name: ResourceName


class DNSProviderSpec(Spec):
    type: StrictStr = Field(description="Entry-point name in group dnslb.providers, e.g. route53, rfc2136.")
    zones: tuple[DomainName, ...] = ()
    domain_filters: tuple[DomainName, ...] = Field(default=(), alias="domainFilters")
    owner_id: StrictStr | None = Field(default=None, alias="ownerID", min_length=1, max_length=63)
    policy: Literal["sync", "upsert-only", "create-only"] = "sync"
    takeover: StrictBool = Field(
        default=False, description="Replace record sets this owner does not own; the old ones are saved."
    )
    publish_when: Literal["Announced", "Allocated"] = Field(
        default="Announced",
        alias="publishWhen",
        description="Announced: publish a hostname once a node announces its VIP (never withdrawn when "
        "announcements stop); Allocated: as soon as the Service has its VIP.",
    )
    limits: ProviderLimits | None = None
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")
    settings: dict[StrictStr, StrictStr] = Field(
        default_factory=dict, description="Provider-specific settings that are not secret (server, port, …)."
    )
    allowed_namespaces: tuple[DomainGrant, ...] = Field(default=(), alias="allowedNamespaces")

    @model_validator(mode="after")
    def _known_type_shape(self) -> DNSProviderSpec:
        if not _PROVIDER_TYPE.fullmatch(self.type):
            raise _invalid("type '{t}' is not a provider name (lowercase letters, digits, '-', '_')", t=self.type)
        return self


class ObjectMeta(BaseModel):
    """The parts of metadata dnslb reads; the rest (uid, resourceVersion, …) is accepted and ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: ResourceName
    namespace: ResourceName | None = None
    labels: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    generation: StrictInt | None = None


@dataclass(frozen=True)
class PrinterColumn:
    """One column of `kubectl get` for a kind: an entry of its CRD's additionalPrinterColumns, which the API server
    evaluates (`json_path`, Kubernetes' JSONPath) for every object. Priority 1: shown only with `-o wide`."""

    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    json_path: str
    description: str = ""
    priority: int = 0


def condition_column(
    name: str, condition: str, field: Literal["status", "reason", "message"] = "status", *, priority: int = 0
) -> PrinterColumn:
    """A column showing one field of one condition (`Ready`: True, False or Unknown)."""
    return PrinterColumn(
        name,
        "string",
        f'.status.conditions[?(@.type=="{condition}")].{field}',
        f"The {field} of the {condition} condition.",
        priority,
    )


# A CRD with columns of its own loses the API server's default Age column: each kind lists it last.
AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since the object was created.")


class Status(BaseModel):
    """Base of the status models: the fields the controller or the speakers write beside `conditions` and
    `observedGeneration` (which every kind has). They declare the CRD's status schema, so the API server keeps them."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class NoStatus(Status):
    """A kind whose status holds only conditions."""


class AddressPoolStatus(Status):
    in_use: StrictInt | None = Field(
        default=None, ge=0, alias="inUse", description="Addresses of this pool held by Services (a shared VIP once)."
    )
    total: StrictInt | None = Field(
        default=None,
        ge=0,
        description="Addresses this pool can hand out: without IPv4 .0 and .255 under avoidBuggyIPs, 0 while the "
        "pool is not in force; at most 2^63-1 (an IPv6 /64 is larger).",
    )


class BGPPeerStatus(Status):
    sessions: StrictStr | None = Field(
        default=None, description='Nodes whose session with this peer is Established, of the nodes that peer: "2/3".'
    )
    nodes: StrictInt | None = Field(default=None, ge=0, description="Nodes selected to peer with this router.")
    up: StrictInt | None = Field(default=None, ge=0, description="Nodes whose session with it is Established.")


class Resource(BaseModel):
    """One config resource: apiVersion, kind, metadata, spec; a `status` is accepted and ignored.

    The class attributes also make its CRD (`crds.py`): names, `kubectl get` columns, the status schema.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    KIND: ClassVar[str]
    PLURAL: ClassVar[str]
    SPEC: ClassVar[type[Spec]]
    STATUS: ClassVar[type[Status]] = NoStatus
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ()
    CATEGORIES: ClassVar[tuple[str, ...]] = ("dnslb",)  # `kubectl get dnslb` lists every kind of the project
    PRINTER_COLUMNS: ClassVar[tuple[PrinterColumn, ...]] = ()  # none: the API server shows Name and Age

    api_version: Literal["dnslb.io/v1alpha1"] = Field(alias="apiVersion")
    kind: StrictStr
    metadata: ObjectMeta
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.KIND, ObjectKey(self.metadata.namespace or "", self.metadata.name))


class AddressPool(Resource):
    KIND = "AddressPool"
    PLURAL = "addresspools"
    SPEC = AddressPoolSpec
    STATUS = AddressPoolStatus
    SHORT_NAMES = ("pool",)
    PRINTER_COLUMNS = (
        PrinterColumn("Addresses", "string", ".spec.addresses", "CIDRs and ranges of the pool."),
        PrinterColumn("In Use", "integer", ".status.inUse", "Addresses held by Services."),
        PrinterColumn("Total", "integer", ".status.total", "Addresses the pool can hand out."),
        condition_column("Ready", "Ready"),
        PrinterColumn("Auto Assign", "boolean", ".spec.autoAssign", "Whether any Service may get an address.", 1),
        PrinterColumn("Avoid Buggy IPs", "boolean", ".spec.avoidBuggyIPs", "Whether .0 and .255 are skipped.", 1),
        AGE,
    )
    spec: AddressPoolSpec


class BGPPeer(Resource):
    KIND = "BGPPeer"
    PLURAL = "bgppeers"
    SPEC = BGPPeerSpec
    STATUS = BGPPeerStatus
    SHORT_NAMES = ("peer",)
    PRINTER_COLUMNS = (
        PrinterColumn("Address", "string", ".spec.peerAddress", "The router's address."),
        PrinterColumn("ASN", "integer", ".spec.peerASN", "The router's AS number."),
        PrinterColumn("Hold Time", "integer", ".spec.holdTime", "BGP hold time in seconds."),
        PrinterColumn("Sessions", "string", ".status.sessions", "Established sessions of the nodes that peer."),
        PrinterColumn("My ASN", "integer", ".spec.myASN", "The nodes' AS number.", 1),
        AGE,
    )
    spec: BGPPeerSpec


class BGPAdvertisement(Resource):
    KIND = "BGPAdvertisement"
    PLURAL = "bgpadvertisements"
    SPEC = BGPAdvertisementSpec
    SHORT_NAMES = ("adv",)
    PRINTER_COLUMNS = (
        PrinterColumn("Pools", "string", ".spec.addressPools", "The AddressPools advertised, by name."),
        PrinterColumn("Peers", "string", ".spec.peers", "The BGPPeers advertised to (none: every peer).", 1),
        PrinterColumn("Communities", "string", ".spec.communities", "BGP communities attached.", 1),
        AGE,
    )
    spec: BGPAdvertisementSpec


class DNSProvider(Resource):
    KIND = "DNSProvider"
    PLURAL = "dnsproviders"
    SPEC = DNSProviderSpec
    SHORT_NAMES = ("dnsp",)
    PRINTER_COLUMNS = (
        PrinterColumn("Type", "string", ".spec.type", "The provider plugin."),
        PrinterColumn("Policy", "string", ".spec.policy", "sync, upsert-only or create-only."),
        PrinterColumn("Publish-When", "string", ".spec.publishWhen", "Announced (the default) or Allocated.", 1),
        condition_column("Synced", "Synced"),
        condition_column("Reason", "Synced", "reason", priority=1),
        AGE,
    )
    spec: DNSProviderSpec


KINDS: dict[str, type[Resource]] = {r.KIND: r for r in (AddressPool, BGPPeer, BGPAdvertisement, DNSProvider)}


# ---- NodeAnnouncement: one per node, written by its speaker; status only (see dnslb.core.bgp.announcements) ------


class NodeAnnouncementSpec(Spec):
    """Empty: a NodeAnnouncement says what is, never what should be."""


class SessionEntry(Status):
    peer: StrictStr
    address: StrictStr = ""
    state: Literal["Established", "Connecting", "Idle"] = "Idle"
    prefixes: StrictInt = Field(default=0, ge=0, description="Prefixes the peer has acked from this node.")
    since: StrictStr | None = Field(default=None, description="When the session last changed state.")
    last_error: StrictStr | None = Field(default=None, alias="lastError", description="Why it last failed.")


class VIPGroupEntry(Status):
    vips: list[StrictStr] = Field(default_factory=list)
    peers: list[StrictStr] = Field(default_factory=list, description="Announced: the peers that acked them.")
    reason: StrictStr | None = Field(default=None, description="Withheld: why (NoLocalEndpoint, PeerDown, ...).")
    message: StrictStr | None = None


class IneligibleEntry(Status):
    reason: StrictStr
    message: StrictStr = ""


class DampingEntry(Status):
    penalty: StrictInt = Field(ge=0)
    suppressed: StrictBool
    reuse_at: StrictStr | None = Field(default=None, alias="reuseAt", description="When it may announce again.")


class NodeAnnouncementStatus(Status):
    sessions: list[SessionEntry] | None = None
    sessions_up: StrictStr | None = Field(default=None, alias="sessionsUp", description='Established of all: "1/2".')
    announced_count: StrictInt | None = Field(default=None, ge=0, alias="announcedCount")
    withheld_count: StrictInt | None = Field(default=None, ge=0, alias="withheldCount")
    ineligible: IneligibleEntry | None = Field(default=None, description="Set when the node announces nothing.")
    damping: DampingEntry | None = None
    announced: list[VIPGroupEntry] | None = None
    withheld: list[VIPGroupEntry] | None = None
    truncated: StrictBool | None = Field(default=None, description="Too many VIPs to list them all.")


class NodeAnnouncement(Resource):
    KIND = "NodeAnnouncement"
    PLURAL = "nodeannouncements"
    SPEC = NodeAnnouncementSpec
    STATUS = NodeAnnouncementStatus
    SHORT_NAMES = ("nodeann",)
    PRINTER_COLUMNS = (
        PrinterColumn("Sessions", "string", ".status.sessionsUp", "Established BGP sessions of all."),
        PrinterColumn("Announced", "integer", ".status.announcedCount", "VIPs a peer has acked from this node."),
        PrinterColumn("Withheld", "integer", ".status.withheldCount", "VIPs of our Services not announced here."),
        PrinterColumn("Reason", "string", ".status.ineligible.reason", "Why the node announces nothing, if so."),
        AGE,
    )
    spec: NodeAnnouncementSpec


# every kind dnslb defines a CRD for: the config kinds, and what the processes report
CRD_KINDS: dict[str, type[Resource]] = {**KINDS, NodeAnnouncement.KIND: NodeAnnouncement}
