"""Create, read, update, delete through the real client: codes, conflicts, system fields."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import datetime

import kubernetes.client as k8s
import pytest
from kubernetes.client import ApiException

from dnslb_testkit.kubeapi import KubeAPIControl
from dnslb_testkit.waiting import wait_for

pytestmark = pytest.mark.cluster

RFC3339_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def config_map(name: str, **data: str) -> k8s.V1ConfigMap:
    return k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data=dict(data))


def status_body(error: ApiException) -> k8s.V1Status:
    status = k8s.ApiClient().deserialize(error.body, "V1Status", "application/json")
    assert isinstance(status, k8s.V1Status)
    return status


def test_create_returns_201_with_system_fields(core: k8s.CoreV1Api, namespace: str) -> None:
    created, code, _ = core.create_namespaced_config_map_with_http_info(namespace, config_map("a", k="v"))
    assert code == 201
    meta = created.metadata
    assert meta.uid and meta.namespace == namespace
    assert int(meta.resource_version) > 0
    assert isinstance(meta.creation_timestamp, datetime)
    response = core.read_namespaced_config_map("a", namespace, _preload_content=False)
    raw = json.loads(response.data)
    assert RFC3339_SECONDS.fullmatch(raw["metadata"]["creationTimestamp"])
    assert core.read_namespaced_config_map("a", namespace).data == {"k": "v"}


def test_create_existing_name_is_409_already_exists(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, config_map("dup"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, config_map("dup"))
    assert caught.value.status == 409
    status = status_body(caught.value)
    assert status.reason == "AlreadyExists"
    assert status.details is not None and status.details.name == "dup"
    assert status.details.kind == "configmaps"


def test_get_missing_is_404_not_found_status(core: k8s.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_service("nope", namespace)
    assert caught.value.status == 404
    status = status_body(caught.value)
    assert (status.kind, status.status, status.reason, status.code) == ("Status", "Failure", "NotFound", 404)
    assert status.message == 'services "nope" not found'


def test_create_in_missing_namespace_is_404(core: k8s.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("no-such-namespace-x1", config_map("a"))
    assert caught.value.status == 404


def test_generate_name_gets_a_unique_suffix(core: k8s.CoreV1Api, namespace: str) -> None:
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(generate_name="gen-"))
    first = core.create_namespaced_config_map(namespace, body)
    second = core.create_namespaced_config_map(namespace, body)
    assert first.metadata.name.startswith("gen-") and len(first.metadata.name) == len("gen-") + 5
    assert first.metadata.name != second.metadata.name


def test_resource_versions_increase_across_kinds(core: k8s.CoreV1Api, namespace: str) -> None:
    a = core.create_namespaced_config_map(namespace, config_map("a"))
    b = core.create_namespaced_secret(namespace, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="b")))
    c = core.patch_namespaced_config_map("a", namespace, {"data": {"x": "1"}})
    assert int(a.metadata.resource_version) < int(b.metadata.resource_version) < int(c.metadata.resource_version)


def test_update_with_stale_resource_version_is_409_conflict(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, config_map("cm", k="1"))
    created.data = {"k": "2"}
    updated = core.replace_namespaced_config_map("cm", namespace, created)
    assert updated.data == {"k": "2"}
    created.data = {"k": "3"}  # still carries the first resourceVersion
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cm", namespace, created)
    assert caught.value.status == 409
    assert status_body(caught.value).reason == "Conflict"


def test_update_without_resource_version_is_unconditional(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, config_map("cm", k="1"))
    core.patch_namespaced_config_map("cm", namespace, {"data": {"k": "2"}})
    replaced = core.replace_namespaced_config_map("cm", namespace, config_map("cm", k="3"))
    assert replaced.data == {"k": "3"}


def test_update_of_missing_object_is_404(core: k8s.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("ghost", namespace, config_map("ghost"))
    assert caught.value.status == 404


def test_update_keeps_system_fields(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, config_map("cm"))
    body = config_map("cm", k="v")
    body.metadata.creation_timestamp = datetime(2001, 1, 1)
    replaced = core.replace_namespaced_config_map("cm", namespace, body)
    assert replaced.metadata.uid == created.metadata.uid
    assert replaced.metadata.creation_timestamp == created.metadata.creation_timestamp


def test_name_in_body_must_match_url(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, config_map("one"))
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("one", namespace, config_map("two"))
    assert caught.value.status == 400


def test_create_with_resource_version_is_rejected(core: k8s.CoreV1Api, namespace: str) -> None:
    body = config_map("cm")
    body.metadata.resource_version = "5"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, body)
    assert caught.value.status == 500
    assert status_body(caught.value).message == "resourceVersion should not be set on objects to be created"


def test_delete_returns_status_for_config_maps_and_object_for_services(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, config_map("cm"))
    status = core.delete_namespaced_config_map("cm", namespace)
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["uid"] == created.metadata.uid
    service = k8s.V1Service(
        metadata=k8s.V1ObjectMeta(name="svc"), spec=k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(port=80)])
    )
    core.create_namespaced_service(namespace, service)
    deleted = core.delete_namespaced_service("svc", namespace)
    assert isinstance(deleted, k8s.V1Service) and deleted.metadata.name == "svc"
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_service("svc", namespace)
    assert caught.value.status == 404


def test_delete_preconditions(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, config_map("cm"))
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_config_map(
            "cm", namespace, body=k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid="not-the-uid"))
        )
    assert caught.value.status == 409
    core.read_namespaced_config_map("cm", namespace)


def test_finalizers_hold_deletion_until_removed(core: k8s.CoreV1Api, namespace: str) -> None:
    body = config_map("held")
    body.metadata.finalizers = ["dnslb.io/cleanup"]
    core.create_namespaced_config_map(namespace, body)
    core.delete_namespaced_config_map("held", namespace)
    pending = core.read_namespaced_config_map("held", namespace)
    assert pending.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": ["dnslb.io/another"]}})
    assert caught.value.status == 422
    core.patch_namespaced_config_map("held", namespace, [{"op": "remove", "path": "/metadata/finalizers"}])
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", namespace)
    assert gone.value.status == 404


def test_invalid_names_are_422_with_field_cause(core: k8s.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, config_map("Not_Valid"))
    assert caught.value.status == 422
    details = status_body(caught.value).details
    assert details is not None and details.causes
    assert details.causes[0].field == "metadata.name"
    assert details.causes[0].reason == "FieldValueInvalid"


def test_name_or_generate_name_is_required(core: k8s.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta()))
    assert caught.value.status == 422
    details = status_body(caught.value).details
    assert details is not None and details.causes
    assert details.causes[0].reason == "FieldValueRequired"


def test_labels_must_be_valid(core: k8s.CoreV1Api, namespace: str) -> None:
    body = config_map("cm")
    body.metadata.labels = {"bad key!": "v"}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, body)
    assert caught.value.status == 422


def test_non_string_label_values_are_400(api: KubeAPIControl) -> None:
    # The client refuses to send this itself, so the request goes out raw.
    body = json.dumps({"metadata": {"name": "cm", "labels": {"n": 1}}}).encode()
    request = urllib.request.Request(
        f"{api.url}/api/v1/namespaces/default/configmaps",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["reason"] == "BadRequest"


def test_fresh_cluster_has_standard_namespaces_and_kubernetes_service(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    kubernetes_service = core.read_namespaced_service("kubernetes", "default")
    assert kubernetes_service.spec.cluster_ip == "10.96.0.1"


def test_namespace_gets_phase_and_name_label(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.read_namespace(namespace)
    assert created.status.phase == "Active"
    assert created.metadata.labels["kubernetes.io/metadata.name"] == namespace


def test_namespace_deletion_removes_its_objects(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="doomed")))
    core.create_namespaced_config_map("doomed", config_map("cm"))
    core.delete_namespace("doomed")
    assert not core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=doomed").items


def test_dry_run_persists_nothing(core: k8s.CoreV1Api, namespace: str) -> None:
    dry = core.create_namespaced_config_map(namespace, config_map("dry"), dry_run="All")
    assert dry.metadata.name == "dry"
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("dry", namespace)
    assert caught.value.status == 404


@pytest.mark.cluster
def test_put_creates_missing_services_but_not_config_maps(core: k8s.CoreV1Api, namespace: str) -> None:
    body = k8s.V1Service(
        metadata=k8s.V1ObjectMeta(name="put"), spec=k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(port=80)])
    )
    created, code, _ = core.replace_namespaced_service_with_http_info("put", namespace, body)
    assert code == 201 and created.spec.cluster_ip
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("put", namespace, config_map("put"))
    assert caught.value.status == 404


@pytest.mark.cluster
def test_lease_update_needs_a_resource_version(coordination: k8s.CoordinationV1Api, namespace: str) -> None:
    lease = k8s.V1Lease(metadata=k8s.V1ObjectMeta(name="l"), spec=k8s.V1LeaseSpec(holder_identity="a"))
    coordination.create_namespaced_lease(namespace, lease)
    lease.spec.holder_identity = "b"
    with pytest.raises(ApiException) as caught:
        coordination.replace_namespaced_lease("l", namespace, lease)
    assert caught.value.status == 422
    assert status_body(caught.value).details.causes[0].field == "metadata.resourceVersion"


@pytest.mark.cluster
def test_delete_collection_by_label(core: k8s.CoreV1Api, namespace: str) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        body = config_map(name)
        body.metadata.labels = {"team": team}
        core.create_namespaced_config_map(namespace, body)
    core.delete_collection_namespaced_config_map(namespace, label_selector="team=x")
    assert [c.metadata.name for c in core.list_namespaced_config_map(namespace, label_selector="team").items] == ["c"]


@pytest.mark.cluster
def test_every_namespace_gets_the_root_ca_config_map(core: k8s.CoreV1Api, namespace: str) -> None:
    # kube-controller-manager publishes it (shortly after creation on a real cluster; at once on the double).

    def root_ca() -> k8s.V1ConfigMap | None:
        try:
            return core.read_namespaced_config_map("kube-root-ca.crt", namespace)
        except ApiException:
            return None

    ca = wait_for(root_ca, 10, f"the kube-root-ca.crt ConfigMap in {namespace}", interval=0.1)
    assert "ca.crt" in ca.data
