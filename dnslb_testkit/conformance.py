"""The conformance suite for DNS provider plugins: point it at your provider and its real server.

In your test module:

    from dnslb_testkit.conformance import ConformanceTarget, ExactValuesConformance, ProviderConformance

    class TestMyProvider(ProviderConformance, ExactValuesConformance):
        @pytest.fixture
        def target(self, my_server) -> ConformanceTarget:
            return ConformanceTarget(
                provider=make_provider(my_server),          # talks to a real server with an empty zone
                zone="example.test",
                rejected_change=Change("create", RecordSet.of("x.example.test", "A", 60, ["not-an-ip"])),
                unreachable=make_provider_pointing_at_a_closed_port(),
                foreign=MyServerZone(my_server),            # a ForeignZone: the server's own API, not the provider
            )

`ProviderConformance` includes the conditional writes every provider must make (a create where a record set stands,
an update or delete from a stale read, a require that does not match: `Conflict`, and nothing of the request lands)
and, in `NameReaderConformance` for a provider that is a `NameReader`, what `records_at` reads.

Providers that talk to a server add `ReachabilityConformance` (set `unreachable`); providers that can be throttled
add `ThrottlingConformance` and set `throttled` to a provider whose server answers every request with the provider's
throttling response. `ExactValuesConformance` checks that record sets written by someone else, in the server's own
spelling, are read canonically and written back byte for byte: set `foreign` to a `ForeignZone` that writes and reads
the target zone directly on the server, not through the provider. `SyncConformance` runs dnslb's sync engine over
the provider: a foreign record at an ownership name, an ownership name too long, a write that lost a race.
`RecordTypesConformance` writes a record set of every type the provider declares (`Limits.record_types`) and reads it
back, and publishes DNSEndpoints of every such type through dnslb's engine; give `foreign` `RECORD_TYPE_SPELLINGS`
(those of the declared types) to check with `ExactValuesConformance` that such record sets written elsewhere read
canonically too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pytest

from dnslb.adapters.dnssync.sync import ProviderSync
from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.dns.batch import Group, pack
from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import Claim, claims
from dnslb.core.dns.registry import ownership_name
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.objects import ObjectKey, service_ref
from dnslb.core.sources import dnsendpoint_records
from dnslb.provider import (
    MAX_NAME_LENGTH,
    RECORD_TYPES,
    Change,
    Conflict,
    Cost,
    NameReader,
    Provider,
    RecordSet,
    Rejected,
    Throttled,
    Transient,
    Zone,
)


@dataclass(frozen=True)
class Spelling:
    """A record set's values as a server keeps them when someone else wrote them, and the values dnslb must read."""

    type: str
    native: tuple[str, ...]
    canonical: tuple[str, ...]


# Spellings in zone-file presentation (BIND, PowerDNS, and webhook servers that pass targets through): an AAAA not
# compressed, a CNAME target in capitals, a TXT value split into two strings with an escaped quote.
ZONE_FILE_SPELLINGS = (
    Spelling("AAAA", ("FD00:0:0:0::1",), ("fd00::1",)),
    Spelling("CNAME", ("Target.Example.Test.",), ("target.example.test",)),
    Spelling("TXT", ('"heritage=" "dnslb,\\"odd\\""',), ('heritage=dnslb,"odd"',)),
)


# The other types a DNSEndpoint publishes, in zone-file presentation as another tool writes them: names in capitals
# and absolute. Targets outside the zone: BIND refuses an in-zone MX, SRV or NS target that has no address record.
RECORD_TYPE_SPELLINGS = (
    Spelling("MX", ("10 MX1.Elsewhere.Test.", "20 mx2.elsewhere.test."),
             ("10 mx1.elsewhere.test", "20 mx2.elsewhere.test")),
    Spelling("SRV", ("0 5 5060 SIP.Elsewhere.Test.",), ("0 5 5060 sip.elsewhere.test",)),
    Spelling("NS", ("NS1.Elsewhere.Test.",), ("ns1.elsewhere.test",)),
    Spelling("PTR", ("Host.Elsewhere.Test.",), ("host.elsewhere.test",)),
    Spelling("NAPTR", ('100 10 "S" "SIP+D2U" "" _SIP._udp.Elsewhere.Test.',),
             ('100 10 "S" "SIP+D2U" "" _sip._udp.elsewhere.test',)),
)  # fmt: skip


def record_type_samples(zone: str) -> list[RecordSet]:
    """A record set of each type dnslb publishes, in dnslb's canonical form, at its own name in `zone`."""
    values = {
        "A": ["10.20.0.1", "10.20.0.2"],
        "AAAA": ["fd00::20"],
        "CNAME": ["target.elsewhere.test"],
        "TXT": ["v=spf1 -all", 'say "hi"'],
        "NS": ["ns1.elsewhere.test", "ns2.elsewhere.test"],
        "MX": ["10 mx1.elsewhere.test", "20 mx2.elsewhere.test"],
        "SRV": ["0 5 5060 sip.elsewhere.test", "10 0 0 ."],  # a root target: "no such service here"
        "PTR": ["host.elsewhere.test"],
        "NAPTR": ['100 10 "S" "SIP+D2U" "" _sip._udp.elsewhere.test',
                  '100 20 "U" "E2U+sip" "!^.*$!sip:info@x.test!" .'],
    }  # fmt: skip
    return [RecordSet.of(f"{type_.lower()}-sample.{zone}", type_, 60, v) for type_, v in sorted(values.items())]


class ForeignZone(Protocol):
    """The target's zone as someone other than dnslb sees it: written and read on the server directly, in the
    server's own (native) spelling, never through the provider under test."""

    @property
    def spellings(self) -> Sequence[Spelling]:
        """Record sets to write in their native spelling; each is read back through the provider as `canonical`."""
        ...

    def write(self, name: str, type_: str, ttl: int, native: Sequence[str]) -> None:
        """Create or replace the record set `name` `type_` with these values, as the server takes them."""
        ...

    def read(self, name: str, type_: str) -> list[str]:
        """The record set's values as the server keeps them ([] when there is none)."""
        ...


@dataclass
class ConformanceTarget:
    provider: Provider
    zone: str
    rejected_change: Change
    unreachable: Provider | None = None
    throttled: Provider | None = None
    foreign: ForeignZone | None = None


def zone_of(target: ConformanceTarget) -> Zone:
    zones = [z for z in target.provider.zones() if z.name == target.zone]
    assert zones, f"provider does not list zone {target.zone}: {target.provider.zones()}"
    return zones[0]


def ours(target: ConformanceTarget, zone: Zone) -> dict[tuple[str, str], RecordSet]:
    """Record sets in the zone other than its apex SOA/NS (NS records below the apex included)."""
    return {r.key: r for r in target.provider.records(zone) if r.name != zone.name or r.type not in ("SOA", "NS")}


def a_record(target: ConformanceTarget, label: str, *ips: str, ttl: int = 60) -> RecordSet:
    return RecordSet.of(f"{label}.{target.zone}", "A", ttl, ips)


def ownership(target: ConformanceTarget, label: str, resource: str) -> RecordSet:
    text = f"heritage=dnslb,dnslb/owner=conformance,dnslb/resource={resource}"
    return RecordSet.of(f"{label}.{target.zone}", "TXT", 60, [text])


def addresses(count: int, start: str = "10.0.0.1") -> list[str]:
    first = int(ipaddress.IPv4Address(start))
    return [str(ipaddress.IPv4Address(first + i)) for i in range(count)]


def a_conflict_naming(error: BaseException, record: RecordSet) -> bool:
    """Whether a Conflict's message names the record set's name and type."""
    message = str(error)
    return record.name in message and re.search(rf"\b{record.type}\b", message) is not None


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

    def test_the_longest_name_is_within_dns_limits(self, target: ConformanceTarget) -> None:
        assert 0 < target.provider.limits.max_name <= MAX_NAME_LENGTH

    # conditional writes: a plan made from a read refuses to change what changed since

    def test_a_create_where_a_record_set_stands_conflicts_and_nothing_of_the_request_lands(
        self, target: ConformanceTarget
    ) -> None:
        zone = zone_of(target)
        standing = a_record(target, "taken", "10.4.0.1")
        target.provider.apply(zone, [Change("create", standing)])
        fresh = a_record(target, "fresh", "10.4.0.2")
        for create in (a_record(target, "taken", "10.4.0.3"), standing):  # the same values conflict too
            with pytest.raises(Conflict) as raised:
                target.provider.apply(zone, [Change("create", fresh), Change("create", create)])
            assert a_conflict_naming(raised.value, standing), raised.value
        current = ours(target, zone)
        assert current[standing.key] == standing
        assert fresh.key not in current

    def test_an_update_from_a_stale_read_conflicts_and_what_stands_survives(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        read = a_record(target, "stale", "10.5.0.1")
        target.provider.apply(zone, [Change("create", read)])
        theirs = a_record(target, "stale", "10.5.0.2")
        target.provider.apply(zone, [Change("update", theirs, read)])  # someone else's change, after dnslb read
        with pytest.raises(Conflict) as raised:
            target.provider.apply(zone, [Change("update", a_record(target, "stale", "10.5.0.3"), read)])
        assert a_conflict_naming(raised.value, read), raised.value
        assert ours(target, zone)[read.key] == theirs
        gone = a_record(target, "gone", "10.5.0.4")
        with pytest.raises(Conflict):
            target.provider.apply(zone, [Change("update", a_record(target, "gone", "10.5.0.5"), gone)])
        assert gone.key not in ours(target, zone)

    def test_a_delete_of_values_that_no_longer_stand_conflicts(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        read = a_record(target, "moved", "10.6.0.1")
        theirs = a_record(target, "moved", "10.6.0.1", "10.6.0.2")
        target.provider.apply(zone, [Change("create", read)])
        target.provider.apply(zone, [Change("update", theirs, read)])
        with pytest.raises(Conflict) as raised:
            target.provider.apply(zone, [Change("delete", read)])
        assert a_conflict_naming(raised.value, read), raised.value
        assert ours(target, zone)[read.key] == theirs
        with pytest.raises(Conflict):
            target.provider.apply(zone, [Change("delete", a_record(target, "never-there", "10.6.0.3"))])

    def test_a_require_that_does_not_match_refuses_the_whole_request(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        owner = ownership(target, "guarded", "service/default/web")
        target.provider.apply(zone, [Change("create", owner)])
        record = a_record(target, "guarded", "10.7.0.1")
        for required in (
            ownership(target, "guarded", "service/default/other"),  # someone else owns the name now
            ownership(target, "unowned", "service/default/web"),  # no ownership record at all
        ):
            with pytest.raises(Conflict) as raised:
                target.provider.apply(zone, [Change("require", required), Change("create", record)])
            assert a_conflict_naming(raised.value, required), raised.value
        current = ours(target, zone)
        assert record.key not in current
        assert current[owner.key] == owner

    def test_a_require_that_matches_lets_the_rest_of_the_request_apply(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        owner = ownership(target, "guarded", "service/default/web")
        target.provider.apply(zone, [Change("create", owner)])
        record = a_record(target, "guarded", "10.7.0.1")
        target.provider.apply(zone, [Change("require", owner), Change("create", record)])
        moved = a_record(target, "guarded", "10.7.0.2")
        target.provider.apply(zone, [Change("require", owner), Change("update", moved, record)])
        current = ours(target, zone)
        assert current[record.key] == moved
        assert current[owner.key] == owner


class NameReaderConformance:
    """For a provider that is a `NameReader`: `records_at` reads exactly the record sets standing at those names."""

    def test_records_at_reads_exactly_the_record_sets_at_those_names(self, target: ConformanceTarget) -> None:
        provider = target.provider
        assert isinstance(provider, NameReader), "the provider is not a NameReader"
        zone = zone_of(target)
        web = a_record(target, "web", "10.8.0.1")
        six = RecordSet.of(f"web.{target.zone}", "AAAA", 60, ["fd00::8"])
        owner = ownership(target, "_dnslb.web", "service/default/web")
        wildcard = RecordSet.of(f"*.wild.{target.zone}", "A", 60, ["10.8.0.9"])
        around = [
            a_record(target, "web2", "10.8.0.2"),
            a_record(target, "sub.web", "10.8.0.3"),
            ownership(target, "_dnslb.web2", "service/default/web2"),
            wildcard,
        ]
        target.provider.apply(zone, [Change("create", r) for r in (web, six, owner, *around)])
        found = provider.records_at(zone, [web.name, owner.name])
        assert sorted(found) == sorted([web, six, owner])
        assert all(r.exact for r in found)
        assert provider.records_at(zone, [f"absent.{target.zone}"]) == []
        # a wildcard answers queries for this name, but no record set stands at it
        assert provider.records_at(zone, [f"under.wild.{target.zone}"]) == []
        assert provider.records_at(zone, [wildcard.name]) == [wildcard]


class ExactValuesConformance:
    """Record sets someone else wrote, in the server's own spelling: read with canonical values and their exact ones,
    deleted, required and replaced as read, and restored byte for byte from what was read (set `foreign`)."""

    def test_a_record_set_written_elsewhere_reads_canonical_and_carries_its_exact_values(
        self, target: ConformanceTarget
    ) -> None:
        zone, foreign = zone_of(target), _foreign(target)
        for label, spelling in _written(target, foreign):
            read = ours(target, zone)[(f"{label}.{target.zone}", spelling.type)]
            assert read.values == tuple(sorted(spelling.canonical))
            assert read.exact, f"{read} carries no exact values"

    def test_a_record_set_deleted_as_read_is_gone_and_created_as_read_is_restored_byte_for_byte(
        self, target: ConformanceTarget
    ) -> None:
        zone, foreign = zone_of(target), _foreign(target)
        for label, spelling in _written(target, foreign):
            name = f"{label}.{target.zone}"
            before = sorted(foreign.read(name, spelling.type))
            read = ours(target, zone)[(name, spelling.type)]
            target.provider.apply(zone, [Change("delete", read)])
            assert foreign.read(name, spelling.type) == []
            target.provider.apply(zone, [Change("create", read)])  # a saved record set, restored by a rollback
            assert sorted(foreign.read(name, spelling.type)) == before
            assert ours(target, zone)[read.key] == read

    def test_a_record_set_as_read_can_be_required_and_replaced(self, target: ConformanceTarget) -> None:
        zone, foreign = zone_of(target), _foreign(target)
        for label, spelling in _written(target, foreign):
            read = ours(target, zone)[(f"{label}.{target.zone}", spelling.type)]
            beside = a_record(target, f"beside-{label}", "10.9.0.1")
            target.provider.apply(zone, [Change("require", read), Change("create", beside)])
            replaced = RecordSet.of(read.name, read.type, read.ttl + 1, read.values)  # dnslb's own spelling
            target.provider.apply(zone, [Change("update", replaced, read)])
            assert ours(target, zone)[read.key] == replaced


class SyncConformance:
    """dnslb's own rules, run by its sync engine (`ProviderSync`) over the provider and its real server: a foreign
    record at an ownership name, a hostname whose ownership name would be too long, and a write that lost a race."""

    def test_a_foreign_record_at_the_ownership_name_makes_the_name_foreign_and_nothing_is_sent(
        self, target: ConformanceTarget
    ) -> None:
        zone = zone_of(target)
        stray = RecordSet.of(f"_dnslb.web.{target.zone}", "TXT", 60, ["site-verification=abc"])
        target.provider.apply(zone, [Change("create", stray)])
        sync = _syncer(target)
        sync.take_stats()
        for requests in (1, 0, 0):  # ok.<zone> once; web, known foreign, never: no request that fails every sync
            refused = sync.sync([_claim(target, "web", "10.10.0.1"), _claim(target, "ok", "10.10.0.2")], True)
            assert [(r.about, "foreign" in r.message) for r in refused] == [(f"web.{target.zone}", True)], refused
            stats = sync.take_stats()
            assert (stats.foreign, stats.requests, stats.errors) == (1, requests, {}), stats
        current = ours(target, zone)
        assert current[stray.key] == stray
        assert (f"web.{target.zone}", "A") not in current
        assert current[(f"ok.{target.zone}", "A")].values == ("10.10.0.2",)

    def test_a_hostname_is_refused_when_its_ownership_name_would_be_too_long(self, target: ConformanceTarget) -> None:
        zone = zone_of(target)
        longest = target.provider.limits.max_name - len(ownership_name(""))  # the ownership name at the limit
        fits, too_long = _name_of_length(target.zone, longest), _name_of_length(target.zone, longest + 1, "b")
        sync = _syncer(target)
        refused = sync.sync([_claim(target, fits, "10.11.0.1"), _claim(target, too_long, "10.11.0.2")], True)
        assert [r.about for r in refused] == [too_long] and "ownership record name" in refused[0].message
        current = ours(target, zone)
        assert current[(fits, "A")].values == ("10.11.0.1",)
        assert (ownership_name(fits), "TXT") in current
        assert not any(name == too_long for name, _ in current)
        assert sync.health.ok is True  # a refused name is its Service's trouble, not the provider's

    def test_a_write_that_lost_a_race_is_made_again_from_what_stands_and_another_owner_keeps_its_name(
        self, target: ConformanceTarget
    ) -> None:
        zone = zone_of(target)
        sync = _syncer(target)
        assert sync.sync([_claim(target, "moved", "10.12.0.1"), _claim(target, "taken", "10.12.0.3")], True) == []
        current = ours(target, zone)
        moved, taken = current[(f"moved.{target.zone}", "A")], current[(f"taken.{target.zone}", "A")]
        taken_txt = current[(ownership_name(taken.name), "TXT")]
        # behind dnslb's back, between two syncs: one record changed, one name given to another owner
        behind_moved = RecordSet.of(moved.name, "A", moved.ttl, ["192.0.2.7"])
        behind_taken = RecordSet.of(taken.name, "A", taken.ttl, ["192.0.2.8"])
        other = RecordSet.of(taken_txt.name, "TXT", taken_txt.ttl, [taken_txt.values[0].replace("conformance", "b")])
        target.provider.apply(zone, [Change("update", behind_moved, moved), Change("update", behind_taken, taken),
                                     Change("update", other, taken_txt)])  # fmt: skip
        wanted = [_claim(target, "moved", "10.12.0.2"), _claim(target, "taken", "10.12.0.4")]
        for _ in range(3):  # a provider that cannot read a name alone reads the zone beside the syncs
            refused = sync.sync(wanted, True)
            if sync.read_due() is None:
                break
            sync.read()
        assert [r.about for r in refused] == [taken.name] and "owner b" in refused[0].message, refused
        current = ours(target, zone)
        assert current[moved.key].values == ("10.12.0.2",)  # still dnslb's: made again against what stands
        assert current[taken.key].values == ("192.0.2.8",)  # the other owner's change survives
        assert current[other.key] == other


class RecordTypesConformance:
    """Every record type the provider declares (`Limits.record_types`) is written and read back in dnslb's canonical
    form, and DNSEndpoints of every such type, planned by dnslb's engine, land as planned: a second plan is empty."""

    def test_declares_only_types_dnslb_publishes_and_txt(self, target: ConformanceTarget) -> None:
        types = target.provider.limits.record_types
        assert "TXT" in types and types <= RECORD_TYPES, types  # TXT: ownership records

    def test_a_record_set_of_every_declared_type_round_trips(self, target: ConformanceTarget) -> None:
        zone, types = zone_of(target), target.provider.limits.record_types
        samples = [r for r in record_type_samples(target.zone) if r.type in types]
        apply_all(target.provider, zone, [Change("create", r) for r in samples])
        current = ours(target, zone)
        assert [current.get(r.key) for r in samples] == samples
        assert all(current[r.key].exact for r in samples)
        moved = [RecordSet.of(r.name, r.type, 120, r.values[:1]) for r in samples]
        apply_all(target.provider, zone, [Change("update", m, current[m.key]) for m in moved])
        current = ours(target, zone)
        assert [current.get(m.key) for m in moved] == moved
        apply_all(target.provider, zone, [Change("delete", current[m.key]) for m in moved])
        assert not any(m.key in ours(target, zone) for m in moved)

    def test_dnsendpoints_of_every_declared_type_are_published_as_planned_and_deleted_whole(
        self, target: ConformanceTarget
    ) -> None:
        zone, types = zone_of(target), target.provider.limits.record_types
        samples = [r for r in record_type_samples(target.zone) if r.type in types]
        endpoints = [{"dnsName": r.name, "recordType": r.type, "targets": list(r.values), "recordTTL": 60}
                     for r in samples]  # fmt: skip
        # addresses, a TXT and an MX at one name: one claim, one ownership record listing the other types
        mixed = f"mixed.{target.zone}"
        more = [(mixed, "A", ["10.21.0.1"]), (mixed, "TXT", ["hello"]), (mixed, "MX", ["5 mx.elsewhere.test"])]
        endpoints += [{"dnsName": n, "recordType": t, "targets": v, "recordTTL": 60} for n, t, v in more if t in types]
        document = {"metadata": {"name": "every-type", "namespace": "default"}, "spec": {"endpoints": endpoints}}
        records, problems = dnsendpoint_records(document)
        assert problems == []
        wanted, skipped = claims([], ClassFilter(), sourced=records)
        assert skipped == []
        plan = zone_changes(wanted, target.provider.records(zone), "conformance", types=types)
        assert plan.refused == ()
        _apply_groups(target, zone, plan.groups)
        current = ours(target, zone)
        for claim in wanted:
            assert [current.get(r.key) for r in claim.records] == list(claim.records)
        again = zone_changes(wanted, target.provider.records(zone), "conformance", types=types)
        assert (again.groups, again.refused) == ((), ())  # read back as planned: nothing to change
        gone = zone_changes([], target.provider.records(zone), "conformance", types=types)
        _apply_groups(target, zone, gone.groups)
        names = {c.hostname for c in wanted} | {ownership_name(c.hostname) for c in wanted}
        assert [key for key in ours(target, zone) if key[0] in names] == []


def _apply_groups(target: ConformanceTarget, zone: Zone, groups: Sequence[Group]) -> None:
    batches, oversized = pack(list(groups), target.provider.limits, target.provider.cost)
    assert not oversized, oversized
    for batch in batches:
        target.provider.apply(zone, batch.changes)


def _syncer(target: ConformanceTarget) -> ProviderSync:
    spec = DNSProviderSpec.model_validate({"type": "conformance", "zones": [target.zone]})
    sync = ProviderSync("conformance", spec, target.provider, "conformance", save_replaced=lambda zone, saved: None)
    sync.read()
    return sync


def _claim(target: ConformanceTarget, label: str, ip: str) -> Claim:
    """A Service's claim on `label` (a label of the zone, or a whole name in it) for one address."""
    hostname = label if label.endswith("." + target.zone) else f"{label}.{target.zone}"
    service = ObjectKey("default", hostname.split(".", maxsplit=1)[0][:63])
    return Claim(hostname, service_ref(service), "2026-01-01T00:00:00Z", 60, (RecordSet.of(hostname, "A", 60, [ip]),))


def _name_of_length(zone: str, length: int, fill: str = "a") -> str:
    """A name in `zone` exactly `length` characters long, in labels of at most 63."""
    left = length - len(zone)  # each label takes its characters and one dot
    sizes = []
    while left > 0:
        size = min(63, left - 1)
        if left - size - 1 == 1:  # never leave room for a dot alone
            size -= 1
        sizes.append(size)
        left -= size + 1
    name = ".".join([*(fill * size for size in sizes), zone])
    assert len(name) == length, (name, length)
    return name


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


def _foreign(target: ConformanceTarget) -> ForeignZone:
    assert target.foreign is not None, "set ConformanceTarget.foreign"
    return target.foreign


def _written(target: ConformanceTarget, foreign: ForeignZone) -> list[tuple[str, Spelling]]:
    """Each of the foreign zone's spellings written behind the provider's back at its own name, `odd<i>`."""
    assert foreign.spellings, "ForeignZone.spellings names no record set to write"
    written = []
    for index, spelling in enumerate(foreign.spellings):
        label = f"odd{index}"
        foreign.write(f"{label}.{target.zone}", spelling.type, 300, spelling.native)
        written.append((label, spelling))
    return written


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
