"""Who announces what, and flap damping: pure tables."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from dnslb.core.bgp.damping import DampingConfig, DampingState, decayed, ready_lost, reusable_at
from dnslb.core.bgp.policy import NodeState, decide
from dnslb.core.bgp.routes import Route
from dnslb.core.config import load_config
from dnslb.core.config.communities import parse_community
from dnslb.core.manifests import read_documents
from dnslb.core.model import EndpointView, NodeView
from dnslb.core.objects import ObjectKey
from tests.builders import make_service

CONFIG = """
apiVersion: dnslb.io/v1alpha1
kind: AddressPool
metadata: {name: public, labels: {exposure: public}}
spec: {addresses: [10.0.0.0/24, "fd00::/120"]}
---
apiVersion: dnslb.io/v1alpha1
kind: AddressPool
metadata: {name: internal}
spec: {addresses: [10.1.0.0/24]}
---
apiVersion: dnslb.io/v1alpha1
kind: BGPPeer
metadata: {name: edge}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 192.168.0.1}
---
apiVersion: dnslb.io/v1alpha1
kind: BGPPeer
metadata: {name: backup, }
spec: {myASN: 64512, peerASN: 64501, peerAddress: 192.168.1.1, nodeSelectors: [{matchLabels: {rack: b}}]}
---
apiVersion: dnslb.io/v1alpha1
kind: BGPAdvertisement
metadata: {name: public}
spec: {addressPoolSelectors: [{matchLabels: {exposure: public}}], communities: ["64512:100"], localPref: 100}
---
apiVersion: dnslb.io/v1alpha1
kind: BGPAdvertisement
metadata: {name: internal-aggregated}
spec: {addressPools: [internal], peers: [edge], aggregationLength: 24}
"""
config, errors = load_config(read_documents("c", CONFIG))
assert errors == [], errors


def node(**fields: Any) -> NodeState:
    damped = fields.pop("damped", False)
    healthy = fields.pop("healthy", True)
    return NodeState(NodeView(**{"name": "n1", "ready": True, **fields}), damped=damped, healthy=healthy)


def vip_service(name: str, *ips: str, **spec: Any) -> Any:
    return make_service(name, ingress=ips, **spec)


def communities_of(route: Route) -> set[str]:
    return {str(c) for c in (*route.communities, *route.large_communities)}


def prefixes(routes: frozenset[Route]) -> list[str]:
    return sorted(str(r.prefix) for r in routes)


def test_cluster_services_are_announced_with_the_advertisement_attributes() -> None:
    decision = decide(node(), [vip_service("web", "10.0.0.5", "fd00::5")], [], config)
    assert prefixes(decision.routes["edge"]) == ["10.0.0.5/32", "fd00::5/128"]
    route = next(iter(r for r in decision.routes["edge"] if r.prefix.version == 4))
    assert route.communities == (parse_community("64512:100"),) and route.local_preference == 100
    assert "backup" not in decision.routes  # its nodeSelectors do not pick n1
    assert decision.announcing == {ObjectKey("default", "web")}


def test_aggregation_and_peer_restriction() -> None:
    services = [vip_service("a", "10.1.0.7"), vip_service("b", "10.1.0.9")]
    decision = decide(node(labels={"rack": "b"}), services, [], config)
    assert prefixes(decision.routes["edge"]) == ["10.1.0.0/24"]
    assert prefixes(decision.routes["backup"]) == []


def test_local_services_only_where_a_ready_endpoint_runs() -> None:
    db = vip_service("db", "10.0.0.9", externalTrafficPolicy="Local")
    here = [EndpointView(db.key, "n1", True)]
    elsewhere = [EndpointView(db.key, "n2", True), EndpointView(db.key, "n1", False)]
    assert prefixes(decide(node(), [db], here, config).routes["edge"]) == ["10.0.0.9/32"]
    assert prefixes(decide(node(), [db], elsewhere, config).routes["edge"]) == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"ready": False}, "node is not Ready"),
        ({"network_unavailable": True}, "node is NetworkUnavailable"),
        ({"labels": {"node.kubernetes.io/exclude-from-external-load-balancers": ""}}, "exclude-from-external"),
        ({"damped": True}, "damped"),
    ],
)
def test_ineligible_nodes_announce_nothing(fields: dict[str, Any], reason: str) -> None:
    decision = decide(node(**fields), [vip_service("web", "10.0.0.5")], [], config)
    assert decision.routes["edge"] == frozenset()
    assert decision.ineligible is not None and reason in decision.ineligible


def test_a_cordoned_node_keeps_announcing_unless_told_to_withdraw() -> None:
    decision = decide(node(unschedulable=True), [vip_service("web", "10.0.0.5")], [], config)
    assert prefixes(decision.routes["edge"]) == ["10.0.0.5/32"]
    told = decide(node(unschedulable=True), [vip_service("web", "10.0.0.5")], [], config, withdraw_on_cordon=True)
    assert told.routes["edge"] == frozenset() and told.ineligible == "node is cordoned"


def test_service_attributes_and_injection_attempts() -> None:
    good = vip_service("good", "10.0.0.5", annotations={"dnslb.io/bgp-communities": "65000:1,large:1:2:3",
                                                        "dnslb.io/bgp-local-pref": "300"})  # fmt: skip
    evil = vip_service("evil", "10.0.0.6", annotations={
        "dnslb.io/bgp-communities": "65000:1\nannounce route 0.0.0.0/0 next-hop self",
        "dnslb.io/bgp-local-pref": "1\nwithdraw route 10.0.0.5/32"})  # fmt: skip
    decision = decide(node(), [good, evil], [], config)
    by_prefix = {str(r.prefix): r for r in decision.routes["edge"]}
    assert by_prefix["10.0.0.5/32"].local_preference == 300
    assert communities_of(by_prefix["10.0.0.5/32"]) == {"64512:100", "65000:1", "large:1:2:3"}
    assert by_prefix["10.0.0.6/32"].local_preference == 100  # announced on the advertisement's terms only
    assert communities_of(by_prefix["10.0.0.6/32"]) == {"64512:100"}
    assert sorted(p.field for p in decision.problems) == [
        "metadata.annotations[dnslb.io/bgp-communities]",
        "metadata.annotations[dnslb.io/bgp-local-pref]",
    ]
    assert all(r.prefix != ipaddress.ip_network("0.0.0.0/0") for r in decision.routes["edge"])


def test_vips_outside_every_pool_or_advertisement_are_not_announced() -> None:
    decision = decide(node(), [vip_service("stray", "192.0.2.1")], [], config)
    assert decision.routes["edge"] == frozenset()


CONFIG_DAMPING = DampingConfig(penalty=1000, suppress=2500, reuse=750, half_life=10, max_suppress=60)


def test_a_flapping_node_is_suppressed_after_a_few_losses_and_comes_back_when_calm() -> None:
    state = DampingState()
    for n, now in enumerate(range(0, 60, 4)):  # Ready lost every 4 s for a minute
        state = ready_lost(state, float(now), CONFIG_DAMPING)
        if n == 1:
            assert not state.suppressed
    assert state.suppressed and state.losses == 15
    assert state.penalty <= CONFIG_DAMPING.ceiling
    back = reusable_at(state, CONFIG_DAMPING)
    assert back is not None and back - 56 <= CONFIG_DAMPING.max_suppress
    assert decayed(state, back - 1, CONFIG_DAMPING).suppressed
    assert not decayed(state, back + 0.01, CONFIG_DAMPING).suppressed


def test_a_single_loss_never_suppresses() -> None:
    state = ready_lost(DampingState(), 0.0, DampingConfig())
    assert not state.suppressed and reusable_at(state, DampingConfig()) is None
    assert decayed(state, 30.0, DampingConfig()).penalty == pytest.approx(500.0)


def test_damping_config_is_checked() -> None:
    with pytest.raises(ValueError, match="reuse < suppress"):
        DampingConfig(suppress=500, reuse=750)


def test_health_withdraw_applies_only_to_pools_that_ask_for_it() -> None:
    text = CONFIG.replace("spec: {addresses: [10.1.0.0/24]}", "spec: {addresses: [10.1.0.0/24], healthWithdraw: true}")
    guarded, errors = load_config(read_documents("c", text))
    assert errors == []
    services = [vip_service("public", "10.0.0.5"), vip_service("guarded", "10.1.0.5")]
    sick = decide(node(healthy=False), services, [], guarded)
    assert prefixes(sick.routes["edge"]) == ["10.0.0.5/32"]
    local = vip_service("local", "10.1.0.9", externalTrafficPolicy="Local")
    here = [EndpointView(local.key, "n1", True)]
    no_endpoint = NodeState(NodeView("n1", ready=True), unhealthy=frozenset({local.key}))
    assert prefixes(decide(no_endpoint, [local], here, guarded).routes["edge"]) == []
    assert prefixes(decide(node(), [local], here, guarded).routes["edge"]) == ["10.1.0.0/24"]
