"""`WatchRecorder`: run the client's `Watch().stream(...)` in a thread and collect what it yields."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import kubernetes.watch

_JOIN_TIMEOUT = 10.0


@dataclass(frozen=True)
class RecordedEvent:
    type: str
    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.raw.get("metadata", {}).get("name", ""))

    @property
    def resource_version(self) -> str:
        return str(self.raw.get("metadata", {}).get("resourceVersion", ""))


class WatchRecorder:
    """Records the events a real client watch sees, so tests can wait for them from the main thread.

    `error` holds what the stream raised (e.g. the client's ApiException 410); `ended` is set when the
    stream returned by itself (timeoutSeconds, or no resourceVersion to resume from).
    """

    def __init__(self, list_func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self._list_func = list_func
        self._args = args
        self._kwargs = kwargs
        self._watch = kubernetes.watch.Watch()
        self._lock = threading.Condition()
        self._events: list[RecordedEvent] = []
        self._thread = threading.Thread(target=self._run, name="watch-recorder", daemon=True)
        self._stopping = False
        self.error: BaseException | None = None
        self.ended = threading.Event()

    def _run(self) -> None:
        try:
            for event in self._watch.stream(self._list_func, *self._args, **self._kwargs):
                with self._lock:
                    self._events.append(RecordedEvent(event["type"], event["raw_object"]))
                    self._lock.notify_all()
        except BaseException as error:  # reported to the test through `error`
            if not self._stopping:
                self.error = error
        finally:
            self.ended.set()
            with self._lock:
                self._lock.notify_all()

    def start(self) -> WatchRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._watch.stop()
        self._thread.join(_JOIN_TIMEOUT)

    def __enter__(self) -> WatchRecorder:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def events(self) -> list[RecordedEvent]:
        with self._lock:
            return list(self._events)

    def wait_for(self, predicate: Callable[[list[RecordedEvent]], bool], timeout: float = 5.0) -> list[RecordedEvent]:
        """Wait until `predicate(events)` holds; raise TimeoutError (with what was seen) if it does not."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self._events):
                left = deadline - time.monotonic()
                if left <= 0 or self.ended.is_set():
                    seen = [(e.type, e.name) for e in self._events]
                    raise TimeoutError(f"watch ended={self.ended.is_set()} error={self.error!r}; events: {seen}")
                self._lock.wait(left)
            return list(self._events)

    def wait_for_events(self, count: int, timeout: float = 5.0) -> list[RecordedEvent]:
        return self.wait_for(lambda events: len(events) >= count, timeout)
