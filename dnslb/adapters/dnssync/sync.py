"""Syncing one DNS provider: its zones as last read, the plan, batches within limits, conditional writes, retries.
The only DNS I/O here goes through the provider it is given; what it reports (refusals, rejected and oversized
groups) is returned as Diagnostics.

The view of each zone is the last complete read, kept current with what dnslb applied and with names read again. A
full read (start, resync) goes on page by page beside the syncs (`read_some`), so it never holds back a new name, and
resumes from the page that failed; it replaces the view only once complete, with what was written meanwhile laid on
top. Every write is conditional (see `dnslb.provider`): when one fails, the names of its group are read again, the
group is not sent again until the next full read, and the next plan works from what is really there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from dnslb.adapters.dnssync.pacing import Pacer
from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, DNS_PROVIDER_FAILED, Diagnostic
from dnslb.core.dns import gate
from dnslb.core.dns.batch import Group, pack
from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import Claim, for_provider, granted
from dnslb.core.dns.registry import hostname_of, owner_of, ownership_name, ownership_of
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.provider import (
    Change,
    Limits,
    NameReader,
    Page,
    PagedReader,
    Provider,
    ProviderError,
    RecordSet,
    Rejected,
    Throttled,
    Transient,
    Zone,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
Key = tuple[str, str]
View = dict[Key, RecordSet]

_FIRST_RETRY = 0.5
_LONGEST_RETRY = 30.0
_LONGEST_READ_PAUSE = 300.0  # between attempts of a full read that keeps failing


class Fenced(Exception):
    """A provider write was about to be sent by a process that may not write (it is not, or no longer, the leader)."""


@dataclass
class SyncStats:
    requests: int = 0
    reads: int = 0  # requests that read (pages, name reads, zone listings)
    full_reads: int = 0  # full reads completed
    changes: dict[str, int] = field(default_factory=lambda: {"create": 0, "update": 0, "delete": 0})
    errors: dict[str, int] = field(default_factory=dict)
    last_success: float = 0.0
    foreign: int | None = None  # claimed names found foreign at the last sync (None: no sync since)


@dataclass(frozen=True)
class Health:
    """What the DNSProvider's `Synced` condition says (`ok` None: not known yet)."""

    ok: bool | None
    reason: str
    message: str


@dataclass(frozen=True)
class _Edit:
    """What dnslb learned of a zone while a full read of it went on: laid over the read when it completes."""

    names: frozenset[str]  # every record set at these names is replaced by `put`
    dropped: tuple[Key, ...]
    put: tuple[RecordSet, ...]

    def apply(self, view: View) -> None:
        if self.names:
            for key in [k for k in view if k[0] in self.names]:
                del view[key]
        for key in self.dropped:
            view.pop(key, None)
        for record in self.put:
            view[record.key] = record


@dataclass
class _FullRead:
    zones: list[Zone] | None = None  # listed at the first step
    done: dict[str, View] = field(default_factory=dict)
    records: View = field(default_factory=dict)  # of the zone being read
    cursor: str | None = None
    edits: dict[str, list[_Edit]] = field(default_factory=dict)
    failures: int = 0
    retry_at: float = 0.0

    def pending(self) -> list[Zone]:
        return [z for z in self.zones or [] if z.name not in self.done]


class ProviderSync:
    def __init__(
        self,
        name: str,
        spec: DNSProviderSpec,
        provider: Provider,
        owner: str,
        *,
        save_replaced: Callable[[Zone, Sequence[RecordSet]], None],
        ref: ObjectRef | None = None,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        may_write: Callable[[], bool] = lambda: True,
        pacer: Pacer | None = None,
    ) -> None:
        self.name = name
        self.ref = ref or ObjectRef("DNSProvider", ObjectKey("", name))
        self.credentials = ""  # the version of the credentials the provider was made with
        self.spec = spec
        self.provider = provider
        self.owner = spec.owner_id or owner
        self.limits = limits_of(spec, provider)
        self._save_replaced = save_replaced
        self._attempts = attempts
        self._sleep = sleep
        self._clock = clock
        self._may_write = may_write
        self._pacer = pacer or Pacer(self.limits.requests_per_second, sleep=sleep)
        self._zones: list[Zone] = []
        self._views: dict[str, View] = {}
        self._generation = 0  # counts changes to the views: what `published` read them at
        self._published: tuple[int, frozenset[tuple[str, ObjectRef]]] = (-1, frozenset())
        self._read_once = False
        self._read: _FullRead | None = None
        self._refused: dict[Group, str] = {}  # not sent again until the next full read
        self.health = Health(None, "Pending", "the first full read of the zones is under way")
        self.missing_zones: list[str] = []  # named in spec.zones but not found at the last zone listing
        self.stats = SyncStats()

    def use(self, provider: Provider, pacer: Pacer) -> None:
        """Go on with another instance of the same provider (new credentials): the zone views stay."""
        self.provider, self._pacer = provider, pacer

    # -- full reads ---------------------------------------------------------------------------------------------

    def begin_read(self) -> None:
        """Start a full read of every zone (unless one is under way); `read_some` carries it out."""
        if self._read is None:
            self._read = _FullRead()

    def read(self) -> None:
        """A full read to completion, now (for tools and tests; the loop goes on with `read_some` between syncs).
        Raises ProviderError when a request keeps failing."""
        self.begin_read()
        while not self.read_some():
            self._sleep(self.read_due() or 0.0)

    @property
    def read_once(self) -> bool:
        return self._read_once

    def read_due(self) -> float | None:
        """Seconds until `read_some` has work (0: now), or None when no full read is under way."""
        if self._read is None:
            return None
        return max(0.0, self._read.retry_at - self._clock())

    def read_some(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Go on with the full read, a request at a time, until it completes (True) or `should_stop()`.

        Raises ProviderError when a request keeps failing; the read then resumes from that request later, with
        backoff, and the last complete view stays in use meanwhile."""
        read = self._read
        if read is None or self._clock() < read.retry_at:
            return False
        try:
            if read.zones is None:
                read.zones = self.call(self._listed_zones, "list zones", write=False)
            for zone in read.pending():
                while not should_stop():
                    page = self.call(partial(self._page, zone, read.cursor), f"read {zone.name}", write=False)
                    read.records.update((r.key, r) for r in page.records)
                    read.cursor = page.next
                    read.failures = 0
                    if page.next is None:
                        self._complete_zone(read, zone)
                        break
                else:
                    return False
        except ProviderError:
            read.failures += 1
            read.retry_at = self._clock() + min(_LONGEST_READ_PAUSE, 10.0 * 2 ** (read.failures - 1))
            self.health = Health(False, "ReadFailed", f"reading the zones failed {read.failures} time(s) in a row")
            raise
        self._zones = read.zones
        self._views = {z.name: read.done[z.name] for z in read.zones}
        self._generation += 1
        self._read, self._read_once = None, True
        self._refused.clear()
        self.stats.full_reads += 1
        return True

    def _listed_zones(self) -> list[Zone]:
        wanted = set(self.spec.zones)
        zones = [z for z in self.provider.zones() if not wanted or z.name in wanted]
        missing = wanted - {z.name for z in zones}
        if missing:
            log.warning("DNSProvider %s: zone(s) %s do not exist", self.name, ", ".join(sorted(missing)))
        self.missing_zones = sorted(missing)
        return zones

    def _page(self, zone: Zone, start: str | None) -> Page:
        if isinstance(self.provider, PagedReader):
            return self.provider.records_page(zone, start)
        return Page(tuple(self.provider.records(zone)))

    def _complete_zone(self, read: _FullRead, zone: Zone) -> None:
        view = read.records
        for edit in read.edits.pop(zone.name, []):
            edit.apply(view)
        read.done[zone.name] = view
        read.records, read.cursor = {}, None

    def _learned(self, zone: Zone, edit: _Edit) -> None:
        edit.apply(self._views.setdefault(zone.name, {}))
        self._generation += 1
        if self._read is not None and zone.name not in self._read.done:
            self._read.edits.setdefault(zone.name, []).append(edit)

    # -- the view -----------------------------------------------------------------------------------------------

    def take_stats(self) -> SyncStats:
        """What happened since the last call (for counters), keeping the last success time."""
        taken, self.stats = self.stats, SyncStats(last_success=self.stats.last_success)
        return taken

    def zone_names(self) -> list[str]:
        return [z.name for z in self._zones]

    def records(self, zone: str) -> list[RecordSet]:
        return sorted(self._views.get(zone, {}).values())

    def view(self, zone: str) -> Collection[RecordSet]:
        return self._views.get(zone, {}).values()

    # -- syncing ------------------------------------------------------------------------------------------------

    def sync(
        self,
        claims: Sequence[Claim],
        may_delete: bool,
        held: Collection[ObjectRef] = (),
        announced: Collection[str] | None = None,
    ) -> list[Diagnostic]:
        """Bring every zone to what `claims` want; returns why claims this provider leaves out were left out, and
        the claims its gate holds back. `announced`: the VIPs some node announces (None: no gate). Does nothing
        before the first full read has completed."""
        if not self._read_once:
            return []
        by_zone, outside = for_provider(claims, self.spec, self._zones)
        gated = announced if self.spec.publish_when == "Announced" else None
        diagnostics: list[Diagnostic] = []
        failures = 0
        foreign = 0
        for zone in self._zones:
            allowed = []
            for claim in by_zone.get(zone.name, []):
                why = granted(claim, self.spec)
                if why is None:
                    allowed.append(claim)
                else:
                    diagnostics.append(_not_published(claim.owner, claim.hostname, why))
            wanted, waiting = gate.split(allowed, gated)
            owners = {c.hostname: c.owner for c in wanted}
            for _ in range(2):  # a second pass plans the names a failed write made us read again
                plan = zone_changes(
                    wanted,
                    list(self.view(zone.name)),
                    self.owner,
                    policy=self.spec.policy,
                    takeover=self.spec.takeover,
                    may_delete=may_delete,
                    held=held,
                    waiting=waiting,
                    max_name=self.limits.max_name,
                    types=self.limits.record_types,
                )
                if plan.replaced:
                    self._save_replaced(zone, plan.replaced)
                failed, reread = self._apply(zone, list(plan.groups), owners)
                if not reread:
                    break
            diagnostics += plan.refused
            diagnostics += plan.pending
            diagnostics += failed
            failures += len(failed)
            foreign += len(plan.foreign)
        self.stats.foreign = foreign
        unserved = [_not_published(c.owner, c.hostname, gate.UNSERVED) for c in outside]
        if failures:
            self.health = Health(False, "ChangesRejected", f"{failures} change group(s) were not applied")
        elif self._read is None or self._read.failures == 0:
            self.health = Health(True, "Synced", "every change applied")
            self.stats.last_success = time.time()
        return [*diagnostics, *unserved]

    def published(self) -> frozenset[tuple[str, ObjectRef]]:
        """(hostname, owner) for every name this provider's view says we publish for that object; read again only
        when the views changed (a pass asks twice, and most passes change nothing)."""
        if self._published[0] == self._generation:
            return self._published[1]
        found = set()
        for view in self._views.values():
            for record in view.values():
                hostname = hostname_of(record.name)
                if hostname is None or record.type != "TXT":
                    continue
                ownership = ownership_of(record)
                if ownership is not None and ownership.owner == self.owner:
                    owner = owner_of(ownership.resource)
                    if owner is not None:
                        found.add((hostname, owner))
        self._published = (self._generation, frozenset(found))
        return self._published[1]

    def _apply(self, zone: Zone, groups: list[Group], owners: dict[str, ObjectRef]) -> tuple[list[Diagnostic], bool]:
        """Send the groups; (why some were not applied, whether names were read again)."""
        diagnostics = []
        fresh = []
        for group in groups:
            if group in self._refused:
                diagnostics.append(self._about(owners, group.name, self._refused[group]))
            else:
                fresh.append(group)
        batches, oversized = pack(fresh, self.limits, self.provider.cost)
        diagnostics += [self._oversized(o, owners) for o in oversized]
        failed: list[Group] = []
        for batch in batches:
            failed += self._send_groups(zone, batch.groups)
        diagnostics += [self._about(owners, g.name, self._refused[g]) for g in failed]
        if failed:
            self._read_names(zone, failed)
        return diagnostics, bool(failed)

    def _send_groups(self, zone: Zone, groups: Sequence[Group]) -> list[Group]:
        """Send the groups as one request; when it is refused, each half on its own, down to the groups that are
        refused alone: one bad group among n costs about 2·log2(n) requests, and the others land. Those refused."""
        try:
            self._send(zone, [c for g in groups for c in g.changes])
            return []
        except Rejected as exc:
            if len(groups) == 1:
                return self._refuse(groups[0], exc)
            log.warning("DNSProvider %s: a request of %d groups to %s was refused (%s); sending each half alone",
                        self.name, len(groups), zone.name, exc)  # fmt: skip
        half = len(groups) // 2
        return self._send_groups(zone, groups[:half]) + self._send_groups(zone, groups[half:])

    def _refuse(self, group: Group, exc: Rejected) -> list[Group]:
        log.warning("DNSProvider %s: %s not applied: %s", self.name, group.name, exc)
        self._refused[group] = f"DNSProvider {self.name} refused the change: {exc}"
        return [group]

    def _read_names(self, zone: Zone, groups: Iterable[Group]) -> None:
        """Read again the names of groups the provider refused: their records are not what the view says."""
        names = {c.record.name for g in groups for c in g.changes} | {ownership_name(g.name) for g in groups}
        if not isinstance(self.provider, NameReader):
            self.begin_read()  # no way to read a name alone: read everything, beside the syncs
            return
        records: list[RecordSet] = []
        for name in sorted(names):  # one request each, paced as the write it serves
            records += self.call(partial(self.provider.records_at, zone, [name]), f"read {name}", write=True)
            self.stats.reads += 1
        self._learned(zone, _Edit(frozenset(names), (), tuple(records)))

    def _send(self, zone: Zone, changes: Sequence[Change]) -> None:
        self.call(lambda: self._write(zone, changes), f"apply {len(changes)} changes to {zone.name}", write=True)
        self.stats.requests += 1
        dropped, put = [], []
        for change in changes:
            if change.action == "require":
                continue
            self.stats.changes[change.action] += 1
            before = str(change.previous or (change.record if change.action == "delete" else "nothing"))
            after = "nothing" if change.action == "delete" else str(change.record)
            log.info("DNSProvider %s: zone %s: %s %s: %s -> %s", self.name, zone.name, change.record.name,
                     change.record.type, before, after)  # fmt: skip
            if change.action == "delete":
                dropped.append(change.record.key)
            else:
                put.append(change.record)
        self._learned(zone, _Edit(frozenset(), tuple(dropped), tuple(put)))

    def _write(self, zone: Zone, changes: Sequence[Change]) -> None:
        if not self._may_write():  # checked after pacing, right before the request: only the leader writes DNS
            raise Fenced(f"{self.name}: not the leader; {len(changes)} changes to {zone.name} not sent")
        self.provider.apply(zone, changes)

    def call(self, call: Callable[[], T], what: str, *, write: bool) -> T:
        """One request, paced; retried with backoff while throttled or failing for a passing reason."""
        delay = _FIRST_RETRY
        for attempt in range(1, self._attempts + 1):
            self._pacer.take(write=write)
            if not write:
                self.stats.reads += 1
            try:
                return call()
            except (Throttled, Transient) as exc:
                kind = type(exc).__name__
                self.stats.errors[kind] = self.stats.errors.get(kind, 0) + 1
                if attempt == self._attempts:
                    raise
                pause = exc.retry_after if isinstance(exc, Throttled) and exc.retry_after else delay
                log.info("DNSProvider %s: %s: %s (%s); retry %d in %.1fs", self.name, what, kind, exc, attempt, pause)
                if isinstance(exc, Throttled):
                    self._pacer.hold(pause)  # everyone on this account waits, not only this request
                else:
                    self._sleep(pause)
                delay = min(delay * 2, _LONGEST_RETRY)
            except ProviderError as exc:
                kind = type(exc).__name__
                self.stats.errors[kind] = self.stats.errors.get(kind, 0) + 1
                raise
        raise AssertionError("unreachable")

    def _oversized(self, oversized: Diagnostic, owners: dict[str, ObjectRef]) -> Diagnostic:
        reason = f"DNSProvider {self.name}: the records for this name {oversized.message}; not sent"
        return self._about(owners, oversized.about, reason)

    def _about(self, owners: dict[str, ObjectRef], hostname: str, message: str) -> Diagnostic:
        """About the object that claims `hostname`, or about the provider when none does (a delete)."""
        owner = owners.get(hostname)
        if owner is None:
            return self.failed(message, about=hostname)
        return _not_published(owner, hostname, message)

    def failed(self, message: str, *, about: str = "") -> Diagnostic:
        """A failure of the provider itself, as a Diagnostic about its DNSProvider."""
        return Diagnostic(self.ref, DNS_PROVIDER_FAILED, message, about=about)


def limits_of(spec: DNSProviderSpec, provider: Provider) -> Limits:
    """The provider's limits, lowered by the DNSProvider's `spec.limits`."""
    overrides = spec.limits
    if overrides is None:
        return provider.limits
    return provider.limits.lowered(
        Limits(overrides.max_changes, overrides.max_values, overrides.max_bytes, overrides.requests_per_second)
    )


def _not_published(owner: ObjectRef, hostname: str, message: str) -> Diagnostic:
    return Diagnostic(owner, DNS_NOT_PUBLISHED, message, about=hostname)
