"""A BGPPeer's status summed up from the sessions the nodes report. Pure tables."""

from __future__ import annotations

from dnslb.core.bgp import status
from dnslb.core.bgp.peerstatus import ESTABLISHED, NO_NODES, SESSIONS_DOWN, PeerStatus, peer_statuses
from dnslb.core.bgp.status import NodeAnnouncements, PeerSession


def session(peer: str, state: str = status.ESTABLISHED, error: str = "") -> PeerSession:
    return PeerSession(peer, "192.168.0.1", state, 1_700_000_000.0, error)


def node(name: str, *sessions: PeerSession) -> NodeAnnouncements:
    return NodeAnnouncements(name, sessions)


def test_every_node_up_is_ready() -> None:
    nodes = [node(f"n{i}", session("edge"), session("core")) for i in (1, 2, 3)]
    edge = peer_statuses(["edge"], nodes)["edge"]
    assert edge == PeerStatus("edge", 3, 3, True, ESTABLISHED, "Established from all 3 node(s) that peer")
    assert edge.sessions == "3/3"
    assert edge.fields() == {"sessions": "3/3", "nodes": 3, "up": 3}


def test_nodes_down_are_named_with_their_last_error() -> None:
    nodes = [
        node("n3", session("edge", status.CONNECTING, "connection refused")),
        node("n1", session("edge")),
        node("n2", session("edge", status.IDLE)),
    ]
    edge = peer_statuses(["edge"], nodes)["edge"]
    assert (edge.ok, edge.reason) == (False, SESSIONS_DOWN)
    assert edge.message == "2 of 3 node(s) have no Established session: n2, n3 (connection refused)"
    assert edge.fields() == {"sessions": "1/3", "nodes": 3, "up": 1}


def test_no_node_peering_is_unknown() -> None:
    (edge,) = peer_statuses(["edge"], []).values()
    assert edge == PeerStatus("edge", 0, 0, None, NO_NODES, "no node peers with it")
    assert edge.fields() == {"sessions": "0/0", "nodes": 0, "up": 0}


def test_many_down_are_truncated_after_five() -> None:
    nodes = [node(f"n{i:02}", session("edge", status.IDLE, "hold timer expired")) for i in range(8)]
    edge = peer_statuses(["edge"], nodes)["edge"]
    assert edge.sessions == "0/8"
    assert edge.message == (
        "8 of 8 node(s) have no Established session: n00 (hold timer expired), n01 (hold timer expired), "
        "n02 (hold timer expired), n03 (hold timer expired), n04 (hold timer expired), and 3 more"
    )


def test_a_peer_no_node_reports_is_unknown_whatever_the_others() -> None:
    nodes = [node("n1", session("edge"), session("stray")), node("n2", session("edge", status.IDLE))]
    found = peer_statuses(["edge", "core"], nodes)
    assert list(found) == ["edge", "core"], "in the order given; sessions with peers not asked about are ignored"
    assert found["edge"].sessions == "1/2"
    assert (found["core"].ok, found["core"].message, found["core"].sessions) == (None, "no node peers with it", "0/0")
