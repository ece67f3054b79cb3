"""Fixtures for tests that drive a Kubernetes API with the real client.

Without KUBECONFIG every test gets a fresh double. With KUBECONFIG set, tests marked `cluster` run
against that cluster and the rest (fault hooks, double-specific ranges) are skipped.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes.client as k8s
import pytest

from dnslb.testing.kubeapi import KubeAPIControl, KubeTarget, kube_target, real_cluster_requested

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not real_cluster_requested():
        return
    skip = pytest.mark.skip(reason="runs against the Kubernetes API double only (KUBECONFIG is set)")
    for item in items:
        if item.path.is_relative_to(_HERE) and "cluster" not in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster_target() -> Iterator[KubeTarget | None]:
    """The real cluster for the whole session when KUBECONFIG is set, else None."""
    if not real_cluster_requested():
        yield None
        return
    with kube_target() as target:
        yield target


@pytest.fixture
def kube(cluster_target: KubeTarget | None) -> Iterator[KubeTarget]:
    if cluster_target is not None:
        yield cluster_target
        return
    with kube_target() as target:
        yield target


@pytest.fixture
def kubeapi(kube: KubeTarget) -> KubeAPIControl:
    """The double's fault hooks and counters; tests using them cannot run against a real cluster."""
    if kube.double is None:
        pytest.skip("needs the Kubernetes API double's fault hooks")
    return kube.double


@pytest.fixture
def api_client(kube: KubeTarget) -> Iterator[k8s.ApiClient]:
    client = kube.api_client()
    yield client
    client.close()


@pytest.fixture
def core(api_client: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api_client)


@pytest.fixture
def custom(api_client: k8s.ApiClient) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(api_client)


@pytest.fixture
def coordination(api_client: k8s.ApiClient) -> k8s.CoordinationV1Api:
    return k8s.CoordinationV1Api(api_client)


@pytest.fixture
def discovery_v1(api_client: k8s.ApiClient) -> k8s.DiscoveryV1Api:
    return k8s.DiscoveryV1Api(api_client)


@pytest.fixture
def namespace(core: k8s.CoreV1Api) -> Iterator[str]:
    """A namespace of the test's own, deleted afterwards."""
    name = f"kt-{uuid.uuid4().hex[:10]}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    with contextlib.suppress(k8s.ApiException):
        core.delete_namespace(name)
