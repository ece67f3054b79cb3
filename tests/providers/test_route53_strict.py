"""The strict Route53 layer in front of moto, through boto3: throttling, PriorRequestNotComplete, the quotas, names,
and CREATE/DELETE checked exactly and atomically, as Route53 does and moto does not."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from dnslb_testkit.servers.route53 import MotoServer
from dnslb_testkit.servers.route53_strict import NAMESPACE, DomainName, Limits, SeedRecordSet, StrictRoute53

ZONE = "example.test"
UNTHROTTLED = Limits(rate=None)

Listed = dict[tuple[str, str], tuple[int | None, list[str]]]


@pytest.fixture
def route53(strict: StrictRoute53) -> Any:
    return client(strict.url)


@pytest.fixture
def zone(route53: Any) -> str:
    return create_zone(route53)


def client(url: str, key: str = "testing") -> Any:
    return boto3.client(
        "route53",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def create_zone(route53: Any, name: str = ZONE) -> str:
    created = route53.create_hosted_zone(Name=name, CallerReference=f"{name}-{time.monotonic_ns()}")
    return str(created["HostedZone"]["Id"])


def record_set(action: str, name: str, type_: str, ttl: int, *values: str) -> dict[str, Any]:
    records = [{"Value": value} for value in values]
    return {
        "Action": action,
        "ResourceRecordSet": {"Name": name, "Type": type_, "TTL": ttl, "ResourceRecords": records},
    }


def change(route53: Any, zone: str, *changes: dict[str, Any]) -> None:
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": list(changes)})


def refused(route53: Any, zone: str, *changes: dict[str, Any], code: str = "InvalidChangeBatch") -> str:
    """The message of the error `changes` are refused with (HTTP 400, `code`)."""
    with pytest.raises(ClientError) as raised:
        change(route53, zone, *changes)
    return error_of(raised.value, code)


def error_of(error: ClientError, code: str) -> str:
    assert error.response["Error"]["Code"] == code, error.response
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error.response["Error"]["Message"])


def listed(route53: Any, zone: str) -> Listed:
    found: Listed = {}
    for page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone):
        for item in page["ResourceRecordSets"]:
            values = [r["Value"] for r in item.get("ResourceRecords", [])]
            found[item["Name"], item["Type"]] = (item.get("TTL"), values)
    return found


def ours(route53: Any, zone: str) -> Listed:
    return {key: value for key, value in listed(route53, zone).items() if key[1] not in ("SOA", "NS")}


def a_records(count: int, start: int = 0) -> list[SeedRecordSet]:
    addresses = (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(start, start + count))
    return [SeedRecordSet(f"h{i}.{ZONE}.", "A", 60, (a,)) for i, a in enumerate(addresses, start)]


def drain(route53: Any) -> int:
    """List hosted zones until throttled; how many were answered."""
    answered = 0
    with pytest.raises(ClientError) as raised:
        while answered < 1000:
            route53.list_hosted_zones()
            answered += 1
    assert error_of(raised.value, "Throttling") == "Rate exceeded"
    return answered


# ---------------------------------------------------------------------------------------------------- throttling


def test_a_burst_then_throttling(strict: StrictRoute53) -> None:
    limits = strict.set_limits(Limits(rate=0.5, burst=3))
    started = time.monotonic()
    answered = drain(client(strict.url, "burst"))
    assert limits.rate is not None
    assert limits.burst <= answered <= limits.burst + (time.monotonic() - started) * limits.rate
    counters = strict.counters()
    assert counters.throttled == 1
    assert counters.requests["ListHostedZones"] == answered + 1
    assert counters.forwarded == answered  # the throttled one never reached moto


def test_the_bucket_refills_at_its_rate(strict: StrictRoute53) -> None:
    rate = 2.0
    strict.set_limits(Limits(rate=rate, burst=2))
    route53 = client(strict.url, "refill")
    drain(route53)
    time.sleep(1 / rate)  # the bucket had less than one token when it refused: now it has at least one
    route53.list_hosted_zones()


def test_each_account_has_a_bucket(strict: StrictRoute53) -> None:
    strict.set_limits(Limits(rate=0.1, burst=2))  # a token in 10 s: none comes back while this runs
    first, second = client(strict.url, "first"), client(strict.url, "second")
    drain(first)
    second.list_hosted_zones()
    second.list_hosted_zones()
    with pytest.raises(ClientError) as raised:
        first.list_hosted_zones()
    error_of(raised.value, "Throttling")


def unsigned_code(url: str) -> str:
    """The error code of an unsigned ListHostedZones ('' if none)."""
    try:
        with urllib.request.urlopen(f"{url}/2013-04-01/hostedzone", timeout=10):
            return ""
    except urllib.error.HTTPError as error:
        return ElementTree.fromstring(error.read()).findtext(f".//{{{NAMESPACE}}}Code") or ""


def test_unsigned_requests_share_one_bucket(strict: StrictRoute53) -> None:
    strict.set_limits(Limits(rate=0.1, burst=2))
    codes = [unsigned_code(strict.url) for _ in range(3)]
    assert codes[:2] != ["Throttling", "Throttling"]
    assert codes[2] == "Throttling"
    client(strict.url).list_hosted_zones()  # a signed one has its own


def test_changes_are_throttled_with_the_rest(strict: StrictRoute53, route53: Any, zone: str) -> None:
    strict.set_limits(Limits(rate=0.1, burst=1))
    route53.list_hosted_zones()
    refused(route53, zone, record_set("CREATE", f"a.{ZONE}.", "A", 60, "10.0.0.1"), code="Throttling")
    strict.set_limits(UNTHROTTLED)
    assert ours(route53, zone) == {}


def test_a_change_during_the_settling_of_the_last_one_is_prior_request_not_complete(
    strict: StrictRoute53, route53: Any, zone: str
) -> None:
    settle = 3.0
    other = create_zone(route53, "other.test")
    strict.set_limits(Limits(rate=None, settle=settle))
    change(route53, zone, record_set("CREATE", f"a.{ZONE}.", "A", 60, "10.0.0.1"))
    finished = time.monotonic()  # the change finished before its answer came
    second = record_set("CREATE", f"b.{ZONE}.", "A", 60, "10.0.0.2")
    message = refused(route53, zone, second, code="PriorRequestNotComplete")
    assert "still processing a prior request" in message
    change(route53, other, record_set("CREATE", "b.other.test.", "A", 60, "10.0.0.2"))  # another zone is not busy
    route53.list_resource_record_sets(HostedZoneId=zone)  # reading is not changing
    time.sleep(max(0.0, finished + settle - time.monotonic()))
    change(route53, zone, second)
    assert set(ours(route53, zone)) == {(f"a.{ZONE}.", "A"), (f"b.{ZONE}.", "A")}
    assert strict.counters().prior_request_not_complete == 1


# ------------------------------------------------------------------------------------------------------ quotas


def hundred_values(index: int, count: int = 100) -> list[str]:
    return [f"10.{index}.{i // 256}.{i % 256}" for i in range(count)]


def test_a_batch_holds_1000_records(strict: StrictRoute53, route53: Any, zone: str) -> None:
    changes = [record_set("CREATE", f"r{i}.{ZONE}.", "A", 60, *hundred_values(i)) for i in range(10)]
    strict.reset_counters()
    change(route53, zone, *changes)
    # moto counts the UPSERTs the CREATEs go on as twice: one batch, two requests
    assert strict.counters().forwarded == 2
    assert sum(len(values) for _, values in ours(route53, zone).values()) == 1000


def test_a_batch_of_1001_records_is_refused(route53: Any, zone: str) -> None:
    changes = [record_set("CREATE", f"r{i}.{ZONE}.", "A", 60, *hundred_values(i)) for i in range(10)]
    changes.append(record_set("CREATE", f"one-more.{ZONE}.", "A", 60, "10.99.0.1"))
    assert refused(route53, zone, *changes) == "Number of records limit of 1000 exceeded."
    assert ours(route53, zone) == {}


def test_an_upsert_counts_twice_against_the_records(route53: Any, zone: str) -> None:
    change(route53, zone, *[record_set("UPSERT", f"r{i}.{ZONE}.", "A", 60, *hundred_values(i)) for i in range(5)])
    too_many = [record_set("UPSERT", f"s{i}.{ZONE}.", "A", 60, *hundred_values(i)) for i in range(5)]
    too_many.append(record_set("UPSERT", f"one-more.{ZONE}.", "A", 60, "10.99.0.1"))
    assert refused(route53, zone, *too_many) == "Number of records limit of 1000 exceeded."
    assert len(ours(route53, zone)) == 5


def txt_values(characters: int) -> list[str]:
    """Distinct TXT values of 250 characters (quotes included), and one of what is left over."""
    values = [f'"{i:03d}{"x" * 245}"' for i in range(characters // 250)]
    rest = characters % 250
    return [*values, '"' + "y" * (rest - 2) + '"'] if rest else values


@pytest.mark.parametrize(("action", "limit"), [("CREATE", 32000), ("UPSERT", 16000)])
def test_a_batch_holds_32000_characters_of_values(route53: Any, zone: str, action: str, limit: int) -> None:
    change(route53, zone, record_set(action, f"fits.{ZONE}.", "TXT", 60, *txt_values(limit)))
    message = refused(route53, zone, record_set(action, f"over.{ZONE}.", "TXT", 60, *txt_values(limit + 3)))
    assert message == "RDATA character limit of 32000 exceeded."
    assert sum(map(len, ours(route53, zone)[f"fits.{ZONE}.", "TXT"][1])) == limit
    assert (f"over.{ZONE}.", "TXT") not in ours(route53, zone)


# ------------------------------------------------------------------------------------------------------- names


def name_of_wire_length(length: int, last_label: str = "c") -> str:
    """A name in the zone whose wire form is `length` bytes: labels of 63 and one to make up the rest."""
    zone = DomainName.parse(ZONE).wire_length
    labels, rest = [], length - zone
    while rest > 64:
        labels.append("a" * 63)
        rest -= 64
    return ".".join([last_label * (rest - 1), *labels, ZONE]) + "."


def test_a_name_of_255_bytes_is_the_longest(route53: Any, zone: str) -> None:
    longest, too_long = name_of_wire_length(255), name_of_wire_length(256, "d")
    assert DomainName.parse(longest).wire_length == 255
    change(route53, zone, record_set("CREATE", longest, "A", 60, "10.0.0.1"))
    message = refused(route53, zone, record_set("CREATE", too_long, "A", 60, "10.0.0.1"))
    assert "DomainNameTooLong" in message
    assert set(ours(route53, zone)) == {(longest, "A")}


def test_a_label_of_64_bytes_is_too_long(route53: Any, zone: str) -> None:
    message = refused(route53, zone, record_set("CREATE", f"{'a' * 64}.{ZONE}.", "A", 60, "10.0.0.1"))
    assert "DomainLabelTooLong" in message


def test_an_escape_is_one_byte(route53: Any, zone: str) -> None:
    escaped = "\\141" * 63  # 252 characters, 63 bytes: 'a' each
    change(route53, zone, record_set("CREATE", f"{escaped}.{escaped}.{escaped}.{ZONE}.", "A", 60, "10.0.0.1"))
    message = refused(route53, zone, record_set("CREATE", f"{escaped}\\142.{ZONE}.", "A", 60, "10.0.0.1"))
    assert "DomainLabelTooLong" in message
    assert set(ours(route53, zone)) == {(f"{'a' * 63}.{'a' * 63}.{'a' * 63}.{ZONE}.", "A")}


def test_names_are_kept_as_route53_writes_them(route53: Any, zone: str) -> None:
    change(
        route53,
        zone,
        record_set("CREATE", "WWW.Example.Test", "A", 60, "10.0.0.1"),
        record_set("CREATE", f"*.apps.{ZONE}.", "A", 60, "10.0.0.2"),
    )
    assert set(ours(route53, zone)) == {(f"www.{ZONE}.", "A"), (f"\\052.apps.{ZONE}.", "A")}
    # and are the same name however written
    message = refused(route53, zone, record_set("CREATE", f"\\052.APPS.{ZONE}", "A", 60, "10.0.0.3"))
    assert f"[name='\\052.apps.{ZONE}.', type='A'] but it already exists" in message


def test_a_name_outside_the_zone_is_refused(route53: Any, zone: str) -> None:
    message = refused(route53, zone, record_set("CREATE", "www.badexample.test.", "A", 60, "10.0.0.1"))
    assert message == f"[RRSet with DNS name www.badexample.test. is not permitted in zone {ZONE}.]"


# ---------------------------------------------------------------------------------- exact, atomic changes


def test_creating_what_exists_refuses_the_whole_batch(route53: Any, zone: str) -> None:
    change(route53, zone, record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1"))
    message = refused(
        route53,
        zone,
        record_set("CREATE", f"y.{ZONE}.", "A", 60, "10.0.0.2"),
        record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.3"),
    )
    assert message == f"[Tried to create resource record set [name='x.{ZONE}.', type='A'] but it already exists]"
    assert ours(route53, zone) == {(f"x.{ZONE}.", "A"): (60, ["10.0.0.1"])}


def test_creating_the_same_twice_in_a_batch_is_refused(route53: Any, zone: str) -> None:
    message = refused(
        route53,
        zone,
        record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1"),
        record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1"),
    )
    assert "but it already exists" in message
    assert ours(route53, zone) == {}


def existing(route53: Any, zone: str) -> None:
    change(
        route53,
        zone,
        record_set("CREATE", f"v6.{ZONE}.", "AAAA", 60, "FD00:0:0::1", "fd00::2"),
        record_set("CREATE", f"cname.{ZONE}.", "CNAME", 300, "Target.Example."),
        record_set("CREATE", f"txt.{ZONE}.", "TXT", 60, '"hello world" "a\\"b"', "unquoted"),
    )


VERBATIM: Listed = {
    (f"v6.{ZONE}.", "AAAA"): (60, ["FD00:0:0::1", "fd00::2"]),
    (f"cname.{ZONE}.", "CNAME"): (300, ["Target.Example."]),
    (f"txt.{ZONE}.", "TXT"): (60, ['"hello world" "a\\"b"', "unquoted"]),
}


def test_values_are_kept_verbatim(route53: Any, zone: str) -> None:
    existing(route53, zone)
    assert ours(route53, zone) == VERBATIM


DIFFERENT = "the values provided do not match the current values"
MISSING = "it was not found"


@pytest.mark.parametrize(
    ("name", "type_", "ttl", "values", "reason"),
    [
        (f"v6.{ZONE}.", "AAAA", 60, ["fd00::1", "fd00::2"], DIFFERENT),
        (f"v6.{ZONE}.", "AAAA", 60, ["FD00:0:0::1"], DIFFERENT),
        (f"v6.{ZONE}.", "AAAA", 61, ["FD00:0:0::1", "fd00::2"], DIFFERENT),
        (f"cname.{ZONE}.", "CNAME", 300, ["target.example."], DIFFERENT),
        (f"cname.{ZONE}.", "CNAME", 300, ["Target.Example"], DIFFERENT),
        (f"txt.{ZONE}.", "TXT", 60, ['"hello world" "a\\"b"', '"unquoted"'], DIFFERENT),
        (f"gone.{ZONE}.", "A", 60, ["10.0.0.1"], MISSING),
        (f"v6.{ZONE}.", "A", 60, ["FD00:0:0::1", "fd00::2"], MISSING),
    ],
)
def test_a_delete_must_match_exactly(
    route53: Any, zone: str, *, name: str, type_: str, ttl: int, values: list[str], reason: str
) -> None:
    existing(route53, zone)
    message = refused(route53, zone, record_set("DELETE", name, type_, ttl, *values))
    assert message == f"[Tried to delete resource record set [name='{name}', type='{type_}'] but {reason}]"
    assert ours(route53, zone) == VERBATIM


def test_a_delete_that_matches_in_another_case_and_order_deletes(route53: Any, zone: str) -> None:
    existing(route53, zone)
    change(route53, zone, record_set("DELETE", "V6.Example.Test", "AAAA", 60, "fd00::2", "FD00:0:0::1"))
    assert (f"v6.{ZONE}.", "AAAA") not in ours(route53, zone)


def test_a_delete_then_a_create_of_the_same_name_replaces_it(route53: Any, zone: str) -> None:
    change(route53, zone, record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1"))
    change(
        route53,
        zone,
        record_set("DELETE", f"x.{ZONE}.", "A", 60, "10.0.0.1"),
        record_set("CREATE", f"x.{ZONE}.", "A", 30, "10.0.0.2"),
    )
    assert ours(route53, zone) == {(f"x.{ZONE}.", "A"): (30, ["10.0.0.2"])}
    # the replacement is checked as the state the batch left it: the old values no longer match
    message = refused(
        route53,
        zone,
        record_set("DELETE", f"x.{ZONE}.", "A", 30, "10.0.0.2"),
        record_set("DELETE", f"x.{ZONE}.", "A", 30, "10.0.0.2"),
    )
    assert "it was not found" in message


def test_what_was_deleted_can_be_created_again_as_it_was(route53: Any, zone: str) -> None:
    # moto alone refuses a CREATE identical to one in its journal, deleted or not
    created = record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1")
    change(route53, zone, created, record_set("CREATE", f"z.{ZONE}.", "A", 60, "10.0.0.9"))
    change(route53, zone, record_set("DELETE", f"x.{ZONE}.", "A", 60, "10.0.0.1"))
    change(route53, zone, created)
    change(route53, zone, record_set("DELETE", f"x.{ZONE}.", "A", 60, "10.0.0.1"), created)
    assert ours(route53, zone)[f"x.{ZONE}.", "A"] == (60, ["10.0.0.1"])


def test_an_upsert_always_goes_through(route53: Any, zone: str) -> None:
    change(route53, zone, record_set("UPSERT", f"x.{ZONE}.", "A", 60, "10.0.0.1"))
    change(route53, zone, record_set("UPSERT", f"X.{ZONE}.", "A", 30, "10.0.0.2"))
    assert ours(route53, zone) == {(f"x.{ZONE}.", "A"): (30, ["10.0.0.2"])}


def test_a_write_straight_to_moto_is_seen(strict: StrictRoute53, route53: Any, zone: str) -> None:
    change(route53, zone, record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1"))
    change(client(strict.moto.url), zone, record_set("CREATE", f"y.{ZONE}.", "A", 60, "10.0.0.2"))
    assert "already exists" in refused(route53, zone, record_set("CREATE", f"y.{ZONE}.", "A", 60, "10.0.0.3"))


def test_alias_and_weighted_record_sets_pass(route53: Any, zone: str) -> None:
    alias = {
        "Action": "CREATE",
        "ResourceRecordSet": {
            "Name": f"alias.{ZONE}.",
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": zone.removeprefix("/hostedzone/"),
                "DNSName": f"x.{ZONE}.",
                "EvaluateTargetHealth": False,
            },
        },
    }
    weighted = [record_set("CREATE", f"w.{ZONE}.", "A", 60, value) for value in ("10.0.0.1", "10.0.0.2")]
    for identifier, weighting in zip(("one", "two"), weighted, strict=True):
        weighting["ResourceRecordSet"].update(SetIdentifier=identifier, Weight=1)
    change(route53, zone, record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1"), alias, *weighted)
    found = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    names = [(r["Name"], r.get("SetIdentifier")) for r in found if r["Type"] == "A"]
    assert sorted(names, key=str) == sorted(
        [(f"x.{ZONE}.", None), (f"alias.{ZONE}.", None), (f"w.{ZONE}.", "one"), (f"w.{ZONE}.", "two")], key=str
    )
    change(route53, zone, {**alias, "Action": "DELETE"})


def test_a_change_to_a_zone_moto_does_not_have_is_moto_s_answer(route53: Any) -> None:
    with pytest.raises(ClientError) as raised:
        change(route53, "/hostedzone/NOSUCHZONE", record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1"))
    assert raised.value.response["Error"]["Code"] == "NoSuchHostedZone"


def test_a_page_holds_at_most_300_record_sets(strict: StrictRoute53, route53: Any, zone: str) -> None:
    strict.seed(zone, a_records(400))
    page = route53.list_resource_record_sets(HostedZoneId=zone, MaxItems="1000")
    assert len(page["ResourceRecordSets"]) == 300
    assert page["IsTruncated"]


# --------------------------------------------------------------------------------------- counters and seeding


def test_the_counters(strict: StrictRoute53, route53: Any, zone: str) -> None:
    strict.reset_counters()
    change(route53, zone, record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1"))
    refused(route53, zone, record_set("CREATE", f"x.{ZONE}.", "A", 60, "10.0.0.1"))
    route53.list_resource_record_sets(HostedZoneId=zone)
    counters = strict.counters()
    assert counters.requests == {"ChangeResourceRecordSets": 2, "ListResourceRecordSets": 1}
    assert (counters.refused_batches, counters.throttled, counters.prior_request_not_complete) == (1, 0, 0)
    assert counters.forwarded == 2
    strict.reset_counters()
    assert strict.counters().requests == {}


def test_a_seed_is_not_throttled_and_is_checked_against_after(strict: StrictRoute53, route53: Any, zone: str) -> None:
    strict.set_limits(Limits(rate=0.1, burst=1))
    assert strict.seed(zone, a_records(2000)) == 2000
    counters = strict.counters()
    assert counters.seeded == 2000
    assert counters.requests == {"CreateHostedZone": 1}
    strict.set_limits(UNTHROTTLED)
    found = ours(route53, zone)
    assert len(found) == 2000
    assert found[f"h1999.{ZONE}.", "A"] == (60, ["10.0.7.207"])
    assert "already exists" in refused(route53, zone, record_set("CREATE", f"h7.{ZONE}.", "A", 60, "10.0.0.7"))
    change(route53, zone, record_set("DELETE", f"H7.{ZONE}.", "A", 60, "10.0.0.7"))
    assert (f"h7.{ZONE}.", "A") not in ours(route53, zone)


def test_a_seed_replaces_what_it_names(strict: StrictRoute53, route53: Any, zone: str) -> None:
    change(route53, zone, record_set("CREATE", f"h1.{ZONE}.", "A", 60, "10.9.9.9"))
    strict.seed(zone, a_records(3))
    strict.seed(zone, [SeedRecordSet(f"H2.{ZONE}", "A", 30, ("10.8.8.8",))])
    assert ours(route53, zone) == {
        (f"h0.{ZONE}.", "A"): (60, ["10.0.0.0"]),
        (f"h1.{ZONE}.", "A"): (60, ["10.0.0.1"]),
        (f"h2.{ZONE}.", "A"): (30, ["10.8.8.8"]),
    }


def test_a_seed_refuses_what_route53_would(strict: StrictRoute53, zone: str) -> None:
    with pytest.raises(RuntimeError, match="not permitted in zone"):
        strict.seed(zone, [SeedRecordSet("x.other.test.", "A", 60, ("10.0.0.1",))])
    with pytest.raises(RuntimeError, match="no hosted zone"):
        strict.seed("/hostedzone/NOSUCHZONE", a_records(1))


def test_limits_are_checked(strict: StrictRoute53) -> None:
    with pytest.raises(RuntimeError, match="rate must be above 0"):
        strict.set_limits(Limits(rate=0.0))
    assert strict.limits() == UNTHROTTLED


# ------------------------------------------------------------------------------------------------- the fixture


def test_in_front_of_a_plain_moto_a_seed_goes_through_its_api() -> None:
    with MotoServer() as moto, StrictRoute53(moto, limits=UNTHROTTLED) as strict:
        route53 = client(strict.url)
        zone = create_zone(route53)
        assert strict.seed(zone, a_records(1100)) == 1100
        assert len(ours(route53, zone)) == 1100
        change(route53, zone, record_set("DELETE", f"h1050.{ZONE}.", "A", 60, "10.0.4.26"))
    assert moto.pid is None


def test_the_strict_layer_stops_by_pid() -> None:
    server = StrictRoute53()
    with server:
        pids = [server.pid, server.moto.pid]
    assert server.pid is None
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_layer_that_cannot_start_is_an_error(strict_route53_server: StrictRoute53) -> None:
    with pytest.raises(RuntimeError, match="strict Route53 layer"):
        StrictRoute53(strict_route53_server.moto, python=Path("/bin/false")).start()
    strict_route53_server.moto.reset()  # the moto it was given still runs
    with pytest.raises(RuntimeError, match="moto server"):
        StrictRoute53(python=Path("/nonexistent/python")).start()


def test_botocore_reads_no_code_from_the_documented_invalid_change_batch() -> None:
    """Why the layer answers InvalidChangeBatch as an ErrorResponse (see the module's docstring)."""
    from botocore.parsers import RestXMLParser

    operation = boto3.session.Session().client("route53", region_name="us-east-1").meta.service_model
    documented = (
        f'<InvalidChangeBatch xmlns="{NAMESPACE}"><Messages><Message>Tried to create resource record set'
        " [name='x.example.test.', type='A'] but it already exists</Message></Messages>"
        "<RequestId>r</RequestId></InvalidChangeBatch>"
    ).encode()
    shape = operation.operation_model("ChangeResourceRecordSets").output_shape
    parsed = RestXMLParser().parse({"status_code": 400, "headers": {}, "body": documented}, shape)
    assert parsed["Error"] == {"Code": "", "Message": ""}
