"""The DNS provider plugin API: what a provider is, the values it takes and returns, and the errors it raises.

A provider is registered under the entry-point group `dnslb.providers` as a factory
`create(settings: Mapping[str, str], secret: Mapping[str, str]) -> Provider`, configured by a DNSProvider resource
(`spec.settings`, and the Secret named by `spec.secretRef`). `dnslb_testkit.conformance` checks one against its real
server.

Values are plain and canonical, so that plans compare by equality:
- names are lowercase FQDNs without the trailing dot (`web.example.test`, `*.apps.example.test`);
- A/AAAA values are addresses in their compressed text form; CNAME values are names as above;
- a TXT value is its text, unquoted and unsplit (the provider quotes, escapes and splits into 255-byte strings);
- `values` are sorted and unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

ENTRY_POINT_GROUP = "dnslb.providers"

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True, order=True)
class RecordSet:
    name: str
    type: str
    ttl: int
    values: tuple[str, ...]

    @staticmethod
    def of(name: str, type_: str, ttl: int, values: Iterable[str]) -> RecordSet:
        return RecordSet(name.lower().rstrip("."), type_, ttl, tuple(sorted(set(values))))

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    def __str__(self) -> str:
        return f"{self.name} {self.ttl} {self.type} {' '.join(self.values)}"


@dataclass(frozen=True)
class Change:
    """One record-set change. `update` replaces the whole set (Route53's UPSERT); `previous` is what it replaces.

    A delete names the record set exactly as it stands (Route53 refuses a delete that does not match).
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
        )


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


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


class ProviderFactory(Protocol):
    def __call__(self, settings: Mapping[str, str], secret: Mapping[str, str]) -> Provider: ...
