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

Record types (a DNSEndpoint may want any of `dnslb.provider.RECORD_TYPES` at a name):
- A claim's record set of a type the provider does not write (`types`, its `Limits.record_types`) is refused with a
  reason; the claim's other record sets are still published.
- What is ours at a name we own: A, AAAA and CNAME (all dnslb wrote before it wrote other types), and the other types
  its ownership record lists (`dnslb/types=MX+TXT`, written only when there are any). So a TXT or MX the operator keeps
  at a name dnslb publishes addresses for stays theirs: never changed, never deleted with the name.
- What is in the way of a claim, and so refused without takeover and replaced (saved) with it: a record set nobody
  owns of a type the claim wants; a CNAME (it stands beside nothing); anything, when the claim wants a CNAME; an A or
  AAAA when the claim wants addresses (the all-nodes record of the other family goes too, as before).
- A CNAME never stands beside other data (RFC 1034 §3.6.2): a claim with a CNAME and other record sets loses the
  CNAME (the addresses win, as in external-dns's planner), and a CNAME has exactly one target. Sources already hold to
  this (`dnslb.core.sources.dnsendpoint`); the rule is kept here too, for every claim.
- At a zone apex (where an SOA stands) the SOA and NS are the zone's: never in the way, never taken over; a CNAME or
  NS claim there is refused.
- Names under `_dnslb.` (and `_wildcard.`, the ownership name of a wildcard's label) are the ownership records':
  refused as hostnames.
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
from dnslb.provider import BASIC_RECORD_TYPES, MAX_NAME_LENGTH, RECORD_TYPES, Change, RecordSet

Policy = Literal["sync", "upsert-only", "create-only"]
ADDRESS_TYPES = ("A", "AAAA")
# ours at every name we own, whatever its ownership record lists (what dnslb wrote before it wrote other types)
MANAGED_TYPES = ("A", "AAAA", "CNAME")
ZONE_TYPES = ("SOA", "NS")  # at a zone apex: the zone's own


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
    types: Collection[str] = BASIC_RECORD_TYPES,
) -> ZoneChanges:
    """`held`: objects whose claims could not be made this pass; the names they own are not deleted. `waiting`:
    claims the gate holds back; nothing is written for them, and what stands at their names is not deleted.
    `types`: the record types the provider writes (`Limits.record_types`)."""
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
        ownership = owners.get(claim.hostname)
        wanted_txt = ownership_record(claim.hostname, owner, resource_of(claim.owner), claim.ttl)
        if len(wanted_txt.name) > max_name:
            reason = (
                f"its ownership record name {wanted_txt.name} is {len(wanted_txt.name)} characters long; "
                f"the provider takes at most {max_name}"
            )
            refused.append(_refused(claim, reason))
            continue
        if _reserved(claim.hostname):
            refused.append(_refused(claim, f"names under {ownership_name('')} hold dnslb's ownership records"))
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
        standing_here = at.get(claim.hostname, {})
        apex = "SOA" in standing_here
        wanted, problems = _writable(claim.records, types, apex=apex)
        refused += (_refused(claim, problem) for problem in problems)
        if not wanted:
            continue
        mine_types = _owned_types(ownership[1]) if ownership is not None else frozenset()
        wanted_types = frozenset(r.type for r in wanted)
        mine = {t: r for t, r in standing_here.items() if t in mine_types}
        in_way = {
            t: r for t, r in standing_here.items() if t not in mine_types and _in_the_way(t, wanted_types, apex=apex)
        }
        if in_way and not takeover:
            kinds = "/".join(sorted(in_way))
            reason = f"{kinds} records dnslb does not own stand at this name; set takeover on the DNSProvider"
            refused.append(_refused(claim, reason))
            continue
        changes, ours_after = _record_changes(wanted, mine, in_way, policy)
        wanted_txt = _ownership_record(claim, owner, ours_after)
        if ownership is None:
            changes.append(Change("create", wanted_txt))
        elif ownership[1] != wanted_txt and (policy != "create-only" or not ours_after <= mine_types):
            # under create-only too when dnslb wrote a type the record does not list yet: else it would not be ours
            changes.append(Change("update", wanted_txt, ownership[1]))
        elif changes:
            changes.append(Change("require", ownership[1]))
        if changes:
            groups.append(Group(claim.hostname, tuple(changes)))
            replaced += sorted(in_way.values())

    if policy == "sync" and may_delete:
        for hostname, (holder, txt) in sorted(owners.items()):
            if holder != owner or hostname in claimed:
                continue
            mine_types = _owned_types(txt)
            ours = [r for t, r in sorted(at.get(hostname, {}).items()) if t in mine_types]
            groups.append(Group(hostname, (*(Change("delete", r) for r in ours), Change("delete", txt))))
    return ZoneChanges(tuple(groups), tuple(refused), tuple(replaced), tuple(foreign_claimed), not_yet)


def _writable(records: Sequence[RecordSet], types: Collection[str], *, apex: bool) -> tuple[list[RecordSet], list[str]]:
    """The claim's record sets this provider may write here, and why each other one is refused."""
    kinds = {r.type for r in records}
    wanted: list[RecordSet] = []
    problems: list[str] = []
    for record in records:
        if record.type not in types:
            problems.append(
                f"{record.type} records are not published: this DNSProvider's type writes {_listing(types)}"
            )
        elif record.type == "CNAME" and len(kinds) > 1:
            others = "/".join(sorted(kinds - {"CNAME"}))
            problems.append(f"a CNAME cannot stand beside other records at one name: the {others} records win")
        elif record.type == "CNAME" and len(record.values) != 1:
            problems.append(f"a CNAME has exactly one target, not {len(record.values)}: the CNAME is not published")
        elif apex and record.type in ("CNAME", "NS"):
            problems.append(f"{record.type} records are not published at the zone apex: its SOA and NS are the zone's")
        else:
            wanted.append(record)
    return wanted, problems


def _listing(types: Collection[str]) -> str:
    known = sorted(t for t in types if t in RECORD_TYPES)
    return ", ".join(known[:-1]) + f" and {known[-1]}" if len(known) > 1 else "".join(known) or "no record type"


def _in_the_way(type_: str, wanted: frozenset[str], *, apex: bool) -> bool:
    """Whether a record set of `type_` that is not ours keeps the claim from being published as it is."""
    if apex and type_ in ZONE_TYPES:
        return False
    if type_ in wanted or type_ == "CNAME" or "CNAME" in wanted:
        return True
    return type_ in ADDRESS_TYPES and any(t in ADDRESS_TYPES for t in wanted)


def _reserved(hostname: str) -> bool:
    """Whether `hostname` is, or could be mistaken for, an ownership record's name."""
    return hostname_of(hostname) is not None or hostname.startswith("_wildcard.")


def _owned_types(txt: RecordSet) -> frozenset[str]:
    """The types that are ours at a name whose ownership record (ours) is `txt`."""
    found = _ownership(txt)
    return frozenset(MANAGED_TYPES) | frozenset(found.types if found is not None else ())


def _ownership_record(claim: Claim, owner: str, types: frozenset[str]) -> RecordSet:
    """The claim's ownership record, listing the types beyond MANAGED_TYPES dnslb writes at the name (if any)."""
    return ownership_record(claim.hostname, owner, resource_of(claim.owner), claim.ttl, types - set(MANAGED_TYPES))


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


def _record_changes(
    wanted: Sequence[RecordSet], mine: dict[str, RecordSet], in_way: dict[str, RecordSet], policy: Policy
) -> tuple[list[Change], frozenset[str]]:
    """The changes that put the wanted record sets at the name, and the types of ours that stand there after them.
    `mine`: ours standing there; `in_way`: foreign record sets in the way (only with takeover)."""
    by_type = {r.type: r for r in wanted}
    changes: list[Change] = []
    for type_, record in sorted(by_type.items()):
        have = mine.get(type_) or in_way.get(type_)
        if have is None:
            changes.append(Change("create", record))
        elif have != record and (policy != "create-only" or type_ in in_way):
            changes.append(Change("update", record, have))
    kept = set(by_type)
    for type_, have in sorted(mine.items()):
        if type_ in by_type:
            continue
        if policy == "sync":  # ours: a type the claim no longer has (policy permitting)
            changes.append(Change("delete", have))
        else:
            kept.add(type_)
    for type_, have in sorted(in_way.items()):
        if type_ not in by_type:  # foreign (takeover): in the way
            changes.append(Change("delete", have))
    return changes, frozenset(kept)


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
        txt = at.get((ownership_name(hostname), "TXT"))
        found = ownership_of(txt) if txt is not None else None
        mine_types = _owned_types(txt) if txt is not None and found is not None and found.owner == owner else ()
        for type_ in sorted({*MANAGED_TYPES, *mine_types}):
            have = at.get((hostname, type_))
            if have is not None and type_ not in old_types:
                changes.append(Change("delete", have))
        for record in sorted(records):
            have = at.get(record.key)
            if have is None:
                changes.append(Change("create", record))
            elif have != record:
                changes.append(Change("update", record, have))
        if txt is not None and found is not None and found.owner == owner:
            changes.append(Change("delete", txt))
        if changes:
            groups.append(Group(hostname, tuple(changes)))
    return groups
