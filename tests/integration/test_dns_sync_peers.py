"""The DNS sync engine (claims → plan → packed batches → provider) against real servers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest

from dnslb.adapters.dnssync.plugins import create
from dnslb.adapters.dnssync.sync import ProviderSync
from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.diagnostics import Diagnostic
from dnslb.core.dns.changes import rollback_changes
from dnslb.core.dns.desired import Claim, claims
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.objects import ObjectKey
from dnslb.provider import Change, Provider, RecordSet, Zone
from dnslb_route53 import Route53Provider
from dnslb_testkit.servers.powerdns import PowerDNSServer
from dnslb_testkit.servers.route53 import MotoServer
from tests.builders import make_service
from tests.providers.test_route53 import SentRequests, within_route53_quotas

ZONE = "example.test"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


def route53(moto: MotoServer) -> Provider:
    moto.reset()
    client = boto3.client("route53", endpoint_url=moto.url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    client.create_hosted_zone(Name=ZONE, CallerReference=str(time.monotonic_ns()))
    return create("route53", {"endpointURL": moto.url}, MotoServer.CREDENTIALS)


def syncer(provider: Provider, **spec: object) -> tuple[ProviderSync, list[Diagnostic], dict[str, list[RecordSet]]]:
    notices: list[Diagnostic] = []
    saved: dict[str, list[RecordSet]] = {}
    sync = ProviderSync(
        "test",
        DNSProviderSpec.model_validate({"type": "x", **spec}),
        provider,
        "cluster-a",
        save_replaced=lambda zone, records: saved.setdefault(zone.name, []).extend(records),
        report=notices.append,
    )
    sync.read()
    return sync, notices, saved


def test_3000_services_with_two_hostnames_each_stay_within_route53s_limits(moto: MotoServer) -> None:
    provider = route53(moto)
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


def test_takeover_and_rollback_on_route53(moto: MotoServer) -> None:
    provider = route53(moto)
    zone = provider.zones()[0]
    nodes = RecordSet.of(f"web.{ZONE}", "A", 120, [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(300)])
    provider.apply(zone, [Change("create", nodes)])
    before = provider.records(zone)
    sync, _, saved = syncer(provider, takeover=True)
    vip = Claim(
        f"web.{ZONE}", ObjectKey("default", "web"), "", 300, (RecordSet.of(f"web.{ZONE}", "A", 300, ["10.0.0.1"]),)
    )
    assert sync.sync([vip], may_delete=True) == []
    assert {r.key: r for r in provider.records(zone)}[(f"web.{ZONE}", "A")].values == ("10.0.0.1",)
    assert saved[ZONE] == [nodes]
    rollback = rollback_changes(saved[ZONE], provider.records(zone), "cluster-a")
    provider.apply(zone, [c for g in rollback for c in g.changes])
    assert provider.records(zone) == before


def test_a_poisoned_record_among_1000_lets_the_other_999_land() -> None:
    with PowerDNSServer.start() as pdns:
        pdns.create_zone(ZONE)
        provider = create("powerdns", pdns.provider_settings(), pdns.provider_secret())
        sync, _, _ = syncer(provider)

        def address(i: int) -> str:
            return "10.0.0.256" if i == 500 else f"10.1.{i // 250}.{i % 250}"  # one value PowerDNS refuses

        wanted = [
            Claim(f"h{i}.{ZONE}", ObjectKey("default", f"s{i}"), "", 300,
                  (RecordSet.of(f"h{i}.{ZONE}", "A", 300, [address(i)]),))
            for i in range(1000)
        ]  # fmt: skip
        notices = sync.sync(wanted, may_delete=True)
        assert [(n.about, str(n.subject)) for n in notices] == [(f"h500.{ZONE}", "Service/default/s500")]
        assert "rejected" in notices[0].message
        names = {r.name for r in provider.records(Zone(ZONE, ZONE + ".")) if r.type == "A"}
        assert len(names) == 999 and f"h500.{ZONE}" not in names
