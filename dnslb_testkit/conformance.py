"""The conformance suite for DNS provider plugins: point it at your provider and its real server.

In your test module:

    from dnslb_testkit.conformance import ConformanceTarget, ProviderConformance

    class TestMyProvider(ProviderConformance):
        @pytest.fixture
        def target(self, my_server) -> ConformanceTarget:
            return ConformanceTarget(
                provider=make_provider(my_server),          # talks to a real server with an empty zone
                zone="example.test",
                rejected_change=Change("create", RecordSet.of("x.example.test", "A", 60, ["not-an-ip"])),
                unreachable=make_provider_pointing_at_a_closed_port(),
            )

Providers that talk to a server add `ReachabilityConformance` (set `unreachable`); providers that can be throttled
add `ThrottlingConformance` and set `throttled` to a provider whose server answers every request with the provider's
throttling response.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from dnslb.core.dns.batch import Group, pack
from dnslb.provider import Change, Cost, Provider, RecordSet, Rejected, Throttled, Transient, Zone


@dataclass
class ConformanceTarget:
    provider: Provider
    zone: str
    rejected_change: Change
    unreachable: Provider | None = None
    throttled: Provider | None = None


def zone_of(target: ConformanceTarget) -> Zone:
    zones = [z for z in target.provider.zones() if z.name == target.zone]
    assert zones, f"provider does not list zone {target.zone}: {target.provider.zones()}"
    return zones[0]


def ours(target: ConformanceTarget, zone: Zone) -> dict[tuple[str, str], RecordSet]:
    """Record sets in the zone other than its apex SOA/NS."""
    return {r.key: r for r in target.provider.records(zone) if r.type not in ("SOA", "NS")}


def a_record(target: ConformanceTarget, label: str, *ips: str, ttl: int = 60) -> RecordSet:
    return RecordSet.of(f"{label}.{target.zone}", "A", ttl, ips)


def ownership(target: ConformanceTarget, label: str, resource: str) -> RecordSet:
    text = f"heritage=dnslb,dnslb/owner=conformance,dnslb/resource={resource}"
    return RecordSet.of(f"{label}.{target.zone}", "TXT", 60, [text])


def addresses(count: int, start: str = "10.0.0.1") -> list[str]:
    first = int(ipaddress.IPv4Address(start))
    return [str(ipaddress.IPv4Address(first + i)) for i in range(count)]


def apply_all(provider: Provider, zone: Zone, changes: Sequence[Change]) -> None:
    batches, oversized = pack([Group(c.record.name, (c,)) for c in changes], provider.limits, provider.cost)
    assert not oversized, oversized
    for batch in batches:
        provider.apply(zone, batch.changes)


class ProviderConformance:
    """Behaviour every provider must show against its real server."""

    def test_lists_the_zone(self, target: ConformanceTarget) -> None:
        assert zone_of(target).name == target.zone

    def test_create_update_delete(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        web = a_record(target, "web", "10.0.0.1")
        six = RecordSet.of(f"web.{target.zone}", "AAAA", 60, ["fd00::1"])
        target.provider.apply(zone, [Change("create", web), Change("create", six)])
        assert ours(target, zone)[web.key] == web
        assert ours(target, zone)[six.key] == six
        moved = a_record(target, "web", "10.0.0.2", "10.0.0.3", ttl=120)
        target.provider.apply(zone, [Change("update", moved, web)])
        assert ours(target, zone)[web.key] == moved
        target.provider.apply(zone, [Change("delete", moved), Change("delete", six)])
        assert web.key not in ours(target, zone) and six.key not in ours(target, zone)

    def test_a_record_set_lands_with_its_ownership_record(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        record = a_record(target, "owned", "10.1.0.1")
        owner = ownership(target, "owned", "service/default/web")
        target.provider.apply(zone, [Change("create", record), Change("create", owner)])
        current = ours(target, zone)
        assert current[record.key] == record
        assert current[owner.key] == owner

    def test_long_txt_values_round_trip(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        long_text = "saved=" + ",".join(addresses(40))  # well over one 255-byte TXT string
        record = RecordSet.of(f"long.{target.zone}", "TXT", 60, [long_text])
        target.provider.apply(zone, [Change("create", record)])
        assert ours(target, zone)[record.key] == record

    def test_reapplying_an_update_is_harmless(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        record = a_record(target, "again", "10.2.0.1")
        target.provider.apply(zone, [Change("create", record)])
        target.provider.apply(zone, [Change("update", record, record)])
        target.provider.apply(zone, [Change("update", record, record)])
        assert ours(target, zone)[record.key] == record

    def test_a_batch_at_exactly_the_limits_is_accepted(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        changes = _fill_to_limit(target)
        total = Cost()
        for change in changes:
            total = total + target.provider.cost(change)
        assert target.provider.limits.fits(total)
        target.provider.apply(zone, changes)
        current = ours(target, zone)
        assert all(current[c.record.key] == c.record for c in changes)

    def test_one_over_the_limits_is_refused_by_the_packer_before_sending(self, target: ConformanceTarget) -> None:
        limits = target.provider.limits
        if limits.max_values is None and limits.max_bytes is None and limits.max_changes is None:
            assert target.provider.cost(Change("create", a_record(target, "x", "10.0.0.1"))).values >= 1
            return  # no limits: nothing can be over them
        changes = _fill_to_limit(target)
        one_more = Change("create", a_record(target, "over", "10.9.9.9"))
        group = Group("all", (*changes, one_more))
        batches, oversized = pack([group], limits, target.provider.cost)
        assert batches == [] and len(oversized) == 1

    def test_a_rejected_change_raises_rejected_and_the_provider_keeps_working(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        with pytest.raises(Rejected):
            target.provider.apply(zone, [target.rejected_change])
        record = a_record(target, "after-rejection", "10.3.0.1")
        target.provider.apply(zone, [Change("create", record)])
        assert ours(target, zone)[record.key] == record


class ReachabilityConformance:
    """For providers that talk to a server: a server that is not there is a passing (Transient) failure."""

    def test_an_unreachable_server_is_transient(self, target: ConformanceTarget) -> None:
        assert target.unreachable is not None, "set ConformanceTarget.unreachable"
        with pytest.raises(Transient):
            target.unreachable.zones()


class ThrottlingConformance:
    def test_throttling_raises_throttled(self, target: ConformanceTarget) -> None:
        assert target.throttled is not None, "set ConformanceTarget.throttled"
        with pytest.raises(Throttled):
            target.throttled.zones()


def _fill_to_limit(target: ConformanceTarget) -> list[Change]:
    """Creates of A record sets that together use the provider's limits exactly, or 50 sets without limits."""
    provider, limits = target.provider, target.provider.limits
    if limits.max_values is None and limits.max_bytes is None and limits.max_changes is None:
        return [Change("create", a_record(target, f"bulk{i}", f"10.50.0.{i + 1}")) for i in range(50)]
    pool = iter(addresses(70_000, "10.64.0.1"))
    changes: list[Change] = []
    used = Cost()
    label = 0
    while True:
        # grow the current record set one value at a time until nothing more fits
        values = [next(pool)]
        candidate = Change("create", a_record(target, f"fill{label}", *values))
        if not limits.fits(used + provider.cost(candidate)):
            break
        while True:
            bigger = Change("create", a_record(target, f"fill{label}", *values, next(pool)))
            if len(bigger.record.values) > 400 or not limits.fits(used + provider.cost(bigger)):
                break
            values = list(bigger.record.values)
            candidate = bigger
        changes.append(candidate)
        used = used + provider.cost(candidate)
        label += 1
    return changes
