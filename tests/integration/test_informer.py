"""The informer against an API that stops answering: a watch stream that dies without a FIN is given up after the
idle bound, and requests that are never answered time out, so the cache converges once the server answers again.
Objects its transform drops are never kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import kubernetes.client as k8s
import pytest

from dnslb.adapters.kube.client import api_client
from dnslb.adapters.kube.informer import Informer
from dnslb_testkit.kubeapi import KubeAPIControl
from dnslb_testkit.waiting import wait_for


def config_map(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "data": {"k": "v"}}


@pytest.fixture
def informer(api: KubeAPIControl) -> Iterator[Informer]:
    client = api_client(server=api.url, timeout=(1.0, 2.0))  # as the processes build it, with short timeouts
    lister = partial(k8s.CoreV1Api(client).list_namespaced_config_map, "default")
    informer = Informer("configmaps", lister, idle_seconds=1.5, connect_seconds=1.0, max_backoff=1.0)
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    assert informer.synced.wait(10)
    yield informer
    informer.stop()
    thread.join(5)
    client.close()


def names(informer: Informer) -> set[str]:
    return {str(o["metadata"]["name"]) for o in informer.items()}


def test_a_silent_watch_is_given_up_within_the_idle_bound(
    informer: Informer, api: KubeAPIControl, core: k8s.CoreV1Api
) -> None:
    watches = api.count_requests("configmaps", "watch")
    api.silence(verbs=["watch"])  # the open stream dies without a word; new watches hang too
    core.create_namespaced_config_map("default", config_map("while-silent"))
    api.speak()
    # the relist after giving up brings the change; the new watch follows it, a moment later on a busy machine
    wait_for(lambda: "while-silent" in names(informer), 15, "the change, after the silent watch was given up")
    wait_for(lambda: api.count_requests("configmaps", "watch") > watches, 15, "a new watch")


def test_requests_that_are_never_answered_time_out_and_the_cache_converges(
    informer: Informer, api: KubeAPIControl, core: k8s.CoreV1Api
) -> None:
    before = api.count_requests("configmaps")
    api.silence()  # everything: the open stream, and every list and watch after it, hang unanswered
    time.sleep(5)  # a while of silence: each attempt gives up after its timeout and the informer tries again
    assert api.count_requests("configmaps") - before >= 2
    api.speak()
    core.create_namespaced_config_map("default", config_map("after"))
    wait_for(lambda: "after" in names(informer), 20, "the change, once the server answers")


def test_objects_the_transform_drops_are_not_kept_and_leave_as_deletions(
    api: KubeAPIControl, core: k8s.CoreV1Api
) -> None:
    """A speaker keeps only the EndpointSlices with endpoints on its node: an object that stops being of interest
    is reported gone, one that becomes of interest arrives, and the others never reach the cache."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "wanted"}, "data": {"keep": "yes"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "other"}, "data": {"keep": "no"}})
    client = api_client(server=api.url, timeout=(1.0, 5.0))
    lister = partial(k8s.CoreV1Api(client).list_namespaced_config_map, "default")

    def interesting(obj: dict[str, Any]) -> dict[str, Any] | None:
        return obj if (obj.get("data") or {}).get("keep") == "yes" else None

    informer = Informer("configmaps", lister, transform=interesting)
    changes: list[tuple[str, bool, bool]] = []
    informer.subscribe(lambda key, old, new: changes.append((key[1], old is not None, new is not None)))
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    try:
        assert informer.synced.wait(10)
        assert names(informer) == {"wanted"}
        core.patch_namespaced_config_map("wanted", "default", {"data": {"keep": "no"}})
        core.patch_namespaced_config_map("other", "default", {"data": {"keep": "yes"}})
        wait_for(lambda: names(informer) == {"other"}, 10, "the cache to follow what is of interest")
        core.delete_namespaced_config_map("wanted", "default")
        core.delete_namespaced_config_map("other", "default")
        wait_for(lambda: names(informer) == set(), 10, "the deletion")
        assert changes == [
            ("wanted", False, True),
            ("wanted", True, False),
            ("other", False, True),
            ("other", True, False),
        ]
    finally:
        informer.stop()
        thread.join(5)
        client.close()
