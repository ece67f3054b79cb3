"""`dnslb status` against the API double: what a user sees of a Service announced by some nodes and withheld by
another, of its hostnames' DNS state, and of the cluster's pools, peers and DNS providers; and its exit codes."""

from __future__ import annotations

import json
import time
from typing import Any

import kubernetes.client as k8s
import pytest

from dnslb.app import status as status_module
from dnslb.app.cli import main
from dnslb.app.status import Hostname, Reader, Unreadable, parse_dns_published
from dnslb.core.annotations import ALLOCATED_FROM_POOL
from dnslb.core.bgp.announcements import to_status
from dnslb.core.bgp.status import (
    CONNECTING,
    DAMPED,
    ESTABLISHED,
    NO_LOCAL_ENDPOINT,
    Damping,
    NodeAnnouncements,
    PeerSession,
    VIPGroup,
)
from dnslb_testkit.kubeapi.target import KubeAPIControl, KubeTarget
from dnslb_testkit.ports import closed_port

GROUP, VERSION, NAMESPACE = "dnslb.io", "v1alpha1", "dnslb-system"
VIP = "10.10.0.10"
WITHHELD = "no ready endpoint of default/web on this node"
SINCE = 1_700_000_000.0  # 2023-11-14T22:13:20Z
TIME = "2023-11-14T22:13:20Z"
DNS_MESSAGE = "\n".join(
    [
        "web.example.test: published",
        "api.example.test: refused: DNSProvider corp: owned by another owner",
        "this line is garbage",
    ]
)


def create_namespace(core: k8s.CoreV1Api, name: str) -> None:
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def create_node(core: k8s.CoreV1Api, name: str) -> None:
    core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})


def create_service(core: k8s.CoreV1Api, name: str, annotations: dict[str, str], **spec: Any) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }
    core.create_namespaced_service("default", body)


def condition(type_: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": TIME}


def announce(custom: k8s.CustomObjectsApi, announcements: NodeAnnouncements) -> None:
    """The node's NodeAnnouncement, as its speaker writes it: the object, then its status."""
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NodeAnnouncement",
        "metadata": {"name": announcements.node},
        "spec": {},
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "nodeannouncements", body)
    status = {"status": to_status(announcements)}
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, NAMESPACE, "nodeannouncements", announcements.node, status
    )


def config_object(
    custom: k8s.CustomObjectsApi, kind: str, name: str, *, spec: dict[str, Any], status: dict[str, Any]
) -> None:
    plural = f"{kind.lower()}s"
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural, body)
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, NAMESPACE, plural, name, {"status": status})


def session(peer: str, state: str = ESTABLISHED, error: str = "") -> PeerSession:
    return PeerSession(peer, "192.0.2.1" if peer == "edge-v4" else "2001:db8::1", state, SINCE, error)


@pytest.fixture
def cluster(core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi) -> None:
    """Three nodes; default/web announced by node-a and node-b, withheld by node-c (no local endpoint); default/db
    with a hostname the controller has not reported on; a ClusterIP Service; a pool, a peer and a DNS provider."""
    create_namespace(core, NAMESPACE)
    for node in ("node-a", "node-b", "node-c"):
        create_node(core, node)
    hostnames = "web.example.test,api.example.test"
    web = {"dnslb.io/hostname": hostnames, ALLOCATED_FROM_POOL: "pool-a"}
    create_service(core, "web", web, externalTrafficPolicy="Local")
    status = {
        "loadBalancer": {"ingress": [{"ip": VIP, "ipMode": "VIP"}]},
        "conditions": [condition("dnslb.io/DNSPublished", "False", "NotPublished", DNS_MESSAGE)],
    }
    core.patch_namespaced_service_status("web", "default", {"status": status})
    create_service(core, "db", {"dnslb.io/hostname": "db.example.test"})
    create_service(core, "internal", {}, type="ClusterIP")

    v4, v6 = session("edge-v4"), session("edge-v6")
    announce(custom, NodeAnnouncements("node-a", (v4, v6), (VIPGroup((VIP,), ("edge-v4", "edge-v6")),)))
    announce(custom, NodeAnnouncements("node-b", (v4,), (VIPGroup((VIP,), ("edge-v4",)),)))
    down = session("edge-v4", CONNECTING, "connection refused")
    withheld = VIPGroup((VIP,), reason=NO_LOCAL_ENDPOINT, message=WITHHELD)
    announce(custom, NodeAnnouncements("node-c", (down,), (), (withheld,)))

    ready = condition("Ready", "True", "Available", "1 of 254 addresses in use")
    pool = {"addresses": ["10.10.0.0/24"]}
    config_object(custom, "AddressPool", "pool-a", spec=pool, status={"inUse": 1, "total": 254, "conditions": [ready]})
    peer = {"myASN": 64512, "peerASN": 64513, "peerAddress": "192.0.2.1"}
    config_object(custom, "BGPPeer", "edge-v4", spec=peer, status={"sessions": "2/3", "nodes": 3, "up": 2})
    synced = condition("Synced", "True", "Synced", "2 zones in sync")
    config_object(custom, "DNSProvider", "corp", spec={"type": "inmemory"}, status={"conditions": [synced]})


def status(target: KubeTarget, *args: str) -> list[str]:
    return ["status", "--api-server", target.configuration.host, *args]


@pytest.mark.usefixtures("cluster")
def test_the_table_names_the_node_that_withholds_the_vip_and_why(
    target: KubeTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(status(target)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "Service default/db"
    web = lines[lines.index("Service default/web") :]
    assert "  VIPs:       10.10.0.10" in web
    assert "  Pool:       pool-a" in web
    assert "  Hostnames:  web.example.test  published" in web
    assert "              api.example.test  refused: DNSProvider corp: owned by another owner" in web
    assert "              unknown: this line is garbage" in web
    assert "  10.10.0.10: announced by node-a (edge-v4, edge-v6), node-b (edge-v4)" in web
    assert f"              not by node-c: NoLocalEndpoint: {WITHHELD}" in web
    assert "  Hostnames:  db.example.test  unknown: the controller has not reported" in lines
    assert "Service default/internal" not in lines

    assert "  pool-a  1/254 in use  Ready True Available since 2023-11-14T22:13:20Z: 1 of 254 addresses in use" in lines
    peers = lines[lines.index("BGPPeers:") :]
    assert peers[1:5] == [
        "  edge-v4  sessions 2/3",
        f"    node-a  Established since {TIME}",
        f"    node-b  Established since {TIME}",
        f"    node-c  Connecting since {TIME}: connection refused",
    ]
    assert "  corp  publishWhen Announced  Synced True Synced since 2023-11-14T22:13:20Z: 2 zones in sync" in lines


@pytest.mark.usefixtures("cluster")
def test_json_holds_the_same_report(target: KubeTarget, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(status(target, "-o", "json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"services", "pools", "peers", "providers"}
    db, web = report["services"]
    assert (db["name"], db["vips"], db["pool"], db["nodes"]) == ("db", [], None, [])
    assert db["hostnames"] == [
        {"name": "db.example.test", "state": "unknown", "why": "the controller has not reported"}
    ]
    assert {k: web[k] for k in ("namespace", "name", "vips", "pool")} == {
        "namespace": "default",
        "name": "web",
        "vips": [VIP],
        "pool": "pool-a",
    }
    assert web["hostnames"][:2] == [
        {"name": "web.example.test", "state": "published", "why": ""},
        {"name": "api.example.test", "state": "refused", "why": "DNSProvider corp: owned by another owner"},
    ]
    assert web["nodes"] == [
        {
            "vip": VIP,
            "announcing": [
                {"node": "node-a", "peers": ["edge-v4", "edge-v6"]},
                {"node": "node-b", "peers": ["edge-v4"]},
            ],
            "notAnnouncing": [{"node": "node-c", "reason": "NoLocalEndpoint", "message": WITHHELD}],
        }
    ]
    assert report["pools"] == [
        {
            "name": "pool-a",
            "inUse": 1,
            "total": 254,
            "ready": {
                "status": "True",
                "reason": "Available",
                "message": "1 of 254 addresses in use",
                "lastTransitionTime": TIME,
            },
        }
    ]
    (peer,) = report["peers"]
    assert peer["sessions"] == "2/3"
    assert peer["nodes"][2] == {
        "node": "node-c",
        "state": "Connecting",
        "since": TIME,
        "lastError": "connection refused",
    }
    assert report["providers"][0]["synced"]["message"] == "2 zones in sync"
    assert report["providers"][0]["publishWhen"] == "Announced"


@pytest.mark.usefixtures("cluster")
def test_one_service_named_shows_only_it_and_a_node_without_status_says_so(
    target: KubeTarget, core: k8s.CoreV1Api, capsys: pytest.CaptureFixture[str]
) -> None:
    create_node(core, "node-d")  # its speaker has written nothing yet
    assert main(status(target, "default/web", "-o", "json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in report["services"]] == ["web"]
    assert (report["pools"], report["peers"], report["providers"]) == (None, None, None)
    assert report["services"][0]["nodes"][0]["notAnnouncing"][1] == {
        "node": "node-d",
        "reason": "NoStatus",
        "message": "no status from its speaker",
    }


@pytest.mark.usefixtures("cluster")
def test_a_damped_node_says_until_when(
    target: KubeTarget, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, capsys: pytest.CaptureFixture[str]
) -> None:
    create_node(core, "node-d")
    damping = Damping(3000.0, True, SINCE)
    announce(custom, NodeAnnouncements("node-d", ineligible_reason=DAMPED, ineligible="flapping", damping=damping))
    assert main(status(target, "default/web")) == 0
    expected = f"not by node-d: Damped: flapping (penalty 3000, may announce again at {TIME})"
    assert expected in capsys.readouterr().out


@pytest.mark.usefixtures("cluster")
def test_a_service_that_does_not_exist_is_exit_2_in_one_line(
    target: KubeTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(status(target, "default/nosuch")) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "dnslb status: Service default/nosuch not found\n")


def test_a_service_not_written_namespace_slash_name_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--api-server", "http://127.0.0.1:9", "web"]) == 2
    assert capsys.readouterr().err == "dnslb status: 'web' is not NAMESPACE/SERVICE\n"


def test_an_api_server_that_cannot_be_reached_is_exit_1_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with closed_port() as port:
        assert main(["status", "--api-server", f"http://127.0.0.1:{port}"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"dnslb status: cannot list Services at http://127.0.0.1:{port}: ")
    assert "Connection refused" in err


def test_an_api_server_that_never_answers_is_exit_1_within_the_timeouts(
    target: KubeTarget, api: KubeAPIControl, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(status_module, "TIMEOUT", (1.0, 0.2))
    api.silence(resources=["nodeannouncements"])
    started = time.monotonic()
    assert main(status(target)) == 1
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"dnslb status: cannot list NodeAnnouncements in {NAMESPACE} at ")
    assert "timed out" in err


def test_a_kind_the_cluster_does_not_serve_is_blamed_on_missing_crds(client: k8s.ApiClient) -> None:
    reader = Reader(client, NAMESPACE)
    with pytest.raises(Unreadable, match=r"cannot list Widgets in dnslb-system at .*: HTTP 404 .*CRDs installed\?\)$"):
        reader.custom("Widget", "widgets")


def test_an_empty_namespace_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--api-server", "http://127.0.0.1:9", "--namespace", ""]) == 2
    assert capsys.readouterr().err == "dnslb status: --namespace must not be empty\n"


def test_the_condition_is_read_strictly() -> None:
    message = "a.example.test: pending: waiting: for a node\nb.example.test: gone\nnot a hostname: published\n\n"
    assert parse_dns_published(message) == (
        Hostname("a.example.test", "pending", "waiting: for a node"),
        Hostname("", "unknown", "b.example.test: gone"),
        Hostname("", "unknown", "not a hostname: published"),
    )


@pytest.mark.usefixtures("cluster")
def test_names_other_objects_point_at_a_vip_are_shown_with_their_object(
    target: KubeTarget, core: k8s.CoreV1Api, client: k8s.ApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    net = k8s.NetworkingV1Api(client)
    create_namespace(core, "team-a")
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    rule = {"host": "shop.example.test", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
    net.create_namespaced_ingress("team-a", {"metadata": {"name": "shop"}, "spec": {"rules": [rule]}})
    net.patch_namespaced_ingress_status("shop", "team-a", {"status": {"loadBalancer": {"ingress": [{"ip": VIP}]}}})
    assert main(status(target, "default/web")) == 0
    assert "  Through:    shop.example.test (Ingress/team-a/shop)" in capsys.readouterr().out.splitlines()
    assert main(status(target, "default/web", "-o", "json")) == 0
    assert json.loads(capsys.readouterr().out)["services"][0]["through"] == ["shop.example.test (Ingress/team-a/shop)"]
