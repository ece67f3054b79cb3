"""Fixtures for the double's own suite; the Kubernetes fixtures (`target`, `api`, `client`, `core`, `custom`,
`coordination`, `discovery`) come from `dnslb_testkit.kubeapi.fixtures`: a fresh double in this process, or with
KUBECONFIG set, the real cluster for tests marked `cluster`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import kubernetes.client as k8s
import pytest


@pytest.fixture
def namespace(core: k8s.CoreV1Api) -> Iterator[str]:
    """A namespace of the test's own, deleted afterwards."""
    name = f"kt-{uuid.uuid4().hex[:10]}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    with contextlib.suppress(k8s.ApiException):
        core.delete_namespace(name)
