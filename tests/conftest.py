"""Suite-wide rules."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from dnslb_testkit.servers.route53_strict import Limits, StrictRoute53

# the Kubernetes fixtures (target, api, client, core, custom, ...) the kubeapi, controller and speaker suites share
pytest_plugins = ["dnslb_testkit.kubeapi.fixtures"]

# the suite runs on busy machines: a property test is judged by its examples, never by how long one took
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


@pytest.fixture(autouse=True)
def _root_or_fail(request: pytest.FixtureRequest) -> None:
    """Tests marked `root` build network namespaces: without root they fail loudly, never skip (CI runs as root)."""
    if request.node.get_closest_marker("root") is not None and os.geteuid() != 0:
        pytest.fail("this test needs root for network namespaces; run `make test` as root (CI does)")


@pytest.fixture(scope="module")
def strict_route53_server() -> Iterator[StrictRoute53]:
    """The strict Route53 server (moto behind Route53's throttling, quotas and exact change semantics), per module."""
    with StrictRoute53(limits=Limits(rate=None)) as server:
        yield server


@pytest.fixture
def strict(strict_route53_server: StrictRoute53) -> StrictRoute53:
    """The strict Route53 server, empty and unthrottled (a test turns throttling on with `set_limits`)."""
    strict_route53_server.reset()
    strict_route53_server.set_limits(Limits(rate=None))
    return strict_route53_server
