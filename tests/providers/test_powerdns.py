"""The PowerDNS provider against a real pdns_server: the conformance suite, the API's errors, and what DNS answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.message
import dns.query
import dns.rdatatype
import dns.rrset
import httpx
import pytest

from dnslb.adapters.dnssync import plugins as plugin_api
from dnslb.provider import (
    Change,
    Conflict,
    Cost,
    ProviderError,
    RecordSet,
    Rejected,
    Throttled,
    Transient,
    Unauthorized,
    Zone,
)
from dnslb_powerdns import LIMITS, PowerDNSProvider, PowerDNSSettings, create, provider_for
from dnslb_powerdns.content import quote_txt, unquote_txt
from dnslb_powerdns.errors import retry_after_seconds
from dnslb_powerdns.payload import ENVELOPE_BYTES
from dnslb_powerdns.provider import NAME_READS_MAX
from dnslb_testkit.conformance import (
    ZONE_FILE_SPELLINGS,
    ConformanceTarget,
    ExactValuesConformance,
    NameReaderConformance,
    ProviderConformance,
    ReachabilityConformance,
    Spelling,
    SyncConformance,
    ThrottlingConformance,
)
from dnslb_testkit.ports import silent_port
from dnslb_testkit.servers.powerdns import PowerDNSServer

ZONE = "example.test"
SERVER_DEFAULT_MAX_BODY = 2 * 1024 * 1024  # pdns webserver-max-bodysize default, 2 MB


@pytest.fixture(scope="module")
def pdns() -> Iterator[PowerDNSServer]:
    with PowerDNSServer.start() as server:
        yield server


@pytest.fixture
def zone(pdns: PowerDNSServer) -> Zone:
    """A fresh, empty example.test zone (SOA and NS only)."""
    pdns.create_zone(ZONE)
    return Zone(ZONE, ZONE + ".")


@pytest.fixture
def provider(pdns: PowerDNSServer, zone: Zone) -> Iterator[PowerDNSProvider]:
    made = create(pdns.provider_settings(), pdns.provider_secret())
    yield made
    made.close()


@contextmanager
def answering_everything_with(status: int, headers: Mapping[str, str]) -> Iterator[str]:
    """A tiny HTTP server on 127.0.0.1 that answers every request with `status`; yields its URL."""

    class FixedAnswer(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = b'{"error": "fixed answer"}'
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PATCH = do_POST = do_DELETE = answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FixedAnswer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def throttling_url() -> Iterator[str]:
    with answering_everything_with(429, {"Retry-After": "7"}) as url:
        yield url


def provider_at(url: str, **settings: str) -> PowerDNSProvider:
    return create({"url": url, **settings}, {"apiKey": "irrelevant"})


@dataclass(frozen=True)
class PowerDNSZone:
    """The zone written and read through PowerDNS's API directly, as another tool would."""

    pdns: PowerDNSServer
    spellings: Sequence[Spelling] = ZONE_FILE_SPELLINGS

    def write(self, name: str, type_: str, ttl: int, native: Sequence[str]) -> None:
        self.pdns.replace(ZONE, name, type_, ttl, native)

    def read(self, name: str, type_: str) -> list[str]:
        return self.pdns.contents(ZONE, name, type_)


class TestPowerDNSConformance(
    ProviderConformance,
    NameReaderConformance,
    ReachabilityConformance,
    ThrottlingConformance,
    ExactValuesConformance,
    SyncConformance,
):
    @pytest.fixture
    def target(
        self, pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone, closed_port: int, throttling_url: str
    ) -> Iterator[ConformanceTarget]:
        unreachable = provider_at(f"http://127.0.0.1:{closed_port}", timeout="2")
        throttled = provider_at(throttling_url)
        yield ConformanceTarget(
            provider=provider,
            zone=zone.name,
            rejected_change=Change("create", RecordSet.of(f"x.{ZONE}", "A", 60, ["not-an-ip"])),
            unreachable=unreachable,
            throttled=throttled,
            foreign=PowerDNSZone(pdns),
        )
        unreachable.close()
        throttled.close()


def a_set(label: str, *ips: str, ttl: int = 60) -> RecordSet:
    return RecordSet.of(f"{label}.{ZONE}", "A", ttl, ips)


def txt_set(label: str, text: str) -> RecordSet:
    return RecordSet.of(f"{label}.{ZONE}", "TXT", 60, [text])


def current(provider: PowerDNSProvider, zone: Zone) -> dict[tuple[str, str], RecordSet]:
    return {r.key: r for r in provider.records(zone)}


def patch_directly(pdns: PowerDNSServer, rrsets: list[dict[str, object]]) -> None:
    """Change the zone behind the provider's back, as another tool or an operator would."""
    with pdns.client() as api:
        api.patch(f"/zones/{ZONE}.", json={"rrsets": rrsets}).raise_for_status()


def a_rrset_json(label: str, *ips: str, disabled: bool = False) -> dict[str, object]:
    """An A rrset as PowerDNS's API takes it, for changes made behind the provider's back."""
    return {
        "name": f"{label}.{ZONE}.",
        "type": "A",
        "ttl": 60,
        "changetype": "REPLACE",
        "records": [{"content": ip, "disabled": disabled} for ip in ips],
    }


def ask(pdns: PowerDNSServer, name: str, type_: str, over: str = "udp") -> dns.rrset.RRset | None:
    query = dns.message.make_query(name, type_)
    send = dns.query.udp if over == "udp" else dns.query.tcp
    answer = send(query, "127.0.0.1", port=pdns.dns_port, timeout=3)
    wanted = dns.rdatatype.from_text(type_)
    return next((rrset for rrset in answer.answer if rrset.rdtype == wanted), None)


def test_registered_under_the_entry_point(pdns: PowerDNSServer, zone: Zone) -> None:
    found = plugin_api.create("powerdns", pdns.provider_settings(), pdns.provider_secret())
    assert isinstance(found, PowerDNSProvider)
    assert [z.name for z in found.zones()] == [ZONE]


def test_a_wrong_api_key_is_unauthorized(pdns: PowerDNSServer, zone: Zone) -> None:
    wrong = create(pdns.provider_settings(), {"apiKey": "not-the-key"})
    with pytest.raises(Unauthorized):
        wrong.zones()
    with pytest.raises(Unauthorized):
        wrong.records(zone)
    with pytest.raises(Unauthorized):
        wrong.apply(zone, [Change("update", a_set("web", "10.0.0.2"), a_set("web", "10.0.0.1"))])


def test_throttling_carries_retry_after(throttling_url: str) -> None:
    with pytest.raises(Throttled) as raised:
        provider_at(throttling_url).zones()
    assert raised.value.retry_after == 7


def test_server_errors_are_transient() -> None:
    with answering_everything_with(503, {}) as url, pytest.raises(Transient, match="503"):
        provider_at(url).zones()


def test_a_server_that_never_answers_is_transient_after_the_timeout() -> None:
    with silent_port() as port, pytest.raises(Transient, match="Timeout"):
        provider_at(f"http://127.0.0.1:{port}", timeout="0.3").zones()


def test_records_written_through_the_api_are_answered_over_dns(
    pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone
) -> None:
    web = a_set("web", "10.0.0.2", "10.0.0.1")
    six = RecordSet.of(f"web.{ZONE}", "AAAA", 60, ["fd00::1"])
    long_text = "saved=" + ",".join(f"10.0.{i}.1" for i in range(40)) + ' "quoted" back\\slash'
    owner = txt_set("web", long_text)
    alias = RecordSet.of(f"www.{ZONE}", "CNAME", 60, [f"web.{ZONE}"])
    provider.apply(zone, [Change("create", r) for r in (web, six, owner, alias)])

    for over in ("udp", "tcp"):
        answered = ask(pdns, f"web.{ZONE}", "A", over)
        assert answered is not None and sorted(r.to_text() for r in answered) == ["10.0.0.1", "10.0.0.2"]
        assert answered.ttl == 60
        answered = ask(pdns, f"web.{ZONE}", "AAAA", over)
        assert answered is not None and [r.to_text() for r in answered] == ["fd00::1"]
        answered = ask(pdns, f"web.{ZONE}", "TXT", over)
        assert answered is not None
        (txt,) = list(answered)
        assert all(len(s) <= 255 for s in txt.strings) and len(txt.strings) > 1
        assert b"".join(txt.strings).decode() == long_text
        answered = ask(pdns, f"www.{ZONE}", "CNAME", over)
        assert answered is not None and [r.to_text() for r in answered] == [f"web.{ZONE}."]

    # PowerDNS drops its caches for the zone on every API change: updates and deletes are answered at once
    moved = a_set("web", "10.0.0.3", ttl=30)
    provider.apply(zone, [Change("update", moved, web)])
    answered = ask(pdns, f"web.{ZONE}", "A")
    assert answered is not None and [r.to_text() for r in answered] == ["10.0.0.3"] and answered.ttl == 30
    provider.apply(zone, [Change("delete", moved), Change("delete", six), Change("delete", owner)])
    assert ask(pdns, f"web.{ZONE}", "A") is None
    assert ask(pdns, f"web.{ZONE}", "TXT") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        'heritage=dnslb,"quoted",back\\slash',
        "x" * 255,
        "x" * 256,
        "é" * 200,  # 400 bytes: a 255-byte string boundary falls inside a character
        "tab\tnewline\ncontrol\x01 and ☃",
    ],
    ids=["empty", "escapes", "255-bytes", "256-bytes", "split-character", "non-printable"],
)
def test_txt_values_round_trip_through_powerdns_and_dns(
    pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone, text: str
) -> None:
    record = txt_set("txt", text)
    provider.apply(zone, [Change("create", record)])
    assert current(provider, zone)[record.key] == record
    answered = ask(pdns, f"txt.{ZONE}", "TXT", "tcp")
    assert answered is not None
    (txt,) = list(answered)
    assert b"".join(txt.strings) == text.encode()
    assert all(len(s) <= 255 for s in txt.strings)


def test_txt_content_written_by_other_tools_is_read_back_as_one_text() -> None:
    assert unquote_txt('"caf\u00e9" "a\\"b" "\\099\\\\"') == 'caféa"bc\\'
    assert unquote_txt("bare words") == "barewords"
    assert unquote_txt(quote_txt("x" * 600)) == "x" * 600


def test_create_does_not_take_over_a_record_set_someone_else_made(
    pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone
) -> None:
    patch_directly(pdns, [a_rrset_json("taken", "192.0.2.1")])
    theirs = a_set("taken", "192.0.2.1")
    with pytest.raises(Conflict, match=r"create of taken\.example\.test A: a record set stands"):
        provider.apply(zone, [Change("create", a_set("taken", "10.0.0.1"))])
    assert current(provider, zone)[theirs.key] == theirs


def test_create_does_not_overwrite_disabled_records(
    pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone
) -> None:
    patch_directly(pdns, [a_rrset_json("parked", "192.0.2.1", disabled=True)])
    with pytest.raises(Conflict, match="disabled records only"):
        provider.apply(zone, [Change("create", a_set("parked", "10.0.0.1"))])
    assert pdns.contents(ZONE, f"parked.{ZONE}", "A") == ["192.0.2.1"]


def test_disabled_records_are_not_listed(pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone) -> None:
    mixed = a_rrset_json("mixed", "192.0.2.1", "192.0.2.2")
    mixed["records"] = [{"content": "192.0.2.1", "disabled": False}, {"content": "192.0.2.2", "disabled": True}]
    patch_directly(pdns, [mixed, a_rrset_json("parked", "192.0.2.3", disabled=True)])
    listed = current(provider, zone)
    assert listed[a_set("mixed").key] == a_set("mixed", "192.0.2.1")
    assert a_set("parked").key not in listed


def test_secondary_zones_are_not_listed(pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone) -> None:
    with pdns.client() as api:
        api.post("/zones", json={"name": "copy.test.", "kind": "Slave", "masters": ["192.0.2.53"]}).raise_for_status()
    try:
        assert [z.name for z in provider.zones()] == [ZONE]
    finally:
        pdns.delete_zone("copy.test")


def test_delete_leaves_a_record_set_that_changed_since_it_was_read(
    pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone
) -> None:
    ours = a_set("moving", "10.0.0.1")
    provider.apply(zone, [Change("create", ours)])
    patch_directly(pdns, [a_rrset_json("moving", "192.0.2.9")])
    with pytest.raises(Conflict, match="it stands as"):
        provider.apply(zone, [Change("delete", ours)])
    assert current(provider, zone)[ours.key].values == ("192.0.2.9",)


def test_a_record_set_with_disabled_records_is_compared_as_it_is_listed(
    pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone
) -> None:
    mixed = a_rrset_json("mixed", "192.0.2.1", "192.0.2.2")
    mixed["records"] = [{"content": "192.0.2.1", "disabled": False}, {"content": "192.0.2.2", "disabled": True}]
    patch_directly(pdns, [mixed])
    listed = current(provider, zone)[a_set("mixed").key]
    moved = a_set("mixed", "10.0.0.1")
    provider.apply(zone, [Change("update", moved, listed)])
    assert pdns.contents(ZONE, f"mixed.{ZONE}", "A") == ["10.0.0.1"]


def _observed(pdns: PowerDNSServer, seen: list[httpx.Request]) -> PowerDNSProvider:
    settings = PowerDNSSettings.parse(pdns.provider_settings(), pdns.provider_secret())
    return provider_for(settings, _Observing(httpx.HTTPTransport(), seen.append))


def test_the_check_reads_each_name_and_a_large_batch_or_a_create_reads_the_zone_once(
    pdns: PowerDNSServer, zone: Zone
) -> None:
    seen: list[httpx.Request] = []
    observed = _observed(pdns, seen)

    def reads() -> list[tuple[str, str | None]]:
        done = [(r.method, r.url.params.get("rrset_name")) for r in seen]
        seen.clear()
        return done

    web, owner = a_set("web", "10.0.0.1"), txt_set("_dnslb.web", "heritage=dnslb")
    observed.apply(zone, [Change("create", web), Change("create", owner)])
    assert reads() == [("GET", None), ("PATCH", None)]
    moved = a_set("web", "10.0.0.2")
    observed.apply(zone, [Change("require", owner), Change("update", moved, web)])
    assert reads() == [("GET", f"_dnslb.web.{ZONE}."), ("GET", f"web.{ZONE}."), ("PATCH", None)]
    sets = [a_set(f"n{i}", "10.0.0.1") for i in range(NAME_READS_MAX + 1)]
    observed.apply(zone, [Change("create", r) for r in sets])
    reads()
    observed.apply(zone, [Change("delete", r) for r in sets])
    assert reads() == [("GET", None), ("PATCH", None)]
    observed.close()


def test_a_request_of_requires_only_is_checked_and_sends_no_patch(pdns: PowerDNSServer, zone: Zone) -> None:
    seen: list[httpx.Request] = []
    observed = _observed(pdns, seen)
    owner = txt_set("_dnslb.web", "heritage=dnslb")
    observed.apply(zone, [Change("create", owner)])
    seen.clear()
    observed.apply(zone, [Change("require", owner)])
    assert [r.method for r in seen] == ["GET"]
    with pytest.raises(Conflict, match=r"require of _dnslb\.web\.example\.test TXT"):
        observed.apply(zone, [Change("require", txt_set("_dnslb.web", "heritage=someone-else"))])
    observed.close()


def test_an_update_that_does_not_say_what_it_replaces_is_rejected_before_sending(
    pdns: PowerDNSServer, zone: Zone
) -> None:
    seen: list[httpx.Request] = []
    observed = _observed(pdns, seen)
    with pytest.raises(Rejected, match="does not say what it replaces") as raised:
        observed.apply(zone, [Change("update", a_set("web", "10.0.0.1"))])
    assert not isinstance(raised.value, Conflict) and seen == []
    observed.close()


def test_exact_contents_that_no_longer_read_as_the_values_are_not_sent(
    pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone
) -> None:
    changed = RecordSet.of(f"alias.{ZONE}", "CNAME", 60, ["new.example.test"], exact=["Old.Example.Test."])
    provider.apply(zone, [Change("create", changed)])
    assert pdns.contents(ZONE, f"alias.{ZONE}", "CNAME") == ["new.example.test."]


def test_a_refused_change_refuses_the_whole_request(provider: PowerDNSProvider, zone: Zone) -> None:
    good = a_set("good", "10.0.0.1")
    with pytest.raises(Rejected, match="not-an-ip"):
        provider.apply(zone, [Change("create", good), Change("create", a_set("bad", "not-an-ip"))])
    assert good.key not in current(provider, zone)


class _Observing(httpx.BaseTransport):
    """A transport that shows each request to `observe` before sending it on."""

    def __init__(self, inner: httpx.BaseTransport, observe: Callable[[httpx.Request], None]) -> None:
        self._inner = inner
        self._observe = observe

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._observe(request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def test_cost_is_exactly_what_each_change_adds_to_the_request_body(
    pdns: PowerDNSServer, provider: PowerDNSProvider, zone: Zone
) -> None:
    bodies: list[bytes] = []

    def keep_patch_bodies(request: httpx.Request) -> None:
        if request.method == "PATCH":
            bodies.append(request.read())

    transport = httpx.HTTPTransport()
    settings = PowerDNSSettings.parse(pdns.provider_settings(), pdns.provider_secret())
    observed = provider_for(settings, _Observing(transport, keep_patch_bodies))
    web = a_set("web", "10.0.0.1", "10.0.0.2")
    owner = txt_set("web", 'owner="dnslb" ' + "é" * 300)
    changes = [
        Change("create", web),
        Change("create", owner),
        Change("create", RecordSet.of(f"*.apps.{ZONE}", "CNAME", 300, [f"web.{ZONE}"])),
        # restored as read: exact contents, not dnslb's rendering
        Change("create", RecordSet.of(f"odd.{ZONE}", "TXT", 60, ["ab"], exact=['"a" "b"'])),
    ]
    observed.apply(zone, changes)
    second = [Change("delete", web), Change("require", owner)]
    observed.apply(zone, second)
    observed.close()
    for sent, batch in zip(bodies, [changes, second], strict=True):
        total = sum((observed.cost(c) for c in batch), Cost())
        assert len(sent) == ENVELOPE_BYTES - 1 + total.bytes


def test_the_declared_byte_limit_is_well_under_what_powerdns_accepts(provider: PowerDNSProvider, zone: Zone) -> None:
    assert LIMITS.max_bytes is not None and LIMITS.max_bytes + ENVELOPE_BYTES <= SERVER_DEFAULT_MAX_BODY // 2
    # past the server's own limit the request is refused (HTTP 400), so a batch must never get there
    values = [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(400)]
    changes: list[Change] = []
    used = Cost()
    while used.bytes <= SERVER_DEFAULT_MAX_BODY:
        change = Change("create", a_set(f"big{len(changes)}", *values))
        changes.append(change)
        used = used + provider.cost(change)
    with pytest.raises(Rejected):
        provider.apply(zone, changes)


def test_the_zones_setting_limits_the_zones(pdns: PowerDNSServer, zone: Zone) -> None:
    pdns.create_zone("other.test")
    try:
        every = create(pdns.provider_settings(), pdns.provider_secret())
        assert [z.name for z in every.zones()] == ["example.test", "other.test"]
        some = create({**pdns.provider_settings(), "zones": " Other.Test. , absent.test"}, pdns.provider_secret())
        assert some.zones() == [Zone("other.test", "other.test.")]
    finally:
        pdns.delete_zone("other.test")


def test_settings_are_checked_when_the_provider_is_created() -> None:
    with pytest.raises(ProviderError, match=r"settings\.url"):
        create({}, {"apiKey": "k"})
    with pytest.raises(ProviderError, match="http"):
        create({"url": "ftp://127.0.0.1:1"}, {"apiKey": "k"})
    with pytest.raises(Unauthorized):
        create({"url": "http://127.0.0.1:1"}, {})
    with pytest.raises(ProviderError, match="timeout"):
        create({"url": "http://127.0.0.1:1", "timeout": "soon"}, {"apiKey": "k"})
    parsed = PowerDNSSettings.parse({"url": "http://127.0.0.1:1/", "timeout": "2.5s"}, {"apiKey": "k"})
    assert parsed == PowerDNSSettings(url="http://127.0.0.1:1", api_key="k", timeout=2.5)


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now
    assert retry_after_seconds("whenever") is None
    assert retry_after_seconds(None) is None
