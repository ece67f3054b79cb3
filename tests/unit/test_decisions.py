"""The controller's VIP decisions: restore before allocate, status writes, Events, release, config changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from dnslb.core.diagnostics import Diagnostic
from dnslb.core.ipam.decisions import Action, ClearStatus, VIPDecisions, WriteStatus
from dnslb.core.model import ServiceView
from dnslb.core.objects import ObjectKey
from tests.builders import make_pool, make_service

POOL = make_pool("p", "10.0.0.0/29")


def key(name: str) -> ObjectKey:
    return ObjectKey("default", name)


def events(actions: Sequence[Action], reason: str) -> list[Diagnostic]:
    return [a for a in actions if isinstance(a, Diagnostic) and a.reason == reason]


def about(event: Diagnostic) -> ObjectKey | None:
    return event.subject.key if event.subject else None


def test_start_restores_every_status_before_allocating() -> None:
    early_new = make_service("early-new", created="2026-01-01T00:00:00Z")
    late_held = make_service(
        "late-held",
        created="2026-02-01T00:00:00Z",
        ingress=("10.0.0.0",),
        annotations={"dnslb.io/ip-allocated-from-pool": "p"},
    )
    actions = VIPDecisions([POOL]).start([early_new, late_held])
    assert WriteStatus(key("early-new"), ("10.0.0.1",), "p") in actions
    assert not [a for a in actions if isinstance(a, WriteStatus) and a.service == key("late-held")]


def test_duplicate_vips_in_status_are_reported_never_moved() -> None:
    first = make_service("first", created="2026-01-01T00:00:00Z", ingress=("10.0.0.3",))
    second = make_service("second", created="2026-01-02T00:00:00Z", ingress=("10.0.0.3",))
    actions = VIPDecisions([POOL]).start([second, first])
    conflicts = events(actions, "IPConflict")
    assert [about(e) for e in conflicts] == [key("second")]
    assert conflicts[0].message == (
        "IP conflict: 10.0.0.3 is in use by default/first, and they have no common allow-shared-ip key; "
        "it stays with the earlier Service"
    )
    assert all(not (isinstance(a, WriteStatus | ClearStatus) and a.service == key("second")) for a in actions)
    assert WriteStatus(key("first"), ("10.0.0.3",), "p") in actions  # the pool annotation was missing


def test_refusals_are_one_event_per_distinct_reason_and_keep_the_vip() -> None:
    decisions = VIPDecisions([POOL])
    decisions.start([make_service("s")])
    broken = make_service("s", ingress=("10.0.0.0",), annotations={"dnslb.io/load-balancer-ips": "nope"})
    first = events(decisions.service_changed(broken), "AllocationFailed")
    assert len(first) == 1
    assert "keeps 10.0.0.0" in first[0].message and first[0].field == "metadata.annotations[dnslb.io/load-balancer-ips]"
    assert decisions.service_changed(broken) == []


def test_type_change_releases_and_clears_and_a_conflicted_service_gets_its_ip_back() -> None:
    views: dict[ObjectKey, ServiceView] = {}
    decisions = VIPDecisions([POOL], lookup=views.get)
    winner = make_service("winner", created="2026-01-01T00:00:00Z", ingress=("10.0.0.5",))
    loser = make_service("loser", created="2026-01-02T00:00:00Z", ingress=("10.0.0.5",))
    views.update({winner.key: winner, loser.key: loser})
    decisions.start([winner, loser])
    actions = decisions.service_changed(dataclasses.replace(winner, type="ClusterIP"))
    assert ClearStatus(winner.key) in actions
    assert [(e.subject.key.name, e.reason) for e in actions if isinstance(e, Diagnostic) and e.subject] == [
        ("winner", "IPReleased"),
        ("loser", "IPAllocated"),
    ]
    assert WriteStatus(loser.key, ("10.0.0.5",), "p") in actions


def test_a_new_pool_set_keeps_what_is_held_even_when_the_cache_lags() -> None:
    decisions = VIPDecisions([POOL])
    fresh = make_service("fresh")
    assert decisions.start([fresh]) != []
    lagging = [fresh]  # the cache has not seen our status write yet
    bigger = make_pool("p", "10.0.0.0/28")
    actions = decisions.pools_changed([bigger], lagging)
    assert WriteStatus(fresh.key, ("10.0.0.0",), "p") in actions
    assert events(actions, "IPAllocated") == []


def test_a_removed_pool_keeps_its_vips_and_says_so() -> None:
    decisions = VIPDecisions([POOL])
    held = make_service("held", ingress=("10.0.0.0",), annotations={"dnslb.io/ip-allocated-from-pool": "p"})
    decisions.start([held])
    actions = decisions.pools_changed([make_pool("other", "10.9.0.0/29")], [held])
    assert [e.reason for e in actions if isinstance(e, Diagnostic)] == ["IPNotInPool"]
    assert decisions.allocator.allocation(held.key) is not None
