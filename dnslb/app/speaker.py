"""`dnslb speaker`: one per node. Informers → announcement policy (with damping) → routes for ExaBGP.

Level-triggered like the controller: any change marks the node dirty; one pass recomputes what this node announces
and hands the whole desired set to the route sink, which sends only the difference.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dnslb.adapters.health import HealthProber
from dnslb.adapters.kube.writer import NotLeader, Recorder
from dnslb.adapters.wakeup import Wakeup
from dnslb.app.sources import Cache, Key, Obj, Parsed, config_objects, documents, key_of
from dnslb.core.bgp import status
from dnslb.core.bgp.announcements import build
from dnslb.core.bgp.damping import DampingConfig, DampingState, decayed, ready_lost, reusable_at
from dnslb.core.bgp.policy import Decision, NodeState, decide, node_ineligible
from dnslb.core.bgp.routes import Route
from dnslb.core.bgp.status import Damping, NodeAnnouncements, PeerSession
from dnslb.core.config import BGPPeer, Config, load_config
from dnslb.core.diagnostics import Diagnostic
from dnslb.core.ipam.request import CLASSLESS, ClassFilter, not_handled_because
from dnslb.core.model import EndpointView, NodeView, ServiceView
from dnslb.core.objects import ObjectKey, ObjectRef, service_ref

log = logging.getLogger(__name__)

_RESYNC_SECONDS = 5.0
_PENDING_CHECK = 0.5  # a route sent but not acked yet (a session just up): look again this soon
# how often the node's status is rebuilt from the last decision and the sessions as they are now: a session's
# error may change without any change the loop hears of
_STATUS_REFRESH = 2.0
CREDENTIALS_SECONDS = 30.0


class RouteSink(Protocol):
    """Where the speaker's decisions go (the ExaBGP driver, behind an adapter)."""

    def configure(self, peers: list[BGPPeer], node: NodeView) -> None: ...

    def set_desired(self, routes: Mapping[str, frozenset[Route]]) -> None: ...

    def drain(self, seconds: float, graceful_shutdown: float = 0.0) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> Mapping[str, PeerSession]:
        """Each configured BGPPeer's session by peer name, with the prefixes it acked over it while Established."""
        ...

    def on_session(self, listener: Callable[[str, bool], None]) -> None: ...


@dataclass(frozen=True)
class SpeakerSettings:
    node_name: str
    namespace: str = "dnslb-system"
    withdraw_on_cordon: bool = False
    damping: DampingConfig | None = field(default_factory=DampingConfig)
    drain_seconds: float = 5.0
    graceful_shutdown_seconds: float = 0.0
    classes: ClassFilter = CLASSLESS


class SpeakerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sessions = Gauge("dnslb_bgp_sessions_up", "BGP sessions established", ["peer"], registry=registry)
        self.prefixes = Gauge(
            "dnslb_bgp_prefixes_announced",
            "Prefixes the peer has from this node: acked by ExaBGP over an Established session",
            ["peer"],
            registry=registry,
        )
        self.status_writes = Counter(
            "dnslb_node_status_writes_total", "Writes of this node's NodeAnnouncement status", registry=registry
        )
        self.vips = Gauge(
            "dnslb_bgp_vips",
            "VIPs of this node's Services by state: announced, or the reason they are withheld",
            ["state"],
            registry=registry,
        )
        self.penalty = Gauge("dnslb_bgp_damping_penalty", "Flap-damping penalty of this node", registry=registry)
        self.damped = Gauge("dnslb_bgp_node_damped", "1 while this node is withheld for flapping", registry=registry)
        self.invalid_objects = Counter(
            "dnslb_invalid_objects_total",
            "Objects (or versions of them) that could not be read",
            ["kind"],
            registry=registry,
        )
        self.latency = Histogram(
            "dnslb_bgp_announce_seconds",
            "From a change seen to the routes handed to ExaBGP and acknowledged",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )


class Speaker:
    def __init__(
        self,
        settings: SpeakerSettings,
        *,
        services: Parsed[ServiceView],
        slices: Parsed[list[EndpointView]],
        node: Parsed[NodeView],
        config: Mapping[str, Cache],
        sink: RouteSink,
        recorder: Recorder,
        health: HealthProber,
        metrics: SpeakerMetrics,
        credentials: Callable[[Sequence[BGPPeer]], object] = lambda peers: None,
        publish: Callable[[NodeAnnouncements], None] = lambda announcements: None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """`credentials(peers)`: the version of the peers' passwords (their Secrets' resourceVersions), asked every
        `CREDENTIALS_SECONDS`; when it changes, ExaBGP gets the new passwords without a restart of the speaker.
        `publish` gets what the node announces after every pass (the node's status object)."""
        self.settings = settings
        self.metrics = metrics
        self._sink = sink
        self._recorder = recorder
        self.health = health
        self._clock = clock
        self._wall = wall
        self._publish = publish
        self.services, self.slices, self.node, self.config = services, slices, node, config
        self._caches = (services.cache, slices.cache, node.cache, *config.values())
        self._wakeup: Wakeup[str] = Wakeup(clock)
        self._lock = threading.Lock()  # damping and session state, shared with informer and driver threads
        self._retry_at: float | None = None
        self.ready = threading.Event()
        self._damping = DampingState()
        self._damped_said: bool | None = None
        self._was_ready: bool | None = None
        self._peers: tuple[BGPPeer, ...] | None = None
        self._credentials = credentials
        self._credentials_seen: object = None
        self._credentials_due = 0.0
        self._announcing: frozenset[ObjectKey] | None = None  # None until the first pass: a start is no change
        self._to_announce: set[ObjectKey] = set()  # newly selected, told once a peer has acked them
        self._pending = False  # some route is sent and not acked yet
        self._vip_states: set[tuple[str]] = set()  # label values of dnslb_bgp_vips set so far (zeroed, not dropped)
        self._peer_series: set[str] = set()  # peers with dnslb_bgp_sessions_up / _prefixes_announced series
        self.last: Decision | None = None
        self.announcements: NodeAnnouncements | None = None
        # A node that lost every BGP session may have been cut off from the API too, and its endpoints may have
        # moved meanwhile: Local Services stay withheld from then until a fresh list after a session is back
        # (`_RESYNC_SECONDS` at most), so a rejoining node never announces an endpoint it no longer has.
        self._sessions_up: dict[str, bool] = {}
        self._session_lost = False
        self._resync: tuple[float, dict[int, int]] | None = None  # (deadline, relist counts when asked)
        for cache in (services.cache, slices.cache, *config.values()):
            cache.subscribe(self._changed)
        node.cache.subscribe(self._node_changed)
        sink.on_session(self._session_changed)
        health.subscribe(self._wakeup.mark)

    # -- cache callbacks -----------------------------------------------------------------------------------------

    def _changed(self, key: Key, old: Obj | None, new: Obj | None) -> None:
        self._wakeup.mark()

    def _node_changed(self, key: Key, old: Obj | None, new: Obj | None) -> None:
        view = self.node.get(key) if new is not None else None
        if view is not None:
            ready = view.ready
            if self._was_ready and not ready and self.settings.damping is not None:
                with self._lock:
                    self._damping = ready_lost(self._damping, self._clock(), self.settings.damping)
            self._was_ready = ready
        self._wakeup.mark()

    def _session_changed(self, peer: str, up: bool) -> None:
        with self._lock:
            self._sessions_up[peer] = up
            if not any(self._sessions_up.values()):  # cut off from every router: perhaps from the API as well
                self._session_lost, self._resync = True, None
            elif up and self._session_lost and self._resync is None:
                watched = (self.services.cache, self.slices.cache, self.node.cache)
                self._resync = (self._clock() + _RESYNC_SECONDS, {id(c): c.relists for c in watched})
                log.info("BGP session with %s is back: relisting before announcing Local Services again", peer)
                for cache in watched:
                    cache.resync()
        self._wakeup.mark()

    def _endpoints_trusted(self) -> bool:
        """False while Local Services must stay withheld: a session was lost and no fresh list has come since."""
        with self._lock:
            if not self._session_lost:
                return True
            if self._resync is None:
                return False
            deadline, before = self._resync
            if all(c.cache.relists > before[id(c.cache)] for c in (self.services, self.slices, self.node)):
                log.info("relisted after the session came back: announcing Local Services again")
            elif self._clock() >= deadline:
                log.warning(
                    "no fresh list within %.0fs of the session coming back: trusting the cache", _RESYNC_SECONDS
                )
            else:
                return False
            self._session_lost, self._resync = False, None
            return True

    def _resync_check_in(self) -> float | None:
        return 0.05 if self._resync is not None else None

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        self._wakeup.close()

    def drain(self) -> None:
        """On SIGTERM. A restart under graceful restart (every peer offers it, and the node could carry traffic: Ready,
        not cordoned, not excluded): stop ExaBGP without withdrawing, and the routers keep this node's paths until the
        next speaker's End-of-RIB. Otherwise an ordered drain: tag every path GRACEFUL_SHUTDOWN and wait
        `graceful_shutdown_seconds` (if set), withdraw everything, wait `drain_seconds`, stop ExaBGP."""
        why = self._why_drain()
        if why is None:
            log.info(
                "stopping for a restart without withdrawing: the routers keep this node's paths (graceful restart)"
            )
            self._sink.stop()
            return
        settings = self.settings
        log.info("draining (%s): withdrawing every route, then waiting %.1fs", why, settings.drain_seconds)
        self._sink.drain(settings.drain_seconds, settings.graceful_shutdown_seconds)

    def publish_stopped(self) -> None:
        """After the sink stopped: publish the sessions as they now stand (down), so the status does not say this
        node announces what it no longer does."""
        self._republish()

    def _refresh_status(self) -> None:
        while not self._wakeup.closed:
            time.sleep(_STATUS_REFRESH)
            try:
                self._republish()
            except Exception:  # the next pass of the loop publishes anyway
                log.exception("refreshing the node status failed")

    def _republish(self) -> None:
        """The last decision with the sessions as they are now: the status and the session metrics."""
        decision = self.last
        if decision is None:
            return
        announcements = build(self.settings.node_name, decision, self._sink.status(), self._damping_now())
        self._status_metrics(announcements)
        self._publish(announcements)

    def _status_metrics(self, announcements: NodeAnnouncements) -> None:
        peers = {session.peer for session in announcements.sessions}
        for gone in self._peer_series - peers:  # a BGPPeer deleted, or no longer selecting this node
            self.metrics.sessions.remove(gone)
            self.metrics.prefixes.remove(gone)
        self._peer_series = peers
        for session in announcements.sessions:
            self.metrics.sessions.labels(session.peer).set(1 if session.established else 0)
            self.metrics.prefixes.labels(session.peer).set(len(session.prefixes))
        counts = {"announced": len(announcements.announced_vips())}
        for group in announcements.withheld:
            counts[group.reason] = counts.get(group.reason, 0) + len(group.vips)
        for state in {labels[0] for labels in self._vip_states} - counts.keys():
            self.metrics.vips.labels(state).set(0)
        for state, count in counts.items():
            self.metrics.vips.labels(state).set(count)
        self._vip_states |= {(state,) for state in counts}

    def _why_drain(self) -> str | None:
        """Why stopping must take this node's paths away (None: it is a restart graceful restart covers)."""
        peers = self._peers
        if not peers or not all(p.spec.enable_graceful_restart for p in peers):
            return "graceful restart is not enabled on every BGPPeer"
        node = self.node.get(("", self.settings.node_name))
        if node is None:
            return "the Node is gone"
        return node_ineligible(NodeState(node), withdraw_on_cordon=True)

    def run(self) -> None:
        while not all(cache.synced.wait(0.1) for cache in self._caches):
            if self._wakeup.closed:
                return
        self.ready.set()
        threading.Thread(target=self._refresh_status, name="status-refresh", daemon=True).start()
        since: float | None = self._clock()
        while not self._wakeup.closed:
            try:
                self._reconcile(since)
                self._retry_at = None
            except Exception:  # one failed pass must not stop the node announcing: log, and try again shortly
                log.exception("speaker reconcile failed; retrying in 5s")
                self._retry_at = self._clock() + 5.0
            due = (
                self._next_damping_change(),
                self._retry_in(),
                self._resync_check_in(),
                self._credentials_in(),
                _PENDING_CHECK if self._pending else None,
            )
            timeouts = [t for t in due if t]
            woken = self._wakeup.wait(min(timeouts, default=None))
            since = woken.since

    # -- one pass ------------------------------------------------------------------------------------------------

    def _reconcile(self, since: float | None) -> None:
        node = self.node.get(("", self.settings.node_name))
        if node is None:
            log.warning("Node %s not found; announcing nothing", self.settings.node_name)
            self._sink.set_desired({})
            self._pending = False
            return
        config = self._config()
        peers = tuple(config.peers)
        if peers != self._peers or self._clock() >= self._credentials_due:
            credentials = self._read_credentials(peers)
            if peers != self._peers or credentials != self._credentials_seen:
                if self._peers is not None and peers == self._peers:
                    log.info("BGP passwords changed: configuring ExaBGP again")
                self._sink.configure(list(peers), node)
                self._peers, self._credentials_seen = peers, credentials
        damped = self._damping_state()
        services = self.services.values()
        ours = [s for s in services if not_handled_because(s, self.settings.classes) is None]
        self.health.watch(_health_targets(config, ours))
        trusted = self._endpoints_trusted()
        endpoints = [e for views in self.slices.values() for e in views] if trusted else []
        state = NodeState(node, damped=damped, healthy=self.health.healthy, unhealthy=self.health.unhealthy)
        decision = decide(state, ours, endpoints, config, withdraw_on_cordon=self.settings.withdraw_on_cordon)
        self._sink.set_desired(decision.routes)
        if since is not None:
            self.metrics.latency.observe(self._clock() - since)
        announcements = build(node.name, decision, self._sink.status(), self._damping_now())
        self._pending = any(g.reason == status.PENDING for g in announcements.withheld)
        self._report(node, decision, announcements)
        self.last, self.announcements = decision, announcements
        self._publish(announcements)

    def _config(self) -> Config:
        config, errors = load_config(documents(config_objects(self.config)))
        for error in errors:
            log.warning("config: %s (the controller reports it on the resource)", error)
        return config

    def _damping_state(self) -> bool:
        if self.settings.damping is None:
            return False
        with self._lock:
            self._damping = decayed(self._damping, self._clock(), self.settings.damping)
            state = self._damping
        self.metrics.penalty.set(state.penalty)
        self.metrics.damped.set(1 if state.suppressed else 0)
        if state.suppressed != bool(self._damped_said):
            self._node_event(state)
        return state.suppressed

    def _read_credentials(self, peers: Sequence[BGPPeer]) -> object:
        self._credentials_due = self._clock() + CREDENTIALS_SECONDS
        try:
            return self._credentials(peers)
        except Exception as exc:  # unreadable now: keep the passwords ExaBGP has, ask again later
            log.warning("BGP peer passwords cannot be read: %s", exc)
            return self._credentials_seen

    def _damping_now(self) -> Damping | None:
        if self.settings.damping is None:
            return None
        with self._lock:
            state = self._damping
        at = reusable_at(state, self.settings.damping) if state.suppressed else None
        reuse = None if at is None else self._wall() + max(0.0, at - self._clock())
        return Damping(state.penalty, state.suppressed, reuse)

    def _credentials_in(self) -> float:
        return max(0.05, self._credentials_due - self._clock())

    def _retry_in(self) -> float | None:
        return None if self._retry_at is None else max(0.05, self._retry_at - self._clock())

    def _next_damping_change(self) -> float | None:
        if self.settings.damping is None:
            return None
        at = reusable_at(self._damping, self.settings.damping)
        return None if at is None else max(0.05, at - self._clock() + 0.05)

    def _node_event(self, state: DampingState) -> None:
        if state.suppressed:
            reason, message = (
                "NodeDamped",
                (
                    f"withdrawn from every VIP after {state.losses} Ready losses (penalty {state.penalty:.0f}); "
                    "back once it has been stable long enough"
                ),
            )
        else:
            reason, message = "NodeReinstated", f"stable again (penalty {state.penalty:.0f}); announcing VIPs again"
        node = ObjectRef("Node", ObjectKey("", self.settings.node_name))
        diagnostic = Diagnostic(node, reason, message, severity="Warning" if state.suppressed else "Normal")
        self._damped_said = state.suppressed
        self._say(diagnostic, slot=(node, "damping"))

    def _report(self, node: NodeView, decision: Decision, announcements: NodeAnnouncements) -> None:
        """Metrics and Events: a Service newly selected is told AnnouncedFromNode once a peer has acked its route,
        not before; one no longer selected, WithdrawnFromNode at once. A session going down and up again changes
        the status and the metrics, not every Service's Events."""
        self._status_metrics(announcements)
        before = decision.announcing if self._announcing is None else self._announcing
        self._to_announce = (self._to_announce | (decision.announcing - before)) & decision.announcing
        out = announcements.announced_vips()
        acked = {v.service for v in decision.vips if v.vip in out}
        for key in sorted(self._to_announce & acked):
            announced = Diagnostic(
                service_ref(key), "AnnouncedFromNode", f"announcing from node {node.name}", severity="Normal"
            )
            self._say(announced, slot=(announced.subject, "announce"))
        self._to_announce -= acked
        for key in sorted(before - decision.announcing):
            message = f"withdrawn from node {node.name}: {decision.ineligible or 'no longer selected for this node'}"
            withdrawn = Diagnostic(service_ref(key), "WithdrawnFromNode", message, severity="Normal")
            self._say(withdrawn, slot=(withdrawn.subject, "announce"))
        self._announcing = decision.announcing
        for problem in decision.problems:
            self._say(problem)

    def _say(self, diagnostic: Diagnostic, *, slot: tuple[object, ...] | None = None) -> None:
        subject = diagnostic.subject
        cache = self.node.cache if subject is not None and subject.kind == "Node" else self.services.cache
        obj = cache.get(key_of(subject.key)) if subject is not None else None
        uid = str(((obj or {}).get("metadata") or {}).get("uid") or "")
        with contextlib.suppress(NotLeader):
            self._recorder.record(diagnostic, uid=uid, slot=slot)


def _health_targets(config: Config, services: list[ServiceView]) -> list[tuple[ObjectKey, int]]:
    """Local Services with a healthCheckNodePort, when some pool withdraws on failed health checks."""
    if not any(p.spec.health_withdraw for p in config.pools):
        return []
    return [
        (s.key, s.health_check_node_port)
        for s in services
        if s.external_traffic_policy == "Local" and s.health_check_node_port and s.ingress_ips
    ]
