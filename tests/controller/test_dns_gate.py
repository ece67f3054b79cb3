"""The DNS gate on a real BIND: a hostname is published once a Ready node announces its VIP, and stays published
when announcements stop, with a condition on the Service and an Event instead."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import kubernetes.client as k8s
import pytest

from dnslb.core.bgp.announcements import to_status
from dnslb.core.bgp.status import ESTABLISHED, IDLE, NodeAnnouncements, PeerSession, VIPGroup
from dnslb_testkit.servers.bind import BindServer, TsigKey, ZoneSpec
from tests.controller.harness import (
    NAMESPACE,
    ControllerProcess,
    answer,
    apply_pool,
    apply_provider,
    events_for,
    service_body,
    wait_for,
)

Start = Callable[..., ControllerProcess]
NODES = ("gate-a", "gate-b")
HOST = "web.example.test"


def set_ready(core: k8s.CoreV1Api, node: str, ready: bool) -> None:
    core.patch_node_status(node, {"status": {"conditions": [{"type": "Ready", "status": str(ready)}]}})


def announce(custom: k8s.CustomObjectsApi, node: str, vips: tuple[str, ...]) -> None:
    """What the node's speaker would write: the VIPs acked by the edge router, or none and the session down."""
    if vips:
        value = NodeAnnouncements(node, (PeerSession("edge", "192.0.2.1", ESTABLISHED),), (VIPGroup(vips, ("edge",)),))
    else:
        down = PeerSession("edge", "192.0.2.1", IDLE, last_error="connection refused")
        value = NodeAnnouncements(node, (down,))
    custom.patch_namespaced_custom_object_status(
        "dnslb.io", "v1alpha1", NAMESPACE, "nodeannouncements", node, {"status": to_status(value)}
    )


def published_condition(core: k8s.CoreV1Api, ns: str) -> dict[str, Any]:
    found = core.read_namespaced_service_status("web", ns).status.conditions or []
    return next(({"status": c.status, "reason": c.reason, "message": c.message} for c in found
                 if c.type == "dnslb.io/DNSPublished"), {})  # fmt: skip


@pytest.fixture
def nodes(core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi) -> Iterator[None]:
    """Two nodes, NotReady, each with a NodeAnnouncement that announces nothing."""
    for node in NODES:
        core.create_node({"metadata": {"name": node}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}})
        body = {"apiVersion": "dnslb.io/v1alpha1", "kind": "NodeAnnouncement",
                "metadata": {"name": node, "namespace": NAMESPACE}, "spec": {}}  # fmt: skip
        custom.create_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "nodeannouncements", body)
        announce(custom, node, ())
    yield
    for node in NODES:
        core.delete_node(node)
        custom.delete_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "nodeannouncements", node)


def test_a_name_waits_for_an_announcement_and_outlives_it(
    ns: str, nodes: None, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    key = TsigKey.generate("dnslb-test")
    with BindServer([ZoneSpec("example.test")], key) as bind:
        settings = {"server": bind.address, "port": str(bind.port), "zones": "example.test",
                    "tsigKeyName": key.name, "tsigAlgorithm": key.algorithm}  # fmt: skip
        encoded = base64.b64encode(key.secret.encode()).decode()
        core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "tsig"}, "data": {"tsigSecret": encoded}})
        apply_pool(custom, "p", "10.96.0.0/28")
        apply_provider(custom, "bind", {"type": "rfc2136", "settings": settings, "secretRef": {"name": "tsig"},
                                        "publishWhen": "Announced"})  # fmt: skip
        controller().wait_ready()
        core.create_namespaced_service(ns, service_body("web", annotations={"dnslb.io/hostname": HOST}))
        vip = wait_for(lambda: (s := core.read_namespaced_service("web", ns)).status.load_balancer.ingress
                       and s.status.load_balancer.ingress[0].ip, 10, "a VIP")  # fmt: skip

        # every node NotReady: the VIP is allocated, the name waits, and the Service says why
        waiting = wait_for(lambda: published_condition(core, ns).get("reason") == "Pending" and published_condition(
            core, ns), 15, "the DNSPublished condition Pending")  # fmt: skip
        assert waiting["status"] == "False"
        assert waiting["message"] == f"{HOST}: pending: no node announces {vip} yet; published once one does"
        assert wait_for(lambda: events_for(core, ns, "web", ["DNSPending"]), 10, "a DNSPending Event")
        assert answer(bind, HOST)[0] == dns.rcode.NXDOMAIN

        # a stale claim from a NotReady node does not count
        announce(custom, "gate-a", (vip,))
        assert answer(bind, HOST)[0] == dns.rcode.NXDOMAIN
        assert published_condition(core, ns)["reason"] == "Pending"

        # the node is Ready and announces the VIP: published
        set_ready(core, "gate-a", True)
        wait_for(lambda: answer(bind, HOST)[1] == [vip], 15, "BIND answering the VIP")
        wait_for(lambda: published_condition(core, ns).get("status") == "True", 10, "DNSPublished True")
        assert published_condition(core, ns) == {
            "status": "True",
            "reason": "Published",
            "message": f"{HOST}: published",
        }

        # announcements stop: the record stays, the Service says so, an Event warns
        announce(custom, "gate-a", ())
        lost = wait_for(lambda: published_condition(core, ns).get("reason") == "VIPUnannounced" and published_condition(
            core, ns), 15, "the DNSPublished condition VIPUnannounced")  # fmt: skip
        assert lost["message"] == f"{HOST}: unannounced: no node announces {vip}; the record is kept"
        (warning,) = wait_for(lambda: events_for(core, ns, "web", ["VIPUnannounced"]), 10, "a VIPUnannounced Event")
        assert warning.type == "Warning"
        assert answer(bind, HOST)[1] == [vip]

        # announced again, then lost again as its node goes NotReady: each change is said
        announce(custom, "gate-a", (vip,))
        wait_for(lambda: published_condition(core, ns).get("status") == "True", 15, "DNSPublished True again")
        assert wait_for(lambda: events_for(core, ns, "web", ["VIPAnnounced"]), 10, "a VIPAnnounced Event")
        set_ready(core, "gate-a", False)
        wait_for(lambda: published_condition(core, ns).get("reason") == "VIPUnannounced", 15, "unannounced again")
        wait_for(lambda: sum(e.count or 1 for e in events_for(core, ns, "web", ["VIPUnannounced"])) == 2, 10,
                 "the second loss said")  # fmt: skip
        assert answer(bind, HOST)[1] == [vip]
