"""List+watch of one resource into a cache of plain dicts, with relist on 410 Gone and backoff on errors.

Nothing waits forever, as in client-go: each watch asks the server to end it after a jittered 5 to 10 minutes, and the
client gives up on a stream that stays silent (no event, no BOOKMARK) for `idle_seconds`; lists and watches after
an error back off from 0.8 s to 30 s with jitter, so many processes do not relist at once. Lists are consistent and
paged (500 objects a page unless told): a `resourceVersion=0` list would be served from the watch cache, but in one
piece (the server ignores `limit` there), and 30,000 EndpointSlices in one response cost a speaker some hundred
megabytes it never gives back; from Kubernetes 1.31 consistent lists come from the watch cache anyway.

Objects stay the JSON the API sent (no client model classes): the core reads them through `model.service_view` and
the config loader, and skipping deserialisation keeps a 10,000-Service relist cheap. The watch stream is read with
the client's own line iterator; `kubernetes.watch.Watch(deserialize=False)` cannot be used, as it fails on the
in-stream 410 ERROR event it is meant to survive.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import random
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

Obj = dict[str, Any]
Key = tuple[str, str]
OnChange = Callable[[Key, Obj | None, Obj | None], None]

log = logging.getLogger(__name__)
_FIRST_BACKOFF = 0.8
_LIBC = ctypes.CDLL(None)


class Expired(Exception):
    """The resourceVersion we watch from is older than the server's history: relist."""


def object_key(obj: Obj) -> Key:
    metadata = obj.get("metadata") or {}
    return (metadata.get("namespace") or "", metadata.get("name") or "")


def _keyed(obj: Any) -> bool:
    """Whether `obj` can be cached at all: an object with a name. A real server never sends anything else, but one
    that did must cost that object, not the whole list."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("name"), str)
        and isinstance(metadata.get("namespace", ""), str | None)
    )


class Informer:
    """Keeps its cache equal to the server's list of one resource and reports every change to its subscribers.

    Each subscriber `(key, old, new)` is called from the informer's thread: new None means deleted, old None means
    added. `transform` trims each object before it is cached, so the cache holds only what its readers use; an
    object it turns into None is of no interest and is not kept (as if deleted, when it was kept before).
    """

    def __init__(
        self,
        name: str,
        lister: Callable[..., Any],
        *,
        page_size: int = 500,
        watch_seconds: int = 300,
        idle_seconds: float = 90.0,
        connect_seconds: float = 5.0,
        max_backoff: float = 30.0,
        transform: Callable[[Obj], Obj | None] = lambda obj: obj,
    ) -> None:
        self.name = name
        self._transform = transform
        self._lister = lister
        self._subscribers: list[OnChange] = []
        self._page_size = page_size
        self._watch_seconds = watch_seconds
        self._idle_seconds = idle_seconds
        self._connect_seconds = connect_seconds
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._cache: dict[Key, Obj] = {}
        self._response: Any = None
        self._stopping = threading.Event()
        self._relist_requested = threading.Event()
        self.synced = threading.Event()
        self.relists = 0

    def subscribe(self, on_change: OnChange) -> None:
        """Hear every change from now on; subscribe before `run`, or the initial list goes unheard."""
        self._subscribers.append(on_change)

    def _changed(self, key: Key, old: Obj | None, new: Obj | None) -> None:
        for on_change in self._subscribers:
            on_change(key, old, new)

    def _trim(self, obj: Obj) -> Obj | None:
        """The transform must not stop the informer for one odd object: keep that one as it came."""
        try:
            return self._transform(obj)
        except Exception as exc:
            log.warning("%s: could not trim %s (%s); kept whole", self.name, object_key(obj), exc)
            return obj

    def get(self, key: Key) -> Obj | None:
        with self._lock:
            return self._cache.get(key)

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._cache.values())

    def stop(self) -> None:
        """Stop watching; returns at once. Closing the stream from here would wait for the watch thread's read to
        return (the buffered reader is locked while it reads), up to the next event or BOOKMARK: shutting the socket
        down wakes that read instead, and the watch thread closes the stream itself."""
        self._stopping.set()
        self._interrupt_watch()

    def resync(self) -> None:
        """Relist now, on a fresh request, instead of waiting for the watch: after a network partition the watch's
        connection can lag many seconds behind TCP's retransmission backoff. `relists` counts completed lists."""
        self._relist_requested.set()
        self._interrupt_watch()

    def _interrupt_watch(self) -> None:
        response = self._response
        sock = getattr(getattr(response, "connection", None), "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        backoff = _FIRST_BACKOFF
        resource_version = ""
        while not self._stopping.is_set():
            if self._relist_requested.is_set():
                self._relist_requested.clear()
                resource_version = ""
            try:
                if not resource_version:
                    resource_version = self._relist()
                    self.synced.set()
                resource_version = self._watch(resource_version)
                backoff = _FIRST_BACKOFF
            except Expired:
                log.info("%s: watch expired, relisting", self.name)
                resource_version = ""
            except Exception as exc:
                if self._stopping.is_set():
                    break
                if self._relist_requested.is_set():  # resync() cut the watch short on purpose
                    continue
                log.warning("%s: list/watch failed: %s; retrying in %.1fs", self.name, _describe(exc), backoff)
                self._stopping.wait(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self._max_backoff)
                if isinstance(exc, ApiException) and exc.status == 410:
                    resource_version = ""

    def _relist(self) -> str:
        fresh: dict[Key, Obj] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": self._page_size, "_preload_content": False}
            if token:
                kwargs["_continue"] = token
            response = self._lister(**kwargs)
            page = json.loads(response.data)
            for item in page.get("items") or []:
                if not _keyed(item):
                    log.warning("%s: skipped an object without a readable name: %.200r", self.name, item)
                    continue
                trimmed = self._trim(item)
                if trimmed is not None:
                    fresh[object_key(item)] = trimmed
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                resource_version = str((page.get("metadata") or {}).get("resourceVersion") or "")
                break
        self.relists += 1
        del page, response
        _give_back_memory()
        with self._lock:
            old, self._cache = self._cache, fresh
        for key, obj in fresh.items():
            previous = old.get(key)
            if previous is None or _rv(previous) != _rv(obj):
                self._changed(key, previous, obj)
        for key, obj in old.items():
            if key not in fresh:
                self._changed(key, obj, None)
        return resource_version

    def _watch(self, resource_version: str) -> str:
        response = self._lister(
            watch=True,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=int(self._watch_seconds * (1 + random.random())),
            _preload_content=False,
            _request_timeout=(self._connect_seconds, self._idle_seconds),  # a silent stream ends here
        )
        self._response = response
        try:
            for event in _events(response):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Expired()
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                resource_version = _rv(obj) or resource_version
                if kind == "BOOKMARK":
                    continue
                if not _keyed(obj):
                    log.warning("%s: skipped an object without a readable name: %.200r", self.name, obj)
                    continue
                key = object_key(obj)
                kept = None if kind == "DELETED" else self._trim(obj)
                with self._lock:
                    previous = self._cache.get(key)
                    if kept is None:
                        self._cache.pop(key, None)
                    else:
                        self._cache[key] = kept
                if previous is not None or kept is not None:
                    self._changed(key, previous, kept)
        finally:
            self._response = None
            response.close()
            response.release_conn()
        return resource_version


def _give_back_memory() -> None:
    """Return the heap pages the list's responses left free to the system. glibc keeps them (the long-lived trimmed
    objects sit between them), so a relist of 30,000 EndpointSlices would cost a speaker a few more megabytes each
    time; elsewhere than glibc this does nothing."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _events(response: Any) -> Iterator[Obj]:
    for line in iter_resp_lines(response):
        if line and not line.isspace():
            yield json.loads(line)


def _rv(obj: Any) -> str:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return str(metadata.get("resourceVersion") or "") if isinstance(metadata, dict) else ""


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return f"{type(exc).__name__}: {exc}"
