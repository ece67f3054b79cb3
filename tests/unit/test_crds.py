"""deploy/crds is generated from the config models; the CRD schemas accept what the loader accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dnslb.core.config.crds import rendered
from dnslb.core.manifests import read_documents

ROOT = Path(__file__).parents[2]


def test_deploy_crds_match_the_models() -> None:
    on_disk = {p.name: p.read_text() for p in (ROOT / "deploy/crds").glob("*.yaml")}
    assert on_disk == rendered(), "deploy/crds drifted from dnslb/core/config/resources.py: run `make crds`"


def schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for text in rendered().values():
        crd = yaml.safe_load(text)
        out[crd["spec"]["names"]["kind"]] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return out


def test_crds_are_structural() -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            assert "$ref" not in node and "anyOf" not in node and "title" not in node, path
            if "properties" in node or "items" in node:
                assert "type" in node, f"{path} has no type"
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    for kind, schema in schemas().items():
        walk(schema, kind)


def test_example_config_validates_against_the_crds() -> None:
    by_kind = schemas()
    for document in read_documents("config.yaml", (ROOT / "examples/config.yaml").read_text()):
        jsonschema.Draft7Validator(by_kind[document.kind]).validate(document.body)


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("BGPPeer", {"myASN": 1, "peerASN": 2, "peerAddress": "10.0.0.1", "holdTime": 2}),
        ("BGPPeer", {"myASN": "1", "peerASN": 2, "peerAddress": "10.0.0.1"}),
        ("AddressPool", {"addresses": []}),
        ("DNSProvider", {"type": "rfc2136", "policy": "delete-all"}),
    ],
)
def test_the_crds_reject_what_the_loader_rejects(kind: str, spec: dict[str, Any]) -> None:
    body = {"apiVersion": "dnslb.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schemas()[kind]).validate(body)
    from dnslb.core.config import load_config

    _, errors = load_config(read_documents("x", yaml.safe_dump(body)))
    assert errors
