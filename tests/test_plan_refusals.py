"""`dnslb plan` names every hostname that would not be published, and why, as the controller's Events would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnslb.app.cli import main

# A wildcard of 241 characters: its ownership name, _dnslb._wildcard.<the rest>, has 256 (the limit is 253)
LONG = "*." + ".".join(("a" * 63, "b" * 63, "c" * 63, "d" * 34)) + ".example.test"


def service(name: str, hostnames: str, created: str, namespace: str = "web", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": created,
            "annotations": {"dnslb.io/hostname": hostnames, **annotations},
        },
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "protocol": "TCP"}]},
    }


CONFIG: list[dict[str, Any]] = [
    {
        "apiVersion": "dnslb.io/v1alpha1",
        "kind": "AddressPool",
        "metadata": {"name": "public"},
        "spec": {"addresses": ["198.51.100.0/24"]},
    },
    {
        "apiVersion": "dnslb.io/v1alpha1",
        "kind": "DNSProvider",
        "metadata": {"name": "corp"},
        "spec": {
            "type": "inmemory",
            "zones": ["example.test"],
            "settings": {"zones": "example.test"},
            "allowedNamespaces": [{"domain": "db.example.test", "namespaces": ["data"]}],
        },
    },
]
SERVICES = [
    service("first", "api.example.test", "2026-01-01T00:00:00Z"),
    service("second", "api.example.test,ok.example.test", "2026-01-02T00:00:00Z"),
    service("ttl", "ttl.example.test,ttl2.example.test", "2026-01-03T00:00:00Z", **{"dnslb.io/ttl": "0"}),
    service("elsewhere", "www.example.org", "2026-01-04T00:00:00Z"),
    service("tenant", "pg.db.example.test", "2026-01-05T00:00:00Z"),
    service("long", LONG, "2026-01-06T00:00:00Z"),
]


def plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str, more: tuple[dict[str, Any], ...] = ()
) -> tuple[int, str, str]:
    manifest = tmp_path / "all.yaml"
    manifest.write_text(yaml.safe_dump_all([*CONFIG, *more, *SERVICES]))
    code = main(["plan", "-f", str(manifest), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_lists_every_reason_per_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = plan(tmp_path, capsys)
    assert code == 3  # every Service got its VIP; some names would not be published
    section = out[out.index("NOT PUBLISHED") :].splitlines()
    assert section == [
        "NOT PUBLISHED",
        "web/second",
        "  api.example.test: metadata.annotations[dnslb.io/hostname]: hostname is already claimed by the earlier "
        "Service web/first",
        "web/ttl",
        "  ttl.example.test: metadata.annotations[dnslb.io/ttl]: TTL 0 is outside 1..604800 seconds",
        "  ttl2.example.test: metadata.annotations[dnslb.io/ttl]: TTL 0 is outside 1..604800 seconds",
        "web/elsewhere",
        "  www.example.org (DNSProvider corp): no managed zone holds this name",
        "web/tenant",
        "  pg.db.example.test (DNSProvider corp): namespace web may not publish names under db.example.test",
        "web/long",
        f"  {LONG} (DNSProvider corp): its ownership record name _dnslb._wildcard.{LONG[2:]} is 256 characters long; "
        "the provider takes at most 253",
    ]
    assert "create ok.example.test 300 A 198.51.100.1" in out  # the rest of a refused Service's names are published


def test_json_and_yaml_list_service_hostname_provider_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = plan(tmp_path, capsys, "-o", "json")
    assert code == 3
    unpublished = json.loads(out)["unpublished"]
    assert {(u["service"], u["hostname"], u["provider"]) for u in unpublished} == {
        ("web/second", "api.example.test", None),
        ("web/ttl", "ttl.example.test", None),
        ("web/ttl", "ttl2.example.test", None),
        ("web/elsewhere", "www.example.org", "corp"),
        ("web/tenant", "pg.db.example.test", "corp"),
        ("web/long", LONG, "corp"),
    }
    reasons = {u["hostname"]: u["reason"] for u in unpublished}
    assert reasons["pg.db.example.test"] == "namespace web may not publish names under db.example.test"
    assert reasons[LONG].endswith("is 256 characters long; the provider takes at most 253")
    _, as_yaml, _ = plan(tmp_path, capsys, "-o", "yaml")
    assert yaml.safe_load(as_yaml)["unpublished"] == unpublished


def test_a_name_another_provider_holds_is_not_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    org = {
        "apiVersion": "dnslb.io/v1alpha1",
        "kind": "DNSProvider",
        "metadata": {"name": "org"},
        "spec": {"type": "inmemory", "zones": ["example.org"], "settings": {"zones": "example.org"}},
    }
    _, out, _ = plan(tmp_path, capsys, more=(org,))
    assert ["org", "example.org", "create", "www.example.org", "300", "A", "198.51.100.3"] in [
        line.split() for line in out.splitlines()
    ]
    # each provider is silent about the names the other holds (the controller would report them from both)
    assert "no managed zone holds this name" not in out
    assert "web/elsewhere" not in out[out.index("NOT PUBLISHED") :]


def test_nothing_refused_is_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "ok.yaml"
    manifest.write_text(yaml.safe_dump_all([*CONFIG, SERVICES[0]]))
    assert main(["plan", "-f", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "NOT PUBLISHED" not in out
