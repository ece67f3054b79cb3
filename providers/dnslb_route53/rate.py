"""A client-side request rate limit: at most `requests` in any `per_seconds` window, waiting as needed."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        requests: int,
        per_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests < 1:
            raise ValueError("a rate limit needs at least one request per window")
        self._window = per_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque(maxlen=requests)
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Return when one more request may go out, and count it as sent now."""
        with self._lock:
            if len(self._sent) == self._sent.maxlen:
                delay = self._sent[0] + self._window - self._clock()
                if delay > 0:
                    self._sleep(delay)
            self._sent.append(self._clock())
