"""Hostnames from Ingresses, Gateway API routes and DNSEndpoints, published by the controller to a real BIND, with
the same rules as Services': earlier-created wins across kinds and namespaces, tenant grants, ownership records
naming the source object, and a grace period before an object that lost its status loses its names."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import kubernetes.client as k8s
import pytest

from dnslb_testkit.kubeapi import KubeAPIProcess
from dnslb_testkit.servers.bind import BindServer, TsigKey, ZoneSpec
from tests.controller.harness import (
    NAMESPACE,
    ControllerProcess,
    answer,
    apply_pool,
    apply_provider,
    ensure_namespace,
    events_for,
    service_body,
    wait_for,
)

Start = Callable[..., ControllerProcess]
GATEWAY_API = ("gateway.networking.k8s.io", "v1")
ZONE = "example.test"


def ownership(bind: BindServer, name: str) -> list[str]:
    return answer(bind, f"_dnslb.{name}", "TXT")[1]


@pytest.fixture
def bind(core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi) -> Iterator[BindServer]:
    """A BIND serving example.test, a pool, and a DNSProvider for it that lets only team-b publish under
    b.example.test."""
    key = TsigKey.generate("dnslb-test")
    with BindServer([ZoneSpec(ZONE)], key) as server:
        settings = {"server": server.address, "port": str(server.port), "zones": ZONE,
                    "tsigKeyName": key.name, "tsigAlgorithm": key.algorithm}  # fmt: skip
        encoded = base64.b64encode(key.secret.encode()).decode()
        core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "tsig"}, "data": {"tsigSecret": encoded}})
        apply_pool(custom, "p", "10.96.0.0/28")
        apply_provider(custom, "bind", {
            "type": "rfc2136", "settings": settings, "secretRef": {"name": "tsig"},
            "allowedNamespaces": [{"domain": f"b.{ZONE}", "namespaces": ["team-b"]}],
        })  # fmt: skip
        for namespace in ("team-a", "team-b"):
            ensure_namespace(core, namespace)
        yield server


def ingress(name: str, *hosts: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": h, "http": _paths()} for h in hosts]},
    }


def _paths() -> dict[str, Any]:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    return {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}


def set_ingress_ips(net: k8s.NetworkingV1Api, namespace: str, name: str, *ips: str) -> None:
    """What the ingress controller does: its Service's VIP in the Ingress's status."""
    body = {"status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips] or None}}}
    net.patch_namespaced_ingress_status(name, namespace, body)


def vip_of(core: k8s.CoreV1Api, namespace: str, name: str) -> str:
    return str(wait_for(lambda: (s := core.read_namespaced_service(name, namespace)).status.load_balancer.ingress
                        and s.status.load_balancer.ingress[0].ip, 10, "a VIP"))  # fmt: skip


def test_ingress_create_change_status_loss_and_delete(
    ns: str, bind: BindServer, core: k8s.CoreV1Api, client: k8s.ApiClient, controller: Start
) -> None:
    net = k8s.NetworkingV1Api(client)
    controller("--source", "service,ingress", "--grace-seconds", "4").wait_ready()
    core.create_namespaced_service(ns, service_body("ingress-nginx"))  # carries no hostname
    vip = vip_of(core, ns, "ingress-nginx")
    www = f"www.a.{ZONE}"
    net.create_namespaced_ingress("team-a", ingress("shop", www))
    set_ingress_ips(net, "team-a", "shop", vip)
    wait_for(lambda: answer(bind, www)[1] == [vip], 15, "BIND answering the Ingress host")
    assert ownership(bind, www) == ['"heritage=dnslb,dnslb/owner=dnslb,dnslb/resource=ingress/team-a/shop"']

    # the host changes: the new name is published, the old one deleted
    shop = f"shop.a.{ZONE}"
    net.patch_namespaced_ingress("shop", "team-a", {"spec": ingress("shop", shop)["spec"]})
    wait_for(lambda: answer(bind, shop)[1] == [vip] and answer(bind, www)[0] == dns.rcode.NXDOMAIN, 15,
             "the new host published and the old one deleted")  # fmt: skip

    # the status address changes
    set_ingress_ips(net, "team-a", "shop", "10.96.0.9")
    wait_for(lambda: answer(bind, shop)[1] == ["10.96.0.9"], 15, "the new address")

    # the status is emptied (the ingress controller restarting): kept, with an Event, then deleted after the grace
    set_ingress_ips(net, "team-a", "shop")
    (kept,) = wait_for(lambda: events_for(core, "team-a", "shop", ["DNSRecordsKept"]), 10, "a DNSRecordsKept Event")
    assert kept.type == "Warning" and kept.involved_object.kind == "Ingress" and "kept for 4 s" in kept.message
    assert answer(bind, shop)[1] == ["10.96.0.9"]
    # an address back within the grace keeps the name; emptied again, a new grace begins
    set_ingress_ips(net, "team-a", "shop", vip)
    wait_for(lambda: answer(bind, shop)[1] == [vip], 15, "the address back")
    set_ingress_ips(net, "team-a", "shop")
    wait_for(lambda: answer(bind, shop)[0] == dns.rcode.NXDOMAIN, 20, "the name deleted after the grace period")

    # deleted: its names go at once (no grace for an object that is gone)
    set_ingress_ips(net, "team-a", "shop", vip)
    wait_for(lambda: answer(bind, shop)[1] == [vip], 15, "published again")
    net.delete_namespaced_ingress("shop", "team-a")
    wait_for(lambda: answer(bind, shop)[0] == dns.rcode.NXDOMAIN, 15, "the name deleted with the Ingress")


def test_earlier_wins_across_namespaces_and_kinds_and_tenants_are_refused(
    ns: str, bind: BindServer, core: k8s.CoreV1Api, client: k8s.ApiClient, controller: Start
) -> None:
    net = k8s.NetworkingV1Api(client)
    controller("--source", "service,ingress").wait_ready()
    core.create_namespaced_service(ns, service_body("ingress-nginx"))
    vip = vip_of(core, ns, "ingress-nginx")
    name = f"www.{ZONE}"
    net.create_namespaced_ingress("team-a", ingress("first", name))
    set_ingress_ips(net, "team-a", "first", vip)
    wait_for(lambda: answer(bind, name)[1] == [vip], 15, "the first Ingress's name")
    net.create_namespaced_ingress("team-b", ingress("second", name))
    set_ingress_ips(net, "team-b", "second", "10.96.0.7")
    (lost,) = wait_for(lambda: events_for(core, "team-b", "second", ["DNSNotPublished"]), 10, "the loser's Event")
    assert lost.involved_object.kind == "Ingress"
    assert f"{name}: hostname is already claimed by the earlier Ingress team-a/first" in lost.message
    # a Service created later than the Ingress loses too
    core.create_namespaced_service(ns, service_body("late", annotations={"dnslb.io/hostname": name}))
    wait_for(lambda: events_for(core, ns, "late", ["DNSNotPublished"]), 10, "the later Service's Event")
    assert answer(bind, name)[1] == [vip] and "ingress/team-a/first" in ownership(bind, name)[0]

    # team-a has no grant under b.example.test
    tenant = f"api.b.{ZONE}"
    net.create_namespaced_ingress("team-a", ingress("tenant", tenant))
    set_ingress_ips(net, "team-a", "tenant", vip)
    (refused,) = wait_for(lambda: events_for(core, "team-a", "tenant", ["DNSNotPublished"]), 10, "a refusal")
    assert f"namespace team-a may not publish names under b.{ZONE}" in refused.message
    assert answer(bind, tenant)[0] == dns.rcode.NXDOMAIN
    net.create_namespaced_ingress("team-b", ingress("tenant", tenant))
    set_ingress_ips(net, "team-b", "tenant", vip)
    wait_for(lambda: answer(bind, tenant)[1] == [vip], 15, "team-b's name under its grant")


def gateway(name: str, *listeners: dict[str, Any], address: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name},
        "spec": {"gatewayClassName": "eg", "listeners": list(listeners)},
    }
    return body, {"status": {"addresses": [{"type": "IPAddress", "value": address}]}}


def route(name: str, gateway_namespace: str, *hostnames: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {"parentRefs": [{"name": "gw", "namespace": gateway_namespace}], "hostnames": list(hostnames)},
    }


def accepted(gateway_namespace: str, status: str = "True") -> dict[str, Any]:
    condition = {"type": "Accepted", "status": status, "reason": "Accepted" if status == "True" else "NotAllowed",
                 "message": "", "lastTransitionTime": "2026-12-01T00:00:00Z", "observedGeneration": 1}  # fmt: skip
    parent = {"parentRef": {"name": "gw", "namespace": gateway_namespace}, "controllerName": "example.test/gw",
              "conditions": [condition]}  # fmt: skip
    return {"status": {"parents": [parent]}}


def test_httproute_published_only_when_accepted(
    ns: str, bind: BindServer, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    controller("--source", "service,gateway-httproute").wait_ready()
    core.create_namespaced_service(ns, service_body("envoy"))
    vip = vip_of(core, ns, "envoy")
    listener = {"name": "http", "port": 80, "protocol": "HTTP", "hostname": f"*.{ZONE}",
                "allowedRoutes": {"namespaces": {"from": "All"}}}  # fmt: skip
    body, status = gateway("gw", listener, address=vip)
    custom.create_namespaced_custom_object(*GATEWAY_API, ns, "gateways", body)
    custom.patch_namespaced_custom_object_status(*GATEWAY_API, ns, "gateways", "gw", status)

    api, refused = f"api.{ZONE}", f"refused.{ZONE}"
    custom.create_namespaced_custom_object(*GATEWAY_API, "team-a", "httproutes", route("api", ns, api))
    custom.patch_namespaced_custom_object_status(*GATEWAY_API, "team-a", "httproutes", "api", accepted(ns))
    custom.create_namespaced_custom_object(*GATEWAY_API, "team-a", "httproutes", route("refused", ns, refused))
    custom.patch_namespaced_custom_object_status(*GATEWAY_API, "team-a", "httproutes", "refused", accepted(ns, "False"))
    wait_for(lambda: answer(bind, api)[1] == [vip], 15, "the accepted route's hostname")
    assert ownership(bind, api) == ['"heritage=dnslb,dnslb/owner=dnslb,dnslb/resource=httproute/team-a/api"']
    assert answer(bind, refused)[0] == dns.rcode.NXDOMAIN

    # its Gateway accepts it at last
    custom.patch_namespaced_custom_object_status(*GATEWAY_API, "team-a", "httproutes", "refused", accepted(ns))
    wait_for(lambda: answer(bind, refused)[1] == [vip], 15, "the route once accepted")
    custom.delete_namespaced_custom_object(*GATEWAY_API, "team-a", "httproutes", "api")
    wait_for(lambda: answer(bind, api)[0] == dns.rcode.NXDOMAIN, 15, "the name deleted with its route")


def test_dnsendpoint_published_and_its_generation_observed(
    bind: BindServer, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    controller("--source", "dnsendpoint").wait_ready()
    api = ("externaldns.k8s.io", "v1alpha1", "team-a", "dnsendpoints")
    name = f"db.{ZONE}"
    body: dict[str, Any] = {
        "apiVersion": "externaldns.k8s.io/v1alpha1",
        "kind": "DNSEndpoint",
        "metadata": {"name": "db"},
        "spec": {"endpoints": [{"dnsName": name, "recordType": "A", "recordTTL": 60, "targets": ["192.0.2.20"]}]},
    }
    custom.create_namespaced_custom_object(*api, body)
    wait_for(lambda: answer(bind, name)[1] == ["192.0.2.20"], 15, "the DNSEndpoint's record")
    wait_for(lambda: custom.get_namespaced_custom_object(*api, "db").get("status", {}).get("observedGeneration") == 1,
             10, "status.observedGeneration 1")  # fmt: skip
    body["spec"]["endpoints"][0]["targets"] = ["192.0.2.21"]
    custom.patch_namespaced_custom_object(*api, "db", {"spec": body["spec"]})
    wait_for(lambda: answer(bind, name)[1] == ["192.0.2.21"], 15, "the changed target")
    wait_for(lambda: custom.get_namespaced_custom_object(*api, "db").get("status", {}).get("observedGeneration") == 2,
             10, "status.observedGeneration 2")  # fmt: skip


def test_routes_attachment_is_checked_by_dnslb_inheritance_allowed_routes_and_tcp_by_annotation(
    ns: str, bind: BindServer, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    controller("--source", "service,gateway-httproute,gateway-tcproute").wait_ready()
    core.create_namespaced_service(ns, service_body("envoy"))
    vip = vip_of(core, ns, "envoy")
    inherit, stranger, db = f"inherit.{ZONE}", f"stranger.{ZONE}", f"pg.{ZONE}"
    listeners = (
        {"name": "web", "port": 80, "protocol": "HTTP", "hostname": inherit},  # allowedRoutes: Same by default
        {"name": "pg", "port": 5432, "protocol": "TCP", "allowedRoutes": {"namespaces": {"from": "All"}}},
    )
    body, status = gateway("gw", *listeners, address=vip)
    custom.create_namespaced_custom_object(*GATEWAY_API, ns, "gateways", body)
    custom.patch_namespaced_custom_object_status(*GATEWAY_API, ns, "gateways", "gw", status)

    # a route without hostnames in the Gateway's namespace takes the listener's
    custom.create_namespaced_custom_object(*GATEWAY_API, ns, "httproutes", route("inherits", ns))
    custom.patch_namespaced_custom_object_status(*GATEWAY_API, ns, "httproutes", "inherits", accepted(ns))
    # from another namespace, the Same listener does not take it, though its status says Accepted
    custom.create_namespaced_custom_object(*GATEWAY_API, "team-a", "httproutes", route("stranger", ns, stranger))
    custom.patch_namespaced_custom_object_status(*GATEWAY_API, "team-a", "httproutes", "stranger", accepted(ns))
    # a TCPRoute has no hostnames: its annotation names it
    tcp = {
        "apiVersion": "gateway.networking.k8s.io/v1alpha2",
        "kind": "TCPRoute",
        "metadata": {"name": "pg", "annotations": {"external-dns.alpha.kubernetes.io/hostname": db}},
        "spec": {"parentRefs": [{"name": "gw", "namespace": ns, "sectionName": "pg"}],
                 "rules": [{"backendRefs": [{"name": "pg", "port": 5432}]}]},
    }  # fmt: skip
    tcp_api = ("gateway.networking.k8s.io", "v1alpha2", "team-a", "tcproutes")
    custom.create_namespaced_custom_object(*tcp_api, tcp)
    parent_status = accepted(ns)
    parent_status["status"]["parents"][0]["parentRef"]["sectionName"] = "pg"
    custom.patch_namespaced_custom_object_status(*tcp_api, "pg", parent_status)

    wait_for(lambda: answer(bind, inherit)[1] == [vip], 15, "the inherited listener hostname")
    wait_for(lambda: answer(bind, db)[1] == [vip], 15, "the TCPRoute's annotated hostname")
    assert answer(bind, stranger)[0] == dns.rcode.NXDOMAIN
    assert ownership(bind, db) == ['"heritage=dnslb,dnslb/owner=dnslb,dnslb/resource=tcproute/team-a/pg"']


def test_a_source_whose_crd_is_missing_holds_nothing_but_its_own_names(tmp_path: Path) -> None:
    """A cluster without the TLSRoute CRD, the controller told to read TLSRoutes: VIPs and the Services' names go on,
    and the log says which list fails."""
    key = TsigKey.generate("dnslb-test")
    with KubeAPIProcess(without=("TLSRoute",)) as api, BindServer([ZoneSpec(ZONE)], key) as bind:
        client = api.api_client()
        core, custom = k8s.CoreV1Api(client), k8s.CustomObjectsApi(client)
        ensure_namespace(core, NAMESPACE)
        encoded = base64.b64encode(key.secret.encode()).decode()
        core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "tsig"}, "data": {"tsigSecret": encoded}})
        apply_pool(custom, "p", "10.96.0.0/28")
        settings = {"server": bind.address, "port": str(bind.port), "zones": ZONE,
                    "tsigKeyName": key.name, "tsigAlgorithm": key.algorithm}  # fmt: skip
        apply_provider(custom, "bind", {"type": "rfc2136", "settings": settings, "secretRef": {"name": "tsig"}})
        controller = ControllerProcess(("--api-server", api.url), tmp_path, "--source", "service,gateway-tlsroute")
        try:
            controller.wait_ready()
            name = f"web.{ZONE}"
            core.create_namespaced_service("default", service_body("web", annotations={"dnslb.io/hostname": name}))
            vip = vip_of(core, "default", "web")
            wait_for(lambda: answer(bind, name)[1] == [vip], 15, "the Service's name, TLSRoutes unlisted")
            log = controller.process.read_log()
            assert "tlsroutes: list/watch failed" in log and "404" in log
        finally:
            controller.stop()
            client.close()
