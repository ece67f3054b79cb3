"""`KubeAPI`: the double in this process, served from a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import kubernetes.client
from aiohttp import web

from dnslb_testkit.kubeapi.faults import Faults, RequestLog
from dnslb_testkit.kubeapi.registry import Registry
from dnslb_testkit.kubeapi.seeding import seed
from dnslb_testkit.kubeapi.server import ApiServer
from dnslb_testkit.kubeapi.store import Store

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 15.0


def client_configuration_for(url: str) -> kubernetes.client.Configuration:
    return kubernetes.client.Configuration(host=url)


class KubeAPI:
    """An in-memory Kubernetes API server the real `kubernetes` client drives unmodified.

    Construct, `start()`, point a client at `client_configuration()`, `stop()` (or use `with`). The fault
    hooks and counters are thread-safe and may be called from the test's thread at any time.
    """

    def __init__(
        self, *, history_limit: int = 10000, bookmark_interval: float = 60.0, single_stack: bool = False
    ) -> None:
        self._store = Store(history_limit)
        self._registry = Registry(self._store, single_stack=single_stack)
        self._faults = Faults()
        self._log = RequestLog()
        self._server = ApiServer(self._store, self._registry, self._faults, self._log, bookmark_interval)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port) and return the base URL."""
        if self._thread is not None:
            raise RuntimeError("KubeAPI is already started")
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        bound_port = listener.getsockname()[1]
        ready = threading.Event()
        failures: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(listener, ready, failures), name=f"kubeapi:{bound_port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT) or failures:
            self.stop()
            raise RuntimeError(f"KubeAPI failed to start: {failures[0] if failures else 'timeout'}")
        shown_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown_host}:{bound_port}"
        return self.url

    def _serve(self, listener: socket.socket, ready: threading.Event, failures: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            runner = web.AppRunner(
                self._server.application(), handler_cancellation=True, access_log=None, shutdown_timeout=2.0
            )
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, listener).start())
            self._runner = runner
        except BaseException as error:
            failures.append(error)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    async def _shutdown(self) -> None:
        await self._server.drop_watches()

    def stop(self) -> None:
        """Close every watch, stop serving and join the server thread. Safe to call twice."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(_STOP_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(_STOP_TIMEOUT)
        self._thread = None
        self._loop = None

    def __enter__(self) -> KubeAPI:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # clients

    def client_configuration(self) -> kubernetes.client.Configuration:
        if not self.url:
            raise RuntimeError("start() the KubeAPI first")
        return client_configuration_for(self.url)

    def api_client(self) -> kubernetes.client.ApiClient:
        return kubernetes.client.ApiClient(self.client_configuration())

    # fixtures

    def seed(self, objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create objects (with `apiVersion`, `kind`, `metadata`) without HTTP: same defaulting, validation and
        watch events as a client's create, and any `status` given is then written through /status. For
        setting up large clusters quickly (10,000 Services take about a second)."""
        return seed(self._registry, [dict(o) for o in objects])

    # fault hooks

    def drop_watches(self) -> None:
        """End every open watch stream now; returns once their responses are finished."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self._server.drop_watches(), loop).result(_STOP_TIMEOUT)

    def compact(self) -> None:
        """Forget history: watches and exact-version lists from any older resourceVersion get 410 Expired."""
        with self._store.lock:
            self._store.compact()

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next n API requests fail with `status` (429 comes with `Retry-After: 1`)."""
        self._faults.fail_next(n, status)

    def set_latency(self, seconds: float) -> None:
        """Delay every API request by `seconds` (0 turns it off)."""
        self._faults.set_latency(seconds)

    def silence(self, verbs: Iterable[str] = (), resources: Iterable[str] = ()) -> None:
        """Matching requests ("watch", "update"; "leases", "services") are accepted and never answered from now
        on, and open matching watch streams go quiet for good; none given: every request. `speak()` ends it for
        new requests."""
        self._faults.silence(frozenset(verbs), frozenset(resources))

    def speak(self) -> None:
        self._faults.speak()

    # counters

    def request_counts(self) -> dict[str, int]:
        """Requests so far by "verb resource", e.g. {"patch services/status": 2, "watch services": 1}."""
        return self._log.counts()

    def count_requests(self, resource: str, *verbs: str) -> int:
        """Requests to `resource` ("services/status") with any of `verbs` ("update", "patch"), or all verbs."""
        return self._log.count(resource, *verbs)

    def reset_request_counts(self) -> None:
        self._log.reset()

    @property
    def resource_version(self) -> int:
        """The cluster's current revision (the last committed change)."""
        with self._store.lock:
            return self._store.rv
