"""A real moto server (Route53 and the rest of AWS, in memory) as a child process on 127.0.0.1.

    with MotoServer() as moto:
        provider = dnslb_route53.create({"endpointURL": moto.url}, MotoServer.CREDENTIALS)

`reset()` forgets every hosted zone, so one server can serve many tests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar

_READY_TIMEOUT = 30.0
_START_ATTEMPTS = 3
_STOP_TIMEOUT = 10.0
_POLL_INTERVAL = 0.05
_LOG_TAIL = 2000


def moto_server_executable() -> Path:
    """The `moto_server` script installed next to this Python."""
    return Path(sys.executable).parent / "moto_server"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class MotoServer:
    CREDENTIALS: ClassVar[dict[str, str]] = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def __init__(self, executable: Path | None = None, host: str = "127.0.0.1") -> None:
        self._executable = executable or moto_server_executable()
        self._host = host
        self._port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("start() the moto server first")
        return f"http://{self._host}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> str:
        if self._process is not None:
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
        process = self._process
        if process is not None:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(_STOP_TIMEOUT)
            self._process = None
        self._close_log()

    def reset(self) -> None:
        """Forget everything moto holds (every account, region and service)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=_STOP_TIMEOUT):
            pass

    def __enter__(self) -> MotoServer:
        if self._process is None:
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
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process; closed by stop())
        command = [str(self._executable), "-H", self._host, "-p", str(self._port)]
        try:
            process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        except OSError as error:
            self._close_log()
            return False, f"cannot start moto server ({' '.join(command)}): {error}"
        self._process = process
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1.0):
                    pass
            except (urllib.error.URLError, OSError):
                time.sleep(_POLL_INTERVAL)
                continue
            if process.poll() is None:  # it was our moto that answered
                return False, ""
        exited = process.poll() is not None
        if exited:
            failure = f"moto server ({' '.join(command)}) exited with status {process.returncode}"
        else:
            failure = f"moto server did not answer on {self.url} within {_READY_TIMEOUT:.0f} s"
        failure += f"; its output ends with:\n{self._log_tail()}"
        self.stop()
        return exited, failure

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-_LOG_TAIL:]

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
