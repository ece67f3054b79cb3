"""Ownership records: a TXT record beside each name dnslb manages, saying which owner and which object (a Service,
an Ingress, a Gateway API route, a DNSEndpoint) it is for.

The TXT lives at `_dnslb.<hostname>` (a leading `*` label becomes `_wildcard`), not at the hostname itself, so it
never mixes with TXT records the operator keeps at that name (SPF, site verification, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.provider import RECORD_TYPES, RecordSet

PREFIX = "_dnslb."
HERITAGE = "heritage=dnslb"
TYPES = "dnslb/types"


@dataclass(frozen=True)
class Ownership:
    owner: str
    resource: str  # "<kind>/<namespace>/<name>", the kind in lowercase: "service/web/shop", "ingress/team-a/www"
    # the record types beyond A, AAAA and CNAME dnslb wrote at the name ("dnslb/types=MX+TXT"; a DNSEndpoint's), so
    # that those it did not write there (an operator's SPF TXT) stay theirs
    types: tuple[str, ...] = ()


def ownership_name(hostname: str) -> str:
    if hostname.startswith("*."):
        return f"{PREFIX}_wildcard.{hostname[2:]}"
    return PREFIX + hostname


def hostname_of(name: str) -> str | None:
    """The hostname an ownership record's name stands for, or None if `name` is no ownership name."""
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX) :]
    return "*." + rest[len("_wildcard.") :] if rest.startswith("_wildcard.") else rest


# the kinds that own names, by the lowercase spelling ownership records use
KINDS = {
    k.lower(): k
    for k in ("Service", "Ingress", "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute", "DNSEndpoint")
}


def resource_of(owner: ObjectRef) -> str:
    return f"{owner.kind.lower()}/{owner.key.namespace}/{owner.key.name}"


def owner_of(resource: str) -> ObjectRef | None:
    """The object an ownership record's resource names (`resource_of` read back); None for anything else."""
    kind, _, rest = resource.partition("/")
    namespace, _, name = rest.partition("/")
    if kind not in KINDS or not namespace or not name or "/" in name:
        return None
    return ObjectRef(KINDS[kind], ObjectKey(namespace, name))


def ownership_text(owner: str, resource: str, types: Iterable[str] = ()) -> str:
    listed = "+".join(sorted(types))
    return f"{HERITAGE},dnslb/owner={owner},dnslb/resource={resource}" + (f",{TYPES}={listed}" if listed else "")


def ownership_record(hostname: str, owner: str, resource: str, ttl: int, types: Iterable[str] = ()) -> RecordSet:
    return RecordSet.of(ownership_name(hostname), "TXT", ttl, [ownership_text(owner, resource, types)])


@functools.lru_cache(maxsize=1 << 17)  # every pass reads every ownership record of every zone again
def parse_ownership(text: str) -> Ownership | None:
    fields = dict(part.partition("=")[::2] for part in text.split(","))
    if f"heritage={fields.get('heritage')}" != HERITAGE or "dnslb/owner" not in fields:
        return None
    types = tuple(t for t in fields.get(TYPES, "").split("+") if t in RECORD_TYPES)
    return Ownership(fields["dnslb/owner"], fields.get("dnslb/resource", ""), types)


def ownership_of(record: RecordSet) -> Ownership | None:
    if record.type != "TXT":
        return None
    for value in record.values:
        found = parse_ownership(value)
        if found is not None:
            return found
    return None
