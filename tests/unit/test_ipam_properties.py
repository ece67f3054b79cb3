"""Random Services and annotations through the allocator: its invariants hold whatever the input."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnslb.core.diagnostics import IP_CONFLICT, Diagnostic
from dnslb.core.ipam import Allocation, Allocator, request_for
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
