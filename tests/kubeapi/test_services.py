"""Service defaulting, allocation and validation, as the real apiserver does them."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import kubernetes.client as k8s
import pytest
from kubernetes.client import ApiException

from dnslb_testkit.kubeapi import KubeAPIControl

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
SERVICE_CIDR_V6 = ipaddress.ip_network("fd00:10:96::/112")


def service(name: str = "svc", **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def causes(error: ApiException) -> list[tuple[str, str]]:
    body = json.loads(error.body)
    assert body["kind"] == "Status" and body["reason"] == "Invalid" and body["code"] == 422
    return [(c.get("field", ""), c["reason"]) for c in body["details"]["causes"]]


def invalid(core: k8s.CoreV1Api, namespace: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_service(namespace, body)
    assert caught.value.status == 422
    return causes(caught.value)


@pytest.mark.cluster
def test_cluster_ip_defaults(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_service(namespace, service(selector={"app": "x"}))
    spec = created.spec
    assert spec.type == "ClusterIP"
    assert spec.cluster_ip and spec.cluster_ips == [spec.cluster_ip]
    assert spec.ip_family_policy == "SingleStack"
    assert spec.ip_families == ["IPv4"]
    assert spec.session_affinity == "None"
    assert spec.internal_traffic_policy == "Cluster"
    assert spec.external_traffic_policy is None
    assert spec.allocate_load_balancer_node_ports is None
    (port,) = spec.ports
    assert (port.protocol, port.target_port, port.node_port) == ("TCP", 80, None)


def test_cluster_ips_come_from_the_service_cidr(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    first = core.create_namespaced_service("default", service("a")).spec.cluster_ip
    second = core.create_namespaced_service("default", service("b")).spec.cluster_ip
    assert ipaddress.ip_address(first) in SERVICE_CIDR and ipaddress.ip_address(second) in SERVICE_CIDR
    assert first != second


@pytest.mark.cluster
def test_load_balancer_defaults_and_node_ports(core: k8s.CoreV1Api, namespace: str) -> None:
    spec = core.create_namespaced_service(
        namespace,
        service(
            type="LoadBalancer", ports=[{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]
        ),
    ).spec
    assert spec.external_traffic_policy == "Cluster"
    assert spec.allocate_load_balancer_node_ports is True
    assert spec.health_check_node_port is None
    node_ports = [p.node_port for p in spec.ports]
    assert all(30000 <= n <= 32767 for n in node_ports) and len(set(node_ports)) == 2


@pytest.mark.cluster
def test_load_balancer_without_node_ports(core: k8s.CoreV1Api, namespace: str) -> None:
    spec = core.create_namespaced_service(
        namespace, service(type="LoadBalancer", allocateLoadBalancerNodePorts=False)
    ).spec
    assert spec.allocate_load_balancer_node_ports is False
    assert spec.ports[0].node_port is None


@pytest.mark.cluster
def test_local_traffic_policy_gets_health_check_node_port(core: k8s.CoreV1Api, namespace: str) -> None:
    spec = core.create_namespaced_service(namespace, service(type="LoadBalancer", externalTrafficPolicy="Local")).spec
    assert 30000 <= spec.health_check_node_port <= 32767
    assert spec.health_check_node_port != spec.ports[0].node_port


@pytest.mark.cluster
def test_requested_node_port_and_conflict(core: k8s.CoreV1Api, namespace: str) -> None:
    taken = core.create_namespaced_service(namespace, service("a", type="NodePort")).spec.ports[0].node_port
    found = invalid(core, namespace, service("b", type="NodePort", ports=[{"port": 80, "nodePort": taken}]))
    assert found == [("spec.ports[0].nodePort", "FieldValueInvalid")]
    out_of_range = invalid(core, namespace, service("c", type="NodePort", ports=[{"port": 80, "nodePort": 80}]))
    assert out_of_range == [("spec.ports[0].nodePort", "FieldValueInvalid")]


@pytest.mark.cluster
def test_headless_service(core: k8s.CoreV1Api, namespace: str) -> None:
    spec = core.create_namespaced_service(namespace, service(clusterIP="None", ports=[], selector={"a": "b"})).spec
    assert spec.cluster_ip == "None" and spec.cluster_ips == ["None"]
    assert spec.ip_family_policy == "SingleStack"


@pytest.mark.cluster
def test_external_name_service(core: k8s.CoreV1Api, namespace: str) -> None:
    spec = core.create_namespaced_service(
        namespace, service(type="ExternalName", externalName="example.com", ports=[])
    ).spec
    assert spec.cluster_ip is None and spec.ip_families is None


def test_prefer_dual_stack_gets_both_families(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    spec = core.create_namespaced_service("default", service(ipFamilyPolicy="PreferDualStack")).spec
    assert spec.ip_families == ["IPv4", "IPv6"]
    v4, v6 = spec.cluster_ips
    assert ipaddress.ip_address(v4) in SERVICE_CIDR and ipaddress.ip_address(v6) in SERVICE_CIDR_V6


def test_require_dual_stack_with_one_family_adds_the_other(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    spec = core.create_namespaced_service(
        "default", service(ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv6"])
    ).spec
    assert spec.ip_families == ["IPv6", "IPv4"]
    assert ipaddress.ip_address(spec.cluster_ip).version == 6


def test_ipv6_single_stack(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    spec = core.create_namespaced_service("default", service(ipFamilies=["IPv6"])).spec
    assert spec.ip_family_policy == "SingleStack" and spec.ip_families == ["IPv6"]
    assert ipaddress.ip_address(spec.cluster_ip) in SERVICE_CIDR_V6


def test_requested_cluster_ip(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    spec = core.create_namespaced_service("default", service("a", clusterIP="10.96.100.100")).spec
    assert spec.cluster_ips == ["10.96.100.100"]
    assert invalid(core, "default", service("b", clusterIP="10.96.100.100")) == [
        ("spec.clusterIPs[0]", "FieldValueInvalid")
    ]
    assert invalid(core, "default", service("c", clusterIP="192.0.2.1")) == [
        ("spec.clusterIPs[0]", "FieldValueInvalid")
    ]


def test_deleting_a_service_frees_its_addresses(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    body = service(type="NodePort", clusterIP="10.96.50.50", ports=[{"port": 80, "nodePort": 31000}])
    core.create_namespaced_service("default", body)
    core.delete_namespaced_service("svc", "default")
    again = core.create_namespaced_service("default", body).spec
    assert again.cluster_ip == "10.96.50.50" and again.ports[0].node_port == 31000


@pytest.mark.cluster
def test_cluster_ip_is_immutable(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_service(namespace, service())
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_service(
            "svc", namespace, {"spec": {"clusterIP": "10.96.99.99", "clusterIPs": ["10.96.99.99"]}}
        )
    assert caught.value.status == 422
    assert ("spec.clusterIP", "FieldValueInvalid") in causes(caught.value)
    assert core.read_namespaced_service("svc", namespace).spec.cluster_ip == created.spec.cluster_ip


@pytest.mark.cluster
def test_put_without_allocated_values_keeps_them(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_service(namespace, service(type="LoadBalancer", externalTrafficPolicy="Local"))
    replaced = core.replace_namespaced_service(
        "svc", namespace, service(type="LoadBalancer", externalTrafficPolicy="Local", selector={"app": "new"})
    )
    assert replaced.spec.cluster_ip == created.spec.cluster_ip
    assert replaced.spec.ports[0].node_port == created.spec.ports[0].node_port
    assert replaced.spec.health_check_node_port == created.spec.health_check_node_port
    assert replaced.spec.selector == {"app": "new"}


@pytest.mark.cluster
def test_changing_to_cluster_ip_drops_node_ports(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, service(type="LoadBalancer"))
    patched = core.patch_namespaced_service("svc", namespace, {"spec": {"type": "ClusterIP"}})
    assert patched.spec.ports[0].node_port is None
    assert patched.spec.external_traffic_policy is None
    assert patched.spec.allocate_load_balancer_node_ports is None


@pytest.mark.cluster
def test_load_balancer_class_only_on_load_balancers(core: k8s.CoreV1Api, namespace: str) -> None:
    found = invalid(core, namespace, service(loadBalancerClass="dnslb.io/vip"))
    assert found == [("spec.loadBalancerClass", "FieldValueForbidden")]
    spec = core.create_namespaced_service(
        namespace, service(type="LoadBalancer", loadBalancerClass="dnslb.io/vip")
    ).spec
    assert spec.load_balancer_class == "dnslb.io/vip"


@pytest.mark.cluster
def test_load_balancer_class_is_immutable(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_service(namespace, service("a", type="LoadBalancer", loadBalancerClass="dnslb.io/vip"))
    with pytest.raises(ApiException) as changed:
        core.patch_namespaced_service("a", namespace, {"spec": {"loadBalancerClass": "other.io/lb"}})
    assert causes(changed.value) == [("spec.loadBalancerClass", "FieldValueInvalid")]
    core.create_namespaced_service(namespace, service("b", type="LoadBalancer"))
    with pytest.raises(ApiException) as set_later:
        core.patch_namespaced_service("b", namespace, {"spec": {"loadBalancerClass": "dnslb.io/vip"}})
    assert set_later.value.status == 422


@pytest.mark.cluster
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ports": []}, [("spec.ports", "FieldValueRequired")]),
        ({"type": "LoadBalancer", "ports": []}, [("spec.ports", "FieldValueRequired")]),
        (
            {"ports": [{"port": 0}]},
            [("spec.ports[0].port", "FieldValueInvalid"), ("spec.ports[0].targetPort", "FieldValueInvalid")],
        ),
        ({"ports": [{"port": 70000, "targetPort": 80}]}, [("spec.ports[0].port", "FieldValueInvalid")]),
        ({"ports": [{"port": 80, "protocol": "ICMP"}]}, [("spec.ports[0].protocol", "FieldValueNotSupported")]),
        (
            {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
            [("spec.ports[1]", "FieldValueDuplicate")],
        ),
        (
            {"ports": [{"port": 80}, {"port": 81}]},
            [("spec.ports[0].name", "FieldValueRequired"), ("spec.ports[1].name", "FieldValueRequired")],
        ),
        ({"type": "Balancer"}, [("spec.type", "FieldValueNotSupported")]),
        ({"ipFamilyPolicy": "Sometimes"}, [("spec.ipFamilyPolicy", "FieldValueNotSupported")]),
        (
            {"type": "LoadBalancer", "externalTrafficPolicy": "Nearby"},
            [("spec.externalTrafficPolicy", "FieldValueNotSupported")],
        ),
        ({"sessionAffinity": "Sticky"}, [("spec.sessionAffinity", "FieldValueNotSupported")]),
        ({"externalTrafficPolicy": "Local"}, [("spec.externalTrafficPolicy", "FieldValueInvalid")]),
        ({"ports": [{"port": 80, "nodePort": 30080}]}, [("spec.ports[0].nodePort", "FieldValueForbidden")]),
    ],
)
def test_invalid_services_are_422_with_field_causes(
    core: k8s.CoreV1Api, namespace: str, spec: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert invalid(core, namespace, service(**spec)) == expected


@pytest.mark.cluster
def test_service_names_are_dns_1035_labels(core: k8s.CoreV1Api, namespace: str) -> None:
    assert invalid(core, namespace, service("1abc")) == [("metadata.name", "FieldValueInvalid")]
    assert invalid(core, namespace, service("a.b")) == [("metadata.name", "FieldValueInvalid")]


@pytest.mark.cluster
def test_invalid_error_message_names_the_object_and_field(core: k8s.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_service(namespace, service(ports=[{"port": 80, "protocol": "ICMP"}]))
    message = json.loads(caught.value.body)["message"]
    assert message.startswith('Service "svc" is invalid: spec.ports[0].protocol: Unsupported value: "ICMP"')
