"""AddressPool status as the controller writes it: addresses in use and in total, and a Ready condition, shown by
`kubectl get addresspools` (the real kubectl against the API double)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest

from dnslb.app.controller import POOL_STATUS_PERIOD, PoolStatus, pool_status, usable_addresses
from dnslb.core.config import AddressPool
from dnslb.core.diagnostics import INVALID_CONFIG, Diagnostic
from dnslb_testkit.kubeapi import KubeAPIControl
from dnslb_testkit.kubeapi.kubectl import Kubectl, parse_tables
from tests.controller.harness import NAMESPACE, ControllerProcess, apply_pool, service_body, wait_for

Start = Callable[..., ControllerProcess]


def status_of(custom: k8s.CustomObjectsApi, name: str) -> dict[str, Any]:
    pool = custom.get_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "addresspools", name)
    status: dict[str, Any] = pool.get("status") or {}
    return status


def in_use(custom: k8s.CustomObjectsApi, name: str, count: int) -> dict[str, Any] | None:
    status = status_of(custom, name)
    return status if status.get("inUse") == count else None


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


@pytest.fixture
def kubectl(api: KubeAPIControl, tmp_path: Path) -> Kubectl:
    return Kubectl(api.url, tmp_path)


def test_pool_status_follows_allocations_as_kubectl_shows_it(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start, kubectl: Kubectl
) -> None:
    apply_pool(custom, "a-web", "10.30.0.0/24", avoidBuggyIPs=True)
    apply_pool(custom, "b-clash", "10.30.0.128/25")
    apply_pool(custom, "c-small", "10.30.1.0/26", avoidBuggyIPs=True, autoAssign=False)
    controller().wait_ready()
    for i in range(5):
        core.create_namespaced_service(ns, service_body(f"s{i}"))
    wait_for(lambda: in_use(custom, "a-web", 5), 10, "5 addresses in use in a-web")

    (pools,) = parse_tables(kubectl("get", "pool", "-n", NAMESPACE))
    shown = {p["NAME"]: (p["IN USE"], p["TOTAL"], p["READY"]) for p in pools}
    assert shown == {
        "a-web": ("5", "254", "True"),  # a /24 without .0 and .255
        "b-clash": ("0", "0", "False"),  # refused: nothing to hand out
        "c-small": ("0", "63", "True"),  # 10.30.1.0/26 has a .0, and no .255
    }
    clash = ready(status_of(custom, "b-clash"))
    assert clash["reason"] == "AddressesOverlap"
    assert f"overlaps AddressPool/{NAMESPACE}/a-web spec.addresses[0]" in clash["message"]
    assert ready(status_of(custom, "a-web"))["message"] == "5 of 254 addresses in use"

    for i in range(2):
        core.delete_namespaced_service(f"s{i}", ns)
    wait_for(lambda: in_use(custom, "a-web", 3), 10, "3 addresses in use after two deletions")
    (pools,) = parse_tables(kubectl("get", "addresspool", "a-web", "-n", NAMESPACE))
    assert (pools[0]["IN USE"], pools[0]["TOTAL"]) == ("3", "254")

    apply_pool(custom, "b-clash", "10.30.2.0/25")  # no longer overlapping: in force, Ready
    fixed = wait_for(lambda: (s := status_of(custom, "b-clash")) and ready(s)["status"] == "True" and s, 10, "Ready")
    assert (fixed["total"], ready(fixed)["reason"], ready(fixed)["observedGeneration"]) == (128, "Available", 2)


def test_a_status_the_cluster_lost_is_written_again_at_the_resync(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    apply_pool(custom, "p", "10.32.0.0/28")
    controller("--resync-seconds", "1").wait_ready()
    core.create_namespaced_service(ns, service_body("one"))
    wait_for(lambda: in_use(custom, "p", 1), 10, "1 address in use")
    # as if the controller's last write had not landed
    custom.patch_namespaced_custom_object_status("dnslb.io", "v1alpha1", NAMESPACE, "addresspools", "p",
                                                 {"status": {"inUse": 7}})  # fmt: skip
    wait_for(lambda: in_use(custom, "p", 1), 10, "the status written again")


def test_a_burst_of_allocations_is_not_a_pool_status_write_per_service(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, api: KubeAPIControl, controller: Start
) -> None:
    apply_pool(custom, "burst", "10.31.0.0/24")
    controller().wait_ready()
    wait_for(lambda: in_use(custom, "burst", 0), 10, "the pool's first status")
    api.reset_request_counts()
    started = time.monotonic()
    for i in range(40):
        core.create_namespaced_service(ns, service_body(f"b{i}"))
    wait_for(lambda: in_use(custom, "burst", 40), 20, "40 addresses in use")
    elapsed = time.monotonic() - started
    writes = api.count_requests("addresspools/status", "patch")
    assert 1 <= writes <= elapsed / POOL_STATUS_PERIOD + 2, (writes, elapsed)
    assert writes < 40


def pool(*addresses: str, avoid_buggy: bool = True) -> AddressPool:
    return AddressPool.model_validate(
        {
            "apiVersion": "dnslb.io/v1alpha1",
            "kind": "AddressPool",
            "metadata": {"name": "p"},
            "spec": {"addresses": list(addresses), "avoidBuggyIPs": avoid_buggy},
        }
    )


@pytest.mark.parametrize(
    ("addresses", "avoid_buggy", "total"),
    [
        (("10.0.0.0/26",), True, 63),
        (("10.0.0.64/26",), True, 64),
        (("10.0.0.192/26",), True, 63),
        (("10.0.0.0/24",), True, 254),
        (("10.0.0.0/24",), False, 256),
        (("10.0.0.0/22",), True, 1016),
        (("10.0.0.250-10.0.1.5",), True, 10),
        (("10.0.0.0/26", "fd00::/120"), True, 63 + 256),  # IPv6 has no buggy addresses
        (("fd00::/64",), False, 2**63 - 1),  # what the CRD's int64 holds
    ],
)
def test_total_counts_what_the_allocator_may_hand_out(
    addresses: tuple[str, ...], avoid_buggy: bool, total: int
) -> None:
    assert usable_addresses(pool(*addresses, avoid_buggy=avoid_buggy)) == total


def test_ready_says_why_not() -> None:
    overlaps = "'10.0.0.0/25' overlaps AddressPool/x/a spec.addresses[0] ('10.0.0.0/24')"
    overlap = Diagnostic(None, INVALID_CONFIG, overlaps, field="spec.addresses[0]")
    reversed_range = Diagnostic(None, INVALID_CONFIG, "'10.0.0.9-10.0.0.1' is reversed", field="spec.addresses[1]")
    assert pool_status([overlap], 0, 0).reason == "AddressesOverlap"
    assert pool_status([reversed_range], 2, 10) == PoolStatus(
        2, 10, False, "Invalid", "spec.addresses[1]: '10.0.0.9-10.0.0.1' is reversed"
    )
    assert pool_status([], 10, 10) == PoolStatus(10, 10, True, "Exhausted", "all 10 addresses are in use")
    assert pool_status([], 3, 10) == PoolStatus(3, 10, True, "Available", "3 of 10 addresses in use")
