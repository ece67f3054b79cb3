"""Which changes must not go ahead because the zone is not as dnslb read it; PowerDNS would not refuse them itself.

PowerDNS has no conditional write: its REPLACE overwrites whatever stands, and its DELETE removes whatever stands. So
before each PATCH the provider reads the record sets the changes name and checks every change against them: a create
only where no record set of that name and type stands (not even one of disabled records); an update only while the
set stands as its `previous`, a delete and a require only while it stands as the change names it. Record sets are
compared as dnslb compares them (canonical values and TTL; enabled records only, as `records` lists them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dnslb.provider import Change, RecordSet

Key = tuple[str, str]


@dataclass(frozen=True)
class Standing:
    """Record sets as they stand: `records` as dnslb reads them, `present` every key with any record, disabled
    included."""

    records: Mapping[Key, RecordSet]
    present: frozenset[Key]


def names(changes: Sequence[Change]) -> list[str]:
    return sorted({change.record.name for change in changes})


def violations(changes: Sequence[Change], standing: Standing) -> list[str]:
    """Why each change must not go ahead, one line each naming the change's name and type."""
    return [problem for change in changes if (problem := _violation(change, standing))]


def _violation(change: Change, standing: Standing) -> str:
    record = change.record
    what = f"{change.action} of {record.name} {record.type}"
    current = standing.records.get(record.key)
    if change.action == "create":
        if record.key not in standing.present:
            return ""
        return f"{what}: a record set stands ({current or 'disabled records only'})"
    expected = change.previous if change.action == "update" else record
    if expected is None or current == expected:
        return ""
    now = f"it stands as {current}" if current is not None else "there is none"
    return f"{what}: expected {expected}, but {now}"
