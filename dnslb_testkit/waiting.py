"""The one wait of tests and the lab: poll a condition until it holds, fail naming what was awaited.

    vip = wait_for(lambda: status_vip(core, "web"), 10, "a VIP for web")   # the truthy value the condition returned

To give up early (a process it depends on has died, say), let the condition raise; a child process's own readiness
is `Child.wait_ready`, which also fails with the tail of its log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from dnslb.adapters.child import poll_until

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | Literal[False] | None], timeout: float, what: str, *, interval: float = 0.05
) -> T:
    """Call `condition` every `interval` seconds until it returns something truthy, and return that (never None or
    False, which the return type says); `TimeoutError` naming `what` (and the last value seen) after `timeout`
    seconds."""
    value = poll_until(condition, timeout, interval=interval)
    if not value:
        raise TimeoutError(f"timed out after {timeout:g}s waiting for {what} (last: {value!r})")
    return value
