"""One version everywhere: the package, `dnslb --version`, the image the manifests run, the changelog's latest."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from dnslb import __version__
from tests.deploy.kustomize import ROOT


def test_the_package_the_cli_the_manifests_and_the_changelog_agree() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == declared
    dnslb = Path(sys.executable).with_name("dnslb")
    shown = subprocess.run([dnslb, "--version"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert shown.strip() == f"dnslb {declared}"
    images = [
        container["image"]
        for path in (ROOT / "deploy/controller.yaml", ROOT / "deploy/speaker.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") in ("Deployment", "DaemonSet")
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]
    assert images and set(images) == {f"dnslb:{declared}"}
    latest = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert latest is not None and latest.group(1) == declared
