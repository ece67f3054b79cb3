"""Every record type a DNSEndpoint publishes, against each provider's real server (BIND, PowerDNS, the strict Route53
server, the webhook test server, and the in-memory store): the types each provider declares round-trip in dnslb's
canonical form, what another tool wrote in its own spelling reads canonically and is written back as read, and
DNSEndpoints of every declared type are published as planned. Against BIND, a DNSEndpoint's MX and TXT are answered
by the server itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from dnslb.core.dns.batch import pack
from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import claims
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.sources import dnsendpoint_records
from dnslb.provider import RECORD_TYPES, Change, RecordSet, Zone
from dnslb_inmemory import InMemoryProvider
from dnslb_powerdns import create as create_powerdns
from dnslb_powerdns.provider import LIMITS as POWERDNS_LIMITS
from dnslb_rfc2136 import create as create_rfc2136
from dnslb_route53 import LIMITS as ROUTE53_LIMITS
from dnslb_route53 import create as create_route53
from dnslb_testkit.conformance import (
    RECORD_TYPE_SPELLINGS,
    ConformanceTarget,
    ExactValuesConformance,
    ForeignZone,
    RecordTypesConformance,
    Spelling,
)
from dnslb_testkit.servers.bind import BindServer, TsigKey, ZoneSpec
from dnslb_testkit.servers.powerdns import PowerDNSServer
from dnslb_testkit.servers.route53 import MotoServer
from dnslb_testkit.servers.route53_strict import StrictRoute53
from dnslb_testkit.webhook_server import WebhookServer
from dnslb_webhook import LIMITS as WEBHOOK_LIMITS
from dnslb_webhook import WebhookProvider
from tests.providers.test_powerdns import PowerDNSZone
from tests.providers.test_rfc2136 import BindZone, provider_for
from tests.providers.test_route53 import Route53Zone, aws_client, create_zone
from tests.providers.test_webhook import WebhookStore

ZONE = "example.test"


@dataclass(frozen=True)
class Spelled:
    """A foreign zone with other spellings to write than its own."""

    zone: ForeignZone
    spellings: Sequence[Spelling]

    def write(self, name: str, type_: str, ttl: int, native: Sequence[str]) -> None:
        self.zone.write(name, type_, ttl, native)

    def read(self, name: str, type_: str) -> list[str]:
        return self.zone.read(name, type_)


def unused(provider: object) -> Change:
    """A change no test here sends (RecordTypesConformance and ExactValuesConformance need no rejected change)."""
    return Change("delete", RecordSet.of(f"unused.{ZONE}", "A", 60, ["10.0.0.1"]))


class TestBindRecordTypes(RecordTypesConformance, ExactValuesConformance):
    @pytest.fixture
    def target(self) -> Iterator[ConformanceTarget]:
        with BindServer([ZoneSpec(ZONE)], TsigKey.generate("dnslb-test")) as server:
            provider = provider_for(server)
            yield ConformanceTarget(
                provider, ZONE, unused(provider), foreign=BindZone(server, ZONE, RECORD_TYPE_SPELLINGS)
            )


@pytest.fixture(scope="module")
def pdns() -> Iterator[PowerDNSServer]:
    with PowerDNSServer.start() as server:
        yield server


class TestPowerDNSRecordTypes(RecordTypesConformance, ExactValuesConformance):
    @pytest.fixture
    def target(self, pdns: PowerDNSServer) -> Iterator[ConformanceTarget]:
        pdns.create_zone(ZONE)
        provider = create_powerdns(pdns.provider_settings(), pdns.provider_secret())
        yield ConformanceTarget(provider, ZONE, unused(provider), foreign=PowerDNSZone(pdns, RECORD_TYPE_SPELLINGS))
        provider.close()


class TestRoute53RecordTypes(RecordTypesConformance, ExactValuesConformance):
    @pytest.fixture
    def target(self, strict: StrictRoute53) -> ConformanceTarget:
        zone_id = create_zone(strict)
        provider = create_route53({"endpointURL": strict.url}, MotoServer.CREDENTIALS)
        foreign = Spelled(Route53Zone(aws_client(strict), zone_id), RECORD_TYPE_SPELLINGS)
        return ConformanceTarget(provider, ZONE, unused(provider), foreign=foreign)


class TestWebhookRecordTypes(RecordTypesConformance, ExactValuesConformance):
    @pytest.fixture
    def target(self) -> Iterator[ConformanceTarget]:
        with WebhookServer([ZONE]) as server:
            provider = WebhookProvider(server.url)
            yield ConformanceTarget(
                provider, ZONE, unused(provider), foreign=WebhookStore(server, RECORD_TYPE_SPELLINGS)
            )
            provider.close()


@dataclass(frozen=True)
class InMemoryStore:
    """The in-memory provider's store: it keeps what it is given, so another tool's values are canonical already."""

    provider: InMemoryProvider
    spellings: Sequence[Spelling] = tuple(Spelling(s.type, s.canonical, s.canonical) for s in RECORD_TYPE_SPELLINGS)

    def write(self, name: str, type_: str, ttl: int, native: Sequence[str]) -> None:
        self.provider.write(Zone(ZONE, ZONE), RecordSet(name, type_, ttl, tuple(native)))

    def read(self, name: str, type_: str) -> list[str]:
        stored = {r.key: r for r in self.provider.records(Zone(ZONE, ZONE))}.get((name, type_))
        return list(stored.exact) if stored else []


class TestInMemoryRecordTypes(RecordTypesConformance, ExactValuesConformance):
    @pytest.fixture
    def target(self) -> ConformanceTarget:
        provider = InMemoryProvider([ZONE])
        return ConformanceTarget(provider, ZONE, unused(provider), foreign=InMemoryStore(provider))


def test_every_builtin_provider_writes_every_type_dnslb_publishes() -> None:
    rfc2136 = create_rfc2136({"server": "127.0.0.1", "zones": ZONE}, {})
    for limits in (InMemoryProvider([ZONE]).limits, ROUTE53_LIMITS, POWERDNS_LIMITS, WEBHOOK_LIMITS, rfc2136.limits):
        assert limits.record_types == RECORD_TYPES


# ------------------------------------------------------------------------------------ a DNSEndpoint, answered by BIND


def test_dnsendpoint_mx_and_txt_are_answered_by_bind() -> None:
    document = {
        "metadata": {"name": "mail", "namespace": "shop", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "endpoints": [
                {"dnsName": ZONE, "recordType": "MX", "targets": ["10 mx1.elsewhere.test.", "20 MX2.elsewhere.test"]},
                {"dnsName": ZONE, "recordType": "TXT", "targets": ["v=spf1 mx -all"]},
                {"dnsName": f"_dmarc.{ZONE}", "recordType": "TXT", "targets": ['"v=DMARC1; p=reject"']},
            ]
        },
    }
    records, problems = dnsendpoint_records(document)
    assert problems == []
    wanted, skipped = claims([], ClassFilter(), sourced=records)
    assert skipped == []
    with BindServer([ZoneSpec(ZONE)], TsigKey.generate("dnslb-test")) as server:
        provider = provider_for(server)
        zone = provider.zones()[0]
        plan = zone_changes(wanted, provider.records(zone), "cluster-a", types=provider.limits.record_types)
        assert plan.refused == ()
        batches, oversized = pack(list(plan.groups), provider.limits, provider.cost)
        assert not oversized
        for batch in batches:
            provider.apply(zone, batch.changes)
        assert sorted(server.query(ZONE, "MX")) == ["10 mx1.elsewhere.test.", "20 mx2.elsewhere.test."]
        assert server.query(ZONE, "TXT") == ['"v=spf1 mx -all"']
        assert server.query(f"_dmarc.{ZONE}", "TXT") == ['"v=DMARC1; p=reject"']
        # the ownership record lists the types beyond addresses and CNAME that dnslb wrote at the name
        ownership = "heritage=dnslb,dnslb/owner=cluster-a,dnslb/resource=dnsendpoint/shop/mail,dnslb/types=MX+TXT"
        assert server.query(f"_dnslb.{ZONE}", "TXT") == [f'"{ownership}"']
        # converged: what the server holds reads back as planned
        again = zone_changes(wanted, provider.records(zone), "cluster-a", types=provider.limits.record_types)
        assert again.groups == ()
