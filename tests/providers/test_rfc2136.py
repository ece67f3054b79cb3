"""The RFC 2136 provider against a real BIND 9: the conformance suite, TSIG, the 65,535-byte message limit, pre-loaded
records read back exactly, and how failures map to the provider's error classes."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dns.update
import pytest

from dnslb.adapters.dnssync.plugins import create
from dnslb.core.dns.batch import Group, pack
from dnslb.provider import (
    Change,
    Conflict,
    Limits,
    ProviderError,
    RecordSet,
    Rejected,
    Transient,
    Unauthorized,
    Zone,
)
from dnslb_rfc2136 import Rfc2136Provider
from dnslb_rfc2136 import create as create_rfc2136
from dnslb_rfc2136.sizes import TCP_MESSAGE_BYTES
from dnslb_testkit.conformance import (
    ZONE_FILE_SPELLINGS,
    ConformanceTarget,
    ExactValuesConformance,
    NameReaderConformance,
    ProviderConformance,
    ReachabilityConformance,
    Spelling,
    SyncConformance,
    addresses,
)
from dnslb_testkit.ports import silent_port
from dnslb_testkit.servers.bind import BindServer, BindStartError, TsigKey, ZoneSpec

NODE_IPS = addresses(300, "192.168.0.1")
PRELOADED = "example.test"
FILL = "fill.test"
POLICY = "policy.test"
# records a zone file can hold that the provider must read back canonically
PRELOADED_RECORDS = (
    *(f"nodes 300 IN A {ip}" for ip in NODE_IPS),
    'split IN TXT "first string" " second"',
    "Mixed.Case IN CNAME Target.Example.Test.",
    "v6 IN AAAA 2001:0db8:0000::0001",
    "mail IN MX 10 mx.example.test.",
    'latin1 IN TXT "caf\\233"',  # not UTF-8
)


def provider_for(bind: BindServer, key: TsigKey | None = None, **settings: str) -> Rfc2136Provider:
    key = bind.tsig if key is None else key
    base = {
        "server": bind.address,
        "port": str(bind.port),
        "zones": ",".join(z.name for z in bind.zones),
        "tsigKeyName": key.name,
        "tsigAlgorithm": key.algorithm,
    }
    return create_rfc2136({**base, **settings}, {"tsigSecret": key.secret})


def wrong_secret(key: TsigKey) -> TsigKey:
    return TsigKey(key.name, base64.b64encode(os.urandom(32)).decode(), key.algorithm)


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    zones = [
        ZoneSpec(PRELOADED, records=PRELOADED_RECORDS),
        ZoneSpec(FILL),
        ZoneSpec(POLICY, update_policy="grant dnslb-test zonesub A TXT;"),
    ]
    with BindServer(zones, TsigKey.generate("dnslb-test")) as server:
        yield server


@pytest.fixture(scope="module")
def provider(bind: BindServer) -> Rfc2136Provider:
    return provider_for(bind)


@dataclass(frozen=True)
class BindZone:
    """A zone written by signed updates without prerequisites and read by queries, as other tools do."""

    server: BindServer
    zone: str
    spellings: Sequence[Spelling] = ZONE_FILE_SPELLINGS

    def write(self, name: str, type_: str, ttl: int, native: Sequence[str]) -> None:
        self.server.replace(self.zone, name, type_, ttl, native)

    def read(self, name: str, type_: str) -> list[str]:
        return self.server.query(name, type_)


class TestRfc2136Conformance(
    ProviderConformance, NameReaderConformance, ReachabilityConformance, ExactValuesConformance, SyncConformance
):
    @pytest.fixture
    def target(self, closed_port: int) -> Iterator[ConformanceTarget]:
        # a fresh BIND per test (it starts in well under a second): the suite reuses its record names
        with BindServer([ZoneSpec("example.test")], TsigKey.generate("dnslb-test", "hmac-sha256")) as server:
            yield ConformanceTarget(
                provider=provider_for(server),
                zone="example.test",
                # BIND refuses it: the value-dependent prerequisite of a delete fails (NXRRSET)
                rejected_change=Change("delete", RecordSet.of("absent.example.test", "A", 60, ["10.0.0.1"])),
                unreachable=provider_for(server, port=str(closed_port), timeout="2"),
                foreign=BindZone(server, "example.test"),
            )


def test_the_entry_point_creates_the_provider(bind: BindServer) -> None:
    provider = create(
        "rfc2136",
        {"server": "127.0.0.1", "port": str(bind.port), "zones": PRELOADED, "tsigKeyName": bind.tsig.name},
        {"tsigSecret": bind.tsig.secret},
    )
    assert isinstance(provider, Rfc2136Provider)
    assert [z.name for z in provider.zones()] == [PRELOADED]


def test_a_preloaded_300_ip_record_is_read_back_exactly(provider: Rfc2136Provider) -> None:
    current = {r.key: r for r in provider.records(Zone(PRELOADED))}
    assert current[("nodes.example.test", "A")] == RecordSet.of("nodes.example.test", "A", 300, NODE_IPS)
    assert len(current[("nodes.example.test", "A")].values) == 300


def test_zone_file_records_read_back_canonical(provider: Rfc2136Provider) -> None:
    current = {r.key: r for r in provider.records(Zone(PRELOADED))}
    assert current[("split.example.test", "TXT")].values == ("first string second",)
    assert current[("mixed.case.example.test", "CNAME")].values == ("target.example.test",)
    assert current[("v6.example.test", "AAAA")].values == ("2001:db8::1",)
    assert current[("mail.example.test", "MX")].values == ("10 mx.example.test",)
    assert not any(r.type in ("SOA", "NS") for r in current.values())
    assert current[("split.example.test", "TXT")].exact == ('"first string" " second"',)
    assert current[("mixed.case.example.test", "CNAME")].exact == ("Target.Example.Test.",)
    assert current[("latin1.example.test", "TXT")].exact == ('"caf\\233"',)


def test_values_of_other_types_round_trip_through_an_update(provider: Rfc2136Provider) -> None:
    zone = Zone(PRELOADED)
    records = [
        RecordSet.of("alias.example.test", "CNAME", 60, ["target.elsewhere.test"]),
        # targets outside the zone: BIND refuses an MX to an in-zone name that has no address record
        RecordSet.of("example.test", "MX", 60, ["10 mx1.elsewhere.test", "20 mx2.elsewhere.test"]),
        RecordSet.of("_sip._tcp.example.test", "SRV", 60, ["0 5 5060 sip.example.test"]),
        RecordSet.of("text.example.test", "TXT", 60, ['say "hi" \\ grüße', "x" * 600]),
    ]
    provider.apply(zone, [Change("create", r) for r in records])
    current = {r.key: r for r in provider.records(zone)}
    assert [current[r.key] for r in records] == records


def test_takeover_replaces_records_and_rolls_them_back_exactly(provider: Rfc2136Provider) -> None:
    zone = Zone(PRELOADED)
    keys = [("nodes.example.test", "A"), ("latin1.example.test", "TXT")]
    saved = [r for r in provider.records(zone) if r.key in keys]
    assert len(saved) == 2
    replacements = [RecordSet.of(r.name, r.type, 60, ["10.96.0.10" if r.type == "A" else "owned"]) for r in saved]
    provider.apply(zone, [Change("update", new, old) for new, old in zip(replacements, saved, strict=True)])
    assert [r for r in provider.records(zone) if r.key in keys] == replacements
    provider.apply(zone, [Change("update", old, new) for new, old in zip(replacements, saved, strict=True)])
    assert [r for r in provider.records(zone) if r.key in keys] == saved


def test_a_batch_packed_to_the_byte_limit_is_accepted_and_one_more_value_is_not(
    provider: Rfc2136Provider,
) -> None:
    zone = Zone(FILL)
    changes = _exactly_filling(provider, "fill.test")
    batches, oversized = pack([Group("all", tuple(changes))], provider.limits, provider.cost)
    assert not oversized and len(batches) == 1
    assert batches[0].cost.bytes == provider.limits.max_bytes

    message = provider.update_message(zone, batches[0].changes)
    assert len(message.to_wire()) <= TCP_MESSAGE_BYTES
    provider.apply(zone, batches[0].changes)
    current = {r.key: r for r in provider.records(zone)}
    assert all(current[c.record.key] == c.record for c in changes)

    last = changes[-1].record
    grown = Change("create", RecordSet.of(last.name, last.type, last.ttl, [*last.values, "one more"]))
    batches, oversized = pack([Group("all", (*changes[:-1], grown))], provider.limits, provider.cost)
    assert batches == [] and len(oversized) == 1


def test_cost_bounds_the_rendered_size_of_every_kind_of_change(provider: Rfc2136Provider) -> None:
    zone = Zone(FILL)
    long_text = "x" * 700
    # a TXT value as someone split it into many strings: sent so, it takes a length byte per string
    split = RecordSet.of("e.fill.test", "TXT", 60, ["abcdefgh"], exact=['"a" "b" "c" "d" "e" "f" "g" "h"'])
    changes = [
        Change("create", RecordSet.of("a.fill.test", "A", 60, addresses(20))),
        Change(
            "update",
            RecordSet.of("b.fill.test", "AAAA", 60, ["fd00::1", "fd00::2"]),
            RecordSet.of("b.fill.test", "AAAA", 60, ["fd00::3"]),
        ),
        Change("delete", RecordSet.of("c.fill.test", "TXT", 60, [long_text, "short", ""])),
        Change("create", RecordSet.of("d.fill.test", "CNAME", 60, ["somewhere.else.test"])),
        Change("delete", RecordSet.of("fill.test", "MX", 60, ["10 mx.fill.test"])),
        Change("require", RecordSet.of("_dnslb.d.fill.test", "TXT", 60, ["heritage=dnslb"])),
        Change("delete", split),
        Change("update", RecordSet.of("e.fill.test", "TXT", 60, ["abcdefgh"], exact=split.exact), split),
    ]
    for change in changes:
        alone = provider.update_message(zone, [change]).to_wire()
        assert len(alone) <= TCP_MESSAGE_BYTES - _max_bytes(provider.limits) + provider.cost(change).bytes, change
    wire = provider.update_message(zone, changes).to_wire()
    overhead = TCP_MESSAGE_BYTES - _max_bytes(provider.limits)
    assert len(wire) <= overhead + sum(provider.cost(c).bytes for c in changes)


def test_an_update_without_what_it_replaces_is_rejected_before_sending(provider: Rfc2136Provider) -> None:
    with pytest.raises(Rejected, match=r"nothing sent.*does not say what it replaces") as raised:
        provider.apply(Zone(FILL), [Change("update", RecordSet.of("b.fill.test", "A", 60, ["10.0.0.1"]))])
    assert not isinstance(raised.value, Conflict)


def test_exact_values_that_no_longer_read_as_the_values_are_not_sent(provider: Rfc2136Provider) -> None:
    zone = Zone(FILL)
    record = RecordSet.of("stale-exact.fill.test", "TXT", 60, ["new"])
    # a record set changed after it was read but still carrying the read's exact values goes as its values say
    provider.apply(zone, [Change("create", RecordSet.of(record.name, "TXT", 60, ["new"], exact=['"old"']))])
    (landed,) = [r for r in provider.records(zone) if r.key == record.key]
    assert (landed, landed.exact) == (record, ('"new"',))


def test_records_at_works_where_the_update_policy_grants_only_some_types(provider: Rfc2136Provider) -> None:
    zone = Zone(POLICY)
    web = RecordSet.of("at.policy.test", "A", 60, ["10.0.0.1"])
    provider.apply(zone, [Change("create", web)])
    assert provider.records_at(zone, ["at.policy.test", "nothing.policy.test"]) == [web]


def test_records_at_a_delegation_falls_back_to_the_zone_transfer(provider: Rfc2136Provider) -> None:
    zone = Zone(FILL)
    delegation = RecordSet.of("deleg.fill.test", "NS", 60, ["ns.elsewhere.test"])
    provider.apply(zone, [Change("create", delegation)])
    # the server answers a query there with a referral, not with authority
    assert provider.records_at(zone, ["deleg.fill.test", "below.deleg.fill.test"]) == [delegation]


def test_records_at_reads_what_the_zone_file_holds_as_a_transfer_does(provider: Rfc2136Provider) -> None:
    zone = Zone(PRELOADED)
    names = ["split.example.test", "mixed.case.example.test", "nodes.example.test", "example.test"]
    transferred = [r for r in provider.records(zone) if r.name in names]
    at = provider.records_at(zone, names)
    assert at == transferred
    assert [sorted(r.exact) for r in at] == [sorted(r.exact) for r in transferred]


@pytest.mark.parametrize("algorithm", ["hmac-md5", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"])
def test_every_tsig_algorithm_works_and_its_overhead_is_exact(algorithm: str) -> None:
    key = TsigKey.generate("dnslb-" + algorithm, algorithm)
    with BindServer([ZoneSpec("alg.test")], key) as server:
        provider = provider_for(server)
        zone = provider.zones()[0]
        record = RecordSet.of("web.alg.test", "A", 60, ["10.0.0.1"])
        provider.apply(zone, [Change("create", record)])
        assert record in provider.records(zone)
        empty = dns.update.UpdateMessage("alg.test", keyring=provider.settings.key)
        assert len(empty.to_wire()) == TCP_MESSAGE_BYTES - _max_bytes(provider.limits)


def test_a_wrong_secret_is_unauthorized(bind: BindServer) -> None:
    provider = provider_for(bind, wrong_secret(bind.tsig))
    zone = Zone(PRELOADED)
    with pytest.raises(Unauthorized, match="BADSIG"):
        provider.zones()
    with pytest.raises(Unauthorized, match="AXFR"):
        provider.records(zone)
    with pytest.raises(Unauthorized, match=r"update of zone example\.test"):
        provider.apply(zone, [Change("create", RecordSet.of("wrong.example.test", "A", 60, ["10.0.0.1"]))])


def test_an_unknown_key_or_algorithm_is_unauthorized(bind: BindServer) -> None:
    for key in (TsigKey("someone-else", bind.tsig.secret), TsigKey(bind.tsig.name, bind.tsig.secret, "hmac-sha512")):
        with pytest.raises(Unauthorized, match="BADKEY"):
            provider_for(bind, key).zones()


def test_unsigned_requests_to_a_key_only_zone_are_unauthorized(bind: BindServer) -> None:
    provider = create_rfc2136({"server": bind.address, "port": str(bind.port), "zones": PRELOADED}, {})
    zone = provider.zones()[0]  # plain SOA queries need no key
    with pytest.raises(Unauthorized, match="REFUSED"):
        provider.records(zone)
    with pytest.raises(Unauthorized, match="REFUSED"):
        provider.apply(zone, [Change("create", RecordSet.of("unsigned.example.test", "A", 60, ["10.0.0.1"]))])


def test_a_zone_the_server_does_not_serve_is_unauthorized(bind: BindServer) -> None:
    with pytest.raises(Unauthorized, match=r"zone elsewhere\.test"):
        provider_for(bind, zones="elsewhere.test").zones()


def test_an_update_the_policy_does_not_grant_is_unauthorized(provider: Rfc2136Provider) -> None:
    zone = Zone(POLICY)
    allowed = RecordSet.of("web.policy.test", "A", 60, ["10.0.0.1"])
    provider.apply(zone, [Change("create", allowed)])
    with pytest.raises(Unauthorized, match="REFUSED"):
        provider.apply(zone, [Change("create", RecordSet.of("web.policy.test", "AAAA", 60, ["fd00::1"]))])
    assert {r.key for r in provider.records(zone) if r.name == allowed.name} == {allowed.key}


def test_a_failed_prerequisite_is_a_conflict_naming_the_changes_to_look_at(provider: Rfc2136Provider) -> None:
    zone = Zone(PRELOADED)
    exists = RecordSet.of("nodes.example.test", "A", 60, ["10.0.0.1"])
    with pytest.raises(Conflict, match=r"YXRRSET.*\(create of nodes\.example\.test A\)"):
        provider.apply(zone, [Change("create", exists)])
    with pytest.raises(Conflict, match=r"NXRRSET.*\(delete of nodes\.example\.test A\)"):
        provider.apply(zone, [Change("delete", exists)])  # the values differ from the 300 in the zone
    fresh = RecordSet.of("fresh.example.test", "A", 60, ["10.0.0.1"])
    with pytest.raises(Conflict, match=r"NXRRSET.*one of: require of nodes\.example\.test A, delete of fresh"):
        provider.apply(zone, [Change("require", exists), Change("delete", fresh)])


def test_invalid_changes_are_rejected_before_sending(provider: Rfc2136Provider) -> None:
    zone = Zone(PRELOADED)
    for record, reason in [
        (RecordSet.of("web.other.test", "A", 60, ["10.0.0.1"]), "not in zone"),
        (RecordSet.of("web.example.test", "A", 60, ["not-an-ip"]), "not a valid value"),
        (RecordSet.of("web.example.test", "BOGUS", 60, ["x"]), "unknown record type"),
        (RecordSet.of("web.example.test", "A", 60, []), "at least one value"),
    ]:
        with pytest.raises(Rejected, match=f"nothing sent.*{reason}"):
            provider.apply(zone, [Change("create", record)])


def test_servfail_is_transient_and_hints_at_bind_record_set_limit() -> None:
    with BindServer([ZoneSpec("limited.test")], TsigKey.generate(), max_records_per_type=100) as server:
        provider = provider_for(server)
        zone = provider.zones()[0]
        too_big = RecordSet.of("many.limited.test", "A", 60, addresses(101))
        with pytest.raises(Transient, match=r"SERVFAIL.*max-records-per-type"):
            provider.apply(zone, [Change("create", too_big)])


def test_a_server_that_never_answers_is_transient() -> None:
    with silent_port() as port:
        settings = {"server": "127.0.0.1", "port": str(port), "zones": "x.test", "timeout": "0.3"}
        with pytest.raises(Transient, match="no answer in time"):
            create_rfc2136(settings, {}).zones()


@pytest.mark.parametrize(
    ("settings", "secret", "message"),
    [
        ({"zones": "a.test"}, {}, "settings.server"),
        ({"server": "dns.example", "zones": "a.test"}, {}, "settings.server"),
        ({"server": "127.0.0.1"}, {}, "settings.zones"),
        ({"server": "127.0.0.1", "zones": "a.test", "port": "0"}, {}, "settings.port"),
        ({"server": "127.0.0.1", "zones": "a.test", "timeout": "-1"}, {}, "settings.timeout"),
        ({"server": "127.0.0.1", "zones": "a.test", "tsigKeyName": "k"}, {}, "no tsigSecret"),
        ({"server": "127.0.0.1", "zones": "a.test", "tsigKeyName": "k"}, {"tsigSecret": "%%%"}, "base64"),
        ({"server": "127.0.0.1", "zones": "a.test"}, {"tsigSecret": "AAAA"}, "tsigKeyName is not set"),
        (
            {"server": "127.0.0.1", "zones": "a.test", "tsigKeyName": "k", "tsigAlgorithm": "hmac-sha1"},
            {"tsigSecret": "AAAA"},
            "tsigAlgorithm",
        ),
    ],
)
def test_bad_settings_say_which_field(settings: dict[str, str], secret: dict[str, str], message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        create_rfc2136(settings, secret)


def test_bind_that_cannot_load_its_zone_fails_to_start_and_is_stopped() -> None:
    server = BindServer([ZoneSpec("broken.test", records=("bad IN A not-an-address",))], TsigKey.generate())
    with pytest.raises(BindStartError, match=r"could not load a zone(.|\n)*not-an-address"):
        server.start()
    assert server.pid is None


def test_bind_is_stopped_by_pid_on_exit() -> None:
    with BindServer([ZoneSpec("stop.test")], TsigKey.generate()) as server:
        pid = server.pid
        directory = server.directory
        assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not directory.exists()


def _max_bytes(limits: Limits) -> int:
    assert limits.max_bytes is not None
    return limits.max_bytes


def _exactly_filling(provider: Rfc2136Provider, zone: str) -> list[Change]:
    """TXT creates whose costs add up to exactly the provider's byte limit: full sets, then one value trimmed to fit."""
    budget = _max_bytes(provider.limits)
    changes: list[Change] = []
    label = 0
    while True:
        record = RecordSet.of(f"t{label}.{zone}", "TXT", 60, [f"{label}-{i}-" + "v" * 200 for i in range(50)])
        cost = provider.cost(Change("create", record)).bytes
        if cost > budget:
            break
        changes.append(Change("create", record))
        budget -= cost
        label += 1
    # the last set: one value whose length takes up what is left, byte for byte (each 255 bytes add a length byte)
    name = f"t{label}.{zone}"
    for length in range(budget, 0, -1):
        last = Change("create", RecordSet.of(name, "TXT", 60, ["z" * length]))
        if provider.cost(last).bytes == budget:
            return [*changes, last]
    raise AssertionError(f"no single TXT value costs exactly the {budget} bytes left")
