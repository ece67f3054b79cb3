"""The in-memory DNS provider: dnslb's default, used by `dnslb plan` and dry runs; optionally kept in a zone file.

Settings: `zones` (comma-separated zone names, required), `zoneFile` (a JSON file that holds the records across
restarts; written atomically after every apply). It enforces no request limits and writes every type dnslb
publishes (`RECORD_TYPES`).

It keeps values as it is given them: a record set's `exact` values are its values, unless it was created from a
record set that carried `exact` (a restored one), whose exact values are kept and read back as they came. Every write
is conditional, checked and applied under one lock, so a request that conflicts changes nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from dnslb.provider import (
    RECORD_TYPES,
    Change,
    Conflict,
    Cost,
    Limits,
    ProviderError,
    RecordSet,
    Rejected,
    Zone,
    default_cost,
)

Key = tuple[str, str]


class InMemoryProvider:
    def __init__(self, zones: Sequence[str], zone_file: Path | None = None) -> None:
        self._zones = {z.lower().rstrip("."): dict[Key, RecordSet]() for z in zones}
        self._zone_file = zone_file
        self._lock = threading.Lock()
        self.requests = 0
        if zone_file is not None and zone_file.exists():
            self._load(zone_file)

    @property
    def limits(self) -> Limits:
        return Limits(record_types=RECORD_TYPES)

    def cost(self, change: Change) -> Cost:
        return default_cost(change)

    def zones(self) -> list[Zone]:
        return [Zone(name, name) for name in sorted(self._zones)]

    def records(self, zone: Zone) -> list[RecordSet]:
        with self._lock:
            return sorted(_as_read(r) for r in self._records(zone).values())

    def records_at(self, zone: Zone, names: Sequence[str]) -> list[RecordSet]:
        wanted = {name.lower().rstrip(".") for name in names}
        with self._lock:
            return sorted(_as_read(r) for r in self._records(zone).values() if r.name in wanted)

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        with self._lock:
            self.requests += 1
            current = self._records(zone)
            staged = dict(current)
            for change in changes:
                _apply(staged, zone, change)
            current.clear()
            current.update(staged)
            if self._zone_file is not None:
                self._save(self._zone_file)

    def write(self, zone: Zone, record: RecordSet) -> None:
        """Put `record` in the zone unconditionally, as someone other than dnslb would (tests use it)."""
        with self._lock:
            self._records(zone)[record.key] = record

    def _records(self, zone: Zone) -> dict[Key, RecordSet]:
        if zone.name not in self._zones:
            raise ProviderError(f"no zone {zone.name}")
        return self._zones[zone.name]

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        for zone, records in data.items():
            self._zones.setdefault(zone, {})
            for name, type_, ttl, values, *exact in records:
                record = RecordSet(name, type_, ttl, tuple(values), tuple(exact[0]) if exact else ())
                self._zones[zone][record.key] = record

    def _save(self, path: Path) -> None:
        data = {zone: [_saved(r) for r in sorted(records.values())] for zone, records in self._zones.items()}
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
        os.replace(temporary, path)


def _apply(staged: dict[Key, RecordSet], zone: Zone, change: Change) -> None:
    """One change onto `staged`; Rejected (or its Conflict) when it must not go ahead."""
    record = change.record
    if not (record.name == zone.name or record.name.endswith("." + zone.name)):
        raise Rejected(f"{change.action} of {record.name} {record.type}: the name is not in zone {zone.name}")
    standing = staged.get(record.key)
    if change.action == "create":
        if standing is not None:
            raise Conflict(f"create of {record.name} {record.type}: a record set stands ({standing})")
        staged[record.key] = record
        return
    expected = change.previous if change.action == "update" else record
    if expected is None:
        raise Rejected(f"update of {record.name} {record.type}: the change does not say what it replaces")
    if standing != expected:
        now = f"it stands as {standing}" if standing is not None else "there is none"
        raise Conflict(f"{change.action} of {record.name} {record.type}: expected {expected}, but {now}")
    if change.action == "update":
        staged[record.key] = record
    elif change.action == "delete":
        del staged[record.key]


def _as_read(record: RecordSet) -> RecordSet:
    return record if record.exact else RecordSet(record.name, record.type, record.ttl, record.values, record.values)


def _saved(record: RecordSet) -> list[object]:
    saved: list[object] = [record.name, record.type, record.ttl, list(record.values)]
    if record.exact and record.exact != record.values:
        saved.append(list(record.exact))
    return saved


def create(settings: Mapping[str, str], secret: Mapping[str, str]) -> InMemoryProvider:
    zones = [z.strip() for z in settings.get("zones", "").split(",") if z.strip()]
    if not zones:
        raise ProviderError("inmemory provider needs settings.zones (comma-separated zone names)")
    zone_file = settings.get("zoneFile")
    return InMemoryProvider(zones, Path(zone_file) if zone_file else None)
