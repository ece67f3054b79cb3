"""The house rules on imports: the processes that run in a cluster load no test kit and no lab, and the import
contracts (`make lint`) fail when a forbidden import is added."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
NOT_AT_RUNTIME = ("dnslb_testkit", "dnslb_lab", "pytest", "aiohttp", "matplotlib")


def loaded_modules(*argv: str) -> set[str]:
    """Every module `python -X importtime -m dnslb ARGV` imports."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dnslb", *argv],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return {m.group(1).strip() for m in re.finditer(r"^import time:.*\|(.*)$", result.stderr, re.M)}


@pytest.mark.parametrize(
    "argv",
    [("controller", "--help"), ("speaker", "--help"), ("dns", "rollback", "--help"), ("plan", "--help"), ("--help",)],
)
def test_the_runtime_commands_load_no_test_kit_and_no_lab(argv: tuple[str, ...]) -> None:
    modules = loaded_modules(*argv)
    assert "dnslb.app.controller" in modules or "dnslb.app.cli" in modules  # the measurement sees our imports
    loaded = sorted(m for m in modules if m.split(".")[0] in NOT_AT_RUNTIME)
    assert loaded == [], f"`dnslb {' '.join(argv)}` loaded {loaded}"


def test_dnslb_lab_loads_the_lab_only_when_it_runs() -> None:
    assert "dnslb_lab.main" in loaded_modules("lab", "--help")


def copy_of_the_tree(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    for name in ("dnslb", "dnslb_testkit", "dnslb_lab", "providers"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'providers'}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def add_import(module: Path, line: str) -> None:
    text = module.read_text()
    module.write_text(
        text.replace("from __future__ import annotations\n", f"from __future__ import annotations\n{line}\n", 1)
    )


KUBE, APP = "from dnslb.adapters.kube import informer", "from dnslb.app import controller"
FORBIDDEN = [
    ("dnslb/core/bgp/damping.py", "import socket", "dnslb.core is not allowed to import socket"),
    ("dnslb/core/ipam/allocator.py", "import kubernetes", "dnslb.core is not allowed to import kubernetes"),
    ("dnslb/core/dns/probe.py", KUBE, "dnslb.core is not allowed to import dnslb.adapters"),
    ("dnslb/adapters/kube/writer.py", APP, "dnslb.adapters is not allowed to import dnslb.app"),
    ("dnslb/adapters/exabgp/sink.py", KUBE, "dnslb.adapters.exabgp is not allowed to import dnslb.adapters.kube"),
    ("dnslb/app/speaker.py", "from dnslb_testkit import netns", "dnslb is not allowed to import dnslb_testkit"),
    (
        "providers/dnslb_route53/rate.py",
        "from dnslb.core import model",
        "dnslb_route53 is not allowed to import dnslb.core",
    ),
]


@pytest.mark.parametrize(("module", "line", "broken"), FORBIDDEN)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, line: str, broken: str) -> None:
    tree = copy_of_the_tree(tmp_path)
    target = tree / module
    if not target.exists():
        target.write_text('"""A new module."""\n\nfrom __future__ import annotations\n')
    add_import(target, line)
    result = lint_imports(tree)
    assert result.returncode != 0
    assert broken in " ".join(result.stdout.split()), result.stdout[-3000:]


def test_the_tree_as_it_is_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_tree(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
