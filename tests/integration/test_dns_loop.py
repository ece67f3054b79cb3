"""The DNS loop as the controller runs it, with the in-memory provider: only the leader writes, a rotated
Secret is used from the next sync on, without a restart or a full read, and a new name is published while a long full
read goes on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge

from dnslb.adapters.dnssync.loop import CREDENTIALS_CHECK_SECONDS, DNSLoop, Hooks
from dnslb.core.config.resources import DNSProvider
from dnslb.core.diagnostics import Diagnostic
from dnslb.core.ipam.request import CLASSLESS
from dnslb.core.model import ServiceView
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources import SourceRecord
from dnslb.core.sources.read import NO_SOURCES, SourcesRead
from dnslb.provider import Change, Page, Provider, Zone
from dnslb_inmemory import InMemoryProvider
from dnslb_testkit.waiting import wait_for
from tests.builders import make_service

ZONE = "example.test"


class Recording:
    """An in-memory provider that records every write it gets, and which credentials it was made with."""

    def __init__(self, credentials: str, inner: InMemoryProvider) -> None:
        self.credentials = credentials
        self.inner = inner  # the zones, shared by every provider made: the same server with other credentials
        self.writes: list[tuple[float, tuple[Change, ...]]] = []
        self.reads = 0
        self.limits = self.inner.limits
        self.cost = self.inner.cost

    def zones(self) -> list[Zone]:
        return self.inner.zones()

    def records(self, zone: Zone) -> list[Any]:
        self.reads += 1
        return self.inner.records(zone)

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        self.writes.append((time.monotonic(), tuple(changes)))
        self.inner.apply(zone, changes)


def provider_resource() -> DNSProvider:
    return DNSProvider.model_validate({
        "apiVersion": "dnslb.io/v1alpha1", "kind": "DNSProvider", "metadata": {"name": "mem", "namespace": "ns"},
        "spec": {"type": "inmemory", "secretRef": {"name": "creds"}},
    })  # fmt: skip


def web(count: int) -> list[ServiceView]:
    return [
        make_service(f"s{i}", annotations={"dnslb.io/hostname": f"s{i}.{ZONE}"}, ingress=(f"10.0.0.{i + 1}",))
        for i in range(count)
    ]


class Running:
    def __init__(self, kind: type[Recording] = Recording) -> None:
        self.kind = kind
        self.services: list[ServiceView] = web(1)
        self.leader = True
        self.secret_version = "1"
        self.credentials_asked = 0
        self.now = 0.0  # the loop's clock, moved on by hand
        self.zones = InMemoryProvider([ZONE])
        self.made: list[Recording] = []
        self.reports: list[Diagnostic] = []
        self.sourced = NO_SOURCES
        self.loop = DNSLoop(
            Hooks(
                services=lambda: self.services,
                source_complete=lambda: True,
                make_provider=self.make,
                save_replaced=lambda *a: None,
                report=self.reports.append,
                may_write=lambda: self.leader,
                credentials=self.credentials,
                sources=lambda: self.sourced,
            ),
            owner="test",
            classes=CLASSLESS,
            registry=CollectorRegistry(),
            resync_seconds=3600,
            clock=lambda: self.now,
        )
        self.thread = threading.Thread(target=self.loop.run, daemon=True)

    def make(self, resource: DNSProvider) -> Provider:
        self.made.append(self.kind(self.secret_version, self.zones))
        return self.made[-1]

    def credentials(self, resource: DNSProvider) -> str:
        self.credentials_asked += 1
        return self.secret_version

    def names(self) -> set[str]:
        return {r.name for r in self.zones.records(Zone(ZONE, ZONE)) if r.type == "A"}

    def at(self, name: str) -> tuple[tuple[str, ...], str]:
        """The A values at `name`, and the resource its ownership record names."""
        records = {(r.name, r.type): r for r in self.zones.records(Zone(ZONE, ZONE))}
        a, txt = records.get((name, "A")), records.get((f"_dnslb.{name}", "TXT"))
        return (a.values if a else ()), (txt.values[0].rpartition("dnslb/resource=")[2] if txt else "")


@pytest.fixture
def running() -> Iterator[Running]:
    state = Running()
    state.loop.configure([provider_resource()])
    state.thread.start()
    yield state
    state.loop.stop()
    state.thread.join(5)


def eventually(what: str, condition: Callable[[], object]) -> None:
    wait_for(condition, timeout=10, what=what)


def test_a_process_that_is_no_longer_the_leader_writes_no_dns(running: Running) -> None:
    eventually("the first name published", lambda: running.names() == {f"s0.{ZONE}"})
    running.leader = False
    lost_at = time.monotonic()
    running.services = web(5)
    running.loop.trigger()
    running.loop.trigger(full_read=True)
    time.sleep(1.0)  # long enough for several syncs to have written, had they been allowed to
    assert [at for at, _ in running.made[-1].writes if at >= lost_at] == []
    assert running.names() == {f"s0.{ZONE}"}


def test_a_rotated_secret_is_used_from_the_next_sync_on_without_a_new_full_read(running: Running) -> None:
    eventually("the first name published", lambda: running.names() == {f"s0.{ZONE}"})
    asked = running.credentials_asked
    running.loop.trigger()  # an ordinary sync soon after the last look: the Secret is not asked for
    running.services = web(2)
    eventually("the second name published", lambda: running.names() == {f"s0.{ZONE}", f"s1.{ZONE}"})
    assert running.credentials_asked == asked and [p.credentials for p in running.made] == ["1"]

    running.secret_version = "2"
    running.now += CREDENTIALS_CHECK_SECONDS
    running.services = web(3)
    running.loop.trigger()
    eventually("a provider made with the new Secret", lambda: [p.credentials for p in running.made] == ["1", "2"])
    eventually("its writes", lambda: running.made[-1].writes)
    # it went on from the zone view it had: the new provider wrote the one new name, and read nothing
    assert [c.record.name for _, changes in running.made[-1].writes for c in changes] == [
        f"s2.{ZONE}",
        f"_dnslb.s2.{ZONE}",
    ]
    assert running.made[-1].reads == 0


class Paged(Recording):
    """A zone read 10 record sets a page, each page taking a while: a long full read, as with a large Route53 zone."""

    PAGE = 10

    def __init__(self, credentials: str, inner: InMemoryProvider) -> None:
        super().__init__(credentials, inner)
        self.pages: list[tuple[float, str | None]] = []  # when each page was read, and where it started

    def records_page(self, zone: Zone, start: str | None) -> Page:
        time.sleep(0.02)
        records = self.inner.records(zone)
        first = int(start or 0)
        self.pages.append((time.monotonic(), start))
        following = first + self.PAGE
        return Page(tuple(records[first:following]), str(following) if following < len(records) else None)


def test_a_new_name_is_published_while_a_long_full_read_goes_on() -> None:
    state = Running(Paged)
    state.services = web(150)  # 300 record sets: 30 pages
    state.loop.configure([provider_resource()])
    state.thread.start()
    try:
        eventually("the first names published", lambda: len(state.names()) == 150)
        provider = state.made[-1]
        assert isinstance(provider, Paged)
        provider.pages.clear()
        state.loop.trigger(full_read=True)
        eventually("the full read under way", lambda: len(provider.pages) >= 3)
        state.services = [*web(150), *added()]
        state.loop.trigger()
        eventually("the new name published", lambda: f"new.{ZONE}" in state.names())
        published = next(at for at, changes in provider.writes if any(c.record.name == f"new.{ZONE}" for c in changes))
        eventually("the full read completed", lambda: provider.pages and provider.pages[-1][1] == "300")
        pages_after = [start for at, start in provider.pages if at > published]
        assert len(pages_after) >= 5, "the write waited for the full read"
        starts = [start for _, start in provider.pages]
        assert starts == [None, *(str(i) for i in range(10, 310, 10))], "the read did not go on from where it was"
    finally:
        state.loop.stop()
        state.thread.join(5)


def added() -> list[ServiceView]:
    return [make_service("new", annotations={"dnslb.io/hostname": f"new.{ZONE}"}, ingress=("10.1.0.1",))]


def test_a_deleted_provider_takes_its_series_with_it(running: Running) -> None:
    """Its last state must not keep an alert firing (DnslbDNSSyncStale, DnslbDNSProviderNotSynced)."""
    m = running.loop.metrics
    eventually("the first name published", lambda: running.names() == {f"s0.{ZONE}"})
    eventually("its series exported", lambda: _providers(m.synced, m.last_success, m.managed) == {"mem"})
    running.loop.configure([])
    eventually("every series of it gone", lambda: _providers(m.synced, m.last_success, m.foreign, m.managed) == set())


def _providers(*metrics: Gauge) -> set[str]:
    return {s.labels["provider"] for metric in metrics for family in metric.collect() for s in family.samples}


def test_names_of_a_kind_not_listed_yet_are_neither_deleted_nor_taken_and_the_rest_goes_on(running: Running) -> None:
    """A source whose cache has not synced (its CRD missing, the API slow) holds its names; Services go on."""
    shop = ObjectRef("Ingress", ObjectKey("team-a", "shop"))
    www = f"www.{ZONE}"
    running.sourced = SourcesRead(
        (SourceRecord(shop, "2026-01-01T00:00:00Z", www, ("10.0.1.1",), None),), (), frozenset({shop})
    )
    running.loop.trigger()
    eventually("the Ingress's name", lambda: running.at(www) == (("10.0.1.1",), "ingress/team-a/shop"))

    # a restart, say: Ingresses not listed yet, and a later Service wants the name too
    running.sourced = SourcesRead((), (), frozenset(), incomplete=frozenset({"Ingress"}))
    running.services = [*web(2), make_service("late", annotations={"dnslb.io/hostname": www}, ingress=("10.0.0.9",))]
    running.loop.trigger()
    eventually("the other Services' names", lambda: f"s1.{ZONE}" in running.names())
    assert running.at(www) == (("10.0.1.1",), "ingress/team-a/shop")  # neither deleted nor taken

    # listed, and the Ingress is gone: the name is the Service's now
    running.sourced = NO_SOURCES
    running.loop.trigger()
    eventually("the Service's claim", lambda: running.at(www) == (("10.0.0.9",), "service/default/late"))
