"""BGPPeer → BGPPeer, Community aliases, BGPAdvertisement → BGPAdvertisement, and notes on what dnslb will not
announce (L2, BFD, an address family without a peer), keeping MetalLB's rules as its config code has them:
- Timers: a hold time alone implies keepalive = hold / 3, a keepalive alone hold = 3 * keepalive, neither 90 s / 30 s;
  both are always written out.
- Communities: a name is a `Community` alias first, else a literal `A:B` or `large:A:B:C`.
- An advertisement without pool names and selectors covers every pool; one with names covers only those it finds,
  and one whose names (of pools, or of peers) all match nothing announces nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dnslb.core.config.communities import parse_community
from dnslb.core.grammar import show
from dnslb.core.importing.fields import (
    Collector,
    Source,
    empty,
    family,
    leftovers,
    name_or,
    read_bool,
    read_duration,
    read_mapping,
    read_selector,
    read_spec,
    read_text,
    read_texts,
)
from dnslb.core.importing.inputs import Inputs
from dnslb.core.importing.pools import Pool
from dnslb.core.importing.results import Body, Note
from dnslb.core.manifests import Document

# ---- BGPPeer → BGPPeer ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Peer:
    source: Source
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


def read_peers(documents: Sequence[Document], out: Collector) -> list[_Peer]:
    peers: list[_Peer] = []

    def read(document: Document) -> None:
        peer = _read_peer(Source.of(document), document.body, out)
        peers.append(peer)
        if peer.body is not None:
            out.add(peer.source, "BGPPeer", peer.body)

    out.each(documents, read)
    return peers


def _read_peer(source: Source, body: Body, out: Collector) -> _Peer:
    spec = read_spec(source, body)
    out.notes += leftovers(source, spec, _PEER_HANDLED, _PEER_LOST)
    skipped = _peer_left_out(source, spec)
    if skipped is not None:
        out.notes.append(source.note(f"{skipped}; BGPPeer left out"))
        return _Peer(source, None, None)
    result: Body = {key: spec[key] for key in ("myASN", "peerASN") if spec.get(key) is not None}
    if "peerASN" not in result and spec.get("dynamicASN") == "internal" and "myASN" in result:
        result["peerASN"] = result["myASN"]  # iBGP: the router is in our AS
    result |= {key: spec[key] for key in _PEER_ADDRESSES if not empty(spec.get(key))}
    result |= _timers(source, spec, out)
    result |= _password(source, spec, out)
    for key in ("ebgpMultiHop", "enableGracefulRestart"):
        if read_bool(source, spec, key, f"spec.{key}", False):
            result[key] = True
    if not empty(spec.get("nodeSelectors")):
        result["nodeSelectors"] = spec["nodeSelectors"]
    profile = read_text(source, spec, "bfdProfile", "spec.bfdProfile")
    if profile:
        hold = result["holdTime"]
        message = f"spec.bfdProfile {profile}: dnslb has no BFD; a failed session is noticed by the hold time alone"
        out.notes.append(source.note(f"{message} ({hold} s here)"))
    return _Peer(source, result, family(read_text(source, spec, "peerAddress", "spec.peerAddress")))


def _peer_left_out(source: Source, spec: Body) -> str | None:
    """Why this peer cannot be a dnslb BGPPeer at all, or None."""
    dynamic = read_text(source, spec, "dynamicASN", "spec.dynamicASN")
    if not spec.get("peerASN") and dynamic and dynamic != "internal":
        return f"spec.dynamicASN {dynamic}: dnslb needs the router's ASN in peerASN"
    interface = read_text(source, spec, "interface", "spec.interface")
    if not spec.get("peerAddress") and interface:
        return f"spec.interface {interface}: dnslb peers with a peerAddress only, not over an interface (unnumbered)"
    return None


# MetalLB's timers when a BGPPeer sets neither: its native speaker holds 90 s and sends a keepalive every third of it
# (internal/bgp/native/native.go). Written out, so the imported peer does not take dnslb's own default (9 s).
METALLB_HOLD_TIME = 90
_DNSLB_HOLD_TIME = 9  # dnslb's default, for a MetalLB hold time of 0 (which dnslb cannot have)
_MAX_HOLD_TIME, _MAX_KEEPALIVE_TIME = 65535, 21845


def _timers(source: Source, spec: Body, out: Collector) -> Body:
    """Both timers, always, in whole seconds, as MetalLB derives them (internal/config/config.go parseTimers: a hold
    time alone implies keepalive = hold / 3, a keepalive alone hold = 3 * keepalive; seconds cut down, as it hands
    them to FRR); what MetalLB refuses is refused."""
    hold, keepalive = read_duration(source, spec, "holdTime"), read_duration(source, spec, "keepaliveTime")
    if hold is None and keepalive is None:
        hold = METALLB_HOLD_TIME
    if hold is None:
        assert keepalive is not None
        hold = 3 * keepalive
    if keepalive is None:
        keepalive = hold / 3
    if 0 < int(hold) < 3:
        raise source.invalid("spec.holdTime", f"{_seconds(hold)} s: MetalLB needs 0 or at least 3 s")
    if keepalive > hold:
        raise source.invalid("spec.keepaliveTime", f"{_seconds(keepalive)} s: MetalLB needs it at most holdTime")
    hold_time, keepalive_time = int(hold), int(keepalive)
    if hold_time == 0:  # MetalLB: no keepalives, and the session never times out
        message = (
            "spec.holdTime 0 s (no hold timer): dnslb notices a dead session by its hold time alone (ExaBGP has no "
            f"BFD), so it needs at least 3 s; holdTime {_DNSLB_HOLD_TIME} s written, dnslb's default"
        )
        out.notes.append(source.note(message))
        return {"holdTime": _DNSLB_HOLD_TIME, "keepaliveTime": _DNSLB_HOLD_TIME // 3}
    if hold_time > _MAX_HOLD_TIME:
        out.notes.append(source.note(f"spec.holdTime {hold_time} s: BGP's largest is {_MAX_HOLD_TIME} s; written"))
        hold_time = _MAX_HOLD_TIME
    if not 1 <= keepalive_time <= min(hold_time - 1, _MAX_KEEPALIVE_TIME):
        why = "below 1 s" if keepalive_time < 1 else "not below holdTime" if keepalive_time >= hold_time else "too long"
        message = f"spec.keepaliveTime {_seconds(keepalive)} s: {why} for dnslb; holdTime / 3 written"
        out.notes.append(source.note(message))
        keepalive_time = hold_time // 3
    elif keepalive_time != hold_time // 3:
        message = (
            f"spec.keepaliveTime {keepalive_time} s: dnslb's speaker (ExaBGP) sends a keepalive every holdTime / 3 "
            f"({hold_time // 3} s) whatever keepaliveTime says"
        )
        out.notes.append(source.note(message))
    return {"holdTime": hold_time, "keepaliveTime": keepalive_time}


def _seconds(value: float) -> str:
    return f"{value:g}"


def _password(source: Source, spec: Body, out: Collector) -> Body:
    password = read_text(source, spec, "password", "spec.password")
    reference = read_mapping(source, spec, "passwordSecret", "spec.passwordSecret")
    name = read_text(source, reference, "name", "spec.passwordSecret.name")
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
        where = read_text(source, reference, "namespace", "spec.passwordSecret.namespace") or source.namespace
        origin = f"{where}/{name}" if where else name
        out.notes.append(
            source.note(
                f"spec.passwordSecret: dnslb reads Secrets from {out.namespace} only: copy Secret {origin} there "
                "(its key password, as MetalLB's)"
            )
        )
        return {"passwordSecret": {"name": name}}
    return {}


# ---- Community aliases, BGPAdvertisement → BGPAdvertisement ---------------------------------------------------


_METALLB_COMMUNITY = re.compile(r"[0-9]+:[0-9]+|large:[0-9]+:[0-9]+:[0-9]+")


def read_aliases(document: Document, known: Mapping[str, str]) -> dict[str, str]:
    """A Community's aliases → their values, as dnslb writes them; a name defined twice is refused, as by MetalLB."""
    source = Source.of(document)
    items = read_spec(source, document.body).get("communities") or []
    if not isinstance(items, list):
        raise source.invalid("spec.communities", "expected a list")
    aliases: dict[str, str] = {}
    for index, item in enumerate(items):
        path = f"spec.communities[{index}]"
        if not isinstance(item, dict):
            raise source.invalid(path, "expected a mapping with name and value")
        name, value = read_text(source, item, "name", f"{path}.name"), read_text(source, item, "value", f"{path}.value")
        if name in known or name in aliases:
            raise source.invalid(f"{path}.name", f"community alias {name!r} is defined twice")
        aliases[name] = _community(source, f"{path}.value", value)
    return aliases


def _community(source: Source, path: str, value: str) -> str:
    try:
        if not _METALLB_COMMUNITY.fullmatch(value):
            raise ValueError(f"{show(value)} is not a community (ASN:VALUE or large:ASN:A:B)")
        return str(parse_community(value))
    except ValueError as exc:
        raise source.invalid(path, str(exc)) from None


@dataclass(frozen=True)
class BGPContext:
    pools: Mapping[str, Pool]
    peers: frozenset[str]  # the BGPPeers carried over
    aliases: Mapping[str, str]
    namespace: str


_ADVERTISEMENT_FIELDS = (
    *("ipAddressPools", "ipAddressPoolSelectors", "nodeSelectors", "peers", "localPref", "communities"),
    *("aggregationLength", "aggregationLengthV6", "serviceSelectors"),
)


def read_advertisements(documents: Sequence[Document], context: BGPContext, out: Collector) -> None:
    def read(document: Document) -> None:
        source = Source.of(document)
        spec = _advertisement(source, document.body, context, out)
        if spec is not None:
            out.add(source, "BGPAdvertisement", spec)

    out.each(documents, read)


def _advertisement(source: Source, body: Body, context: BGPContext, out: Collector) -> Body | None:
    spec = read_spec(source, body)
    out.notes += leftovers(source, spec, _ADVERTISEMENT_FIELDS, {})
    if spec.get("serviceSelectors"):
        out.notes.append(source.note(_service_selectors_message(source, spec, context)))
        return None
    names = read_texts(source, spec, "ipAddressPools", "spec.ipAddressPools")
    pools = _known(source, "ipAddressPools", names, context.pools, out, why="no IPAddressPool {} in the input")
    peer_names = read_texts(source, spec, "peers", "spec.peers")
    peers = _known(source, "peers", peer_names, context.peers, out, why="BGPPeer {} is not carried over")
    # A list whose names all match nothing means nothing, never "all" (as in MetalLB: setBGPAdvertisementsToPools
    # skips a missing pool, and a peer list filters the peers): written without them, it would mean every pool, or
    # every peer; so it is left out, and announces nothing, as it did.
    if names and not pools and not spec.get("ipAddressPoolSelectors"):
        message = "none of the pools in spec.ipAddressPools is in the input: it announces nothing"
        out.notes.append(source.note(f"{message}; BGPAdvertisement left out"))
        return None
    if peer_names and not peers:
        message = "none of the peers in spec.peers is carried over: it announces to none of dnslb's peers"
        out.notes.append(source.note(f"{message}; BGPAdvertisement left out"))
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
    source: Source, key: str, names: Sequence[str], known: Iterable[str], out: Collector, *, why: str
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


def _communities(source: Source, spec: Body, aliases: Mapping[str, str], out: Collector) -> list[str]:
    found: list[str] = []
    for index, text in enumerate(read_texts(source, spec, "communities", "spec.communities")):
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


def _service_selectors_message(source: Source, spec: Body, context: BGPContext) -> str:
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


def check_announcing(inputs: Inputs, pools: Mapping[str, Pool], peers: Sequence[_Peer], out: Collector) -> None:
    bgp: set[str] = set()
    out.each(inputs.of_kind("BGPAdvertisement"), lambda d: bgp.update(_selected_pools(Source.of(d), d.body, pools)))

    def layer2(document: Document) -> None:
        source = Source.of(document)
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
        out.notes.append(Note(document.where, f"BFDProfile/{name_or(document, '?')}", f"{message}; left out"))
    out.notes += _family_notes(pools.values(), peers)


def _selected_pools(source: Source, body: Body, pools: Mapping[str, Pool]) -> set[str]:
    """The pools an advertisement covers, by MetalLB's rule: its names and selectors, or every pool without any."""
    spec = read_spec(source, body)
    names = read_texts(source, spec, "ipAddressPools", "spec.ipAddressPools")
    raw = spec.get("ipAddressPoolSelectors") or []
    selectors = [read_selector(source, s, f"spec.ipAddressPoolSelectors[{i}]") for i, s in enumerate(raw)]
    if not names and not selectors:
        return set(pools)
    return {n for n, p in pools.items() if n in names or any(s.matches(p.labels) for s in selectors)}


def _family_notes(pools: Iterable[Pool], peers: Sequence[_Peer]) -> list[Note]:
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
