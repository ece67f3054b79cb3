"""The speaker's one status object: a NodeAnnouncement named after its node, written from its own thread.

What the speaker publishes is written when it changed, on average at most once every `interval` seconds however fast
it changes, so 1,000 Services churning cost each node one write per interval, not one per Service. After a quiet
spell up to `BURST` writes go at once (a token bucket): a new VIP's first announcement reaches the API — and the DNS
gate — without waiting out an interval spent on a session coming up. The object is
created on the first write, owned by the Node (deleted with it); a failed write is retried with backoff, and a
process stopping writes what it has last (its sessions going down) once more, within a bounded time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client import CustomObjectsApi
from kubernetes.client.rest import ApiException

from dnslb.core.config.resources import GROUP, VERSION

log = logging.getLogger(__name__)

KIND = "NodeAnnouncement"
PLURAL = "nodeannouncements"
_LONGEST_RETRY = 60.0
BURST = 3  # writes that may go back to back after a quiet spell


class NodeStatusWriter:
    def __init__(
        self,
        custom: CustomObjectsApi,
        namespace: str,
        node: str,
        *,
        node_uid: Callable[[], str] = lambda: "",
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_write: Callable[[], None] = lambda: None,
    ) -> None:
        """`node_uid()`: the Node's uid for the owner reference ("" while unknown: the object is created without
        one); `on_write` is called after each successful write (a metric)."""
        self._custom = custom
        self._namespace = namespace
        self._node = node
        self._node_uid = node_uid
        self._interval = interval
        self._clock = clock
        self._on_write = on_write
        self._lock = threading.Condition()
        self._wanted: dict[str, Any] | None = None
        self._written: dict[str, Any] | None = None
        self._tokens = float(BURST)  # writes that may go now; one comes back every `interval`
        self._filled_at = clock()
        self._failures = 0
        self._retry_at = 0.0
        self._exists = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="node-status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def publish(self, status: dict[str, Any]) -> None:
        """The status the object should have; returns at once."""
        with self._lock:
            if status != self._wanted:
                self._wanted = status
                self._lock.notify_all()

    def stop(self, timeout: float = 2.0) -> None:
        """Write what was last published if it is not written yet (bounded by `timeout`), then stop."""
        with self._lock:
            self._stopping = True
            self._tokens, self._filled_at, self._retry_at = float(BURST), self._clock(), 0.0
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _due(self) -> float | None:
        """Seconds until a write may go (0: now), None when nothing is to be written."""
        if self._wanted is None or self._wanted == self._written:
            return None
        now = self._clock()
        at = max(now + max(0.0, 1.0 - self._tokens_now()) * self._interval, self._retry_at)
        return max(0.0, at - now)

    def _tokens_now(self) -> float:
        return min(float(BURST), self._tokens + (self._clock() - self._filled_at) / self._interval)

    def _run(self) -> None:
        while True:
            with self._lock:
                while (due := self._due()) != 0.0:
                    if self._stopping and due is None:
                        return
                    self._lock.wait(due)
                wanted = self._wanted
                assert wanted is not None
            try:
                self._write(wanted)
            except Exception as exc:  # the API may be away for a while: keep the latest, try again later
                with self._lock:
                    self._failures += 1
                    pause = min(_LONGEST_RETRY, 2.0 ** min(self._failures, 6))
                    self._retry_at = self._clock() + pause
                    stopping = self._stopping
                log.warning("NodeAnnouncement %s: write failed (%s); retrying in %.0fs", self._node, _short(exc), pause)
                if stopping:
                    return
                continue
            with self._lock:
                self._tokens, self._filled_at = self._tokens_now() - 1.0, self._clock()
                self._written, self._failures = wanted, 0
            self._on_write()

    def _write(self, status: dict[str, Any]) -> None:
        if not self._exists:
            self._create()
        try:
            self._patch(status)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self._exists = False  # deleted behind us: make it again
            self._create()
            self._patch(status)
        log.info(
            "NodeAnnouncement %s: sessions up %s, %d VIP(s) announced, %d withheld",
            self._node,
            status.get("sessionsUp"),
            status.get("announcedCount", 0),
            status.get("withheldCount", 0),
        )

    def _create(self) -> None:
        metadata: dict[str, Any] = {"name": self._node, "labels": {"app.kubernetes.io/managed-by": "dnslb-speaker"}}
        uid = self._node_uid()
        if uid:
            metadata["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self._node, "uid": uid}]
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "metadata": metadata, "spec": {}}
        try:
            self._custom.create_namespaced_custom_object(GROUP, VERSION, self._namespace, PLURAL, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
        self._exists = True

    def _patch(self, status: dict[str, Any]) -> None:
        self._custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, self._namespace, PLURAL, self._node, {"status": status}
        )


def _short(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {(exc.reason or '')[:200]}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"
