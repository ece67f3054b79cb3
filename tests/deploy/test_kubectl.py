"""deploy/ through kubectl itself: `kubectl kustomize` composes what tests/deploy/kustomize.py composes, and
`kubectl apply --dry-run=client -k` accepts every object.

These need the `kubectl` binary: `make test` installs Debian's `kubernetes-client` where none is on PATH, and without
one they fail. `kubectl apply`, even with
--dry-run=client, asks an API server which kinds exist and whether each object does: with KUBECONFIG set it asks
that cluster; otherwise a stand-in started here answers discovery for the kinds deploy/ uses and "not found" for
every object, so kubectl goes through its whole create path without a cluster. The stand-in serves no OpenAPI, so
against it kubectl's client-side schema check is off (--validate=false): tests/deploy/test_manifests.py validates
every object against the Kubernetes schemas instead. (Against a real cluster with --dry-run=client, kubectl skips
that check too, leaving it to the server, which a client dry run never reaches.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.kustomize import CONFIG, DEPLOY, Obj, build, by_kind, object_id

KUBECTL = shutil.which("kubectl")


@pytest.fixture(autouse=True)
def _kubectl_on_path() -> None:
    if KUBECTL is None:
        pytest.fail("kubectl is not on PATH: `make test` installs Debian's kubernetes-client")


# (apiVersion, kind) → (plural, namespaced) for the built-in kinds deploy/ uses; the CRDs add ours
BUILTIN = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Secret"): ("secrets", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("customresourcedefinitions", False),
}


def kubectl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.mark.parametrize("directory", [DEPLOY, CONFIG], ids=["deploy", "deploy/config"])
def test_kubectl_kustomize_composes_what_the_tests_validate(directory: Path) -> None:
    result = kubectl("kustomize", str(directory))
    assert result.returncode == 0, result.stderr
    theirs = {object_id(o): o for o in yaml.safe_load_all(result.stdout) if o}
    ours = {object_id(o): o for o in build(directory)}
    assert sorted(theirs) == sorted(ours)
    for key, obj in ours.items():
        assert theirs[key] == obj, key


class _Discovery:
    """The API a kubectl client dry run needs: discovery for `kinds`, 404 for every object; records other calls."""

    def __init__(self, kinds: dict[tuple[str, str], tuple[str, bool]]) -> None:
        self.kinds = kinds
        self.writes: list[str] = []

    def document(self, path: str) -> dict[str, Any] | None:
        versions: dict[str, list[dict[str, Any]]] = {}
        for (api_version, kind), (plural, namespaced) in self.kinds.items():
            entry = {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}  # fmt: skip
            versions.setdefault(api_version, []).append(entry)
        groups: dict[str, list[str]] = {}
        for api_version in versions:
            if "/" in api_version:
                group, version = api_version.split("/")
                groups.setdefault(group, []).append(version)
        if path == "/version":
            return {"major": "1", "minor": "32", "gitVersion": "v1.32.0-standin"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {"name": group, "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in vs],
                     "preferredVersion": {"groupVersion": f"{group}/{vs[0]}", "version": vs[0]}}
                    for group, vs in sorted(groups.items())
                ],
            }  # fmt: skip
        match = re.fullmatch(r"/api/(v1)|/apis/([^/]+/[^/]+)", path)
        if match:
            group_version = match.group(1) or match.group(2)
            if group_version in versions:
                return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                        "resources": versions[group_version]}  # fmt: skip
        return None

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                document = outer.document(self.path.split("?", 1)[0].rstrip("/"))
                if document is not None:
                    self._reply(200, document)
                else:
                    self._reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                      "reason": "NotFound", "code": 404, "message": "not found"})  # fmt: skip

            def _write(self) -> None:
                outer.writes.append(f"{self.command} {self.path}")
                self._reply(405, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 405})

            def do_POST(self) -> None:
                self._write()

            def do_PUT(self) -> None:
                self._write()

            def do_PATCH(self) -> None:
                self._write()

            def do_DELETE(self) -> None:
                self._write()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[dict[str, str], list[str], _Discovery | None]]:
    """(environment for kubectl, extra flags, the stand-in or None for a real cluster)."""
    env = {**os.environ, "HOME": str(tmp_path)}
    if os.environ.get("KUBECONFIG"):
        yield env, [], None
        return
    kinds = dict(BUILTIN)
    for crd in by_kind(build(DEPLOY), "CustomResourceDefinition"):
        spec = crd["spec"]
        for version in spec["versions"]:
            kinds[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = (
                spec["names"]["plural"],
                spec["scope"] == "Namespaced",
            )
    stand_in = _Discovery(kinds)
    server, url = stand_in.serve()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "stand-in", "cluster": {"server": url}}],
                "users": [{"name": "nobody", "user": {}}],
                "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "nobody"}}],
                "current-context": "stand-in",
            }
        )
    )
    env["KUBECONFIG"] = str(kubeconfig)
    yield env, ["--validate=false", f"--cache-dir={tmp_path / 'cache'}"], stand_in
    server.shutdown()


@pytest.mark.parametrize("directory", [DEPLOY, CONFIG], ids=["deploy", "deploy/config"])
def test_kubectl_apply_dry_run_client_accepts_every_object(
    directory: Path, api: tuple[dict[str, str], list[str], _Discovery | None]
) -> None:
    env, flags, stand_in = api
    result = kubectl("apply", "--dry-run=client", "-k", str(directory), *flags, env=env)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    objects: list[Obj] = build(directory)
    assert len(lines) == len(objects), result.stdout
    assert all(line.endswith("(dry run)") for line in lines), result.stdout
    if stand_in is not None:
        assert all(line.endswith(" created (dry run)") for line in lines)
        names = {line.split()[0].split("/", 1)[1] for line in lines}
        assert names == {o["metadata"]["name"] for o in objects}
        assert stand_in.writes == [], "a client dry run sends no write"
