"""Pacing requests to a provider account: a token bucket below the provider's rate, shared by every DNSProvider that
uses the account, with writes ahead of reads.

A provider's own limit (Route53: 5 requests/s per account) is a token bucket on its side; we refill ours at a share of
that rate (`HEADROOM`), so dnslb alone never runs into it. A read of a zone page waits until a token would still be
left after it (`_RESERVE`), so a write that comes while a long read goes on finds one at once. When the provider
throttles anyway (another client on the account), `hold` empties the bucket and stops everyone for the time it asks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

HEADROOM = 0.8
_RESERVE = 1.0  # tokens a read leaves in the bucket for writes


class Pacer:
    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`rate`: the provider's requests per second (None: no limit)."""
        self.rate = rate * HEADROOM if rate else None
        self._burst = max(1.0, self.rate or 1.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self._burst
        self._updated = clock()
        self._held_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, for metrics

    def take(self, *, write: bool) -> None:
        """Return when one more request may go out, and count it as sent."""
        if self.rate is None:
            return
        needed = 1.0 if write else 1.0 + min(_RESERVE, self._burst - 1.0)
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                wait = max(self._held_until - now, (needed - self._tokens) / self.rate)
                if wait <= 0:
                    self._tokens -= 1.0
                    return
            self.waited += wait
            self._sleep(wait)

    def hold(self, seconds: float) -> None:
        """The provider throttled us: no request for `seconds`, then start again from an empty bucket."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens = 0.0
            self._held_until = max(self._held_until, now + seconds)

    def _refill(self, now: float) -> None:
        assert self.rate is not None
        start = max(self._updated, self._held_until) if now >= self._held_until else now
        self._tokens = min(self._burst, self._tokens + max(0.0, now - start) * self.rate)
        self._updated = now
