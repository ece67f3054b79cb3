"""Fixtures for the controller suite: the API double in its own process, or a real cluster when KUBECONFIG is set.

The Kubernetes fixtures are the shared ones (`dnslb_testkit.kubeapi.fixtures`). With KUBECONFIG set, the tests marked
`cluster` run against that cluster (each in its own namespace, the CRDs from deploy/crds applied, its AddressPools
deleted afterwards); the rest keep using the double. Nothing is skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes.client as k8s
import pytest
import yaml
from kubernetes.client.rest import ApiException

from dnslb_testkit.kubeapi import KubeTarget
from tests.controller.harness import NAMESPACE, ControllerProcess, ensure_namespace

_CRDS = Path(__file__).parents[2] / "deploy/crds"


@pytest.fixture
def kube_in_child_process() -> bool:
    return True  # this suite has the double in a child process of its own


@pytest.fixture
def client(client: k8s.ApiClient, target: KubeTarget) -> Iterator[k8s.ApiClient]:
    """The shared client, with the controller's namespace; on a real cluster also the CRDs, and the test's
    AddressPools deleted afterwards."""
    core = k8s.CoreV1Api(client)
    ensure_namespace(core, NAMESPACE)
    if target.real_cluster:
        extensions = k8s.ApiextensionsV1Api(client)
        for path in sorted(_CRDS.glob("*.yaml")):
            try:
                extensions.create_custom_resource_definition(yaml.safe_load(path.read_text()))
            except ApiException as exc:
                if exc.status != 409:
                    raise
    yield client
    if target.real_cluster:
        custom = k8s.CustomObjectsApi(client)
        for pool in custom.list_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "addresspools")["items"]:
            if pool["metadata"].get("labels", {}).get("dnslb.io/test") == "controller":
                custom.delete_namespaced_custom_object(
                    "dnslb.io", "v1alpha1", NAMESPACE, "addresspools", pool["metadata"]["name"]
                )


@pytest.fixture
def ns(target: KubeTarget, client: k8s.ApiClient) -> Iterator[str]:
    """The namespace a test's Services live in: `default` on a fresh double, a new one on a real cluster."""
    core = k8s.CoreV1Api(client)
    name = f"dnslb-test-{uuid.uuid4().hex[:8]}" if target.real_cluster else "default"
    ensure_namespace(core, name)
    yield name
    if target.real_cluster:
        core.delete_namespace(name)


@pytest.fixture
def controller(target: KubeTarget, tmp_path: Path) -> Iterator[Callable[..., ControllerProcess]]:
    started: list[ControllerProcess] = []
    where = (
        ("--kubeconfig", os.environ["KUBECONFIG"])
        if target.double is None
        else ("--api-server", target.configuration.host)
    )

    def start(*extra: str, name: str = "controller") -> ControllerProcess:
        process = ControllerProcess(where, tmp_path, *extra, name=name)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
