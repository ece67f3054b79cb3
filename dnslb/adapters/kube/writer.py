"""Writes to the API: Service status and config resource conditions (`StatusWriter`), and Events (`Recorder`).

Every write first asks `may_write()`; a controller that lost its lease stops writing at once. Events go out from
their own thread, as client-go's recorder sends them, so a slow Event never delays the next status write.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.rest import ApiException

from dnslb.adapters.kube.retry import with_retries
from dnslb.core import annotations as ann
from dnslb.core.config.resources import GROUP, VERSION
from dnslb.core.diagnostics import Diagnostic
from dnslb.core.objects import ObjectKey, ObjectRef

log = logging.getLogger(__name__)
CONTROLLER = "dnslb-controller"
SPEAKER = "dnslb-speaker"
_API_VERSIONS = {"Service": "v1", "Node": "v1", "Namespace": "v1", "EndpointSlice": "discovery.k8s.io/v1"}
_CLUSTER_SCOPED = ("Node", "Namespace")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NotLeader(Exception):
    """A write was asked for while this process does not hold the lease."""


def _guarded_write(
    what: str, call: Callable[[], Any], may_write: Callable[[], bool], on_error: Callable[[str, Exception], None]
) -> None:
    if not may_write():
        raise NotLeader(what)
    try:
        with_retries(call, what=what, on_error=lambda exc: on_error(what, exc))
    except ApiException as exc:
        if exc.status == 404:
            log.debug("%s: object is gone", what)
            return
        log.error("%s failed: HTTP %s %s", what, exc.status, (exc.body or exc.reason or "")[:300])


class StatusWriter:
    def __init__(
        self,
        core: CoreV1Api,
        custom: CustomObjectsApi,
        *,
        may_write: Callable[[], bool] = lambda: True,
        on_api_error: Callable[[str, Exception], None] = lambda what, exc: None,
    ) -> None:
        self._core = core
        self._custom = custom
        self._may_write = may_write
        self._on_api_error = on_api_error

    def write_status(self, key: ObjectKey, ips: tuple[str, ...], pool: str | None) -> None:
        # One patch through /status: for Services the API server resets only spec there, so the pool annotation
        # rides along and each Service costs one write.
        body = {
            "metadata": {"annotations": {ann.ALLOCATED_FROM_POOL: pool}},
            "status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in ips] or None}},
        }
        self._write(
            "patch service status",
            lambda: self._core.patch_namespaced_service_status(key.name, key.namespace, body),
        )
        log.info("status of %s: %s", key, ", ".join(ips) or "cleared", extra={"service": str(key), "pool": pool})

    def condition(self, plural: str, key: ObjectKey, generation: int | None, ok: bool, message: str) -> None:
        condition = {
            "type": "Accepted",
            "status": "True" if ok else "False",
            "reason": "Valid" if ok else "Invalid",
            "message": message[:32768],
            "lastTransitionTime": now(),
            **({"observedGeneration": generation} if generation is not None else {}),
        }
        body = {"status": {"conditions": [condition], **({"observedGeneration": generation} if generation else {})}}
        self._write(
            "patch config status",
            lambda: self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, key.namespace, plural, key.name, body
            ),
        )

    def _write(self, what: str, call: Callable[[], Any]) -> None:
        _guarded_write(what, call, self._may_write, self._on_api_error)


class Recorder:
    """Events on the objects diagnostics are about, each distinct message once per slot (by default the subject,
    reason, field and item: a repeat of what was last said there is not sent again)."""

    def __init__(
        self,
        core: CoreV1Api,
        *,
        component: str,
        may_write: Callable[[], bool] = lambda: True,
        on_api_error: Callable[[str, Exception], None] = lambda what, exc: None,
        instance: str = "",
    ) -> None:
        self._core = core
        self._component = component
        self._may_write = may_write
        self._on_api_error = on_api_error
        self._instance = instance or f"{socket.gethostname()}-{os.getpid()}"
        self._said: dict[tuple[object, ...], str] = {}
        self._lock = threading.Lock()
        self._events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(maxsize=10_000)
        self._sender = threading.Thread(target=self._send_events, name="events", daemon=True)
        self._sender.start()

    def close(self, timeout: float = 5.0) -> None:
        """Send the Events still queued (for at most `timeout`), then stop the sender."""
        self._events.put(None)
        self._sender.join(timeout)

    def record(self, diagnostic: Diagnostic, *, uid: str = "", slot: tuple[object, ...] | None = None) -> None:
        """An Event on `diagnostic.subject` (which must be set), unless this slot last said the same. Raises
        NotLeader when this process may not write."""
        subject = diagnostic.subject
        if subject is None:
            raise ValueError(f"a diagnostic about no object cannot become an Event: {diagnostic}")
        message = diagnostic.describe()
        slot = slot if slot is not None else (subject, diagnostic.reason, diagnostic.field, diagnostic.about)
        with self._lock:
            if self._said.get(slot) == f"{diagnostic.reason}:{message}":
                return
            self._said[slot] = f"{diagnostic.reason}:{message}"
        level = logging.WARNING if diagnostic.severity == "Warning" else logging.INFO
        log.log(level, "%s: %s: %s", subject, diagnostic.reason, message, extra={"reason": diagnostic.reason})
        if not self._may_write():
            raise NotLeader("create event")
        namespace, body = self._event(subject, diagnostic.severity, diagnostic.reason, message, uid)
        try:
            self._events.put_nowait((namespace, body))
        except queue.Full:
            log.warning("Event queue full; dropped %s for %s", diagnostic.reason, subject)

    def forget(self, slot: tuple[object, ...]) -> None:
        """Let the next message in this slot through even if it repeats the last one."""
        with self._lock:
            self._said.pop(slot, None)

    def _event(self, subject: ObjectRef, type_: str, reason: str, message: str, uid: str) -> tuple[str, dict[str, Any]]:
        stamp = now()
        key = subject.key
        cluster_scoped = subject.kind in _CLUSTER_SCOPED  # their Events live in "default"
        namespace = "default" if cluster_scoped else key.namespace
        body: dict[str, Any] = {
            "metadata": {"generateName": f"{key.name}.", "namespace": namespace},
            "involvedObject": {
                "kind": subject.kind,
                **({} if cluster_scoped else {"namespace": key.namespace}),
                "name": key.name,
                "apiVersion": _API_VERSIONS.get(subject.kind, f"{GROUP}/{VERSION}"),
                **({"uid": uid} if uid else {}),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "reportingInstance": self._instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        return namespace, body

    def _send_events(self) -> None:
        while (item := self._events.get()) is not None:
            try:
                _guarded_write(
                    "create event",
                    partial(self._core.create_namespaced_event, *item),
                    self._may_write,
                    self._on_api_error,
                )
            except NotLeader:
                pass
            except Exception as exc:
                log.warning("Event not sent: %s", exc)
