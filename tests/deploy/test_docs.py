"""What README.md tells an operator matches the code: its BIRD config parses with BIRD, its metrics table lists
exactly the metrics the processes export, and its overlay for pinning Secret names lands on the Secret rules."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
from pathlib import Path

import yaml

from tests.deploy.kustomize import DEPLOY, ROOT, build
from tests.deploy.rbac import Grant, grants

README = (ROOT / "README.md").read_text()
BIRD = "/usr/sbin/bird"


def code_blocks(after: str) -> list[str]:
    """The fenced blocks of README.md that follow the line containing `after` (up to the next heading)."""
    start = README.index(after)
    end = README.find("\n## ", start)
    section = README[start : end if end != -1 else None]
    return re.findall(r"```[a-z]*\n(.*?)```", section, re.DOTALL)


def test_the_bird_snippet_is_a_valid_bird_config(tmp_path: Path) -> None:
    assert os.path.exists(BIRD), "BIRD 2 is installed by `make test` (Debian bird2)"
    (snippet,) = [block for block in code_blocks("## The edge router") if "protocol bgp" in block]
    config = tmp_path / "bird.conf"
    config.write_text(snippet)
    result = subprocess.run([BIRD, "-p", "-c", str(config)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


def test_the_metrics_table_lists_every_metric_and_only_those() -> None:
    exported = set()
    for path in [*(ROOT / "dnslb").rglob("*.py"), *(ROOT / "providers").rglob("*.py")]:
        if "testing" not in path.parts:
            exported |= set(re.findall(r"\"(dnslb_[a-z_]+)\"", path.read_text()))
    start = README.index("## Metrics")
    table = README[start : README.index("\n## ", start + 1)]
    documented = set(re.findall(r"^\| `(dnslb_[a-z_]+)` \|", table, re.MULTILINE))
    assert documented == exported


def test_the_secret_pinning_overlay_patches_the_secret_rules(tmp_path: Path) -> None:
    (block,) = [b for b in code_blocks("## Security") if "resourceNames" in b]
    overlay = yaml.safe_load(block)
    overlay["resources"] = [os.path.relpath(DEPLOY, tmp_path)]
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    objects = build(tmp_path)
    for account, name in (("dnslb-controller", "corp-dns-tsig"), ("dnslb-speaker", "edge-bgp-password")):
        secret_grants = {g for g in grants(objects, "dnslb-system", account) if g.resource == "secrets"}
        assert secret_grants == {Grant("dnslb-system", "", "secrets", "get", (name,))}, account


def test_every_module_and_name_in_the_architecture_map_exists() -> None:
    """docs/architecture.md names modules as `core/ipam/decisions.py` and names in them as
    `adapters/exabgp/sink.ExaBGPSink` (relative to dnslb/): each must be there."""
    text = (ROOT / "docs/architecture.md").read_text()
    named = set(re.findall(r"`((?:core|adapters|app)/[\w/]+(?:\.py|\.\w+)?|provider\.\w+)`", text))
    named |= {m for m in re.findall(r"`((?:dnslb/)?(?:core|adapters|app)/[\w/]*)`", text)}
    assert len(named) > 30, named
    missing = []
    for reference in sorted(named):
        path, _, name = reference.removeprefix("dnslb/").partition(".")
        if name == "py" or not name:
            if not ((ROOT / "dnslb" / f"{path}.py").exists() or (ROOT / "dnslb" / path).is_dir()):
                missing.append(reference)
            continue
        module = importlib.import_module("dnslb." + path.replace("/", "."))
        if not hasattr(module, name):
            missing.append(reference)
    assert missing == []
