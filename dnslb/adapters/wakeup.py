"""The alarm of a level-triggered loop: other threads `mark` what changed; the loop waits until something is marked,
its own deadline passes or it is closed, then takes everything marked at once (a burst of 1,000 marks is one pass).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Wake(Generic[K]):
    marked: bool  # False: woken by the deadline or by `close`
    items: frozenset[K]
    since: float | None  # when the first of these marks came, on the loop's clock


class Wakeup(Generic[K]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._condition = threading.Condition()
        self._marked = False
        self._items: set[K] = set()
        self._since: float | None = None
        self._closed = False

    def mark(self, *items: K) -> None:
        with self._condition:
            self._marked = True
            self._items.update(items)
            if self._since is None:
                self._since = self._clock()
            self._condition.notify_all()

    def close(self) -> None:
        """Wake the loop for good: every `wait` from now returns at once."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> bool:
        """Whether something is marked (or the alarm closed), without taking it."""
        return self._marked or self._closed

    def wait(self, timeout: float | None = None) -> Wake[K]:
        """Block until marked, closed or `timeout` seconds (None: no deadline); take and clear what was marked."""
        with self._condition:
            if not self._marked and not self._closed:
                self._condition.wait(timeout)
            wake = Wake(self._marked, frozenset(self._items), self._since)
            self._marked, self._items, self._since = False, set(), None
            return wake
