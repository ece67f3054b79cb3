"""`dnslb controller`: caches → VIP decisions → Service status and Events; then the DNS loop.

One work loop, level-triggered: cache changes only mark keys dirty; the loop takes every dirty key at once (a burst
of 1,000 events is one pass), recomputes from the caches and writes only differences. At start nothing is allocated
until the caches are synced and every VIP already in a Service's status is restored. Everything it uses is passed
in (`controller_main` assembles it), so the loop runs the same against informers or against plain caches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dnslb.adapters.dnssync.loop import DNSLoop
from dnslb.adapters.kube.writer import NotLeader, Recorder, StatusWriter
from dnslb.adapters.wakeup import Wakeup
from dnslb.app.sources import Cache, Key, Obj, Parsed, config_objects, documents, key_of, namespace_labels
from dnslb.core.bgp.peerstatus import READY, PeerStatus, peer_statuses
from dnslb.core.bgp.status import NodeAnnouncements
from dnslb.core.config import AddressPool, Config, DNSProvider, load_config
from dnslb.core.config.resources import KINDS, AddressPoolStatus, BGPPeer
from dnslb.core.diagnostics import INVALID_CONFIG, Diagnostic
from dnslb.core.ipam.decisions import Action, ClearStatus, VIPDecisions, WriteStatus
from dnslb.core.ipam.request import CLASSLESS, ClassFilter
from dnslb.core.model import ServiceView
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources.read import SERVICES_ONLY, SourceSettings

log = logging.getLogger(__name__)
K = TypeVar("K")
S = TypeVar("S")
_CONFIG = ("", "<config>")  # the mark for "the config resources changed"
_PEERS = ("", "<peers>")  # the mark for "a node's BGP sessions changed"
WRITERS = 8  # status writes in flight at once: 10,000 first allocations in seconds, still one write per Service
POOL_STATUS_PERIOD = 1.0  # seconds between status writes of a kind (pools, peers): a burst of changes is one write each
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Settings:
    namespace: str = "dnslb-system"
    classes: ClassFilter = CLASSLESS
    resync_seconds: float = 300.0
    owner_id: str = "dnslb"
    sources: SourceSettings = SERVICES_ONLY
    grace_seconds: float = 300.0  # how long names of a source object that lost its addresses are kept


@dataclass(frozen=True)
class PoolStatus:
    """What an AddressPool's status says: its counts and its Ready condition (of which generation of the pool)."""

    in_use: int
    total: int
    ready: bool
    reason: str
    message: str
    generation: int | None = None


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.pool_size = Gauge("dnslb_pool_addresses", "Addresses in a pool", ["pool", "family"], registry=registry)
        self.pool_in_use = Gauge(
            "dnslb_pool_addresses_in_use", "Addresses of a pool held by Services", ["pool", "family"], registry=registry
        )
        self.allocations = Counter(
            "dnslb_allocations_total", "Allocation outcomes by Event reason", ["reason"], registry=registry
        )
        self.reconcile = Histogram(
            "dnslb_reconcile_duration_seconds",
            "Time to reconcile one batch of changes",
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.api_errors = Counter("dnslb_api_errors_total", "Failed Kubernetes API calls", ["call"], registry=registry)
        self.leader = Gauge("dnslb_leader", "1 while this replica holds the lease", registry=registry)
        self.config_errors = Gauge("dnslb_config_errors", "Problems in the config resources", registry=registry)
        self.invalid_objects = Counter(
            "dnslb_invalid_objects_total",
            "Objects (or versions of them) that could not be read",
            ["kind"],
            registry=registry,
        )


class PacedStatus(Generic[K, S]):
    """Statuses written on change, at most once per `period`: what was sent, and when the next write may go."""

    def __init__(self, period: float, clock: Callable[[], float]) -> None:
        self.sent: dict[K, S] = {}  # the caller records each status once written
        self.due = float("inf")  # the clock reading at which a held-back change may be written
        self._period = period
        self._clock = clock
        self._after = 0.0  # the clock reading before which nothing is written

    def to_write(self, statuses: Mapping[K, S]) -> dict[K, S]:
        """The statuses that differ from what was sent, if the period has passed; else none (and `due` says when)."""
        self.sent = {key: s for key, s in self.sent.items() if key in statuses}
        changed = {key: s for key, s in statuses.items() if self.sent.get(key) != s}
        self.due = float("inf")
        if not changed:
            return {}
        if self._clock() < self._after:
            self.due = self._after
            return {}
        self._after = self._clock() + self._period
        return changed


class Announcements(Protocol):
    """The nodes' announcements, as the controller reads them (see `controller_main.ClusterAnnouncements`)."""

    def sessions(self) -> Sequence[NodeAnnouncements] | None: ...

    def on_change(self, call: Callable[[], None], *fields: str) -> None: ...


class Controller:
    def __init__(
        self,
        settings: Settings,
        *,
        services: Parsed[ServiceView],
        namespaces: Cache,
        config: Mapping[str, Cache],
        writer: StatusWriter,
        recorder: Recorder,
        dns: DNSLoop,
        metrics: Metrics,
        gate: Sequence[Cache] = (),
        announcements: Announcements | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.services = services
        self._namespaces = namespaces
        self._config = config
        self._gate = tuple(gate)  # what the DNS gate reads (Nodes, NodeAnnouncements): synced before DNS starts
        self._announcements = announcements
        self._peer_status: PacedStatus[str, PeerStatus] = PacedStatus(POOL_STATUS_PERIOD, clock)
        self._writer = writer
        self._recorder = recorder
        self.dns = dns
        self._clock = clock
        self._wakeup: Wakeup[Key] = Wakeup(clock)
        self._writers = ThreadPoolExecutor(WRITERS, thread_name_prefix="status")
        self.ready = threading.Event()
        self._decisions: VIPDecisions | None = None
        self._pools: tuple[AddressPool, ...] = ()
        self._providers: tuple[DNSProvider, ...] = ()
        self._last_good: dict[ObjectRef, Obj] = {}
        self._reported: dict[ObjectRef, str] = {}
        self._pool_objects: dict[ObjectRef, Obj] = {}  # the AddressPools in the cluster, as last read
        self._problems: dict[ObjectRef, list[Diagnostic]] = {}  # what is wrong with each, as last read
        self._pool_status: PacedStatus[ObjectRef, PoolStatus] = PacedStatus(POOL_STATUS_PERIOD, clock)
        services.cache.subscribe(lambda key, old, new: self._wakeup.mark(key))
        namespaces.subscribe(self._namespace_event)
        for cache in config.values():
            cache.subscribe(self._config_event)
        if announcements is not None:
            announcements.on_change(lambda: self._wakeup.mark(_PEERS), "sessions")

    @property
    def _caches(self) -> tuple[Cache, ...]:
        return (self.services.cache, self._namespaces, *self._config.values(), *self._gate)

    # -- cache callbacks (informer threads) ---------------------------------------------------------------------

    def _config_event(self, key: Key, old: Obj | None, new: Obj | None) -> None:
        if old is not None and new is not None and _generation_and_spec(old) == _generation_and_spec(new):
            return  # our own condition write echoing back
        self._wakeup.mark(_CONFIG)

    def _namespace_event(self, key: Key, old: Obj | None, new: Obj | None) -> None:
        if _labels(old) == _labels(new):
            return
        # pools may select Services by their Namespace's labels: decide again for every Service there
        namespace = key[1]
        self._wakeup.mark(*(k for k in (_key(o) for o in self.services.cache.items()) if k[0] == namespace))

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        self._wakeup.close()
        self.dns.stop()

    def run(self) -> None:
        """Wait for caches, restore, then reconcile until stopped. Raises NotLeader if the lease is lost."""
        while not all(cache.synced.wait(0.1) for cache in self._caches):
            if self._wakeup.closed:
                return
        self._wakeup.wait(0)  # what the initial lists marked is all in the first pass
        config = self._reload_config()
        self._pools = config.pools
        self._decisions = VIPDecisions(
            self._pools,
            self.settings.classes,
            lookup=self._view,
            namespace_labels=namespace_labels(self._namespaces),
        )
        started = time.perf_counter()
        views = self.services.values()
        self._apply(self._decisions.start(views))
        log.info(
            "restored and reconciled %d Services in %.2fs", len(views), time.perf_counter() - started,
            extra={"services": len(views)},
        )  # fmt: skip
        self._update_pool_metrics()
        self._report_pools()
        self._report_peers()
        self._providers = config.providers
        self.dns.configure(self._providers)
        threading.Thread(target=self.dns.run, name="dns", daemon=True).start()
        self.ready.set()
        next_resync = self._clock() + self.settings.resync_seconds
        while not self._wakeup.closed:
            due = min(next_resync, self._pool_status.due, self._peer_status.due)
            woken = self._wakeup.wait(max(0.0, due - self._clock()))
            dirty = set(woken.items) - {_PEERS}
            resync = self._clock() >= next_resync
            if resync:
                dirty |= {key_of(v.key) for v in self.services.values()} | {_CONFIG}
                next_resync = self._clock() + self.settings.resync_seconds
            if dirty and not self._wakeup.closed:
                self._reconcile(dirty - {_CONFIG}, _CONFIG in dirty)
            if resync:
                self._forget_pool_statuses_not_in_cluster()
            if not self._wakeup.closed:
                self._report_pools()
                self._report_peers()

    # -- the loop's work ----------------------------------------------------------------------------------------

    def _reconcile(self, dirty: set[Key], config_dirty: bool) -> None:
        assert self._decisions is not None
        with self.metrics.reconcile.time():
            actions: list[Action] = []
            if config_dirty:
                config = self._reload_config()
                if config.pools != self._pools:
                    self._pools = config.pools
                    log.info("address pools changed: %s", ", ".join(p.name for p in self._pools) or "none")
                    actions += self._decisions.pools_changed(self._pools, self.services.values())
                if config.providers != self._providers:
                    self._providers = config.providers
                    self.dns.configure(self._providers)
            views = {key: self._view(ObjectKey(*key)) for key in dirty}
            for key in sorted(k for k, v in views.items() if v is None):  # deletions first: they free addresses
                actions += self._decisions.service_deleted(ObjectKey(*key))
            for view in sorted((v for v in views.values() if v is not None), key=lambda v: v.order):
                actions += self._decisions.service_changed(view)
            self._apply(actions)
            self._update_pool_metrics()
            self.dns.trigger()

    def _apply(self, actions: list[Action]) -> None:
        """Events are queued at once; status writes go out `WRITERS` at a time, each Service's in order."""
        writes: dict[ObjectKey, list[WriteStatus | ClearStatus]] = {}
        try:
            for action in actions:
                if isinstance(action, WriteStatus | ClearStatus):
                    writes.setdefault(action.service, []).append(action)
                else:
                    self.metrics.allocations.labels(action.reason).inc()
                    self._recorder.record(action, uid=self._uid(action))
        except NotLeader:
            raise
        except Exception as exc:
            log.error("recording Events failed: %s", exc)
        failures = [f.exception() for f in [self._writers.submit(self._write, w) for w in writes.values()]]
        if any(isinstance(exc, NotLeader) for exc in failures):
            raise NotLeader("write status")
        for failure in failures:
            if failure is not None:  # the API is down: the next resync or event writes what is still different
                log.error("writing status failed: %s", failure)

    def _write(self, writes: list[WriteStatus | ClearStatus]) -> None:
        for action in writes:
            if isinstance(action, WriteStatus):
                self._writer.write_status(action.service, action.ips, action.pool)
            else:
                self._writer.write_status(action.service, (), None)

    def _uid(self, diagnostic: Diagnostic) -> str:
        subject = diagnostic.subject
        if subject is None or subject.kind != "Service":
            return ""
        view = self.services.get(key_of(subject.key))
        return view.uid if view is not None else ""

    def _update_pool_metrics(self) -> None:
        assert self._decisions is not None
        self.metrics.pool_size.clear()
        self.metrics.pool_in_use.clear()
        for usage in self._decisions.allocator.usage():
            self.metrics.pool_size.labels(usage.pool, usage.family).set(usage.size)
            self.metrics.pool_in_use.labels(usage.pool, usage.family).set(usage.in_use)

    # -- AddressPool status: counts and Ready, written on change, at most once per POOL_STATUS_PERIOD ----------

    def _report_pools(self) -> None:
        for ref, status in sorted(self._pool_status.to_write(self._pool_statuses()).items()):
            counts = AddressPoolStatus(in_use=status.in_use, total=status.total).model_dump(by_alias=True)
            try:
                self._writer.condition(AddressPool.PLURAL, ref.key, status.generation, status.ready, status.message,
                                       type_="Ready", reason=status.reason, fields=counts)  # fmt: skip
            except NotLeader:
                raise
            except Exception as exc:
                log.error("writing the status of %s failed: %s", ref, exc)
                continue
            self._pool_status.sent[ref] = status

    # -- BGPPeer status: sessions up per node, written on change, at most once per POOL_STATUS_PERIOD ----------

    def _report_peers(self) -> None:
        sessions = self._announcements.sessions() if self._announcements is not None else None
        peers = self._config.get("BGPPeer")
        if sessions is None or peers is None:
            return
        names = sorted(str((o.get("metadata") or {}).get("name") or "") for o in peers.items())
        for name, status in sorted(self._peer_status.to_write(peer_statuses(names, sessions)).items()):
            key = ObjectKey(self.settings.namespace, name)
            try:
                self._writer.condition(BGPPeer.PLURAL, key, None, status.ok, status.message, type_=READY,
                                       reason=status.reason, fields=status.fields())  # fmt: skip
            except NotLeader:
                raise
            except Exception as exc:
                log.error("writing the status of BGPPeer %s failed: %s", name, exc)
                continue
            log.info("BGPPeer %s: sessions %s: %s", name, status.sessions, status.message)
            self._peer_status.sent[name] = status

    def _pool_statuses(self) -> dict[ObjectRef, PoolStatus]:
        assert self._decisions is not None
        in_use: dict[str, int] = {}
        for usage in self._decisions.allocator.usage():
            in_use[usage.pool] = in_use.get(usage.pool, 0) + usage.in_use
        in_force = {pool.name: pool for pool in self._pools}
        statuses = {}
        for ref, obj in self._pool_objects.items():
            pool = in_force.get(ref.key.name)
            total = usable_addresses(pool) if pool is not None else 0
            generation = (obj.get("metadata") or {}).get("generation")
            statuses[ref] = pool_status(self._problems.get(ref, []), in_use.get(ref.key.name, 0), total, generation)
        return statuses

    def _forget_pool_statuses_not_in_cluster(self) -> None:
        """A status write that failed for good leaves the cluster behind what was sent: at a resync, send again
        what the cluster does not show."""
        for ref, sent in list(self._pool_status.sent.items()):
            obj = self._pool_objects.get(ref)
            if obj is None or observed_pool_status(obj) != sent:
                del self._pool_status.sent[ref]

    def _view(self, key: ObjectKey) -> ServiceView | None:
        return self.services.get(key_of(key))

    def _reload_config(self) -> Config:
        """The config in the cluster; a resource whose new version is invalid keeps its last valid version."""
        current = config_objects(self._config)
        config, errors = load_config(documents(current))
        failed = {e.subject for e in errors}
        for ref, obj in current.items():
            if ref not in failed:
                self._last_good[ref] = obj
        for ref in list(self._last_good):
            if ref not in current:
                del self._last_good[ref]
        if failed:
            fallback = {r: (self._last_good.get(r) if r in failed else o) for r, o in current.items()}
            config, _ = load_config(documents({r: o for r, o in fallback.items() if o is not None}))
        self._pool_objects = {r: o for r, o in current.items() if r.kind == AddressPool.KIND}
        self._problems = {}
        for error in errors:
            if error.subject is not None:
                self._problems.setdefault(error.subject, []).append(error)
        self._report_config(current, errors)
        return config

    def _report_config(self, current: dict[ObjectRef, Obj], errors: list[Diagnostic]) -> None:
        self.metrics.config_errors.set(len(errors))
        by_ref: dict[ObjectRef | None, list[str]] = {}
        for error in errors:
            by_ref.setdefault(error.subject, []).append(error.describe())
        for ref, obj in current.items():
            problems = by_ref.get(ref, [])
            kept = " (its last valid version stays in force)" if problems and ref in self._last_good else ""
            message = "; ".join(problems) + kept if problems else "valid"
            if self._reported.get(ref) == message:
                continue
            generation = (obj.get("metadata") or {}).get("generation")
            try:
                self._writer.condition(KINDS[ref.kind].PLURAL, ref.key, generation, not problems, message)
                if problems:
                    uid = str((obj.get("metadata") or {}).get("uid") or "")
                    self._recorder.record(Diagnostic(ref, INVALID_CONFIG, message), uid=uid, slot=(ref, "config"))
                else:
                    self._recorder.forget((ref, "config"))
            except NotLeader:
                raise
            except Exception as exc:
                log.error("reporting config status of %s failed: %s", ref, exc)
                continue
            self._reported[ref] = message


def usable_addresses(pool: AddressPool) -> int:
    """The addresses the allocator may hand out from `pool` (its ranges are disjoint once valid): with
    avoidBuggyIPs, no IPv4 address ending in .0 or .255. Capped to what the CRD's int64 holds."""
    total = 0
    for entry in pool.spec.ranges():
        total += entry.size
        if pool.spec.avoid_buggy_ips and entry.version == 4:
            total -= sum(_count_ending_in(entry.first, entry.last, low) for low in (0, 0xFF))
    return min(total, _INT64_MAX)


def _count_ending_in(first: int, last: int, low: int) -> int:
    """How many integers in [first, last] have `low` as their last byte."""
    return (last - low) // 256 - (first - 1 - low) // 256


def pool_status(problems: list[Diagnostic], in_use: int, total: int, generation: int | None = None) -> PoolStatus:
    """Ready is False while the pool's current version is refused (its last valid version, if any, stays in force)."""
    if problems:
        message = "; ".join(p.describe() for p in problems)
        overlaps = any(" overlaps " in p.message for p in problems)  # load_config's words for two pools' ranges
        return PoolStatus(in_use, total, False, "AddressesOverlap" if overlaps else "Invalid", message, generation)
    if total and in_use >= total:
        return PoolStatus(in_use, total, True, "Exhausted", f"all {total} addresses are in use", generation)
    return PoolStatus(in_use, total, True, "Available", f"{in_use} of {total} addresses in use", generation)


def observed_pool_status(obj: Obj) -> PoolStatus | None:
    """The pool status an object in the cluster shows, or None when it shows none (or not all of one)."""
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None or "inUse" not in status or "total" not in status:
        return None
    return PoolStatus(
        status["inUse"],
        status["total"],
        ready.get("status") == "True",
        ready.get("reason"),
        ready.get("message"),
        ready.get("observedGeneration"),
    )


def _key(obj: Obj) -> Key:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def _labels(obj: Obj | None) -> Any:
    return ((obj or {}).get("metadata") or {}).get("labels")


def _generation_and_spec(obj: Obj) -> tuple[Any, Any, Any]:
    metadata = obj.get("metadata") or {}
    return (metadata.get("generation"), metadata.get("labels"), obj.get("spec"))
