"""The allocator, scenario by scenario: what a Service gets, or why not, and what it keeps."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from dnslb.core.diagnostics import IP_CONFLICT, IP_NOT_IN_POOL, Diagnostic
from dnslb.core.ipam import Allocation, Allocator, ClassFilter, not_handled_because
from tests.builders import make_pool, make_service


def ips(result: Allocation | Diagnostic) -> list[str]:
    assert isinstance(result, Allocation), result
    return [str(ip) for ip in result.ips]


def refused(result: Allocation | Diagnostic) -> Diagnostic:
    assert isinstance(result, Diagnostic), result
    return result


def test_first_free_address_of_the_highest_priority_pool() -> None:
    allocator = Allocator(
        [
            make_pool("b-unprioritised", "10.1.0.0/30"),
            make_pool("a-second", "10.2.0.0/30", serviceAllocation={"priority": 20}),
            make_pool("c-first", "10.3.0.0/30", serviceAllocation={"priority": 10}),
        ]
    )
    assert [ips(allocator.allocate(make_service(f"s{i}"))) for i in range(6)] == [
        ["10.3.0.0"], ["10.3.0.1"], ["10.3.0.2"], ["10.3.0.3"], ["10.2.0.0"], ["10.2.0.1"],
    ]  # fmt: skip


def test_exhausted_pools_name_themselves_in_the_reason() -> None:
    allocator = Allocator([make_pool("tiny", "10.0.0.0/31")])
    allocator.allocate(make_service("a"))
    allocator.allocate(make_service("b"))
    assert "tiny: no free IPv4 address" in refused(allocator.allocate(make_service("c"))).message


def test_no_pool_configured() -> None:
    assert refused(Allocator([]).allocate(make_service("a"))).message == "no AddressPool is configured"


def test_auto_assign_off_serves_only_pinned_or_requested() -> None:
    allocator = Allocator([make_pool("manual", "10.0.0.0/29", autoAssign=False)])
    assert "autoAssign is off" in refused(allocator.allocate(make_service("auto"))).message
    pinned = make_service("pinned", annotations={"dnslb.io/address-pool": "manual"})
    assert ips(allocator.allocate(pinned)) == ["10.0.0.0"]
    requested = make_service("requested", loadBalancerIP="10.0.0.5")
    assert ips(allocator.allocate(requested)) == ["10.0.0.5"]


def test_avoid_buggy_ips_skips_dot_zero_and_dot_255() -> None:
    allocator = Allocator([make_pool("p", "10.0.0.254-10.0.1.2", avoidBuggyIPs=True)])
    got = [ips(allocator.allocate(make_service(f"s{i}"))) for i in range(3)]
    assert got == [["10.0.0.254"], ["10.0.1.1"], ["10.0.1.2"]]
    asked = make_service("asked", annotations={"dnslb.io/load-balancer-ips": "10.0.0.255"})
    assert "avoids" in refused(allocator.allocate(asked)).message


def test_namespace_and_service_selectors_restrict_a_pool() -> None:
    allocator = Allocator(
        [
            make_pool(
                "team",
                "10.0.0.0/29",
                serviceAllocation={
                    "priority": 1,
                    "namespaces": ["team-a"],
                    "namespaceSelectors": [{"matchLabels": {"tier": "gold"}}],
                },
            ),
            make_pool("rest", "10.9.0.0/29", serviceAllocation={"serviceSelectors": [{"matchLabels": {"x": "y"}}]}),
        ],
        namespace_labels=lambda namespace: {"tier": "gold"} if namespace == "gold-ns" else {},
    )
    assert ips(allocator.allocate(make_service("a", "team-a"))) == ["10.0.0.0"]
    assert ips(allocator.allocate(make_service("b", "gold-ns"))) == ["10.0.0.1"]
    assert ips(allocator.allocate(make_service("c", "other", labels={"x": "y"}))) == ["10.9.0.0"]
    reason = refused(allocator.allocate(make_service("d", "other"))).message
    assert "team: namespace other is not allowed" in reason
    assert "rest: the Service's labels match none of its serviceSelectors" in reason


@pytest.mark.parametrize(
    ("annotations", "spec", "expected"),
    [
        ({}, {"loadBalancerIP": "10.0.0.3"}, ["10.0.0.3"]),
        ({"dnslb.io/load-balancer-ips": "10.0.0.4"}, {}, ["10.0.0.4"]),
        ({"metallb.io/loadBalancerIPs": "10.0.0.5"}, {}, ["10.0.0.5"]),
        ({"metallb.universe.tf/loadBalancerIPs": "10.0.0.6"}, {}, ["10.0.0.6"]),
        ({"dnslb.io/load-balancer-ips": "10.0.0.7", "metallb.io/loadBalancerIPs": "10.0.0.8"}, {}, ["10.0.0.7"]),
    ],
)
def test_requested_ips_from_spec_and_every_annotation(
    annotations: dict[str, str], spec: dict[str, Any], expected: list[str]
) -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/24")])
    assert ips(allocator.allocate(make_service("s", annotations=annotations, **spec))) == expected


@pytest.mark.parametrize(
    ("annotations", "spec", "field", "reason"),
    [
        ({"dnslb.io/load-balancer-ips": "10.0.0.300"}, {}, "metadata.annotations[dnslb.io/load-balancer-ips]",
         "'10.0.0.300' is not an IP address"),
        ({"metallb.io/loadBalancerIPs": "10.0.0.1,10.0.0.2"}, {}, "metadata.annotations[metallb.io/loadBalancerIPs]",
         "asks for two IPv4 addresses"),
        ({"dnslb.io/load-balancer-ips": "10.0.0.1"}, {"loadBalancerIP": "10.0.0.2"}, "spec.loadBalancerIP",
         "is set together with"),
        ({"dnslb.io/load-balancer-ips": "fd00::1"}, {}, "metadata.annotations[dnslb.io/load-balancer-ips]",
         "not of the Service's IP families (IPv4)"),
        ({"dnslb.io/load-balancer-ips": "192.168.1.1"}, {}, "metadata.annotations[dnslb.io/load-balancer-ips]",
         "192.168.1.1 is in no AddressPool"),
        ({"dnslb.io/address-pool": "nope"}, {}, "metadata.annotations[dnslb.io/address-pool]",
         "no AddressPool 'nope'"),
        ({"dnslb.io/address-pool": "other", "dnslb.io/load-balancer-ips": "10.0.0.9"}, {},
         "metadata.annotations[dnslb.io/load-balancer-ips]", "10.0.0.9 is in pool p, not in other"),
    ],
)  # fmt: skip
def test_bad_annotations_are_refused_with_the_field_named(
    annotations: dict[str, str], spec: dict[str, Any], field: str, reason: str
) -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/24"), make_pool("other", "10.1.0.0/24")])
    refusal = refused(allocator.allocate(make_service("s", annotations=annotations, **spec)))
    assert refusal.field == field
    assert reason in refusal.message


def test_an_empty_metallb_annotation_is_not_set_and_hides_the_older_spelling() -> None:
    allocator = Allocator([make_pool("first", "10.0.0.0/24"), make_pool("named", "10.1.0.0/24")])
    empty = {"metallb.io/address-pool": " ", "metallb.universe.tf/address-pool": "named"}
    got = allocator.allocate(make_service("s", annotations=empty))
    assert not isinstance(got, Diagnostic) and got.pool == "first"  # any pool, as MetalLB reads an empty one
    assert ips(allocator.allocate(make_service("t", annotations={"metallb.io/loadBalancerIPs": ""}))) == ["10.0.0.1"]


def test_requested_ip_in_use_names_the_holder() -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/24")])
    ips(allocator.allocate(make_service("first", loadBalancerIP="10.0.0.9")))
    refusal = refused(allocator.allocate(make_service("second", loadBalancerIP="10.0.0.9")))
    assert refusal.message == "10.0.0.9 is in use by default/first, and they have no common allow-shared-ip key"


def test_pool_pinning_beats_priority() -> None:
    allocator = Allocator(
        [make_pool("first", "10.0.0.0/24", serviceAllocation={"priority": 1}), make_pool("second", "10.1.0.0/24")]
    )
    pinned = make_service("s", annotations={"metallb.universe.tf/address-pool": "second"})
    result = allocator.allocate(pinned)
    assert isinstance(result, Allocation) and result.pool == "second" and ips(result) == ["10.1.0.0"]


SHARE = {"dnslb.io/allow-shared-ip": "k"}


def test_sharing_same_key_disjoint_ports_gets_one_ip() -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/24")])
    a = ips(allocator.allocate(make_service("a", annotations=SHARE, ports=(80,))))
    b = ips(allocator.allocate(make_service("b", annotations=SHARE, ports=(443, (80, "UDP")))))
    assert a == b == ["10.0.0.0"]
    assert ips(allocator.allocate(make_service("c", annotations=SHARE, ports=(80,)))) == ["10.0.0.1"]


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ({"annotations": SHARE}, {"annotations": {"dnslb.io/allow-shared-ip": "other"}}, "no common allow-shared-ip"),
        ({}, {}, "no common allow-shared-ip"),
        ({"annotations": SHARE, "ports": (80,)}, {"annotations": SHARE, "ports": (80,)}, "also uses port 80/TCP"),
        (
            {"annotations": SHARE, "externalTrafficPolicy": "Local", "selector": {"app": "x"}, "ports": (1,)},
            {"annotations": SHARE, "externalTrafficPolicy": "Local", "selector": {"app": "y"}, "ports": (2,)},
            "selects other pods",
        ),
        (
            {"annotations": SHARE, "externalTrafficPolicy": "Local", "selector": {"app": "x"}, "ports": (1,)},
            {"annotations": SHARE, "ports": (2,)},
            "differs in externalTrafficPolicy",
        ),
    ],
)
def test_sharing_rules_follow_metallb(first: dict[str, Any], second: dict[str, Any], reason: str) -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/24")])
    ips(allocator.allocate(make_service("a", loadBalancerIP="10.0.0.1", **first)))
    refusal = refused(allocator.allocate(make_service("b", loadBalancerIP="10.0.0.1", **second)))
    assert reason in refusal.message


def test_local_services_selecting_the_same_pods_share() -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/24")])
    local: dict[str, Any] = {"annotations": SHARE, "externalTrafficPolicy": "Local", "selector": {"app": "x"}}
    a = ips(allocator.allocate(make_service("a", ports=(1,), **local)))
    b = ips(allocator.allocate(make_service("b", ports=(2,), **local)))
    assert a == b


def test_dual_stack_by_ip_family_policy() -> None:
    allocator = Allocator([make_pool("v4", "10.0.0.0/24"), make_pool("both", "10.1.0.0/24", "fd00::/64")])
    require = make_service("require", ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv4", "IPv6"])
    assert ips(allocator.allocate(require)) == ["10.1.0.0", "fd00::"]
    prefer = make_service("prefer", ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv6", "IPv4"])
    assert ips(allocator.allocate(prefer)) == ["fd00::1", "10.1.0.1"]
    single6 = make_service("single6", ipFamilies=["IPv6"])
    assert ips(allocator.allocate(single6)) == ["fd00::2"]
    single4 = make_service("single4")  # pools of equal priority go by name: "both" before "v4"
    assert ips(allocator.allocate(single4)) == ["10.1.0.2"]


def test_dual_stack_refused_or_degraded_without_ipv6() -> None:
    allocator = Allocator([make_pool("v4", "10.0.0.0/24")])
    require = make_service("require", ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv4", "IPv6"])
    assert "v4: no free IPv6 address" in refused(allocator.allocate(require)).message
    prefer = make_service("prefer", ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv4", "IPv6"])
    assert ips(allocator.allocate(prefer)) == ["10.0.0.0"]


def test_load_balancer_class_filtering() -> None:
    plain = make_service("plain")
    classed = make_service("classed", loadBalancerClass="dnslb.io/vip")
    cluster_ip = make_service("internal", type="ClusterIP")
    assert not_handled_because(plain, ClassFilter()) is None
    assert (
        not_handled_because(classed, ClassFilter()) == "loadBalancerClass dnslb.io/vip belongs to another load balancer"
    )
    assert not_handled_because(classed, ClassFilter("dnslb.io/vip")) is None
    assert not_handled_because(plain, ClassFilter("dnslb.io/vip")) is not None
    assert not_handled_because(cluster_ip, ClassFilter()) == "type is ClusterIP"
    assert not_handled_because(plain, ClassFilter("dnslb.io/vip", default=True)) is None  # the default class
    assert not_handled_because(classed, ClassFilter("other", default=True)) is not None


def test_release_returns_the_address() -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/30")])
    for name in ("a", "b", "c"):
        allocator.allocate(make_service(name))
    released = allocator.release(make_service("b").key)
    assert released is not None and ips(released) == ["10.0.0.1"]
    assert ips(allocator.allocate(make_service("d"))) == ["10.0.0.1"]
    assert allocator.usage()[0].in_use == 3


def test_restore_comes_before_allocation_and_never_moves_an_ip() -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/29")])
    conflicts = allocator.restore(
        [
            make_service("old", created="2026-01-01T00:00:00Z", ingress=("10.0.0.0",)),
            make_service("dup", created="2026-01-02T00:00:00Z", ingress=("10.0.0.0",)),
            make_service("other", created="2026-01-03T00:00:00Z", ingress=("10.0.0.2",)),
        ]
    )
    assert [(c.reason, str(c.subject)) for c in conflicts] == [(IP_CONFLICT, "Service/default/dup")]
    assert "10.0.0.0 is in use by default/old" in conflicts[0].message
    assert ips(allocator.allocate(make_service("new"))) == ["10.0.0.1"]
    dup = make_service("dup", created="2026-01-02T00:00:00Z", ingress=("10.0.0.0",))
    assert "IP conflict" in refused(allocator.allocate(dup)).message
    allocator.release(make_service("old").key)
    assert ips(allocator.allocate(dup)) == ["10.0.0.0"]


def test_restored_ip_outside_every_pool_is_kept_and_reported() -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/29")])
    orphan = make_service("orphan", ingress=("192.0.2.1",))
    conflicts = allocator.restore([orphan])
    assert len(conflicts) == 1 and conflicts[0].reason == IP_NOT_IN_POOL
    assert ips(allocator.allocate(orphan)) == ["192.0.2.1"]


def test_bad_input_keeps_what_the_service_holds() -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/24")])
    assert ips(allocator.allocate(make_service("s"))) == ["10.0.0.0"]
    broken = make_service("s", annotations={"dnslb.io/load-balancer-ips": "nonsense"})
    refused(allocator.allocate(broken))
    unknown_pool = make_service("s", annotations={"dnslb.io/address-pool": "gone"})
    refused(allocator.allocate(unknown_pool))
    current = allocator.allocation(broken.key)
    assert current is not None and ips(current) == ["10.0.0.0"]


def test_a_new_requested_ip_moves_the_service_only_when_it_can() -> None:
    allocator = Allocator([make_pool("p", "10.0.0.0/24")])
    allocator.allocate(make_service("holder", loadBalancerIP="10.0.0.50"))
    assert ips(allocator.allocate(make_service("s"))) == ["10.0.0.0"]
    refused(allocator.allocate(make_service("s", loadBalancerIP="10.0.0.50")))
    assert ips(allocator.allocate(make_service("s"))) == ["10.0.0.0"]
    assert ips(allocator.allocate(make_service("s", loadBalancerIP="10.0.0.60"))) == ["10.0.0.60"]
    assert ips(allocator.allocate(make_service("t"))) == ["10.0.0.0"]


def test_huge_pools_cost_nothing_until_used() -> None:
    allocator = Allocator([make_pool("v4", "10.0.0.0/8"), make_pool("v6", "fd00::/64")])
    assert {(u.pool, u.size, u.in_use) for u in allocator.usage()} == {("v4", 2**24, 0), ("v6", 2**64, 0)}
    six = make_service("six", ipFamilies=["IPv6"], loadBalancerIP="fd00::ffff:ffff:ffff:fffe")
    assert ips(allocator.allocate(six)) == ["fd00::ffff:ffff:ffff:fffe"]
    assert allocator.pool_of(ipaddress.ip_address("fd00::1")) == "v6"
    assert allocator.pool_of(ipaddress.ip_address("11.0.0.0")) is None
