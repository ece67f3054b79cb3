"""Who announces what: for one node, the routes to send to each of its BGP peers. Pure.

A node announces a Service's VIPs when the node is eligible — Ready, not NetworkUnavailable, not labelled
`node.kubernetes.io/exclude-from-external-load-balancers`, not damped, and not cordoned if told to withdraw on cordon
(by default cordon is not a drain signal) — and, for `externalTrafficPolicy: Local`, only when it runs a ready
endpoint of the Service. VIPs of pools with `healthWithdraw` also need the node's data path to pass its health
check.
Which peers hear a VIP, with which communities and local preference, comes from the BGPAdvertisements that select
its pool and this node. A Service's own `dnslb.io/bgp-communities` / `dnslb.io/bgp-local-pref` add to that; a bad
value there is reported and ignored, never sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dnslb.core import annotations as ann
from dnslb.core.bgp import status
from dnslb.core.bgp.routes import Prefix, Route
from dnslb.core.bgp.status import Withheld
from dnslb.core.config import AddressPool, BGPAdvertisement, BGPPeer, Config, any_selector_matches
from dnslb.core.config.addresses import AddressRange
from dnslb.core.config.communities import Community, parse_community
from dnslb.core.diagnostics import INVALID_BGP_ATTRIBUTE, Diagnostic, failed
from dnslb.core.grammar import IPAddress, parse_ip, parse_uint, trim
from dnslb.core.model import EXCLUDE_FROM_LB, EndpointView, NodeView, ServiceView
from dnslb.core.objects import ObjectKey, service_ref


@dataclass(frozen=True)
class NodeState:
    """What the speaker knows about its own node beyond the Node object.

    `healthy`: the node's data path answers its health check; `unhealthy`: Local Services whose
    healthCheckNodePort says this node has no local endpoint. Both matter only for pools with `healthWithdraw`."""

    node: NodeView
    damped: bool = False
    healthy: bool = True
    unhealthy: frozenset[ObjectKey] = frozenset()


@dataclass(frozen=True)
class Decision:
    routes: dict[str, frozenset[Route]]  # peer name → routes
    announcing: frozenset[ObjectKey]  # Services this node announces
    ineligible: str | None  # why this node announces nothing, if it does not
    problems: tuple[Diagnostic, ...] = field(default=())
    ineligible_reason: str = ""  # the reason code of `ineligible` (status.NOT_READY, ...)
    vips: tuple[VIPRoutes, ...] = ()  # what each announced VIP goes out as
    withheld: tuple[Withheld, ...] = ()  # VIPs of our Services this node does not announce, and why (node eligible)


def ineligibility(state: NodeState, withdraw_on_cordon: bool = False) -> tuple[str, str] | None:
    """(reason code, message) when this node must announce nothing; None when it may announce."""
    node = state.node
    if not node.ready:
        return status.NOT_READY, "node is not Ready"
    if node.network_unavailable:
        return status.NETWORK_UNAVAILABLE, "node is NetworkUnavailable"
    if EXCLUDE_FROM_LB in node.labels:
        return status.EXCLUDED, f"node is labelled {EXCLUDE_FROM_LB}"
    if withdraw_on_cordon and node.unschedulable:
        return status.CORDONED, "node is cordoned"
    if state.damped:
        return status.DAMPED, "node is damped after flapping"
    return None


def node_ineligible(state: NodeState, withdraw_on_cordon: bool = False) -> str | None:
    found = ineligibility(state, withdraw_on_cordon)
    return None if found is None else found[1]


def peers_for(node: NodeView, peers: Sequence[BGPPeer]) -> list[BGPPeer]:
    return [p for p in peers if any_selector_matches(p.spec.node_selectors, node.labels)]


def decide(
    state: NodeState,
    services: Iterable[ServiceView],
    endpoints: Iterable[EndpointView],
    config: Config,
    *,
    withdraw_on_cordon: bool = False,
) -> Decision:
    node = state.node
    mine = peers_for(node, config.peers)
    why_not = ineligibility(state, withdraw_on_cordon)
    if why_not is None and not mine:
        why_not = status.NO_PEER, "no BGPPeer selects this node"
    if why_not is not None:
        reason, message = why_not
        return Decision({p.name: frozenset() for p in mine}, frozenset(), message, ineligible_reason=reason)
    local_ready = {e.service for e in endpoints if e.node == node.name and e.ready}
    ranges = [(r, p) for p in config.pools for r in p.spec.ranges()]
    merged: dict[tuple[str, Prefix], tuple[set[Community], int | None]] = {}
    announcing: set[ObjectKey] = set()
    problems: list[Diagnostic] = []
    vips: list[VIPRoutes] = []
    withheld: list[Withheld] = []
    for service in services:
        if service.external_traffic_policy == "Local" and service.key not in local_ready:
            withheld += (Withheld(service.key, str(v), status.NO_LOCAL_ENDPOINT, _NO_ENDPOINT) for v in _vips(service))
            continue
        try:  # one Service that cannot be handled must not cost the node its other routes
            wanted, service_problems, held = _service_routes(service, state, ranges, config, mine)
        except Exception as exc:
            problems.append(failed(service_ref(service.key), exc))
            continue
        problems += service_problems
        withheld += held
        out: dict[str, set[tuple[str, Prefix]]] = {}
        for vip, peer_name, prefix, communities, pref in wanted:
            have_communities, have_pref = merged.get((peer_name, prefix), (set(), None))
            best_pref = pref if have_pref is None else (have_pref if pref is None else max(have_pref, pref))
            merged[(peer_name, prefix)] = (have_communities | communities, best_pref)
            announcing.add(service.key)
            out.setdefault(vip, set()).add((peer_name, prefix))
        vips += (VIPRoutes(service.key, vip, frozenset(sent)) for vip, sent in sorted(out.items()))
    routes: dict[str, set[Route]] = {p.name: set() for p in mine}
    for (peer_name, prefix), (communities, pref) in merged.items():
        routes[peer_name].add(Route.create(prefix, communities=communities, local_preference=pref))
    return Decision(
        {k: frozenset(v) for k, v in routes.items()},
        frozenset(announcing),
        None,
        tuple(problems),
        vips=tuple(vips),
        withheld=tuple(withheld),
    )


@dataclass(frozen=True)
class VIPRoutes:
    """One VIP of a Service, and the (peer name, prefix) pairs it is sent as (the prefix may aggregate it)."""

    service: ObjectKey
    vip: str
    sent: frozenset[tuple[str, Prefix]]


_NO_ENDPOINT = "externalTrafficPolicy Local and no ready endpoint on this node"
_Wanted = tuple[str, str, Prefix, set[Community], int | None]  # VIP, peer name, prefix, communities, local preference


def _service_routes(
    service: ServiceView,
    state: NodeState,
    ranges: list[tuple[AddressRange, AddressPool]],
    config: Config,
    mine: list[BGPPeer],
) -> tuple[list[_Wanted], list[Diagnostic], list[Withheld]]:
    """What one Service asks this node to send to each of its peers, every route checked as ExaBGP would get it;
    and its VIPs this node does not send, with why."""
    vips = _vips(service)
    if not vips:
        return [], [], []
    extra_communities, extra_pref, problems = service_attributes(service)
    wanted: list[_Wanted] = []
    withheld: list[Withheld] = []
    for vip in vips:
        pool = next((p for r, p in ranges if vip in r), None)
        if pool is None:
            withheld.append(Withheld(service.key, str(vip), status.NOT_IN_POOL, "the VIP is in no AddressPool"))
            continue
        if pool.spec.health_withdraw and (not state.healthy or service.key in state.unhealthy):
            why = "the node's data path" if not state.healthy else "the Service's healthCheckNodePort"
            withheld.append(Withheld(service.key, str(vip), status.HEALTH_CHECK_FAILING, f"{why} fails its check"))
            continue
        before = len(wanted)
        for ad in config.advertisements:
            if not _selects(ad, pool, state.node):
                continue
            prefix = ipaddress.ip_network(
                (vip, ad.spec.aggregation_length if vip.version == 4 else ad.spec.aggregation_length_v6),
                strict=False,
            )
            communities = {parse_community(c) for c in ad.spec.communities} | set(extra_communities)
            pref = extra_pref if extra_pref is not None else ad.spec.local_pref
            Route.create(prefix, communities=communities, local_preference=pref)  # raises if ExaBGP could not take it
            wanted += [
                (str(vip), p.name, prefix, communities, pref)
                for p in mine
                if not ad.spec.peers or p.name in ad.spec.peers
            ]
        if len(wanted) == before:
            message = f"no BGPAdvertisement sends pool {pool.name} from this node to its peers"
            withheld.append(Withheld(service.key, str(vip), status.NOT_ADVERTISED, message))
    return wanted, problems, withheld


def _vips(service: ServiceView) -> list[IPAddress]:
    out = []
    for text in service.ingress_ips:
        try:
            out.append(parse_ip(text))
        except ValueError:
            continue
    return out


def _selects(ad: BGPAdvertisement, pool: AddressPool, node: NodeView) -> bool:
    """An advertisement with no pool names or selectors covers every pool; otherwise a name or a selector must hit."""
    spec = ad.spec
    pool_ok = not (spec.address_pools or spec.address_pool_selectors) or (
        pool.name in spec.address_pools or any(s.matches(pool.metadata.labels) for s in spec.address_pool_selectors)
    )
    return pool_ok and any_selector_matches(spec.node_selectors, node.labels)


def service_attributes(service: ServiceView) -> tuple[list[Community], int | None, list[Diagnostic]]:
    """The BGP attributes a Service's annotations add to its routes; a bad one is left out, said (not the route)."""
    problems: list[Diagnostic] = []
    communities: list[Community] = []
    found = ann.lookup(service.annotations, ann.BGP_COMMUNITIES)
    if found is not None:
        name, text = found
        bad = []
        for part in text.split(","):
            try:
                communities.append(parse_community(trim(part)))
            except ValueError as exc:
                bad.append(str(exc))
        if bad:  # one Diagnostic per field, however many parts are bad: one Event, not one per part
            message = "; ".join(bad) + ("; the Service is announced without it" if len(bad) == 1 else " (all left out)")
            problems.append(_bad_attribute(service, ann.field(name), message))
    pref: int | None = None
    found = ann.lookup(service.annotations, ann.BGP_LOCAL_PREF)
    if found is not None:
        name, text = found
        try:
            pref = parse_uint(trim(text), 0, 0xFFFFFFFF)
        except ValueError:
            message = f"{text!r} is not a local preference (0-4294967295); ignored"
            problems.append(_bad_attribute(service, ann.field(name), message))
    return communities, pref, problems


def _bad_attribute(service: ServiceView, field: str, message: str) -> Diagnostic:
    return Diagnostic(service_ref(service.key), INVALID_BGP_ATTRIBUTE, message, field=field)
