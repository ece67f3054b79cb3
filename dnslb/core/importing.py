"""`dnslb import`: MetalLB (v0.13+ CRDs) and external-dns manifests in, the dnslb resources that do the same out, and
a note for everything that cannot carry over, saying why. Pure: documents in, resource dicts and notes out.

MetalLB's rules kept here, as its allocator and config code have them:
- Pool choice: the pools with a `serviceAllocation` that fits the Service come first, lowest `priority` first, those
  without a priority (0) after those with one; only then the auto-assign pools without a serviceAllocation. dnslb
  orders pools by priority alone (none: last), so a pool with a serviceAllocation but no priority gets one just
  above the highest given.
- An address: MetalLB takes the first free address of the first listed range, dnslb the lowest free one of the pool.
- A CIDR with host bits (`198.51.100.10/24`) is its whole network, as Go's ParseCIDR reads it.
- Timers: a hold time alone implies keepalive = hold / 3, a keepalive alone hold = 3 * keepalive.
- Communities: a name is a `Community` alias first, else a literal `A:B` or `large:A:B:C`.
- An advertisement without pool names and selectors covers every pool; one with names covers only those it finds.

Secret values are never copied into the output (it is meant for git): a BGP password or a DNS credential becomes a
reference to a Secret in dnslb's namespace, with a note saying which key to put there and where the value is now.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dnslb.core.config.communities import parse_community
from dnslb.core.config.load import load_config
from dnslb.core.config.resources import API_VERSION, LabelSelector
from dnslb.core.grammar import parse_ip, show, trim
from dnslb.core.manifests import Document

DEFAULT_NAMESPACE = "dnslb-system"
METALLB_GROUP = "metallb.io"
MIGRATION = "docs/migration.md"

Body = dict[str, Any]


class InvalidInput(ValueError):
    """A manifest that MetalLB or external-dns would refuse too; the message names the document and the field."""


@dataclass(frozen=True)
class Note:
    """Something that does not carry over, and why."""

    where: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.subject}: {self.message}"


@dataclass(frozen=True)
class Resource:
    """One dnslb resource, and the input document it was made from."""

    where: str
    body: Body


@dataclass(frozen=True)
class Imported:
    resources: tuple[Resource, ...] = ()
    notes: tuple[Note, ...] = ()
    errors: tuple[str, ...] = ()
    read: int = 0  # MetalLB and external-dns objects found in the input


def translate(documents: Iterable[Document], namespace: str = DEFAULT_NAMESPACE) -> Imported:
    """The dnslb resources (in `namespace`) for the MetalLB and external-dns objects among `documents`; other
    objects (Services, Namespaces, RBAC, ...) are passed over. With errors, the resources are not to be used."""
    documents = list(documents)
    inputs = _Inputs.of(documents)
    out = _Collector(namespace, list(inputs.errors))
    aliases: dict[str, str] = {}
    out.each(inputs.of_kind("Community"), lambda document: aliases.update(_aliases(document, aliases)))
    pools = _read_pools(inputs.of_kind("IPAddressPool"), out)
    peers = _read_peers(inputs.of_kind("BGPPeer"), out)
    context = _BGPContext(pools, frozenset(p.source.name for p in peers if p.body), aliases, namespace)
    _read_advertisements(inputs.of_kind("BGPAdvertisement"), context, out)
    _check_announcing(inputs, pools, peers, out)
    for document in inputs.other_metallb:
        out.notes.append(_other_metallb_note(document))
    _read_external_dns(inputs.external_dns, out)
    errors = out.errors or _validate(out.resources)
    position = {d.where: i for i, d in enumerate(documents)}
    notes = sorted(out.notes, key=lambda n: position.get(n.where, len(position)))  # in the order of the input
    return Imported(tuple(out.resources), tuple(notes), tuple(errors), inputs.count)


# ---- inputs ----------------------------------------------------------------------------------------------------


_METALLB_KINDS = ("IPAddressPool", "BGPPeer", "BGPAdvertisement", "Community", "L2Advertisement", "BFDProfile")
_METALLB_STATUS_KINDS = ("ServiceL2Status", "ServiceBGPStatus", "ConfigurationState")


@dataclass(frozen=True)
class _Inputs:
    metallb: tuple[Document, ...]
    other_metallb: tuple[Document, ...]  # MetalLB configuration this cannot read (legacy ConfigMap, FRR-K8s, ...)
    external_dns: tuple[Document, ...]
    errors: tuple[str, ...]

    @staticmethod
    def of(documents: Iterable[Document]) -> _Inputs:
        metallb, other, external_dns, errors = [], [], [], []
        for document in documents:
            if not isinstance(document.body, dict):
                errors.append(f"{document.where}: expected an object with apiVersion and kind")
            elif _group(document) == METALLB_GROUP and document.kind in _METALLB_KINDS:
                metallb.append(document)
            elif _group(document) == METALLB_GROUP and document.kind in _METALLB_STATUS_KINDS:
                continue
            elif _group(document).endswith(METALLB_GROUP) or _is_legacy_metallb_config(document):
                other.append(document)
            elif document.kind == "Deployment" and _external_dns_container(document.body) is not None:
                external_dns.append(document)
        return _Inputs(tuple(metallb), tuple(other), tuple(external_dns), tuple(errors))

    def of_kind(self, kind: str) -> list[Document]:
        return [d for d in self.metallb if d.kind == kind]

    @property
    def count(self) -> int:
        return len(self.metallb) + len(self.other_metallb) + len(self.external_dns)


def _group(document: Document) -> str:
    return document.api_version.partition("/")[0] if "/" in document.api_version else ""


def _is_legacy_metallb_config(document: Document) -> bool:
    data = document.body.get("data")
    in_metallb = _namespace(document) in ("metallb-system", "metallb")
    return document.kind == "ConfigMap" and isinstance(data, dict) and "config" in data and in_metallb


def _namespace(document: Document) -> str:
    metadata = document.body.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace if isinstance(namespace, str) else ""


def _other_metallb_note(document: Document) -> Note:
    subject = f"{document.kind}/{_name_or(document, '?')}"
    if document.kind == "ConfigMap":
        message = (
            "MetalLB's ConfigMap configuration (before v0.13) is not read: convert it to CRs first with MetalLB's "
            "configmaptocrs, then import those"
        )
    elif document.kind == "AddressPool":
        message = (
            "MetalLB's deprecated AddressPool (gone in v0.14) is not read: write it as an IPAddressPool and a "
            "BGPAdvertisement, as MetalLB's docs say, then import those"
        )
    else:
        message = f"{document.api_version} {document.kind} has no dnslb equivalent; left out"
    return Note(document.where, subject, message)


def _name_or(document: Document, default: str) -> str:
    metadata = document.body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else default


@dataclass(frozen=True)
class _Source:
    """The input object a note or an error is about."""

    where: str
    kind: str
    name: str
    namespace: str = ""

    @staticmethod
    def of(document: Document) -> _Source:
        name = _name_or(document, "")
        if not name:
            raise InvalidInput(f"{document.where}: {document.kind}: metadata.name is missing")
        return _Source(document.where, document.kind, name, _namespace(document))

    @property
    def subject(self) -> str:
        return f"{self.kind}/{self.name}"

    def note(self, message: str) -> Note:
        return Note(self.where, self.subject, message)

    def invalid(self, path: str, message: str) -> InvalidInput:
        return InvalidInput(f"{self.where}: {self.subject} {path}: {message}")


class _Collector:
    """What one translation has made so far."""

    def __init__(self, namespace: str, errors: list[str]) -> None:
        self.namespace = namespace
        self.resources: list[Resource] = []
        self.notes: list[Note] = []
        self.errors = errors

    def each(self, documents: Iterable[Document], handle: Callable[[Document], object]) -> None:
        """`handle` each document; an invalid one is recorded as an error, and the others go on."""
        for document in documents:
            try:
                handle(document)
            except InvalidInput as exc:
                self.errors.append(str(exc))

    def add(self, source: _Source, kind: str, spec: Body, labels: Mapping[str, str] | None = None) -> None:
        metadata: Body = {"name": source.name, "namespace": self.namespace}
        if labels:
            metadata["labels"] = dict(labels)
        body = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
        self.resources.append(Resource(source.where, body))


# ---- reading fields: each raises InvalidInput naming the field ------------------------------------------------


def _spec(source: _Source, body: Body) -> Body:
    return _mapping(source, body, "spec", "spec")


def _mapping(source: _Source, parent: Body, key: str, path: str) -> Body:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise source.invalid(path, f"expected a mapping, got {show(value)}")
    return value


def _text(source: _Source, parent: Body, key: str, path: str) -> str:
    value = parent.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise source.invalid(path, f"expected a string, got {show(value)}")
    return value


def _texts(source: _Source, parent: Body, key: str, path: str) -> list[str]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise source.invalid(path, f"expected a list of strings, got {show(value)}")
    return list(value)


def _bool(source: _Source, parent: Body, key: str, path: str, default: bool) -> bool:
    value = parent.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise source.invalid(path, f"expected true or false, got {show(value)}")
    return value


def _int(source: _Source, parent: Body, key: str, path: str) -> int:
    value = parent.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise source.invalid(path, f"expected a whole number, got {show(value)}")
    return value


def _labels(source: _Source, body: Body) -> dict[str, str]:
    labels = _mapping(source, _mapping(source, body, "metadata", "metadata"), "labels", "metadata.labels")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise source.invalid("metadata.labels", "expected string keys and values")
    return labels


def _selector(source: _Source, value: Any, path: str) -> LabelSelector:
    try:
        return LabelSelector.model_validate(value)
    except ValidationError as exc:
        raise source.invalid(path, f"not a label selector ({exc.errors()[0]['msg']})") from None


def _empty(value: Any) -> bool:
    return value is None or value is False or value in (0, "", [], {})


def _leftovers(source: _Source, spec: Body, handled: Iterable[str], reasons: Mapping[str, str]) -> list[Note]:
    """A note for each field of `spec` with a value that nothing above carried over."""
    done = set(handled)
    return [
        source.note(f"spec.{key}: {reasons.get(key, 'not a field dnslb import knows; left out')}")
        for key, value in spec.items()
        if key not in done and not _empty(value)
    ]


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_seconds(text: str) -> float:
    """A Go duration (`90s`, `1m30s`, `1.5h`) in seconds, as Kubernetes' metav1.Duration reads it; ValueError else."""
    if text == "0":
        return 0.0
    parts = list(_DURATION_PART.finditer(text))
    if not parts or "".join(p.group(0) for p in parts) != text:
        raise ValueError(f"{show(text)} is not a duration (like 90s or 1m30s)")
    return sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2)] for p in parts)


def _seconds(source: _Source, spec: Body, key: str) -> int | None:
    text = _text(source, spec, key, f"spec.{key}")
    if not text:
        return None
    try:
        return int(go_duration_seconds(trim(text)))  # MetalLB hands BGP whole seconds, cut down
    except ValueError as exc:
        raise source.invalid(f"spec.{key}", str(exc)) from None


# ---- IPAddressPool → AddressPool ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pool:
    source: _Source
    labels: Mapping[str, str]
    addresses: tuple[str, ...]
    families: frozenset[int]
    auto_assign: bool
    avoid_buggy: bool
    allocation: Mapping[str, Any] | None  # the serviceAllocation, less its priority
    priority: int  # MetalLB's: 0 is none

    @property
    def name(self) -> str:
        return self.source.name


_POOL_FIELDS = ("addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation")
_ALLOCATION_FIELDS = ("namespaces", "namespaceSelectors", "serviceSelectors")
_CIDR = re.compile(r"[0-9A-Fa-f:.]{2,45}/[0-9]{1,3}")


def _read_pools(documents: Sequence[Document], out: _Collector) -> dict[str, _Pool]:
    pools: dict[str, _Pool] = {}

    def read(document: Document) -> None:
        pool, notes = _read_pool(_Source.of(document), document.body)
        pools[pool.name] = pool
        out.notes += notes

    out.each(documents, read)
    priorities = _priorities(pools.values())
    for pool in pools.values():
        out.add(pool.source, "AddressPool", _pool_spec(pool, priorities[pool.name]), pool.labels)
    out.notes += _tie_notes(pools.values(), priorities)
    return pools


def _read_pool(source: _Source, body: Body) -> tuple[_Pool, list[Note]]:
    spec = _spec(source, body)
    texts = _texts(source, spec, "addresses", "spec.addresses")
    entries = [_address(source, i, text) for i, text in enumerate(texts)]
    allocation, priority, notes = _allocation(source, spec)
    pool = _Pool(
        source,
        _labels(source, body),
        tuple(text for text, _, _ in entries),
        frozenset(version for _, version, _ in entries),
        _bool(source, spec, "autoAssign", "spec.autoAssign", True),
        _bool(source, spec, "avoidBuggyIPs", "spec.avoidBuggyIPs", False),
        allocation,
        priority,
    )
    return pool, [*notes, *_order_notes(source, entries), *_leftovers(source, spec, _POOL_FIELDS, {})]


def _address(source: _Source, index: int, text: str) -> tuple[str, int, int]:
    """(the entry as dnslb writes it, IP version, first address) of one MetalLB address entry."""
    path, entry = f"spec.addresses[{index}]", trim(text)
    if "-" in entry:
        first_text, _, last_text = entry.partition("-")
        try:
            first, last = parse_ip(trim(first_text)), parse_ip(trim(last_text))
        except ValueError as exc:
            raise source.invalid(path, f"{show(text)} is not a range: {exc}") from None
        return f"{first}-{last}", first.version, int(first)
    try:
        if not _CIDR.fullmatch(entry):
            raise ValueError(entry)
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise source.invalid(path, f"{show(text)} is neither a CIDR nor a FIRST-LAST range") from None
    return str(network), network.version, int(network.network_address)


def _order_notes(source: _Source, entries: Sequence[tuple[str, int, int]]) -> list[Note]:
    for version in (4, 6):
        firsts = [first for _, v, first in entries if v == version]
        if firsts != sorted(firsts):
            return [
                source.note(
                    "spec.addresses: MetalLB hands out the first listed range's addresses first, dnslb the lowest free "
                    "address of the pool; new VIPs may come from another range than before"
                )
            ]
    return []


def _allocation(source: _Source, spec: Body) -> tuple[dict[str, Any] | None, int, list[Note]]:
    if spec.get("serviceAllocation") is None:
        return None, 0, []
    allocation = _mapping(source, spec, "serviceAllocation", "spec.serviceAllocation")
    priority = _int(source, allocation, "priority", "spec.serviceAllocation.priority")
    kept = {k: allocation[k] for k in _ALLOCATION_FIELDS if not _empty(allocation.get(k))}
    notes = [
        source.note(f"spec.serviceAllocation.{key}: not a field dnslb import knows; left out")
        for key, value in allocation.items()
        if key not in (*_ALLOCATION_FIELDS, "priority") and not _empty(value)
    ]
    return kept, priority, notes


def _priorities(pools: Iterable[_Pool]) -> dict[str, int | None]:
    """dnslb priorities that try pools in MetalLB's order (see the module docstring)."""
    pools = list(pools)
    highest = max((p.priority for p in pools if p.allocation is not None), default=0)
    return {p.name: (p.priority or highest + 1) if p.allocation is not None else None for p in pools}


def _tie_notes(pools: Iterable[_Pool], priorities: Mapping[str, int | None]) -> list[Note]:
    ranks: dict[int | None, list[_Pool]] = {}
    for pool in pools:
        if pool.auto_assign:
            ranks.setdefault(priorities[pool.name], []).append(pool)
    notes = []
    for rank, tied in ranks.items():
        if len(tied) > 1:
            names = sorted(p.name for p in tied)
            which = f"of priority {rank}" if rank is not None else "without a serviceAllocation"
            notes.append(
                tied[0].source.note(
                    f"pools {', '.join(names)} ({which}): MetalLB picks among them in no fixed order, dnslb by name "
                    f"({names[0]} first); give them distinct serviceAllocation priorities to choose"
                )
            )
    return notes


def _pool_spec(pool: _Pool, priority: int | None) -> Body:
    spec: Body = {"addresses": list(pool.addresses)}
    if not pool.auto_assign:
        spec["autoAssign"] = False
    if pool.avoid_buggy:
        spec["avoidBuggyIPs"] = True
    if pool.allocation is not None:
        spec["serviceAllocation"] = {"priority": priority, **pool.allocation}
    return spec


# ---- BGPPeer → BGPPeer ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Peer:
    source: _Source
    body: Body | None  # None: left out
    family: int | None


_PEER_ADDRESSES = ("peerAddress", "peerPort", "sourceAddress", "routerID")
_PEER_HANDLED = (
    *_PEER_ADDRESSES,
    *("nodeSelectors", "ebgpMultiHop"),
    *("myASN", "peerASN", "dynamicASN", "interface", "holdTime", "keepaliveTime", "password", "passwordSecret"),
    *("enableGracefulRestart", "bfdProfile"),
)
_PEER_LOST = {
    "vrf": "dnslb peers from the nodes' default VRF only; left out",
    "localASN": "dnslb has no local-as override: the router sees myASN; left out",
    "connectTime": "dnslb has no connect time (ExaBGP retries on its own backoff, and the speaker also listens on "
    "listenPort, so a router that connects brings the session back at once); left out",
    "disableMP": "dnslb sends each prefix over a session of its own family: one BGPPeer per family",
    "dualStackAddressFamily": "dnslb sends each prefix over a session of its own family: one BGPPeer per family",
}


def _read_peers(documents: Sequence[Document], out: _Collector) -> list[_Peer]:
    peers: list[_Peer] = []

    def read(document: Document) -> None:
        peer = _read_peer(_Source.of(document), document.body, out)
        peers.append(peer)
        if peer.body is not None:
            out.add(peer.source, "BGPPeer", peer.body)

    out.each(documents, read)
    return peers


def _read_peer(source: _Source, body: Body, out: _Collector) -> _Peer:
    spec = _spec(source, body)
    out.notes += _leftovers(source, spec, _PEER_HANDLED, _PEER_LOST)
    skipped = _peer_left_out(source, spec)
    if skipped is not None:
        out.notes.append(source.note(f"{skipped}; BGPPeer left out"))
        return _Peer(source, None, None)
    result: Body = {key: spec[key] for key in ("myASN", "peerASN") if spec.get(key) is not None}
    if "peerASN" not in result and spec.get("dynamicASN") == "internal" and "myASN" in result:
        result["peerASN"] = result["myASN"]  # iBGP: the router is in our AS
    result |= {key: spec[key] for key in _PEER_ADDRESSES if not _empty(spec.get(key))}
    result |= _timers(source, spec, out)
    result |= _password(source, spec, out)
    for key in ("ebgpMultiHop", "enableGracefulRestart"):
        if _bool(source, spec, key, f"spec.{key}", False):
            result[key] = True
    if not _empty(spec.get("nodeSelectors")):
        result["nodeSelectors"] = spec["nodeSelectors"]
    profile = _text(source, spec, "bfdProfile", "spec.bfdProfile")
    if profile:
        hold = result.get("holdTime", 9)
        message = f"spec.bfdProfile {profile}: dnslb has no BFD; a failed session is noticed by the hold time alone"
        out.notes.append(source.note(f"{message} ({hold} s here)"))
    return _Peer(source, result, _family(_text(source, spec, "peerAddress", "spec.peerAddress")))


def _peer_left_out(source: _Source, spec: Body) -> str | None:
    """Why this peer cannot be a dnslb BGPPeer at all, or None."""
    dynamic = _text(source, spec, "dynamicASN", "spec.dynamicASN")
    if not spec.get("peerASN") and dynamic and dynamic != "internal":
        return f"spec.dynamicASN {dynamic}: dnslb needs the router's ASN in peerASN"
    interface = _text(source, spec, "interface", "spec.interface")
    if not spec.get("peerAddress") and interface:
        return f"spec.interface {interface}: dnslb peers with a peerAddress only, not over an interface (unnumbered)"
    return None


def _timers(source: _Source, spec: Body, out: _Collector) -> Body:
    hold, keepalive = _seconds(source, spec, "holdTime"), _seconds(source, spec, "keepaliveTime")
    if hold is None and keepalive is not None:
        hold = 3 * keepalive
    if hold is None:
        return {}
    if hold < 3:  # MetalLB allows 0 (no keepalives at all); dnslb needs a hold timer
        out.notes.append(source.note(f"spec.holdTime {hold} s: dnslb needs at least 3 s; left at its default, 9 s"))
        return {}
    if keepalive is None or keepalive * 3 == hold:
        return {"holdTime": hold}
    if keepalive >= hold:
        out.notes.append(source.note(f"spec.keepaliveTime {keepalive} s: dnslb needs it below holdTime; left out"))
        return {"holdTime": hold}
    return {"holdTime": hold, "keepaliveTime": keepalive}


def _password(source: _Source, spec: Body, out: _Collector) -> Body:
    password = _text(source, spec, "password", "spec.password")
    reference = _mapping(source, spec, "passwordSecret", "spec.passwordSecret")
    name = _text(source, reference, "name", "spec.passwordSecret.name")
    if password:
        secret = f"{source.name}-bgp-password"
        out.notes.append(
            source.note(
                f"spec.password is not copied into the output: put it in Secret {out.namespace}/{secret}, key "
                "password (dnslb reads a BGP password from a Secret only)"
            )
        )
        return {"passwordSecret": {"name": secret}}
    if name:
        where = _text(source, reference, "namespace", "spec.passwordSecret.namespace") or source.namespace
        origin = f"{where}/{name}" if where else name
        out.notes.append(
            source.note(
                f"spec.passwordSecret: dnslb reads Secrets from {out.namespace} only: copy Secret {origin} there "
                "(its key password, as MetalLB's)"
            )
        )
        return {"passwordSecret": {"name": name}}
    return {}


def _family(address: str) -> int | None:
    try:
        return parse_ip(address).version
    except ValueError:
        return None


# ---- Community aliases, BGPAdvertisement → BGPAdvertisement ---------------------------------------------------


_METALLB_COMMUNITY = re.compile(r"[0-9]+:[0-9]+|large:[0-9]+:[0-9]+:[0-9]+")


def _aliases(document: Document, known: Mapping[str, str]) -> dict[str, str]:
    """A Community's aliases → their values, as dnslb writes them; a name defined twice is refused, as by MetalLB."""
    source = _Source.of(document)
    items = _spec(source, document.body).get("communities") or []
    if not isinstance(items, list):
        raise source.invalid("spec.communities", "expected a list")
    aliases: dict[str, str] = {}
    for index, item in enumerate(items):
        path = f"spec.communities[{index}]"
        if not isinstance(item, dict):
            raise source.invalid(path, "expected a mapping with name and value")
        name, value = _text(source, item, "name", f"{path}.name"), _text(source, item, "value", f"{path}.value")
        if name in known or name in aliases:
            raise source.invalid(f"{path}.name", f"community alias {name!r} is defined twice")
        aliases[name] = _community(source, f"{path}.value", value)
    return aliases


def _community(source: _Source, path: str, value: str) -> str:
    try:
        if not _METALLB_COMMUNITY.fullmatch(value):
            raise ValueError(f"{show(value)} is not a community (ASN:VALUE or large:ASN:A:B)")
        return str(parse_community(value))
    except ValueError as exc:
        raise source.invalid(path, str(exc)) from None


@dataclass(frozen=True)
class _BGPContext:
    pools: Mapping[str, _Pool]
    peers: frozenset[str]  # the BGPPeers carried over
    aliases: Mapping[str, str]
    namespace: str


_ADVERTISEMENT_FIELDS = (
    *("ipAddressPools", "ipAddressPoolSelectors", "nodeSelectors", "peers", "localPref", "communities"),
    *("aggregationLength", "aggregationLengthV6", "serviceSelectors"),
)


def _read_advertisements(documents: Sequence[Document], context: _BGPContext, out: _Collector) -> None:
    def read(document: Document) -> None:
        source = _Source.of(document)
        spec = _advertisement(source, document.body, context, out)
        if spec is not None:
            out.add(source, "BGPAdvertisement", spec)

    out.each(documents, read)


def _advertisement(source: _Source, body: Body, context: _BGPContext, out: _Collector) -> Body | None:
    spec = _spec(source, body)
    out.notes += _leftovers(source, spec, _ADVERTISEMENT_FIELDS, {})
    if spec.get("serviceSelectors"):
        out.notes.append(source.note(_service_selectors_message(source, spec, context)))
        return None
    names = _texts(source, spec, "ipAddressPools", "spec.ipAddressPools")
    pools = _known(source, "ipAddressPools", names, context.pools, out, why="no IPAddressPool {} in the input")
    peer_names = _texts(source, spec, "peers", "spec.peers")
    peers = _known(source, "peers", peer_names, context.peers, out, why="BGPPeer {} is not carried over")
    if (names and not pools and not spec.get("ipAddressPoolSelectors")) or (peer_names and not peers):
        # without its names it would announce every pool, or to every peer
        out.notes.append(source.note("none of its pools or peers carried over; BGPAdvertisement left out"))
        return None
    result: Body = {}
    if pools:
        result["addressPools"] = pools
    _copy(spec, result, {"ipAddressPoolSelectors": "addressPoolSelectors", "nodeSelectors": "nodeSelectors"})
    if peers:
        result["peers"] = peers
    if spec.get("localPref"):
        result["localPref"] = spec["localPref"]
    communities = _communities(source, spec, context.aliases, out)
    if communities:
        result["communities"] = communities
    _copy(spec, result, {"aggregationLength": "aggregationLength", "aggregationLengthV6": "aggregationLengthV6"})
    return result


def _known(
    source: _Source, key: str, names: Sequence[str], known: Iterable[str], out: _Collector, *, why: str
) -> list[str]:
    """The names that are `known`; a note for each of the others."""
    present = set(known)
    for name in names:
        if name not in present:
            out.notes.append(source.note(f"spec.{key}: {why.format(name)}; left out"))
    return [n for n in names if n in present]


def _copy(spec: Body, result: Body, names: Mapping[str, str]) -> None:
    for metallb, dnslb in names.items():
        if spec.get(metallb) is not None and spec.get(metallb) != []:
            result[dnslb] = spec[metallb]


def _communities(source: _Source, spec: Body, aliases: Mapping[str, str], out: _Collector) -> list[str]:
    found: list[str] = []
    for index, text in enumerate(_texts(source, spec, "communities", "spec.communities")):
        path = f"spec.communities[{index}]"
        if text in aliases:
            value = aliases[text]
        elif _METALLB_COMMUNITY.fullmatch(text):
            value = _community(source, path, text)
        else:
            out.notes.append(source.note(f"{path}: {text!r} is no alias of a Community in the input; left out"))
            continue
        if value not in found:
            found.append(value)
    return found


def _service_selectors_message(source: _Source, spec: Body, context: _BGPContext) -> str:
    hints = []
    if spec.get("localPref"):
        hints.append(f'dnslb.io/bgp-local-pref: "{spec["localPref"]}"')
    communities = [context.aliases.get(c, c) for c in spec.get("communities") or [] if isinstance(c, str)]
    if communities:
        hints.append(f'dnslb.io/bgp-communities: "{",".join(communities)}"')
    hint = f" (annotate them {', '.join(hints)})" if hints else ""
    return (
        "spec.serviceSelectors: a dnslb advertisement applies to every Service of its pools and cannot select "
        f"Services; BGPAdvertisement left out. Give the selected Services its attributes by annotation instead{hint}"
    )


# ---- what dnslb will not announce: L2, BFD, address families ---------------------------------------------------


def _check_announcing(inputs: _Inputs, pools: Mapping[str, _Pool], peers: Sequence[_Peer], out: _Collector) -> None:
    bgp: set[str] = set()
    out.each(inputs.of_kind("BGPAdvertisement"), lambda d: bgp.update(_selected_pools(_Source.of(d), d.body, pools)))

    def layer2(document: Document) -> None:
        source = _Source.of(document)
        out.notes.append(source.note("dnslb has no layer 2 (ARP/NDP) mode, it announces over BGP only; left out"))
        for name in sorted(_selected_pools(source, document.body, pools) - bgp):
            message = (
                f"pool {name} was announced by L2Advertisement only: dnslb allocates from it but announces it "
                "nowhere until a BGPAdvertisement selects it"
            )
            out.notes.append(pools[name].source.note(message))

    out.each(inputs.of_kind("L2Advertisement"), layer2)
    for document in inputs.of_kind("BFDProfile"):
        message = "dnslb has no BFD: a dead node or session is noticed by the BGP hold time (BGPPeer holdTime)"
        out.notes.append(Note(document.where, f"BFDProfile/{_name_or(document, '?')}", f"{message}; left out"))
    out.notes += _family_notes(pools.values(), peers)


def _selected_pools(source: _Source, body: Body, pools: Mapping[str, _Pool]) -> set[str]:
    """The pools an advertisement covers, by MetalLB's rule: its names and selectors, or every pool without any."""
    spec = _spec(source, body)
    names = _texts(source, spec, "ipAddressPools", "spec.ipAddressPools")
    raw = spec.get("ipAddressPoolSelectors") or []
    selectors = [_selector(source, s, f"spec.ipAddressPoolSelectors[{i}]") for i, s in enumerate(raw)]
    if not names and not selectors:
        return set(pools)
    return {n for n, p in pools.items() if n in names or any(s.matches(p.labels) for s in selectors)}


def _family_notes(pools: Iterable[_Pool], peers: Sequence[_Peer]) -> list[Note]:
    families = {p.family for p in peers if p.body is not None}
    if not families:
        return []
    return [
        pool.source.note(
            f"spec.addresses: no BGPPeer has an IPv{version} peerAddress, and dnslb sends each prefix over a session "
            f"of its own family only (MetalLB with FRR carries both over one); add an IPv{version} BGPPeer"
        )
        for pool in pools
        for version in sorted(pool.families - families)
    ]


# ---- external-dns Deployment → DNSProvider --------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """A flag's or a variable's value; `text` None when it is kept where this cannot read it (a Secret)."""

    text: str | None
    origin: str  # where it is now, for a note: "the Deployment's args", "Secret external-dns/keys key tsig"


@dataclass(frozen=True)
class _ExternalDNS:
    source: _Source
    name: str  # the DNSProvider's
    flags: Mapping[str, tuple[_Value, ...]]
    env: Mapping[str, _Value]
    sidecars: tuple[str, ...]  # the pod's other containers (a webhook provider's server)
    namespace: str  # dnslb's

    def values(self, flag: str) -> list[str]:
        """The visible values of a repeatable flag, comma-separated lists split."""
        texts = [v.text for v in self.flags.get(flag, ()) if v.text is not None]
        return [part.strip() for text in texts for part in text.split(",") if part.strip()]

    def value(self, flag: str) -> _Value | None:
        found = self.flags.get(flag, ())
        return found[-1] if found else None

    def text(self, flag: str) -> str:
        found = self.value(flag)
        return (found.text or "") if found is not None else ""

    def on(self, flag: str) -> bool:
        return self.text(flag).lower() in ("true", "1", "yes")

    def note(self, message: str) -> Note:
        return self.source.note(message)


def _external_dns_container(body: Body) -> Body | None:
    spec = body.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    pod = template.get("spec") if isinstance(template, dict) else None
    containers = pod.get("containers") if isinstance(pod, dict) else None
    for container in containers if isinstance(containers, list) else []:
        if not isinstance(container, dict):
            continue
        image = container.get("image")
        tokens = _tokens(container)
        if (isinstance(image, str) and "external-dns" in image) or any(t.startswith("--provider") for t in tokens):
            return container
    return None


def _tokens(container: Body) -> list[str]:
    parts = [*(container.get("command") or []), *(container.get("args") or [])]
    return [str(p) for p in parts if isinstance(p, str | int | float)]


_ENV_PREFIX = "EXTERNAL_DNS_"
_VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _read_external_dns(documents: Sequence[Document], out: _Collector) -> None:
    taken: set[str] = set()

    def read(document: Document) -> None:
        source = _Source.of(document)
        name = source.name if source.name not in taken else f"{source.name}-{source.namespace}"
        taken.add(name)
        spec = _provider_spec(_instance(source, document.body, name, out), out)
        out.add(_Source(source.where, source.kind, name), "DNSProvider", spec)

    out.each(documents, read)


def _instance(source: _Source, body: Body, name: str, out: _Collector) -> _ExternalDNS:
    container = _external_dns_container(body)
    assert container is not None  # chosen for having one
    env = _env(source, container, out)
    flags: dict[str, list[_Value]] = {}
    for flag, value in _args(_tokens(container), env):
        flags.setdefault(flag, []).append(value)
    for variable, value in env.items():
        flag = variable.removeprefix(_ENV_PREFIX).lower().replace("_", "-")
        if variable.startswith(_ENV_PREFIX) and flag not in flags:
            texts = value.text.split("\n") if value.text is not None else [None]
            flags[flag] = [_Value(text, value.origin) for text in texts]
    pod = body["spec"]["template"]["spec"]
    sidecars = tuple(
        str(c.get("name")) for c in pod.get("containers") or [] if isinstance(c, dict) and c is not container
    )
    return _ExternalDNS(source, name, {k: tuple(v) for k, v in flags.items()}, env, sidecars, out.namespace)


def _env(source: _Source, container: Body, out: _Collector) -> dict[str, _Value]:
    env: dict[str, _Value] = {}
    for item in container.get("env") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise source.invalid("spec.template.spec.containers[].env", "expected entries with a name")
        env[item["name"]] = _env_value(source, item)
    for item in container.get("envFrom") or []:
        if isinstance(item, dict):
            ref = item.get("secretRef") or item.get("configMapRef") or {}
            kind = "Secret" if "secretRef" in item else "ConfigMap"
            message = f"envFrom {kind} {ref.get('name')}: the flags it sets are not seen here; carry them over by hand"
            out.notes.append(source.note(message))
    return env


def _env_value(source: _Source, item: Body) -> _Value:
    name = item["name"]
    if "value" in item:
        return _Value(str(item["value"]), f"the Deployment's env {name}")
    value_from = item.get("valueFrom") or {}
    for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        ref = value_from.get(key)
        if isinstance(ref, dict):
            return _Value(None, f"{kind} {source.namespace}/{ref.get('name')} key {ref.get('key')}")
    return _Value(None, f"the Deployment's env {name}, set from the pod")


def _args(tokens: Sequence[str], env: Mapping[str, _Value]) -> list[tuple[str, _Value]]:
    """(flag, value) for each `--flag=value`, `--flag value`, `--flag` (true) and `--no-flag` (false)."""
    found = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--"):
            continue
        flag, equals, text = token[2:].partition("=")
        if not equals:
            if index < len(tokens) and not tokens[index].startswith("-"):  # external-dns takes no positional args
                text, index = tokens[index], index + 1
            elif flag.startswith("no-"):
                flag, text = flag[3:], "false"
            else:
                text = "true"
        found.append((flag, _expand(text, env)))
    return found


def _expand(text: str, env: Mapping[str, _Value]) -> _Value:
    """The value Kubernetes passes for an argument: `$(VAR)` replaced by the container's variable."""
    for match in _VARIABLE.finditer(text):
        variable = env.get(match.group(1))
        if variable is not None and variable.text is None:
            return variable
    expanded = _VARIABLE.sub(lambda m: (env[m.group(1)].text or "") if m.group(1) in env else m.group(0), text)
    return _Value(expanded, "the Deployment's args")


# the flags that change when or how external-dns works, never what it publishes
_OPERATIONAL = frozenset(
    {
        *("interval", "min-event-sync-interval", "events", "once", "log-level", "log-format", "metrics-address"),
        *("kube-api-qps", "kube-api-burst", "kube-api-request-timeout", "request-timeout", "server", "kubeconfig"),
        *("txt-cache-interval", "provider-cache-time", "batch-change-interval", "listen-endpoint-events", "version"),
        *("resolve-service-load-balancer-hostname", "prefer-alias", "exclude-unschedulable", "expose-internal-ipv6"),
    }
)
_TARGETS = "dnslb publishes the Services' VIPs, never other targets"
_GENERIC_LOST = {
    "exclude-domains": "dnslb's domainFilters cannot exclude names: Services under them are published",
    "regex-domain-filter": "dnslb filters by domain suffix only: write the domains out in domainFilters",
    "regex-domain-exclusion": "dnslb's domainFilters cannot exclude names",
    "zone-id-filter": "dnslb names zones by name (spec.zones), not by ID",
    "zone-name-filter": "name the zones in spec.zones",
    "namespace": "dnslb publishes Services of every namespace; limit who may use which domain with allowedNamespaces",
    "annotation-filter": "dnslb publishes every LoadBalancer Service with a hostname annotation; no annotation filter",
    "label-filter": "dnslb publishes every LoadBalancer Service with a hostname annotation; no label filter",
    "service-type-filter": "dnslb publishes LoadBalancer Services only",
    "publish-internal-services": "dnslb publishes LoadBalancer Services' VIPs only, never ClusterIPs",
    "publish-host-ip": "dnslb publishes VIPs only, never node or pod addresses",
    "always-publish-not-ready-addresses": "dnslb publishes VIPs only, never pod addresses",
    "fqdn-template": "dnslb takes names from the hostname annotations only: annotate the Services instead",
    "combine-fqdn-annotation": "dnslb takes names from the hostname annotations only",
    "ignore-hostname-annotation": "dnslb always reads the hostname annotations",
    "default-targets": _TARGETS,
    "force-default-targets": _TARGETS,
    "target-template": _TARGETS,
    "fqdn-target-template": _TARGETS,
    "exclude-target-net": _TARGETS,
    "managed-record-types": "dnslb manages A and AAAA record sets (and its own TXT ownership records) only",
    "exclude-record-types": "dnslb manages A and AAAA record sets (and its own TXT ownership records) only",
    "min-ttl": "dnslb uses each Service's TTL annotation, or 300 s; it has no minimum TTL",
    "create-ptr": "dnslb writes no PTR records",
    "dry-run": "dnslb has no dry run: `dnslb plan --live` shows what it would change",
    "compatibility": "dnslb reads dnslb's, external-dns's and MetalLB's annotations only",
}
_OWNERSHIP = frozenset(
    {
        *("registry", "txt-owner-id", "txt-prefix", "txt-suffix", "txt-wildcard-replacement", "txt-encrypt-enabled"),
        *("txt-encrypt-aes-key", "txt-new-format-only", "migrate-from-txt-owner", "dynamodb-region"),
        *("dynamodb-table", "crd-registry-namespace"),
    }
)
_GENERIC_HANDLED = frozenset({"source", "provider", "domain-filter", "policy", "annotation-prefix"})
_POLICIES = ("sync", "upsert-only", "create-only")
_ANNOTATION_PREFIXES = ("external-dns.alpha.kubernetes.io/", "external-dns.kubernetes.io/")


@dataclass(frozen=True)
class _Provider:
    """What one external-dns provider becomes: dnslb's provider type, its settings and notes."""

    type: str
    settings: Mapping[str, str] = field(default_factory=dict)
    secret: str | None = None  # the Secret in dnslb's namespace it needs
    zones: tuple[str, ...] = ()  # the zones the provider serves, when external-dns names them
    notes: tuple[str, ...] = ()
    prefix: str = ""  # its flags start with this; those not handled are noted
    handled: frozenset[str] = frozenset()


def _provider_spec(instance: _ExternalDNS, out: _Collector) -> Body:
    provider_flag = instance.text("provider")
    if not provider_flag:
        raise instance.source.invalid("args", "no --provider: external-dns needs one")
    provider = _PROVIDERS.get(provider_flag, _unsupported)(instance)
    domains = _domain_filters(instance, out)
    spec: Body = {"type": provider.type}
    if provider.zones and not domains:
        spec["zones"] = list(provider.zones)
    if domains:
        spec["domainFilters"] = domains
    if instance.text("txt-owner-id"):
        spec["ownerID"] = instance.text("txt-owner-id")
    spec["policy"] = _policy(instance)
    spec["takeover"] = False  # on only once external-dns has stopped (docs/migration.md)
    if provider.settings:
        spec["settings"] = dict(provider.settings)
    if provider.secret:
        spec["secretRef"] = {"name": provider.secret}
    out.notes += [instance.note(n) for n in (*provider.notes, *_generic_notes(instance, provider))]
    return spec


def _policy(instance: _ExternalDNS) -> str:
    policy = instance.text("policy") or "sync"  # external-dns's default before it had to be given
    if policy not in _POLICIES:
        raise instance.source.invalid("--policy", f"{show(policy)} is not one of {', '.join(_POLICIES)}")
    return policy


def _domain_filters(instance: _ExternalDNS, out: _Collector) -> list[str]:
    domains: list[str] = []
    for text in instance.values("domain-filter"):
        domain = text.lower().rstrip(".")
        if domain.startswith("."):
            domain = domain.lstrip(".")
            message = f"--domain-filter={text}: dnslb's domainFilters take {domain} itself too, not only names below it"
            out.notes.append(instance.note(message))
        if domain and domain not in domains:
            domains.append(domain)
    return domains


def _generic_notes(instance: _ExternalDNS, provider: _Provider) -> list[str]:
    notes = _source_notes(instance)
    for flag, target in (("txt-owner-id", "ownerID"), ("domain-filter", "domainFilters"), ("policy", "policy")):
        hidden = [v.origin for v in instance.flags.get(flag, ()) if v.text is None]
        if hidden:
            notes.append(f"--{flag} is in {hidden[0]}, not seen here: set spec.{target} to it")
    prefix = instance.text("annotation-prefix")
    if prefix and prefix not in _ANNOTATION_PREFIXES:
        notes.append(f"--annotation-prefix={prefix}: dnslb reads {' and '.join(_ANNOTATION_PREFIXES)} only")
    for flag, values in instance.flags.items():
        if flag in _GENERIC_HANDLED or flag in _OPERATIONAL or flag in _OWNERSHIP or flag in provider.handled:
            continue
        if provider.prefix and flag.startswith(provider.prefix):
            reason = "no dnslb equivalent; left out"
        elif flag in _GENERIC_LOST:
            reason = f"{_GENERIC_LOST[flag]}; left out"
        elif any(flag.startswith(p) for p in _PROVIDER_PREFIXES):
            continue  # another provider's flag: external-dns ignored it too
        else:
            reason = "no dnslb equivalent; left out"
        if any(v.text not in ("", "false") for v in values):
            notes.append(f"--{flag}: {reason}")
    notes.append(_ownership_note(instance))
    return notes


def _source_notes(instance: _ExternalDNS) -> list[str]:
    sources = instance.values("source")
    notes = []
    for source in sources:
        if source == "ingress":
            notes.append(
                "--source=ingress: dnslb publishes Services' names only; keep an external-dns with only "
                "--source=ingress, or put the Ingress hosts on the ingress controller's Service (dnslb.io/hostname)"
            )
        elif source != "service":
            notes.append(f"--source={source}: dnslb publishes names of LoadBalancer Services only; left out")
    if sources and "service" not in sources:
        notes.append(
            "no --source=service: this external-dns published no Services' names, which dnslb will (every "
            "LoadBalancer Service with a hostname annotation within its domains)"
        )
    return notes


def _ownership_note(instance: _ExternalDNS) -> str:
    registry = instance.text("registry") or "txt"
    if registry == "txt":
        prefix, suffix = instance.text("txt-prefix"), instance.text("txt-suffix")
        affix = f" with prefix {prefix!r}" if prefix else f" with suffix {suffix!r}" if suffix else ""
        how = f"external-dns marks the names it owns with TXT records{affix}"
    elif registry == "noop":
        how = "external-dns kept no ownership records (--registry=noop)"
    else:
        how = f"external-dns keeps ownership in its {registry} registry"
    return (
        f"ownership records differ: {how}, which dnslb neither reads nor writes; dnslb writes its own, a TXT record "
        "at _dnslb.<name>. So dnslb leaves the names external-dns made alone (DNSNotPublished) until you stop "
        f"external-dns and set takeover: true on this DNSProvider ({MIGRATION}, 'Hand over DNS'); external-dns's "
        "records stay where they are, for the way back"
    )


def _secret_note(instance: _ExternalDNS, what: str, value: _Value, secret: str, key: str) -> str:
    return (
        f"{what} (now in {value.origin}) is not copied into the output: put it in Secret "
        f"{instance.namespace}/{secret}, key {key}"
    )


_TSIG_ALGORITHMS = ("hmac-md5", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512")
_RFC2136_LOST = {
    "rfc2136-min-ttl": "dnslb has no minimum TTL",
    "rfc2136-gss-tsig": "dnslb signs updates with TSIG only, not GSS-TSIG (Kerberos)",
    "rfc2136-use-tls": "dnslb sends RFC 2136 updates over plain TCP only",
    "rfc2136-skip-tls-verify": "dnslb sends RFC 2136 updates over plain TCP only",
}


def _rfc2136(instance: _ExternalDNS) -> _Provider:
    settings, notes = {}, []
    hosts = instance.values("rfc2136-host")
    if hosts:
        settings["server"] = hosts[0]
        if len(hosts) > 1:
            notes.append(f"--rfc2136-host: dnslb updates one server; {hosts[0]} kept, {', '.join(hosts[1:])} left out")
        if _family(hosts[0]) is None:
            notes.append(f"--rfc2136-host={hosts[0]}: dnslb's settings.server must be the server's IP address")
    else:
        notes.append("no --rfc2136-host: set settings.server to the DNS server's IP address")
    port = instance.text("rfc2136-port")
    if port not in ("", "0", "53"):
        settings["port"] = port
    zones = tuple(dict.fromkeys(z.lower().rstrip(".") for z in instance.values("rfc2136-zone")))
    if zones:
        settings["zones"] = ",".join(zones)
    else:
        notes.append("no --rfc2136-zone: set settings.zones to the zones the server serves (RFC 2136 cannot list them)")
    settings |= _tsig_settings(instance, notes)
    secret = _tsig_secret(instance, notes)
    if not instance.on("rfc2136-axfr") and not instance.on("rfc2136-tsig-axfr"):
        notes.append("no --rfc2136-axfr: dnslb reads each zone by zone transfer (AXFR); let the server allow it")
    for flag, reason in _RFC2136_LOST.items():
        if instance.text(flag) not in ("", "false", "0s", "0"):
            notes.append(f"--{flag}: {reason}; left out")
    handled = {"host", "port", "zone", "tsig-keyname", "tsig-secret", "tsig-secret-alg", "axfr", "tsig-axfr"}
    handled |= {"insecure", "batch-change-size", "load-balancing-strategy", "kerberos-username"}
    handled |= {"kerberos-password", "kerberos-realm", *(f.removeprefix("rfc2136-") for f in _RFC2136_LOST)}
    return _Provider("rfc2136", settings, secret, zones, tuple(notes), "rfc2136-", _prefixed("rfc2136-", handled))


def _tsig_settings(instance: _ExternalDNS, notes: list[str]) -> dict[str, str]:
    settings = {}
    keyname = instance.value("rfc2136-tsig-keyname")
    if keyname is not None and keyname.text is None:
        notes.append(f"--rfc2136-tsig-keyname is in {keyname.origin}: set settings.tsigKeyName to it")
    elif keyname is not None and keyname.text:
        settings["tsigKeyName"] = keyname.text
    algorithm = instance.text("rfc2136-tsig-secret-alg").lower().rstrip(".")
    if algorithm == "hmac-md5.sig-alg.reg.int":
        algorithm = "hmac-md5"
    if algorithm in _TSIG_ALGORITHMS:
        settings["tsigAlgorithm"] = algorithm
    elif algorithm:
        notes.append(f"--rfc2136-tsig-secret-alg={algorithm}: dnslb signs with {', '.join(_TSIG_ALGORITHMS)} only")
    return settings


def _tsig_secret(instance: _ExternalDNS, notes: list[str]) -> str | None:
    value = instance.value("rfc2136-tsig-secret")
    if value is None or instance.on("rfc2136-insecure"):
        return None
    secret = f"{instance.name}-tsig"
    notes.append(_secret_note(instance, "the TSIG secret", value, secret, "tsigSecret"))
    return secret


def _route53(instance: _ExternalDNS) -> _Provider:
    settings, notes = {}, []
    region = next((v.text for k in ("AWS_REGION", "AWS_DEFAULT_REGION") if (v := instance.env.get(k)) and v.text), "")
    if region:
        settings["region"] = region
    zone_type = instance.text("aws-zone-type")
    if zone_type:
        notes.append(
            f"--aws-zone-type={zone_type}: dnslb's route53 provider has no zone-type filter; it manages every hosted "
            f"zone of the account within domainFilters: list the {zone_type} zones in settings.zones to keep to them"
        )
    for flag, why in (("aws-zone-tags", "zone-tag filter"), ("aws-zone-match-parent", "parent-zone matching")):
        if instance.text(flag) not in ("", "false"):
            notes.append(f"--{flag}: dnslb's route53 provider has no {why}; left out")
    if instance.text("aws-assume-role"):
        notes.append("--aws-assume-role: dnslb's route53 provider assumes no role; give its own credentials access")
    secret, credentials = _aws_credentials(instance)
    notes.append(credentials)
    handled = {"zone-type", "zone-tags", "zone-match-parent", "assume-role", "assume-role-external-id"}
    handled |= {"prefer-cname", "evaluate-target-health", "batch-change-size", "batch-change-size-bytes"}
    handled |= {"batch-change-size-values", "batch-change-interval", "zones-cache-duration", "api-retries"}
    return _Provider("route53", settings, secret, (), tuple(notes), "aws-", _prefixed("aws-", handled))


def _aws_credentials(instance: _ExternalDNS) -> tuple[str | None, str]:
    key = instance.env.get("AWS_ACCESS_KEY_ID")
    if key is None:
        return None, (
            "no AWS keys in the Deployment (an IAM role for its ServiceAccount, an instance profile, a credentials "
            "file): dnslb's route53 provider then uses the default credential chain of the dnslb-controller pod; "
            f"give its ServiceAccount {instance.namespace}/dnslb-controller the same IAM role"
        )
    secret = f"{instance.name}-aws"
    keys = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if k in instance.env]
    origins = "; ".join(f"{k}: {instance.env[k].origin}" for k in keys)
    message = f"the AWS credentials ({origins}) are not copied into the output: put them in Secret"
    return secret, f"{message} {instance.namespace}/{secret}, keys {', '.join(keys)}"


def _powerdns(instance: _ExternalDNS) -> _Provider:
    settings = {"url": instance.text("pdns-server") or "http://localhost:8081"}  # external-dns's default
    notes = []
    server_id = instance.text("pdns-server-id")
    if server_id and server_id != "localhost":
        settings["serverID"] = server_id
    secret = None
    key = instance.value("pdns-api-key")
    if key is not None:
        secret = f"{instance.name}-pdns"
        notes.append(_secret_note(instance, "the PowerDNS API key", key, secret, "apiKey"))
    if instance.on("pdns-skip-tls-verify"):
        notes.append("--pdns-skip-tls-verify: dnslb always verifies the server's certificate; left out")
    handled = _prefixed("pdns-", {"server", "server-id", "api-key", "skip-tls-verify"})
    return _Provider("powerdns", settings, secret, (), tuple(notes), "pdns-", handled)


def _webhook(instance: _ExternalDNS) -> _Provider:
    url = instance.text("webhook-provider-url") or "http://localhost:8888"  # external-dns's default
    server = f"container {', '.join(instance.sidecars)} of external-dns's pod" if instance.sidecars else url
    note = (
        f"the webhook server ({server}) must run as a sidecar of the dnslb-controller pod, listening on {url}: add "
        "that container in your overlay"
    )
    handled = _prefixed("webhook-provider-", {"url", "read-timeout", "write-timeout", "read-header-timeout"})
    handled |= _prefixed("webhook-provider-", {"idle-timeout", "max-body-size"})
    return _Provider("webhook", {"url": url}, None, (), (note,), "webhook-provider-", handled)


def _inmemory(instance: _ExternalDNS) -> _Provider:
    return _Provider("inmemory", prefix="inmemory-")


def _unsupported(instance: _ExternalDNS) -> _Provider:
    name = instance.text("provider")
    note = (
        f"--provider={name}: dnslb has no {name} provider, so this DNSProvider has type webhook: run an external-dns "
        f"webhook server for {name} as a sidecar of the dnslb-controller pod at settings.url (its --{name}-* flags "
        "and credentials go to that server), or install a dnslb provider plugin for it and change spec.type "
        "(providers/README.md)"
    )
    handled = frozenset(f for f in instance.flags if f.startswith(f"{name}-"))
    return _Provider("webhook", {"url": "http://localhost:8888"}, None, (), (note,), f"{name}-", handled)


def _prefixed(prefix: str, names: Iterable[str]) -> frozenset[str]:
    return frozenset(f"{prefix}{n}" for n in names)


_PROVIDERS: dict[str, Callable[[_ExternalDNS], _Provider]] = {
    "rfc2136": _rfc2136,
    "aws": _route53,
    "pdns": _powerdns,
    "webhook": _webhook,
    "inmemory": _inmemory,
}
_PROVIDER_PREFIXES = (
    *("rfc2136-", "aws-", "pdns-", "webhook-", "inmemory-", "azure-", "cloudflare-", "google-", "ovh-", "ns1-"),
    *("godaddy-", "pihole-", "oci-", "alibaba-cloud-", "exoscale-", "linode-", "civo-", "coredns-", "dnsimple-"),
    *("scaleway-", "tencent-cloud-", "akamai-", "transip-", "digitalocean-"),
)


# ---- the result, checked as `dnslb plan` checks it -------------------------------------------------------------


def _validate(resources: Sequence[Resource]) -> list[str]:
    """dnslb's own validation of the output; an error here names the input document it was made from."""
    _, errors = load_config(Document(r.where, 0, None, r.body) for r in resources)
    return [str(e) for e in errors]
