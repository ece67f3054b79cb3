"""The real `kubectl` against an API server URL (the double's, usually): a kubeconfig and a discovery cache of its
own, so nothing the user has configured is read or written.

    kubectl = Kubectl(api.url, tmp_path)
    print(kubectl("get", "addresspools", "-n", "dnslb-system"))   # stdout; a failure raises with kubectl's stderr
    (pools,) = parse_tables(kubectl("get", "pool", "-n", "dnslb-system"))   # [{"NAME": "web", "IN USE": "3", ...}]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml


class KubectlError(Exception):
    pass


class Kubectl:
    def __init__(self, url: str, directory: Path, *, timeout: float = 60.0) -> None:
        binary = shutil.which("kubectl")
        if binary is None:
            raise KubectlError("kubectl is not on PATH: `make test` installs Debian's kubernetes-client")
        self.binary = binary
        self.kubeconfig = directory / "kubeconfig"
        self._cache = directory / "kubectl-cache"
        self._timeout = timeout
        self._env = {**os.environ, "HOME": str(directory), "KUBECONFIG": str(self.kubeconfig)}
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "double", "cluster": {"server": url}}],
                    "users": [{"name": "nobody", "user": {}}],
                    "contexts": [{"name": "double", "context": {"cluster": "double", "user": "nobody"}}],
                    "current-context": "double",
                }
            )
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [self.binary, f"--cache-dir={self._cache}", *args]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=self._timeout, env=self._env, check=False
        )

    def __call__(self, *args: str) -> str:
        result = self.run(*args)
        if result.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        return result.stdout


def parse_tables(output: str) -> list[list[dict[str, str]]]:
    """`kubectl get`'s tables (one per kind, a blank line between), each as rows of header → cell ("" when blank)."""
    return [_rows(block.splitlines()) for block in output.strip().split("\n\n") if block.strip()]


def _rows(lines: list[str]) -> list[dict[str, str]]:
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]  # a header such as IN USE holds one space
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    names = [header[a:b].strip() for a, b in bounds]
    return [{name: line[a:b].strip() for name, (a, b) in zip(names, bounds, strict=True)} for line in lines[1:]]
