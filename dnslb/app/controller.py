"""`dnslb controller`: informers → VIP decisions → Service status and Events.

One work loop, level-triggered: informer events only mark keys dirty; the loop takes every dirty key at once (a burst
of 1,000 events is one pass), recomputes from the cache and writes only differences. At start nothing is allocated
until the caches are synced and every VIP already in a Service's status is restored.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dnslb.adapters.dnssync.loop import DNSLoop, Hooks
from dnslb.adapters.dnssync.plugins import create as create_provider
from dnslb.adapters.dnssync.sync import Notice
from dnslb.adapters.kube.dnsstate import TakeoverStore, read_secret
from dnslb.adapters.kube.informer import Informer, Key, Obj
from dnslb.adapters.kube.writer import NotLeader, Writer
from dnslb.core.config import AddressPool, Config, ConfigError, DNSProvider, load_config
from dnslb.core.config.resources import API_VERSION, GROUP, KINDS, VERSION
from dnslb.core.ipam.decisions import Action, Event, VIPDecisions
from dnslb.core.manifests import Document
from dnslb.core.model import ObjectKey, ServiceShapeError, ServiceView, service_fields, service_view
from dnslb.provider import Provider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    namespace: str = "dnslb-system"
    load_balancer_class: str | None = None
    resync_seconds: float = 300.0
    owner_id: str = "dnslb"


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


class Controller:
    def __init__(
        self,
        api: ApiClient,
        settings: Settings,
        registry: CollectorRegistry,
        may_write: Callable[[], bool] = lambda: True,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics(registry)
        core, custom = CoreV1Api(api), CustomObjectsApi(api)
        self.writer = Writer(
            core,
            custom,
            may_write=may_write,
            on_api_error=lambda call, exc: self.metrics.api_errors.labels(call).inc(),
        )
        self.services = Informer(
            "services", core.list_service_for_all_namespaces, self._service_event, transform=service_fields
        )
        self.config_informers = {
            kind: Informer(
                kind,
                partial(custom.list_namespaced_custom_object, GROUP, VERSION, settings.namespace, model.PLURAL),
                self._config_event,
            )
            for kind, model in KINDS.items()
        }
        self._wake = threading.Condition()
        self._dirty: set[Key] = set()
        self._config_dirty = True
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._decisions: VIPDecisions | None = None
        self._pools: tuple[AddressPool, ...] = ()
        self._providers: tuple[DNSProvider, ...] = ()
        self._last_good: dict[tuple[str, str, str], Obj] = {}
        self._reported: dict[tuple[str, str, str], str] = {}
        self._threads: list[threading.Thread] = []
        self._core = core
        self.takeover = TakeoverStore(core, settings.namespace)
        self.dns = DNSLoop(
            Hooks(
                services=self._all_views,
                source_complete=lambda: self.services.synced.is_set() and bool(self.services.items()),
                make_provider=self._make_provider,
                save_replaced=lambda provider, zone, records: self.takeover.save(provider, zone.name, records),
                notify=self._dns_notice,
            ),
            owner=settings.owner_id,
            load_balancer_class=settings.load_balancer_class,
            registry=registry,
            resync_seconds=settings.resync_seconds,
        )
        self._dns_said: dict[tuple[str, str, str], str] = {}

    # -- informer callbacks (informer threads) ----------------------------------------------------------------

    def _service_event(self, key: Key, old: Obj | None, new: Obj | None) -> None:
        with self._wake:
            self._dirty.add(key)
            self._wake.notify()

    def _config_event(self, key: Key, old: Obj | None, new: Obj | None) -> None:
        if old is not None and new is not None and _generation_and_spec(old) == _generation_and_spec(new):
            return  # our own condition write echoing back
        with self._wake:
            self._config_dirty = True
            self._wake.notify()

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start_informers(self) -> None:
        for informer in (self.services, *self.config_informers.values()):
            thread = threading.Thread(target=informer.run, name=f"informer-{informer.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.dns.stop()
        self.writer.close()
        for informer in (self.services, *self.config_informers.values()):
            informer.stop()
        with self._wake:
            self._wake.notify_all()

    def run(self) -> None:
        """Wait for caches, restore, then reconcile until stopped. Raises NotLeader if the lease is lost."""
        informers = (self.services, *self.config_informers.values())
        while not all(i.synced.wait(0.1) for i in informers):
            if self._stop.is_set():
                return
        with self._wake:
            self._dirty.clear()
            self._config_dirty = False
        config = self._reload_config()
        self._pools = config.pools
        self._decisions = VIPDecisions(self._pools, self.settings.load_balancer_class, lookup=self._view)
        started = time.perf_counter()
        views = self._all_views()
        self._apply(self._decisions.start(views))
        log.info(
            "restored and reconciled %d Services in %.2fs", len(views), time.perf_counter() - started,
            extra={"services": len(views)},
        )  # fmt: skip
        self._update_pool_metrics()
        self._providers = config.providers
        self.dns.configure(self._providers)
        dns_thread = threading.Thread(target=self.dns.run, name="dns", daemon=True)
        dns_thread.start()
        self._threads.append(dns_thread)
        self.ready.set()
        next_resync = time.monotonic() + self.settings.resync_seconds
        while not self._stop.is_set():
            with self._wake:
                timeout = max(0.0, next_resync - time.monotonic())
                if not self._dirty and not self._config_dirty:
                    self._wake.wait(timeout)
                dirty, self._dirty = self._dirty, set()
                config_dirty, self._config_dirty = self._config_dirty, False
            if time.monotonic() >= next_resync:
                dirty |= {_key_of(v.key) for v in self._all_views()}
                config_dirty = True
                next_resync = time.monotonic() + self.settings.resync_seconds
            if dirty or config_dirty:
                self._reconcile(dirty, config_dirty)

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
                    actions += self._decisions.pools_changed(self._pools, self._all_views())
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
        for action in actions:
            if isinstance(action, Event):
                self.metrics.allocations.labels(action.reason).inc()
        try:
            self.writer.apply(actions)
        except NotLeader:
            raise
        except Exception as exc:  # the API is down: the next resync or event writes what is still different
            log.error("writing %d actions failed: %s", len(actions), exc)

    def _make_provider(self, resource: DNSProvider) -> Provider:
        ref = resource.spec.secret_ref
        secret = read_secret(self._core, self.settings.namespace, ref.name) if ref is not None else {}
        return create_provider(resource.spec.type, resource.spec.settings, secret)

    def _dns_notice(self, provider: str, notice: Notice) -> None:
        """A Warning Event on the Service (or on the DNSProvider), once per distinct message."""
        if notice.service is not None:
            kind, key, reason = "Service", notice.service, "DNSNotPublished"
        else:
            kind, key, reason = "DNSProvider", ObjectKey(self.settings.namespace, provider), "DNSProviderFailed"
        slot = (kind, str(key), notice.hostname)
        message = f"{notice.hostname}: {notice.reason}" if notice.hostname and notice.service else notice.reason
        if self._dns_said.get(slot) == message:
            return
        self._dns_said[slot] = message
        with contextlib.suppress(NotLeader):
            self.writer.event(kind, key, "Warning", reason, message)

    def _update_pool_metrics(self) -> None:
        assert self._decisions is not None
        self.metrics.pool_size.clear()
        self.metrics.pool_in_use.clear()
        for usage in self._decisions.allocator.usage():
            self.metrics.pool_size.labels(usage.pool, usage.family).set(usage.size)
            self.metrics.pool_in_use.labels(usage.pool, usage.family).set(usage.in_use)

    def _view(self, key: ObjectKey) -> ServiceView | None:
        obj = self.services.get(_key_of(key))
        if obj is None:
            return None
        try:
            return service_view(obj)
        except ServiceShapeError as exc:
            log.error("Service %s cannot be read: %s", key, exc)
            return None

    def _all_views(self) -> list[ServiceView]:
        views = []
        for obj in self.services.items():
            try:
                views.append(service_view(obj))
            except ServiceShapeError as exc:
                log.error("a Service cannot be read: %s", exc)
        return views

    def _reload_config(self) -> Config:
        """The config in the cluster; a resource whose new version is invalid keeps its last valid version."""
        current: dict[tuple[str, str, str], Obj] = {}
        for kind, informer in self.config_informers.items():
            for obj in informer.items():
                meta = obj.get("metadata") or {}
                current[(kind, meta.get("namespace") or "", meta.get("name") or "")] = {
                    **obj, "apiVersion": API_VERSION, "kind": kind,
                }  # fmt: skip
        config, errors = load_config(_documents(current))
        failed = {_ident(e) for e in errors}
        for ident, obj in current.items():
            if ident not in failed:
                self._last_good[ident] = obj
        for ident in list(self._last_good):
            if ident not in current:
                del self._last_good[ident]
        if failed:
            fallback = {i: (self._last_good.get(i) if i in failed else o) for i, o in current.items()}
            config, _ = load_config(_documents({i: o for i, o in fallback.items() if o is not None}))
        self._report_config(current, errors)
        return config

    def _report_config(self, current: dict[tuple[str, str, str], Obj], errors: list[ConfigError]) -> None:
        self.metrics.config_errors.set(len(errors))
        by_ident: dict[tuple[str, str, str], list[str]] = {}
        for error in errors:
            by_ident.setdefault(_ident(error), []).append(
                f"{error.path}: {error.message}" if error.path else error.message
            )
        for ident, obj in current.items():
            problems = by_ident.get(ident, [])
            kept = " (its last valid version stays in force)" if problems and ident in self._last_good else ""
            message = "; ".join(problems) + kept if problems else "valid"
            if self._reported.get(ident) == message:
                continue
            kind, namespace, name = ident
            key = ObjectKey(namespace, name)
            generation = (obj.get("metadata") or {}).get("generation")
            try:
                self.writer.condition(KINDS[kind].PLURAL, key, generation, not problems, message)
                if problems:
                    uid = str((obj.get("metadata") or {}).get("uid") or "")
                    self.writer.event(kind, key, "Warning", "InvalidConfig", message, uid=uid)
            except NotLeader:
                raise
            except Exception as exc:
                log.error("reporting config status of %s %s failed: %s", kind, key, exc)
                continue
            self._reported[ident] = message


def _documents(objects: dict[tuple[str, str, str], Obj]) -> list[Document]:
    return [Document(f"{kind} {namespace}/{name}", 0, None, obj) for (kind, namespace, name), obj in objects.items()]


def _ident(error: ConfigError) -> tuple[str, str, str]:
    kind, _, rest = error.where.partition(" ")
    namespace, _, name = rest.partition("/")
    return (kind, namespace, name)


def _key_of(key: ObjectKey) -> Key:
    return (key.namespace, key.name)


def _generation_and_spec(obj: Obj) -> tuple[Any, Any, Any]:
    metadata = obj.get("metadata") or {}
    return (metadata.get("generation"), metadata.get("labels"), obj.get("spec"))
