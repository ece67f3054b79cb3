"""Fault hooks and running the double as its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import kubernetes.client as k8s
import pytest
from kubernetes.client import ApiException

from dnslb.adapters.child import Child
from dnslb_testkit.kubeapi import ApiError, KubeAPI, KubeAPIControl, KubeAPIProcess, running_kubeapi
from dnslb_testkit.kubeapi.recorder import WatchRecorder


def test_fail_next_returns_status_objects_then_recovers(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    api.fail_next(2)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.list_namespace()
        assert caught.value.status == 500
        body = json.loads(caught.value.body)
        assert (body["kind"], body["reason"], body["code"]) == ("Status", "InternalError", 500)
    assert core.list_namespace().items


def test_fail_next_429_carries_retry_after(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    api.fail_next(1, status=429)
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_service("kubernetes", "default", {"metadata": {"labels": {"a": "b"}}})
    assert caught.value.status == 429
    assert caught.value.headers is not None and caught.value.headers["Retry-After"] == "1"
    assert json.loads(caught.value.body)["details"]["retryAfterSeconds"] == 1


def test_client_retries_idempotent_requests_after_429_by_itself(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    # urllib3 (under the client) honours Retry-After on 429/503 for GET, PUT and DELETE, but not POST or PATCH.
    api.fail_next(1, status=429)
    started = time.monotonic()
    assert core.read_namespace("default").metadata.name == "default"
    assert time.monotonic() - started >= 0.9
    assert api.count_requests("namespaces", "get") == 2


def test_failed_writes_change_nothing(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    api.fail_next(1, status=503)
    with pytest.raises(ApiException):
        core.create_namespaced_config_map("default", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm")))
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("cm", "default")
    assert caught.value.status == 404


def test_fail_next_applies_to_watch_requests(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    api.fail_next(1, status=500)
    with WatchRecorder(core.list_namespaced_config_map, "default", timeout_seconds=5) as recorder:
        assert recorder.ended.wait(5)
    assert isinstance(recorder.error, ApiException) and recorder.error.status == 500


def test_latency_delays_requests(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    api.set_latency(0.3)
    started = time.monotonic()
    core.read_namespace("default")
    assert time.monotonic() - started >= 0.3
    api.set_latency(0)
    started = time.monotonic()
    core.read_namespace("default")
    assert time.monotonic() - started < 0.3


def test_request_counters_by_verb_and_resource(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    api.reset_request_counts()
    core.create_namespaced_config_map("default", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm")))
    core.list_namespaced_config_map("default")
    core.list_config_map_for_all_namespaces()
    core.patch_namespaced_config_map("cm", "default", {"data": {"a": "b"}})
    core.delete_namespaced_config_map("cm", "default")
    assert api.request_counts() == {
        "create configmaps": 1,
        "list configmaps": 2,
        "patch configmaps": 1,
        "delete configmaps": 1,
    }
    assert api.count_requests("configmaps") == 5
    assert api.count_requests("configmaps", "create", "patch", "delete") == 3


def test_in_process_double_as_context_manager() -> None:
    with KubeAPI() as api:
        client = api.api_client()
        try:
            assert k8s.CoreV1Api(client).read_namespace("default").metadata.name == "default"
        finally:
            client.close()
    api.stop()  # stopping twice is harmless


def test_help_lists_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dnslb_testkit.kubeapi", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert "--port" in result.stdout and "/_test/fail-next" in result.stdout


def test_separate_process_serves_the_client_and_fault_hooks() -> None:
    with running_kubeapi(separate_process=True) as double:
        client = double.api_client()
        try:
            core = k8s.CoreV1Api(client)
            core.create_namespaced_config_map("default", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm")))
            double.fail_next(1, status=500)
            with pytest.raises(ApiException) as caught:
                core.read_namespaced_config_map("cm", "default")
            assert caught.value.status == 500
            assert double.count_requests("configmaps", "create") == 1
            double.set_latency(0)
            rv = core.list_namespaced_config_map("default").metadata.resource_version
            with WatchRecorder(core.list_namespaced_config_map, "default", resource_version=rv) as recorder:
                core.patch_namespaced_config_map("cm", "default", {"data": {"a": "1"}})
                recorder.wait_for_events(1)
                double.drop_watches()
                core.patch_namespaced_config_map("cm", "default", {"data": {"a": "2"}})
                events = recorder.wait_for_events(2)
            assert [e.type for e in events] == ["MODIFIED", "MODIFIED"]
            double.compact()
            with pytest.raises(ApiException) as expired:
                core.list_namespaced_config_map("default", resource_version=rv, resource_version_match="Exact")
            assert expired.value.status == 410
            double.reset_request_counts()
            assert double.request_counts() == {}
        finally:
            client.close()


def test_separate_process_outlives_a_killed_client_process(tmp_path: Path) -> None:
    with KubeAPIProcess() as double:
        # A client in its own process, killed mid-watch: the API keeps serving everyone else.
        script = (
            "import kubernetes.client as k, kubernetes.watch as w, sys\n"
            f"c = k.CoreV1Api(k.ApiClient(k.Configuration(host={double.url!r})))\n"
            "print('watching', flush=True)\n"
            "for e in w.Watch().stream(c.list_namespaced_config_map, 'default'): pass\n"
        )
        client = Child.start([sys.executable, "-c", script], name="client", log=tmp_path / "client.log")
        try:
            client.wait_ready(lambda: "watching\n" in client.read_log(), 20, "watch")
        finally:
            assert client.kill() == -signal.SIGKILL
        with urllib.request.urlopen(f"{double.url}/api/v1/namespaces/default", timeout=5) as response:
            assert json.loads(response.read())["metadata"]["name"] == "default"
        pid = double.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_control_endpoints_reject_unknown_actions(api: KubeAPIControl) -> None:
    request = urllib.request.Request(f"{api.url}/_test/explode", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 404


def test_seed_creates_objects_with_status_and_watch_events(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    rv = core.list_service_for_all_namespaces().metadata.resource_version
    seeded_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "seeded", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}},
    }
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"}}
    with WatchRecorder(core.list_service_for_all_namespaces, resource_version=rv) as recorder:
        created = api.seed([seeded_service, node])
        events = recorder.wait_for_events(2)
    assert [e.type for e in events] == ["ADDED", "MODIFIED"]
    assert created[0]["spec"]["clusterIP"] and created[0]["status"]["loadBalancer"]["ingress"][0]["ip"] == "192.0.2.7"
    read = core.read_namespaced_service("seeded", "default")
    assert read.status.load_balancer.ingress[0].ip == "192.0.2.7"
    assert core.read_node("node-a").metadata.uid == created[1]["metadata"]["uid"]


def test_seed_over_http_in_a_separate_process() -> None:
    with running_kubeapi(separate_process=True) as double:
        (created,) = double.seed([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {}}])
        assert created["metadata"]["namespace"] == "default"
        with pytest.raises(ApiError) as caught:
            double.seed([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}])
        assert caught.value.code == 422 and caught.value.reason == "Invalid"
