"""Fixtures shared by the provider suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dnslb_testkit.ports import closed_port as held_closed


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 TCP port bound but not listening: connecting to it is refused for as long as the module runs."""
    with held_closed() as port:
        yield port
