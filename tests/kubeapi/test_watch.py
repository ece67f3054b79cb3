"""Watches through the client's `Watch().stream(...)`: replay, bookmarks, timeouts, 410, dropped streams."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import kubernetes.client as k8s
import kubernetes.watch
import pytest
from kubernetes.client import ApiException
from kubernetes.informer import SharedInformer

from dnslb_testkit.kubeapi import KubeAPI, KubeAPIControl
from dnslb_testkit.kubeapi.recorder import RecordedEvent, WatchRecorder
from dnslb_testkit.waiting import wait_for


def config_map(name: str, labels: dict[str, str] | None = None) -> k8s.V1ConfigMap:
    return k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name, labels=labels))


def secret(name: str) -> k8s.V1Secret:
    # Secrets, not ConfigMaps, where a watch lists what exists: every namespace holds a CA bundle ConfigMap.
    return k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name))


def kinds_and_names(events: list[RecordedEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.name) for e in events if e.type != "BOOKMARK"]


@pytest.mark.cluster
def test_watch_without_resource_version_starts_with_added_for_existing(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_secret(namespace, secret("before"))
    with WatchRecorder(core.list_namespaced_secret, namespace) as recorder:
        recorder.wait_for_events(1)
        core.create_namespaced_secret(namespace, secret("after"))
        events = recorder.wait_for_events(2)
    assert kinds_and_names(events) == [("ADDED", "before"), ("ADDED", "after")]


@pytest.mark.cluster
def test_watch_from_resource_version_sends_only_later_changes(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, config_map("old"))
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.patch_namespaced_config_map("old", namespace, {"data": {"k": "v"}})
    core.create_namespaced_config_map(namespace, config_map("new"))
    core.delete_namespaced_config_map("old", namespace)
    with WatchRecorder(core.list_namespaced_config_map, namespace, resource_version=rv) as recorder:
        events = recorder.wait_for_events(3)
    assert kinds_and_names(events) == [("MODIFIED", "old"), ("ADDED", "new"), ("DELETED", "old")]
    versions = [int(e.resource_version) for e in events]
    assert versions == sorted(versions) and versions[0] > int(rv)


@pytest.mark.cluster
def test_deleted_event_carries_last_state_with_new_resource_version(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, config_map("x"))
    last = core.patch_namespaced_config_map("x", namespace, {"data": {"final": "yes"}})
    with WatchRecorder(
        core.list_namespaced_config_map, namespace, resource_version=created.metadata.resource_version
    ) as recorder:
        core.delete_namespaced_config_map("x", namespace)
        events = recorder.wait_for_events(2)
    deleted = events[-1]
    assert deleted.type == "DELETED"
    assert deleted.raw["data"] == {"final": "yes"}
    assert int(deleted.resource_version) > int(last.metadata.resource_version)


@pytest.mark.cluster
def test_watch_yields_typed_objects(core: k8s.CoreV1Api, namespace: str) -> None:
    watch = kubernetes.watch.Watch()
    core.create_namespaced_config_map(namespace, config_map("typed"))
    for event in watch.stream(
        core.list_namespaced_config_map, namespace, field_selector="metadata.name=typed", timeout_seconds=5
    ):
        assert isinstance(event["object"], k8s.V1ConfigMap)
        assert event["object"].metadata.name == "typed"
        watch.stop()


@pytest.mark.cluster
def test_timeout_seconds_ends_the_stream(core: k8s.CoreV1Api, namespace: str) -> None:
    started = time.monotonic()
    events = list(kubernetes.watch.Watch().stream(core.list_namespaced_secret, namespace, timeout_seconds=1))
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.9 <= elapsed < 5


@pytest.mark.parametrize("bookmark_interval", [0.5])
def test_bookmarks_when_allowed(api: KubeAPIControl, core: k8s.CoreV1Api, bookmark_interval: float) -> None:
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    with WatchRecorder(
        core.list_namespaced_config_map, "default", resource_version=rv, allow_watch_bookmarks=True
    ) as recorder:
        core.create_namespaced_config_map("default", config_map("a"))
        events = recorder.wait_for(lambda seen: any(e.type == "BOOKMARK" for e in seen), timeout=5)
    bookmark = next(e for e in events if e.type == "BOOKMARK")
    assert bookmark.raw["kind"] == "ConfigMap"
    assert int(bookmark.resource_version) >= int(events[0].resource_version)


def test_no_bookmarks_unless_asked(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    events = list(kubernetes.watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=2))
    assert all(event["type"] != "BOOKMARK" for event in events)


@pytest.mark.cluster
def test_label_selected_watch_sees_objects_enter_and_leave(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, config_map("cm", {"team": "a"}))
    rv = core.read_namespaced_config_map("cm", namespace).metadata.resource_version
    with WatchRecorder(
        core.list_namespaced_config_map, namespace, resource_version=rv, label_selector="team=b"
    ) as recorder:
        core.patch_namespaced_config_map("cm", namespace, {"metadata": {"labels": {"team": "b"}}})
        core.patch_namespaced_config_map("cm", namespace, {"data": {"k": "v"}})
        core.patch_namespaced_config_map("cm", namespace, {"metadata": {"labels": {"team": "c"}}})
        events = recorder.wait_for_events(3)
    assert kinds_and_names(events) == [("ADDED", "cm"), ("MODIFIED", "cm"), ("DELETED", "cm")]


@pytest.mark.cluster
def test_all_namespaces_watch(core: k8s.CoreV1Api, namespace: str) -> None:
    rv = core.list_config_map_for_all_namespaces().metadata.resource_version
    with WatchRecorder(core.list_config_map_for_all_namespaces, resource_version=rv) as recorder:
        core.create_namespaced_config_map(namespace, config_map("here"))
        events = recorder.wait_for(lambda seen: any(e.name == "here" for e in seen))
    assert any(e.raw["metadata"]["namespace"] == namespace for e in events)


@pytest.mark.cluster
def test_cluster_scoped_watch(core: k8s.CoreV1Api) -> None:
    rv = core.list_node().metadata.resource_version
    name = f"watch-node-{time.monotonic_ns()}"
    with WatchRecorder(core.list_node, resource_version=rv) as recorder:
        core.create_node(k8s.V1Node(metadata=k8s.V1ObjectMeta(name=name)))
        try:
            recorder.wait_for(lambda seen: any(e.name == name for e in seen))
        finally:
            core.delete_node(name)


def test_expired_resource_version_is_an_error_event_and_the_client_raises_410(
    api: KubeAPIControl, core: k8s.CoreV1Api
) -> None:
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", config_map("later"))
    api.compact()
    with pytest.raises(ApiException) as caught:
        list(kubernetes.watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=rv))
    assert caught.value.status == 410
    assert "Expired" in str(caught.value.reason)


def test_expired_watch_raw_stream_has_error_event(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", config_map("later"))
    api.compact()
    response = core.list_namespaced_config_map("default", watch=True, resource_version=rv, _preload_content=False)
    try:
        assert response.status == 200
        lines = [line for line in response.data.decode().splitlines() if line]
    finally:
        response.release_conn()
    (event,) = (json.loads(line) for line in lines)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


def test_watch_from_current_version_survives_compaction(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    api.compact()
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    with WatchRecorder(core.list_namespaced_config_map, "default", resource_version=rv) as recorder:
        core.create_namespaced_config_map("default", config_map("fresh"))
        assert kinds_and_names(recorder.wait_for_events(1)) == [("ADDED", "fresh")]


def test_dropped_watch_resumes_from_last_version_without_duplicates(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    with WatchRecorder(core.list_namespaced_config_map, "default", resource_version=rv) as recorder:
        core.create_namespaced_config_map("default", config_map("one"))
        recorder.wait_for_events(1)
        api.drop_watches()
        core.create_namespaced_config_map("default", config_map("two"))
        events = recorder.wait_for_events(2)
        time.sleep(0.2)
        events = recorder.events
    assert kinds_and_names(events) == [("ADDED", "one"), ("ADDED", "two")]
    assert api.count_requests("configmaps", "watch") >= 2


def test_drop_watches_ends_the_stream_the_client_sees(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    # Without a resourceVersion to resume from, the client's Watch ends when the server closes the stream.
    ended = threading.Event()

    def consume() -> None:
        list(kubernetes.watch.Watch().stream(core.list_namespaced_secret, "default"))
        ended.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    wait_for(lambda: api.count_requests("secrets", "watch") > 0, 5, "the client's watch", interval=0.02)
    time.sleep(0.1)
    api.drop_watches()
    assert ended.wait(5)
    thread.join(5)


def test_watch_of_custom_objects(api: KubeAPIControl, custom: k8s.CustomObjectsApi) -> None:
    spec = {"addresses": ["10.0.0.0/24"]}
    body = {"apiVersion": "dnslb.io/v1alpha1", "kind": "AddressPool", "metadata": {"name": "pool"}, "spec": spec}
    with WatchRecorder(
        custom.list_namespaced_custom_object, "dnslb.io", "v1alpha1", "default", "addresspools"
    ) as recorder:
        time.sleep(0.1)
        custom.create_namespaced_custom_object("dnslb.io", "v1alpha1", "default", "addresspools", body)
        events = recorder.wait_for_events(1)
    assert events[0].type == "ADDED" and events[0].raw["kind"] == "AddressPool"


def test_send_initial_events_ends_with_annotated_bookmark(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("existing"))
    with WatchRecorder(
        core.list_namespaced_secret,
        "default",
        send_initial_events=True,
        allow_watch_bookmarks=True,
        resource_version_match="NotOlderThan",
    ) as recorder:
        events = recorder.wait_for(lambda seen: any(e.type == "BOOKMARK" for e in seen))
    assert kinds_and_names(events) == [("ADDED", "existing")]
    bookmark = next(e for e in events if e.type == "BOOKMARK")
    assert bookmark.raw["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_informer_recovers_from_dropped_watches_and_compaction(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    informer = SharedInformer(core.list_namespaced_config_map, namespace="default")
    added = threading.Event()
    informer.add_event_handler("ADDED", lambda obj: added.set())
    informer.start()
    try:
        core.create_namespaced_config_map("default", config_map("a"))
        assert added.wait(5)
        api.drop_watches()
        api.compact()
        core.create_namespaced_config_map("default", config_map("b"))
        wait_for(lambda: {"default/a", "default/b"} <= set(informer.cache.list_keys()), 10, "both objects cached")
        assert {"default/a", "default/b"} <= set(informer.cache.list_keys())
    finally:
        informer.stop()


def test_concurrent_writers_are_seen_in_order_without_gaps(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    writers, per_writer = 6, 30

    def write(writer: int) -> None:
        for index in range(per_writer):
            core.create_namespaced_config_map("default", config_map(f"w{writer}-{index}"))

    with WatchRecorder(core.list_namespaced_config_map, "default", resource_version=rv) as recorder:
        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        events = recorder.wait_for_events(writers * per_writer, timeout=20)
    versions = [int(e.resource_version) for e in events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert len({e.name for e in events}) == writers * per_writer


def test_history_limit_expires_watchers_that_fall_behind() -> None:
    with KubeAPI(history_limit=5) as api:
        client = api.api_client()
        try:
            core = k8s.CoreV1Api(client)
            rv = core.list_namespaced_config_map("default").metadata.resource_version
            for index in range(10):
                core.create_namespaced_config_map("default", config_map(f"cm-{index}"))
            with pytest.raises(ApiException) as caught:
                list(kubernetes.watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=rv))
            assert caught.value.status == 410
            recent = str(api.resource_version - 3)
            with WatchRecorder(core.list_namespaced_config_map, "default", resource_version=recent) as recorder:
                assert [e.name for e in recorder.wait_for_events(3)] == ["cm-7", "cm-8", "cm-9"]
            # Each kind keeps its own window: the ConfigMap burst did not expire a quiet kind's position.
            with WatchRecorder(core.list_namespaced_secret, "default", resource_version=rv) as recorder:
                core.create_namespaced_secret("default", k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="s")))
                assert [(e.type, e.name) for e in recorder.wait_for_events(1)] == [("ADDED", "s")]
        finally:
            client.close()


def test_raw_watch_is_chunked_newline_delimited_json(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("raw"))
    url = f"{api.url}/api/v1/namespaces/default/secrets?watch=1&timeoutSeconds=1"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert response.headers["Content-Type"].startswith("application/json")
        lines = response.read().decode().splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "raw")]
    assert events[0]["object"]["kind"] == "Secret"
