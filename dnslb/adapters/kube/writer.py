"""Writes the controller's decisions to the API: Service status, Events, config resource conditions.

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
from dnslb.core.ipam.decisions import Action, ClearStatus, Event, WriteStatus
from dnslb.core.model import ObjectKey

log = logging.getLogger(__name__)
COMPONENT = "dnslb-controller"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NotLeader(Exception):
    """A write was asked for while this process does not hold the lease."""


class Writer:
    def __init__(
        self,
        core: CoreV1Api,
        custom: CustomObjectsApi,
        *,
        may_write: Callable[[], bool] = lambda: True,
        on_api_error: Callable[[str, Exception], None] = lambda verb, exc: None,
        instance: str = "",
        component: str = COMPONENT,
    ) -> None:
        self._core = core
        self._custom = custom
        self._may_write = may_write
        self._on_api_error = on_api_error
        self._instance = instance or f"{socket.gethostname()}-{os.getpid()}"
        self._component = component
        self.writes = 0
        self._events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(maxsize=10_000)
        self._event_sender = threading.Thread(target=self._send_events, name="events", daemon=True)
        self._event_sender.start()

    def close(self, timeout: float = 5.0) -> None:
        """Send the Events still queued (for at most `timeout`), then stop the sender."""
        self._events.put(None)
        self._event_sender.join(timeout)

    def _send_events(self) -> None:
        while (item := self._events.get()) is not None:
            try:
                self._write("create event", partial(self._core.create_namespaced_event, *item))
            except NotLeader:
                pass
            except Exception as exc:
                log.warning("Event not sent: %s", exc)

    def apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, WriteStatus):
                self.write_status(action.service, action.ips, action.pool)
            elif isinstance(action, ClearStatus):
                self.write_status(action.service, (), None)
            elif isinstance(action, Event):
                self.event("Service", action.service, action.type, action.reason, action.message)

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

    def event(self, kind: str, key: ObjectKey, type_: str, reason: str, message: str, *, uid: str = "") -> None:
        stamp = now()
        cluster_scoped = kind == "Node"  # its Events live in "default", about an object with no namespace
        namespace = "default" if cluster_scoped else key.namespace
        body: dict[str, Any] = {
            "metadata": {"generateName": f"{key.name}.", "namespace": namespace},
            "involvedObject": {
                "kind": kind,
                **({} if cluster_scoped else {"namespace": key.namespace}),
                "name": key.name,
                "apiVersion": "v1" if kind in ("Service", "Node") else f"{GROUP}/{VERSION}",
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
        level = logging.WARNING if type_ == "Warning" else logging.INFO
        log.log(level, "%s %s: %s: %s", kind, key, reason, message, extra={"reason": reason})
        if not self._may_write():
            raise NotLeader("create event")
        try:
            self._events.put_nowait((namespace, body))
        except queue.Full:
            log.warning("Event queue full; dropped %s for %s", reason, key)

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
        if not self._may_write():
            raise NotLeader(what)
        try:
            with_retries(call, what=what, on_error=lambda exc: self._on_api_error(what, exc))
            self.writes += 1
        except ApiException as exc:
            if exc.status == 404:
                log.debug("%s: object is gone", what)
                return
            log.error("%s failed: HTTP %s %s", what, exc.status, (exc.body or exc.reason or "")[:300])
