"""A node's announcements: built from the policy's decision and the sessions the driver reports, written as the
`status` of the node's NodeAnnouncement object, and read back from it (`dnslb status`, the DNS gate). Pure.

The status stays small whatever the number of Services: VIPs are grouped by fate (announced to the same peers, or
withheld for the same reason), never one entry per Service; a node that announces nothing says why once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dnslb.core.bgp import status
from dnslb.core.bgp.policy import Decision
from dnslb.core.bgp.status import Damping, NodeAnnouncements, PeerSession, VIPGroup
from dnslb.core.grammar import parse_ip

# VIPs listed at most (announced and withheld together): ~16 bytes each keeps the object far below etcd's 1.5 MiB
MAX_VIPS = 40_000
_STATES = (status.ESTABLISHED, status.CONNECTING, status.IDLE)
_TEXT = 1024  # longest message or error kept


def build(
    node: str, decision: Decision, sessions: Mapping[str, PeerSession], damping: Damping | None = None
) -> NodeAnnouncements:
    """What this node announces, to whom, and what it withholds: a VIP is announced to a peer once ExaBGP acked
    its prefix over an Established session; a VIP decided but acked by no peer is withheld as PeerDown or Pending."""
    ordered = tuple(sessions[name] for name in sorted(sessions))
    if decision.ineligible is not None:
        return NodeAnnouncements(node, ordered, (), (), decision.ineligible_reason, decision.ineligible, damping)
    announced: dict[tuple[str, ...], set[str]] = {}
    withheld: dict[tuple[str, str], set[str]] = {}
    for vip in decision.vips:
        acked = sorted(
            {peer for peer, prefix in vip.sent if (s := sessions.get(peer)) and s.established and prefix in s.prefixes}
        )
        if acked:
            announced.setdefault(tuple(acked), set()).add(vip.vip)
            continue
        wanted = sorted({peer for peer, _ in vip.sent})
        if any((s := sessions.get(peer)) and s.established for peer in wanted):
            withheld.setdefault((status.PENDING, "sent to ExaBGP, not acknowledged yet"), set()).add(vip.vip)
        else:
            withheld.setdefault((status.PEER_DOWN, _no_session(wanted, sessions)), set()).add(vip.vip)
    out = {v for vips in announced.values() for v in vips}
    for held in decision.withheld:
        if held.vip not in out:  # a VIP shared with a Service that does send it is announced
            withheld.setdefault((held.reason, held.message), set()).add(held.vip)
    return NodeAnnouncements(
        node,
        ordered,
        tuple(VIPGroup(_sorted(v), peers=p) for p, v in sorted(announced.items())),
        tuple(VIPGroup(_sorted(v), reason=r, message=m) for (r, m), v in sorted(withheld.items())),
        damping=damping,
    )


def _no_session(peers: list[str], sessions: Mapping[str, PeerSession]) -> str:
    parts = []
    for peer in peers:
        session = sessions.get(peer)
        if session is None:
            parts.append(f"{peer}: not configured yet")
        else:
            error = f": {session.last_error}" if session.last_error else ""
            parts.append(f"{peer}: {session.state}{error}")
    return "no Established session to " + "; ".join(parts)


def _sorted(vips: set[str]) -> tuple[str, ...]:
    return tuple(sorted(vips, key=lambda v: parse_ip(v).packed.rjust(16, b"\0")))


# ---- the status object ------------------------------------------------------------------------------------------


def to_status(announcements: NodeAnnouncements) -> dict[str, Any]:
    """The `status` of the node's NodeAnnouncement object, for a merge patch: a field that does not apply is None
    (removed), not left out (kept)."""
    a = announcements
    up = sum(1 for s in a.sessions if s.established)
    body: dict[str, Any] = {
        "sessions": [_session(s) for s in a.sessions],
        "sessionsUp": f"{up}/{len(a.sessions)}",
        "announcedCount": sum(len(g.vips) for g in a.announced),
        "withheldCount": sum(len(g.vips) for g in a.withheld),
        "ineligible": None,
        "damping": None,
        "truncated": None,
    }
    if a.ineligible_reason:
        body["ineligible"] = {"reason": a.ineligible_reason, "message": a.ineligible[:_TEXT]}
    if a.damping is not None:
        damping: dict[str, Any] = {"penalty": round(a.damping.penalty), "suppressed": a.damping.suppressed}
        if a.damping.reuse_at is not None:
            damping["reuseAt"] = _time(a.damping.reuse_at)
        body["damping"] = damping
    room = MAX_VIPS
    announced, room = _groups(a.announced, room)
    withheld, room = _groups(a.withheld, room)
    body["announced"], body["withheld"] = announced, withheld
    if room < 0:
        body["truncated"] = True
    return body


def _session(session: PeerSession) -> dict[str, Any]:
    out: dict[str, Any] = {
        "peer": session.peer,
        "address": session.address,
        "state": session.state,
        "prefixes": len(session.prefixes),
    }
    if session.since is not None:
        out["since"] = _time(session.since)
    if session.last_error:
        out["lastError"] = session.last_error[:_TEXT]
    return out


def _groups(groups: tuple[VIPGroup, ...], room: int) -> tuple[list[dict[str, Any]], int]:
    out = []
    for group in groups:
        vips = group.vips[: max(room, 0)]
        room -= len(group.vips)
        entry: dict[str, Any] = {"vips": list(vips)}
        if group.peers:
            entry["peers"] = list(group.peers)
        if group.reason:
            entry["reason"], entry["message"] = group.reason, group.message[:_TEXT]
        out.append(entry)
    return out, room


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_status(node: str, body: object) -> NodeAnnouncements:
    """A NodeAnnouncement's status as written by `to_status`, read strictly: anything malformed is left out (a
    group with a bad VIP loses that VIP, a session with an unknown state is Idle), never raised."""
    if not isinstance(body, dict):
        return NodeAnnouncements(node)
    sessions = tuple(s for s in map(_read_session, _list(body.get("sessions"))) if s is not None)
    announced = tuple(g for g in map(_read_group, _list(body.get("announced"))) if g is not None)
    withheld = tuple(g for g in map(_read_group, _list(body.get("withheld"))) if g is not None)
    ineligible = body.get("ineligible")
    reason = message = ""
    if isinstance(ineligible, dict):
        reason, message = _text(ineligible.get("reason")), _text(ineligible.get("message"))
    return NodeAnnouncements(node, sessions, announced, withheld, reason, message, _read_damping(body.get("damping")))


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    return value[:_TEXT] if isinstance(value, str) and value.isascii() else ""


def _read_session(entry: object) -> PeerSession | None:
    if not isinstance(entry, dict) or not _text(entry.get("peer")):
        return None
    state = entry.get("state")
    return PeerSession(
        _text(entry.get("peer")),
        _text(entry.get("address")),
        state if state in _STATES else status.IDLE,
        _read_time(entry.get("since")),
        _text(entry.get("lastError")),
    )


def _read_group(entry: object) -> VIPGroup | None:
    if not isinstance(entry, dict):
        return None
    vips = []
    for vip in _list(entry.get("vips")):
        try:
            vips.append(str(parse_ip(vip)))
        except (TypeError, ValueError):
            continue
    peers = tuple(p for p in map(_text, _list(entry.get("peers"))) if p)
    return VIPGroup(tuple(vips), peers, _text(entry.get("reason")), _text(entry.get("message")))


def _read_damping(entry: object) -> Damping | None:
    if not isinstance(entry, dict):
        return None
    penalty = entry.get("penalty")
    suppressed = entry.get("suppressed")
    if not isinstance(penalty, int | float) or isinstance(penalty, bool) or not isinstance(suppressed, bool):
        return None
    return Damping(float(penalty), suppressed, _read_time(entry.get("reuseAt")))


def _read_time(value: object) -> float | None:
    if not isinstance(value, str) or not value.isascii():
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
