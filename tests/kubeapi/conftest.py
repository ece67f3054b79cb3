"""Fixtures for tests that drive a Kubernetes API with the real client.

Every test gets a fresh double, except that with KUBECONFIG set the tests marked `cluster` run against that
cluster; the rest (fault hooks, double-specific ranges) keep running against the double. Nothing is skipped.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import kubernetes.client as k8s
import pytest

from dnslb_testkit.kubeapi import KubeAPIControl, KubeTarget, kube_target, real_cluster_requested


@pytest.fixture(scope="session")
def cluster_target() -> Iterator[KubeTarget | None]:
    """The real cluster for the whole session when KUBECONFIG is set, else None."""
    if not real_cluster_requested():
        yield None
        return
    with kube_target() as target:
        yield target


@pytest.fixture
def kube(request: pytest.FixtureRequest) -> Iterator[KubeTarget]:
    if request.node.get_closest_marker("cluster") is not None:
        cluster: KubeTarget | None = request.getfixturevalue("cluster_target")  # connects only when asked for
        if cluster is not None:
            yield cluster
            return
    with kube_target(environ={}) as target:  # the double, whatever KUBECONFIG says
        yield target


@pytest.fixture
def kubeapi(kube: KubeTarget) -> KubeAPIControl:
    """The double's fault hooks and counters; a test using them must not be marked `cluster`."""
    if kube.double is None:
        pytest.fail("a test marked `cluster` cannot use the API double's fault hooks")
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
