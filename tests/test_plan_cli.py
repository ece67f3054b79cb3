"""`dnslb plan` as an operator runs it: the installed command, the example files, exit codes, output formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
EXAMPLES = [str(ROOT / "examples/config.yaml"), str(ROOT / "examples/services.yaml")]
DNSLB = str(Path(sys.executable).with_name("dnslb"))  # the console script installed beside this interpreter


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DNSLB, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)


def plan_args(*files: str) -> list[str]:
    return [part for f in files for part in ("-f", f)]


def test_examples_table() -> None:
    result = run("plan", *plan_args(*EXAMPLES))
    assert result.returncode == 1, result.stderr  # the example includes one invalid Service
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip() and "/" in line.split()[0]}
    assert rows["web/legacy-portal"].split()[1:4] == ["public", "198.51.100.7", "portal.example.test"]
    assert "kept" in rows["web/legacy-portal"]
    assert rows["ingress-nginx/ingress-nginx-controller"].split()[1:3] == ["public", "198.51.100.1"]
    assert rows["data/postgres"].split()[1:3] == ["internal", "10.200.0.1"]
    assert rows["monitoring/prometheus"].split()[2] == rows["monitoring/grafana"].split()[2]
    assert rows["web/api"].split()[2] == "198.51.100.2,2001:db8:100::"
    assert "ignored: type is ClusterIP" in rows["default/kubernetes"]
    assert (
        "refused: '10.200.0.300' is not an IP address [metadata.annotations[dnslb.io/load-balancer-ips]]"
        in (rows["data/broken"])
    )
    assert "POOL" in result.stdout and "internal  IPv4    3       346" in result.stdout
    # the DNS gate (publishWhen defaults to Announced): each name waits for a node to announce its VIP
    assert "DNSProvider corp-dns writes each name once a node announces its VIP (publishWhen: Announced)" in (
        result.stdout.splitlines()
    )


def test_a_provider_that_publishes_on_allocation_shows_no_gate(tmp_path: Path) -> None:
    config = (
        (ROOT / "examples/config.yaml").read_text().replace("policy: sync", "policy: sync\n  publishWhen: Allocated")
    )
    (tmp_path / "config.yaml").write_text(config)
    result = run("plan", *plan_args(str(tmp_path / "config.yaml"), EXAMPLES[1]), "-o", "json")
    data = json.loads(result.stdout)
    assert data["dns"] and all(d["after"] == "" for d in data["dns"])
    gated = json.loads(run("plan", *plan_args(*EXAMPLES), "-o", "json").stdout)
    after = {d["change"]: d["after"] for d in gated["dns"]}
    assert after["create pg.db.example.test 60 A 10.200.0.1"] == "a node announces 10.200.0.1"


def test_examples_json_and_yaml() -> None:
    as_json = run("plan", *plan_args(*EXAMPLES), "-o", "json")
    data = json.loads(as_json.stdout)
    by_name = {f"{s['namespace']}/{s['name']}": s for s in data["services"]}
    assert by_name["data/redis"]["ips"] == ["10.200.1.20"] and by_name["data/redis"]["status"] == "allocated"
    assert by_name["data/broken"]["field"] == "metadata.annotations[dnslb.io/load-balancer-ips]"
    assert by_name["data/broken"]["warnings"][0].startswith("metadata.annotations[dnslb.io/hostname]:")
    dns = {(d["provider"], d["change"]) for d in data["dns"]}
    assert ("corp-dns", "create api.example.test 300 AAAA 2001:db8:100::") in dns
    assert ("corp-dns", "create pg.db.example.test 60 A 10.200.0.1") in dns
    assert not any("broken" in change for _, change in dns)
    as_yaml = yaml.safe_load(run("plan", *plan_args(*EXAMPLES), "-o", "yaml").stdout)
    assert as_yaml == data


def test_all_valid_is_exit_zero_and_reads_stdin() -> None:
    services = yaml.safe_load((ROOT / "examples/services.yaml").read_text())
    services["items"] = [s for s in services["items"] if s["metadata"]["name"] != "broken"]
    result = run("plan", "-f", EXAMPLES[0], "-f", "-", stdin=yaml.safe_dump(services))
    assert result.returncode == 0, result.stdout + result.stderr


def test_invalid_config_is_exit_two_with_errors_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: dnslb.io/v1alpha1\nkind: AddressPool\nmetadata: {name: prod}\n"
        "spec: {addresses: [10.0.0.0/24, 10.0.1.0/24, 10.0.0.9-10.0.0.1]}\n"
    )
    result = run("plan", "-f", str(bad), "-f", EXAMPLES[1])
    assert result.returncode == 2
    assert f"error: {bad} document 1: AddressPool/prod spec.addresses[2]: '10.0.0.9-10.0.0.1' is reversed" in (
        result.stderr
    )


def test_unreadable_input_is_exit_two(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("a: [\n")
    assert run("plan", "-f", str(tmp_path / "x.yaml")).returncode == 2
    missing = run("plan", "-f", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2 and "missing.yaml" in missing.stderr


def test_help_on_every_command() -> None:
    assert "plan" in run("--help").stdout
    assert "Exit code: 0 all valid" in run("plan", "--help").stdout
