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
        "web/elsewhere",
        "  www.example.org (DNSProvider corp): no managed zone holds this name",
        "web/tenant",
        "  pg.db.example.test: namespace web may not publish names under db.example.test",
        "web/long",
        f"  {LONG} (DNSProvider corp): its ownership record name _dnslb._wildcard.{LONG[2:]} is 256 characters long; "
        "the provider takes at most 253",
    ]
    assert "create ok.example.test 300 A 198.51.100.1" in out  # the rest of a refused Service's names are published


def test_a_ttl_dnslb_cannot_use_costs_the_ttl_not_the_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = plan(tmp_path, capsys)
    assert "create ttl.example.test 300 A 198.51.100.2" in out and "create ttl2.example.test 300 A" in out
    assert "warning: metadata.annotations[dnslb.io/ttl]: TTL 0 is outside 1..604800 seconds; the default applies" in out


def test_json_and_yaml_list_service_hostname_provider_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = plan(tmp_path, capsys, "-o", "json")
    assert code == 3
    unpublished = json.loads(out)["unpublished"]
    assert {(u["object"], u["hostname"], u["provider"]) for u in unpublished} == {
        ("Service/web/second", "api.example.test", None),
        ("Service/web/elsewhere", "www.example.org", "corp"),
        ("Service/web/tenant", "pg.db.example.test", None),  # refused before any provider: it holds no name
        ("Service/web/long", LONG, "corp"),
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


def test_load_balancer_ip_with_a_load_balancer_ips_annotation_is_refused_in_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = service(
        "both", "both.example.test", "2026-01-01T00:00:00Z", **{"metallb.io/loadBalancerIPs": "198.51.100.7"}
    )
    both["spec"]["loadBalancerIP"] = "198.51.100.7"  # the same address: MetalLB refuses it all the same
    manifest = tmp_path / "both.yaml"
    manifest.write_text(yaml.safe_dump_all([*CONFIG, both]))
    code = main(["plan", "-f", str(manifest)])
    out = capsys.readouterr().out
    assert code == 1  # a Service without its VIP
    row = next(line for line in out.splitlines() if line.startswith("web/both"))
    assert row.split()[1:3] == ["-", "-"]  # no pool, no VIP
    assert row.endswith(
        "refused: '198.51.100.7' is set together with metadata.annotations[metallb.io/loadBalancerIPs] "
        "'198.51.100.7'; keep one (both are refused, even when they agree) [spec.loadBalancerIP]"
    )
    main(["plan", "-f", str(manifest), "-o", "json"])
    (planned,) = json.loads(capsys.readouterr().out)["services"]
    assert (planned["status"], planned["field"], planned["ips"]) == ("refused", "spec.loadBalancerIP", [])


def plan_one(tmp_path: Path, capsys: pytest.CaptureFixture[str], **annotations: str) -> tuple[int, str]:
    """`dnslb plan` of the config and one Service web/web (web.example.test) with these annotations."""
    manifest = tmp_path / "one.yaml"
    manifest.write_text(yaml.safe_dump_all([*CONFIG, service("web", "web.example.test", "2026-01-01T00:00:00Z",
                                                             **annotations)]))  # fmt: skip
    code = main(["plan", "-f", str(manifest)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("ttl", "published", "warning"),
    [
        ("1m30s", 90, None),
        ("90", 90, None),
        ("2h", 7200, None),
        ("soon", 300, "TTL 'soon' is neither whole seconds nor a duration like 1m30s; the default applies"),
        ("300ms", 300, "TTL 0 is outside 1..604800 seconds; the default applies"),
    ],
)
def test_ttl_takes_seconds_and_go_durations_and_a_bad_one_falls_back_to_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ttl: str, published: int, warning: str | None
) -> None:
    code, out = plan_one(tmp_path, capsys, **{"external-dns.alpha.kubernetes.io/ttl": ttl})
    assert f"create web.example.test {published} A 198.51.100.0" in out
    if warning is None:
        assert code == 0
    else:
        assert code == 3
        assert f"warning: metadata.annotations[external-dns.alpha.kubernetes.io/ttl]: {warning}" in out


def test_a_bad_bgp_annotation_costs_only_that_attribute_and_plan_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = {"dnslb.io/bgp-local-pref": "high", "dnslb.io/bgp-communities": "65000:1,junk"}
    code, out = plan_one(tmp_path, capsys, **annotations)
    assert code == 3
    assert "web/web  public  198.51.100.0  web.example.test  allocated" in out
    assert "create web.example.test 300 A 198.51.100.0" in out
    assert "warning: metadata.annotations[dnslb.io/bgp-local-pref]: 'high' is not a local preference" in out
    assert "warning: metadata.annotations[dnslb.io/bgp-communities]: " in out


def test_external_dns_target_on_a_service_is_not_used_and_plan_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = plan_one(tmp_path, capsys, **{"external-dns.alpha.kubernetes.io/target": "203.0.113.9"})
    assert code == 3
    assert "create web.example.test 300 A 198.51.100.0" in out and "203.0.113.9" in out.split("warning:")[1]
    assert (
        "warning: metadata.annotations[external-dns.alpha.kubernetes.io/target]: '203.0.113.9' is not used: dnslb "
        "publishes the Service's VIPs"
    ) in out
