"""A BGPPeer's status from the nodes' announcements: how many nodes peer with the router, how many of those sessions
are Established, and a Ready condition naming the nodes whose session is down. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dnslb.core.bgp.status import NodeAnnouncements, PeerSession

READY = "Ready"
# The Ready condition's reasons
ESTABLISHED = "Established"  # every node's session with it is up
SESSIONS_DOWN = "SessionsDown"
NO_NODES = "NoNodes"

NAMED = 5  # down nodes named in the message; the rest are counted


@dataclass(frozen=True)
class PeerStatus:
    """One BGPPeer's status. `ok` is the Ready condition's status: True, False, or None (Unknown)."""

    peer: str
    nodes: int  # nodes that report a session with it
    up: int  # of those, the Established ones
    ok: bool | None
    reason: str
    message: str

    @property
    def sessions(self) -> str:
        return f"{self.up}/{self.nodes}"

    def fields(self) -> dict[str, Any]:
        """The BGPPeer's status fields besides its conditions, for the status patch."""
        return {"sessions": self.sessions, "nodes": self.nodes, "up": self.up}


def peer_statuses(peers: Iterable[str], nodes: Iterable[NodeAnnouncements]) -> dict[str, PeerStatus]:
    """The status of each BGPPeer named in `peers`, by name, from the sessions the `nodes` report.

    Only the nodes given count: the caller passes the announcements of Ready nodes only, so that a node that is gone
    or down (its NodeAnnouncement left behind, stale) neither counts as peering nor as down.
    """
    wanted = list(dict.fromkeys(peers))
    by_peer: dict[str, dict[str, PeerSession]] = {peer: {} for peer in wanted}
    for node in nodes:
        for session in node.sessions:
            if session.peer in by_peer:
                by_peer[session.peer].setdefault(node.node, session)
    return {peer: _status(peer, by_peer[peer]) for peer in wanted}


def _status(peer: str, sessions: dict[str, PeerSession]) -> PeerStatus:
    nodes = len(sessions)
    down = sorted(((node, s) for node, s in sessions.items() if not s.established), key=lambda d: d[0])
    up = nodes - len(down)
    if nodes == 0:
        return PeerStatus(peer, 0, 0, None, NO_NODES, "no node peers with it")
    if not down:
        return PeerStatus(peer, nodes, up, True, ESTABLISHED, f"Established from all {nodes} node(s) that peer")
    # the state and `since` are left out: they flip on every retry, and the message would change with them
    named = [f"{node} ({s.last_error})" if s.last_error else node for node, s in down[:NAMED]]
    if len(down) > NAMED:
        named.append(f"and {len(down) - NAMED} more")
    message = f"{len(down)} of {nodes} node(s) have no Established session: " + ", ".join(named)
    return PeerStatus(peer, nodes, up, False, SESSIONS_DOWN, message)
