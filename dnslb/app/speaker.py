"""`dnslb speaker`: one per node. Informers → announcement policy (with damping) → routes for ExaBGP.

Level-triggered like the controller: any change marks the node dirty; one pass recomputes what this node announces
and hands the whole desired set to the route sink, which sends only the difference.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi, DiscoveryV1Api
from prometheus_client import CollectorRegistry, Gauge, Histogram

from dnslb.adapters.health import HealthProber
from dnslb.adapters.kube.informer import Informer, Key, Obj
from dnslb.adapters.kube.writer import NotLeader, Writer
from dnslb.core.bgp.damping import DampingConfig, DampingState, decayed, ready_lost, reusable_at
from dnslb.core.bgp.policy import Decision, NodeState, decide
from dnslb.core.bgp.routes import Route
from dnslb.core.config import BGPPeer, Config, load_config
from dnslb.core.config.resources import API_VERSION, GROUP, KINDS, VERSION
from dnslb.core.manifests import Document
from dnslb.core.model import (
    NodeView,
    ObjectKey,
    ServiceShapeError,
    ServiceView,
    endpoint_views,
    node_view,
    service_fields,
    service_view,
)

log = logging.getLogger(__name__)

_RESYNC_SECONDS = 5.0


class RouteSink(Protocol):
    """Where the speaker's decisions go (the ExaBGP driver, behind an adapter)."""

    def configure(self, peers: list[BGPPeer], node: NodeView) -> None: ...

    def set_desired(self, routes: Mapping[str, frozenset[Route]]) -> None: ...

    def drain(self, seconds: float) -> None: ...

    def sessions(self) -> Mapping[str, bool]: ...

    def on_session(self, listener: Callable[[str, bool], None]) -> None: ...


@dataclass(frozen=True)
class SpeakerSettings:
    node_name: str
    namespace: str = "dnslb-system"
    honour_cordon: bool = True
    damping: DampingConfig | None = field(default_factory=DampingConfig)
    drain_seconds: float = 5.0
    load_balancer_class: str | None = None
    health_url: str | None = None  # kube-proxy's /healthz on this node; None: no node probe
    health_host: str = "127.0.0.1"  # where Local Services' healthCheckNodePorts answer
    health_interval: float = 2.0


class SpeakerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sessions = Gauge("dnslb_bgp_sessions_up", "BGP sessions established", ["peer"], registry=registry)
        self.prefixes = Gauge(
            "dnslb_bgp_prefixes_announced", "Prefixes this node announces", ["peer"], registry=registry
        )
        self.penalty = Gauge("dnslb_bgp_damping_penalty", "Flap-damping penalty of this node", registry=registry)
        self.damped = Gauge("dnslb_bgp_node_damped", "1 while this node is withheld for flapping", registry=registry)
        self.latency = Histogram(
            "dnslb_bgp_announce_seconds",
            "From a change seen to the routes handed to ExaBGP and acknowledged",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )


class Speaker:
    def __init__(
        self,
        api: ApiClient,
        settings: SpeakerSettings,
        sink: RouteSink,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.metrics = SpeakerMetrics(registry)
        self._sink = sink
        self._clock = clock
        core, custom, discovery = CoreV1Api(api), CustomObjectsApi(api), DiscoveryV1Api(api)
        self.writer = Writer(core, custom, component="dnslb-speaker")
        self.services = Informer(
            "services", core.list_service_for_all_namespaces, self._changed, transform=service_fields
        )
        self.slices = Informer("endpointslices", discovery.list_endpoint_slice_for_all_namespaces, self._changed)
        self.node = Informer(
            "node", partial(core.list_node, field_selector=f"metadata.name={settings.node_name}"), self._node_changed
        )
        self.config = {
            kind: Informer(
                kind,
                partial(custom.list_namespaced_custom_object, GROUP, VERSION, settings.namespace, KINDS[kind].PLURAL),
                self._changed,
            )
            for kind in ("AddressPool", "BGPPeer", "BGPAdvertisement")
        }
        self._informers = (self.services, self.slices, self.node, *self.config.values())
        self._wake = threading.Condition()
        self._dirty = True
        self._dirty_since: float | None = None
        self._retry_at: float | None = None
        self._views: dict[Key, tuple[str, ServiceView]] = {}  # after a failed pass (e.g. ExaBGP would not start)
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._damping = DampingState()
        self._was_ready: bool | None = None
        self._peers: tuple[BGPPeer, ...] | None = None
        self._announcing: frozenset[ObjectKey] = frozenset()
        self._said: dict[tuple[str, str], str] = {}
        self.last: Decision | None = None
        # A node that lost every BGP session may have been cut off from the API too, and its endpoints may have
        # moved meanwhile: Local Services stay withheld from then until a fresh list after a session is back
        # (`_RESYNC_SECONDS` at most), so a rejoining node never announces an endpoint it no longer has.
        self._sessions_up: dict[str, bool] = {}
        self._session_lost = False
        self._resync: tuple[float, dict[str, int]] | None = None  # (deadline, relist counts when asked)
        sink.on_session(self._session_changed)
        self.health = HealthProber(
            settings.health_url,
            settings.health_host,
            self._health_targets,
            lambda: self._changed(("", "health"), None, None),
            interval=settings.health_interval,
        )

    # -- informer callbacks --------------------------------------------------------------------------------------

    def _changed(self, key: Key, old: Obj | None, new: Obj | None) -> None:
        with self._wake:
            self._dirty = True
            if self._dirty_since is None:
                self._dirty_since = self._clock()
            self._wake.notify()

    def _node_changed(self, key: Key, old: Obj | None, new: Obj | None) -> None:
        if new is not None:
            ready = node_view(new).ready
            if self._was_ready and not ready and self.settings.damping is not None:
                with self._wake:
                    self._damping = ready_lost(self._damping, self._clock(), self.settings.damping)
            self._was_ready = ready
        self._changed(key, old, new)

    def _session_changed(self, peer: str, up: bool) -> None:
        with self._wake:
            self._sessions_up[peer] = up
            if not any(self._sessions_up.values()):  # cut off from every router: perhaps from the API as well
                self._session_lost, self._resync = True, None
            elif up and self._session_lost and self._resync is None:
                watched = (self.services, self.slices, self.node)
                self._resync = (self._clock() + _RESYNC_SECONDS, {i.name: i.relists for i in watched})
                log.info("BGP session with %s is back: relisting before announcing Local Services again", peer)
                for informer in watched:
                    informer.resync()
            self._dirty = True
            self._wake.notify()

    def _endpoints_trusted(self) -> bool:
        """False while Local Services must stay withheld: a session was lost and no fresh list has come since."""
        with self._wake:
            if not self._session_lost:
                return True
            if self._resync is None:
                return False
            deadline, before = self._resync
            if all(i.relists > before[i.name] for i in (self.services, self.slices, self.node)):
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

    def start_informers(self) -> None:
        for informer in self._informers:
            threading.Thread(target=informer.run, name=f"informer-{informer.name}", daemon=True).start()
        threading.Thread(target=self.health.run, args=(self._stop,), name="health", daemon=True).start()

    def _health_targets(self) -> list[tuple[ObjectKey, int]]:
        """Local Services with a healthCheckNodePort, when some pool withdraws on failed health checks."""
        if not any(p.spec.health_withdraw for p in self._config().pools):
            return []
        targets = []
        for obj in self.services.items():
            try:
                view = service_view(obj)
            except ServiceShapeError:
                continue
            if view.external_traffic_policy == "Local" and view.health_check_node_port and view.ingress_ips:
                targets.append((view.key, view.health_check_node_port))
        return targets

    def stop(self) -> None:
        self._stop.set()
        for informer in self._informers:
            informer.stop()
        with self._wake:
            self._wake.notify_all()

    def drain(self) -> None:
        """Withdraw everything, wait `drain_seconds` for traffic to move, stop ExaBGP."""
        log.info("draining: withdrawing every route, then waiting %.1fs", self.settings.drain_seconds)
        self._sink.drain(self.settings.drain_seconds)

    def run(self) -> None:
        while not all(i.synced.wait(0.1) for i in self._informers):
            if self._stop.is_set():
                return
        self.ready.set()
        while not self._stop.is_set():
            with self._wake:
                timeouts = [
                    t for t in (self._next_damping_change(), self._retry_in(), self._resync_check_in()) if t is not None
                ]
                if not self._dirty:
                    self._wake.wait(min(timeouts, default=None))
                self._dirty = False
                since, self._dirty_since = self._dirty_since, None
            if self._stop.is_set():
                break
            try:
                self._reconcile(since)
                self._retry_at = None
            except Exception:  # one failed pass must not stop the node announcing: log, and try again shortly
                log.exception("speaker reconcile failed; retrying in 5s")
                self._retry_at = self._clock() + 5.0

    # -- one pass ------------------------------------------------------------------------------------------------

    def _reconcile(self, since: float | None) -> None:
        node_obj = self.node.get(("", self.settings.node_name))
        if node_obj is None:
            log.warning("Node %s not found; announcing nothing", self.settings.node_name)
            self._sink.set_desired({})
            return
        node = node_view(node_obj)
        config = self._config()
        peers = tuple(config.peers)
        if peers != self._peers:
            self._sink.configure(list(peers), node)
            self._peers = peers
        damped = self._damping_state()
        services = self._service_views()
        ours = [
            s
            for s in services
            if s.type == "LoadBalancer" and s.load_balancer_class == self.settings.load_balancer_class
        ]
        trusted = self._endpoints_trusted()
        endpoints = [e for obj in self.slices.items() for e in endpoint_views(obj)] if trusted else []
        state = NodeState(node, damped=damped, healthy=self.health.healthy, unhealthy=self.health.unhealthy)
        decision = decide(state, ours, endpoints, config, honour_cordon=self.settings.honour_cordon)
        self._sink.set_desired(decision.routes)
        if since is not None:
            self.metrics.latency.observe(self._clock() - since)
        self._report(node, decision)
        self.last = decision

    def _service_views(self) -> list[ServiceView]:
        """Every Service as a view, parsed once per resourceVersion: a pass over 2,000 Services stays cheap."""
        views: dict[Key, tuple[str, ServiceView]] = {}
        for obj in self.services.items():
            metadata = obj.get("metadata") or {}
            key = (metadata.get("namespace") or "", metadata.get("name") or "")
            version = str(metadata.get("resourceVersion") or "")
            cached = self._views.get(key)
            if cached is not None and cached[0] == version:
                views[key] = cached
                continue
            try:
                views[key] = (version, service_view(obj))
            except ServiceShapeError:
                continue
        self._views = views
        return [view for _, view in views.values()]

    def _config(self) -> Config:
        documents = [
            Document(f"{kind} {obj['metadata'].get('name')}", 0, None, {**obj, "apiVersion": API_VERSION, "kind": kind})
            for kind, informer in self.config.items()
            for obj in informer.items()
        ]
        config, errors = load_config(documents)
        for error in errors:
            log.warning("config: %s (the controller reports it on the resource)", error)
        return config

    def _damping_state(self) -> bool:
        if self.settings.damping is None:
            return False
        with self._wake:
            before = self._damping.suppressed
            self._damping = decayed(self._damping, self._clock(), self.settings.damping)
            state = self._damping
        self.metrics.penalty.set(state.penalty)
        self.metrics.damped.set(1 if state.suppressed else 0)
        if state.suppressed != before or (state.suppressed and ("node", "damping") not in self._said):
            self._node_event(state)
        return state.suppressed

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
        type_ = "Warning" if state.suppressed else "Normal"
        node = ObjectKey("", self.settings.node_name)
        self._say("Node", node, ("node", "damping"), reason=reason, message=message, type_=type_)

    def _report(self, node: NodeView, decision: Decision) -> None:
        for peer, routes in decision.routes.items():
            self.metrics.prefixes.labels(peer).set(len(routes))
        for peer, up in self._sink.sessions().items():
            self.metrics.sessions.labels(peer).set(1 if up else 0)
        started = decision.announcing - self._announcing
        stopped = self._announcing - decision.announcing
        for key in sorted(started):
            message = f"announcing from node {node.name}"
            self._say(
                "Service", key, (str(key), "announce"), reason="AnnouncedFromNode", message=message, type_="Normal"
            )
        for key in sorted(stopped):
            message = f"withdrawn from node {node.name}: {decision.ineligible or 'no longer selected for this node'}"
            self._say(
                "Service", key, (str(key), "announce"), reason="WithdrawnFromNode", message=message, type_="Normal"
            )
        self._announcing = decision.announcing
        for key, problem in decision.problems:
            slot = (str(key), problem.field)
            self._say("Service", key, slot, reason="InvalidBGPAttribute", message=str(problem), type_="Warning")

    def _say(self, kind: str, key: ObjectKey, slot: tuple[str, str], *, reason: str, message: str, type_: str) -> None:
        if self._said.get(slot) == f"{reason}:{message}":
            return
        self._said[slot] = f"{reason}:{message}"
        with contextlib.suppress(NotLeader):
            self.writer.event(kind, key, type_, reason, message)
