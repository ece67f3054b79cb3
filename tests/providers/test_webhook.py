"""The webhook provider passes the conformance suite against a server that speaks external-dns's webhook protocol; that
server answers as external-dns expects; the provider reads what other servers send and maps their failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from dnslb.adapters.child import Child
from dnslb.adapters.dnssync.plugins import create
from dnslb.core.dns.batch import Group, pack
from dnslb.provider import (
    Change,
    Conflict,
    ProviderError,
    RecordSet,
    Rejected,
    Throttled,
    Transient,
    Unauthorized,
    Zone,
)
from dnslb_testkit.conformance import (
    ZONE_FILE_SPELLINGS,
    ConformanceTarget,
    ExactValuesConformance,
    ProviderConformance,
    ReachabilityConformance,
    Spelling,
    SyncConformance,
    ThrottlingConformance,
)
from dnslb_testkit.ports import silent_port
from dnslb_testkit.webhook_server import WebhookServer
from dnslb_webhook import MAX_BODY_BYTES, WebhookProvider
from dnslb_webhook.errors import retry_after
from dnslb_webhook.wire import MEDIA_TYPE, changes_body, encode, endpoint_of

ZONE = Zone("example.test", "example.test")
JSON_IN = {"Content-Type": MEDIA_TYPE}
JSON_OUT = {"Accept": MEDIA_TYPE}

ProviderFactory = Callable[..., WebhookProvider]


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer(["example.test"]) as running:
        yield running


@pytest.fixture(scope="module")
def throttling_server() -> Iterator[WebhookServer]:
    with WebhookServer(["example.test"]) as running:
        running.forced_status = 429
        yield running


@pytest.fixture
def providers() -> Iterator[ProviderFactory]:
    """Providers made through the entry point, closed at the end."""
    made: list[WebhookProvider] = []

    def make(url: str, **settings: str) -> WebhookProvider:
        provider = create("webhook", {"url": url, **settings}, {})
        assert isinstance(provider, WebhookProvider)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def raw(server: WebhookServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        yield client


def a(label: str, *ips: str, ttl: int = 60) -> RecordSet:
    return RecordSet.of(f"{label}.example.test", "A", ttl, ips)


def txt(label: str, text: str, ttl: int = 60) -> RecordSet:
    return RecordSet.of(f"{label}.example.test", "TXT", ttl, [text])


@dataclass(frozen=True)
class WebhookStore:
    """The test server's store, written and read directly: targets as a webhook server keeps and lists them."""

    server: WebhookServer
    spellings: Sequence[Spelling] = ZONE_FILE_SPELLINGS

    def write(self, name: str, type_: str, ttl: int, native: Sequence[str]) -> None:
        self.server.store(name, type_, ttl, native)

    def read(self, name: str, type_: str) -> list[str]:
        return self.server.stored(name, type_)


class TestWebhookConformance(
    ProviderConformance, ReachabilityConformance, ThrottlingConformance, ExactValuesConformance, SyncConformance
):
    @pytest.fixture
    def target(
        self,
        server: WebhookServer,
        throttling_server: WebhookServer,
        closed_port: int,
        providers: ProviderFactory,
    ) -> ConformanceTarget:
        return ConformanceTarget(
            provider=providers(server.url),
            zone="example.test",
            rejected_change=Change("delete", a("never-created", "10.0.0.1")),
            unreachable=providers(f"http://127.0.0.1:{closed_port}", timeout="2"),
            throttled=providers(throttling_server.url),
            foreign=WebhookStore(server),
        )


# the server, driven with raw requests as external-dns sends them


def test_negotiation_answers_the_domain_filter_in_the_media_type(raw: httpx.Client) -> None:
    answer = raw.get("/", headers=JSON_OUT)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == MEDIA_TYPE  # compared as a plain string by external-dns
    assert answer.json() == {"include": ["example.test"]}


def test_records_are_endpoints_with_txt_targets_quoted(server: WebhookServer, raw: httpx.Client) -> None:
    owner = "heritage=external-dns,external-dns/owner=default"
    server.provider.apply(
        ZONE, [Change("create", a("web", "10.0.0.2", "10.0.0.1")), Change("create", txt("web", owner))]
    )
    answer = raw.get("/records", headers=JSON_OUT)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == MEDIA_TYPE
    assert answer.json() == [
        {"dnsName": "web.example.test", "targets": ["10.0.0.1", "10.0.0.2"], "recordType": "A", "recordTTL": 60},
        {"dnsName": "web.example.test", "targets": [f'"{owner}"'], "recordType": "TXT", "recordTTL": 60},
    ]


def test_apply_answers_204_and_the_changes_land(server: WebhookServer, raw: httpx.Client) -> None:
    server.provider.apply(ZONE, [Change("create", a("old", "10.0.0.1")), Change("create", a("moving", "10.0.0.1"))])
    body = {
        "create": [
            {"dnsName": "new.example.test", "targets": ["10.0.0.9"], "recordType": "A", "recordTTL": 120},
            # external-dns's ownership record: quoted, without a TTL
            {"dnsName": "a-new.example.test", "targets": ['"heritage=external-dns"'], "recordType": "TXT"},
        ],
        "updateOld": [{"dnsName": "moving.example.test", "targets": ["10.0.0.1"], "recordType": "A", "recordTTL": 60}],
        "updateNew": [{"dnsName": "moving.example.test", "targets": ["10.0.0.3"], "recordType": "A", "recordTTL": 60}],
        "delete": [{"dnsName": "old.example.test", "targets": ["10.0.0.1"], "recordType": "A", "recordTTL": 60}],
    }
    answer = raw.post("/records", content=json.dumps(body), headers=JSON_IN)
    assert (answer.status_code, answer.content) == (204, b"")
    assert server.provider.records(ZONE) == [
        txt("a-new", "heritage=external-dns", ttl=300),
        a("moving", "10.0.0.3"),
        a("new", "10.0.0.9", ttl=120),
    ]


def test_apply_reads_the_capitalised_keys_and_nulls_of_older_external_dns(
    server: WebhookServer, raw: httpx.Client
) -> None:
    body = {"Create": [{"dnsName": "web.example.test", "targets": ["10.0.0.1"], "recordType": "A"}], "Delete": None}
    answer = raw.post("/records", content=json.dumps(body), headers=JSON_IN)
    assert answer.status_code == 204
    assert server.provider.records(ZONE) == [a("web", "10.0.0.1", ttl=300)]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/", {}, 406),
        ("GET", "/", {"Accept": "application/json"}, 415),
        ("GET", "/records", {}, 406),
        ("GET", "/records", {"Accept": "application/external.dns.webhook+json; version=1"}, 415),
        ("POST", "/records", {}, 406),
        ("POST", "/records", {"Content-Type": "application/json"}, 415),
        ("POST", "/adjustendpoints", JSON_IN, 406),
        ("POST", "/adjustendpoints", JSON_OUT, 406),
        ("POST", "/adjustendpoints", {**JSON_IN, "Accept": "application/external.dns.webhook+json;version=2"}, 415),
    ],
)
def test_media_types_are_checked(
    raw: httpx.Client, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    answer = raw.request(method, path, headers={"Accept": "", **headers}, content=b"[]" if method == "POST" else None)
    assert answer.status_code == status
    assert answer.text  # a reason, as text


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        json.dumps({"updateOld": [{"dnsName": "x.example.test", "targets": ["10.0.0.1"], "recordType": "A"}]}),
        json.dumps({"create": [{"dnsName": "x.example.test", "targets": ["not-an-ip"], "recordType": "A"}]}),
        json.dumps({"create": [{"dnsName": "x.other.test", "targets": ["10.0.0.1"], "recordType": "A"}]}),
        json.dumps({"create": [{"targets": ["10.0.0.1"], "recordType": "A"}]}),
    ],
    ids=["malformed", "not-an-object", "unpaired-update", "bad-address", "outside-the-zones", "no-name"],
)
def test_a_body_it_cannot_apply_is_400_with_the_reason(
    server: WebhookServer, raw: httpx.Client, body: bytes | str
) -> None:
    answer = raw.post("/records", content=body, headers=JSON_IN)
    assert answer.status_code == 400
    assert answer.text
    assert server.provider.records(ZONE) == []


def test_a_refused_change_refuses_the_whole_request(server: WebhookServer, raw: httpx.Client) -> None:
    body = {
        "create": [{"dnsName": "web.example.test", "targets": ["10.0.0.1"], "recordType": "A"}],
        "delete": [{"dnsName": "gone.example.test", "targets": ["10.0.0.1"], "recordType": "A", "recordTTL": 60}],
    }
    answer = raw.post("/records", content=json.dumps(body), headers=JSON_IN)
    assert answer.status_code == 409  # the zone is not as the request says: a conflict, not bad content
    assert "gone.example.test" in answer.text
    assert server.provider.records(ZONE) == []


def test_an_update_whose_old_side_does_not_stand_is_409(server: WebhookServer, raw: httpx.Client) -> None:
    server.provider.apply(ZONE, [Change("create", a("web", "10.0.0.2"))])
    body = {
        "updateOld": [{"dnsName": "web.example.test", "targets": ["10.0.0.1"], "recordType": "A", "recordTTL": 60}],
        "updateNew": [{"dnsName": "web.example.test", "targets": ["10.0.0.3"], "recordType": "A", "recordTTL": 60}],
    }
    answer = raw.post("/records", content=json.dumps(body), headers=JSON_IN)
    assert answer.status_code == 409
    assert server.provider.records(ZONE) == [a("web", "10.0.0.2")]


def test_targets_are_listed_as_they_were_sent(server: WebhookServer, raw: httpx.Client) -> None:
    sent = {"dnsName": "odd.example.test", "targets": ["FD00:0:0:0::1"], "recordType": "AAAA", "recordTTL": 60}
    assert raw.post("/records", content=json.dumps({"create": [sent]}), headers=JSON_IN).status_code == 204
    assert raw.get("/records", headers=JSON_OUT).json() == [sent]


def test_adjustendpoints_answers_the_endpoints_as_they_would_be_stored(raw: httpx.Client) -> None:
    sent = [{"dnsName": "Web.Example.Test.", "targets": ["10.0.0.1"], "recordType": "A"}]
    answer = raw.post("/adjustendpoints", content=json.dumps(sent), headers={**JSON_IN, **JSON_OUT})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == MEDIA_TYPE
    assert answer.json() == [
        {"dnsName": "web.example.test", "targets": ["10.0.0.1"], "recordType": "A", "recordTTL": 300}
    ]


def test_the_forced_status_answers_every_request(server: WebhookServer, raw: httpx.Client) -> None:
    server.forced_status = 503
    assert raw.get("/", headers=JSON_OUT).status_code == 503
    assert raw.post("/records", content=b"{}", headers=JSON_IN).status_code == 503
    server.forced_status = None
    assert raw.get("/", headers=JSON_OUT).status_code == 200


# what the provider sends


def test_the_provider_sends_what_external_dns_sends(server: WebhookServer, providers: ProviderFactory) -> None:
    provider = providers(server.url)
    zone = provider.zones()[0]
    web = a("web", "10.0.0.1")
    owner = txt("web", 'heritage=dnslb,dnslb/resource="service/default/web"')
    provider.apply(zone, [Change("create", web), Change("create", owner)])
    moved = a("web", "10.0.0.2", ttl=120)
    provider.apply(zone, [Change("update", moved, web), Change("delete", owner)])
    provider.records(zone)

    negotiation, check, create_, check_again, update, listing = server.seen
    assert (negotiation.method, negotiation.path, negotiation.headers["Accept"]) == ("GET", "/", MEDIA_TYPE)
    for read in (check, check_again, listing):
        assert (read.method, read.path, read.headers["Accept"]) == ("GET", "/records", MEDIA_TYPE)
    assert (create_.method, create_.path, create_.headers["Content-Type"]) == ("POST", "/records", MEDIA_TYPE)
    quoted = '"heritage=dnslb,dnslb/resource=\\"service/default/web\\""'
    assert create_.json() == {
        "create": [
            {"dnsName": "web.example.test", "targets": ["10.0.0.1"], "recordType": "A", "recordTTL": 60},
            {"dnsName": "web.example.test", "targets": [quoted], "recordType": "TXT", "recordTTL": 60},
        ]
    }
    assert update.json() == {
        "updateOld": [{"dnsName": "web.example.test", "targets": ["10.0.0.1"], "recordType": "A", "recordTTL": 60}],
        "updateNew": [{"dnsName": "web.example.test", "targets": ["10.0.0.2"], "recordType": "A", "recordTTL": 120}],
        "delete": [{"dnsName": "web.example.test", "targets": [quoted], "recordType": "TXT", "recordTTL": 60}],
    }
    assert server.provider.records(ZONE) == [moved]


def test_a_conflict_the_read_finds_sends_nothing(server: WebhookServer, providers: ProviderFactory) -> None:
    provider = providers(server.url)
    owner = txt("_dnslb.web", "heritage=dnslb,dnslb/owner=someone-else")
    server.provider.apply(ZONE, [Change("create", owner)])
    server.seen.clear()
    mine = txt("_dnslb.web", "heritage=dnslb,dnslb/owner=me")
    with pytest.raises(Conflict, match=r"require of _dnslb\.web\.example\.test TXT"):
        provider.apply(ZONE, [Change("require", mine), Change("create", a("web", "10.0.0.1"))])
    assert [(r.method, r.path) for r in server.seen] == [("GET", "/records")]
    provider.apply(ZONE, [Change("require", owner)])  # matches: checked, and nothing to send
    assert [(r.method, r.path) for r in server.seen] == [("GET", "/records")] * 2


def test_a_change_made_between_the_read_and_the_post_is_caught_only_by_a_server_that_checks(
    server: WebhookServer,
) -> None:
    theirs = a("web", "10.0.0.9")

    def someone_else_writes_first(request: httpx.Request) -> None:
        if request.method == "POST":
            server.provider.write(ZONE, theirs)

    transport = _Before(httpx.HTTPTransport(), someone_else_writes_first)
    with WebhookProvider(server.url, transport=transport) as provider, pytest.raises(Conflict, match="409"):
        provider.apply(ZONE, [Change("create", a("web", "10.0.0.1"))])
    assert server.provider.records(ZONE) == [theirs]


def test_targets_read_are_sent_as_read(server: WebhookServer, providers: ProviderFactory) -> None:
    server.store("odd.example.test", "AAAA", 60, ["FD00:0:0:0::1"])
    server.store("odd.example.test", "TXT", 60, ['"heritage=" "dnslb"'])
    provider = providers(server.url)
    read = provider.records(ZONE)
    assert read == [
        RecordSet.of("odd.example.test", "AAAA", 60, ["fd00::1"]),
        txt("odd", "heritage=dnslb"),
    ]
    server.seen.clear()
    provider.apply(ZONE, [Change("delete", r) for r in read])
    (_, delete) = server.seen
    assert delete.json() == {
        "delete": [
            {"dnsName": "odd.example.test", "targets": ["FD00:0:0:0::1"], "recordType": "AAAA", "recordTTL": 60},
            {"dnsName": "odd.example.test", "targets": ['"heritage=" "dnslb"'], "recordType": "TXT", "recordTTL": 60},
        ]
    }
    changed = RecordSet.of("odd.example.test", "AAAA", 60, ["fd00::2"], exact=["FD00:0:0:0::1"])
    provider.apply(ZONE, [Change("create", changed)])  # exact values that no longer read as the values
    assert server.stored("odd.example.test", "AAAA") == ["fd00::2"]


def test_changes_that_cannot_be_sent_are_rejected_before_sending(
    server: WebhookServer, providers: ProviderFactory
) -> None:
    provider = providers(server.url)
    provider.apply(ZONE, [])
    with pytest.raises(Rejected, match="does not say what it replaces"):
        provider.apply(ZONE, [Change("update", a("web", "10.0.0.1"))])
    with pytest.raises(Rejected, match="not in zone"):
        provider.apply(ZONE, [Change("create", RecordSet.of("web.other.test", "A", 60, ["10.0.0.1"]))])
    assert server.seen == []


def test_adjust_returns_the_record_sets_as_the_server_would_store_them(
    server: WebhookServer, providers: ProviderFactory
) -> None:
    adjusted = providers(server.url).adjust([a("web", "10.0.0.1", ttl=0), txt("web", "x")])
    assert adjusted == [a("web", "10.0.0.1", ttl=300), txt("web", "x")]


# what the provider reads from other servers


class _Before(httpx.BaseTransport):
    """A transport that calls `hook` with each request before sending it on."""

    def __init__(self, inner: httpx.BaseTransport, hook: Callable[[httpx.Request], None]) -> None:
        self._inner, self._hook = inner, hook

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._hook(request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def serving(answers: dict[str, httpx.Response]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        return answers[f"{request.method} {request.url.path}"]

    return httpx.MockTransport(answer)


NEGOTIATED = httpx.Response(200, json={"include": ["example.test", "sub.example.test"]}, headers=JSON_IN)


def test_records_are_read_as_external_dns_servers_write_them() -> None:
    endpoints = [
        {"dnsName": "Web.Example.Test.", "targets": ["10.0.0.1"], "recordType": "A", "recordTTL": 60},
        {"dnsName": "web.example.test", "targets": ["10.0.0.2"], "recordType": "A", "recordTTL": 60},
        {"dnsName": "web.example.test", "targets": ["2001:DB8:0:0::1"], "recordType": "AAAA", "labels": None},
        {"dnsName": "bare.example.test", "targets": ["heritage=x"], "recordType": "TXT"},
        {"dnsName": "split.example.test", "targets": ['"heritage=" "x\\"y"'], "recordType": "TXT"},
        {"dnsName": "alias.example.test", "targets": ["Web.Example.Test."], "recordType": "CNAME"},
        {"dnsName": "weighted.example.test", "targets": ["10.0.0.5"], "recordType": "A", "setIdentifier": "eu"},
        {"dnsName": "deep.sub.example.test", "targets": ["10.0.0.6"], "recordType": "A"},
        {"dnsName": "web.other.test", "targets": ["10.0.0.7"], "recordType": "A"},
    ]
    transport = serving({"GET /": NEGOTIATED, "GET /records": httpx.Response(200, json=endpoints)})
    with WebhookProvider("http://webhook.invalid", transport=transport) as provider:
        assert [z.name for z in provider.zones()] == ["example.test", "sub.example.test"]
        assert provider.records(ZONE) == [
            RecordSet.of("alias.example.test", "CNAME", 0, ["web.example.test"]),
            RecordSet.of("bare.example.test", "TXT", 0, ["heritage=x"]),
            RecordSet.of("split.example.test", "TXT", 0, ['heritage=x"y']),
            a("web", "10.0.0.1", "10.0.0.2"),
            RecordSet.of("web.example.test", "AAAA", 0, ["2001:db8::1"]),
        ]
        assert provider.records(Zone("sub.example.test")) == [
            RecordSet.of("deep.sub.example.test", "A", 0, ["10.0.0.6"])
        ]


def test_a_path_in_the_url_prefixes_every_route() -> None:
    transport = serving({"GET /webhook/": NEGOTIATED, "GET /webhook/records": httpx.Response(200, json=[])})
    with WebhookProvider("http://webhook.invalid/webhook", transport=transport) as provider:
        assert provider.zones()[0] == ZONE
        assert provider.records(ZONE) == []


def test_no_records_is_gos_null() -> None:
    transport = serving({"GET /records": httpx.Response(200, content=b"null", headers=JSON_IN)})
    with WebhookProvider("http://webhook.invalid", transport=transport) as provider:
        assert provider.records(ZONE) == []


@pytest.mark.parametrize(
    ("negotiated", "settings_zones", "zones"),
    [
        ({"include": ["Example.Test."], "exclude": ["internal.example.test"]}, (), ["example.test"]),
        ({"filters": ["example.test"]}, (), ["example.test"]),  # the shape api/webhook.yaml documents
        ({"regexInclude": ".*\\.example\\.test$"}, ("example.test",), ["example.test"]),
        ({"include": ["example.test", "other.test"]}, ("other.test",), ["other.test"]),
    ],
)
def test_zones_come_from_settings_or_the_domain_filter(
    negotiated: dict[str, object], settings_zones: tuple[str, ...], zones: list[str]
) -> None:
    transport = serving({"GET /": httpx.Response(200, json=negotiated, headers=JSON_IN)})
    with WebhookProvider("http://webhook.invalid", settings_zones, transport=transport) as provider:
        assert [z.name for z in provider.zones()] == zones


def test_a_filter_without_domains_needs_the_zones_setting() -> None:
    transport = serving({"GET /": httpx.Response(200, json={"regexInclude": "example"}, headers=JSON_IN)})
    with (
        WebhookProvider("http://webhook.invalid", transport=transport) as provider,
        pytest.raises(ProviderError, match=r"settings\.zones"),
    ):
        provider.zones()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"include": ["example.test"]}),  # application/json
        httpx.Response(200, content=b"<html>", headers=JSON_IN),
        httpx.Response(302, headers={"Location": "/login"}),
    ],
    ids=["wrong-media-type", "not-json", "redirect"],
)
def test_a_server_that_does_not_speak_the_protocol_is_a_provider_error(answer: httpx.Response) -> None:
    with WebhookProvider("http://webhook.invalid", transport=serving({"GET /": answer})) as provider:
        with pytest.raises(ProviderError) as raised:
            provider.zones()
        assert type(raised.value) is ProviderError  # neither worth retrying nor the content's fault


# failures


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, Transient),
        (502, Transient),
        (503, Transient),
        (510, Transient),
        (408, Transient),
        (429, Throttled),
        (401, Unauthorized),
        (403, Unauthorized),
        (409, Conflict),
        (400, Rejected),
        (404, Rejected),
        (422, Rejected),
        (511, ProviderError),
    ],
)
def test_statuses_map_to_errors(
    server: WebhookServer, providers: ProviderFactory, status: int, error: type[ProviderError]
) -> None:
    provider = providers(server.url)
    server.forced_status = status
    for call in (
        provider.zones,
        lambda: provider.records(ZONE),
        lambda: provider.apply(ZONE, [Change("create", a("x", "10.0.0.1"))]),
    ):
        with pytest.raises(ProviderError) as raised:
            call()
        assert type(raised.value) is error
        assert f"answering every request with {status}" in str(raised.value)
    if status == 429:
        assert isinstance(raised.value, Throttled) and raised.value.retry_after == 1.0


def test_a_server_that_never_answers_is_transient(providers: ProviderFactory) -> None:
    with silent_port() as port:
        provider = providers(f"http://127.0.0.1:{port}", timeout="0.2")
        with pytest.raises(Transient, match="timed out"):
            provider.zones()


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after("7") == 7.0
    later = retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True))
    assert later is not None and 25 < later <= 30
    assert retry_after(None) is None
    assert retry_after("soon") is None


# limits


def test_a_packed_batch_stays_under_the_body_bound(server: WebhookServer, providers: ProviderFactory) -> None:
    provider = providers(server.url)
    groups = []
    for i in range(1500):
        record = a(f"svc{i}", *(f"10.{i // 250}.{i % 250}.{j}" for j in range(1, 30)))
        owner = txt(f"svc{i}", f"heritage=dnslb,dnslb/owner=test,dnslb/resource=service/default/svc{i}")
        groups.append(Group(record.name, (Change("create", record), Change("create", owner))))
    batches, oversized = pack(groups, provider.limits, provider.cost)
    assert not oversized and len(batches) > 1
    sizes = [len(encode(changes_body(b.changes))) for b in batches]
    assert max(sizes) <= MAX_BODY_BYTES
    assert max(sizes) > 0.95 * MAX_BODY_BYTES  # packed close to the bound, not far under it
    provider.apply(ZONE, batches[0].changes)  # and the server takes a request of that size
    assert len(server.provider.records(ZONE)) == 2 * len(batches[0].groups)


def test_an_update_costs_both_endpoints_it_sends(providers: ProviderFactory) -> None:
    provider = providers("http://127.0.0.1:1")
    old, new = a("web", "10.0.0.1"), a("web", "10.0.0.2", "10.0.0.3")
    update = Change("update", new, old)
    both = len(encode(endpoint_of(old))) + len(encode(endpoint_of(new)))
    assert provider.cost(update).bytes == both + 2  # and a comma each
    assert provider.cost(Change("create", new)).bytes == len(encode(endpoint_of(new))) + 1


# settings and the command line


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"url": "ftp://127.0.0.1:8888"},
        {"url": "127.0.0.1:8888"},
        {"url": "http://x", "timeout": "0"},
        {"url": "http://x", "timeout": "soon"},
    ],
)
def test_bad_settings_are_refused(settings: dict[str, str]) -> None:
    with pytest.raises(ProviderError, match="settings"):
        create("webhook", settings, {})


def test_the_server_runs_as_a_process(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "dnslb_testkit.webhook_server", "--port", "0", "--zones", "example.test"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = Child.start(command, name="webhook server", log=tmp_path / "webhook.log", env=env)
    try:
        line = server.wait_ready(lambda: (text := server.read_log()).endswith("\n") and text, 20, "print its URL")
        url = line.splitlines()[0]
        assert url.startswith("http://127.0.0.1:")
        with WebhookProvider(url) as provider:
            assert [z.name for z in provider.zones()] == ["example.test"]
    finally:
        assert server.stop() == 0


def test_the_server_command_has_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dnslb_testkit.webhook_server", "--help"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0
    assert "--zones" in done.stdout and "--port" in done.stdout
