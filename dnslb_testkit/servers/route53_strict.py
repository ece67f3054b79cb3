"""A strict Route53 in front of moto: the throttling, quotas and exact change semantics of Route53, which moto does not
enforce, as a child process on 127.0.0.1.

    with StrictRoute53() as route53:                   # moto, then the strict layer in front of it
        client = boto3.client("route53", endpoint_url=route53.url, ...)
        route53.set_limits(Limits(rate=None))          # no throttling
        route53.seed(zone_id, [SeedRecordSet("h1.example.test.", "A", 60, ("10.0.0.1",))])
        route53.counters().throttled

Or as processes: `python -m dnslb_testkit.servers.route53_strict --upstream http://127.0.0.1:MOTOPORT --port N
[--rate 5 --burst 5 --settle 0]` in front of any moto, and `python -m dnslb_testkit.servers.route53_strict moto -p
MOTOPORT` for a moto that can also bulk-load record sets (what `StrictRoute53` starts; see `seed`).

Refused with HTTP 400 and the error body Route53 sends, before anything reaches moto:

- `Throttling` (Rate exceeded): a token bucket per access key (Credential= of the Authorization header; one bucket
  for all unsigned requests) over every Route53 API request, `rate` tokens a second up to `burst`;
- `PriorRequestNotComplete`: a ChangeResourceRecordSets less than `settle` seconds after the last accepted change to
  the same hosted zone finished;
- `InvalidChangeBatch`: more than 1,000 ResourceRecord elements or 32,000 characters of Value in a batch (UPSERT
  counted twice); a name over 255 bytes or a label over 63 in wire form; a name outside the zone; a CREATE of a record
  set that exists; a DELETE that does not match the record set's TTL and values exactly, as text. The batch is played
  in order on a copy of the zone, so a DELETE then a CREATE of the same name replaces it; one bad change refuses the
  whole batch.

Route53 documents InvalidChangeBatch as `<InvalidChangeBatch><Messages><Message>...`, from which botocore reads no
code and no message; what boto3 users see from the real service is code `InvalidChangeBatch` with the messages as
`[one, other]`, which is what the `ErrorResponse` sent here gives.

moto keeps values verbatim (AAAA and CNAME case, TXT quoting), so reads go to moto unchanged, except that a page of
ListResourceRecordSets holds at most 300 record sets, as on Route53. Changes of a zone are serialized (a lock), and
checked against a copy of the zone read from moto once, then kept up to date; it is read again when moto's record-set
count differs from it (a write straight to moto that keeps the count is not noticed). What goes on to moto is
rewritten so that moto ends where Route53 would: names in Route53's form (lower case, bytes other than a-z 0-9 - _ as
`\\ddd` octal); a DELETE as the record set stands; a CREATE as an UPSERT (moto refuses a CREATE identical to an
earlier one in its journal even after that record set was deleted; the layer has checked it does not exist); split
into requests that moto, which counts UPSERTs twice too, accepts. Alias and weighted (SetIdentifier) record sets pass
unchecked.

Control, never throttled nor counted, under /strict/: GET counters, POST counters/reset, POST reset (counters,
buckets, the copies of zones), GET and POST limits (JSON: rate, burst, settle; rate null for no throttling), POST
seed/{zone id} (JSON: {"record_sets": [[name, type, ttl, [value...]]...]}): record sets put in a zone at once, past
throttling and unchecked but for their names, for benchmarks; through the bulk-load route of the moto that
`StrictRoute53` starts (50,000 in seconds), else through moto's API in batches, where moto takes minutes for as many.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import functools
import json
import math
import os
import re
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from xml.etree import ElementTree
from xml.etree.ElementTree import Element, SubElement

import botocore.session
from aiohttp import ClientSession, ClientTimeout, web

from dnslb.adapters.child import Child, ChildStartError
from dnslb_testkit.ports import free_port
from dnslb_testkit.scratch import stop_and_remove
from dnslb_testkit.servers.route53 import MotoServer

__all__ = ["Counters", "DomainName", "Limits", "SeedRecordSet", "StrictLayer", "StrictRoute53", "main"]

NAMESPACE = "https://route53.amazonaws.com/doc/2013-04-01/"
ElementTree.register_namespace("", NAMESPACE)  # so that what is forwarded keeps Route53's default namespace

MAX_RECORDS = 1000
MAX_VALUE_CHARACTERS = 32000
MAX_NAME_BYTES = 255
MAX_LABEL_BYTES = 63
PAGE = 300  # record sets in a page of ListResourceRecordSets, at most

_MODULE = "dnslb_testkit.servers.route53_strict"
_BULK = "/dnslb-strict/"  # moto's bulk load: GET says it is there, POST seed/{zone id} loads
_BULK_HEADER = "X-Dnslb-Strict-Bulk"
_CONTROL = "/strict/"
_UPSTREAM_TIMEOUT = 300.0  # a batch of 1,000 changes to a zone of 50,000 takes moto seconds
_REQUEST_TIMEOUT = 10.0
_SEED_TIMEOUT = 900.0
_READY_TIMEOUT = 30.0
_START_ATTEMPTS = 3
_MAX_BODY = 256 * 1024 * 1024
_ALL_AT_ONCE = 10_000_000  # MaxItems for reading a zone from moto, which has no cap
# moto picks the service by the credential scope; the signature is never checked
_OWN_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=dnslb-strict/20000101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=0"
)
_NOT_FORWARDED = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding", "content-encoding"}
)
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_NAME_TOKEN = re.compile(r"\\([0-3][0-7]{2})|\\(.)|(\.)|(.)", re.DOTALL)
_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_")
_SEED_FORM = '{"record_sets": [[name, type, ttl, [value...]]...]}'
_PRIOR_REQUEST = "The request was rejected because Route 53 was still processing a prior request."

Key = tuple[str, str, str | None]  # a record set: name in Route53's form, type, set identifier


def _q(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


# ------------------------------------------------------------------------------------------------------- names


@dataclass(frozen=True)
class DomainName:
    """A name as DNS has it on the wire: its labels, unescaped and in lower case, without the root."""

    labels: tuple[bytes, ...]

    @classmethod
    def parse(cls, text: str) -> DomainName:
        """Route53's text form: `\\ddd` is an octal byte, `\\x` is x, an unescaped dot ends a label."""
        labels: list[bytes] = []
        label = bytearray()
        for match in _NAME_TOKEN.finditer(text):
            octal, escaped, dot, plain = match.groups()
            if octal is not None:
                label.append(int(octal, 8))
            elif dot is not None:
                labels.append(bytes(label))
                label = bytearray()
            else:
                label += (escaped or plain).encode()
        if label or not labels:
            labels.append(bytes(label))
        return cls(tuple(label.lower() for label in labels))

    @property
    def wire_length(self) -> int:
        return sum(len(label) + 1 for label in self.labels) + 1

    @property
    def text(self) -> str:
        """Route53's form: lower case, every byte but a-z 0-9 - _ as `\\ddd` (octal), a trailing dot."""
        return "".join(f"{_escaped(label)}." for label in self.labels)

    def problem(self) -> str | None:
        def fatal(what: str) -> str:
            return f"FATAL problem: {what} encountered with '{self.text}'"

        if not all(self.labels):
            return fatal("DomainLabelEmpty (Domain label is empty)")
        if any(len(label) > MAX_LABEL_BYTES for label in self.labels):
            return fatal("DomainLabelTooLong (Domain label is too long)")
        if self.wire_length > MAX_NAME_BYTES:
            return fatal("DomainNameTooLong (Domain name is too long)")
        return None

    def within(self, zone: DomainName) -> bool:
        return self.labels[len(self.labels) - len(zone.labels) :] == zone.labels


def _escaped(label: bytes) -> str:
    return "".join(chr(byte) if byte in _PLAIN else f"\\{byte:03o}" for byte in label)


# ------------------------------------------------------------------------------------------------- record sets


@dataclass(frozen=True)
class SeedRecordSet:
    """A simple record set to load with `StrictRoute53.seed`."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]

    def json(self) -> list[object]:
        return [self.name, self.type, self.ttl, list(self.values)]

    @classmethod
    def from_json(cls, data: Any) -> SeedRecordSet:
        name, type_, ttl, values = data
        return cls(str(name), str(type_), int(ttl), tuple(str(v) for v in values))


@dataclass(frozen=True)
class _RecordSet:
    name: str  # as given, or as moto holds it
    type: str
    ttl: int | None
    values: tuple[str, ...]
    set_identifier: str | None = None
    alias: bool = False

    @property
    def simple(self) -> bool:
        return not self.alias and self.set_identifier is None

    @property
    def key(self) -> Key:
        return DomainName.parse(self.name).text, self.type, self.set_identifier


def _record_set_of(element: Element) -> _RecordSet:
    """A ResourceRecordSet element; ValueError without a name or type."""
    name, type_ = element.findtext(_q("Name")), element.findtext(_q("Type"))
    if not name or not type_:
        raise ValueError("a ResourceRecordSet without Name or Type")
    ttl = element.findtext(_q("TTL"))
    values = element.iterfind(f"{_q('ResourceRecords')}/{_q('ResourceRecord')}/{_q('Value')}")
    return _RecordSet(
        name=name,
        type=type_,
        ttl=int(ttl) if ttl is not None else None,
        values=tuple(value.text or "" for value in values),
        set_identifier=element.findtext(_q("SetIdentifier")),
        alias=element.find(_q("AliasTarget")) is not None,
    )


@dataclass(frozen=True)
class _Change:
    action: str
    record_set: _RecordSet
    element: Element

    @property
    def weight(self) -> int:
        return 2 if self.action == "UPSERT" else 1


@dataclass(frozen=True)
class _Batch:
    comment: Element | None
    changes: tuple[_Change, ...]


def _batch_of(body: bytes) -> _Batch:
    """The changes of a ChangeResourceRecordSets body; ValueError if they are not all CREATE, DELETE or UPSERT of a
    named, typed record set (moto then answers as it does)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise ValueError(str(error)) from error
    batch = root.find(_q("ChangeBatch"))
    if batch is None:
        raise ValueError("no ChangeBatch")
    changes = []
    for element in batch.iterfind(f"{_q('Changes')}/{_q('Change')}"):
        action, record_set = element.findtext(_q("Action")), element.find(_q("ResourceRecordSet"))
        if action not in ("CREATE", "DELETE", "UPSERT") or record_set is None:
            raise ValueError(f"a change that is not CREATE, DELETE or UPSERT of a record set: {action}")
        changes.append(_Change(action, _record_set_of(record_set), element))
    return _Batch(batch.find(_q("Comment")), tuple(changes))


def _record_sets_in(body: bytes) -> tuple[list[_RecordSet], tuple[str, str, str | None] | None]:
    """The record sets of a ListResourceRecordSets answer, and where the next page starts (None: the last page)."""
    root = ElementTree.fromstring(body)
    found = [_record_set_of(e) for e in root.iterfind(f"{_q('ResourceRecordSets')}/{_q('ResourceRecordSet')}")]
    if root.findtext(_q("IsTruncated")) != "true":
        return found, None
    name, type_ = root.findtext(_q("NextRecordName")) or "", root.findtext(_q("NextRecordType")) or ""
    return found, (name, type_, root.findtext(_q("NextRecordIdentifier")))


# -------------------------------------------------------------------------------------------------- the rules


def _quota_problem(changes: Sequence[_Change]) -> str | None:
    records = sum(c.weight * len(c.record_set.values) for c in changes)
    if records > MAX_RECORDS:
        return f"Number of records limit of {MAX_RECORDS} exceeded."
    characters = sum(c.weight * sum(len(v) for v in c.record_set.values) for c in changes)
    if characters > MAX_VALUE_CHARACTERS:
        return f"RDATA character limit of {MAX_VALUE_CHARACTERS} exceeded."
    return None


@dataclass(frozen=True)
class _Plan:
    problems: tuple[str, ...]
    staged: Mapping[Key, _RecordSet | None]  # what the batch leaves of each record set it touches (None: deleted)
    forwarded: tuple[Element, ...]  # the changes as moto is to get them


def _plan(changes: Sequence[_Change], zone: DomainName, current: Mapping[Key, _RecordSet]) -> _Plan:
    """Play `changes` in order on `current` (the zone's record sets), as Route53 checks a batch."""
    problems: list[str] = []
    staged: dict[Key, _RecordSet | None] = {}
    forwarded: list[Element] = []
    for change in changes:
        name = DomainName.parse(change.record_set.name)
        problem = name.problem() or _outside(name, zone)
        if problem:
            problems.append(problem)
            continue
        key = (name.text, change.record_set.type, change.record_set.set_identifier)
        now = staged[key] if key in staged else current.get(key)
        problem = _change_problem(change, key, now)
        if problem:
            problems.append(problem)
            continue
        stored_name = now.name if now is not None else name.text
        staged[key] = None if change.action == "DELETE" else replace(change.record_set, name=stored_name)
        forwarded.append(_as_forwarded(change, stored_name, now))
    return _Plan(tuple(problems), staged, tuple(forwarded))


def _outside(name: DomainName, zone: DomainName) -> str | None:
    return None if name.within(zone) else f"RRSet with DNS name {name.text} is not permitted in zone {zone.text}"


def _change_problem(change: _Change, key: Key, now: _RecordSet | None) -> str | None:
    if not change.record_set.simple:
        return None
    named = f"resource record set [name='{key[0]}', type='{key[1]}']"
    if change.action == "CREATE" and now is not None:
        return f"Tried to create {named} but it already exists"
    if change.action == "DELETE" and now is None:
        return f"Tried to delete {named} but it was not found"
    if change.action == "DELETE" and now is not None and not _same(change.record_set, now):
        return f"Tried to delete {named} but the values provided do not match the current values"
    return None


def _same(given: _RecordSet, stored: _RecordSet) -> bool:
    return given.ttl == stored.ttl and sorted(given.values) == sorted(stored.values)


def _as_forwarded(change: _Change, name: str, now: _RecordSet | None) -> Element:
    element = copy.deepcopy(change.element)
    record_set = element.find(_q("ResourceRecordSet"))
    assert record_set is not None  # _batch_of checked
    _set_text(record_set, "Name", name)
    if not change.record_set.simple:
        return element
    if change.action == "DELETE" and now is not None:
        # moto deletes only what matches a CREATE or UPSERT in its journal: the values as they were sent
        _set_text(record_set, "TTL", str(now.ttl))
        _set_values(record_set, now.values)
    elif change.action == "CREATE" and 2 * len(change.record_set.values) <= MAX_RECORDS:
        _set_text(element, "Action", "UPSERT")
    return element


def _set_text(parent: Element, tag: str, text: str) -> None:
    child = parent.find(_q(tag))
    if child is None:
        child = SubElement(parent, _q(tag))
    child.text = text


def _set_values(record_set: Element, values: Iterable[str]) -> None:
    records = record_set.find(_q("ResourceRecords"))
    if records is None:
        records = SubElement(record_set, _q("ResourceRecords"))
    records.clear()
    for value in values:
        SubElement(SubElement(records, _q("ResourceRecord")), _q("Value")).text = value


def _in_requests(changes: Sequence[Element]) -> list[list[Element]]:
    """`changes` split, in order, into batches moto takes: at most 1,000 ResourceRecords, an UPSERT's twice."""
    requests: list[list[Element]] = [[]]
    load = 0
    for change in changes:
        weight = 2 if change.findtext(_q("Action")) == "UPSERT" else 1
        cost = weight * len(change.findall(f".//{_q('Value')}"))
        if requests[-1] and load + cost > MAX_RECORDS:
            requests.append([])
            load = 0
        requests[-1].append(change)
        load += cost
    return requests


def _batch_body(comment: Element | None, changes: Iterable[Element]) -> bytes:
    root = Element(_q("ChangeResourceRecordSetsRequest"))
    batch = SubElement(root, _q("ChangeBatch"))
    if comment is not None:
        batch.append(comment)
    SubElement(batch, _q("Changes")).extend(changes)
    body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _seed_change(record_set: SeedRecordSet) -> Element:
    change = Element(_q("Change"))
    SubElement(change, _q("Action")).text = "UPSERT"
    element = SubElement(change, _q("ResourceRecordSet"))
    SubElement(element, _q("Name")).text = record_set.name
    SubElement(element, _q("Type")).text = record_set.type
    SubElement(element, _q("TTL")).text = str(record_set.ttl)
    _set_values(element, record_set.values)
    return change


# ------------------------------------------------------------------------------------------- limits, counters


@dataclass(frozen=True)
class Limits:
    rate: float | None = 5.0
    """Tokens a second in each account's bucket; None: no throttling."""
    burst: int = 5
    """What a bucket holds (full when first used, and after the limits change)."""
    settle: float = 0.0
    """Seconds after an accepted change to a zone during which the next is PriorRequestNotComplete; 0: never."""

    def json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base: Limits | None = None) -> Limits:
        """`base` with what `data` sets; ValueError if that is not a valid set of limits."""
        limits = base or cls()
        if "rate" in data:
            limits = replace(limits, rate=None if data["rate"] is None else float(data["rate"]))
        if "burst" in data:
            limits = replace(limits, burst=int(data["burst"]))
        if "settle" in data:
            limits = replace(limits, settle=float(data["settle"]))
        if (limits.rate is not None and not limits.rate > 0) or limits.burst < 1 or not limits.settle >= 0:
            raise ValueError(f"rate must be above 0 (or null), burst at least 1, settle at least 0: {limits}")
        return limits


@dataclass(frozen=True)
class Counters:
    requests: Mapping[str, int]
    """Route53 API requests by operation (ChangeResourceRecordSets, ListResourceRecordSets...), refused or not."""
    throttled: int = 0
    prior_request_not_complete: int = 0
    refused_batches: int = 0
    """ChangeResourceRecordSets refused with InvalidChangeBatch by the layer."""
    forwarded: int = 0
    """Requests the layer sent to moto for clients (a batch split in two counts two)."""
    seeded: int = 0
    """Record sets loaded by `seed`."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counters:
        return cls(**{**data, "requests": dict(data["requests"])})


@dataclass
class _Bucket:
    tokens: float
    stamp: float

    def take(self, limits: Limits, now: float) -> bool:
        assert limits.rate is not None
        self.tokens = min(float(limits.burst), self.tokens + (now - self.stamp) * limits.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class _Zone:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    record_sets: dict[Key, _RecordSet] | None = None  # None: to be read from moto
    settled_at: float = -math.inf


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def response(self) -> web.Response:
        return web.Response(status=self.status, headers=self.headers, body=self.body)


@functools.cache
def _operations() -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """(HTTP method, path pattern, operation) of every Route53 operation, from botocore's model of the service."""
    model = botocore.session.get_session().get_service_model("route53")
    found = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = str(http["requestUri"]).split("?")[0].rstrip("/")
        found.append(
            (str(http["method"]), re.compile("[^/]+".join(map(re.escape, re.split(r"\{[^}]+\}", path)))), name)
        )
    return tuple(sorted(found, key=lambda o: -len(o[1].pattern)))


def operation_of(method: str, path: str) -> str:
    path = path.rstrip("/")
    return next((name for m, pattern, name in _operations() if m == method and pattern.fullmatch(path)), "Unknown")


def _account_of(headers: Mapping[str, str]) -> str:
    found = _CREDENTIAL.search(headers.get("Authorization", ""))
    return found.group(1) if found else ""


def _error(code: str, message: str) -> web.Response:
    request_id = str(uuid.uuid4())
    root = Element(_q("ErrorResponse"))
    error = SubElement(root, _q("Error"))
    SubElement(error, _q("Type")).text = "Sender"
    SubElement(error, _q("Code")).text = code
    SubElement(error, _q("Message")).text = message
    SubElement(root, _q("RequestId")).text = request_id
    body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return web.Response(status=400, body=body, headers={"Content-Type": "text/xml", "x-amzn-RequestId": request_id})


# ---------------------------------------------------------------------------------------------- the layer


class StrictLayer:
    """The aiohttp application in front of moto at `upstream`."""

    def __init__(self, upstream: str, limits: Limits) -> None:
        self.upstream = upstream.rstrip("/")
        self.limits = limits
        self._session: ClientSession | None = None
        self._bulk: bool | None = None  # whether moto has the bulk-load route
        self._buckets: dict[str, _Bucket] = {}
        self._zones: dict[str, _Zone] = {}
        self._requests: Counter[str] = Counter()
        self._events: Counter[str] = Counter()

    def application(self) -> web.Application:
        _operations()  # botocore's model loads now, not while the first request is timed
        app = web.Application(client_max_size=_MAX_BODY)
        app.cleanup_ctx.append(self._client)
        app.router.add_get(f"{_CONTROL}counters", self._counters)
        app.router.add_post(f"{_CONTROL}reset", self._reset)
        app.router.add_post(f"{_CONTROL}counters/reset", self._reset_counters)
        app.router.add_get(f"{_CONTROL}limits", self._limits)
        app.router.add_post(f"{_CONTROL}limits", self._set_limits)
        app.router.add_post(f"{_CONTROL}seed/{{zone}}", self._seed)
        app.router.add_route("*", "/{tail:.*}", self._route53)
        return app

    async def _client(self, app: web.Application) -> AsyncIterator[None]:
        async with ClientSession(timeout=ClientTimeout(total=_UPSTREAM_TIMEOUT)) as session:
            self._session = session
            yield

    # control

    async def _counters(self, request: web.Request) -> web.Response:
        counters = Counters(dict(self._requests), **{k: self._events[k] for k in _EVENTS})
        return web.json_response(asdict(counters))

    async def _reset(self, request: web.Request) -> web.Response:
        self._buckets.clear()
        self._zones.clear()
        return await self._reset_counters(request)

    async def _reset_counters(self, request: web.Request) -> web.Response:
        self._requests.clear()
        self._events.clear()
        return web.json_response({})

    async def _limits(self, request: web.Request) -> web.Response:
        return web.json_response(self.limits.json())

    async def _set_limits(self, request: web.Request) -> web.Response:
        try:
            self.limits = Limits.from_json(await request.json(), self.limits)
        except (ValueError, TypeError, AttributeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        self._buckets.clear()
        return web.json_response(self.limits.json())

    async def _seed(self, request: web.Request) -> web.Response:
        zone_id = request.match_info["zone"]
        try:
            record_sets = [SeedRecordSet.from_json(item) for item in (await request.json())["record_sets"]]
        except (ValueError, TypeError, KeyError) as error:
            return web.json_response({"error": f"a seed is {_SEED_FORM}: {error}"}, status=400)
        zone = self._zones.setdefault(zone_id, _Zone())
        async with zone.lock:
            found = await self._zone_name_and_count(zone_id)
            if found is None:
                return web.json_response({"error": f"moto has no hosted zone {zone_id}"}, status=404)
            current = await self._record_sets(zone, zone_id, found[1])
            try:
                placed = _placed(record_sets, found[0], current)
            except ValueError as error:
                return web.json_response({"error": str(error)}, status=400)
            zone.record_sets = None  # read again if moto takes only a part
            await self._load(zone_id, placed)
            current.update({_key(p): _RecordSet(p.name, p.type, p.ttl, p.values) for p in placed})
            zone.record_sets = current
        self._events["seeded"] += len(placed)
        return web.json_response({"seeded": len(placed)})

    async def _load(self, zone_id: str, placed: Sequence[SeedRecordSet]) -> None:
        """Into moto: at once through its bulk-load route if it has one, else through its API in batches of UPSERTs
        (moto, which scans the zone for each, takes minutes for tens of thousands)."""
        if self._bulk is None:  # a plain moto takes the probe for S3's GetObject, which changes nothing
            self._bulk = _BULK_HEADER in (await self._send("GET", _BULK, {})).headers
        if self._bulk:
            rows = json.dumps({"record_sets": [p.json() for p in placed]}).encode()
            answer = await self._send("POST", f"{_BULK}seed/{zone_id}", {"Content-Type": "application/json"}, rows)
            if answer.status != 200:
                raise web.HTTPBadGateway(text=f"moto's bulk load failed: {answer.status} {answer.body[:500]!r}")
            return
        changes = [_seed_change(p) for p in placed]
        for part in _in_requests(changes):
            path = f"/2013-04-01/hostedzone/{zone_id}/rrset/"
            answer = await self._send("POST", path, {"Authorization": _OWN_AUTHORIZATION}, _batch_body(None, part))
            if answer.status != 200:
                raise web.HTTPBadGateway(text=f"moto refused a seed batch: {answer.status} {answer.body[:500]!r}")

    # Route53

    async def _route53(self, request: web.Request) -> web.Response:
        if request.path.startswith("/moto-api/"):
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
            return (await self._send(request.method, request.raw_path, headers, await request.read())).response()
        operation = operation_of(request.method, request.path)
        self._requests[operation] += 1
        if not self._take(_account_of(request.headers)):
            self._events["throttled"] += 1
            return _error("Throttling", "Rate exceeded")
        if operation == "ChangeResourceRecordSets":
            return await self._change(request, request.path.split("/")[3])
        asked = request.query.get("maxitems", "")
        if operation == "ListResourceRecordSets" and asked.isdigit() and int(asked) > PAGE:
            return (await self._forward(request, path=str(request.rel_url.update_query(maxitems=str(PAGE))))).response()
        return (await self._forward(request)).response()

    def _take(self, account: str) -> bool:
        if self.limits.rate is None:
            return True
        now = time.monotonic()
        return self._buckets.setdefault(account, _Bucket(self.limits.burst, now)).take(self.limits, now)

    async def _change(self, request: web.Request, zone_id: str) -> web.Response:
        zone = self._zones.setdefault(zone_id, _Zone())
        async with zone.lock:
            if time.monotonic() - zone.settled_at < self.limits.settle:
                self._events["prior_request_not_complete"] += 1
                return _error("PriorRequestNotComplete", _PRIOR_REQUEST)
            body = await request.read()
            found = await self._zone_name_and_count(zone_id)
            try:
                batch = _batch_of(body)
            except ValueError:
                batch = None
            if batch is None or found is None:  # moto answers as it does; what it may have changed is read again
                zone.record_sets = None
                return (await self._forward(request, body=body)).response()
            current = await self._record_sets(zone, zone_id, found[1])
            problem = _quota_problem(batch.changes)
            plan = _plan(batch.changes, DomainName.parse(found[0]), current)
            if problem or plan.problems:
                self._events["refused_batches"] += 1
                return _error("InvalidChangeBatch", problem or f"[{', '.join(plan.problems)}]")
            answer = await self._forward_changes(request, batch.comment, plan.forwarded)
            if answer.status != 200:
                zone.record_sets = None
                return answer.response()
            for key, record_set in plan.staged.items():
                if record_set is None:
                    current.pop(key, None)
                else:
                    current[key] = record_set
            zone.settled_at = time.monotonic()
            return answer.response()

    async def _forward_changes(
        self, request: web.Request, comment: Element | None, changes: Sequence[Element]
    ) -> _Answer:
        answer = _Answer(200, {}, b"")
        for part in _in_requests(changes):
            answer = await self._forward(request, body=_batch_body(comment, part))
            if answer.status != 200:
                break
        return answer

    # moto

    async def _zone_name_and_count(self, zone_id: str) -> tuple[str, int] | None:
        answer = await self._send("GET", f"/2013-04-01/hostedzone/{zone_id}", {"Authorization": _OWN_AUTHORIZATION})
        if answer.status != 200:
            return None
        zone = ElementTree.fromstring(answer.body).find(_q("HostedZone"))
        if zone is None:
            return None
        return zone.findtext(_q("Name")) or "", int(zone.findtext(_q("ResourceRecordSetCount")) or 0)

    async def _record_sets(self, zone: _Zone, zone_id: str, count: int) -> dict[Key, _RecordSet]:
        """The zone's record sets, read from moto unless the copy kept has as many as moto has."""
        if zone.record_sets is None or len(zone.record_sets) != count:
            zone.record_sets = None
            zone.record_sets = {r.key: r for r in await self._read_zone(zone_id)}
        return zone.record_sets

    async def _read_zone(self, zone_id: str) -> list[_RecordSet]:
        found: list[_RecordSet] = []
        query: dict[str, str] = {"maxitems": str(_ALL_AT_ONCE)}
        while True:
            path = f"/2013-04-01/hostedzone/{zone_id}/rrset?{urllib.parse.urlencode(query)}"
            answer = await self._send("GET", path, {"Authorization": _OWN_AUTHORIZATION})
            if answer.status != 200:
                raise web.HTTPBadGateway(
                    text=f"moto did not list zone {zone_id}: {answer.status} {answer.body[:500]!r}"
                )
            page, following = _record_sets_in(answer.body)
            found += page
            if following is None:
                return found
            name, type_, identifier = following
            query = {"maxitems": str(_ALL_AT_ONCE), "name": name, "type": type_}
            if identifier:
                query["identifier"] = identifier

    async def _forward(self, request: web.Request, *, body: bytes | None = None, path: str | None = None) -> _Answer:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        self._events["forwarded"] += 1
        return await self._send(
            request.method, path or request.raw_path, headers, await request.read() if body is None else body
        )

    async def _send(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> _Answer:
        assert self._session is not None
        async with self._session.request(method, f"{self.upstream}{path}", headers=headers, data=body) as answer:
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _NOT_FORWARDED}
            return _Answer(answer.status, kept, await answer.read())


_EVENTS = ("throttled", "prior_request_not_complete", "refused_batches", "forwarded", "seeded")


def _key(record_set: SeedRecordSet) -> Key:
    return DomainName.parse(record_set.name).text, record_set.type, None


def _placed(
    record_sets: Iterable[SeedRecordSet], zone_name: str, current: Mapping[Key, _RecordSet]
) -> list[SeedRecordSet]:
    """`record_sets` named as moto is to hold them; ValueError naming the first whose name Route53 would refuse."""
    zone = DomainName.parse(zone_name)
    placed = []
    for record_set in record_sets:
        name = DomainName.parse(record_set.name)
        problem = name.problem() or _outside(name, zone)
        if problem:
            raise ValueError(problem)
        stored = current.get(_key(record_set))
        placed.append(replace(record_set, name=stored.name if stored else name.text))
    return placed


# ------------------------------------------------------------------------------------ moto, bulk-loading too


class _BulkLoading:
    """moto's WSGI application, plus GET /dnslb-strict/ (to tell it is there) and POST /dnslb-strict/seed/{zone id}
    with {"record_sets": [[name, type, ttl, [value...]]...]}: each record set put in the zone as an UPSERT through the
    API would put it (replacing one of the same name and type, without set identifier), but without moto's scan of
    the whole zone or its journal for each."""

    def __init__(self, moto: WSGIApplication) -> None:
        self._moto = moto

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        from werkzeug.wrappers import Request, Response

        path, method = str(environ.get("PATH_INFO", "")), environ.get("REQUEST_METHOD")
        if not path.startswith(_BULK):
            return self._moto(environ, start_response)
        answer = Response("not found", 404)
        if method == "GET" and path == _BULK:
            answer = Response("{}", 200, mimetype="application/json")
        elif method == "POST" and path.startswith(f"{_BULK}seed/"):
            try:
                rows = [SeedRecordSet.from_json(row) for row in Request(environ).get_json()["record_sets"]]
                count = _load_into_moto(path.removeprefix(f"{_BULK}seed/"), rows)
                answer = Response(json.dumps({"seeded": count}), 200, mimetype="application/json")
            except LookupError as error:
                answer = Response(f"NoSuchHostedZone: {error}", 404)
            except (TypeError, ValueError) as error:
                answer = Response(f"a seed is {_SEED_FORM}: {error}", 400)
        answer.headers[_BULK_HEADER] = "1"
        return answer(environ, start_response)


def _load_into_moto(zone_id: str, record_sets: Sequence[SeedRecordSet]) -> int:
    from moto.route53.models import RecordSet, route53_backends

    zone = next(
        (
            backend.zones[zone_id]
            for account in route53_backends.values()
            for backend in account.values()
            if zone_id in backend.zones
        ),
        None,
    )
    if zone is None:
        raise LookupError(zone_id)
    where = {(r.name, r.type): i for i, r in enumerate(zone.rrsets) if r.set_identifier is None}
    for seeded in record_sets:
        fields = {"Name": seeded.name, "Type": seeded.type, "TTL": seeded.ttl, "ResourceRecords": list(seeded.values)}
        stored = RecordSet(fields)  # type: ignore[abstract]  # as moto's own add_rrset makes one
        at = where.setdefault((seeded.name, seeded.type), len(zone.rrsets))
        if at == len(zone.rrsets):
            zone.rrsets.append(stored)
        else:
            zone.rrsets[at] = stored
        # what moto's DELETE looks for: the change as it would have come through the API
        sent = {**fields, "ResourceRecords": [{"Value": value} for value in seeded.values]}
        zone.rr_changes.append({"Action": "UPSERT", "ResourceRecordSet": sent})
    return len(record_sets)


def serve_moto(argv: Sequence[str]) -> int:
    """moto_server (`-H HOST -p PORT`) with the bulk-load route."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE} moto", description="moto, able to bulk-load too")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    arguments = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(arguments.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    application = _BulkLoading(DomainDispatcherApplication(create_backend_app))
    run_simple(arguments.host, arguments.port, application, threaded=True, request_handler=MotoRequestHandler)
    return 0


# ---------------------------------------------------------------------- python -m dnslb_testkit.servers.route53_strict


def _rate(text: str) -> float | None:
    return None if text == "off" else float(text)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {_MODULE}",
        description=(
            "Route53's throttling, quotas and change semantics in front of a moto server. Listens on 127.0.0.1; "
            "prints the URL it serves on when ready; stops on SIGTERM or SIGINT. "
            f"`python -m {_MODULE} moto -p PORT` runs moto itself, with a bulk-load route for /strict/seed."
        ),
    )
    parser.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, required=True, help="port to listen on; 0 picks a free one")
    parser.add_argument("--rate", type=_rate, default=5.0, help="tokens a second per account, or off (default: 5)")
    parser.add_argument("--burst", type=int, default=5, help="tokens a bucket holds (default: %(default)s)")
    parser.add_argument(
        "--settle", type=float, default=0.0, help="seconds a zone is busy after a change (default: %(default)s)"
    )
    return parser.parse_args(argv)


async def _serve_until_signalled(layer: StrictLayer, port: int) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    runner = web.AppRunner(layer.application(), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    host, bound = runner.addresses[0][:2]
    print(f"http://{host}:{bound}", flush=True)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["moto"]:
        return serve_moto(argv[1:])
    arguments = parse_arguments(argv)
    try:
        limits = Limits.from_json({"rate": arguments.rate, "burst": arguments.burst, "settle": arguments.settle})
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    asyncio.run(_serve_until_signalled(StrictLayer(arguments.upstream, limits), arguments.port))
    return 0


# ------------------------------------------------------------------------------------------------ the fixture


class StrictRoute53:
    """The strict layer as a child process, in front of `moto` (one it starts itself, able to bulk-load, if None);
    both stopped by PID. `python` runs the children."""

    def __init__(
        self, moto: MotoServer | None = None, *, limits: Limits | None = None, python: Path | None = None
    ) -> None:
        self._python = python or Path(sys.executable)
        self._given = moto
        self._moto = moto
        self._initial = limits or Limits()
        self._port = 0
        self._child: Child | None = None
        self._directory: Path | None = None

    @property
    def url(self) -> str:
        if not self._port or self._child is None:
            raise RuntimeError("start() the strict Route53 layer first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def moto(self) -> MotoServer:
        if self._moto is None:
            raise RuntimeError("start() the strict Route53 layer first")
        return self._moto

    @property
    def pid(self) -> int | None:
        """The strict layer's (moto's is `moto.pid`)."""
        return self._child.pid if self._child else None

    def start(self) -> str:
        if self._child is not None:
            raise RuntimeError("already started")
        if self._moto is None:
            moto = MotoServer(self._python, arguments=["-m", _MODULE, "moto"])
            moto.start()
            self._moto = moto
        failure = ""
        for _ in range(_START_ATTEMPTS):
            exited, failure = self._start_once(self._moto.url)
            if not failure:
                return self.url
            if not exited:
                break
        self.stop()
        raise RuntimeError(failure)

    def stop(self) -> None:
        stop_and_remove(self._child, self._directory)
        self._child, self._directory, self._port = None, None, 0
        if self._given is None and self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> StrictRoute53:
        if self._child is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # control

    def reset(self) -> None:
        """Forget everything moto holds, the counters, the buckets and the copies of zones (the limits stay)."""
        self.moto.reset()
        self._control("POST", "reset", {})

    def counters(self) -> Counters:
        return Counters.from_json(self._control("GET", "counters"))

    def reset_counters(self) -> None:
        """The counters only (`reset` also forgets moto's zones and refills the buckets)."""
        self._control("POST", "counters/reset", {})

    def limits(self) -> Limits:
        return Limits.from_json(self._control("GET", "limits"))

    def set_limits(self, limits: Limits) -> Limits:
        """Every bucket starts full again under the new limits."""
        return Limits.from_json(self._control("POST", "limits", limits.json()))

    def seed(self, zone_id: str, record_sets: Iterable[SeedRecordSet], timeout: float = _SEED_TIMEOUT) -> int:
        """Put `record_sets` in the hosted zone (`/hostedzone/` in front of the id or not), as UPSERTs would, past
        throttling and unchecked but for their names; how many."""
        body = {"record_sets": [r.json() for r in record_sets]}
        answer = self._control("POST", f"seed/{zone_id.removeprefix('/hostedzone/')}", body, timeout)
        return int(answer["seeded"])

    def _control(self, method: str, what: str, body: object = None, timeout: float = _REQUEST_TIMEOUT) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{_CONTROL}{what}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"strict Route53 layer: {method} {what}: {error.code}: {error.read()[:500]!r}"
            ) from error

    # starting

    def _start_once(self, upstream: str) -> tuple[bool, str]:
        """Start the layer on a free port; (whether it exited, why it failed) or (False, "") once it answers."""
        self._port = free_port()
        self._directory = Path(tempfile.mkdtemp(prefix="dnslb-route53-strict-"))
        limits = self._initial
        command = [
            str(self._python), "-m", _MODULE, "--upstream", upstream, "--port", str(self._port),
            "--rate", "off" if limits.rate is None else str(limits.rate),
            "--burst", str(limits.burst), "--settle", str(limits.settle),
        ]  # fmt: skip
        name = "strict Route53 layer"
        try:
            self._child = child = Child.start(command, name=name, log=self._directory / "route53_strict.log")
        except OSError as error:
            stop_and_remove(None, self._directory)
            self._directory = None
            return False, f"cannot start the {name} ({' '.join(command)}): {error}"
        try:
            child.wait_ready(self._answers, _READY_TIMEOUT, f"answer on {self.url}")
        except ChildStartError as error:
            exited = not child.alive()
            stop_and_remove(child, self._directory)
            self._child, self._directory = None, None
            return exited, f"{error}\n(command: {' '.join(command)})"
        return False, ""

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}{_CONTROL}limits", timeout=1.0):
                return True
        except (urllib.error.URLError, OSError):
            return False


if __name__ == "__main__":
    sys.exit(main())
