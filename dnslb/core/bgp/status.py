"""What one node announces and why not: its BGP sessions, the VIPs it announces (and which peers acked them), the
VIPs it withholds with the reason. Pure: built from the policy's decision and the sessions the driver reports, turned
into the `status` of the node's NodeAnnouncement object and read back from it (`dnslb status`, the DNS gate).
"""

from __future__ import annotations

from dataclasses import dataclass

from dnslb.core.bgp.routes import Prefix
from dnslb.core.objects import ObjectKey

# Session states as reported (the BGP FSM collapsed to what an operator needs)
ESTABLISHED = "Established"
CONNECTING = "Connecting"  # trying to connect, or connected and not yet Established
IDLE = "Idle"  # not started yet, or stopped


@dataclass(frozen=True)
class PeerSession:
    """One BGP session of this node, as the driver last saw it. `since`: wall-clock time of the last state change
    (None: no change seen yet); `last_error`: why the session last failed or could not be made ("" if it never did);
    `prefixes`: what the peer has from us — acked by ExaBGP over an Established session (empty when not Established).
    """

    peer: str  # the BGPPeer's name
    address: str
    state: str = IDLE
    since: float | None = None
    last_error: str = ""
    prefixes: frozenset[Prefix] = frozenset()

    @property
    def established(self) -> bool:
        return self.state == ESTABLISHED


# Why a VIP is not announced from this node. For the whole node (Decision.ineligible_reason):
NOT_READY = "NotReady"
NETWORK_UNAVAILABLE = "NetworkUnavailable"
EXCLUDED = "Excluded"  # node.kubernetes.io/exclude-from-external-load-balancers
CORDONED = "Cordoned"  # only with --withdraw-on-cordon
DAMPED = "Damped"
NO_PEER = "NoPeer"  # no BGPPeer selects this node
# For one VIP (Withheld.reason):
NO_LOCAL_ENDPOINT = "NoLocalEndpoint"
HEALTH_CHECK_FAILING = "HealthCheckFailing"
NOT_ADVERTISED = "NotAdvertised"  # no BGPAdvertisement covers its pool and this node
NOT_IN_POOL = "NotInPool"
# Decided, but no peer has it yet:
PEER_DOWN = "PeerDown"  # no session to a peer it goes to is Established
PENDING = "Pending"  # a session is Established, ExaBGP has not acked the route yet


@dataclass(frozen=True)
class Withheld:
    """A VIP of one of our Services that this node does not announce, and why."""

    service: ObjectKey
    vip: str
    reason: str
    message: str


@dataclass(frozen=True)
class Damping:
    penalty: float
    suppressed: bool
    reuse_at: float | None = None  # wall-clock time the node may announce again (None: not suppressed)


@dataclass(frozen=True)
class VIPGroup:
    """VIPs that share one fate on this node: announced to the same peers (`reason` ""), or withheld for one reason."""

    vips: tuple[str, ...]
    peers: tuple[str, ...] = ()
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class NodeAnnouncements:
    """Everything the node's status object says. Announced means acked by ExaBGP over an Established session."""

    node: str
    sessions: tuple[PeerSession, ...] = ()
    announced: tuple[VIPGroup, ...] = ()
    withheld: tuple[VIPGroup, ...] = ()
    ineligible_reason: str = ""  # the whole node announces nothing, for this reason
    ineligible: str = ""
    damping: Damping | None = None

    def announced_vips(self) -> frozenset[str]:
        return frozenset(v for group in self.announced for v in group.vips)

    def why_not(self, vip: str) -> tuple[str, str] | None:
        """(reason, message) this node does not announce `vip`; None when it does, or knows nothing of it."""
        if self.ineligible_reason:
            return self.ineligible_reason, self.ineligible
        for group in self.withheld:
            if vip in group.vips:
                return group.reason, group.message
        return None
