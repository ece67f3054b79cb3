"""The in-memory provider passes the conformance suite, and its zone file survives a restart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from dnslb.adapters.dnssync.plugins import create
from dnslb.provider import Change, Conflict, RecordSet, Rejected, Zone
from dnslb_inmemory import InMemoryProvider
from dnslb_testkit.conformance import (
    ConformanceTarget,
    ExactValuesConformance,
    NameReaderConformance,
    ProviderConformance,
    Spelling,
    SyncConformance,
)

ZONE = Zone("example.test", "example.test")

# the in-memory provider keeps values as it is given them, so what someone else writes is already canonical
SPELLINGS = (
    Spelling("AAAA", ("fd00::1",), ("fd00::1",)),
    Spelling("CNAME", ("target.example.test",), ("target.example.test",)),
    Spelling("TXT", ('heritage=dnslb,"odd"', "second"), ('heritage=dnslb,"odd"', "second")),
)


@dataclass(frozen=True)
class InMemoryZone:
    """The provider's store, written and read directly."""

    provider: InMemoryProvider
    spellings: Sequence[Spelling] = SPELLINGS

    def write(self, name: str, type_: str, ttl: int, native: Sequence[str]) -> None:
        self.provider.write(ZONE, RecordSet(name, type_, ttl, tuple(native)))

    def read(self, name: str, type_: str) -> list[str]:
        stored = {r.key: r for r in self.provider.records(ZONE)}.get((name, type_))
        return list(stored.exact) if stored else []


class TestInMemoryConformance(ProviderConformance, NameReaderConformance, ExactValuesConformance, SyncConformance):
    @pytest.fixture
    def target(self) -> ConformanceTarget:
        provider = InMemoryProvider(["example.test"])
        return ConformanceTarget(
            provider=provider,
            zone="example.test",
            rejected_change=Change("create", RecordSet.of("elsewhere.other.test", "A", 60, ["10.0.0.1"])),
            foreign=InMemoryZone(provider),
        )


def test_registered_and_persisted(tmp_path: Path) -> None:
    settings = {"zones": "example.test", "zoneFile": str(tmp_path / "zones.json")}
    first = create("inmemory", settings, {})
    zone = first.zones()[0]
    record = RecordSet.of("web.example.test", "A", 60, ["10.0.0.1"])
    first.apply(zone, [Change("create", record)])
    assert create("inmemory", settings, {}).records(zone) == [record]


def test_exact_values_survive_a_restart_and_files_without_them_still_load(tmp_path: Path) -> None:
    path = tmp_path / "zones.json"
    restored = RecordSet.of("saved.example.test", "TXT", 60, ["ab"], exact=['"a" "b"'])
    first = InMemoryProvider(["example.test"], path)
    first.apply(ZONE, [Change("create", restored)])
    (read,) = InMemoryProvider(["example.test"], path).records(ZONE)
    assert (read, read.exact) == (restored, ('"a" "b"',))

    path.write_text(json.dumps({"example.test": [["web.example.test", "A", 60, ["10.0.0.1"]]]}))
    (old,) = InMemoryProvider(["example.test"], path).records(ZONE)
    assert (old, old.exact) == (RecordSet.of("web.example.test", "A", 60, ["10.0.0.1"]), ("10.0.0.1",))


def test_an_update_that_does_not_say_what_it_replaces_is_rejected() -> None:
    provider = InMemoryProvider(["example.test"])
    record = RecordSet.of("web.example.test", "A", 60, ["10.0.0.1"])
    provider.apply(ZONE, [Change("create", record)])
    with pytest.raises(Rejected, match="does not say what it replaces") as raised:
        provider.apply(ZONE, [Change("update", RecordSet.of("web.example.test", "A", 60, ["10.0.0.2"]))])
    assert not isinstance(raised.value, Conflict)
    assert provider.records(ZONE) == [record]
