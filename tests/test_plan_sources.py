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
