"""Pytest fixtures for tests that drive a Kubernetes API with the real client; a plugin, registered with
`pytest_plugins = ["dnslb_testkit.kubeapi.fixtures"]` in a top-level conftest.py.

    def test_it(api: KubeAPIControl, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi) -> None: ...

Every test gets a fresh double (in this process; a suite that overrides `kube_in_child_process` to return True gets
one in a child process, which a test may outlive or kill). With KUBECONFIG set, the tests marked `cluster` run
against that cluster instead; the rest keep the double, whatever KUBECONFIG says. Nothing is skipped: a test marked
`cluster` that asks for `api`, the double's fault hooks, fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes.client as k8s
import pytest

from dnslb_testkit.kubeapi.target import KubeAPIControl, KubeTarget, kube_target, real_cluster_requested


@pytest.fixture
def kube_in_child_process() -> bool:
    """Whether the double runs in a child process; override it in a suite's conftest.py."""
    return False


@pytest.fixture
def bookmark_interval() -> float:
    """Seconds between the double's BOOKMARKs (a real server's: about a minute); parametrize it to change it."""
    return 60.0


@pytest.fixture(scope="session")
def cluster_target() -> Iterator[KubeTarget | None]:
    """The real cluster for the whole session when KUBECONFIG is set, else None."""
    if not real_cluster_requested():
        yield None
        return
    with kube_target() as target:
        yield target


@pytest.fixture
def target(
    request: pytest.FixtureRequest, kube_in_child_process: bool, bookmark_interval: float
) -> Iterator[KubeTarget]:
    """The API the test runs against: the real cluster for a test marked `cluster` when KUBECONFIG is set, else a
    fresh double."""
    if request.node.get_closest_marker("cluster") is not None:
        cluster: KubeTarget | None = request.getfixturevalue("cluster_target")  # connects only when asked for
        if cluster is not None:
            yield cluster
            return
    with kube_target(separate_process=kube_in_child_process, environ={}, bookmark_interval=bookmark_interval) as double:
        yield double


@pytest.fixture
def api(target: KubeTarget) -> KubeAPIControl:
    """The double's fault hooks and counters; a test using them must not be marked `cluster`."""
    if target.double is None:
        pytest.fail("a test marked `cluster` cannot use the API double's fault hooks")
    return target.double


@pytest.fixture
def client(target: KubeTarget) -> Iterator[k8s.ApiClient]:
    made = target.api_client()
    yield made
    made.close()


@pytest.fixture
def core(client: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(client)


@pytest.fixture
def custom(client: k8s.ApiClient) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(client)


@pytest.fixture
def coordination(client: k8s.ApiClient) -> k8s.CoordinationV1Api:
    return k8s.CoordinationV1Api(client)


@pytest.fixture
def discovery(client: k8s.ApiClient) -> k8s.DiscoveryV1Api:
    return k8s.DiscoveryV1Api(client)
