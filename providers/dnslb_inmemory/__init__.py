"""The in-memory DNS provider: dnslb's default, used by `dnslb plan` and dry runs; optionally kept in a zone file.

Settings: `zones` (comma-separated zone names, required), `zoneFile` (a JSON file that holds the records across
restarts; written atomically after every apply). It enforces no request limits.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from dnslb.provider import Change, Cost, Limits, ProviderError, RecordSet, Rejected, Zone, default_cost


class InMemoryProvider:
    def __init__(self, zones: Sequence[str], zone_file: Path | None = None) -> None:
        self._zones = {z.lower().rstrip("."): dict[tuple[str, str], RecordSet]() for z in zones}
        self._zone_file = zone_file
        self._lock = threading.Lock()
        self.requests = 0
        if zone_file is not None and zone_file.exists():
            self._load(zone_file)

    @property
    def limits(self) -> Limits:
        return Limits()

    def cost(self, change: Change) -> Cost:
        return default_cost(change)

    def zones(self) -> list[Zone]:
        return [Zone(name, name) for name in sorted(self._zones)]

    def records(self, zone: Zone) -> list[RecordSet]:
        with self._lock:
            return sorted(self._records(zone).values())

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        with self._lock:
            self.requests += 1
            current = self._records(zone)
            staged = dict(current)
            for change in changes:
                record = change.record
                if not (record.name == zone.name or record.name.endswith("." + zone.name)):
                    raise Rejected(f"{record.name} is not in zone {zone.name}")
                exists = record.key in staged
                if change.action == "create" and exists:
                    raise Rejected(f"{record.name} {record.type} already exists")
                if change.action == "delete":
                    if staged.get(record.key) != record:
                        raise Rejected(f"{record.name} {record.type} does not match the record set to delete")
                    del staged[record.key]
                else:
                    staged[record.key] = record
            current.clear()
            current.update(staged)
            if self._zone_file is not None:
                self._save(self._zone_file)

    def _records(self, zone: Zone) -> dict[tuple[str, str], RecordSet]:
        if zone.name not in self._zones:
            raise ProviderError(f"no zone {zone.name}")
        return self._zones[zone.name]

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        for zone, records in data.items():
            self._zones.setdefault(zone, {})
            for name, type_, ttl, values in records:
                record = RecordSet(name, type_, ttl, tuple(values))
                self._zones[zone][record.key] = record

    def _save(self, path: Path) -> None:
        data = {
            zone: [[r.name, r.type, r.ttl, list(r.values)] for r in sorted(records.values())]
            for zone, records in self._zones.items()
        }
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
        os.replace(temporary, path)


def create(settings: Mapping[str, str], secret: Mapping[str, str]) -> InMemoryProvider:
    zones = [z.strip() for z in settings.get("zones", "").split(",") if z.strip()]
    if not zones:
        raise ProviderError("inmemory provider needs settings.zones (comma-separated zone names)")
    zone_file = settings.get("zoneFile")
    return InMemoryProvider(zones, Path(zone_file) if zone_file else None)
