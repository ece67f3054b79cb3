"""An object written for MetalLB means the same in dnslb: the address a Service gets, or why it is refused, as MetalLB's
allocator and controller decide it. docs/compatibility.md cites these tests by name."""

from __future__ import annotations

from typing import Any

import pytest

from dnslb.core.diagnostics import Diagnostic
from dnslb.core.ipam import Allocation, Allocator
from tests.builders import make_pool, make_service


def ips(result: Allocation | Diagnostic) -> list[str]:
    assert isinstance(result, Allocation), result
    return [str(ip) for ip in result.ips]


def pool_of(result: Allocation | Diagnostic) -> str | None:
    assert isinstance(result, Allocation), result
    return result.pool


def refused(result: Allocation | Diagnostic) -> Diagnostic:
    assert isinstance(result, Diagnostic), result
    return result


# -- 1. inside a pool, addresses in the order spec.addresses lists them ------------------------------------------------


def test_addresses_handed_out_in_listed_order() -> None:
    allocator = Allocator([make_pool("p", "10.20.5.0/24", "10.20.1.0/24")])
    assert ips(allocator.allocate(make_service("first"))) == ["10.20.5.0"]
    assert ips(allocator.allocate(make_service("second"))) == ["10.20.5.1"]
    # an entry is used up from its first address before the next entry begins
    small = Allocator([make_pool("p", "10.20.5.254/31", "10.20.1.0/30", "10.20.0.7-10.20.0.8")])
    got = [ips(small.allocate(make_service(f"s{i}")))[0] for i in range(8)]
    assert got == ["10.20.5.254", "10.20.5.255", "10.20.1.0", "10.20.1.1", "10.20.1.2", "10.20.1.3", "10.20.0.7",
                   "10.20.0.8"]  # fmt: skip


def test_a_released_address_is_handed_out_again_before_later_entries() -> None:
    allocator = Allocator([make_pool("p", "10.20.5.0/31", "10.20.1.0/30")])
    for name in ("a", "b", "c"):
        allocator.allocate(make_service(name))
    allocator.release(make_service("a").key)
    assert ips(allocator.allocate(make_service("d"))) == ["10.20.5.0"]
    assert ips(allocator.allocate(make_service("e"))) == ["10.20.1.1"]


def test_avoid_buggy_ips_skips_dot_zero_and_dot_255_in_listed_order() -> None:
    allocator = Allocator([make_pool("p", "10.20.5.255-10.20.6.1", "10.20.1.0/30", avoidBuggyIPs=True)])
    got = [ips(allocator.allocate(make_service(f"s{i}")))[0] for i in range(4)]
    assert got == ["10.20.6.1", "10.20.1.1", "10.20.1.2", "10.20.1.3"]
    assert "p: no free IPv4 address" in refused(allocator.allocate(make_service("full"))).message


def test_each_family_takes_its_first_listed_entry() -> None:
    allocator = Allocator([make_pool("p", "fd00:2::/126", "10.20.5.0/30", "fd00:1::/126", "10.20.1.0/30")])
    both = make_service("both", ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv4", "IPv6"])
    assert ips(allocator.allocate(both)) == ["10.20.5.0", "fd00:2::"]


def test_a_sharing_key_takes_the_first_usable_address_in_listed_order() -> None:
    """MetalLB walks the pool in listed order and stops at the first address that is free or may be shared."""
    key = {"metallb.io/allow-shared-ip": "k"}
    allocator = Allocator([make_pool("p", "10.20.5.0/30", "10.20.1.0/30")])
    allocator.allocate(make_service("a", annotations=key, ports=(80,), loadBalancerIP="10.20.1.0"))
    # a free address listed before the shareable one comes first
    assert ips(allocator.allocate(make_service("b", annotations=key, ports=(443,)))) == ["10.20.5.0"]
    allocator.allocate(make_service("c", annotations=key, ports=(80,), loadBalancerIP="10.20.5.3"))
    for name in ("x1", "x2"):
        allocator.allocate(make_service(name))  # 10.20.5.1, 10.20.5.2: no key, not shareable
    # 10.20.5.0 has 443 in use; 10.20.5.3 (second in the list) comes before 10.20.1.0 and the free 10.20.1.1
    assert ips(allocator.allocate(make_service("d", annotations=key, ports=(443,)))) == ["10.20.5.3"]


# -- 2. spec.loadBalancerIP together with a loadBalancerIPs annotation -------------------------------------------------


@pytest.mark.parametrize(
    "annotation", ["metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs", "dnslb.io/load-balancer-ips"]
)
def test_load_balancer_ip_with_a_load_balancer_ips_annotation_is_refused_even_when_they_agree(annotation: str) -> None:
    allocator = Allocator([make_pool("p", "10.20.5.0/24")])
    both = make_service("s", annotations={annotation: "10.20.5.7"}, loadBalancerIP="10.20.5.7")
    refusal = refused(allocator.allocate(both))
    assert refusal.field == "spec.loadBalancerIP"
    assert refusal.message == (
        f"'10.20.5.7' is set together with metadata.annotations[{annotation}] '10.20.5.7'; "
        "keep one (both are refused, even when they agree)"
    )
    assert allocator.allocation(both.key) is None
    # either one alone is granted
    assert ips(allocator.allocate(make_service("s", loadBalancerIP="10.20.5.7"))) == ["10.20.5.7"]
    # ... and a Service that holds its VIP keeps it when both are set, as with any refusal
    refused(allocator.allocate(both))
    held = allocator.allocation(both.key)
    assert held is not None and ips(held) == ["10.20.5.7"]


# -- 3. metallb.io/ beats metallb.universe.tf/ -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["address-pool", "loadBalancerIPs", "allow-shared-ip"])
def test_metallb_io_annotation_beats_metallb_universe_tf(name: str) -> None:
    allocator = Allocator([make_pool("new", "10.20.5.0/24"), make_pool("old", "10.20.1.0/24")])

    def both(service: str, new: str, old: str, **spec: Any) -> Any:
        annotations = {f"metallb.io/{name}": new, f"metallb.universe.tf/{name}": old}
        return make_service(service, annotations=annotations, **spec)

    if name == "address-pool":
        assert pool_of(allocator.allocate(both("s", "new", "old"))) == "new"
    elif name == "loadBalancerIPs":
        assert ips(allocator.allocate(both("s", "10.20.5.9", "10.20.1.9"))) == ["10.20.5.9"]
    else:
        holder = make_service("holder", annotations={"metallb.io/allow-shared-ip": "new"}, loadBalancerIP="10.20.5.9")
        allocator.allocate(holder)
        assert ips(allocator.allocate(both("s", "new", "old", ports=(443,), loadBalancerIP="10.20.5.9"))) == [
            "10.20.5.9"
        ]
        refusal = refused(allocator.allocate(both("t", "old", "new", ports=(8443,), loadBalancerIP="10.20.5.9")))
        assert "no common allow-shared-ip key" in refusal.message


# -- 4. serviceAllocation ----------------------------------------------------------------------------------------------

TEAM_POOLS = [
    make_pool("a-open", "10.20.9.0/31"),
    make_pool("b-team-no-priority", "10.20.4.0/31", serviceAllocation={"namespaces": ["team"]}),
    make_pool("c-team-20", "10.20.3.0/31", serviceAllocation={"priority": 20, "namespaces": ["team"]}),
    make_pool(
        "d-app-10",
        "10.20.2.0/31",
        serviceAllocation={"priority": 10, "serviceSelectors": [{"matchLabels": {"app": "x"}}]},
    ),
    make_pool("e-other-1", "10.20.1.0/31", serviceAllocation={"priority": 1, "namespaces": ["other"]}),
]


def test_pools_whose_service_allocation_admits_the_service_come_first_by_priority() -> None:
    allocator = Allocator(TEAM_POOLS)
    # e-other-1 has the best priority but does not admit namespace team; d-app-10 needs the label
    labelled = [pool_of(allocator.allocate(make_service(f"x{i}", "team", labels={"app": "x"}))) for i in range(2)]
    assert labelled == ["d-app-10", "d-app-10"]
    # then by priority; a serviceAllocation without a priority after those with one, yet before the open pool
    got = [pool_of(allocator.allocate(make_service(f"s{i}", "team"))) for i in range(6)]
    assert got == ["c-team-20", "c-team-20", "b-team-no-priority", "b-team-no-priority", "a-open", "a-open"]


def test_a_pool_with_service_allocation_never_serves_a_service_it_does_not_admit() -> None:
    allocator = Allocator(TEAM_POOLS)
    assert pool_of(allocator.allocate(make_service("first", "elsewhere"))) == "a-open"
    assert pool_of(allocator.allocate(make_service("second", "elsewhere"))) == "a-open"
    # the open pool is full; the restricted pools have room, but not for namespace elsewhere
    reason = refused(allocator.allocate(make_service("third", "elsewhere"))).message
    assert reason.startswith("no pool can serve it (")
    assert "a-open: no free IPv4 address" in reason
    assert "e-other-1: namespace elsewhere is not allowed" in reason
    assert "d-app-10: the Service's labels match none of its serviceSelectors" in reason


@pytest.mark.parametrize(
    ("annotations", "spec", "field", "message"),
    [
        ({"metallb.io/address-pool": "e-other-1"}, {}, "metadata.annotations[metallb.io/address-pool]",
         "pool e-other-1 refuses this Service: namespace team is not allowed"),
        ({"metallb.universe.tf/address-pool": "d-app-10"}, {}, "metadata.annotations[metallb.universe.tf/address-pool]",
         "pool d-app-10 refuses this Service: the Service's labels match none of its serviceSelectors"),
        ({"metallb.io/loadBalancerIPs": "10.20.1.1"}, {}, "metadata.annotations[metallb.io/loadBalancerIPs]",
         "pool e-other-1 refuses this Service: namespace team is not allowed"),
        ({}, {"loadBalancerIP": "10.20.2.0"}, "spec.loadBalancerIP",
         "pool d-app-10 refuses this Service: the Service's labels match none of its serviceSelectors"),
    ],
)  # fmt: skip
def test_service_allocation_binds_the_pool_annotation_and_requested_ips(
    annotations: dict[str, str], spec: dict[str, Any], field: str, message: str
) -> None:
    allocator = Allocator(TEAM_POOLS)
    refusal = refused(allocator.allocate(make_service("s", "team", annotations=annotations, **spec)))
    assert (refusal.field, refusal.message) == (field, message)


def test_prefer_dual_stack_takes_one_family_from_an_admitting_pool_before_both_from_an_open_one() -> None:
    allocator = Allocator(
        [
            make_pool("open", "10.20.9.0/30", "fd00:9::/126"),
            make_pool("team-v6", "fd00:1::/126", serviceAllocation={"namespaces": ["team"]}),
        ]
    )
    prefer: dict[str, Any] = {"ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv4", "IPv6"]}
    got = allocator.allocate(make_service("s", "team", **prefer))
    assert (pool_of(got), ips(got)) == ("team-v6", ["fd00:1::"])
    got = allocator.allocate(make_service("s", "elsewhere", **prefer))
    assert (pool_of(got), ips(got)) == ("open", ["10.20.9.0", "fd00:9::"])


def test_prefer_dual_stack_with_one_family_prefers_the_services_first_family() -> None:
    allocator = Allocator([make_pool("a-v6", "fd00:1::/126"), make_pool("b-v4", "10.20.1.0/30")])
    got = allocator.allocate(make_service("s", ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv4", "IPv6"]))
    assert (pool_of(got), ips(got)) == ("b-v4", ["10.20.1.0"])
    got = allocator.allocate(make_service("t", ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv6", "IPv4"]))
    assert (pool_of(got), ips(got)) == ("a-v6", ["fd00:1::"])


def test_service_allocation_by_namespace_selector_and_one_with_only_a_priority_admits_every_service() -> None:
    pools = [
        make_pool("open", "10.20.9.0/30"),
        make_pool(
            "gold", "10.20.2.0/30", serviceAllocation={"namespaceSelectors": [{"matchLabels": {"tier": "gold"}}]}
        ),
        make_pool("everyone", "10.20.3.0/31", serviceAllocation={"priority": 5}),  # no rules: admits every Service
    ]
    allocator = Allocator(pools, namespace_labels=lambda ns: {"tier": "gold"} if ns == "rich" else {})
    got = [pool_of(allocator.allocate(make_service(f"s{i}", "rich"))) for i in range(4)]
    assert got == ["everyone", "everyone", "gold", "gold"]
    got = [pool_of(allocator.allocate(make_service(f"p{i}", "poor"))) for i in range(2)]
    assert got == ["open", "open"]
