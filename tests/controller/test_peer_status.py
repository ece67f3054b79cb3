"""BGPPeer status as the controller writes it from the nodes' NodeAnnouncements: sessions up of the Ready nodes that
peer with the router, and a Ready condition naming the nodes whose session is down, with their last error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import kubernetes.client as k8s
import pytest

from dnslb.core.bgp.announcements import to_status
from dnslb.core.bgp.status import CONNECTING, ESTABLISHED, NodeAnnouncements, PeerSession
from tests.controller.harness import NAMESPACE, ControllerProcess, wait_for

Start = Callable[..., ControllerProcess]
NODES = ("peer-a", "peer-b", "peer-c")
GROUP, VERSION = "dnslb.io", "v1alpha1"


def report(custom: k8s.CustomObjectsApi, node: str, state: str, error: str = "") -> None:
    session = PeerSession("edge", "192.0.2.1", state, last_error=error)
    body = {"status": to_status(NodeAnnouncements(node, (session,)))}
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, NAMESPACE, "nodeannouncements", node, body)


def peer_status(custom: k8s.CustomObjectsApi) -> dict[str, Any]:
    status: dict[str, Any] = (
        custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "bgppeers", "edge").get("status") or {}
    )
    return status


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})


@pytest.fixture
def cluster(core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi) -> Iterator[None]:
    """Three Ready nodes with a NodeAnnouncement each, and the BGPPeer they peer with."""
    peer = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "BGPPeer", "metadata": {"name": "edge", "namespace": NAMESPACE},
            "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "192.0.2.1"}}  # fmt: skip
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "bgppeers", peer)
    for node in NODES:
        core.create_node({"metadata": {"name": node}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "NodeAnnouncement",
                "metadata": {"name": node, "namespace": NAMESPACE}, "spec": {}}  # fmt: skip
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "nodeannouncements", body)
    yield
    for node in NODES:
        core.delete_node(node)
        custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "nodeannouncements", node)
    custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "bgppeers", "edge")


def test_a_peer_says_how_many_nodes_hold_a_session_and_which_do_not(
    cluster: None, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    report(custom, "peer-a", ESTABLISHED)
    report(custom, "peer-b", ESTABLISHED)
    report(custom, "peer-c", CONNECTING, "connection refused")
    controller().wait_ready()
    status = wait_for(lambda: (s := peer_status(custom)).get("sessions") == "2/3" and s, 15, "sessions 2/3")
    assert (status["nodes"], status["up"]) == (3, 2)
    assert ready(status)["status"] == "False"
    assert ready(status)["reason"] == "SessionsDown"
    assert ready(status)["message"] == "1 of 3 node(s) have no Established session: peer-c (connection refused)"
    assert next(c for c in status["conditions"] if c["type"] == "Accepted")["status"] == "True"  # kept beside it

    # the node comes up: Ready; a NotReady node's stale status no longer counts
    report(custom, "peer-c", ESTABLISHED)
    status = wait_for(lambda: (s := peer_status(custom)).get("sessions") == "3/3" and s, 15, "sessions 3/3")
    assert ready(status)["status"] == "True"
    core.patch_node_status("peer-a", {"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    status = wait_for(lambda: (s := peer_status(custom)).get("sessions") == "2/2" and s, 15, "sessions 2/2")
    assert ready(status)["message"] == "Established from all 2 node(s) that peer"
