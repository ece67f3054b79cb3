"""Syncing one DNS provider: cached zone state, the plan, batches within limits, retries. The only DNS I/O here
goes through the provider it is given; what it reports (skips, refusals, oversized groups) goes to `report`.

Zone contents are read in full at start and on every resync; between resyncs the cache is updated from what was
applied, so an event costs no zone listing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, DNS_PROVIDER_FAILED, Diagnostic
from dnslb.core.dns.batch import Batch, Group, pack
from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import Claim, for_provider, granted
from dnslb.core.objects import ObjectKey, ObjectRef, service_ref
from dnslb.provider import Change, Limits, Provider, ProviderError, RecordSet, Rejected, Throttled, Transient, Zone

log = logging.getLogger(__name__)
T = TypeVar("T")


class Fenced(Exception):
    """A provider write was about to be sent by a process that may not write (it is not, or no longer, the leader)."""


@dataclass
class SyncStats:
    requests: int = 0
    changes: dict[str, int] = field(default_factory=lambda: {"create": 0, "update": 0, "delete": 0})
    errors: dict[str, int] = field(default_factory=dict)
    last_success: float = 0.0


class ProviderSync:
    def __init__(
        self,
        name: str,
        spec: DNSProviderSpec,
        provider: Provider,
        owner: str,
        *,
        save_replaced: Callable[[Zone, Sequence[RecordSet]], None],
        report: Callable[[Diagnostic], None],
        ref: ObjectRef | None = None,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        may_write: Callable[[], bool] = lambda: True,
    ) -> None:
        self.name = name
        self.ref = ref or ObjectRef("DNSProvider", ObjectKey("", name))
        self.credentials = ""  # the version of the credentials the provider was made with
        self.spec = spec
        self.provider = provider
        self.owner = spec.owner_id or owner
        self.limits = provider.limits if spec.limits is None else provider.limits.lowered(_limits(spec))
        self._save_replaced = save_replaced
        self._report = report
        self._attempts = attempts
        self._sleep = sleep
        self._may_write = may_write
        self._zones: list[Zone] = []
        self._records: dict[str, list[RecordSet]] = {}
        self._last_request = 0.0
        self._stale = False
        self.stats = SyncStats()

    def read(self) -> None:
        """Read every zone in full (start and resync). Raises ProviderError when the provider cannot be read."""
        wanted = set(self.spec.zones)
        zones = [z for z in self._call(self.provider.zones, "list zones") if not wanted or z.name in wanted]
        missing = wanted - {z.name for z in zones}
        for zone_name in sorted(missing):
            self._report(self.failed(f"zone {zone_name} does not exist", about=zone_name))
        self._records = {z.name: self._call(partial(self.provider.records, z), f"read {z.name}") for z in zones}
        self._zones = zones

    @property
    def read_once(self) -> bool:
        return bool(self._zones) or bool(self._records)

    def take_stats(self) -> SyncStats:
        """What happened since the last call (for counters), keeping the last success time."""
        taken, self.stats = self.stats, SyncStats(last_success=self.stats.last_success)
        return taken

    def zone_names(self) -> list[str]:
        return [z.name for z in self._zones]

    def records(self, zone: str) -> list[RecordSet]:
        return list(self._records.get(zone, []))

    def sync(self, claims: Sequence[Claim], may_delete: bool, held: Collection[ObjectKey] = ()) -> list[Diagnostic]:
        """Bring every zone to what `claims` want; returns why claims this provider leaves out were left out."""
        if self._stale:  # a rejection may mean the zone changed behind our cache: plan from a fresh read
            self.read()
            self._stale = False
        by_zone, outside = for_provider(claims, self.spec, self._zones)
        diagnostics = []
        for zone in self._zones:
            wanted = []
            for claim in by_zone.get(zone.name, []):
                why = granted(claim, self.spec)
                if why is None:
                    wanted.append(claim)
                else:
                    diagnostics.append(_not_published(claim.service, claim.hostname, why))
            plan = zone_changes(
                wanted,
                self._records.get(zone.name, []),
                self.owner,
                policy=self.spec.policy,
                takeover=self.spec.takeover,
                may_delete=may_delete,
                held=held,
            )
            diagnostics += plan.refused
            if plan.replaced:
                self._save_replaced(zone, plan.replaced)
            diagnostics += self._apply(zone, list(plan.groups), {c.hostname: c.service for c in wanted})
        self.stats.last_success = time.time()
        unserved = [_not_published(c.service, c.hostname, "no managed zone holds this name") for c in outside]
        return [*diagnostics, *unserved]

    def _apply(self, zone: Zone, groups: list[Group], owners: dict[str, ObjectKey]) -> list[Diagnostic]:
        batches, oversized = pack(groups, self.limits, self.provider.cost)
        diagnostics = [self._oversized(o, owners) for o in oversized]
        for batch in batches:
            try:
                self._send(zone, batch.changes)
            except Rejected as exc:
                log.warning("%s: a request of %d groups was rejected (%s); retrying group by group",
                            self.name, len(batch.groups), exc)  # fmt: skip
                diagnostics += self._one_by_one(zone, batch, owners)
        return diagnostics

    def _one_by_one(self, zone: Zone, batch: Batch, owners: dict[str, ObjectKey]) -> list[Diagnostic]:
        diagnostics = []
        for group in batch.groups:
            try:
                self._send(zone, group.changes)
            except Rejected as exc:
                self._stale = True
                reason = f"DNSProvider {self.name} rejected the change: {exc}"
                diagnostics.append(self._about(owners, group.name, reason))
        return diagnostics

    def _send(self, zone: Zone, changes: Sequence[Change]) -> None:
        self._pace()
        if not self._may_write():  # checked after pacing, right before the request: only the leader writes DNS
            raise Fenced(f"{self.name}: not the leader; {len(changes)} changes to {zone.name} not sent")
        self._call(lambda: self.provider.apply(zone, changes), f"apply {len(changes)} changes to {zone.name}")
        self.stats.requests += 1
        current = {r.key: r for r in self._records.get(zone.name, [])}
        for change in changes:
            self.stats.changes[change.action] += 1
            if change.action == "delete":
                current.pop(change.record.key, None)
            else:
                current[change.record.key] = change.record
        self._records[zone.name] = sorted(current.values())

    def _pace(self) -> None:
        rate = self.limits.requests_per_second
        if rate:
            wait = self._last_request + 1 / rate - time.monotonic()
            if wait > 0:
                self._sleep(wait)
        self._last_request = time.monotonic()

    def _call(self, call: Callable[[], T], what: str) -> T:
        delay = 0.5
        for attempt in range(1, self._attempts + 1):
            try:
                return call()
            except (Throttled, Transient) as exc:
                kind = type(exc).__name__
                self.stats.errors[kind] = self.stats.errors.get(kind, 0) + 1
                if attempt == self._attempts:
                    raise
                pause = exc.retry_after if isinstance(exc, Throttled) and exc.retry_after else delay
                log.info("%s: %s: %s (%s); retry %d in %.1fs", self.name, what, kind, exc, attempt, pause)
                self._sleep(pause)
                delay = min(delay * 2, 30.0)
            except ProviderError as exc:
                kind = type(exc).__name__
                self.stats.errors[kind] = self.stats.errors.get(kind, 0) + 1
                raise
        raise AssertionError("unreachable")

    def _oversized(self, oversized: Diagnostic, owners: dict[str, ObjectKey]) -> Diagnostic:
        reason = f"DNSProvider {self.name}: the records for this name {oversized.message}; not sent"
        return self._about(owners, oversized.about, reason)

    def _about(self, owners: dict[str, ObjectKey], hostname: str, message: str) -> Diagnostic:
        """About the Service that claims `hostname`, or about the provider when none does (a delete)."""
        owner = owners.get(hostname)
        if owner is None:
            return self.failed(message, about=hostname)
        return _not_published(owner, hostname, message)

    def failed(self, message: str, *, about: str = "") -> Diagnostic:
        """A failure of the provider itself, as a Diagnostic about its DNSProvider."""
        return Diagnostic(self.ref, DNS_PROVIDER_FAILED, message, about=about)


def _limits(spec: DNSProviderSpec) -> Limits:
    overrides = spec.limits
    assert overrides is not None
    return Limits(overrides.max_changes, overrides.max_values, overrides.max_bytes, overrides.requests_per_second)


def _not_published(service: ObjectKey, hostname: str, message: str) -> Diagnostic:
    return Diagnostic(service_ref(service), DNS_NOT_PUBLISHED, message, about=hostname)
