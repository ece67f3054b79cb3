"""Every flag the manifests pass is one `dnslb controller --help` / `dnslb speaker --help` shows, with a value the
command accepts, and every `$(VAR)` in them is an env var of the container (the kubelet leaves unknown ones as
literal text)."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache

import pytest

from dnslb.app import cli
from tests.deploy.kustomize import DEPLOY, Obj, build, one

WORKLOADS = [("Deployment", "dnslb-controller", "controller"), ("DaemonSet", "dnslb-speaker", "speaker")]


@cache
def objects() -> list[Obj]:
    return build(DEPLOY)


@cache
def help_text(command: str) -> str:
    """What an operator sees, from the installed command."""
    result = subprocess.run(
        [sys.executable, "-m", "dnslb.app.cli", command, "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def container(kind: str, name: str) -> Obj:
    (main,) = one(objects(), kind, name)["spec"]["template"]["spec"]["containers"]
    found: Obj = main
    return found


@pytest.mark.parametrize(("kind", "name", "command"), WORKLOADS)
def test_every_flag_in_the_manifest_is_in_the_help(kind: str, name: str, command: str) -> None:
    args = container(kind, name)["args"]
    assert args[0] == command, "the first arg picks the process (the image's entrypoint is `dnslb`)"
    flags = [a.split("=", 1)[0] for a in args[1:]]
    assert flags and all(f.startswith("--") for f in flags), "write flags as --flag=value, one item each"
    shown = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text(command)))
    assert sorted(set(flags) - shown) == []


@pytest.mark.parametrize(("kind", "name", "command"), WORKLOADS)
def test_the_manifest_args_parse_and_reference_only_defined_env(kind: str, name: str, command: str) -> None:
    main = container(kind, name)
    defined = {e["name"] for e in main.get("env", [])}
    used = {m for a in main["args"] for m in re.findall(r"\$\((\w+)\)", a)}
    assert used <= defined, f"$(...) without an env entry: {sorted(used - defined)}"
    args = [re.sub(r"\$\((\w+)\)", "value-from-the-downward-api", a) for a in main["args"]]
    parsed = cli._parser().parse_args(args)  # exits (fails the test) on an unknown flag or a bad value
    assert parsed.run.__module__ == f"dnslb.app.{command}_main"
