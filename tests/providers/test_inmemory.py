"""The in-memory provider passes the conformance suite, and its zone file survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnslb.adapters.dnssync.plugins import create
from dnslb.provider import Change, RecordSet
from dnslb_inmemory import InMemoryProvider
from dnslb_testkit.conformance import ConformanceTarget, ProviderConformance


class TestInMemoryConformance(ProviderConformance):
    @pytest.fixture
    def target(self) -> ConformanceTarget:
        return ConformanceTarget(
            provider=InMemoryProvider(["example.test"]),
            zone="example.test",
            rejected_change=Change("create", RecordSet.of("elsewhere.other.test", "A", 60, ["10.0.0.1"])),
        )


def test_registered_and_persisted(tmp_path: Path) -> None:
    settings = {"zones": "example.test", "zoneFile": str(tmp_path / "zones.json")}
    first = create("inmemory", settings, {})
    zone = first.zones()[0]
    record = RecordSet.of("web.example.test", "A", 60, ["10.0.0.1"])
    first.apply(zone, [Change("create", record)])
    assert create("inmemory", settings, {}).records(zone) == [record]
