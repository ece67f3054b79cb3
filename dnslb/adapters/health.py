"""Probing the node's data path: kube-proxy's /healthz for the node, a Service's healthCheckNodePort for Local."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

import httpx

from dnslb.core.objects import ObjectKey

log = logging.getLogger(__name__)


class HealthProber:
    """Probes every `interval` seconds the node's URL and the healthCheckNodePorts it is told to `watch`; calls its
    subscriber when the node's health or the set of unhealthy Local Services changes. A probe that cannot connect
    counts as a failure."""

    def __init__(self, node_url: str | None, host: str, *, interval: float = 2.0, timeout: float = 1.0) -> None:
        self._node_url = node_url
        self._host = host
        self._targets: tuple[tuple[ObjectKey, int], ...] = ()
        self._on_change: Callable[[], None] = lambda: None
        self._interval = interval
        self._client = httpx.Client(timeout=timeout, trust_env=False)
        self.healthy = True
        self.unhealthy: frozenset[ObjectKey] = frozenset()

    def subscribe(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change

    def watch(self, targets: Iterable[tuple[ObjectKey, int]]) -> None:
        """Probe these (Service, healthCheckNodePort) pairs from the next round on."""
        self._targets = tuple(targets)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            healthy = self._node_url is None or self._ok(self._node_url)
            unhealthy = frozenset(key for key, port in self._targets if not self._ok(f"http://{self._host}:{port}/"))
            if healthy != self.healthy or unhealthy != self.unhealthy:
                if healthy != self.healthy:
                    log.warning("node data path %s", "healthy again" if healthy else f"fails {self._node_url}")
                self.healthy, self.unhealthy = healthy, unhealthy
                self._on_change()
            stop.wait(self._interval)
        self._client.close()

    def _ok(self, url: str) -> bool:
        try:
            return self._client.get(url).status_code == 200
        except httpx.HTTPError:
            return False
