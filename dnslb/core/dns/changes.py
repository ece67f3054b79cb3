"""The DNS changes for one zone: (claims, current records, owner, policy) → groups of changes. Pure.

Rules:
- A name is ours when its ownership TXT names our owner ID. Ours we create, update and (policy sync) delete.
- Records at a claimed name that nobody owns are foreign: left alone, unless the provider has `takeover` on; then
  they are replaced and handed back in `Group.replaced` so the caller saves them for `dnslb dns rollback`.
- A name owned by another owner ID is never touched, and neither is a name whose ownership name holds anything dnslb
  did not write (any type, any content): it is foreign, refused with a reason, and no request is made for it.
- Writes are conditional (see `dnslb.provider`): a change to a name we own also carries a `require` of its ownership
  record, so a name whose ownership changed behind our cache fails instead of being overwritten.
- A hostname whose ownership name would be longer than the provider's names may be is refused.
- Claims held back by the gate (`waiting`, see `gate`) create and change nothing, and what stands at their names
  stays: a published name is never withdrawn because its VIP stopped being announced.
- Deletes only when the caller says the source was read completely (`may_delete`): an empty or failed read of the
  cluster must never look like "every Service is gone".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, Diagnostic
from dnslb.core.dns import gate
from dnslb.core.dns.batch import Group
from dnslb.core.dns.desired import Claim
from dnslb.core.dns.registry import (
    Ownership,
    hostname_of,
    ownership_name,
    ownership_of,
    ownership_record,
    resource_of,
)
from dnslb.core.objects import ObjectRef
from dnslb.provider import MAX_NAME_LENGTH, Change, RecordSet

Policy = Literal["sync", "upsert-only", "create-only"]
ADDRESS_TYPES = ("A", "AAAA")
MANAGED_TYPES = ("A", "AAAA", "CNAME")  # what may stand at a name we publish, and what takeover replaces


@dataclass(frozen=True)
class ZoneChanges:
    groups: tuple[Group, ...]  # one per hostname: its records and its ownership TXT
    refused: tuple[Diagnostic, ...]  # claims left unpublished, and why
    replaced: tuple[RecordSet, ...] = ()  # foreign record sets taken over: save them before applying
    foreign: tuple[str, ...] = ()  # claimed hostnames whose ownership name holds what dnslb did not write
    pending: tuple[Diagnostic, ...] = ()  # waiting claims not published yet

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for g in self.groups for c in g.changes)


def zone_changes(
    claims: Sequence[Claim],
    current: Sequence[RecordSet],
    owner: str,
    *,
    policy: Policy = "sync",
    takeover: bool = False,
    may_delete: bool = True,
    held: Collection[ObjectRef] = (),
    waiting: Sequence[Claim] = (),
    max_name: int = MAX_NAME_LENGTH,
) -> ZoneChanges:
    """`held`: objects whose claims could not be made this pass; the names they own are not deleted. `waiting`:
    claims the gate holds back; nothing is written for them, and what stands at their names is not deleted."""
    at: dict[str, dict[str, RecordSet]] = {}
    for record in current:
        at.setdefault(record.name, {})[record.type] = record
    owners: dict[str, tuple[str, RecordSet]] = {}
    foreign: dict[str, RecordSet] = {}  # hostname -> a record at its ownership name that dnslb did not write
    claimed_elsewhere: set[str] = set()
    kept = {resource_of(key) for key in held}
    for record in current:
        hostname = hostname_of(record.name)
        if hostname is None:
            continue
        found = _ownership(record)
        if found is None:
            foreign[hostname] = record
            continue
        owners[hostname] = (found.owner, record)
        if found.resource in kept:
            claimed_elsewhere.add(hostname)

    groups: list[Group] = []
    refused: list[Diagnostic] = []
    replaced: list[RecordSet] = []
    foreign_claimed: list[str] = []
    claimed = {c.hostname for c in claims} | {c.hostname for c in waiting} | claimed_elsewhere
    not_yet = tuple(
        gate.pending(c) for c in sorted(waiting, key=lambda c: c.hostname) if owners.get(c.hostname, ("",))[0] != owner
    )
    for claim in sorted(claims, key=lambda c: c.hostname):
        standing = {t: r for t, r in at.get(claim.hostname, {}).items() if t in MANAGED_TYPES}
        ownership = owners.get(claim.hostname)
        wanted_txt = ownership_record(claim.hostname, owner, resource_of(claim.owner), claim.ttl)
        if len(wanted_txt.name) > max_name:
            reason = (
                f"its ownership record name {wanted_txt.name} is {len(wanted_txt.name)} characters long; "
                f"the provider takes at most {max_name}"
            )
            refused.append(_refused(claim, reason))
            continue
        if claim.hostname in foreign:
            stray = foreign[claim.hostname]
            reason = (
                f"{stray.name} holds a {stray.type} record dnslb did not write ({_shown(stray)}); the name is foreign"
            )
            refused.append(_refused(claim, reason))
            foreign_claimed.append(claim.hostname)
            continue
        if ownership is not None and ownership[0] != owner:
            refused.append(_refused(claim, f"owned by another dnslb (owner {ownership[0]})"))
            continue
        if ownership is None and standing and not takeover:
            kinds = "/".join(sorted(standing))
            reason = f"{kinds} records dnslb does not own stand at this name; set takeover on the DNSProvider"
            refused.append(_refused(claim, reason))
            continue
        changes = _record_changes(claim, standing, policy, ours=ownership is not None)
        if ownership is None:
            changes.append(Change("create", wanted_txt))
        elif ownership[1] != wanted_txt and policy != "create-only":
            changes.append(Change("update", wanted_txt, ownership[1]))
        elif changes:
            changes.append(Change("require", ownership[1]))
        if changes:
            groups.append(Group(claim.hostname, tuple(changes)))
            if ownership is None:
                replaced += sorted(standing.values())

    if policy == "sync" and may_delete:
        for hostname, (holder, txt) in sorted(owners.items()):
            if holder != owner or hostname in claimed:
                continue
            ours = [r for t, r in sorted(at.get(hostname, {}).items()) if t in ADDRESS_TYPES]
            groups.append(Group(hostname, (*(Change("delete", r) for r in ours), Change("delete", txt))))
    return ZoneChanges(tuple(groups), tuple(refused), tuple(replaced), tuple(foreign_claimed), not_yet)


def _ownership(record: RecordSet) -> Ownership | None:
    """The ownership an ownership record states; None for anything else found at an ownership name."""
    if record.type != "TXT" or len(record.values) != 1:
        return None
    return ownership_of(record)


def _shown(record: RecordSet, most: int = 60) -> str:
    text = " ".join(record.values)
    return repr(text if len(text) <= most else text[:most] + "...")


def _refused(claim: Claim, message: str) -> Diagnostic:
    return Diagnostic(claim.owner, DNS_NOT_PUBLISHED, message, about=claim.hostname)


def _record_changes(claim: Claim, standing: dict[str, RecordSet], policy: Policy, *, ours: bool) -> list[Change]:
    wanted = {r.type: r for r in claim.records}
    changes: list[Change] = []
    for type_, record in sorted(wanted.items()):
        have = standing.get(type_)
        if have is None:
            changes.append(Change("create", record))
        elif have != record and (policy != "create-only" or not ours):
            changes.append(Change("update", record, have))
    for type_, have in sorted(standing.items()):
        if type_ in wanted:
            continue
        # ours: a family the Service no longer has (policy permitting); foreign (takeover): anything in the way
        if not ours or policy == "sync":
            changes.append(Change("delete", have))
    return changes


def rollback_changes(saved: Sequence[RecordSet], current: Sequence[RecordSet], owner: str) -> list[Group]:
    """Put saved (taken-over) record sets back exactly, removing ours at those names (and our ownership records)."""
    at: dict[tuple[str, str], RecordSet] = {r.key: r for r in current}
    by_name: dict[str, list[RecordSet]] = {}
    for record in saved:
        by_name.setdefault(record.name, []).append(record)
    groups = []
    for hostname, records in sorted(by_name.items()):
        changes: list[Change] = []
        old_types = {r.type for r in records}
        for type_ in MANAGED_TYPES:
            have = at.get((hostname, type_))
            if have is not None and type_ not in old_types:
                changes.append(Change("delete", have))
        for record in sorted(records):
            have = at.get(record.key)
            if have is None:
                changes.append(Change("create", record))
            elif have != record:
                changes.append(Change("update", record, have))
        txt = at.get((ownership_name(hostname), "TXT"))
        found = ownership_of(txt) if txt is not None else None
        if txt is not None and found is not None and found.owner == owner:
            changes.append(Change("delete", txt))
        if changes:
            groups.append(Group(hostname, tuple(changes)))
    return groups
