"""The other kinds the project uses: Nodes, Leases, Events, Secrets, EndpointSlices, custom resources,
and the discovery documents."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import kubernetes.client as k8s
import pytest
from kubernetes.client import ApiException

from dnslb_testkit.kubeapi import KubeAPIControl
from dnslb_testkit.waiting import wait_for

GROUP, VERSION = "dnslb.io", "v1alpha1"

pytestmark = pytest.mark.cluster


@pytest.fixture
def node(core: k8s.CoreV1Api) -> Iterator[str]:
    name = f"kt-node-{uuid.uuid4().hex[:8]}"
    body = k8s.V1Node(
        metadata=k8s.V1ObjectMeta(name=name, labels={"kubernetes.io/hostname": name}),
        status=k8s.V1NodeStatus(
            conditions=[
                k8s.V1NodeCondition(type="Ready", status="True", reason="KubeletReady"),
                k8s.V1NodeCondition(type="NetworkUnavailable", status="False", reason="RouteCreated"),
            ],
            addresses=[k8s.V1NodeAddress(type="InternalIP", address="192.0.2.21")],
        ),
    )
    core.create_node(body)
    yield name
    with contextlib.suppress(ApiException):
        core.delete_node(name)


def test_node_is_cluster_scoped_and_keeps_status_on_create(core: k8s.CoreV1Api, node: str) -> None:
    read = core.read_node(node)
    assert read.metadata.namespace is None
    assert {c.type: c.status for c in read.status.conditions} == {"Ready": "True", "NetworkUnavailable": "False"}


def test_node_ready_condition_toggles_through_status(core: k8s.CoreV1Api, node: str) -> None:
    now = datetime.now(UTC)
    patch = {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "lastTransitionTime": now.isoformat()}
            ]
        }
    }
    patched = core.patch_node_status(node, patch)
    conditions = {c.type: c for c in patched.status.conditions}
    assert conditions["Ready"].status == "False"
    assert conditions["NetworkUnavailable"].status == "False"
    assert conditions["Ready"].last_transition_time == now.replace(microsecond=0)
    assert patched.status.addresses[0].address == "192.0.2.21"


def test_node_spec_write_cannot_touch_status(core: k8s.CoreV1Api, node: str) -> None:
    patched = core.patch_node(node, {"spec": {"unschedulable": True}, "status": {"conditions": []}})
    assert patched.spec.unschedulable is True
    assert len(patched.status.conditions) == 2
    cordoned = core.list_node(field_selector="spec.unschedulable=true").items
    assert node in {n.metadata.name for n in cordoned}


def test_lease_optimistic_concurrency(coordination: k8s.CoordinationV1Api, namespace: str) -> None:
    now = datetime.now(UTC)
    lease = k8s.V1Lease(
        metadata=k8s.V1ObjectMeta(name="dnslb-controller"),
        spec=k8s.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15, acquire_time=now, renew_time=now),
    )
    created = coordination.create_namespaced_lease(namespace, lease)
    assert created.spec.renew_time == now
    mine = coordination.read_namespaced_lease("dnslb-controller", namespace)
    theirs = coordination.read_namespaced_lease("dnslb-controller", namespace)
    mine.spec.renew_time = now + timedelta(seconds=5)
    coordination.replace_namespaced_lease("dnslb-controller", namespace, mine)
    theirs.spec.holder_identity = "b"
    with pytest.raises(ApiException) as caught:
        coordination.replace_namespaced_lease("dnslb-controller", namespace, theirs)
    assert caught.value.status == 409
    assert coordination.read_namespaced_lease("dnslb-controller", namespace).spec.holder_identity == "a"


def test_lease_times_are_stored_as_micro_time(coordination: k8s.CoordinationV1Api, namespace: str) -> None:
    moment = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    body = {"metadata": {"name": "l"}, "spec": {"renewTime": "2024-05-01T14:30:15.123456+02:00"}}
    coordination.create_namespaced_lease(namespace, body)
    raw = json.loads(coordination.read_namespaced_lease("l", namespace, _preload_content=False).data)
    assert raw["spec"]["renewTime"] == "2024-05-01T12:30:15.123456Z"
    assert coordination.read_namespaced_lease("l", namespace).spec.renew_time == moment


def test_event_create_and_patch(core: k8s.CoreV1Api, namespace: str) -> None:
    now = datetime.now(UTC)
    event = k8s.CoreV1Event(
        metadata=k8s.V1ObjectMeta(name="svc.17a", namespace=namespace),
        involved_object=k8s.V1ObjectReference(kind="Service", namespace=namespace, name="svc", api_version="v1"),
        reason="IPAllocated",
        message="Assigned IP 192.0.2.10",
        type="Normal",
        count=1,
        first_timestamp=now,
        last_timestamp=now,
        source=k8s.V1EventSource(component="dnslb-controller"),
    )
    created = core.create_namespaced_event(namespace, event)
    assert created.reason == "IPAllocated" and created.count == 1
    patched = core.patch_namespaced_event("svc.17a", namespace, {"count": 2, "lastTimestamp": now.isoformat()})
    assert patched.count == 2
    found = core.list_namespaced_event(namespace, field_selector="involvedObject.name=svc,reason=IPAllocated")
    assert [e.metadata.name for e in found.items] == ["svc.17a"]


def test_event_namespace_must_match_involved_object(core: k8s.CoreV1Api, namespace: str) -> None:
    event = k8s.CoreV1Event(
        metadata=k8s.V1ObjectMeta(name="e"),
        involved_object=k8s.V1ObjectReference(kind="Service", namespace="elsewhere", name="svc"),
        reason="R",
        message="m",
    )
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_event(namespace, event)
    assert caught.value.status == 422


def test_secret_string_data_becomes_data(core: k8s.CoreV1Api, namespace: str) -> None:
    secret = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="creds"), string_data={"token": "s3cret"})
    created = core.create_namespaced_secret(namespace, secret)
    assert created.type == "Opaque"
    assert created.string_data is None
    assert base64.b64decode(created.data["token"]) == b"s3cret"


def test_endpoint_slice_validation(discovery: k8s.DiscoveryV1Api, namespace: str) -> None:
    good = k8s.V1EndpointSlice(
        metadata=k8s.V1ObjectMeta(name="svc-abc", labels={"kubernetes.io/service-name": "svc"}),
        address_type="IPv4",
        endpoints=[
            k8s.V1Endpoint(addresses=["10.0.0.5"], conditions=k8s.V1EndpointConditions(ready=True), node_name="node-a")
        ],
        ports=[k8s.DiscoveryV1EndpointPort(name="http", port=8080)],
    )
    created = discovery.create_namespaced_endpoint_slice(namespace, good)
    assert created.ports[0].protocol == "TCP"
    listed = discovery.list_namespaced_endpoint_slice(namespace, label_selector="kubernetes.io/service-name=svc")
    assert [s.metadata.name for s in listed.items] == ["svc-abc"]
    bad = {"metadata": {"name": "bad"}, "addressType": "IPv4", "endpoints": [{"addresses": ["fd00::1"]}]}
    with pytest.raises(ApiException) as caught:
        discovery.create_namespaced_endpoint_slice(namespace, bad)
    assert caught.value.status == 422


VALID: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {  # plural: (kind, a valid spec, a valid change)
    "addresspools": ("AddressPool", {"addresses": ["10.0.0.0/24"]}, {"addresses": ["10.0.1.0/24"]}),
    "bgppeers": ("BGPPeer", {"myASN": 64512, "peerASN": 64500, "peerAddress": "192.0.2.1"},
                 {"myASN": 64512, "peerASN": 64501, "peerAddress": "192.0.2.1"}),
    "bgpadvertisements": ("BGPAdvertisement", {}, {"localPref": 100}),
    "dnsproviders": ("DNSProvider", {"type": "inmemory"}, {"type": "route53"}),
}  # fmt: skip


@pytest.mark.parametrize("plural", sorted(VALID))
def test_custom_kinds_crud(api: KubeAPIControl, custom: k8s.CustomObjectsApi, namespace: str, plural: str) -> None:
    kind, spec, change = VALID[plural]
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": "one"}, "spec": spec}
    created = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
    assert created["kind"] == kind and created["metadata"]["namespace"] == namespace
    with pytest.raises(ApiException) as duplicate:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
    assert duplicate.value.status == 409
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["one"]
    everywhere = custom.list_cluster_custom_object(GROUP, VERSION, plural)
    assert any(item["metadata"]["namespace"] == namespace for item in everywhere["items"])
    created["spec"] = change
    replaced = custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, plural, "one", created)
    assert {k: v for k, v in replaced["spec"].items() if k in change} == change
    without_version = {**replaced, "metadata": {"name": "one"}}
    with pytest.raises(ApiException) as unconditional:
        custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, plural, "one", without_version)
    assert unconditional.value.status == 422
    deleted = custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, "one")
    assert deleted["metadata"]["name"] == "one"
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, "one")
    assert missing.value.status == 404


def test_discovery(client: k8s.ApiClient, api: KubeAPIControl) -> None:
    assert "v1" in k8s.CoreApi(client).get_api_versions().versions
    groups = {g.name for g in k8s.ApisApi(client).get_api_versions().groups}
    assert {"dnslb.io", "coordination.k8s.io", "discovery.k8s.io"} <= groups
    resources = k8s.CoreV1Api(client).get_api_resources().resources
    by_name = {r.name: r for r in resources}
    assert by_name["services"].namespaced and not by_name["nodes"].namespaced
    assert "services/status" in by_name
    custom = k8s.CustomObjectsApi(client).get_api_resources(GROUP, VERSION).resources
    assert {r.name for r in custom} >= {"addresspools", "bgppeers/status", "dnsproviders"}
    version = k8s.VersionApi(client).get_code()
    assert version.major == "1"


def test_unknown_paths_answer_404_status(api: KubeAPIControl, client: k8s.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        k8s.CustomObjectsApi(client).list_namespaced_custom_object("dnslb.io", "v1alpha1", "default", "nothings")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["kind"] == "Status"


def test_leader_election_record_round_trip(coordination: k8s.CoordinationV1Api, namespace: str) -> None:
    # What the controller's leader election does each renew: read, then update with the resourceVersion.
    now = datetime.now(UTC)
    coordination.create_namespaced_lease(
        namespace,
        k8s.V1Lease(metadata=k8s.V1ObjectMeta(name="le"), spec=k8s.V1LeaseSpec(holder_identity="x", renew_time=now)),
    )
    for _ in range(3):
        lease = coordination.read_namespaced_lease("le", namespace)
        lease.spec.renew_time = datetime.now(UTC)
        coordination.replace_namespaced_lease("le", namespace, lease)
        time.sleep(0.01)
    assert coordination.read_namespaced_lease("le", namespace).spec.holder_identity == "x"


def test_client_leader_election_runs_against_the_double(
    api: KubeAPIControl, coordination: k8s.CoordinationV1Api
) -> None:
    from kubernetes.leaderelection import electionconfig, leaderelection
    from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

    lock = LeaseLock("dnslb-le", "default", "candidate-a")
    lock.api_instance = coordination
    started, stopped = threading.Event(), threading.Event()
    config = electionconfig.Config(lock, 4, 3, 1, started.set, stopped.set)
    election = threading.Thread(target=leaderelection.LeaderElection(config).run, daemon=True)
    election.start()
    try:
        assert started.wait(5)
        wait_for(lambda: api.count_requests("leases", "update") >= 1, 5, "the elector's first renewal")
        lease = coordination.read_namespaced_lease("dnslb-le", "default")
        assert lease.spec.holder_identity == "candidate-a"
        assert api.count_requests("leases", "update") >= 1
    finally:
        api.fail_next(10_000, 500)  # renewals fail, so the elector gives up leading
        election.join(10)
        api.fail_next(0)
    assert stopped.is_set()


def test_custom_kinds_follow_their_crd_schema(
    api: KubeAPIControl, custom: k8s.CustomObjectsApi, namespace: str
) -> None:
    """As kube-apiserver does with a structural schema: unknown fields pruned, defaults applied, the rest validated."""
    pool = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AddressPool", "metadata": {"name": "p"},
            "spec": {"addresses": ["10.0.0.0/24"], "notAField": 1}}  # fmt: skip
    created = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "addresspools", pool)
    assert "notAField" not in created["spec"]
    assert created["spec"]["autoAssign"] is True and created["spec"]["avoidBuggyIPs"] is False
    broken = {**pool, "metadata": {"name": "q"}, "spec": {"addresses": "10.0.0.0/24", "autoAssign": "yes"}}
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "addresspools", broken)
    assert caught.value.status == 422
    fields = {c["field"] for c in json.loads(caught.value.body)["details"]["causes"]}
    assert fields == {"spec.addresses", "spec.autoAssign"}
