"""What a lab left running (`dnslb lab up`) owns, on disk, so `lab status` and `lab down` find it again.

One JSON file per lab in /run/dnslb-lab. Processes are recorded with their start time (clock ticks since boot, from
/proc/PID/stat), so `down` never signals a PID that has since been reused by someone else.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_DIR = Path("/run/dnslb-lab")
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class OwnedProcess:
    pid: int
    start: int
    what: str


@dataclass(frozen=True)
class LabState:
    tag: str
    namespaces: tuple[str, ...]
    processes: tuple[OwnedProcess, ...]
    paths: tuple[str, ...]  # directories to remove
    api_url: str
    client: str
    router: str
    bird_socket: str
    vips: dict[str, str]
    hostnames: dict[str, list[str]]
    logs: str

    @property
    def file(self) -> Path:
        return STATE_DIR / f"{self.tag}.json"

    def save(self) -> Path:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return self.file


def load_all() -> list[LabState]:
    states = []
    for path in sorted(STATE_DIR.glob("*.json")) if STATE_DIR.is_dir() else []:
        raw = json.loads(path.read_text())
        raw["namespaces"] = tuple(raw["namespaces"])
        raw["paths"] = tuple(raw["paths"])
        raw["processes"] = tuple(OwnedProcess(**p) for p in raw["processes"])
        states.append(LabState(**raw))
    return states


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def owned(pid: int, what: str) -> OwnedProcess:
    ticks = start_ticks(pid)
    if ticks is None:
        raise ProcessLookupError(f"{what} (PID {pid}) is not running")
    return OwnedProcess(pid, ticks, what)


def alive(process: OwnedProcess) -> bool:
    """Still running, and still the process recorded (not a zombie waiting to be reaped, not a reused PID)."""
    return start_ticks(process.pid) == process.start and not _zombie(process.pid)


def teardown(state: LabState) -> list[str]:
    """Stop the lab's processes (only those still ours), delete its namespaces and files; what could not be done."""
    problems: list[str] = []
    ours = [p for p in state.processes if alive(p)]
    for process in ours:  # each leads its own session (started with one): its group is its helpers too
        _signal_group(process, signal.SIGTERM)
        _signal_group(process, signal.SIGCONT)
    deadline = time.monotonic() + _STOP_TIMEOUT
    while any(alive(p) for p in ours) and time.monotonic() < deadline:
        time.sleep(0.1)
    for process in ours:
        if alive(process):
            _signal_group(process, signal.SIGKILL)
    existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    names = {line.split()[0] for line in existing.splitlines() if line.strip()}
    for namespace in state.namespaces:
        if namespace in names:
            result = subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                problems.append(f"ip netns delete {namespace}: {result.stderr.strip()}")
    for path in state.paths:
        shutil.rmtree(path, ignore_errors=True)
    state.file.unlink(missing_ok=True)
    return problems


def _signal_group(process: OwnedProcess, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
