"""`dnslb controller` against the API double, driven by the real client: what an operator sees in the cluster."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial

import kubernetes.client as k8s
import pytest

from dnslb_testkit.kubeapi import KubeAPIControl
from tests.controller.harness import (
    NAMESPACE,
    ControllerProcess,
    apply_pool,
    duplicates,
    events_for,
    service_body,
    vips,
    wait_for,
    with_retries,
)

Start = Callable[..., ControllerProcess]


def all_have_vips(core: k8s.CoreV1Api, ns: str, count: int) -> dict[str, tuple[str, ...]] | None:
    assigned = vips(core, ns)
    if len(assigned) == count and all(assigned.values()):
        return assigned
    return None


@pytest.mark.cluster
def test_a_burst_of_500_services_all_get_distinct_vips(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    apply_pool(custom, "burst", "10.10.0.0/22")
    proc = controller()
    proc.wait_ready()
    shared = {"dnslb.io/allow-shared-ip": "pair"}
    for i in range(498):
        core.create_namespaced_service(ns, service_body(f"svc-{i}"))
    core.create_namespaced_service(ns, service_body("pair-a", port=80, annotations=shared))
    core.create_namespaced_service(ns, service_body("pair-b", port=443, annotations=shared))
    assigned = wait_for(lambda: all_have_vips(core, ns, 500), 60, "500 Services with VIPs")
    assert duplicates(assigned) == {assigned[f"{ns}/pair-a"][0]: [f"{ns}/pair-a", f"{ns}/pair-b"]}
    service = core.read_namespaced_service("svc-7", ns)
    assert service.metadata.annotations["dnslb.io/ip-allocated-from-pool"] == "burst"
    assert service.status.load_balancer.ingress[0].ip_mode == "VIP"
    allocated = wait_for(lambda: events_for(core, ns, "svc-7"), 10, "the IPAllocated Event")
    assert [e.reason for e in allocated] == ["IPAllocated"]


@pytest.mark.cluster
def test_sigkill_at_random_points_during_churn_never_moves_or_duplicates_a_vip(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    rng = random.Random(7)
    apply_pool(custom, "churn", "10.20.0.0/23")
    first_seen: dict[str, tuple[str, ...]] = {}
    live: set[str] = set()
    counter = 0

    def observe() -> None:
        for name, ips in vips(core, ns).items():
            if ips:
                assert first_seen.setdefault(name, ips) == ips, f"{name} moved from {first_seen[name]} to {ips}"

    for round_ in range(20):
        proc = controller(name=f"round{round_}")
        for _ in range(rng.randint(5, 25)):
            action = rng.random()
            if action < 0.6 or len(live) < 10:
                counter += 1
                name = f"churn-{counter}"
                core.create_namespaced_service(ns, service_body(name, port=1000 + counter % 50))
                live.add(name)
            elif action < 0.8:
                name = rng.choice(sorted(live))
                core.delete_namespaced_service(name, ns)
                live.discard(name)
                first_seen.pop(f"{ns}/{name}", None)
            else:
                name = rng.choice(sorted(live))
                core.patch_namespaced_service(name, ns, {"metadata": {"labels": {"edit": str(round_)}}})
        time.sleep(rng.uniform(0.3, 2.5))  # before, during or after restore and the first allocations
        proc.kill()
        observe()
    while len(live) < 300:
        counter += 1
        core.create_namespaced_service(ns, service_body(f"churn-{counter}"))
        live.add(f"churn-{counter}")
    final = controller(name="final")
    final.wait_ready()
    assigned = wait_for(lambda: all_have_vips(core, ns, len(live)), 60, "every live Service with a VIP")
    observe()
    assert duplicates(assigned) == {}
    assert set(assigned) == {f"{ns}/{n}" for n in live}


def test_dropped_watches_and_compacted_history_converge(
    ns: str, api: KubeAPIControl, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    apply_pool(custom, "p", "10.30.0.0/24")
    proc = controller()
    proc.wait_ready()
    for i in range(20):
        core.create_namespaced_service(ns, service_body(f"a-{i}"))
        if i == 5:
            api.drop_watches()
        if i == 10:
            api.compact()
            api.drop_watches()
    api.fail_next(3, 500)  # whoever asks next (the controller or this test) gets a 500 and must retry
    for i in range(20):
        with_retries(partial(core.create_namespaced_service, ns, service_body(f"b-{i}")))
    assigned = wait_for(lambda: all_have_vips(core, ns, 40), 30, "40 Services with VIPs")
    assert duplicates(assigned) == {}


@pytest.mark.cluster
def test_release_on_delete_type_change_and_class_change(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    apply_pool(custom, "p", "10.40.0.1-10.40.0.3")
    proc = controller()
    proc.wait_ready()
    for name in ("one", "two", "three"):
        core.create_namespaced_service(ns, service_body(name))
    first = wait_for(lambda: all_have_vips(core, ns, 3), 20, "three VIPs")
    core.patch_namespaced_service("one", ns, {"spec": {"type": "ClusterIP"}})
    wait_for(lambda: not core.read_namespaced_service("one", ns).status.load_balancer.ingress, 10, "cleared")
    core.delete_namespaced_service("two", ns)
    core.create_namespaced_service(ns, service_body("four"))
    core.create_namespaced_service(ns, service_body("five"))
    after = wait_for(lambda: all_have_vips(core, ns, 3), 20, "freed VIPs reused")
    assert after[f"{ns}/three"] == first[f"{ns}/three"]
    assert {after[f"{ns}/four"], after[f"{ns}/five"]} == {first[f"{ns}/one"], first[f"{ns}/two"]}
    core.create_namespaced_service(ns, service_body("six"))
    reason = wait_for(lambda: events_for(core, ns, "six", ["AllocationFailed"]), 10, "AllocationFailed Event")
    assert "no free IPv4 address" in reason[0].message


@pytest.mark.cluster
def test_invalid_config_over_valid_keeps_every_vip_and_says_why(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    apply_pool(custom, "prod", "10.50.0.0/24")
    proc = controller()
    proc.wait_ready()
    for i in range(10):
        core.create_namespaced_service(ns, service_body(f"s{i}"))
    before = wait_for(lambda: all_have_vips(core, ns, 10), 20, "ten VIPs")
    apply_pool(custom, "prod", "10.50.0.9-10.50.0.1")

    def rejected() -> str | None:
        pool = custom.get_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "addresspools", "prod")
        conditions = (pool.get("status") or {}).get("conditions") or []
        return next((c["message"] for c in conditions if c["type"] == "Accepted" and c["status"] == "False"), None)

    message = wait_for(rejected, 10, "Accepted=False condition")
    assert "spec.addresses[0]: '10.50.0.9-10.50.0.1' is reversed" in message
    wait_for(lambda: events_for(core, NAMESPACE, "prod", ["InvalidConfig"]), 10, "an InvalidConfig Event")
    core.create_namespaced_service(ns, service_body("after"))
    after = wait_for(lambda: all_have_vips(core, ns, 11), 20, "the new Service served from the last valid pool")
    assert {k: v for k, v in after.items() if k != f"{ns}/after"} == before
    assert after[f"{ns}/after"][0].startswith("10.50.0.")


@pytest.mark.cluster
def test_two_controllers_only_the_leader_writes_and_the_other_takes_over(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    apply_pool(custom, "p", "10.60.0.0/24")
    elect = ("--leader-elect=true", "--lease-seconds", "3")
    first = controller(*elect, "--identity", "first", name="first")
    first.wait_ready()
    second = controller(*elect, "--identity", "second", name="second")
    wait_for(lambda: second.probe("/readyz") == 200, 20, "second replica synced")
    for i in range(10):
        core.create_namespaced_service(ns, service_body(f"s{i}"))
    before = wait_for(lambda: all_have_vips(core, ns, 10), 20, "ten VIPs")
    assert "dnslb_leader 1.0" in first.metrics() and "dnslb_leader 0.0" in second.metrics()
    first.kill()
    core.create_namespaced_service(ns, service_body("later"))
    after = wait_for(lambda: all_have_vips(core, ns, 11), 15, "the second controller took over")
    assert {k: v for k, v in after.items() if k != f"{ns}/later"} == before
    assert "dnslb_leader 1.0" in second.metrics()


@pytest.mark.cluster
def test_health_metrics_and_clean_shutdown(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    apply_pool(custom, "p", "10.70.0.0/29", "fd00:70::/125")
    proc = controller()
    proc.wait_ready()
    assert proc.probe("/healthz") == 200
    core.create_namespaced_service(ns, service_body("m"))
    wait_for(lambda: all_have_vips(core, ns, 1), 10, "a VIP")
    in_use = 'dnslb_pool_addresses_in_use{family="IPv4",pool="p"} 1.0'
    metrics = wait_for(lambda: (text := proc.metrics()) and in_use in text and text, 10, "pool metrics")
    assert 'dnslb_pool_addresses{family="IPv6",pool="p"} 8.0' in metrics
    assert "dnslb_reconcile_duration_seconds_count" in metrics
    assert 'dnslb_allocations_total{reason="IPAllocated"} 1.0' in metrics
    assert proc.stop() == 0
    assert "received SIGTERM" in proc.log_path.read_text()


@pytest.mark.parametrize("with_status", [True])
@pytest.mark.cluster
def test_restart_restores_before_allocating(
    ns: str, with_status: bool, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    apply_pool(custom, "p", "10.80.0.0/29")
    # A Service created later already holds the lowest address (e.g. written by a previous controller) ...
    core.create_namespaced_service(ns, service_body("new-early"))
    core.create_namespaced_service(ns, service_body("held-late"))
    core.patch_namespaced_service_status(
        "held-late", ns, {"status": {"loadBalancer": {"ingress": [{"ip": "10.80.0.0", "ipMode": "VIP"}]}}}
    )
    proc = controller()
    proc.wait_ready()
    # ... so the earlier-created Service without one must not be handed that address.
    assigned = wait_for(lambda: all_have_vips(core, ns, 2), 10, "both Services with VIPs")
    assert assigned == {f"{ns}/held-late": ("10.80.0.0",), f"{ns}/new-early": ("10.80.0.1",)}


def test_namespace_selectors_allocate_by_the_namespace_labels(
    core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    gold_only = {"serviceAllocation": {"namespaceSelectors": [{"matchLabels": {"tier": "gold"}}]}}
    apply_pool(custom, "gold", "10.90.0.0/29", **gold_only)
    for name, labels in (("gold-team", {"tier": "gold"}), ("plain-team", {})):
        core.create_namespace({"metadata": {"name": name, "labels": labels}})
    proc = controller()
    proc.wait_ready()
    core.create_namespaced_service("gold-team", service_body("web"))
    core.create_namespaced_service("plain-team", service_body("web"))
    assert wait_for(lambda: vips(core, "gold-team").get("gold-team/web"), 10, "a VIP in gold-team") == ("10.90.0.0",)
    refused = wait_for(lambda: events_for(core, "plain-team", "web"), 10, "the refusal in plain-team")
    assert [e.reason for e in refused] == ["AllocationFailed"]
    assert "namespace plain-team is not allowed" in refused[0].message
    assert not vips(core, "plain-team").get("plain-team/web")
    # labelling the namespace is enough: its Services are decided again
    core.patch_namespace("plain-team", {"metadata": {"labels": {"tier": "gold"}}})
    assert wait_for(lambda: vips(core, "plain-team").get("plain-team/web"), 10, "a VIP after labelling") == (
        "10.90.0.1",
    )


def test_a_leader_whose_lease_calls_hang_stops_writing_and_exits(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, api: KubeAPIControl, controller: Start
) -> None:
    apply_pool(custom, "p", "10.61.0.0/24")
    leader = controller("--leader-elect=true", "--lease-seconds", "3", "--identity", "silenced")
    leader.wait_ready()
    core.create_namespaced_service(ns, service_body("before"))
    wait_for(lambda: all_have_vips(core, ns, 1), 10, "a VIP while leading")
    api.silence(resources=["leases"])  # every Lease request from now on is accepted and never answered
    silenced = time.monotonic()
    code = leader.process.wait(15)  # renew deadline 2 s: it must not wait for a hung call to return
    assert code == 1 and time.monotonic() - silenced < 10
    assert "lost the lease" in leader.log_path.read_text()
    writes = api.count_requests("services/status", "patch")
    core.create_namespaced_service(ns, service_body("after"))
    time.sleep(1)
    assert api.count_requests("services/status", "patch") == writes
    assert not vips(core, ns).get(f"{ns}/after")


def test_events_are_found_by_the_services_uid_as_kubectl_describe_finds_them(
    ns: str, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    apply_pool(custom, "p", "10.62.0.0/29")
    controller().wait_ready()
    uid = core.create_namespaced_service(ns, service_body("described")).metadata.uid
    wait_for(lambda: all_have_vips(core, ns, 1), 10, "a VIP")

    def described() -> list[str]:  # kubectl describe: Events whose involvedObject.uid is the object's
        found = core.list_namespaced_event(ns, field_selector=f"involvedObject.uid={uid}").items
        return [e.reason for e in found]

    assert wait_for(described, 10, "the Event kubectl describe shows") == ["IPAllocated"]
