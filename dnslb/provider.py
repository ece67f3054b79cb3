"""The DNS provider plugin API: what a provider is, the values it takes and returns, and the errors it raises.

A provider is registered under the entry-point group `dnslb.providers` as a factory
`create(settings: Mapping[str, str], secret: Mapping[str, str]) -> Provider`, configured by a DNSProvider resource
(`spec.settings`, and the Secret named by `spec.secretRef`). `dnslb_testkit.conformance` checks one against its real
server.

Values are plain and canonical, so that plans compare by equality:
- names are lowercase FQDNs without the trailing dot (`web.example.test`, `*.apps.example.test`);
- A/AAAA values are addresses in their compressed text form; CNAME, NS and PTR values are names as above;
- a TXT value is its text, unquoted and unsplit (the provider quotes, escapes and splits into 255-byte strings);
- MX, SRV and NAPTR values are their zone-file presentation with every name as above and the root as `.`
  (`10 mail.example.test`, `10 5 443 sip.example.test`, `0 0 0 .`); `canonical_value` makes one from any spelling
  of presentation form, `absolute_value` gives it back with trailing dots (PowerDNS, external-dns's SRV and NAPTR);
- `values` are sorted and unique.

A provider declares the record types it can write (`Limits.record_types`); dnslb sends it no other, and says why.

A record set read from a provider also carries `exact`: its values exactly as the provider returned them (the
provider's own spelling, quoting and order). Providers send `exact` when they have it — in deletes, in the
`previous` of an update, in a `require`, and when a saved (taken-over) record set is restored — so a write matches
byte for byte what stands, and a rollback restores byte for byte what was there.

Every write is conditional: a provider must refuse (raise `Conflict`) rather than overwrite a record set that is not
what dnslb expects — a `create` where one stands, an `update` or `delete` or `require` whose record set differs from
`previous` (or `record`). A provider that cannot make a write conditional says so in its docstring.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

# dnspython's rdata and name parsers only: no I/O (the resolver and query modules are never imported here)
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tokenizer

ENTRY_POINT_GROUP = "dnslb.providers"

# The record types dnslb publishes: those external-dns's DNSEndpoint knows, but DNAME
RECORD_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT", "NS", "MX", "SRV", "PTR", "NAPTR"})
# What a provider that declares nothing can write (`Limits.record_types`)
BASIC_RECORD_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT"})

# `require`: change nothing, but refuse the whole request unless the record set stands exactly as given (a guard on
# a name's ownership record while its other record sets change)
Action = Literal["create", "update", "delete", "require"]
WRITES: tuple[Action, ...] = ("create", "update", "delete")

# The longest name in text form (RFC 1035: 255 bytes on the wire)
MAX_NAME_LENGTH = 253


@dataclass(frozen=True, order=True)
class RecordSet:
    name: str
    type: str
    ttl: int
    values: tuple[str, ...]
    # the values as the provider returned them, for the provider's own use; () when dnslb made the record set
    exact: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @staticmethod
    def of(name: str, type_: str, ttl: int, values: Iterable[str], exact: Iterable[str] = ()) -> RecordSet:
        return RecordSet(name.lower().rstrip("."), type_, ttl, tuple(sorted(set(values))), tuple(exact))

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    def __str__(self) -> str:
        return f"{self.name} {self.ttl} {self.type} {' '.join(self.values)}"


@dataclass(frozen=True)
class Change:
    """One record-set change. `update` replaces the whole set; `previous` is what it replaces, exactly as read.

    A delete and a require name the record set exactly as it stands; a create expects no record set of that name and
    type. When they do not match what stands, the whole request fails with `Conflict`.
    """

    action: Action
    record: RecordSet
    previous: RecordSet | None = None

    def __str__(self) -> str:
        return f"{self.action} {self.record}"


@dataclass(frozen=True)
class Zone:
    name: str
    id: str = ""


@dataclass(frozen=True, order=True)
class Cost:
    """What a change or a request spends of a provider's limits."""

    changes: int = 0
    values: int = 0
    bytes: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.changes + other.changes, self.values + other.values, self.bytes + other.bytes)


@dataclass(frozen=True)
class Limits:
    """A provider's limits on one request (None: no limit of that kind) and on its request rate."""

    max_changes: int | None = None
    max_values: int | None = None
    max_bytes: int | None = None
    requests_per_second: float | None = None
    max_name: int = MAX_NAME_LENGTH  # the longest record name, in text form without the trailing dot
    # not a limit on a request: the record types the provider can write at all (of RECORD_TYPES); never lowered
    record_types: frozenset[str] = BASIC_RECORD_TYPES

    def fits(self, cost: Cost) -> bool:
        return not any(
            limit is not None and used > limit
            for used, limit in (
                (cost.changes, self.max_changes),
                (cost.values, self.max_values),
                (cost.bytes, self.max_bytes),
            )
        )

    def lowered(self, overrides: Limits) -> Limits:
        """These limits, lowered (never raised) by an operator's overrides."""

        def lower(mine: float | None, theirs: float | None) -> float | None:
            if theirs is None:
                return mine
            return theirs if mine is None else min(mine, theirs)

        return Limits(
            max_changes=_int(lower(self.max_changes, overrides.max_changes)),
            max_values=_int(lower(self.max_values, overrides.max_values)),
            max_bytes=_int(lower(self.max_bytes, overrides.max_bytes)),
            requests_per_second=lower(self.requests_per_second, overrides.requests_per_second),
            max_name=min(self.max_name, overrides.max_name),
            record_types=self.record_types,
        )


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


@functools.lru_cache(maxsize=65_536)
def canonical_value(type_: str, text: str) -> str:
    """One value of a `type_` record set, given in zone-file presentation form (every name taken as absolute, with
    its trailing dot or without; TXT as quoted strings), as dnslb keeps it (see above). ValueError, saying why, when
    `text` is not exactly one such value: a comment or a second line is refused, not dropped."""
    rdtype = _rdtype(type_)
    rdata = _parsed(rdtype, text)
    if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
        try:
            return b"".join(rdata.strings).decode()
        except UnicodeDecodeError:
            raise ValueError("is not UTF-8 text") from None
    if type_ in ("A", "AAAA"):
        return rdata.to_text()
    # names lowercase, as DNSSEC's canonical form writes them, then relative to the root: no trailing dot
    wire = rdata.to_digestable()
    lowered = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, wire, 0, len(wire))
    shown = lowered.to_text(origin=dns.name.root, relativize=True)
    # the root relative to itself is "@"; in these types a name field stands last
    return shown[:-1] + "." if shown == "@" or shown.endswith(" @") else shown


@functools.lru_cache(maxsize=65_536)
def absolute_value(type_: str, value: str) -> str:
    """A canonical value in presentation form with every name absolute (a trailing dot), as zone files and
    PowerDNS write it; TXT as quoted strings of at most 255 bytes. ValueError when `value` is not canonical."""
    rdtype = _rdtype(type_)
    if rdtype == dns.rdatatype.TXT:
        data = value.encode()
        strings = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, rdtype, strings).to_text()
    return _parsed(rdtype, value).to_text()


def _rdtype(type_: str) -> dns.rdatatype.RdataType:
    try:
        rdtype = dns.rdatatype.from_text(type_)
    except dns.exception.DNSException:
        raise ValueError(f"{type_!r} is not a record type") from None
    if dns.rdatatype.is_metatype(rdtype):
        raise ValueError(f"{type_} is not a type of record set (a query or message type)")
    return rdtype


def _parsed(rdtype: dns.rdatatype.RdataType, text: str) -> dns.rdata.Rdata:
    try:
        tokens = dns.tokenizer.Tokenizer(text)
        while not (token := tokens.get(want_comment=True)).is_eof():
            if token.is_comment():
                raise ValueError("has a comment: ';' starts one outside quotes")
            if token.is_eol():
                raise ValueError("is more than one line")
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text, origin=dns.name.root, relativize=False)
    except ValueError:
        raise
    except Exception as invalid:  # dnspython raises its own syntax errors, and others for odd input
        raise ValueError(str(invalid) or type(invalid).__name__) from None


def default_cost(change: Change) -> Cost:
    """One change, its values, and the characters of its values."""
    return Cost(1, len(change.record.values), sum(len(v) for v in change.record.values))


class ProviderError(Exception):
    """Base of what `zones`, `records` and `apply` may raise; the message is shown to operators."""


class Throttled(ProviderError):
    """The provider asks us to slow down; retry the same request later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Transient(ProviderError):
    """A failure that may pass (timeout, 5xx, connection reset); retry with backoff."""


class Rejected(ProviderError):
    """The provider refused this request's content; retrying it unchanged will fail again."""


class Conflict(Rejected):
    """A conditional write found the zone not as dnslb read it (a record set created, changed or deleted since)."""


class Unauthorized(ProviderError):
    """Credentials are missing or wrong; nothing will work until the operator fixes them."""


@runtime_checkable
class Provider(Protocol):
    """One DNS provider account. Implementations must be safe to call from one thread at a time."""

    @property
    def limits(self) -> Limits: ...

    def cost(self, change: Change) -> Cost:
        """What `change` spends of `limits` when sent in one request (e.g. Route53 counts UPSERT twice)."""
        ...

    def zones(self) -> list[Zone]: ...

    def records(self, zone: Zone) -> list[RecordSet]:
        """Every record set in `zone`, all pages read (SOA and NS included or not, as the provider likes)."""
        ...

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        """Send `changes` as ONE request (the packer has already fitted them to `limits`)."""
        ...


@dataclass(frozen=True)
class Page:
    """One page of a zone's record sets, and where the next one starts (None: this was the last)."""

    records: tuple[RecordSet, ...]
    next: str | None = None


@runtime_checkable
class PagedReader(Protocol):
    """Optional: a provider whose zone listing comes in pages implements this, so a read that fails part way (a
    throttled page) goes on from that page instead of from the first."""

    def records_page(self, zone: Zone, start: str | None) -> Page:
        """The page of `zone` that begins at `start` (None: the first); one request."""
        ...


@runtime_checkable
class NameReader(Protocol):
    """Optional: read the record sets at a few names, so a failed conditional write costs a read of those names,
    not of the whole zone."""

    def records_at(self, zone: Zone, names: Sequence[str]) -> list[RecordSet]:
        """Every record set (of any type) at exactly these names, read from the provider now."""
        ...


class ProviderFactory(Protocol):
    def __call__(self, settings: Mapping[str, str], secret: Mapping[str, str]) -> Provider: ...
