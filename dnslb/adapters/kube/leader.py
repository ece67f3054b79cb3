"""Leader election on a coordination.k8s.io/v1 Lease, the way client-go does it.

Expiry is judged by this process's own monotonic clock from when it last saw the lease record change, never by
comparing timestamps written by another machine, so clock skew between replicas cannot elect two leaders.
`is_leader()` turns false as soon as a renewal is overdue (`renew_deadline` after the last one), before anyone else
can take the lease (`lease_seconds`). Every Lease request carries a timeout within what is left of that deadline,
and a watchdog calls `on_lose` the moment `is_leader()` turns false, even while a renewal call is still hanging.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import CoordinationV1Api
from kubernetes.client.rest import ApiException

log = logging.getLogger(__name__)


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        api: CoordinationV1Api,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_seconds: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not retry_period < renew_deadline < lease_seconds:
            raise ValueError("need retry_period < renew_deadline < lease_seconds")
        self._api = api
        self._namespace = namespace
        self._name = name
        self.identity = identity
        self._lease_seconds = lease_seconds
        self._renew_deadline = renew_deadline
        self._retry_period = retry_period
        self._clock = clock
        self._observed: tuple[str, str, str] | None = None  # (holder, renewTime, resourceVersion)
        self._observed_at = 0.0
        self._renewed_at: float | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        with self._lock:
            return self._renewed_at is not None and self._clock() - self._renewed_at < self._renew_deadline

    def run(self, stop: threading.Event, on_lead: Callable[[], None], on_lose: Callable[[], None]) -> None:
        """Try to acquire, then renew, every retry period until `stop`; call `on_lose` (once, from whichever thread
        notices first) when leadership ends."""
        lost = threading.Event()
        leading = threading.Event()

        def lose() -> None:
            with self._lock:
                if lost.is_set():
                    return
                lost.set()
            log.error("%s lost the lease %s/%s", self.identity, self._namespace, self._name)
            on_lose()

        def watchdog() -> None:
            while not stop.is_set() and not lost.is_set():
                if leading.is_set() and not self.is_leader():
                    lose()
                    return
                stop.wait(min(0.1, self._retry_period))

        threading.Thread(target=watchdog, name="lease-watchdog", daemon=True).start()
        while not stop.is_set() and not lost.is_set():
            ok = self._try_acquire_or_renew()
            if ok and not leading.is_set():
                leading.set()
                log.info("%s became leader on lease %s/%s", self.identity, self._namespace, self._name)
                on_lead()
            elif leading.is_set() and not self.is_leader():
                lose()
                return
            stop.wait(self._retry_period)
        if leading.is_set() and not lost.is_set():
            self.release()

    def release(self) -> None:
        """Give the lease up on a clean shutdown so the other replica need not wait for it to expire."""
        with self._lock:
            self._renewed_at = None
        try:
            timeout = (1.0, self._retry_period)
            lease = self._api.read_namespaced_lease(self._name, self._namespace, _request_timeout=timeout)
            if lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                self._api.replace_namespaced_lease(self._name, self._namespace, lease, _request_timeout=timeout)
        except Exception as exc:
            log.warning("could not release lease: %s", exc)

    def _timeout(self) -> tuple[float, float]:
        """A request must end before the renew deadline does: what is left of it (a retry period before leading)."""
        with self._lock:
            renewed = self._renewed_at
        left = self._retry_period if renewed is None else self._renew_deadline - (self._clock() - renewed)
        left = max(0.2, left)
        return (min(left, 5.0), left)

    def _try_acquire_or_renew(self) -> bool:
        now = self._clock()
        try:
            lease = self._api.read_namespaced_lease(self._name, self._namespace, _request_timeout=self._timeout())
        except ApiException as exc:
            if exc.status != 404:
                log.warning("reading lease failed: HTTP %s", exc.status)
                return False
            return self._create(now)
        except Exception as exc:
            log.warning("reading lease failed: %s", exc)
            return False
        spec = lease.spec
        record = (spec.holder_identity or "", str(spec.renew_time or ""), lease.metadata.resource_version or "")
        if record != self._observed:
            self._observed, self._observed_at = record, now
        holder = spec.holder_identity or ""
        duration = spec.lease_duration_seconds or self._lease_seconds
        if holder and holder != self.identity and now - self._observed_at < duration:
            return False
        transitions = (spec.lease_transitions or 0) + (0 if holder == self.identity else 1)
        acquired = _micro_time()
        if holder == self.identity and spec.acquire_time is not None:
            acquired = spec.acquire_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self._name,
                "namespace": self._namespace,
                "resourceVersion": lease.metadata.resource_version,
            },
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self._lease_seconds),
                "acquireTime": acquired,
                "renewTime": _micro_time(),
                "leaseTransitions": transitions,
            },
        }
        try:
            self._api.replace_namespaced_lease(self._name, self._namespace, body, _request_timeout=self._timeout())
        except Exception as exc:
            log.info("renewing lease failed: %s", getattr(exc, "status", exc))
            return False
        with self._lock:
            self._renewed_at = now
        return True

    def _create(self, now: float) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self._name, "namespace": self._namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self._lease_seconds),
                "acquireTime": _micro_time(),
                "renewTime": _micro_time(),
                "leaseTransitions": 0,
            },
        }
        try:
            self._api.create_namespaced_lease(self._namespace, body, _request_timeout=self._timeout())
        except Exception as exc:
            log.info("creating lease failed: %s", getattr(exc, "status", exc))
            return False
        with self._lock:
            self._renewed_at = now
        return True
