"""`dnslb plan --live`: planned against what the providers hold now, read-only (nothing is ever written)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
import yaml

from dnslb.adapters.dnssync.plugins import create
from dnslb.app.cli import main
from dnslb.app.plan import ReadOnly, WouldWrite
from dnslb.provider import Change, RecordSet, Zone
from dnslb_testkit.kubeapi.target import KubeTarget

OURS = "heritage=dnslb,dnslb/owner=dnslb,dnslb/resource=service/web/"
# what the providers hold before the plan: ours (one stale, one no Service claims), a foreign name, another owner's
TEST_ZONE = [
    ["web.example.test", "A", 300, ["198.51.100.9"]],
    ["_dnslb.web.example.test", "TXT", 300, [OURS + "web"]],
    ["gone.example.test", "A", 300, ["198.51.100.50"]],
    ["_dnslb.gone.example.test", "TXT", 300, [OURS + "gone"]],
    ["legacy.example.test", "A", 3600, ["192.0.2.1"]],
    ["other.example.test", "A", 300, ["192.0.2.2"]],
    ["_dnslb.other.example.test", "TXT", 300, ["heritage=dnslb,dnslb/owner=other-cluster,dnslb/resource=service/x/y"]],
]
ORG_ZONE = [["www.example.org", "A", 300, ["192.0.2.3"]]]


def service(name: str, hostname: str, created: str, ingress: str = "") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": "web",
            "creationTimestamp": created,
            "annotations": {"dnslb.io/hostname": hostname},
        },
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ingress}] if ingress else []}},
    }


def provider(name: str, zone: str, zone_file: Path, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "dnslb.io/v1alpha1",
        "kind": "DNSProvider",
        "metadata": {"name": name},
        "spec": {"type": "inmemory", "settings": {"zones": zone, "zoneFile": str(zone_file)}, **spec},
    }


POOL = {
    "apiVersion": "dnslb.io/v1alpha1",
    "kind": "AddressPool",
    "metadata": {"name": "public"},
    "spec": {"addresses": ["198.51.100.0/24"]},
}
SERVICES = [
    service("web", "web.example.test", "2026-01-01T00:00:00Z", ingress="198.51.100.7"),
    service("legacy", "legacy.example.test", "2026-01-02T00:00:00Z"),
    service("other", "other.example.test", "2026-01-03T00:00:00Z"),
    service("www", "www.example.org", "2026-01-04T00:00:00Z"),
]


@pytest.fixture
def zones(tmp_path: Path) -> dict[str, Path]:
    files = {"test": tmp_path / "test-zone.json", "org": tmp_path / "org-zone.json"}
    files["test"].write_text(json.dumps({"example.test": TEST_ZONE}, indent=1))
    files["org"].write_text(json.dumps({"example.org": ORG_ZONE}, indent=1))
    return files


def manifests(tmp_path: Path, zones: dict[str, Path], *more: dict[str, Any]) -> str:
    corp = provider("corp", "example.test", zones["test"], takeover=True)
    strict = provider("strict", "example.org", zones["org"])
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all([POOL, corp, strict, *more, *SERVICES]))
    return str(path)


def dns_rows(out: str) -> list[str]:
    """The DNS change rows, columns joined by one space."""
    return [" ".join(line.split()) for line in out.splitlines() if line.startswith(("corp ", "strict "))]


def test_live_plan_shows_updates_takeover_and_refusals(
    tmp_path: Path, zones: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = {name: path.read_bytes() for name, path in zones.items()}
    code = main(["plan", "--live", "-f", manifests(tmp_path, zones)])
    out, err = capsys.readouterr()
    assert code == 3, err  # every Service got its VIP; two names would not be published
    assert "CHANGE (against the zones as read)" in out
    assert dns_rows(out) == [
        "corp example.test update legacy.example.test 300 A 198.51.100.0 (was 3600 A 192.0.2.1)",
        "corp example.test create _dnslb.legacy.example.test 300 TXT " + OURS + "legacy",
        "corp example.test update web.example.test 300 A 198.51.100.7 (was 300 A 198.51.100.9)",
        "corp example.test legacy.example.test 3600 A 192.0.2.1",  # taken over, saved for rollback
    ]
    assert "TAKEN OVER (replaced; saved for dnslb dns rollback)" in out
    assert out[out.index("NOT PUBLISHED") :].splitlines() == [
        "NOT PUBLISHED",
        "web/other",
        "  other.example.test (DNSProvider corp): owned by another dnslb (owner other-cluster)",
        "web/www",
        "  www.example.org (DNSProvider strict): A records dnslb does not own stand at this name; set takeover on the "
        "DNSProvider",
    ]
    assert "gone.example.test" not in out  # ours, claimed by no Service given: deleted only with --prune
    assert (
        "note: DNSProvider corp: 1 name(s) owned by dnslb are claimed by no object given; --prune plans their "
        "deletion (give every Service and source object of the cluster)"
    ) in err
    assert {name: path.read_bytes() for name, path in zones.items()} == before


def test_prune_plans_deleting_our_unclaimed_names(
    tmp_path: Path, zones: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = zones["test"].read_bytes()
    main(["plan", "--live", "--prune", "-f", manifests(tmp_path, zones), "-o", "json"])
    data = json.loads(capsys.readouterr().out)
    deletes = [(d["change"], d["previous"]) for d in data["dns"] if d["change"].startswith("delete")]
    assert deletes == [
        ("delete gone.example.test 300 A 198.51.100.50", None),
        ("delete _dnslb.gone.example.test 300 TXT " + OURS + "gone", None),
    ]
    assert data["replaced"] == [
        {"provider": "corp", "zone": "example.test", "record": "legacy.example.test 3600 A 192.0.2.1"}
    ]
    assert {(u["object"], u["provider"]) for u in data["unpublished"]} == {
        ("Service/web/other", "corp"),
        ("Service/web/www", "strict"),
    }
    assert data["live"] is True
    assert zones["test"].read_bytes() == before


def test_the_wrapped_provider_cannot_write(zones: dict[str, Path]) -> None:
    before = zones["test"].read_bytes()
    wrapped = ReadOnly(create("inmemory", {"zones": "example.test", "zoneFile": str(zones["test"])}, {}))
    zone = Zone("example.test", "example.test")
    with pytest.raises(WouldWrite):
        wrapped.apply(zone, [Change("create", RecordSet.of("new.example.test", "A", 300, ["192.0.2.9"]))])
    assert RecordSet.of("new.example.test", "A", 300, ["192.0.2.9"]) not in wrapped.records(zone)
    assert zones["test"].read_bytes() == before


class Forbidden(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(403)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"token expired")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    """A webhook DNS server that refuses every read."""
    server = HTTPServer(("127.0.0.1", 0), Forbidden)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_unreadable_provider_is_one_line_and_the_others_are_planned(
    tmp_path: Path, zones: dict[str, Path], webhook: str, capsys: pytest.CaptureFixture[str]
) -> None:
    refusing = {
        "apiVersion": "dnslb.io/v1alpha1",
        "kind": "DNSProvider",
        "metadata": {"name": "partner"},
        "spec": {"type": "webhook", "zones": ["example.net"], "settings": {"url": webhook}},
    }
    missing = {**refusing, "metadata": {"name": "nosuch"}, "spec": {"type": "nosuch"}}
    code = main(["plan", "--live", "-f", manifests(tmp_path, zones, refusing, missing)])
    out, err = capsys.readouterr()
    assert code == 4
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert errors[0].startswith("error: DNSProvider partner cannot be read: Unauthorized: ")
    assert "token expired" in errors[0]
    assert errors[1].startswith("error: DNSProvider nosuch cannot be read: ProviderError: no DNS provider 'nosuch'")
    assert "corp example.test update web.example.test 300 A 198.51.100.7 (was 300 A 198.51.100.9)" in dns_rows(out)
    assert "Traceback" not in err


def test_secrets_come_from_the_cluster_when_one_is_given(
    tmp_path: Path, zones: dict[str, Path], target: KubeTarget, core: k8s.CoreV1Api, capsys: pytest.CaptureFixture[str]
) -> None:
    corp = provider("corp", "example.test", zones["test"], takeover=True, secretRef={"name": "corp-creds"})
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump_all([POOL, corp, SERVICES[0]]))
    cluster = ["--api-server", target.configuration.host, "--namespace", "dnslb-system"]

    assert main(["plan", "--live", "-f", str(path), *cluster]) == 4
    err = capsys.readouterr().err
    assert "error: DNSProvider corp cannot be read: Secret dnslb-system/corp-creds: HTTP 404 Not Found" in err

    core.create_namespace({"metadata": {"name": "dnslb-system"}})
    core.create_namespaced_secret("dnslb-system", {"metadata": {"name": "corp-creds"}, "stringData": {"key": "x"}})
    assert main(["plan", "--live", "-f", str(path), *cluster]) == 0
    assert "update web.example.test 300 A 198.51.100.7" in capsys.readouterr().out

    assert main(["plan", "--live", "-f", str(path)]) == 0  # no cluster: the provider's default credentials
    note = "note: DNSProvider corp: Secret corp-creds not read (no --kubeconfig or --api-server); the provider uses"
    assert note in capsys.readouterr().err


def test_a_group_too_big_for_one_request_is_not_published(
    tmp_path: Path, zones: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    corp = provider("corp", "example.test", zones["test"], takeover=True, limits={"maxChanges": 1})
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump_all([POOL, corp, SERVICES[1]]))
    assert main(["plan", "--live", "-f", str(path)]) == 3
    out = capsys.readouterr().out
    assert (
        "  legacy.example.test (DNSProvider corp): DNSProvider corp: the records for this name exceeds one request: "
        "2 changes > 1; not sent"
    ) in out.splitlines()
    assert "DNS: no changes" in out


def test_live_options_need_live(tmp_path: Path, zones: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--prune", "-f", manifests(tmp_path, zones)]) == 2
    assert capsys.readouterr().err == "dnslb plan: --prune, --kubeconfig and --api-server need --live\n"
