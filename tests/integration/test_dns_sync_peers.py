"""The DNS sync engine (claims → plan → packed batches → provider) against real servers."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from dnslb.adapters.dnssync.plugins import create
from dnslb.adapters.dnssync.sync import ProviderSync
from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.diagnostics import Diagnostic
from dnslb.core.dns.changes import rollback_changes
from dnslb.core.dns.desired import Claim, claims
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.objects import ObjectKey, service_ref
from dnslb.provider import Provider, ProviderError, RecordSet, Zone
from dnslb_route53 import Route53Provider
from dnslb_testkit.servers.powerdns import PowerDNSServer
from dnslb_testkit.servers.route53 import MotoServer
from dnslb_testkit.servers.route53_strict import Limits as ServerLimits
from dnslb_testkit.servers.route53_strict import SeedRecordSet, StrictRoute53
from tests.builders import make_service
from tests.providers.test_route53 import SentRequests, within_route53_quotas

ZONE = "example.test"
ROUTE53 = ServerLimits(rate=5.0, burst=5)  # Route53's own: 5 requests a second per account


def aws(server: StrictRoute53, key: str = "testing") -> Any:
    """boto3 straight to the server: someone other than dnslb (own key: own throttling bucket)."""
    return boto3.client("route53", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}))  # fmt: skip


def route53(server: StrictRoute53) -> tuple[Provider, str]:
    """The provider under test, with its zone's id."""
    created = aws(server).create_hosted_zone(Name=ZONE, CallerReference=str(time.monotonic_ns()))
    return create("route53", {"endpointURL": server.url}, MotoServer.CREDENTIALS), created["HostedZone"]["Id"]


def upsert(server: StrictRoute53, zone_id: str, name: str, type_: str, *values: str, key: str = "other") -> None:
    records = [{"Value": v} for v in values]
    change = {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": type_, "TTL": 300,
                                                        "ResourceRecords": records}}  # fmt: skip
    aws(server, key).change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [change]})


def standing(server: StrictRoute53, zone_id: str) -> dict[tuple[str, str], list[str]]:
    """Every record set as the server keeps it, values verbatim."""
    found: dict[tuple[str, str], list[str]] = {}
    for page in aws(server, "reader").get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        for rrset in page["ResourceRecordSets"]:
            found[(rrset["Name"], rrset["Type"])] = [r["Value"] for r in rrset.get("ResourceRecords", [])]
    return found


def vip(hostname: str, *ips: str) -> Claim:
    records = [RecordSet.of(hostname, t, 300, [i for i in ips if (":" in i) == (t == "AAAA")]) for t in ("A", "AAAA")]
    return Claim(
        hostname,
        service_ref(ObjectKey("default", hostname.split(".", maxsplit=1)[0])),
        "",
        300,
        tuple(r for r in records if r.values),
    )


def syncer(
    provider: Provider, *, read: bool = True, **spec: object
) -> tuple[ProviderSync, list[Diagnostic], dict[str, list[RecordSet]]]:
    notices: list[Diagnostic] = []
    saved: dict[str, list[RecordSet]] = {}
    sync = ProviderSync(
        "test",
        DNSProviderSpec.model_validate({"type": "x", **spec}),
        provider,
        "cluster-a",
        save_replaced=lambda zone, records: saved.setdefault(zone.name, []).extend(records),
    )
    if read:
        sync.read()
    return sync, notices, saved


def test_3000_services_with_two_hostnames_each_stay_within_route53s_limits(strict: StrictRoute53) -> None:
    provider, _ = route53(strict)
    assert isinstance(provider, Route53Provider)
    sent = SentRequests(provider)
    services = [
        make_service(f"svc{i}", f"ns{i % 30}", created=f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
                     annotations={"dnslb.io/hostname": f"a{i}.{ZONE},b{i}.{ZONE}"},
                     ingress=(f"10.{i // 250}.{i % 250}.1",))
        for i in range(3000)
    ]  # fmt: skip
    wanted, skipped = claims(services, ClassFilter())
    assert len(wanted) == 6000 and skipped == []
    sync, notices, _ = syncer(provider)
    assert sync.sync(wanted, may_delete=True) == []
    assert len(sent.changes) >= 12 and all(within_route53_quotas(c) for c in sent.changes), sent.changes
    current = {r.key: r for r in provider.records(provider.zones()[0])}
    assert current[(f"b2999.{ZONE}", "A")].values == ("10.11.249.1",)
    assert sum(1 for name, type_ in current if type_ == "TXT") == 6000
    assert sync.sync(wanted, may_delete=True) == []  # converged: nothing more to send
    assert notices == []


def test_takeover_and_rollback_on_route53_put_back_byte_for_byte(strict: StrictRoute53) -> None:
    provider, zone_id = route53(strict)
    zone = provider.zones()[0]
    # written by someone else, in spellings Route53 keeps verbatim and dnslb reads canonically
    nodes = [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(300)]
    upsert(strict, zone_id, f"web.{ZONE}.", "A", *nodes)
    upsert(strict, zone_id, f"web.{ZONE}.", "AAAA", "FD00:0:0:0::1", "fd00::0002")
    upsert(strict, zone_id, f"web.{ZONE}.", "TXT", '"v=spf1" " -all"', '"say \\"hi\\""')
    upsert(strict, zone_id, f"Alias.{ZONE}.", "CNAME", "Web.Example.Test.")
    before = standing(strict, zone_id)
    sync, _, saved = syncer(provider, takeover=True)
    assert sync.sync([vip(f"web.{ZONE}", "10.0.0.1", "fd00::10"), vip(f"alias.{ZONE}", "10.0.0.2")], True) == []
    now = standing(strict, zone_id)
    assert now[(f"web.{ZONE}.", "A")] == ["10.0.0.1"] and now[(f"alias.{ZONE}.", "A")] == ["10.0.0.2"]
    assert (f"alias.{ZONE}.", "CNAME") not in now
    assert now[(f"web.{ZONE}.", "TXT")] == before[(f"web.{ZONE}.", "TXT")]  # not dnslb's to replace
    assert sorted(r.type for r in saved[ZONE]) == ["A", "AAAA", "CNAME"]

    rollback = rollback_changes(saved[ZONE], sync.records(ZONE), "cluster-a")
    provider.apply(zone, [c for g in rollback for c in g.changes])
    assert standing(strict, zone_id) == before


def test_a_record_changed_behind_dnslbs_back_fails_the_write_and_only_that_name_is_read_again(
    strict: StrictRoute53,
) -> None:
    provider, zone_id = route53(strict)
    sync, _, _ = syncer(provider)
    assert sync.sync([vip(f"web.{ZONE}", "10.0.0.1"), vip(f"api.{ZONE}", "10.0.0.3")], True) == []
    upsert(strict, zone_id, f"web.{ZONE}.", "A", "192.0.2.7")  # between two syncs, dnslb still thinks 10.0.0.1
    strict.reset_counters()
    sync.take_stats()

    # the VIP moves: the update is conditional on 10.0.0.1, which no longer stands
    assert sync.sync([vip(f"web.{ZONE}", "10.0.0.2"), vip(f"api.{ZONE}", "10.0.0.3")], True) == []
    counters = strict.counters()
    assert counters.refused_batches == 1
    # the name and its ownership name read again, one request each; never the zone
    assert counters.requests.get("ListResourceRecordSets") == 2
    assert sync.stats.reads == 2  # and counted as reads (dnslb_dns_read_requests_total)
    # the name is still dnslb's (its ownership record says so): the write made again from what stands applies
    assert standing(strict, zone_id)[(f"web.{ZONE}.", "A")] == ["10.0.0.2"]
    assert sync.health.ok


def test_a_name_taken_by_another_owner_behind_dnslbs_back_is_left_to_it(strict: StrictRoute53) -> None:
    provider, zone_id = route53(strict)
    sync, _, _ = syncer(provider)
    assert sync.sync([vip(f"web.{ZONE}", "10.0.0.1")], True) == []
    upsert(strict, zone_id, f"web.{ZONE}.", "A", "192.0.2.7")
    upsert(strict, zone_id, f"_dnslb.web.{ZONE}.", "TXT", '"heritage=dnslb,dnslb/owner=cluster-b,dnslb/resource=x"')
    strict.reset_counters()

    notices = sync.sync([vip(f"web.{ZONE}", "10.0.0.2")], True)
    assert [n.about for n in notices] == [f"web.{ZONE}"] and "cluster-b" in notices[0].message
    assert standing(strict, zone_id)[(f"web.{ZONE}.", "A")] == ["192.0.2.7"]  # the other owner's change survives
    assert strict.counters().refused_batches == 1
    strict.reset_counters()
    assert [n.about for n in sync.sync([vip(f"web.{ZONE}", "10.0.0.2")], True)] == [f"web.{ZONE}"]
    assert strict.counters().requests == {}  # known now: nothing sent, nothing read


def test_a_foreign_record_at_the_ownership_name_makes_the_name_foreign_without_a_request(
    strict: StrictRoute53,
) -> None:
    provider, zone_id = route53(strict)
    upsert(strict, zone_id, f"_dnslb.web.{ZONE}.", "TXT", '"google-site-verification=abc"')
    upsert(strict, zone_id, f"_dnslb.api.{ZONE}.", "CNAME", "elsewhere.example.")
    sync, _, _ = syncer(provider, takeover=True)
    strict.reset_counters()
    claims_ = [vip(f"web.{ZONE}", "10.0.0.1"), vip(f"api.{ZONE}", "10.0.0.2"), vip(f"ok.{ZONE}", "10.0.0.3")]
    for _ in range(3):
        notices = sync.sync(claims_, True)
        assert sorted(n.about for n in notices) == [f"api.{ZONE}", f"web.{ZONE}"]
        assert all("foreign" in n.message for n in notices)
    assert strict.counters().requests == {"ChangeResourceRecordSets": 1}  # ok.example.test, once
    assert sync.stats.foreign == 2
    assert (f"web.{ZONE}.", "A") not in standing(strict, zone_id)


def test_a_20000_record_set_zone_is_read_to_completion_while_another_client_shares_the_throttled_account(
    strict: StrictRoute53,
) -> None:
    provider, zone_id = route53(strict)
    strict.seed(zone_id, [SeedRecordSet(f"h{i}.{ZONE}.", "A", 300, (f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",))
                          for i in range(20000)])  # fmt: skip
    starts: list[str | None] = []
    provider.client.meta.events.register(  # type: ignore[attr-defined]
        "before-send.route-53.ListResourceRecordSets",
        lambda request, **_: starts.append(parse_qs(urlsplit(request.url).query).get("name", [None])[0]),
    )
    strict.set_limits(ROUTE53)
    # another client on the same account (same key: same bucket) keeps taking 3 of its 5 tokens a second
    stop = threading.Event()

    def other_client() -> None:
        client = aws(strict, MotoServer.CREDENTIALS["AWS_ACCESS_KEY_ID"])
        while not stop.wait(1 / 3):
            with contextlib.suppress(ClientError):
                client.get_hosted_zone(Id=zone_id)

    neighbour = threading.Thread(target=other_client, daemon=True)
    neighbour.start()
    try:
        sync, _, _ = syncer(provider, read=False)
        sync.begin_read()
        while True:
            try:
                if sync.read_some():
                    break
            except ProviderError:
                pass  # the read resumes from the request that failed, after its pause
            time.sleep(sync.read_due() or 0.0)
    finally:
        stop.set()
        neighbour.join()
    assert sum(1 for r in sync.view(ZONE) if r.type == "A") == 20000
    counters = strict.counters()
    assert counters.throttled > 0
    # a page throttled is asked for again, never the zone from its first page
    assert starts[0] is None and None not in starts[starts.index(next(s for s in starts if s)) :]
    assert len(set(starts)) == 67  # 20,002 record sets in pages of 300


def test_a_poisoned_record_among_1000_lets_the_other_999_land() -> None:
    with PowerDNSServer.start() as pdns:
        pdns.create_zone(ZONE)
        provider = create("powerdns", pdns.provider_settings(), pdns.provider_secret())
        sync, _, _ = syncer(provider)

        def address(i: int) -> str:
            return "10.0.0.256" if i == 500 else f"10.1.{i // 250}.{i % 250}"  # one value PowerDNS refuses

        wanted = [
            Claim(f"h{i}.{ZONE}", service_ref(ObjectKey("default", f"s{i}")), "", 300,
                  (RecordSet.of(f"h{i}.{ZONE}", "A", 300, [address(i)]),))
            for i in range(1000)
        ]  # fmt: skip
        notices = sync.sync(wanted, may_delete=True)
        # the refused request sent again by halves: about 2·log2(1000) requests, not one per record
        assert sync.take_stats().requests <= 2 * 10 + 2
        assert [(n.about, str(n.subject)) for n in notices] == [(f"h500.{ZONE}", "Service/default/s500")]
        assert "refused" in notices[0].message
        names = {r.name for r in provider.records(Zone(ZONE, ZONE + ".")) if r.type == "A"}
        assert len(names) == 999 and f"h500.{ZONE}" not in names
        assert not sync.health.ok and sync.health.reason == "ChangesRejected"
        # the refused group is not sent again at every sync (no request storm), and still reported
        again = sync.sync(wanted, may_delete=True)
        assert [n.about for n in again] == [f"h500.{ZONE}"]
        assert sync.take_stats().requests == 0
