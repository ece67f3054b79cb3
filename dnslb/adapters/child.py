"""Child processes by PID: start one, wait until it answers, stop it (SIGTERM, then SIGKILL after a grace period) and
reap it.

    named = Child.start(["/usr/sbin/named", "-g", "-c", conf], name="named", log=workdir / "named.log")
    named.wait_ready(lambda: answers_soa(port), 20.0, "answer SOA")   # ChildStartError, ending with the log's tail
    ...
    named.stop()                                                       # its exit status

A `Child` is not reaped before `stop` (or `kill`): until then its PID, and the ID of the process group it may lead,
cannot be handed to another process, so signalling either is safe. `stop_process` stops a `subprocess.Popen`
started elsewhere (ExaBGP's, by the driver) the same way; `poll_until` is the polling loop behind every wait.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal, TypeVar, cast

__all__ = ["GRACE", "Child", "ChildStartError", "exit_status", "poll_until", "spawn", "stop_process"]

log = logging.getLogger(__name__)

GRACE = 10.0  # seconds from SIGTERM to SIGKILL
_INTERVAL = 0.05
_REAP_INTERVAL = 0.02
_LOG_TAIL_LINES = 40

T = TypeVar("T")
_EXITED = object()  # what a wait's condition returns once the child has exited: truthy, so the wait ends


class ChildStartError(RuntimeError):
    """A child exited while starting, or did not answer in time; the message ends with the tail of its log."""


def poll_until(condition: Callable[[], T], timeout: float, *, interval: float = _INTERVAL) -> T:
    """Call `condition` every `interval` seconds until it returns something truthy or `timeout` seconds have passed;
    the last value it returned (falsy: it timed out)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def exit_status(process: subprocess.Popen[Any]) -> int | None:
    """None while `process` runs; else its exit status (negative: the signal that ended it), without reaping it."""
    if process.returncode is not None:
        return process.returncode
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped by someone else: let Popen record it
        return process.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def stop_process(
    process: subprocess.Popen[Any],
    grace: float = GRACE,
    *,
    name: str = "child",
    resume: bool = False,
    group: bool = False,
) -> int:
    """Stop `process` by its PID: SIGTERM, SIGKILL if it is still there after `grace` seconds; reap it and return its
    exit status. `resume`: SIGCONT after the SIGTERM, which a stopped (paused) process acts on only once it runs.
    `group`: before reaping, SIGKILL what is left of the process group it leads (children it started; it must have
    been started in a session of its own)."""
    if exit_status(process) is None:
        _signal(process, signal.SIGTERM)
        if resume:
            _signal(process, signal.SIGCONT)
        if not poll_until(lambda: exit_status(process) is not None, grace, interval=_REAP_INTERVAL):
            log.warning("%s %d ignored SIGTERM for %.1fs; killing it", name, process.pid, grace)
            _signal(process, signal.SIGKILL)
            while exit_status(process) is None:
                time.sleep(_REAP_INTERVAL)
    # The group is killed while its leader is still an unreaped zombie: its PID, the group's ID, is no one else's yet.
    if group and process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def spawn(
    argv: Sequence[str],
    *,
    log: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `argv` with stdin from /dev/null and stdout and stderr appended to `log` (None: discarded); `env`
    replaces the environment (None: this process's); `new_session`: lead a session, and so a process group, of its
    own."""
    output: int | IO[bytes] = subprocess.DEVNULL
    with contextlib.ExitStack() as stack:
        if log is not None:
            output = stack.enter_context(log.open("ab"))
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=new_session,
        )


def _signal(process: subprocess.Popen[Any], signum: int) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)


class Child:
    """A child process, its name (for messages) and the file its output goes to (None: discarded)."""

    def __init__(self, process: subprocess.Popen[bytes], name: str, log: Path | None = None) -> None:
        self.process = process
        self.name = name
        self.log = log

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        *,
        name: str | None = None,
        log: Path | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        new_session: bool = False,
    ) -> Child:
        """Start `argv` (see `spawn`); `name` defaults to the program's."""
        process = spawn(argv, log=log, cwd=cwd, env=env, new_session=new_session)
        return cls(process, name or Path(argv[0]).name, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """None while running; the exit status (negative: the signal that ended it) once it has ended."""
        return exit_status(self.process)

    def alive(self) -> bool:
        return self.returncode is None

    def wait(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for it to end, and return its exit status (it stays unreaped until `stop`);
        raises `subprocess.TimeoutExpired`."""
        if not poll_until(lambda: self.returncode is not None, timeout, interval=_REAP_INTERVAL):
            raise subprocess.TimeoutExpired(self.process.args, timeout)
        status = self.returncode
        assert status is not None
        return status

    def send_signal(self, signum: int) -> None:
        """Signal it by PID, while it runs (or is an unreaped zombie, where the signal does nothing)."""
        _signal(self.process, signum)

    def read_log(self) -> str:
        """What it wrote to its log so far ('' without one)."""
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        return "\n".join(self.read_log().splitlines()[-lines:])

    def wait_ready(
        self,
        ready: Callable[[], T | Literal[False] | None],
        timeout: float,
        what: str = "answer",
        *,
        error: type[Exception] = ChildStartError,
        interval: float = _INTERVAL,
    ) -> T:
        """Call `ready` until it returns something truthy, and return that. Raises `error`, with the tail of the log,
        if the child exits first or `timeout` seconds pass; `ready` may raise it too, to give up early."""
        answer = poll_until(lambda: ready() if self.alive() else _EXITED, timeout, interval=interval)
        status = self.returncode  # again: an answer may have come from another process on the same port
        if status is not None:
            raise error(f"{self.name} exited with status {status}; {self._log_ends()}")
        if not answer:
            raise error(f"{self.name} did not {what} within {timeout:g}s; {self._log_ends()}")
        return cast(T, answer)

    def _log_ends(self) -> str:
        return f"its log {self.log} ends:\n{self.log_tail()}" if self.log is not None else "it has no log"

    def stop(self, grace: float = GRACE, *, resume: bool = False, group: bool = False) -> int:
        """See `stop_process`."""
        return stop_process(self.process, grace, name=self.name, resume=resume, group=group)

    def kill(self) -> int:
        """SIGKILL at once (no SIGTERM, so no handler of its runs); reap it and return its exit status."""
        self.send_signal(signal.SIGKILL)
        return self.process.wait()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pid={self.pid}, name={self.name!r})"
