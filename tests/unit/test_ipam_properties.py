"""Random Services and annotations through the allocator: its invariants hold whatever the input."""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnslb.core.diagnostics import IP_CONFLICT, Diagnostic
from dnslb.core.ipam import Allocation, Allocator, request_for
from dnslb.core.ipam.space import FreeSpace, is_buggy_ipv4
from dnslb.core.model import ServiceView
from tests.builders import make_pool, make_service

POOLS = [
    make_pool("a", "10.0.0.0/29", "fd00::/126", serviceAllocation={"priority": 1}),
    make_pool("b", "10.0.1.254-10.0.2.1", avoidBuggyIPs=True),
    make_pool("c", "10.0.3.0/30", autoAssign=False),
    make_pool("d", "10.0.4.0/30", serviceAllocation={"namespaces": ["ns1"]}),
]
IPS = ["10.0.0.1", "10.0.0.2", "10.0.1.255", "10.0.2.1", "10.0.3.1", "10.0.4.1", "fd00::1", "192.0.2.1", "bogus", ""]


def maybe(strategy: st.SearchStrategy[str], chance: int) -> st.SearchStrategy[str | None]:
    """`strategy` about `chance` times in ten, else None, so that bad input stays the minority."""
    return st.integers(0, 9).flatmap(lambda n: strategy if n < chance else st.none())


@st.composite
def services(draw: st.DrawFn) -> ServiceView:
    policy = draw(st.sampled_from(["SingleStack"] * 4 + ["PreferDualStack", "RequireDualStack"]))
    families = draw(st.sampled_from([["IPv4"], ["IPv4"], ["IPv6"], ["IPv4", "IPv6"], ["IPv6", "IPv4"]]))
    if policy == "RequireDualStack" and len(families) == 1:
        families = ["IPv4", "IPv6"]
    choices = {
        "dnslb.io/load-balancer-ips": maybe(st.sampled_from([*IPS, "10.0.0.1,fd00::1", "10.0.0.1,10.0.0.2"]), 2),
        "metallb.universe.tf/loadBalancerIPs": maybe(st.sampled_from(IPS), 1),
        "dnslb.io/address-pool": maybe(st.sampled_from(["a", "b", "c", "d", "nope", ""]), 2),
        "metallb.io/allow-shared-ip": maybe(st.sampled_from(["k1", "k1", "k2", ""]), 7),
    }
    annotations = {name: value for name, strategy in choices.items() if (value := draw(strategy)) is not None}
    load_balancer_ip = draw(maybe(st.sampled_from(IPS[:4]), 1))
    extra: dict[str, Any] = {} if load_balancer_ip is None else {"loadBalancerIP": load_balancer_ip}
    return make_service(
        draw(st.sampled_from(["s1", "s2", "s3", "s4", "s5", "s6"])),
        draw(st.sampled_from(["ns1", "ns2"])),
        annotations=annotations,
        ports=tuple(draw(st.sets(st.sampled_from([80, 443, 53]), min_size=1, max_size=2))),
        ipFamilyPolicy=policy,
        ipFamilies=families,
        externalTrafficPolicy=draw(st.sampled_from(["Cluster", "Cluster", "Local"])),
        selector=draw(st.sampled_from([{"app": "x"}, {"app": "y"}])),
        **extra,
    )


def compatible(a: ServiceView, b: ServiceView) -> bool:
    ra, rb = request_for(a), request_for(b)
    return (
        bool(ra.sharing_key)
        and ra.sharing_key == rb.sharing_key
        and ra.backend == rb.backend
        and not (ra.ports & rb.ports)
    )


def shape(service: ServiceView) -> Any:
    r = request_for(service)
    return (r.requested, r.pool, r.sharing_key, r.backend, r.ports, r.families, r.policy)


def check_invariants(allocator: Allocator, specs: dict[Any, ServiceView]) -> None:
    """No two Services hold one IP unless the specs they were granted it for may share; every IP is in a pool."""
    holders: dict[Any, list[Any]] = {}
    for allocation in allocator.allocations():
        assert allocation.service in specs
        for ip in allocation.ips:
            assert allocator.pool_of(ip) is not None, f"{ip} outside every pool"
            holders.setdefault(ip, []).append(allocation.service)
    for ip, keys in holders.items():
        for x, y in itertools.combinations(keys, 2):
            assert compatible(specs[x], specs[y]), f"{ip} held by {x} and {y}, which may not share"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["apply", "apply", "apply", "delete"]), services()), max_size=40))
def test_invariants_under_random_changes(operations: list[tuple[str, ServiceView]]) -> None:
    allocator = Allocator(POOLS)
    granted: dict[Any, ServiceView] = {}  # each Service as it was when its current VIPs were granted
    for op, service in operations:
        key = service.key
        if op == "delete":
            allocator.release(key)
            granted.pop(key, None)
            continue
        before = allocator.allocation(key)
        result = allocator.allocate(service)
        if isinstance(result, Diagnostic):
            assert allocator.allocation(key) == before, "a refusal must not take away what a Service holds"
        else:
            assert allocator.allocation(key) == result
            if before is not None and key in granted and shape(granted[key]) == shape(service):
                assert result == before, "a Service whose request did not change must keep its VIPs"
            if result != before:
                assert_eligible(result, service)
            granted[key] = service
        check_invariants(allocator, granted)

    # A restart: restore from status (in any order), then allocate everything again: nothing moves.
    statuses = [
        dataclasses.replace(granted[a.service], ingress_ips=tuple(str(ip) for ip in a.ips))
        for a in allocator.allocations()
    ]
    restarted = Allocator(POOLS)
    assert [d for d in restarted.restore(reversed(statuses)) if d.reason == IP_CONFLICT] == []
    for status in statuses:
        assert isinstance(restarted.allocate(status), Allocation)
        assert restarted.allocation(status.key) == allocator.allocation(status.key)


def assert_eligible(allocation: Allocation, service: ServiceView) -> None:
    request = request_for(service)
    pool = next(p for p in POOLS if p.name == allocation.pool)
    allowed = pool.spec.service_allocation
    if allowed is not None and allowed.namespaces:
        assert service.key.namespace in allowed.namespaces
    if not pool.spec.auto_assign:
        assert request.pool == pool.name or request.requested
    if pool.spec.avoid_buggy_ips:
        assert all(ip.version == 6 or int(ip) & 0xFF not in (0, 255) for ip in allocation.ips)


@given(
    st.lists(st.tuples(st.sampled_from(["take", "give"]), st.integers(0, 600)), max_size=120),
    st.integers(0, 600),
    st.integers(0, 600),
    st.booleans(),
)
def test_first_in_is_the_lowest_free_value_of_the_range(
    ops: list[tuple[str, int]], first: int, last: int, avoid: bool
) -> None:
    intervals = [(0, 99), (100, 255), (300, 511)]
    space = FreeSpace(intervals)
    free = {v for a, b in intervals for v in range(a, b + 1)}
    for op, value in ops:
        if op == "take":
            space.take(value)
            free.discard(value)
        elif value in {v for a, b in intervals for v in range(a, b + 1)} - free:
            space.give(value)
            free.add(value)
    acceptable = sorted(v for v in free if first <= v <= last and not (avoid and is_buggy_ipv4(v)))
    assert space.first_in(first, last, avoid) == (acceptable[0] if acceptable else None)


@settings(max_examples=200, deadline=None)
@given(
    st.permutations(["10.0.5.0/30", "10.0.1.254-10.0.2.1", "10.0.0.0/31", "10.0.9.7/32"]),
    st.booleans(),
    st.lists(st.tuples(st.booleans(), st.integers(0, 11)), max_size=40),
)
def test_new_addresses_follow_the_listed_order(listing: list[str], avoid: bool, ops: list[tuple[bool, int]]) -> None:
    """Whatever was taken and given back: a new Service gets the first free address of the first listed entry."""
    allocator = Allocator([make_pool("p", *listing, avoidBuggyIPs=avoid)])
    order = [ip for entry in listing for ip in addresses(entry) if not (avoid and is_buggy_ipv4(int(ip)))]
    held: dict[int, Any] = {}
    for allocate, n in ops:
        service = make_service(f"s{n}")
        if not allocate:
            allocator.release(service.key)
            held.pop(n, None)
            continue
        if n in held:
            continue
        taken = set(held.values())
        expected = next((ip for ip in order if ip not in taken), None)
        result = allocator.allocate(service)
        if expected is None:
            assert isinstance(result, Diagnostic)
        else:
            assert isinstance(result, Allocation) and result.ips == (expected,)
            held[n] = expected


def addresses(entry: str) -> list[ipaddress.IPv4Address]:
    if "-" not in entry:
        return list(ipaddress.IPv4Network(entry))
    first, last = (ipaddress.IPv4Address(part) for part in entry.split("-"))
    return [ipaddress.IPv4Address(v) for v in range(int(first), int(last) + 1)]
