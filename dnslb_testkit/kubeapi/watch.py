"""Watch streams: replay a kind's history from a revision, then follow it, as newline-delimited events.

Each stream reads the kind's shared, ordered history itself (rather than being pushed copies), so events reach
every watcher in revision order whatever thread committed them, and each event is serialized once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from dnslb_testkit.kubeapi.errors import ApiError
from dnslb_testkit.kubeapi.kinds import ResourceKind
from dnslb_testkit.kubeapi.lists import parse_resource_version
from dnslb_testkit.kubeapi.selectors import FieldSelector, LabelSelector
from dnslb_testkit.kubeapi.store import ADDED, DELETED, MODIFIED, Change, Store, StoredObject, dump, event_line

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_INITIAL_BATCH = 500


@dataclass(frozen=True)
class WatchRequest:
    kind: ResourceKind
    namespace: str | None
    label_selector: LabelSelector
    field_selector: FieldSelector
    field_paths: Mapping[str, str]
    resource_version: str = ""
    bookmarks: bool = False
    timeout: float | None = None
    send_initial_events: bool = False
    bookmark_interval: float = 60.0


Render = Callable[[str, StoredObject], bytes]  # (event type, object) → the event's line


class Watcher:
    """One open watch. Create, `open()` and iterate `chunks()` on the server's event loop; `close()` and
    `notify()` may be called from any thread. `render` makes each event's line (a Table's, say) instead of the
    object's own serialization."""

    def __init__(self, store: Store, request: WatchRequest, render: Render | None = None) -> None:
        self._store = store
        self.request = request
        self._render = render
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._closed = False
        self._cursor = 0
        self._initial: list[StoredObject] = []
        self._error: ApiError | None = None
        self.finished = asyncio.Event()
        self._unfiltered = request.label_selector.empty and not request.field_selector.requirements

    def open(self) -> None:
        """Subscribe and fix the starting point, atomically with respect to writes."""
        request = self.request
        raw_rv = request.resource_version
        with self._store.lock:
            if raw_rv in ("", "0") or request.send_initial_events:
                self._initial = [s for s in self._store.items(request.kind, request.namespace) if self._matches(s)]
                self._cursor = self._store.rv
            else:
                self._cursor = parse_resource_version(raw_rv)
                try:
                    self._store.check_not_expired(request.kind, self._cursor)
                except ApiError as error:
                    self._error = error
            self._store.subscribe(request.kind, self)

    def stop(self) -> None:
        with self._store.lock:
            self._store.unsubscribe(self.request.kind, self)
        self.finished.set()

    def notify(self) -> None:
        self._wake_up()

    def close(self) -> None:
        self._closed = True
        self._wake_up()

    def _wake_up(self) -> None:
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
            return
        with contextlib.suppress(RuntimeError):  # the server's loop is already closed
            self._loop.call_soon_threadsafe(self._wake.set)

    def _matches(self, stored: StoredObject) -> bool:
        request = self.request
        if request.namespace is not None and stored.key[0] != request.namespace:
            return False
        if self._unfiltered:
            return True
        return request.label_selector.matches(stored.labels) and request.field_selector.matches(
            stored.obj, request.field_paths
        )

    def _line(self, change: Change) -> bytes | None:
        """The event this watcher sees: with selectors, an object moving in or out is ADDED or DELETED."""
        now = self._matches(change.current)
        if change.type != MODIFIED:
            return self._event(change.type, change) if now else None
        before = change.previous is not None and self._matches(change.previous)
        if now and before:
            return self._event(MODIFIED, change)
        if now:
            return self._event(ADDED, change)
        if before:
            return self._event(DELETED, change)
        return None

    def _event(self, event_type: str, change: Change) -> bytes:
        if self._render is not None:
            return self._render(event_type, change.current)
        return change.line if event_type == change.type else event_line(event_type, change.current.raw)

    def _initial_event(self, stored: StoredObject) -> bytes:
        return self._render(ADDED, stored) if self._render is not None else event_line(ADDED, stored.raw)

    def _bookmark(self, annotations: Mapping[str, str] | None = None) -> bytes:
        metadata: dict[str, object] = {"resourceVersion": str(self._cursor)}
        if annotations:
            metadata["annotations"] = dict(annotations)
        kind = self.request.kind
        return event_line("BOOKMARK", dump({"kind": kind.kind, "apiVersion": kind.api_version, "metadata": metadata}))

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._error is not None:
            yield event_line("ERROR", dump(self._error.status()))
            return
        for start in range(0, len(self._initial), _INITIAL_BATCH):
            batch = self._initial[start : start + _INITIAL_BATCH]
            yield b"".join(self._initial_event(stored) for stored in batch)
        self._initial = []
        request = self.request
        if request.send_initial_events and request.bookmarks:
            yield self._bookmark({INITIAL_EVENTS_END: "true"})
        clock = self._loop.time
        deadline = clock() + request.timeout if request.timeout else None
        next_bookmark = clock() + request.bookmark_interval
        while not self._closed:
            self._wake.clear()
            with self._store.lock:
                try:
                    changes = self._store.changes_after(self.request.kind, self._cursor)
                except ApiError as error:
                    expired_line = event_line("ERROR", dump(error.status()))
                    changes = None
                else:
                    self._cursor = max(self._cursor, self._store.rv)
            if changes is None:
                yield expired_line
                return
            lines = [line for change in changes if (line := self._line(change)) is not None]
            if lines:
                yield b"".join(lines)
            moment = clock()
            if deadline is not None and moment >= deadline:
                return
            if request.bookmarks and moment >= next_bookmark:
                yield self._bookmark()
                next_bookmark = moment + request.bookmark_interval
            waits = [deadline - moment] if deadline is not None else []
            if request.bookmarks:
                waits.append(next_bookmark - moment)
            await self._sleep(min(waits) if waits else None)

    async def _sleep(self, seconds: float | None) -> None:
        if self._closed:
            return
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass
