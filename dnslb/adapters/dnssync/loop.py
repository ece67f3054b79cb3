"""The DNS sync loop: event-driven with debounce, a full provider read on a schedule (apscheduler), one thread.

It is fed a snapshot function for Services and a factory for providers; Kubernetes stays in the adapters that call
it. Provider failures are reported and retried at the next trigger; they never stop the loop or other providers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dnslb.adapters.dnssync.sync import Fenced, ProviderSync
from dnslb.adapters.wakeup import Wakeup
from dnslb.core.config.resources import DNSProvider
from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, DNS_PROVIDER_FAILED, Diagnostic
from dnslb.core.dns.desired import claims, held
from dnslb.core.dns.registry import hostname_of, ownership_of
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.model import ServiceView
from dnslb.provider import Provider, ProviderError, RecordSet, Zone

log = logging.getLogger(__name__)
_FULL_READ = "full-read"


class DNSMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.managed = Gauge(
            "dnslb_dns_record_sets_managed", "Names owned by this dnslb", ["provider", "zone"], registry=registry
        )
        self.changes = Counter(
            "dnslb_dns_changes_total", "Record-set changes applied", ["provider", "action"], registry=registry
        )
        self.requests = Counter("dnslb_dns_requests_total", "Provider write requests", ["provider"], registry=registry)
        self.errors = Counter(
            "dnslb_dns_errors_total", "Provider errors by class", ["provider", "class"], registry=registry
        )
        self.duration = Histogram("dnslb_dns_sync_duration_seconds", "One sync of every provider", registry=registry)
        self.last_success = Gauge(
            "dnslb_dns_last_success_timestamp_seconds", "Last fully successful sync", ["provider"], registry=registry
        )
        self.skipped = Gauge(
            "dnslb_dns_hostnames_skipped", "Hostnames not published (conflicts, refusals)", registry=registry
        )


@dataclass(frozen=True)
class Hooks:
    """What the loop needs from its surroundings."""

    services: Callable[[], list[ServiceView]]
    source_complete: Callable[[], bool]
    make_provider: Callable[[DNSProvider], Provider]
    save_replaced: Callable[[str, Zone, Sequence[RecordSet]], None]
    report: Callable[[Diagnostic], None]  # an Event on its subject
    may_write: Callable[[], bool] = lambda: True  # asked before every provider write and takeover save
    # the version of a provider's credentials (its Secret's resourceVersion): checked at every full read, a change
    # makes a new provider, so a rotated Secret is used without a restart
    credentials: Callable[[DNSProvider], str] = lambda resource: ""


class DNSLoop:
    def __init__(
        self,
        hooks: Hooks,
        *,
        owner: str,
        classes: ClassFilter,
        registry: CollectorRegistry,
        resync_seconds: float = 300.0,
        debounce_seconds: float = 0.05,
    ) -> None:
        self._hooks = hooks
        self._owner = owner
        self._class = classes
        self._resync_seconds = resync_seconds
        self._debounce = debounce_seconds
        self.metrics = DNSMetrics(registry)
        self._wakeup: Wakeup[str] = Wakeup()
        self._read_all = True  # the next sync reads every zone in full first
        self._configured: tuple[DNSProvider, ...] = ()
        self._syncs: dict[str, ProviderSync] = {}

    def configure(self, providers: Sequence[DNSProvider]) -> None:
        self._configured = tuple(providers)
        self._wakeup.mark()

    def trigger(self, full_read: bool = False) -> None:
        self._wakeup.mark(*((_FULL_READ,) if full_read else ()))

    def stop(self) -> None:
        self._wakeup.close()

    def run(self) -> None:
        scheduler = BackgroundScheduler(daemon=True)
        scheduler.add_job(lambda: self.trigger(full_read=True), "interval", seconds=self._resync_seconds)
        scheduler.start()
        try:
            while not self._wakeup.closed:
                woken = self._wakeup.wait()
                if self._wakeup.closed:
                    break
                time.sleep(self._debounce)  # let a burst of events settle into one sync
                settled = self._wakeup.wait(0)
                full_read = self._read_all or _FULL_READ in woken.items | settled.items
                self._read_all = False
                try:
                    self._sync_all(self._configured, full_read)
                except Exception:  # a bug here must not end DNS sync for good: log it, read everything, go on
                    log.exception("DNS sync failed")
                    self._read_all = True
        finally:
            scheduler.shutdown(wait=False)

    def _sync_all(self, configured: tuple[DNSProvider, ...], full_read: bool) -> None:
        self._rebuild(configured, recheck_credentials=full_read)
        with self.metrics.duration.time():
            found, skipped = claims(self._hooks.services(), self._class)
            may_delete = self._hooks.source_complete()
            skipped_count = len(skipped)
            for skip in skipped:
                self._hooks.report(skip)
            for name, sync in self._syncs.items():
                try:
                    if full_read or not sync.read_once:
                        sync.read()
                    diagnostics = sync.sync(found, may_delete, held(skipped))
                except Fenced as exc:
                    log.error("DNS sync stopped: %s", exc)
                    return
                except ProviderError as exc:
                    self._export(name, sync)
                    self._hooks.report(sync.failed(f"DNSProvider {name} failed: {exc}"))
                    self._read_all = True  # read everything again before the next attempt
                    continue
                for diagnostic in diagnostics:
                    self._hooks.report(diagnostic)
                skipped_count += sum(1 for d in diagnostics if d.reason == DNS_NOT_PUBLISHED)
                self._export(name, sync)
            self.metrics.skipped.set(skipped_count)

    def _rebuild(self, configured: tuple[DNSProvider, ...], *, recheck_credentials: bool) -> None:
        wanted = {p.name: p for p in configured}
        for name in list(self._syncs):
            if name not in wanted or self._syncs[name].spec != wanted[name].spec:
                del self._syncs[name]
            elif recheck_credentials and self._credentials(wanted[name]) != self._syncs[name].credentials:
                log.info("DNSProvider %s: its credentials changed; using the new ones", name)
                del self._syncs[name]
        for name, resource in wanted.items():
            if name in self._syncs:
                continue
            try:
                credentials = self._credentials(resource)
                provider = self._hooks.make_provider(resource)
            except Exception as exc:  # a broken plugin or Secret must not stop the other providers
                self.metrics.errors.labels(name, type(exc).__name__).inc()
                message = f"DNSProvider {name} cannot start: {exc}"
                self._hooks.report(Diagnostic(resource.ref, DNS_PROVIDER_FAILED, message))
                continue
            self._syncs[name] = ProviderSync(
                name,
                resource.spec,
                provider,
                self._owner,
                save_replaced=partial(self._hooks.save_replaced, name),
                report=self._hooks.report,
                ref=resource.ref,
                may_write=self._hooks.may_write,
            )
            self._syncs[name].credentials = credentials

    def _credentials(self, resource: DNSProvider) -> str:
        try:
            return self._hooks.credentials(resource)
        except Exception as exc:  # unreadable now: keep using what works, ask again at the next full read
            log.warning("DNSProvider %s: its credentials cannot be read: %s", resource.name, exc)
            sync = self._syncs.get(resource.name)
            return sync.credentials if sync is not None else ""

    def _export(self, name: str, sync: ProviderSync) -> None:
        stats = sync.take_stats()
        for action, count in stats.changes.items():
            self.metrics.changes.labels(name, action).inc(count)
        self.metrics.requests.labels(name).inc(stats.requests)
        for kind, count in stats.errors.items():
            self.metrics.errors.labels(name, kind).inc(count)
        self.metrics.last_success.labels(name).set(stats.last_success)
        for zone in sync.zone_names():
            owned = sum(
                1
                for r in sync.records(zone)
                if hostname_of(r.name) is not None and (o := ownership_of(r)) is not None and o.owner == sync.owner
            )
            self.metrics.managed.labels(name, zone).set(owned)
