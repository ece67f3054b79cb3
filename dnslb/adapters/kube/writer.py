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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
) -> bool:
    """Whether the write landed (or its object is gone)."""
    if not may_write():
        raise NotLeader(what)
    try:
        with_retries(call, what=what, on_error=lambda exc: on_error(what, exc))
    except ApiException as exc:
        if exc.status == 404:
            log.debug("%s: object is gone", what)
            return True
        log.error("%s failed: HTTP %s %s", what, exc.status, (exc.body or exc.reason or "")[:300])
        return False
    return True


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
        self._conditions: dict[tuple[str, ObjectKey], dict[str, dict[str, Any]]] = {}
        self._conditions_lock = threading.Lock()

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

    def service_condition(
        self, key: ObjectKey, type_: str, found: tuple[str, str, str] | None, want: tuple[str, str, str] | None
    ) -> bool:
        """Set (or, `want` None, remove) one condition of a Service, leaving the others' conditions alone (a
        strategic merge by type); `found` is what the API holds now: its transition time stays while the status
        does. Whether it landed."""
        if want is None:
            entry: dict[str, Any] = {"type": type_, "$patch": "delete"}
        else:
            status, reason, message = want
            entry = {"type": type_, "status": status, "reason": reason, "message": message[:32768]}
            if found is None or found[0] != status:
                entry["lastTransitionTime"] = now()
        body = {"status": {"conditions": [entry]}}
        done = self._write(
            "patch service condition",
            lambda: self._core.patch_namespaced_service_status(key.name, key.namespace, body),
        )
        shown = "removed" if want is None else f"{want[0]} ({want[1]}): {want[2]}".replace("\n", "; ")
        log.info("%s of %s: %s", type_, key, shown, extra={"service": str(key)})
        return done

    def condition(
        self,
        plural: str,
        key: ObjectKey,
        generation: int | None,
        ok: bool | None,
        message: str,
        *,
        type_: str = "Accepted",
        reason: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Set one condition of a config resource, and any other `fields` of its status in the same patch. Every
        condition this writer knows for the object goes in the patch: a merge patch replaces the whole list, so
        `Accepted` and `Synced` are always written together."""
        status = "Unknown" if ok is None else "True" if ok else "False"
        with self._conditions_lock:
            known = self._conditions.setdefault((plural, key), {})
            before = known.get(type_)
            if generation is None and before is not None:
                generation = before.get("observedGeneration")
            unchanged = before is not None and before["status"] == status
            known[type_] = {
                "type": type_,
                "status": status,
                "reason": reason or ("Valid" if ok else "Invalid"),
                "message": message[:32768],
                "lastTransitionTime": before["lastTransitionTime"] if unchanged and before else now(),
                **({"observedGeneration": generation} if generation is not None else {}),
            }
            conditions = list(known.values())
            body = {
                "status": {
                    **(fields or {}),
                    "conditions": conditions,
                    **({"observedGeneration": generation} if generation else {}),
                }
            }
            self._write(
                "patch config status",
                lambda: self._custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, key.namespace, plural, key.name, body
                ),
            )

    def observed_generation(self, group: str, version: str, plural: str, key: ObjectKey, generation: int) -> bool:
        """Say in an object's status which generation of it was read (external-dns does so for DNSEndpoints)."""
        body = {"status": {"observedGeneration": generation}}
        done = self._write(
            f"patch {plural} status",
            lambda: self._custom.patch_namespaced_custom_object_status(
                group, version, key.namespace, plural, key.name, body
            ),
        )
        log.info("status of %s %s: observedGeneration %d", plural, key, generation)
        return done

    def _write(self, what: str, call: Callable[[], Any]) -> bool:
        return _guarded_write(what, call, self._may_write, self._on_api_error)


@dataclass
class _Sent:
    namespace: str
    name: str
    count: int
    first: str


class _Bucket:
    """A token bucket: `burst` tokens, one back every `refill` seconds."""

    def __init__(self, burst: float, refill: float, now: float) -> None:
        self._burst, self._refill = burst, refill
        self._tokens, self._at = burst, now

    def take(self, now: float) -> bool:
        self._tokens = min(self._burst, self._tokens + (now - self._at) / self._refill)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Recorder:
    """Events on the objects diagnostics are about, as client-go's recorder sends them, and quieter.

    - Said once: a diagnostic whose slot (by default its subject, reason, field and item) last said the same thing is
      not sent again, however often it is recorded — a reconcile pass repeating itself costs no request.
    - Aggregated: the same object, reason and message said again after something else was said in its slot updates
      the Event it created (`count`, `lastTimestamp`), as `kubectl describe` shows "(x3 over 10m)".
    - Rate-limited: 25 Events per object at once, then one per 5 minutes (client-go's spam filter), and `overall`
      per second for the process; what is over is dropped with a log line.
    - Seeded: `seed()` reads the Events this component (and instance) already wrote, so a restart or a failover does
      not say again what is already said.
    Events go out from their own thread, so a slow Event never delays a status write.
    """

    def __init__(
        self,
        core: CoreV1Api,
        *,
        component: str,
        may_write: Callable[[], bool] = lambda: True,
        on_api_error: Callable[[str, Exception], None] = lambda what, exc: None,
        instance: str = "",
        clock: Callable[[], float] = time.monotonic,
        overall: float = 50.0,
    ) -> None:
        self._core = core
        self._component = component
        self._may_write = may_write
        self._on_api_error = on_api_error
        self._instance = instance or f"{socket.gethostname()}-{os.getpid()}"
        self._clock = clock
        self._said: dict[tuple[object, ...], tuple[object, ...]] = {}  # slot → key of what it last said
        self._sent: dict[tuple[object, ...], _Sent] = {}  # (object, uid, reason, message) → its Event
        self._buckets: dict[ObjectRef, _Bucket] = {}
        self._overall = _Bucket(overall * 2, 1 / overall, clock())
        self._dropped = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[Callable[[], Any] | None] = queue.Queue(maxsize=10_000)
        self._sender = threading.Thread(target=self._send_events, name="events", daemon=True)
        self._sender.start()

    def close(self, timeout: float = 5.0) -> None:
        """Send the Events still queued (for at most `timeout`), then stop the sender."""
        self._queue.put(None)
        self._sender.join(timeout)

    def seed(self, page_size: int = 500) -> int:
        """Remember the Events this component and instance wrote before (a previous run, another replica): what they
        say is not said again. Returns how many were found."""
        found, token = 0, None
        while True:
            kwargs: dict[str, Any] = {"field_selector": f"reportingComponent={self._component}", "limit": page_size}
            if token:
                kwargs["_continue"] = token
            page = self._core.list_event_for_all_namespaces(**kwargs)
            for event in page.items or []:
                if event.reporting_instance not in (self._instance, None, ""):
                    continue
                involved = event.involved_object
                ref = ObjectRef(involved.kind or "", ObjectKey(involved.namespace or "", involved.name or ""))
                key = (ref, involved.uid or "", event.reason or "", event.message or "")
                stamp = event.first_timestamp
                first = stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp is not None else now()
                with self._lock:
                    self._sent[key] = _Sent(event.metadata.namespace, event.metadata.name, event.count or 1, first)
                found += 1
            token = page.metadata._continue
            if not token:
                return found

    def record(self, diagnostic: Diagnostic, *, uid: str = "", slot: tuple[object, ...] | None = None) -> None:
        """An Event on `diagnostic.subject` (which must be set), unless this slot last said the same. Raises
        NotLeader when this process may not write."""
        subject = diagnostic.subject
        if subject is None:
            raise ValueError(f"a diagnostic about no object cannot become an Event: {diagnostic}")
        message = diagnostic.describe()[:1024]
        key = (subject, uid, diagnostic.reason, message)
        slot = slot if slot is not None else (subject, diagnostic.reason, diagnostic.field, diagnostic.about)
        with self._lock:
            if self._said.get(slot) == key:
                return
            self._said[slot] = key
            already = self._sent.get(key)
        level = logging.WARNING if diagnostic.severity == "Warning" else logging.INFO
        log.log(level, "%s: %s: %s", subject, diagnostic.reason, message, extra={"reason": diagnostic.reason})
        if not self._may_write():
            raise NotLeader("create event")
        if not self._allowed(subject):
            return
        stamp = now()
        if already is not None:
            with self._lock:
                already.count += 1
                patch = {"count": already.count, "lastTimestamp": stamp}
            self._enqueue(
                partial(self._core.patch_namespaced_event, already.name, already.namespace, patch), "update event"
            )
            return
        namespace, body = self._event(diagnostic, subject, message, uid=uid, stamp=stamp)
        with self._lock:
            self._sent[key] = _Sent(namespace, body["metadata"]["name"], 1, stamp)
        self._enqueue(partial(self._core.create_namespaced_event, namespace, body), "create event")

    def forget(self, slot: tuple[object, ...]) -> None:
        """The condition a slot reported has cleared: the next time it is said, it is said again (as a repeat of
        the same Event, if the message is the same)."""
        with self._lock:
            self._said.pop(slot, None)

    def _allowed(self, subject: ObjectRef) -> bool:
        at = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault(subject, _Bucket(25, 300.0, at))
            if bucket.take(at) and self._overall.take(at):
                return True
            self._dropped += 1
            dropped = self._dropped
        if dropped == 1 or dropped % 100 == 0:
            log.warning("Events over the rate limit dropped: %d so far (latest about %s)", dropped, subject)
        return False

    def _enqueue(self, call: Callable[[], Any], what: str) -> None:
        try:
            self._queue.put_nowait(lambda: _guarded_write(what, call, self._may_write, self._on_api_error))
        except queue.Full:
            log.warning("Event queue full; dropped one (%s)", what)

    def _event(
        self, diagnostic: Diagnostic, subject: ObjectRef, message: str, *, uid: str, stamp: str
    ) -> tuple[str, dict[str, Any]]:
        key = subject.key
        cluster_scoped = subject.kind in _CLUSTER_SCOPED  # their Events live in "default"
        namespace = "default" if cluster_scoped else key.namespace
        body: dict[str, Any] = {
            # named here, not by the server, so a repeat can update this Event without waiting for its creation
            "metadata": {"name": f"{key.name}.{time.time_ns():x}"[-253:], "namespace": namespace},
            "involvedObject": {
                "kind": subject.kind,
                **({} if cluster_scoped else {"namespace": key.namespace}),
                "name": key.name,
                "apiVersion": _API_VERSIONS.get(subject.kind, f"{GROUP}/{VERSION}"),
                **({"uid": uid} if uid else {}),
            },
            "type": diagnostic.severity,
            "reason": diagnostic.reason,
            "message": message,
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "reportingInstance": self._instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        return namespace, body

    def _send_events(self) -> None:
        while (send := self._queue.get()) is not None:
            try:
                send()
            except NotLeader:
                pass
            except Exception as exc:
                log.warning("Event not sent: %s", exc)
