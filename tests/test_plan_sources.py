"""`dnslb plan` reads Ingresses, Gateways with their routes, and DNSEndpoints beside Services, and shows the records
each wants and what becomes of them, as the controller would publish them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnslb.app.cli import main

CONFIG: list[dict[str, Any]] = [
    {"apiVersion": "dnslb.io/v1alpha1", "kind": "AddressPool", "metadata": {"name": "public"},
     "spec": {"addresses": ["198.51.100.0/24"]}},
    {"apiVersion": "dnslb.io/v1alpha1", "kind": "DNSProvider", "metadata": {"name": "corp"},
     "spec": {"type": "inmemory", "zones": ["example.test"], "settings": {"zones": "example.test"}}},
    {"apiVersion": "v1", "kind": "Service",
     "metadata": {"name": "ingress-nginx", "namespace": "ingress", "creationTimestamp": "2026-01-01T00:00:00Z"},
     "spec": {"type": "LoadBalancer", "ports": [{"port": 443}]}},
]  # fmt: skip


def ingress(name: str, namespace: str, created: str, *hosts: str, tls: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": {"rules": [{"host": h} for h in hosts], **({"tls": [{"hosts": list(tls)}]} if tls else {})},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}},
    }


GATEWAY = {
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
    "metadata": {"name": "gw", "namespace": "ingress"},
    "spec": {"gatewayClassName": "eg", "listeners": [{"name": "web", "port": 443, "protocol": "HTTPS",
                                                      "hostname": "*.example.test",
                                                      "allowedRoutes": {"namespaces": {"from": "All"}}}]},
    "status": {"addresses": [{"value": "198.51.100.1"}]},
}  # fmt: skip
ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "api", "namespace": "team-b", "creationTimestamp": "2026-01-03T00:00:00Z"},
    "spec": {"parentRefs": [{"name": "gw", "namespace": "ingress"}], "hostnames": ["api.example.test"]},
    "status": {"parents": [{"parentRef": {"name": "gw", "namespace": "ingress"}, "controllerName": "x/y",
                            "conditions": [{"type": "Accepted", "status": "True"}]}]},
}  # fmt: skip
ENDPOINT = {
    "apiVersion": "externaldns.k8s.io/v1alpha1", "kind": "DNSEndpoint",
    "metadata": {"name": "db", "namespace": "team-b", "creationTimestamp": "2026-01-04T00:00:00Z"},
    "spec": {"endpoints": [{"dnsName": "db.example.test", "recordType": "A", "recordTTL": 60,
                            "targets": ["192.0.2.7"]}]},
}  # fmt: skip


def plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *docs: dict[str, Any], args: tuple[str, ...] = ()
) -> tuple[int, str]:
    manifest = tmp_path / "all.yaml"
    manifest.write_text(yaml.safe_dump_all([*CONFIG, *docs]))
    code = main(["plan", "-f", str(manifest), *args])
    return code, capsys.readouterr().out


def test_plan_shows_the_records_of_ingresses_routes_and_dnsendpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = (
        ingress("shop", "team-a", "2026-01-02T00:00:00Z", "www.example.test"),
        ingress("copy", "team-b", "2026-01-05T00:00:00Z", "www.example.test"),
        GATEWAY, ROUTE, ENDPOINT,
    )  # fmt: skip
    code, out = plan(tmp_path, capsys, *docs)
    assert code == 3  # the later Ingress's name is not published
    assert "create www.example.test 300 A 198.51.100.1" in out
    assert (
        "create _dnslb.www.example.test 300 TXT heritage=dnslb,dnslb/owner=dnslb,dnslb/resource=ingress/team-a/shop"
        in out
    )
    assert "create api.example.test 300 A 198.51.100.1" in out
    assert "create db.example.test 60 A 192.0.2.7" in out
    rows = {tuple(line.split()) for line in out.splitlines()}
    assert ("Ingress/team-a/shop", "www.example.test", "->", "198.51.100.1") in rows
    assert ("HTTPRoute/team-b/api", "api.example.test", "->", "198.51.100.1") in rows
    section = out[out.index("NOT PUBLISHED") :].splitlines()
    assert section == [
        "NOT PUBLISHED",
        "Ingress/team-b/copy",
        "  www.example.test: hostname is already claimed by the earlier Ingress team-a/shop",
    ]
    data = json.loads(plan(tmp_path, capsys, *docs, args=("-o", "json"))[1])
    assert {s["object"]: s["records"] for s in data["sources"]}["DNSEndpoint/team-b/db"] == [
        "db.example.test -> 192.0.2.7"
    ]


def test_a_tls_only_host_is_published_unless_the_flag_says_not_and_plan_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = ingress("shop", "team-a", "2026-01-02T00:00:00Z", "www.example.test", tls=("secure.example.test",))
    _, out = plan(tmp_path, capsys, shop)
    assert "create secure.example.test 300 A 198.51.100.1" in out
    _, out = plan(tmp_path, capsys, shop, args=("--ignore-ingress-tls-spec",))
    assert "secure.example.test" not in out.split("DNS PROVIDER")[1].split("\n\n")[0]
    assert (
        "warning: spec.tls[0].hosts[0]: secure.example.test: TLS hosts are not published: --ignore-ingress-tls-spec"
    ) in out


def shared(doc: dict[str, Any], ip: str) -> dict[str, Any]:
    doc["metadata"]["annotations"] = {"dnslb.io/shared-hostnames": "true"}
    doc["status"]["loadBalancer"]["ingress"] = [{"ip": ip}]
    return doc


def grant(*namespaces: str) -> dict[str, Any]:
    provider = {**CONFIG[1], "spec": {**CONFIG[1]["spec"]}}
    provider["spec"]["allowedNamespaces"] = [{"domain": "www.example.test", "namespaces": list(namespaces)}]
    return provider


@pytest.mark.parametrize(
    ("blue_ns", "green_ns", "both_opt_in", "granted", "outcome"),
    [
        ("web", "web", True, (), "shared"),
        ("team-a", "team-b", True, ("team-a", "team-b"), "shared"),
        ("team-a", "team-b", True, (), "sharing across namespaces needs an allowedNamespaces grant"),
        ("web", "web", False, (), "earliest"),
    ],
)
def test_one_name_two_objects_blue_green_only_when_both_opt_in_and_the_grants_allow(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    blue_ns: str,
    green_ns: str,
    both_opt_in: bool,
    granted: tuple[str, ...],
    outcome: str,
) -> None:
    blue = shared(ingress("blue", blue_ns, "2026-01-02T00:00:00Z", "www.example.test"), "198.51.100.1")
    green = shared(ingress("green", green_ns, "2026-01-03T00:00:00Z", "www.example.test"), "198.51.100.2")
    if not both_opt_in:
        del green["metadata"]["annotations"]
    manifest = tmp_path / "all.yaml"
    config = [CONFIG[0], grant(*granted) if granted else CONFIG[1], CONFIG[2]]
    manifest.write_text(yaml.safe_dump_all([*config, blue, green]))
    code = main(["plan", "-f", str(manifest)])
    out, err = capsys.readouterr()
    earlier = f"hostname is already claimed by the earlier Ingress {blue_ns}/blue"
    if outcome == "shared":
        assert code == 0
        assert "create www.example.test 300 A 198.51.100.1 198.51.100.2" in out
        assert f"www.example.test: Ingress/{green_ns}/green: shared with the earlier Ingress {blue_ns}/blue" in err
    elif outcome == "earliest":
        assert code == 3
        assert "create www.example.test 300 A 198.51.100.1\n" in out
        assert f"  www.example.test: {earlier}\n" in out
    else:
        assert code == 3
        assert f"  www.example.test: {earlier} ({outcome} for the name that lists both)" in out


def test_a_service_naming_another_controller_is_skipped_and_plan_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "other", "namespace": "web", "annotations": {
            "external-dns.alpha.kubernetes.io/hostname": "other.example.test",
            "external-dns.alpha.kubernetes.io/controller": "someone-else"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    }  # fmt: skip
    code, out = plan(tmp_path, capsys, service)
    assert code == 3
    assert "create other.example.test" not in out
    assert (
        "  other.example.test: metadata.annotations[external-dns.alpha.kubernetes.io/controller]: skipped: controller "
        "annotation names 'someone-else', not 'dns-controller'"
    ) in out
