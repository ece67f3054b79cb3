"""A node's announcements: what the policy decided, what the peers acked, and why the rest is withheld; the status
object written from it and read back. Pure tables."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dnslb.core.bgp import status
from dnslb.core.bgp.announcements import MAX_VIPS, build, from_status, to_status
from dnslb.core.bgp.policy import decide
from dnslb.core.bgp.status import Damping, NodeAnnouncements, PeerSession, VIPGroup
from dnslb.core.model import EndpointView
from dnslb.core.objects import ObjectKey
from tests.unit.test_bgp_policy import config, node, vip_service


def session(peer: str, state: str = status.ESTABLISHED, *prefixes: str, error: str = "") -> PeerSession:
    nets = frozenset(ipaddress.ip_network(p) for p in prefixes)
    return PeerSession(peer, "192.168.0.1", state, 1_700_000_000.0, error, nets)


SERVICES = [
    vip_service("web", "10.0.0.5"),
    vip_service("api", "10.0.0.6"),
    vip_service("local", "10.0.0.7", externalTrafficPolicy="Local"),
    vip_service("stray", "172.16.0.1"),
]


def test_a_vip_is_announced_only_to_peers_that_acked_it_over_an_established_session() -> None:
    decision = decide(node(), SERVICES, [], config)
    found = build("n1", decision, {"edge": session("edge", status.ESTABLISHED, "10.0.0.5/32")})
    assert found.announced == (VIPGroup(("10.0.0.5",), peers=("edge",)),)
    assert found.why_not("10.0.0.6") == (status.PENDING, "sent to ExaBGP, not acknowledged yet")
    assert found.why_not("10.0.0.7")[0] == status.NO_LOCAL_ENDPOINT  # type: ignore[index]
    assert found.why_not("172.16.0.1")[0] == status.NOT_IN_POOL  # type: ignore[index]
    assert found.why_not("10.0.0.5") is None


def test_a_session_that_is_not_up_withholds_every_vip_and_says_why() -> None:
    decision = decide(node(), SERVICES[:2], [], config)
    down = session("edge", status.CONNECTING, "10.0.0.5/32", error="connection refused")
    found = build("n1", decision, {"edge": down})
    assert found.announced == ()
    assert [(g.reason, g.vips) for g in found.withheld] == [(status.PEER_DOWN, ("10.0.0.5", "10.0.0.6"))]
    assert found.withheld[0].message == "no Established session to edge: Connecting: connection refused"


def test_a_node_that_may_not_announce_says_so_once_whatever_the_number_of_services() -> None:
    services = [vip_service(f"s{i}", f"10.0.0.{i}") for i in range(1, 200)]
    found = build("n1", decide(node(ready=False), services, [], config), {"edge": session("edge")})
    assert (found.ineligible_reason, found.announced, found.withheld) == (status.NOT_READY, (), ())
    assert found.why_not("10.0.0.9") == (status.NOT_READY, "node is not Ready")
    body = to_status(found)
    assert body["ineligible"] == {"reason": "NotReady", "message": "node is not Ready"} and body["withheld"] == []


def test_a_vip_shared_with_a_service_that_sends_it_is_announced_not_withheld() -> None:
    shared = [vip_service("a", "10.0.0.8"), vip_service("b", "10.0.0.8", externalTrafficPolicy="Local")]
    found = build(
        "n1", decide(node(), shared, [], config), {"edge": session("edge", status.ESTABLISHED, "10.0.0.8/32")}
    )
    assert found.announced_vips() == {"10.0.0.8"} and found.withheld == ()


def test_an_aggregated_prefix_acked_announces_the_vips_it_covers() -> None:
    services = [vip_service("i1", "10.1.0.1"), vip_service("i2", "10.1.0.2")]
    found = build(
        "n1", decide(node(), services, [], config), {"edge": session("edge", status.ESTABLISHED, "10.1.0.0/24")}
    )
    assert found.announced == (VIPGroup(("10.1.0.1", "10.1.0.2"), peers=("edge",)),)


def test_local_services_with_an_endpoint_here_are_announced() -> None:
    here = [EndpointView(ObjectKey("default", "local"), "n1", True)]
    found = build(
        "n1", decide(node(), SERVICES[2:3], here, config), {"edge": session("edge", status.ESTABLISHED, "10.0.0.7/32")}
    )
    assert found.announced_vips() == {"10.0.0.7"}


def test_the_status_reads_back_as_written() -> None:
    decision = decide(node(), SERVICES, [], config)
    damping = Damping(1234.4, True, 1_700_000_600.0)
    written = build("n1", decision, {"edge": session("edge", status.ESTABLISHED, "10.0.0.5/32")}, damping)
    body = to_status(written)
    assert (body["sessionsUp"], body["announcedCount"], body["withheldCount"]) == ("1/1", 1, 3)
    assert body["sessions"][0] == {"peer": "edge", "address": "192.168.0.1", "state": "Established",
                                   "prefixes": 1, "since": "2023-11-14T22:13:20Z"}  # fmt: skip
    assert body["damping"] == {"penalty": 1234, "suppressed": True, "reuseAt": "2023-11-14T22:23:20Z"}
    read = from_status("n1", body)
    assert read.announced == written.announced and read.withheld == written.withheld
    assert read.sessions == tuple(
        s.__class__(s.peer, s.address, s.state, s.since, s.last_error) for s in written.sessions
    )
    assert read.damping == Damping(1234.0, True, 1_700_000_600.0)


def test_a_huge_node_is_truncated_below_the_object_size_limit() -> None:
    vips = tuple(str(ipaddress.IPv4Address(0x0A000000 + i)) for i in range(MAX_VIPS + 10))
    body = to_status(NodeAnnouncements("n1", announced=(VIPGroup(vips, peers=("edge",)),)))
    assert len(body["announced"][0]["vips"]) == MAX_VIPS and body["truncated"] is True
    assert body["announcedCount"] == MAX_VIPS + 10


json_values: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)


@given(
    st.dictionaries(st.sampled_from(["sessions", "announced", "withheld", "ineligible", "damping", "x"]), json_values)
)
def test_a_status_written_by_anything_else_reads_without_raising(body: dict[str, Any]) -> None:
    read = from_status("n1", body)
    assert all(isinstance(v, str) for g in (*read.announced, *read.withheld) for v in g.vips)
