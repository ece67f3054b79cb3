"""The double as a child process (`python -m dnslb_testkit.kubeapi`), driven over its `/_test` endpoints,
so a test can SIGKILL the process under test while the API lives on (or the other way round)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import kubernetes.client

from dnslb.adapters.child import Child
from dnslb_testkit.kubeapi.api import client_configuration_for
from dnslb_testkit.kubeapi.errors import ApiError
from dnslb_testkit.scratch import stop_and_remove

_READY_TIMEOUT = 20.0
_CONTROL_TIMEOUT = 15.0


class KubeAPIProcess:
    """Same fault hooks and counters as `KubeAPI`, for a double running in a child process."""

    def __init__(
        self,
        *,
        history_limit: int = 10000,
        bookmark_interval: float = 60.0,
        single_stack: bool = False,
        without: Sequence[str] = (),
    ) -> None:
        """`without`: custom kinds not served, as a cluster without their CRDs."""
        self._arguments = ["--history-limit", str(history_limit), "--bookmark-interval", str(bookmark_interval)]
        if single_stack:
            self._arguments.append("--single-stack")
        for kind in without:
            self._arguments += ["--without", kind]
        self._child: Child | None = None
        self._directory: Path | None = None
        self._url = ""

    @property
    def url(self) -> str:
        return self._url

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._child is not None:
            raise RuntimeError("already started")
        self._directory = Path(tempfile.mkdtemp(prefix="dnslb-kubeapi-"))
        command = [sys.executable, "-m", "dnslb_testkit.kubeapi", "--host", host, "--port", str(port)]
        self._child = child = Child.start(
            command + self._arguments,
            name="kubeapi process",
            log=self._directory / "kubeapi.log",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            self._url = child.wait_ready(self._reported_url, _READY_TIMEOUT, "report its URL")
        except BaseException:
            self.stop()
            raise
        return self._url

    def stop(self) -> None:
        stop_and_remove(self._child, self._directory)
        self._child, self._directory = None, None

    def _reported_url(self) -> str:
        """The URL the process printed on a line of its own when it began serving ('' before)."""
        assert self._child is not None
        lines = self._child.read_log().splitlines(keepends=True)
        return next((line.strip() for line in lines if line.startswith("http") and line.endswith("\n")), "")

    def __enter__(self) -> KubeAPIProcess:
        if self._child is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def client_configuration(self) -> kubernetes.client.Configuration:
        if not self._url:
            raise RuntimeError("start() the process first")
        return client_configuration_for(self._url)

    def api_client(self) -> kubernetes.client.ApiClient:
        return kubernetes.client.ApiClient(self.client_configuration())

    def _control(self, action: str, method: str = "POST", body: bytes = b"", **query: Any) -> Any:
        url = f"{self._url}/_test/{action}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = body if method == "POST" else None
        request = urllib.request.Request(url, method=method, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=_CONTROL_TIMEOUT) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as failure:
            status = json.loads(failure.read() or b"{}")
            raise ApiError(
                failure.code,
                status.get("reason", ""),
                status.get("message", str(failure)),
                details=status.get("details"),
            ) from None

    def seed(self, objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._control("seed", body=json.dumps([dict(o) for o in objects]).encode())[
            "items"
        ]
        return items

    def drop_watches(self) -> None:
        self._control("drop-watches")

    def compact(self) -> None:
        self._control("compact")

    def fail_next(self, n: int, status: int = 500) -> None:
        self._control("fail-next", n=n, status=status)

    def set_latency(self, seconds: float) -> None:
        self._control("latency", seconds=seconds)

    def silence(self, verbs: Iterable[str] = (), resources: Iterable[str] = ()) -> None:
        self._control("silence", verbs=",".join(verbs), resources=",".join(resources))

    def speak(self) -> None:
        self._control("speak")

    def request_counts(self) -> dict[str, int]:
        counts: dict[str, int] = self._control("requests", method="GET")
        return counts

    def count_requests(self, resource: str, *verbs: str) -> int:
        return sum(
            n
            for key, n in self.request_counts().items()
            if key.partition(" ")[2] == resource and (not verbs or key.partition(" ")[0] in verbs)
        )

    def reset_request_counts(self) -> None:
        self._control("reset-requests")
