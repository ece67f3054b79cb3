"""Fault injection (failures, latency) and the request counters tests assert on."""

from __future__ import annotations

import threading
from collections import Counter


class Faults:
    """Thread-safe: tests set faults from their own thread while the server reads them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures_left = 0
        self._failure_status = 500
        self._latency = 0.0
        self._silence: tuple[frozenset[str], frozenset[str]] | None = None  # (verbs, resources); empty: any
        self._silenced_since = 0  # a generation: streams opened before a silence stay silent after it

    def silence(self, verbs: frozenset[str] = frozenset(), resources: frozenset[str] = frozenset()) -> None:
        """From now on, matching requests are accepted and never answered, and every matching watch stream that is
        open goes quiet for good (no events, no BOOKMARKs), as behind a connection that died without a FIN."""
        with self._lock:
            self._silence = (verbs, resources)
            self._silenced_since += 1

    def speak(self) -> None:
        """New requests are answered again; what was silenced stays silent."""
        with self._lock:
            self._silence = None

    def silent(self, verb: str, resource: str) -> bool:
        with self._lock:
            if self._silence is None:
                return False
            verbs, resources = self._silence
            return (not verbs or verb in verbs) and (not resources or resource in resources)

    @property
    def generation(self) -> int:
        with self._lock:
            return self._silenced_since

    def fail_next(self, n: int, status: int = 500) -> None:
        if n < 0 or not 400 <= status <= 599:
            raise ValueError(f"fail_next needs n >= 0 and a 4xx/5xx status, got n={n} status={status}")
        with self._lock:
            self._failures_left = n
            self._failure_status = status

    def take_failure(self) -> int | None:
        """The status the current request must fail with, if any (consumes one injected failure)."""
        with self._lock:
            if self._failures_left <= 0:
                return None
            self._failures_left -= 1
            return self._failure_status

    def set_latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"latency must be >= 0, got {seconds}")
        with self._lock:
            self._latency = seconds

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency


class RequestLog:
    """Requests received, counted by Kubernetes verb and resource: `"patch services/status": 3`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, verb: str, resource: str) -> None:
        with self._lock:
            self._counts[f"{verb} {resource}"] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def count(self, resource: str, *verbs: str) -> int:
        """Requests to `resource` (e.g. "services/status") with any of `verbs` (all verbs when none given)."""
        with self._lock:
            return sum(
                n
                for key, n in self._counts.items()
                if key.partition(" ")[2] == resource and (not verbs or key.partition(" ")[0] in verbs)
            )

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
