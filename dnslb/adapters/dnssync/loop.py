"""The DNS sync loop: event-driven with debounce, a full provider read on a schedule (apscheduler), one thread.

It is fed a snapshot function for Services and a factory for providers; Kubernetes stays in the adapters that call
it. Provider failures are reported and retried at the next trigger; they never stop the loop or other providers.
Full reads go on a request at a time between syncs: a change that comes in while a large zone is being read waits
for one request, not for the read. DNSProviders on the same account share one pacer.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dnslb.adapters.dnssync.pacing import Pacer
from dnslb.adapters.dnssync.sync import Fenced, Health, ProviderSync, limits_of
from dnslb.adapters.wakeup import Wakeup
from dnslb.core.config.resources import DNSProvider
from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, DNS_PENDING, DNS_PROVIDER_FAILED, DNS_RECORDS_KEPT, Diagnostic
from dnslb.core.dns import gate
from dnslb.core.dns.desired import Claim, claims, held
from dnslb.core.dns.registry import hostname_of, ownership_of
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.model import ServiceView
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources.read import NO_SOURCES, SourcesRead
from dnslb.provider import Provider, ProviderError, RecordSet, Unauthorized, Zone

log = logging.getLogger(__name__)
Fields = tuple[str, str, str]  # a condition's status, reason, message
_FULL_READ = "full-read"
CREDENTIALS_CHECK_SECONDS = 10.0  # a sync asks for a provider's credentials again when its last look is this old


class DNSMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.managed = Gauge(
            "dnslb_dns_record_sets_managed", "Names owned by this dnslb", ["provider", "zone"], registry=registry
        )
        self.changes = Counter(
            "dnslb_dns_changes_total", "Record-set changes applied", ["provider", "action"], registry=registry
        )
        self.requests = Counter("dnslb_dns_requests_total", "Provider write requests", ["provider"], registry=registry)
        self.reads = Counter(
            "dnslb_dns_read_requests_total", "Provider read requests (pages, names, zone lists)", ["provider"],
            registry=registry,
        )  # fmt: skip
        self.full_reads = Counter("dnslb_dns_full_reads_total", "Full reads completed", ["provider"], registry=registry)
        self.errors = Counter(
            "dnslb_dns_errors_total", "Provider errors by class", ["provider", "class"], registry=registry
        )
        self.duration = Histogram("dnslb_dns_sync_duration_seconds", "One sync of every provider", registry=registry)
        self.last_success = Gauge(
            "dnslb_dns_last_success_timestamp_seconds", "Last sync that applied every change it meant to",
            ["provider"], registry=registry,
        )  # fmt: skip
        self.synced = Gauge(
            "dnslb_dns_provider_synced", "1 while the provider's last sync applied everything", ["provider"],
            registry=registry,
        )  # fmt: skip
        self.foreign = Gauge(
            "dnslb_dns_names_foreign", "Claimed hostnames whose ownership name holds records dnslb did not write",
            ["provider"], registry=registry,
        )  # fmt: skip
        self.skipped = Gauge(
            "dnslb_dns_hostnames_skipped", "Hostnames not published (conflicts, refusals)", registry=registry
        )
        self.pending = Gauge(
            "dnslb_dns_hostnames_pending", "Hostnames held back until a node announces their VIP", registry=registry
        )


@dataclass(frozen=True)
class Hooks:
    """What the loop needs from its surroundings."""

    services: Callable[[], list[ServiceView]]
    source_complete: Callable[[], bool]  # the Services' cache has synced and reads whole (other sources: `sources`)
    make_provider: Callable[[DNSProvider], Provider]
    save_replaced: Callable[[str, Zone, Sequence[RecordSet]], None]
    report: Callable[[Diagnostic], None]  # an Event on its subject
    may_write: Callable[[], bool] = lambda: True  # asked before every provider write and takeover save
    # the version of a provider's credentials (its Secret's resourceVersion): checked at the first sync that comes
    # CREDENTIALS_CHECK_SECONDS after the last check, at every full read, and after the provider refused them; a
    # change makes a new provider, so a rotated Secret is used without a restart
    credentials: Callable[[DNSProvider], str] = lambda resource: ""
    synced: Callable[[ObjectRef, Health], None] = lambda ref, health: None  # the DNSProvider's Synced condition
    # the VIPs some Ready node announces; None: the gate is open (no node status to go by)
    announced: Callable[[], Collection[str] | None] = lambda: None
    # write a Service's DNSPublished condition over what the API holds (None: remove it) and say the `transitions`;
    # False if the write failed
    publication: Callable[[ObjectKey, Fields | None, Fields | None, Sequence[Diagnostic]], bool] = (
        lambda key, found, want, moves: True
    )
    # the records of the other sources (Ingress, Gateway API routes, DNSEndpoint)
    sources: Callable[[], SourcesRead] = lambda: NO_SOURCES


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
        grace_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hooks = hooks
        self._owner = owner
        self._class = classes
        self._resync_seconds = resync_seconds
        self._debounce = debounce_seconds
        self.metrics = DNSMetrics(registry)
        self._wakeup: Wakeup[str] = Wakeup()
        self._read_all = True  # the next pass starts a full read of every provider
        self._configured: tuple[DNSProvider, ...] = ()
        self._syncs: dict[str, ProviderSync] = {}
        self._pacers: dict[tuple[str, float | None], Pacer] = {}
        self._recheck: set[str] = set()  # providers whose credentials were refused: ask for them again
        self._checked: dict[str, float] = {}  # when each provider's credentials were last asked for
        self._clock = clock
        self._health: dict[str, Health] = {}
        # Service → (its condition as the API held it, what we wrote over it): until the write echoes back
        self._written: dict[ObjectKey, tuple[Fields | None, Fields | None]] = {}
        self._grace = grace_seconds
        self._emptied: dict[ObjectRef, float] = {}  # source object → since when it wants none of the names it owns
        self._grace_ends: float | None = None  # when the first grace under way ends

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
                woken = self._wakeup.wait(self._next_read())
                if self._wakeup.closed:
                    break
                try:
                    if woken.marked or (self._grace_ends is not None and self._clock() >= self._grace_ends):
                        time.sleep(self._debounce)  # let a burst of events settle into one sync
                        settled = self._wakeup.wait(0)
                        full_read = self._read_all or _FULL_READ in woken.items | settled.items
                        self._read_all = False
                        self._sync_all(self._configured, full_read)
                    if self._read_some():
                        self._sync_all(self._configured, full_read=False)  # a full read completed: sync from it
                except Fenced as exc:
                    log.error("DNS sync stopped: %s", exc)
                except Exception:  # a bug here must not end DNS sync for good: log it, read everything, go on
                    log.exception("DNS sync failed")
                    self._read_all = True
                    self._wakeup.mark()
        finally:
            scheduler.shutdown(wait=False)

    def _next_read(self) -> float | None:
        """How long the loop may sleep before a full read has a request to make (None: none under way)."""
        due = [d for d in (s.read_due() for s in self._syncs.values()) if d is not None]
        if self._grace_ends is not None:  # a grace period ends: its names go
            due.append(max(0.0, self._grace_ends - self._clock()))
        return min(due) if due else None

    def _read_some(self) -> bool:
        """Go on with the full reads under way until something is marked; whether one completed."""
        completed = False
        for name, sync in list(self._syncs.items()):
            try:
                if sync.read_some(should_stop=lambda: self._wakeup.pending):
                    completed = True
                    self._export(name, sync)
                    for zone_name in sync.missing_zones:
                        self._hooks.report(sync.failed(f"zone {zone_name} does not exist", about=zone_name))
            except ProviderError as exc:
                self._failed(name, sync, exc)
        return completed

    def _sync_all(self, configured: tuple[DNSProvider, ...], full_read: bool) -> None:
        self._rebuild(configured, recheck_credentials=full_read)
        with self.metrics.duration.time():
            services = self._hooks.services()
            sourced = self._hooks.sources()
            specs = [p.spec for p in configured]
            found, skipped = claims(services, self._class, sourced.records, specs, sourced.sharing)
            may_delete = self._hooks.source_complete()
            announced = self._hooks.announced()
            said: list[Diagnostic] = [*sourced.problems, *skipped]
            published = self._published()
            # names owned by objects of a kind not listed yet (its cache has not synced): neither deleted nor taken
            unlisted = {hostname: owner for hostname, owner in published if owner.kind in sourced.incomplete}
            found = [c for c in found if c.hostname not in unlisted]
            kept = held(said) | self._in_grace(found, sourced.owners, published) | set(unlisted.values())
            unserved: dict[tuple[ObjectRef | None, str], list[Diagnostic]] = {}
            ran = 0
            for name, sync in self._syncs.items():
                if full_read or not sync.read_once:
                    sync.begin_read()
                try:
                    diagnostics = sync.sync(found, may_delete, kept, announced)
                except ProviderError as exc:
                    self._failed(name, sync, exc)
                    continue
                ran += sync.read_once
                for d in diagnostics:
                    if d.message == gate.UNSERVED:
                        unserved.setdefault((d.subject, d.about), []).append(d)
                    else:
                        said.append(d)
                self._export(name, sync)
            # a name no provider serves is said once; one that another provider serves is not a refusal
            said += [ds[0] for ds in unserved.values() if len(ds) == ran]
            for diagnostic in said:
                self._hooks.report(diagnostic)
            self.metrics.skipped.set(sum(1 for d in said if d.reason == DNS_NOT_PUBLISHED))
            self.metrics.pending.set(len({(d.subject, d.about) for d in said if d.reason == DNS_PENDING}))
            gated = any(s.spec.publish_when == "Announced" for s in self._syncs.values())
            self._publish(services, found, said, announced if gated else None)

    def _published(self) -> set[tuple[str, ObjectRef]]:
        """(hostname, owner) of every name some provider's view (after a first full read) says dnslb publishes."""
        return {pair for sync in self._syncs.values() if sync.read_once for pair in sync.published()}

    def _in_grace(
        self, found: Sequence[Claim], owners: Collection[ObjectRef], published: Collection[tuple[str, ObjectRef]]
    ) -> frozenset[ObjectRef]:
        """Source objects that still exist but want no name they own (an Ingress or route that lost its status:
        its controller restarting, a faulty Gateway status): their names are kept for the grace period, said once
        in an Event; after it, they go. An object deleted, or wanting other names, loses its names at once."""
        wanting = {c.owner for c in found}
        owning = {owner for _, owner in published}
        now = self._clock()
        emptied = {ref for ref in owning if ref.kind != "Service" and ref in owners and ref not in wanting}
        for ref in emptied - set(self._emptied):
            self._emptied[ref] = now
            message = (
                f"wants none of the names it has published (its status lost its addresses?); they are kept for "
                f"{self._grace:g} s, then deleted unless it wants them again"
            )
            self._hooks.report(Diagnostic(ref, DNS_RECORDS_KEPT, message))
            log.warning("%s: %s", ref, message)
        for ref in set(self._emptied) - emptied:
            del self._emptied[ref]
        kept = {ref: since + self._grace for ref, since in self._emptied.items() if now < since + self._grace}
        self._grace_ends = min(kept.values(), default=None)
        return frozenset(kept)

    def _publish(
        self,
        services: Sequence[ServiceView],
        found: Sequence[Claim],
        said: Sequence[Diagnostic],
        announced: Collection[str] | None,
    ) -> None:
        """Each Service's DNSPublished condition, written where it differs from what the API holds."""
        read = [sync for sync in self._syncs.values() if sync.read_once]
        if not self._hooks.may_write() or (self._syncs and not read):
            return  # before a first full read every name would look pending: say nothing rather than flap
        wanted = gate.publications(found, said, self._published(), announced)
        keys = set()
        for view in services:
            keys.add(view.key)
            publication = wanted.get(view.key)
            want = (
                (("True" if publication.ok else "False"), publication.reason, publication.message)
                if publication
                else None
            )
            seen, written = self._written.get(view.key, (None, None))
            have = written if seen == view.dns_published else view.dns_published  # our write not echoed yet
            if want == have:
                continue
            before = gate.read_message(have[2]) if have is not None else ()
            moves = gate.transitions(view.key, before, publication) if publication is not None else []
            if self._hooks.publication(view.key, view.dns_published, want, moves):
                self._written[view.key] = (view.dns_published, want)
        for key in set(self._written) - keys:
            del self._written[key]

    def _failed(self, name: str, sync: ProviderSync, exc: ProviderError) -> None:
        if sync.health.ok is not False:
            sync.health = Health(False, "ProviderFailed", str(exc))
        if isinstance(exc, Unauthorized):
            self._recheck.add(name)
            self._wakeup.mark()  # the Secret may have been rotated already: make the next pass look
        self._export(name, sync)
        self._hooks.report(sync.failed(f"DNSProvider {name} failed: {exc}"))

    def _rebuild(self, configured: tuple[DNSProvider, ...], *, recheck_credentials: bool) -> None:
        wanted = {p.name: p for p in configured}
        now = self._clock()
        for name in list(self._syncs):
            if name not in wanted:
                del self._syncs[name]
                self._forget(name)
                continue
            if self._syncs[name].spec != wanted[name].spec:
                del self._syncs[name]
                continue
            stale = now - self._checked.get(name, now) >= CREDENTIALS_CHECK_SECONDS
            if recheck_credentials or stale or name in self._recheck:
                self._checked[name] = now
                self._renew_credentials(name, wanted[name], self._syncs[name])
        self._recheck.clear()
        for name, resource in wanted.items():
            if name in self._syncs:
                continue
            try:
                self._checked[name] = now
                credentials = self._credentials(resource)
                provider = self._hooks.make_provider(resource)
            except Exception as exc:  # a broken plugin or Secret must not stop the other providers
                self.metrics.errors.labels(name, type(exc).__name__).inc()
                message = f"DNSProvider {name} cannot start: {exc}"
                self._hooks.report(Diagnostic(resource.ref, DNS_PROVIDER_FAILED, message))
                self._set_health(resource.ref, name, Health(False, "CannotStart", message))
                continue
            sync = ProviderSync(
                name,
                resource.spec,
                provider,
                self._owner,
                save_replaced=partial(self._hooks.save_replaced, name),
                ref=resource.ref,
                may_write=self._hooks.may_write,
                pacer=self._pacer(name, resource, provider),
            )
            sync.credentials = credentials
            sync.begin_read()
            self._syncs[name] = sync

    def _renew_credentials(self, name: str, resource: DNSProvider, sync: ProviderSync) -> None:
        """A provider made with the credentials if they changed; the zone views stay (no full read needed)."""
        credentials = self._credentials(resource)
        if credentials == sync.credentials:
            return
        try:
            provider = self._hooks.make_provider(resource)
        except Exception as exc:  # keep the provider that has worked; ask again at the next check
            self.metrics.errors.labels(name, type(exc).__name__).inc()
            message = f"DNSProvider {name}: its new credentials cannot be used (the previous ones stay): {exc}"
            self._hooks.report(Diagnostic(resource.ref, DNS_PROVIDER_FAILED, message))
            return
        log.info("DNSProvider %s: its credentials changed; using the new ones", name)
        sync.use(provider, self._pacer(name, resource, provider))
        sync.credentials = credentials

    def _pacer(self, name: str, resource: DNSProvider, provider: Provider) -> Pacer:
        """One pacer per provider account (a provider's `account`, when it says), else per DNSProvider."""
        rate = limits_of(resource.spec, provider).requests_per_second
        account = (str(getattr(provider, "account", "") or f"dnsprovider/{name}"), rate)
        return self._pacers.setdefault(account, Pacer(rate))

    def _credentials(self, resource: DNSProvider) -> str:
        try:
            return self._hooks.credentials(resource)
        except Exception as exc:  # unreadable now: keep using what works, ask again at the next full read
            log.warning("DNSProvider %s: its credentials cannot be read: %s", resource.name, exc)
            sync = self._syncs.get(resource.name)
            return sync.credentials if sync is not None else ""

    def _set_health(self, ref: ObjectRef, name: str, health: Health) -> None:
        self.metrics.synced.labels(name).set(1 if health.ok else 0)
        if self._health.get(name) == health:
            return
        self._health[name] = health
        if self._hooks.may_write():
            self._hooks.synced(ref, health)

    def _forget(self, name: str) -> None:
        """A deleted DNSProvider's series go with it: its last state must not keep an alert firing."""
        self._health.pop(name, None)
        for metric in (self.metrics.synced, self.metrics.last_success, self.metrics.foreign):
            with contextlib.suppress(KeyError):
                metric.remove(name)
        managed = self.metrics.managed
        for zone in {s.labels["zone"] for f in managed.collect() for s in f.samples if s.labels["provider"] == name}:
            managed.remove(name, zone)

    def _export(self, name: str, sync: ProviderSync) -> None:
        self._set_health(sync.ref, name, sync.health)
        stats = sync.take_stats()
        for action, count in stats.changes.items():
            self.metrics.changes.labels(name, action).inc(count)
        self.metrics.requests.labels(name).inc(stats.requests)
        self.metrics.reads.labels(name).inc(stats.reads)
        self.metrics.full_reads.labels(name).inc(stats.full_reads)
        for kind, count in stats.errors.items():
            self.metrics.errors.labels(name, kind).inc(count)
        if stats.last_success:
            self.metrics.last_success.labels(name).set(stats.last_success)
        if stats.foreign is not None:
            self.metrics.foreign.labels(name).set(stats.foreign)
        for zone in sync.zone_names():
            owned = sum(
                1
                for r in sync.view(zone)
                if hostname_of(r.name) is not None and (o := ownership_of(r)) is not None and o.owner == sync.owner
            )
            self.metrics.managed.labels(name, zone).set(owned)
