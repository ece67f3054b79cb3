"""PATCH in the three flavours, with the Content-Type the client picks for each call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kubernetes.client as k8s
import pytest
from kubernetes.client import ApiException

from dnslb_testkit.kubeapi import KubeAPIControl

pytestmark = pytest.mark.cluster

GROUP, VERSION = "dnslb.io", "v1alpha1"


def service(name: str, *ports: int) -> k8s.V1Service:
    return k8s.V1Service(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(name=f"p{p}", port=p) for p in ports]),
    )


def condition(kind: str, status: str, reason: str = "Testing") -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": "",
        "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_dict_body_is_strategic_merge_maps_merge_and_null_deletes(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm", labels={"a": "1", "b": "2"}), data={"x": "1"})
    )
    patched = core.patch_namespaced_config_map(
        "cm", namespace, {"metadata": {"labels": {"b": None, "c": "3"}}, "data": {"y": "2"}}
    )
    assert patched.metadata.labels == {"a": "1", "c": "3"}
    assert patched.data == {"x": "1", "y": "2"}


def test_strategic_merge_merges_service_ports_by_port(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, service("svc", 80, 443))
    patched = core.patch_namespaced_service(
        "svc", namespace, {"spec": {"ports": [{"name": "p8080", "port": 8080}, {"port": 80, "targetPort": 8000}]}}
    )
    ports = {p.port: p for p in patched.spec.ports}
    assert sorted(ports) == [80, 443, 8080]
    assert ports[80].target_port == 8000 and ports[80].name == "p80"


def test_strategic_merge_patch_delete_directive_on_service_port(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, service("svc", 80, 443))
    patched = core.patch_namespaced_service("svc", namespace, {"spec": {"ports": [{"port": 443, "$patch": "delete"}]}})
    assert [p.port for p in patched.spec.ports] == [80]


def test_strategic_merge_merges_status_conditions_by_type(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, service("svc", 80))
    core.patch_namespaced_service_status(
        "svc", namespace, {"status": {"conditions": [condition("A", "True"), condition("B", "False")]}}
    )
    patched = core.patch_namespaced_service_status(
        "svc", namespace, {"status": {"conditions": [condition("B", "True")]}}
    )
    assert {(c.type, c.status) for c in patched.status.conditions} == {("A", "True"), ("B", "True")}
    removed = core.patch_namespaced_service_status(
        "svc", namespace, {"status": {"conditions": [{"type": "A", "$patch": "delete"}]}}
    )
    assert [c.type for c in removed.status.conditions] == ["B"]


def test_strategic_merge_adds_finalizers_and_owner_references(core: k8s.CoreV1Api, namespace: str) -> None:
    owner = core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="owner")))
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm", finalizers=["dnslb.io/a"]))
    core.create_namespaced_config_map(namespace, body)
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    patched = core.patch_namespaced_config_map(
        "cm", namespace, {"metadata": {"finalizers": ["dnslb.io/b"], "ownerReferences": [reference]}}
    )
    assert patched.metadata.finalizers == ["dnslb.io/a", "dnslb.io/b"]
    assert [r.uid for r in patched.metadata.owner_references] == [owner.metadata.uid]
    cleared = core.patch_namespaced_config_map(
        "cm", namespace, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["dnslb.io/a", "dnslb.io/b"]}}
    )
    assert not cleared.metadata.finalizers


def test_lists_without_merge_key_are_replaced(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, service("svc", 80))
    core.patch_namespaced_service("svc", namespace, {"spec": {"externalIPs": ["192.0.2.1", "192.0.2.2"]}})
    patched = core.patch_namespaced_service("svc", namespace, {"spec": {"externalIPs": ["192.0.2.3"]}})
    assert patched.spec.external_ips == ["192.0.2.3"]


def test_list_body_is_json_patch(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm"), data={"a": "1"}))
    patched = core.patch_namespaced_config_map(
        "cm",
        namespace,
        [
            {"op": "test", "path": "/data/a", "value": "1"},
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "replace", "path": "/data/a", "value": "10"},
            {"op": "copy", "from": "/data/b", "path": "/data/c"},
            {"op": "move", "from": "/data/c", "path": "/data/d"},
            {"op": "remove", "path": "/data/b"},
            {"op": "add", "path": "/metadata/labels", "value": {"app": "v"}},
        ],
    )
    assert patched.data == {"a": "10", "d": "2"}
    assert patched.metadata.labels == {"app": "v"}


def test_json_patch_escaped_pointer_and_array_append(core: k8s.CoreV1Api, namespace: str) -> None:
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm", annotations={"dnslb.io/hostname": "a"}))
    core.create_namespaced_config_map(namespace, body)
    patched = core.patch_namespaced_config_map(
        "cm",
        namespace,
        [
            {"op": "replace", "path": "/metadata/annotations/dnslb.io~1hostname", "value": "b"},
            {"op": "add", "path": "/metadata/finalizers", "value": []},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "dnslb.io/x"},
        ],
    )
    assert patched.metadata.annotations == {"dnslb.io/hostname": "b"}
    assert patched.metadata.finalizers == ["dnslb.io/x"]


def test_json_patch_failed_test_is_422(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm"), data={"a": "1"}))
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("cm", namespace, [{"op": "test", "path": "/data/a", "value": "2"}])
    assert caught.value.status == 422
    with pytest.raises(ApiException) as missing:
        core.patch_namespaced_config_map("cm", namespace, [{"op": "remove", "path": "/data/nope"}])
    assert missing.value.status == 422
    assert core.read_namespaced_config_map("cm", namespace).data == {"a": "1"}


def test_patch_with_stale_resource_version_is_409(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm")))
    core.patch_namespaced_config_map("cm", namespace, {"data": {"a": "1"}})
    stale = {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"a": "2"}}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("cm", namespace, stale)
    assert caught.value.status == 409


def test_patch_of_missing_object_is_404(core: k8s.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("ghost", namespace, {"data": {"a": "1"}})
    assert caught.value.status == 404


def test_custom_objects_take_merge_patch(api: KubeAPIControl, custom: k8s.CustomObjectsApi, namespace: str) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "BGPPeer",
        "metadata": {"name": "peer"},
        "spec": {"peerASN": 64512, "myASN": 64513, "peerAddress": "192.0.2.1", "sourceAddress": "192.0.2.9",
                 "nodeSelectors": [{"matchLabels": {"a": "b"}}]},
    }  # fmt: skip
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "bgppeers", body)
    patch = {"spec": {"peerASN": 64600, "nodeSelectors": [], "sourceAddress": None}}  # null deletes, lists replace
    patched = custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, "bgppeers", "peer", patch)
    spec = patched["spec"]
    assert (spec["peerASN"], spec["myASN"], spec["peerAddress"], spec["nodeSelectors"]) == (
        64600,
        64513,
        "192.0.2.1",
        [],
    )
    assert "sourceAddress" not in spec


def test_custom_objects_take_json_patch_when_asked(
    api: KubeAPIControl, custom: k8s.CustomObjectsApi, namespace: str
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DNSProvider",
        "metadata": {"name": "p"},
        "spec": {"type": "inmemory", "zones": ["a.test"]},
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "dnsproviders", body)
    patched = custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "dnsproviders",
        "p",
        [{"op": "add", "path": "/spec/zones/-", "value": "b.test"}],
        _content_type="application/json-patch+json",
    )
    assert patched["spec"]["zones"] == ["a.test", "b.test"]


def test_custom_objects_reject_strategic_merge_with_415(
    api: KubeAPIControl, custom: k8s.CustomObjectsApi, namespace: str
) -> None:
    spec = {"addresses": ["10.0.0.0/24"]}
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AddressPool", "metadata": {"name": "p"}, "spec": spec}
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "addresspools", body)
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "addresspools",
            "p",
            {"spec": {"autoAssign": False}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert caught.value.status == 415


def test_explicit_merge_patch_on_core_kind_replaces_lists(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, service("svc", 80, 443))
    patched = core.patch_namespaced_service(
        "svc",
        namespace,
        {"spec": {"ports": [{"name": "p8080", "port": 8080}]}},
        _content_type="application/merge-patch+json",
    )
    assert [p.port for p in patched.spec.ports] == [8080]


def test_set_element_order_directive_orders_merged_ports(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, service("svc", 80, 443))
    patched = core.patch_namespaced_service(
        "svc",
        namespace,
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 443}, {"port": 80}],
                "ports": [{"port": 443, "targetPort": 8443}],
            }
        },
    )
    assert [(p.port, p.target_port) for p in patched.spec.ports] == [(443, 8443), (80, 80)]


def test_json_patch_test_tells_true_from_one(api: KubeAPIControl, custom: k8s.CustomObjectsApi) -> None:
    spec = {"addresses": ["10.0.0.0/24"], "autoAssign": True}
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AddressPool", "metadata": {"name": "p"}, "spec": spec}
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", "addresspools", body)
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            "addresspools",
            "p",
            [{"op": "test", "path": "/spec/autoAssign", "value": 1}],
            _content_type="application/json-patch+json",
        )
    assert caught.value.status == 422
