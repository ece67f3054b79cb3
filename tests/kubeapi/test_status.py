"""`/status` subresources, generation, and writes that change nothing."""

from __future__ import annotations

import json
import time

import kubernetes.client as k8s
import pytest

from dnslb_testkit.kubeapi import KubeAPIControl
from dnslb_testkit.kubeapi.recorder import WatchRecorder

GROUP, VERSION = "dnslb.io", "v1alpha1"
INGRESS = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}


def load_balancer(name: str) -> k8s.V1Service:
    return k8s.V1Service(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1ServiceSpec(type="LoadBalancer", ports=[k8s.V1ServicePort(port=80)]),
    )


@pytest.mark.cluster
def test_create_drops_status_of_services(core: k8s.CoreV1Api, namespace: str) -> None:
    body = load_balancer("lb")
    body.status = k8s.V1ServiceStatus(
        load_balancer=k8s.V1LoadBalancerStatus(ingress=[k8s.V1LoadBalancerIngress(ip="192.0.2.1")])
    )
    created = core.create_namespaced_service(namespace, body)
    assert not created.status or not created.status.load_balancer or not created.status.load_balancer.ingress


@pytest.mark.cluster
def test_service_status_write_resets_spec_but_keeps_metadata_changes(core: k8s.CoreV1Api, namespace: str) -> None:
    # apiserver's Service (and Node, Namespace) /status strategy resets only spec: annotations ride along.
    created = core.create_namespaced_service(namespace, load_balancer("lb"))
    patched = core.patch_namespaced_service_status(
        "lb",
        namespace,
        {
            "metadata": {"annotations": {"dnslb.io/ip-allocated-from-pool": "pool-a"}},
            "spec": {"sessionAffinity": "ClientIP"},
            **INGRESS,
        },
    )
    assert patched.status.load_balancer.ingress[0].ip == "192.0.2.10"
    assert patched.spec.session_affinity == "None"
    assert patched.metadata.annotations == {"dnslb.io/ip-allocated-from-pool": "pool-a"}
    assert patched.metadata.uid == created.metadata.uid
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)


def test_custom_resource_status_write_changes_only_status(
    api: KubeAPIControl, custom: k8s.CustomObjectsApi, namespace: str
) -> None:
    spec = {"myASN": 64512, "peerASN": 64500, "peerAddress": "192.0.2.1"}
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "BGPPeer", "metadata": {"name": "p"}, "spec": spec}
    created = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "bgppeers", body)
    patched = custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        "bgppeers",
        "p",
        {"metadata": {"labels": {"sneaky": "yes"}}, "spec": {"peerASN": 1}, "status": {"observedGeneration": 1}},
    )
    assert patched["status"] == {"observedGeneration": 1}
    assert patched["spec"] == created["spec"]
    assert "labels" not in patched["metadata"]


@pytest.mark.cluster
def test_main_resource_write_ignores_status(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, load_balancer("lb"))
    core.patch_namespaced_service_status("lb", namespace, INGRESS)
    current = core.read_namespaced_service("lb", namespace)
    current.status = k8s.V1ServiceStatus(load_balancer=k8s.V1LoadBalancerStatus(ingress=[]))
    current.metadata.labels = {"changed": "yes"}
    replaced = core.replace_namespaced_service("lb", namespace, current)
    assert replaced.metadata.labels == {"changed": "yes"}
    assert replaced.status.load_balancer.ingress[0].ip == "192.0.2.10"


@pytest.mark.cluster
def test_replace_status_with_stale_version_conflicts(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_service(namespace, load_balancer("lb"))
    core.patch_namespaced_service("lb", namespace, {"metadata": {"labels": {"a": "b"}}})
    created.status = k8s.V1ServiceStatus(
        load_balancer=k8s.V1LoadBalancerStatus(ingress=[k8s.V1LoadBalancerIngress(ip="192.0.2.9")])
    )
    with pytest.raises(k8s.ApiException) as caught:
        core.replace_namespaced_service_status("lb", namespace, created)
    assert caught.value.status == 409


@pytest.mark.cluster
def test_load_balancer_ingress_gets_ip_mode_vip(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, load_balancer("lb"))
    patched = core.patch_namespaced_service_status("lb", namespace, INGRESS)
    assert patched.status.load_balancer.ingress[0].ip_mode == "VIP"


@pytest.mark.cluster
def test_invalid_ingress_ip_is_422(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, load_balancer("lb"))
    with pytest.raises(k8s.ApiException) as caught:
        core.patch_namespaced_service_status(
            "lb", namespace, {"status": {"loadBalancer": {"ingress": [{"ip": "nope"}]}}}
        )
    assert caught.value.status == 422
    assert "status.loadBalancer.ingress[0].ip" in caught.value.body


@pytest.mark.cluster
def test_services_carry_no_generation(core: k8s.CoreV1Api, namespace: str) -> None:
    # apiserver's Service strategy never sets metadata.generation; custom resources have one (below).
    created = core.create_namespaced_service(namespace, load_balancer("lb"))
    respec = core.patch_namespaced_service("lb", namespace, {"spec": {"sessionAffinity": "ClientIP"}})
    assert created.metadata.generation is None and respec.metadata.generation is None


@pytest.mark.cluster
def test_leaving_type_load_balancer_clears_its_status(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, load_balancer("lb"))
    core.patch_namespaced_service_status("lb", namespace, INGRESS)
    patched = core.patch_namespaced_service("lb", namespace, {"spec": {"type": "ClusterIP"}})
    assert patched.status.load_balancer.ingress is None


def test_custom_resource_status_subresource_and_generation(
    api: KubeAPIControl, custom: k8s.CustomObjectsApi, namespace: str
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AddressPool",
        "metadata": {"name": "pool"},
        "spec": {"addresses": ["192.0.2.0/28"]},
        "status": {"ignored": True},
    }
    created = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "addresspools", body)
    assert "status" not in created
    assert created["metadata"]["generation"] == 1
    condition = {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T00:00:00Z", "reason": "R",
                 "message": "m"}  # fmt: skip
    status = {"status": {"conditions": [condition]}}
    patched = custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, "addresspools", "pool", status)
    assert patched["status"] == status["status"]
    assert patched["metadata"]["generation"] == 1
    respec = custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "addresspools", "pool", {"spec": {"autoAssign": False}, "status": {"x": 1}}
    )
    assert respec["metadata"]["generation"] == 2
    assert respec["status"] == status["status"]


@pytest.mark.cluster
def test_no_op_writes_bump_nothing(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_service(namespace, load_balancer("lb"))
    with_status = core.patch_namespaced_service_status("lb", namespace, INGRESS)
    rv = with_status.metadata.resource_version
    with WatchRecorder(core.list_namespaced_service, namespace, resource_version=rv) as recorder:
        again = core.patch_namespaced_service_status("lb", namespace, INGRESS)
        same_labels = core.patch_namespaced_service("lb", namespace, {"metadata": {"labels": None}})
        current = core.read_namespaced_service("lb", namespace)
        replaced = core.replace_namespaced_service("lb", namespace, current)
        replaced_status = core.replace_namespaced_service_status("lb", namespace, current)
        time.sleep(0.3)
        assert [e.type for e in recorder.events if e.type != "BOOKMARK"] == []
    for result in (again, same_labels, replaced, replaced_status):
        assert result.metadata.resource_version == rv
        assert result.metadata.generation == created.metadata.generation


def test_no_op_writes_are_still_counted_as_requests(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_service("default", load_balancer("lb"))
    api.reset_request_counts()
    core.patch_namespaced_service_status("lb", "default", INGRESS)
    core.patch_namespaced_service_status("lb", "default", INGRESS)
    core.replace_namespaced_service_status("lb", "default", core.read_namespaced_service("lb", "default"))
    assert api.count_requests("services/status", "patch") == 2
    assert api.count_requests("services/status", "patch", "update") == 3
    assert api.count_requests("services", "get") == 1
    assert api.request_counts() == {"patch services/status": 2, "get services": 1, "update services/status": 1}


@pytest.mark.cluster
def test_service_status_always_shows_load_balancer(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, load_balancer("lb"))
    raw = json.loads(core.read_namespaced_service("lb", namespace, _preload_content=False).data)
    assert raw["status"] == {"loadBalancer": {}}
    assert core.read_namespaced_service("lb", namespace).status.load_balancer.ingress is None
