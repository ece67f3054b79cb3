"""The DNS loop as the controller runs it, with the in-memory provider: only the leader writes, and a rotated
Secret is used from the next full read on, without a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from dnslb.adapters.dnssync.loop import DNSLoop, Hooks
from dnslb.core.config.resources import DNSProvider
from dnslb.core.diagnostics import Diagnostic
from dnslb.core.ipam.request import CLASSLESS
from dnslb.core.model import ServiceView
from dnslb.provider import Change, Provider, Zone
from dnslb_inmemory import InMemoryProvider
from dnslb_testkit.waiting import wait_for
from tests.builders import make_service

ZONE = "example.test"


class Recording:
    """An in-memory provider that records every write it gets, and which credentials it was made with."""

    def __init__(self, credentials: str) -> None:
        self.credentials = credentials
        self.inner = InMemoryProvider([ZONE])
        self.writes: list[tuple[float, tuple[Change, ...]]] = []
        self.limits = self.inner.limits
        self.cost = self.inner.cost

    def zones(self) -> list[Zone]:
        return self.inner.zones()

    def records(self, zone: Zone) -> list[Any]:
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
    def __init__(self) -> None:
        self.services: list[ServiceView] = web(1)
        self.leader = True
        self.secret_version = "1"
        self.made: list[Recording] = []
        self.reports: list[Diagnostic] = []
        self.loop = DNSLoop(
            Hooks(
                services=lambda: self.services,
                source_complete=lambda: True,
                make_provider=self.make,
                save_replaced=lambda *a: None,
                report=self.reports.append,
                may_write=lambda: self.leader,
                credentials=lambda resource: self.secret_version,
            ),
            owner="test",
            classes=CLASSLESS,
            registry=CollectorRegistry(),
            resync_seconds=3600,
        )
        self.thread = threading.Thread(target=self.loop.run, daemon=True)

    def make(self, resource: DNSProvider) -> Provider:
        self.made.append(Recording(self.secret_version))
        return self.made[-1]

    def names(self) -> set[str]:
        if not self.made:
            return set()
        return {r.name for r in self.made[-1].records(Zone(ZONE, ZONE)) if r.type == "A"}


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


def test_a_rotated_secret_makes_a_new_provider_at_the_next_full_read(running: Running) -> None:
    eventually("the first name published", lambda: running.names() == {f"s0.{ZONE}"})
    running.loop.trigger()  # an ordinary sync: the credentials are not asked for
    time.sleep(0.3)
    assert [p.credentials for p in running.made] == ["1"]
    running.secret_version = "2"
    running.services = web(2)
    running.loop.trigger(full_read=True)
    eventually("a provider made with the new Secret", lambda: [p.credentials for p in running.made] == ["1", "2"])
    eventually("its writes", lambda: running.made[-1].writes)
