"""Lists: paging with limit/continue, label and field selectors, resourceVersion semantics."""

from __future__ import annotations

import kubernetes.client as k8s
import pytest
from kubernetes.client import ApiException

from dnslb_testkit.kubeapi import KubeAPIControl

ROOT_CA = "kube-root-ca.crt"


def make_config_maps(core: k8s.CoreV1Api, namespace: str, labels_by_name: dict[str, dict[str, str]]) -> None:
    for name, labels in labels_by_name.items():
        core.create_namespaced_config_map(
            namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name, labels=labels))
        )


def names(items: list[k8s.V1ConfigMap]) -> list[str]:
    """Names, without the CA bundle ConfigMap every namespace gets (on a real cluster as on the double)."""
    return [item.metadata.name for item in items if item.metadata.name != ROOT_CA]


@pytest.mark.cluster
def test_list_carries_resource_version_and_kind(core: k8s.CoreV1Api, namespace: str) -> None:
    make_config_maps(core, namespace, {"a": {}, "b": {}})
    listed = core.list_namespaced_config_map(namespace)
    assert int(listed.metadata.resource_version) > 0
    assert names(listed.items) == ["a", "b"]
    assert listed.kind == "ConfigMapList"


@pytest.mark.cluster
def test_limit_and_continue_page_through_everything(core: k8s.CoreV1Api, namespace: str) -> None:
    make_config_maps(core, namespace, {f"cm-{i:02d}": {} for i in range(7)})
    everything = [c.metadata.name for c in core.list_namespaced_config_map(namespace).items]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        seen += [c.metadata.name for c in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == len(everything) - len(seen)
    assert seen == everything
    assert [n for n in seen if n != ROOT_CA] == [f"cm-{i:02d}" for i in range(7)]
    assert pages == (len(everything) + 2) // 3


@pytest.mark.cluster
def test_continue_reads_a_consistent_snapshot(core: k8s.CoreV1Api, namespace: str) -> None:
    make_config_maps(core, namespace, {"a": {}, "b": {}, "c": {}, "d": {}})
    first = core.list_namespaced_config_map(namespace, limit=2)
    core.delete_namespaced_config_map("c", namespace)
    core.create_namespaced_config_map(namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="bb")))
    rest = core.list_namespaced_config_map(namespace, limit=10, _continue=first.metadata._continue)
    assert names(first.items) + names(rest.items) == ["a", "b", "c", "d"]
    assert rest.metadata.resource_version == first.metadata.resource_version


@pytest.mark.cluster
@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["web-1", "web-2"]),
        ("app==web", ["web-1", "web-2"]),
        ("app!=web", ["db", "plain"]),
        ("app in (web,db)", ["db", "web-1", "web-2"]),
        ("app notin (web)", ["db", "plain"]),
        ("tier", ["web-1"]),
        ("!tier", ["db", "plain", "web-2"]),
        ("app=web,tier=front", ["web-1"]),
        ("app=web,!tier", ["web-2"]),
    ],
)
def test_label_selectors(core: k8s.CoreV1Api, namespace: str, selector: str, expected: list[str]) -> None:
    make_config_maps(
        core,
        namespace,
        {
            "web-1": {"app": "web", "tier": "front"},
            "web-2": {"app": "web"},
            "db": {"app": "db"},
            "plain": {},
        },
    )
    assert names(core.list_namespaced_config_map(namespace, label_selector=selector).items) == expected


@pytest.mark.cluster
def test_malformed_label_selector_is_400(core: k8s.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map(namespace, label_selector="a in (b")
    assert caught.value.status == 400


@pytest.mark.cluster
def test_field_selectors_on_name_and_namespace(core: k8s.CoreV1Api, namespace: str) -> None:
    make_config_maps(core, namespace, {"a": {}, "b": {}})
    assert names(core.list_namespaced_config_map(namespace, field_selector="metadata.name=b").items) == ["b"]
    assert names(core.list_namespaced_config_map(namespace, field_selector="metadata.name!=b").items) == ["a"]
    everywhere = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={namespace}")
    assert sorted(names(everywhere.items)) == ["a", "b"]


@pytest.mark.cluster
def test_unsupported_field_selector_is_400(core: k8s.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map(namespace, field_selector="data.k=v")
    assert caught.value.status == 400


@pytest.mark.cluster
def test_all_namespaces_list(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(
        namespace,
        k8s.V1Service(metadata=k8s.V1ObjectMeta(name="s"), spec=k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(port=80)])),
    )
    keys = {(s.metadata.namespace, s.metadata.name) for s in core.list_service_for_all_namespaces().items}
    assert (namespace, "s") in keys
    assert ("default", "kubernetes") in keys


@pytest.mark.cluster
def test_exact_resource_version_list_shows_the_past(core: k8s.CoreV1Api, namespace: str) -> None:
    make_config_maps(core, namespace, {"a": {}})
    then = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.patch_namespaced_config_map("a", namespace, {"data": {"k": "v"}})
    make_config_maps(core, namespace, {"b": {}})
    past = core.list_namespaced_config_map(namespace, resource_version=then, resource_version_match="Exact")
    assert names(past.items) == ["a"]
    assert past.items[0].data is None
    assert past.metadata.resource_version == then


def test_list_of_expired_resource_version_is_410(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    then = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="x")))
    api.compact()
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", resource_version=then, resource_version_match="Exact")
    assert caught.value.status == 410


def test_continue_token_expires_after_compaction(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    make_config_maps(core, "default", {"a": {}, "b": {}, "c": {}})
    first = core.list_namespaced_config_map("default", limit=1)
    core.create_namespaced_config_map("default", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="d")))
    api.compact()
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", limit=1, _continue=first.metadata._continue)
    assert caught.value.status == 410
    assert "continue" in caught.value.body


def test_list_from_a_future_resource_version_is_rejected(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    now = int(core.list_namespaced_config_map("default").metadata.resource_version)
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", resource_version=str(now + 1000))
    assert caught.value.status == 504
