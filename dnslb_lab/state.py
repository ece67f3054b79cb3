"""What a lab owns, on disk, so `lab status` and `lab down` find it again.

In /run/dnslb-lab: `<tag>.owner` while a `lab run`/`lab up` process is building or running the lab (its PID), and
`<tag>.json` for a lab `lab up` left running (its namespaces, processes, files). Processes are recorded with their
start time (clock ticks since boot, from /proc/PID/stat), so `down` never signals a PID reused by someone else.
A lab whose owner died without tearing down (SIGKILL, a crash) is an orphan: every lab process runs inside the lab's
namespaces (`<tag>-*`), so `down` finds them with `ip netns pids` and removes them with the namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from dnslb.adapters.child import poll_until

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
    router_kind: str = "ecmp"  # `--router`: ecmp, resilient, frr
    router_daemon: str = "bird"  # what answers for the router's sessions: BIRD (`bird_socket`) or FRR (`frr_dir`)
    frr_dir: str = ""  # FRR's config and vty sockets, for vtysh

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


def claim(tag: str) -> Path:
    """Record that this process owns the lab `tag` (before its first namespace exists)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    path = STATE_DIR / f"{tag}.owner"
    path.write_text(json.dumps(asdict(owned(os.getpid(), "dnslb lab"))) + "\n")
    return path


def release(tag: str) -> None:
    (STATE_DIR / f"{tag}.owner").unlink(missing_ok=True)


def owner(tag: str) -> OwnedProcess | None:
    """The live process that owns lab `tag`, or None (no claim, or its owner is gone)."""
    try:
        claimed = OwnedProcess(**json.loads((STATE_DIR / f"{tag}.owner").read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return claimed if alive(claimed) else None


def lab_namespaces(prefix: str) -> dict[str, list[str]]:
    """Namespaces named `<prefix>-<6 hex>-<role>` that exist now, by lab tag."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    by_tag: dict[str, list[str]] = {}
    for line in listed.splitlines():
        name = line.split()[0] if line.strip() else ""
        parts = name.split("-", 2)
        if len(parts) == 3 and parts[0] == prefix and len(parts[1]) == 6:
            by_tag.setdefault(f"{parts[0]}-{parts[1]}", []).append(name)
    return by_tag


def remove_orphan(tag: str, namespaces: list[str]) -> list[str]:
    """Stop every process inside the orphan's namespaces, delete them and its resolver file; what failed."""
    pids = set()
    for namespace in namespaces:
        found = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False)
        pids |= {int(pid) for pid in found.stdout.split()}
    processes = [p for p in (_owned_or_none(pid) for pid in sorted(pids)) if p is not None]
    # its temp dirs (bed, BIRD, BIND) are named after the tag; the client's resolver file after its namespace
    paths = (f"/etc/netns/{tag}-client", *(str(p) for p in Path(tempfile.gettempdir()).glob(f"{tag}-*")))
    orphan = LabState(tag, tuple(namespaces), tuple(processes), paths, "", "", "", "", {}, {}, "")
    problems = teardown(orphan)
    release(tag)
    return problems


def _owned_or_none(pid: int) -> OwnedProcess | None:
    try:
        return owned(pid, "")
    except ProcessLookupError:
        return None


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
    poll_until(lambda: not any(alive(p) for p in ours), _STOP_TIMEOUT, interval=0.1)
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
