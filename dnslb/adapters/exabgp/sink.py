"""From the policy's decisions to the ExaBGP driver: peers become neighbors, routes become typed announcements."""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from dnslb.adapters.exabgp.driver import ExaBGPDriver, Neighbor, SessionStatus
from dnslb.core.bgp.routes import Route
from dnslb.core.bgp.status import ESTABLISHED, PeerSession
from dnslb.core.config import BGPPeer
from dnslb.core.model import NodeView

log = logging.getLogger(__name__)

# how long a router keeps a restarting speaker's paths: a speaker pod restart, image pull included, fits (FRR's default)
GRACEFUL_RESTART_SECONDS = 120


class ExaBGPSink:
    """The speaker's RouteSink: owns the driver, restarts it when the peers change."""

    def __init__(self, workdir: Path, password_for: Callable[[BGPPeer], str | None], netns: str | None = None) -> None:
        self._workdir = workdir
        self._password_for = password_for
        self._netns = netns
        self._driver: ExaBGPDriver | None = None
        self._addresses: dict[str, str] = {}  # peer name → peer address text
        self._lock = threading.Lock()
        self._session_listener: Callable[[str, bool], None] = lambda peer, up: None

    def on_session(self, listener: Callable[[str, bool], None]) -> None:
        """Hear every BGP session going up (True) or down (False), by peer address, from the driver's thread."""
        self._session_listener = listener

    def _session_changed(self, peer: str, up: bool) -> None:
        self._session_listener(peer, up)  # late-bound: the listener may be set after the driver exists

    def configure(self, peers: list[BGPPeer], node: NodeView) -> None:
        neighbors = []
        addresses = {}
        for peer in peers:
            try:
                neighbors.append(self._neighbor(peer, node))
                addresses[peer.name] = str(ipaddress.ip_address(peer.spec.peer_address))
            except ValueError as exc:
                log.error("BGPPeer %s cannot be used on node %s: %s", peer.name, node.name, exc)
        with self._lock:
            self._addresses = addresses
            if self._driver is None:
                driver = ExaBGPDriver(neighbors, self._workdir, netns=self._netns, on_session=self._session_changed)
                driver.start()  # raises if ExaBGP cannot start: the speaker retries configure later
                self._driver = driver
            else:
                self._driver.reconfigure(neighbors)
        log.info("BGP neighbors: %s", ", ".join(f"{n.peer_address} (AS{n.peer_asn})" for n in neighbors) or "none")

    def set_desired(self, routes: Mapping[str, frozenset[Route]]) -> None:
        with self._lock:
            driver, addresses = self._driver, dict(self._addresses)
        if driver is None:
            return
        # Each prefix goes over a session of its own family (next-hop self): add a BGPPeer per family for dual stack.
        desired = {
            address: [route for route in routes.get(peer, ()) if route.prefix.version == address.version]
            for peer, address in ((p, ipaddress.ip_address(a)) for p, a in addresses.items())
        }
        driver.set_desired(desired)

    def drain(self, seconds: float, graceful_shutdown: float = 0.0) -> None:
        if self._driver is not None:
            self._driver.drain(seconds, graceful_shutdown)

    def stop(self) -> None:
        if self._driver is not None:
            self._driver.stop()

    def status(self) -> dict[str, PeerSession]:
        """Each configured BGPPeer's session by peer name, with the prefixes ExaBGP acked for it while it is
        Established ({} before the first `configure`)."""
        with self._lock:
            driver, addresses = self._driver, dict(self._addresses)
        if driver is None:
            return {}
        by_address = driver.session_status()
        return {
            name: _peer_session(driver, name, address, by_address.get(address)) for name, address in addresses.items()
        }

    def sessions(self) -> Mapping[str, bool]:
        if self._driver is None:
            return {}
        by_address = self._driver.sessions
        return {name: by_address.get(address, False) for name, address in self._addresses.items()}

    def _neighbor(self, peer: BGPPeer, node: NodeView) -> Neighbor:
        spec = peer.spec
        peer_address = ipaddress.ip_address(spec.peer_address)
        local = spec.source_address or next(
            (a for a in node.addresses if ipaddress.ip_address(a).version == peer_address.version), None
        )
        if local is None:
            raise ValueError(f"node has no IPv{peer_address.version} address and the peer sets no sourceAddress")
        router_id = spec.router_id or next((a for a in node.addresses if ipaddress.ip_address(a).version == 4), None)
        if router_id is None:
            raise ValueError("no routerID set and the node has no IPv4 address to use as one")
        return Neighbor(
            peer_address=peer_address,
            peer_asn=spec.peer_asn,
            local_asn=spec.my_asn,
            local_address=ipaddress.ip_address(local),
            router_id=ipaddress.IPv4Address(router_id),
            peer_port=spec.peer_port,
            hold_time=spec.hold_time,
            password=self._password_for(peer),
            multihop=spec.ebgp_multi_hop,
            listen_port=spec.listen_port or None,
            graceful_restart=GRACEFUL_RESTART_SECONDS if spec.enable_graceful_restart else None,
        )


def _peer_session(driver: ExaBGPDriver, name: str, address: str, status: SessionStatus | None) -> PeerSession:
    status = status or SessionStatus()  # a peer the driver is not running with yet (reconfigure is under way)
    established = status.state == ESTABLISHED
    routes = driver.announced_to(ipaddress.ip_address(address)) if established else frozenset()
    return PeerSession(
        peer=name,
        address=address,
        state=status.state,
        since=status.since,
        last_error=status.last_error,
        prefixes=frozenset(route.prefix for route in routes),
    )
