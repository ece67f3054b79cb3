"""Suite-wide rules."""

from __future__ import annotations

import os

import pytest

# the Kubernetes fixtures (target, api, client, core, custom, ...) the kubeapi, controller and speaker suites share
pytest_plugins = ["dnslb_testkit.kubeapi.fixtures"]


@pytest.fixture(autouse=True)
def _root_or_fail(request: pytest.FixtureRequest) -> None:
    """Tests marked `root` build network namespaces: without root they fail loudly, never skip (CI runs as root)."""
    if request.node.get_closest_marker("root") is not None and os.geteuid() != 0:
        pytest.fail("this test needs root for network namespaces; run `make test` as root (CI does)")
