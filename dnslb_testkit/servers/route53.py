"""A real moto server (Route53 and the rest of AWS, in memory) as a child process on 127.0.0.1.

    with MotoServer() as moto:
        provider = dnslb_route53.create({"endpointURL": moto.url}, MotoServer.CREDENTIALS)

`reset()` forgets every hosted zone, so one server can serve many tests.
"""

from __future__ import annotations

import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from dnslb.adapters.child import Child, ChildStartError
from dnslb_testkit.ports import free_port
from dnslb_testkit.scratch import stop_and_remove

_READY_TIMEOUT = 30.0
_START_ATTEMPTS = 3
_REQUEST_TIMEOUT = 10.0


def moto_server_executable() -> Path:
    """The `moto_server` script installed next to this Python."""
    return Path(sys.executable).parent / "moto_server"


class MotoServer:
    CREDENTIALS: ClassVar[dict[str, str]] = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def __init__(
        self, executable: Path | None = None, host: str = "127.0.0.1", *, arguments: Sequence[str] = ()
    ) -> None:
        """`arguments` go before moto's own `-H HOST -p PORT`: `MotoServer(Path(sys.executable), arguments=["-m",
        "some.module"])` runs a module that takes moto_server's options."""
        self._executable = executable or moto_server_executable()
        self._arguments = tuple(arguments)
        self._host = host
        self._port = 0
        self._child: Child | None = None
        self._directory: Path | None = None

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("start() the moto server first")
        return f"http://{self._host}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    def start(self) -> str:
        if self._child is not None:
            raise RuntimeError("already started")
        failure = ""
        for _ in range(_START_ATTEMPTS):
            exited, failure = self._start_once()
            if not failure:
                return self.url
            if not exited:
                break
            # most likely the free port was taken before moto bound it: try another
        raise RuntimeError(failure)

    def stop(self) -> None:
        stop_and_remove(self._child, self._directory)
        self._child, self._directory = None, None

    def reset(self) -> None:
        """Forget everything moto holds (every account, region and service)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=_REQUEST_TIMEOUT):
            pass

    def __enter__(self) -> MotoServer:
        if self._child is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _start_once(self) -> tuple[bool, str]:
        """Start moto on a free port; (whether it exited, why it failed) or (False, "") once it answers."""
        self._port = free_port(self._host)
        # moto logs every request; a file cannot fill up and block it the way an unread pipe would
        self._directory = Path(tempfile.mkdtemp(prefix="dnslb-moto-"))
        command = [str(self._executable), *self._arguments, "-H", self._host, "-p", str(self._port)]
        try:
            self._child = child = Child.start(command, name="moto server", log=self._directory / "moto.log")
        except OSError as error:
            self.stop()
            return False, f"cannot start moto server ({' '.join(command)}): {error}"
        try:
            child.wait_ready(self._answers, _READY_TIMEOUT, f"answer on {self.url}")
        except ChildStartError as error:
            exited = not child.alive()
            self.stop()
            return exited, f"{error}\n(command: {' '.join(command)})"
        return False, ""

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1.0):
                return True
        except (urllib.error.URLError, OSError):
            return False
