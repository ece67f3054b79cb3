"""Which creates and deletes must not go ahead, because PowerDNS would not refuse them itself.

PowerDNS has no "create only if absent": its REPLACE overwrites whatever stands, and its DELETE removes whatever
stands. A plan is made from a cached read, so a record set someone else created (or changed) since would be
silently taken over. So a create or a delete goes ahead only while its record set is absent or stands exactly as the
change names it; the exact match keeps a retry after a lost answer harmless. An update is Route53's UPSERT and goes
ahead unconditionally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dnslb.provider import Change, RecordSet

CHECKED_ACTIONS = ("create", "delete")


def needs_check(changes: Sequence[Change]) -> bool:
    return any(change.action in CHECKED_ACTIONS for change in changes)


def violations(changes: Sequence[Change], standing: Mapping[tuple[str, str], RecordSet]) -> list[str]:
    """Why each checked change must not go ahead; `standing` holds every record set, disabled records included."""
    problems = []
    for change in changes:
        if change.action not in CHECKED_ACTIONS:
            continue
        current = standing.get(change.record.key)
        if current is None or current == change.record:
            continue
        if change.action == "create":
            problems.append(f"cannot create {change.record}: {current} already exists")
        else:
            problems.append(f"cannot delete {change.record}: it now stands as {current}")
    return problems
