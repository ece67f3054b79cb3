"""`dnslb plan` reads config as the controller does: only from the controller's namespace, and a Service whose pool
is invalid is told the pool's error, not that the pool does not exist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnslb.app.cli import main


def pool(name: str, addresses: list[str], namespace: str | None = None) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "dnslb.io/v1alpha1", "kind": "AddressPool", "metadata": metadata,
            "spec": {"addresses": addresses}}  # fmt: skip


def service(name: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "web", "creationTimestamp": "2026-01-01T00:00:00Z",
                         "annotations": annotations},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]}}  # fmt: skip


def plan(tmp_path: Path, capsys: pytest.CaptureFixture[str], *docs: dict[str, Any], ns: str = "") -> Any:
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    code = main(["plan", "-f", str(path), "-o", "json", *(("--namespace", ns) if ns else ())])
    out, err = capsys.readouterr()
    return code, {f"{s['namespace']}/{s['name']}": s for s in json.loads(out)["services"]}, err


def test_config_outside_the_controllers_namespace_is_ignored_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = (
        pool("public", ["198.51.100.0/30"], "dnslb-system"),
        pool("public", ["203.0.113.0/30"], "metallb-system"),  # same name elsewhere: not merged, not a duplicate
        service("web"),
    )
    code, services, err = plan(tmp_path, capsys, *docs)
    assert code == 0, err
    assert services["web/web"]["ips"] == ["198.51.100.0"]
    assert (
        "skipped AddressPool in namespace metallb-system; the controller reads its config from dnslb-system only" in err
    )
    # the controller of another namespace reads the other one
    code, services, err = plan(tmp_path, capsys, *docs, ns="metallb-system")
    assert services["web/web"]["ips"] == ["203.0.113.0"]


def test_a_service_of_an_invalid_pool_is_told_the_pools_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = (
        pool("public", ["198.51.100.0/30"]),
        pool("private", ["10.0.0.9-10.0.0.1"]),
        service("web"),
        service("db", **{"dnslb.io/address-pool": "private"}),
    )
    code, services, err = plan(tmp_path, capsys, *docs)
    assert code == 2 and "AddressPool/private" in err  # the invalid pool is an error of the input
    assert services["web/web"]["ips"] == ["198.51.100.0"]
    db = services["web/db"]
    assert db["status"] == "refused"
    assert db["reason"].startswith("AddressPool 'private' is invalid: spec.addresses[0]: ")
    assert "reversed" in db["reason"]
