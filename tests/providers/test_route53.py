"""The Route53 provider against the strict Route53 server (moto behind a layer that enforces Route53's quotas, exact
CREATE/DELETE semantics and atomic batches, which moto does not); throttling is off here except where a test turns
it on. The limit arithmetic is also tested on its own, and every request the packer produces is checked as it goes
over the wire.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnslb.adapters.dnssync import plugins as provider_api
from dnslb.core.dns.batch import Group, minimum_requests, pack
from dnslb.provider import (
    Action,
    Change,
    Cost,
    Provider,
    RecordSet,
    Rejected,
    Throttled,
    Transient,
    Unauthorized,
    Zone,
)
from dnslb_route53 import LIMITS, Route53Provider, create
from dnslb_route53.records import changes_to_route53, record_from_route53
from dnslb_route53.wire import txt_from_route53, txt_to_route53
from dnslb_testkit.conformance import (
    ZONE_FILE_SPELLINGS,
    ConformanceTarget,
    ExactValuesConformance,
    NameReaderConformance,
    ProviderConformance,
    ReachabilityConformance,
    SyncConformance,
    ThrottlingConformance,
)
from dnslb_testkit.servers.route53 import MotoServer
from dnslb_testkit.servers.route53_strict import StrictRoute53

ZONE = "example.test"
ROUTE53_XML = "{https://route53.amazonaws.com/doc/2013-04-01/}"
THROTTLING = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>throttled</RequestId></ErrorResponse>"
)


def error_xml(code: str, message: str) -> bytes:
    return (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>canned</RequestId></ErrorResponse>"
    ).encode()


# ---------------------------------------------------------------------------------------------------- servers


class _CannedHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        assert isinstance(server, CannedServer)
        server.requests += 1
        self.send_response(server.status)
        for name, value in server.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(server.body)))
        self.end_headers()
        self.wfile.write(server.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CannedServer(ThreadingHTTPServer):
    """Answers every request with the same response."""

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _CannedHandler)
        self.status, self.body, self.headers = status, body, dict(headers)
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@contextmanager
def canned(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Iterator[CannedServer]:
    server = CannedServer(status, body, {"Content-Type": "text/xml", **(headers or {})})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def throttling_url() -> Iterator[str]:
    with canned(400, THROTTLING) as server:
        yield server.url


def provider_at(url: str, **settings: str) -> Route53Provider:
    return create({"endpointURL": url, **settings}, MotoServer.CREDENTIALS)


def aws_client(server: StrictRoute53 | MotoServer) -> Any:
    return boto3.client(
        "route53",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_zone(server: StrictRoute53 | MotoServer, name: str = ZONE) -> str:
    created = aws_client(server).create_hosted_zone(Name=name, CallerReference=f"{name}-{time.monotonic_ns()}")
    return str(created["HostedZone"]["Id"])


def zone_named(provider: Provider, name: str = ZONE) -> Zone:
    return next(z for z in provider.zones() if z.name == name)


def ours(provider: Provider, zone: Zone) -> dict[tuple[str, str], RecordSet]:
    return {r.key: r for r in provider.records(zone) if r.type not in ("SOA", "NS")}


# ------------------------------------------------------------------------------------------ what went on the wire


class SentRequests:
    """Every request the provider sends (when), and each ChangeResourceRecordSets body counted the way Route53 does."""

    def __init__(self, provider: Route53Provider) -> None:
        self.times: list[float] = []
        self.operations: list[str] = []
        self.changes: list[Cost] = []
        provider.client.meta.events.register("before-send.route-53", self._sent)

    def _sent(self, request: Any, event_name: str, **_: Any) -> None:
        self.times.append(time.monotonic())
        operation = event_name.rsplit(".", 1)[-1]
        self.operations.append(operation)
        if operation == "ChangeResourceRecordSets":
            self.changes.append(route53_counting(request.body))

    def count(self, operation: str) -> int:
        return self.operations.count(operation)


def route53_counting(body: bytes) -> Cost:
    """ResourceRecord elements and Value characters of a request body, UPSERT counted twice (Route53's quotas)."""
    total = Cost()
    for change in ElementTree.fromstring(body).iter(f"{ROUTE53_XML}Change"):
        weight = 2 if change.findtext(f"{ROUTE53_XML}Action") == "UPSERT" else 1
        values = [value.text or "" for value in change.iter(f"{ROUTE53_XML}Value")]
        total = total + Cost(1, weight * len(values), weight * sum(len(v) for v in values))
    return total


def within_route53_quotas(cost: Cost) -> bool:
    return cost.values <= 1000 and cost.bytes <= 32000


# -------------------------------------------------------------------------------------------------- conformance


class Route53Zone:
    """The hosted zone through boto3 straight to the server, as someone other than dnslb writes it."""

    # Route53 keeps values as they were sent: an AAAA not compressed, a CNAME in capitals, TXT strings as quoted
    spellings = ZONE_FILE_SPELLINGS

    def __init__(self, client: Any, zone_id: str) -> None:
        self.client, self.zone_id = client, zone_id

    def write(self, name: str, type_: str, ttl: int, native: Sequence[str]) -> None:
        records = [{"Value": value} for value in native]
        change = {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"{name}.", "Type": type_, "TTL": ttl,
                                                            "ResourceRecords": records}}  # fmt: skip
        self.client.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={"Changes": [change]})

    def read(self, name: str, type_: str) -> list[str]:
        listed = self.client.list_resource_record_sets(
            HostedZoneId=self.zone_id, StartRecordName=f"{name}.", StartRecordType=type_, MaxItems="1"
        )["ResourceRecordSets"]
        return [
            record["Value"]
            for found in listed
            if found["Name"].rstrip(".").lower() == name.lower() and found["Type"] == type_
            for record in found.get("ResourceRecords", [])
        ]


class TestRoute53Conformance(
    ProviderConformance,
    NameReaderConformance,
    ReachabilityConformance,
    ThrottlingConformance,
    ExactValuesConformance,
    SyncConformance,
):
    @pytest.fixture
    def target(self, strict: StrictRoute53, closed_port: int, throttling_url: str) -> ConformanceTarget:
        zone_id = create_zone(strict)
        return ConformanceTarget(
            provider=provider_at(strict.url),
            zone=ZONE,
            # Route53 refuses a DELETE of a record set that does not stand; it accepts any A value
            rejected_change=Change("delete", RecordSet.of(f"never-created.{ZONE}", "A", 60, ["10.0.0.1"])),
            unreachable=provider_at(f"http://127.0.0.1:{closed_port}"),
            throttled=provider_at(throttling_url),
            foreign=Route53Zone(aws_client(strict), zone_id),
        )


def test_registered_under_its_entry_point(closed_port: int) -> None:
    made = provider_api.create("route53", {"endpointURL": f"http://127.0.0.1:{closed_port}"}, MotoServer.CREDENTIALS)
    assert isinstance(made, Route53Provider) and isinstance(made, Provider)
    assert made.limits == LIMITS


def test_half_a_key_pair_is_unauthorized() -> None:
    with pytest.raises(Unauthorized, match="AWS_SECRET_ACCESS_KEY"):
        create({}, {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"})


# ------------------------------------------------------------------------------------------- limit arithmetic


def a_set(label: str, count: int, ttl: int = 60) -> RecordSet:
    return RecordSet.of(
        f"{label}.{ZONE}", "A", ttl, [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(count)]
    )


def txt_set(label: str, *texts: str) -> RecordSet:
    return RecordSet.of(f"{label}.{ZONE}", "TXT", 60, texts)


def total_cost(provider: Provider, changes: Sequence[Change]) -> Cost:
    total = Cost()
    for change in changes:
        total = total + provider.cost(change)
    return total


def txt_changes_sending(characters: int, action: Action) -> list[Change]:
    """TXT record sets, one value each, whose Value elements sent add up to exactly `characters`."""
    changes: list[Change] = []
    while characters:
        # a value of up to 255 characters goes out as one quoted string: its length plus 2
        size = min(characters, 257)
        if characters - size == 1:
            size -= 1
        record = txt_set(f"chars{len(changes)}", "x" * (size - 2))
        changes.append(Change(action, record, record if action == "update" else None))
        characters -= size
    return changes


@pytest.fixture
def offline(closed_port: int) -> Route53Provider:
    """A provider whose cost and limits are tested without sending anything."""
    return provider_at(f"http://127.0.0.1:{closed_port}")


def test_the_limits_are_route53s(offline: Route53Provider) -> None:
    assert offline.limits.max_values == 1000
    assert offline.limits.max_bytes == 32000
    assert offline.limits.requests_per_second == 5


def test_create_and_delete_cost_their_values_an_update_both_sets(offline: Route53Provider) -> None:
    record = RecordSet.of(f"web.{ZONE}", "A", 60, ["10.0.0.1", "10.0.0.22", "10.0.0.3"])
    characters = len("10.0.0.1") + len("10.0.0.22") + len("10.0.0.3")
    assert offline.cost(Change("create", record)) == Cost(changes=1, values=3, bytes=characters)
    assert offline.cost(Change("delete", record)) == Cost(changes=1, values=3, bytes=characters)
    # a conditional update: DELETE of the old set as read, CREATE of the new — what an UPSERT of the same size costs
    old = a_set("web", 1)
    assert offline.cost(Change("update", record, old)) == Cost(changes=2, values=4, bytes=characters + len("10.0.0.0"))
    assert offline.cost(Change("update", record, record)) == Cost(changes=2, values=6, bytes=2 * characters)
    assert offline.cost(Change("require", record)) == Cost(changes=2, values=6, bytes=2 * characters)


def test_txt_cost_counts_quotes_escapes_and_split_strings(offline: Route53Provider) -> None:
    quoted = txt_set("q", 'say "hi" \\o/')
    # "say \"hi\" \\o/"  : 12 characters, 3 escapes, 2 quotes
    assert offline.cost(Change("create", quoted)).bytes == 12 + 3 + 2
    long = txt_set("long", "a" * 300)
    # "a*255" "a*45"  : 300 characters, 2 strings of 2 quotes, 1 space between
    assert offline.cost(Change("create", long)) == Cost(1, 1, 305)
    assert offline.cost(Change("update", long, long)) == Cost(2, 2, 610)
    two = txt_set("two", "a" * 510, "b")
    assert offline.cost(Change("create", two)) == Cost(1, 2, (510 + 4 + 1) + 3)


def test_txt_goes_out_quoted_escaped_and_split_in_255_byte_strings() -> None:
    sent = changes_to_route53(Change("create", txt_set("t", 'a"b\\c' + "é" + "z" * 300)))[0]
    value = sent["ResourceRecordSet"]["ResourceRecords"][0]["Value"]
    strings = value.split('" "')
    assert value.startswith('"a\\"b\\\\c\\303\\251z') and value.endswith('"')
    assert len(strings) == 2
    # 5 characters + 2 bytes of é + 248 z's = 255 bytes in the first string
    assert strings[0] == '"a\\"b\\\\c\\303\\251' + "z" * 248
    assert strings[1] == "z" * 52 + '"'


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=700))
def test_txt_values_round_trip_through_route53s_text(text: str) -> None:
    assert txt_from_route53(txt_to_route53(text)) == text


def test_record_sets_are_read_back_canonical() -> None:
    def read(name: str, type_: str, *values: str) -> RecordSet | None:
        rrset = {"Name": name, "Type": type_, "TTL": 60, "ResourceRecords": [{"Value": v} for v in values]}
        return record_from_route53(rrset)

    assert read("\\052.Apps.Example.Test.", "A", "10.0.0.1") == RecordSet.of(
        "*.apps.example.test", "A", 60, ["10.0.0.1"]
    )
    assert read("v6.example.test.", "AAAA", "FD00:0:0::1") == RecordSet.of("v6.example.test", "AAAA", 60, ["fd00::1"])
    assert read("c.example.test.", "CNAME", "Target.Example.Test.") == RecordSet.of(
        "c.example.test", "CNAME", 60, ["target.example.test"]
    )
    assert read("t.example.test.", "TXT", '"heritage=dnslb," "owner=x"', "v=spf1") == RecordSet.of(
        "t.example.test", "TXT", 60, ["heritage=dnslb,owner=x", "v=spf1"]
    )
    alias = {"Name": "a.example.test.", "Type": "A", "AliasTarget": {"DNSName": "lb.example.", "HostedZoneId": "Z"}}
    weighted = {"Name": "w.example.test.", "Type": "A", "TTL": 60, "SetIdentifier": "one", "Weight": 10,
                "ResourceRecords": [{"Value": "10.0.0.1"}]}  # fmt: skip
    assert record_from_route53(alias) is None
    assert record_from_route53(weighted) is None


def test_one_thousand_values_fit_and_one_more_does_not(offline: Route53Provider) -> None:
    creates = [Change("create", a_set(f"many{i}", 100)) for i in range(10)]
    assert total_cost(offline, creates).values == 1000 and offline.limits.fits(total_cost(offline, creates))
    one_more = [*creates, Change("create", a_set("one-more", 1))]
    assert not offline.limits.fits(total_cost(offline, one_more))
    updates = [Change("update", a_set(f"many{i}", 100), a_set(f"many{i}", 100, ttl=30)) for i in range(5)]
    assert total_cost(offline, updates).values == 1000 and offline.limits.fits(total_cost(offline, updates))
    upsert_one_more = [*updates, Change("update", a_set("one-more", 1), a_set("one-more", 1, ttl=30))]
    assert not offline.limits.fits(total_cost(offline, upsert_one_more))


@pytest.mark.parametrize(("action", "characters", "counted"), [("create", 32000, 32000), ("update", 16000, 32000)])
def test_32000_characters_fit_and_one_more_does_not(
    offline: Route53Provider, action: Action, characters: int, counted: int
) -> None:
    at_limit = txt_changes_sending(characters, action)
    assert total_cost(offline, at_limit).bytes == counted
    assert offline.limits.fits(total_cost(offline, at_limit))
    over = txt_changes_sending(characters + 1, action)
    assert total_cost(offline, over).bytes > 32000
    assert not offline.limits.fits(total_cost(offline, over))


# ------------------------------------------------------------------------------------------- packing, for real


def ownership(label: str, resource: str) -> RecordSet:
    return txt_set(label, f"heritage=dnslb,dnslb/owner=default,dnslb/resource={resource}")


def apply_plan(provider: Route53Provider, zone: Zone, groups: Sequence[Group]) -> int:
    """Pack and send a plan; the number of requests the packer made."""
    batches, oversized = pack(groups, provider.limits, provider.cost)
    assert not oversized, oversized
    for batch in batches:
        provider.apply(zone, batch.changes)
    return len(batches)


def test_the_packer_keeps_every_request_sent_within_route53s_limits(strict: StrictRoute53) -> None:
    create_zone(strict)
    provider = provider_at(strict.url)
    sent = SentRequests(provider)
    zone = zone_named(provider)
    # 3,190 values and ~97,000 characters: both limits need several requests
    wide = [a_set(f"wide{i}", 20) for i in range(150)]
    notes = [txt_set(f"note{i}", f"{i:03d}" + "n" * 1500) for i in range(40)]
    creates = [
        *(
            Group(r.name, (Change("create", r), Change("create", ownership(r.name.split(".")[0], r.name))))
            for r in wide
        ),
        *(Group(r.name, (Change("create", r),)) for r in notes),
    ]
    requests = apply_plan(provider, zone, creates)
    assert requests == len(sent.changes) >= 4

    # then updates (their 3,000 values count as 6,000) and deletes
    moved = [a_set(f"wide{i}", 30, ttl=120) for i in range(100)]
    updates = [Group(r.name, (Change("update", r, old),)) for r, old in zip(moved, wide, strict=False)]
    deletes = [Group(r.name, (Change("delete", r),)) for r in notes[:20]]
    requests += apply_plan(provider, zone, [*updates, *deletes])

    assert requests == len(sent.changes) >= 8
    assert all(within_route53_quotas(cost) for cost in sent.changes), sent.changes
    current = ours(provider, zone)
    assert all(current[r.key] == r for r in [*moved, *wide[100:], *notes[20:]])
    assert not any(r.key in current for r in notes[:20])


def test_the_packers_cost_is_what_route53_counts_on_the_wire(strict: StrictRoute53) -> None:
    create_zone(strict)
    provider = provider_at(strict.url)
    sent = SentRequests(provider)
    zone = zone_named(provider)
    records = [txt_set(f"t{i}", f'{i} "quoted" \\ ' * 40, "é" * 200) for i in range(30)]
    batches, _ = pack([Group(r.name, (Change("create", r),)) for r in records], provider.limits, provider.cost)
    for batch in batches:
        provider.apply(zone, batch.changes)
    assert sent.changes == [batch.cost for batch in batches]
    assert len(batches) > 1 and all(within_route53_quotas(cost) for cost in sent.changes)


def test_3000_services_land_in_close_to_the_fewest_requests(strict: StrictRoute53) -> None:
    create_zone(strict)
    provider = provider_at(strict.url)
    sent = SentRequests(provider)
    zone = zone_named(provider)
    groups = []
    for i in range(3000):
        label = f"svc{i}"
        record = RecordSet.of(f"{label}.{ZONE}", "A", 60, [f"10.{i // 256 % 256}.{i % 256}.1"])
        owner = ownership(label, f"service/ns{i % 40}/svc{i}")
        groups.append(Group(record.name, (Change("create", record), Change("create", owner))))

    requests = apply_plan(provider, zone, groups)

    fewest = minimum_requests(groups, provider.limits, provider.cost)
    assert requests == len(sent.changes) <= fewest + 1
    assert all(within_route53_quotas(cost) for cost in sent.changes), sent.changes
    current = ours(provider, zone)
    expected = [c.record for g in groups for c in g.changes]
    assert len(current) == len(expected)
    assert all(current[r.key] == r for r in expected)
    # 6,000 record sets read back took several pages
    assert sent.count("ListResourceRecordSets") >= 6000 // 300


# -------------------------------------------------------------------------------------------------- pagination


def test_every_page_of_record_sets_is_read(strict: StrictRoute53) -> None:
    zone_id = create_zone(strict)
    setup = aws_client(strict)
    records = [a_set(f"page{i}", 1 + i % 3) for i in range(650)]
    for start in range(0, len(records), 200):
        changes = [changes_to_route53(Change("create", r))[0] for r in records[start : start + 200]]
        setup.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    provider = provider_at(strict.url)
    sent = SentRequests(provider)
    assert ours(provider, zone_named(provider)) == {r.key: r for r in records}
    assert sent.count("ListResourceRecordSets") == 3  # moto's pages hold 300


def test_every_page_of_hosted_zones_is_read(strict: StrictRoute53) -> None:
    names = [f"zone{i:03d}.test" for i in range(120)]
    for name in names:
        create_zone(strict, name)
    provider = provider_at(strict.url)
    sent = SentRequests(provider)
    assert [z.name for z in provider.zones()] == names
    assert sent.count("ListHostedZones") == 2  # moto's pages hold 100


def test_the_zones_setting_limits_the_zones_managed(strict: StrictRoute53) -> None:
    for name in ("a.test", "b.test", "c.test"):
        create_zone(strict, name)
    provider = provider_at(strict.url, zones="B.test., c.test, missing.test")
    assert [z.name for z in provider.zones()] == ["b.test", "c.test"]


def test_wildcards_round_trip_and_alias_and_weighted_sets_are_left_alone(strict: StrictRoute53) -> None:
    zone_id = create_zone(strict)
    provider = provider_at(strict.url)
    zone = zone_named(provider)
    wildcard = RecordSet.of(f"*.apps.{ZONE}", "A", 60, ["10.0.0.9"])
    provider.apply(zone, [Change("create", wildcard)])
    foreign = [
        {"Name": f"alias.{ZONE}.", "Type": "A",
         "AliasTarget": {"HostedZoneId": zone_id, "DNSName": f"*.apps.{ZONE}.", "EvaluateTargetHealth": False}},
        {"Name": f"weighted.{ZONE}.", "Type": "A", "SetIdentifier": "one", "Weight": 10, "TTL": 60,
         "ResourceRecords": [{"Value": "10.0.0.8"}]},
    ]  # fmt: skip
    aws_client(strict).change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in foreign]}
    )
    assert ours(provider, zone) == {wildcard.key: wildcard}


def test_a_zone_without_an_id_is_found_by_name(strict: StrictRoute53) -> None:
    create_zone(strict)
    provider = provider_at(strict.url)
    record = a_set("by-name", 2)
    provider.apply(Zone(ZONE), [Change("create", record)])
    assert ours(provider, Zone(ZONE)) == {record.key: record}
    with pytest.raises(Rejected, match=r"nowhere\.test"):
        provider.records(Zone("nowhere.test"))


# ------------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (400, THROTTLING, {}, Throttled),
        (400, error_xml("PriorRequestNotComplete", "still processing a prior request"), {}, Throttled),
        (429, b"slow down", {"Retry-After": "3"}, Throttled),
        (403, error_xml("AccessDenied", "not allowed"), {}, Unauthorized),
        (403, error_xml("SignatureDoesNotMatch", "bad signature"), {}, Unauthorized),
        (400, error_xml("InvalidClientTokenId", "no such key"), {}, Unauthorized),
        (400, error_xml("InvalidChangeBatch", "already exists"), {}, Rejected),
        (400, error_xml("InvalidInput", "bad input"), {}, Rejected),
        (404, error_xml("NoSuchHostedZone", "no zone Z1"), {}, Rejected),
        (503, error_xml("ServiceUnavailable", "try later"), {}, Transient),
        (500, b"<html>oops</html>", {"Content-Type": "text/html"}, Transient),
        (200, b"<not xml", {}, Transient),
    ],
)
def test_route53_errors_map_to_provider_errors(
    status: int, body: bytes, headers: dict[str, str], expected: type[Exception]
) -> None:
    with canned(status, body, headers) as server:
        provider = provider_at(server.url)
        with pytest.raises(expected, match="listing hosted zones"):
            provider.zones()
        assert server.requests == 1, "botocore retried: dnslb's sync loop owns retries"
        change = Change("create", a_set("web", 1))
        with pytest.raises(expected, match=rf"applying 1 change\(s\) \(create web\.{ZONE} A\) to zone {ZONE} \(Z1\)"):
            provider.apply(Zone(ZONE, "Z1"), [change])


def test_retry_after_is_passed_on() -> None:
    with canned(429, b"", {"Retry-After": "3"}) as server, pytest.raises(Throttled) as raised:
        provider_at(server.url).zones()
    assert raised.value.retry_after == 3.0


def test_an_unreachable_endpoint_is_transient_for_every_call(closed_port: int) -> None:
    provider = provider_at(f"http://127.0.0.1:{closed_port}")
    zone = Zone(ZONE, "Z1")
    for call in (
        provider.zones,
        lambda: provider.records(zone),
        lambda: provider.apply(zone, [Change("create", a_set("x", 1))]),
    ):
        with pytest.raises(Transient, match="Route53"):
            call()


# ---------------------------------------------------------------------------------------------- the fixture


@pytest.mark.parametrize("executable", [Path("/bin/false"), Path("/nonexistent/moto_server")])
def test_a_moto_server_that_cannot_start_is_an_error(executable: Path) -> None:
    with pytest.raises(RuntimeError, match="moto server"):
        MotoServer(executable).start()


def test_the_moto_server_stops_by_pid() -> None:
    server = MotoServer()
    with server:
        pid = server.pid
        assert pid is not None
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
