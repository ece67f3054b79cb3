"""The webhook provider: dnslb's Provider API spoken to an external-dns webhook server over HTTP (httpx)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

import httpx

from dnslb.provider import RECORD_TYPES, Change, Conflict, Cost, Limits, ProviderError, RecordSet, Rejected, Zone
from dnslb_webhook import wire
from dnslb_webhook.errors import error_for_exchange, error_for_status

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, str]

# The protocol sets no size limit, and external-dns sends a whole plan in one request, but the usual server
# frameworks cap request bodies (aiohttp at 1 MiB by default). Half of that keeps every request well clear of such
# caps while a thousand Services' records (about 300 bytes each with their ownership TXT) still fit in one.
MAX_BODY_BYTES = 512 * 1024
# The protocol carries every type external-dns knows and does not say which the server's DNS holds: a server
# refuses a type it cannot write, and that refusal is reported for the name like any other
LIMITS = Limits(max_bytes=MAX_BODY_BYTES - wire.envelope_bytes(), record_types=RECORD_TYPES)


class WebhookProvider:
    """One external-dns webhook server. Its zones are `zones` if given, else the domains its filter includes."""

    def __init__(
        self,
        url: str,
        zones: Sequence[str] = (),
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(base_url=url, timeout=timeout, transport=transport)
        self._configured_zones = tuple(_zone_name(z) for z in zones if _zone_name(z))
        self._known_zones = self._configured_zones

    @property
    def limits(self) -> Limits:
        return LIMITS

    def cost(self, change: Change) -> Cost:
        if change.action == "require":
            return Cost()  # checked before the request, not sent
        return Cost(1, len(change.record.values), wire.change_bytes(change))

    def zones(self) -> list[Zone]:
        """Negotiates on every call (external-dns does it once at start): it is also the check that the server is
        there and speaks version 1 of the protocol."""
        negotiated = self.negotiate()
        names = self._configured_zones or negotiated.include
        if not names:
            raise ProviderError(
                f"the webhook server at {self._client.base_url} names no domains in its domain filter "
                f"({negotiated.body() or 'empty'}); set settings.zones"
            )
        self._known_zones = names
        return [Zone(name, name) for name in sorted(names)]

    def negotiate(self) -> wire.DomainFilter:
        response = self._exchange("GET", "/", accept=True)
        content_type = response.headers.get("Content-Type", "")
        if content_type != wire.MEDIA_TYPE:
            raise ProviderError(
                f"the webhook server at {self._client.base_url} answered negotiation with Content-Type "
                f"{content_type!r}, not {wire.MEDIA_TYPE!r}: it does not speak this protocol version"
            )
        return _decoded(response, wire.domain_filter)

    def records(self, zone: Zone) -> list[RecordSet]:
        """The server lists every record it manages; this keeps those of `zone` (not of a zone nested in it)."""
        return sorted(self._standing(zone).records.values())

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        """Checks every change against a fresh `GET /records`, then sends the writes as one `POST /records`."""
        if not changes:
            return
        outside = [c.record.name for c in changes if not _in_zone(c.record.name, zone.name)]
        if outside:
            raise Rejected(f"not in zone {zone.name}: {', '.join(sorted(set(outside)))}")
        try:
            body = wire.changes_body(changes)
        except wire.WireError as failure:
            raise Rejected(str(failure)) from None
        problems = _violations(changes, self._standing(zone))
        if problems:
            raise Conflict(f"webhook changing zone {zone.name}: nothing sent: {'; '.join(problems)}")
        if body:
            self._exchange("POST", "/records", body=body)

    def adjust(self, records: Iterable[RecordSet]) -> list[RecordSet]:
        """`POST /adjustendpoints`: the record sets as the server would store them (it may drop some).

        external-dns calls this on its desired endpoints before planning, so that a server which normalises
        records (clamps a TTL, say) does not cause an update on every pass. dnslb's Provider API has no such step,
        so the sync loop does not call it; it is here for `dnslb plan` and for a future API hook.
        """
        body = [wire.endpoint_of(r) for r in records]
        response = self._exchange("POST", "/adjustendpoints", body=body, accept=True)
        endpoints = _decoded(response, lambda answer: [wire.from_endpoint(e) for e in wire.endpoints_in(answer)])
        return [e.record for e in endpoints]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebhookProvider:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _standing(self, zone: Zone) -> _Standing:
        response = self._exchange("GET", "/records", accept=True)
        endpoints = _decoded(response, lambda body: [wire.from_endpoint(e) for e in wire.endpoints_in(body)])
        found: dict[Key, RecordSet] = {}
        present: set[Key] = set()
        for endpoint in endpoints:
            record = endpoint.record
            if not _belongs_to(record.name, zone.name, self._known_zones):
                continue
            present.add(record.key)
            if endpoint.set_identifier:
                # a routing-policy member (weighted, geo…); dnslb never writes them and has no value to hold one
                log.debug("skipping %s %s of set %r", record.name, record.type, endpoint.set_identifier)
                continue
            earlier = found.get(record.key)
            if earlier is not None:
                values, exact = earlier.values + record.values, earlier.exact + record.exact
                record = RecordSet.of(record.name, record.type, earlier.ttl, values, exact=exact)
            found[record.key] = record
        return _Standing(found, frozenset(present))

    def _exchange(self, method: str, path: str, *, body: object = None, accept: bool = False) -> httpx.Response:
        # the headers external-dns sends: Accept where it reads an answer, Content-Type where it sends a body
        headers = {"Accept": wire.MEDIA_TYPE} if accept else {}
        content = None
        if body is not None:
            headers["Content-Type"] = wire.MEDIA_TYPE
            content = wire.encode(body)
        request = self._client.build_request(method, path, headers=headers, content=content)
        try:
            response = self._client.send(request)
        except httpx.TransportError as failure:
            raise error_for_exchange(request, failure) from None
        error = error_for_status(response)
        if error is not None:
            raise error
        return response


@dataclass(frozen=True)
class _Standing:
    """The zone's record sets as read (`records`), and every key with any endpoint, routing-set members included."""

    records: Mapping[Key, RecordSet]
    present: frozenset[Key]


def _violations(changes: Sequence[Change], standing: _Standing) -> list[str]:
    """Why changes must not go ahead: a create where a record set stands; an update, delete or require whose record
    set does not stand as the change expects it."""
    problems = []
    for change in changes:
        record = change.record
        what = f"{change.action} of {record.name} {record.type}"
        current = standing.records.get(record.key)
        if change.action == "create":
            if record.key in standing.present:
                problems.append(f"{what}: a record set stands ({current or 'members of a routing set'})")
            continue
        expected = change.previous if change.action == "update" else record
        if current != expected:
            now = f"it stands as {current}" if current is not None else "there is none"
            problems.append(f"{what}: expected {expected}, but {now}")
    return problems


def _belongs_to(name: str, zone: str, zones: Iterable[str]) -> bool:
    """Whether `name` is in `zone` rather than in one of `zones` nested inside it."""
    nested = (z for z in zones if z != zone and _in_zone(z, zone))
    return _in_zone(name, zone) and not any(_in_zone(name, z) for z in nested)


def _decoded(response: httpx.Response, parse: Callable[[object], T]) -> T:
    try:
        return parse(json.loads(response.content or b"null"))
    except ValueError as failure:  # JSON that does not parse, or a wire.WireError
        request = response.request
        raise ProviderError(
            f"webhook {request.method} {request.url.path} answered with a bad body: {failure}"
        ) from None


def _in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def _zone_name(text: str) -> str:
    return text.strip().lower().strip(".")
