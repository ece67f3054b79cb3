"""Network namespaces for tests and the lab, built with iproute2 (`ip`) and torn down without leftovers. Needs root.

    with Network() as net:                                  # namespaces are named dnslb-<6 hex>-<role>
        router, node = net.namespace("router"), net.namespace("node1")
        net.veth(router, "node1", node, "eth0")
        router.add_address("node1", ip_interface("10.0.0.1/24"))
        node.add_address("eth0", ip_interface("10.0.0.11/24"))
        node.add_route(ip_network("0.0.0.0/0"), ip_address("10.0.0.1"))
        router.sysctl("net.ipv4.ip_forward", "1")
        node.run(["ip", "route"])                           # a command to completion: CompletedProcess, text
        server = net.spawn(node, ["sleep", "60"], log=Path("/tmp/sleep.log"))   # long-running: a Process
        server.pause(); server.resume()                     # SIGSTOP / SIGCONT, e.g. to let a hold timer expire
        net.stop(server)                                    # by PID: SIGTERM, then SIGKILL after a grace period
        with entered(node):                                 # this thread's new sockets are the node's
            socket.create_connection(("10.0.0.1", 80))

`Namespace` is a value (its name); its methods run `ip -n NAME ...` or `ip netns exec NAME ...` and raise
`NetnsError` with the command's stderr when it fails. `Network` owns what it made: leaving the `with` block (also on
an error), `close()`, or interpreter exit stops every process it spawned (by PID, SIGTERM then SIGKILL, then whatever
of the process's own group is left) and deletes every namespace it created, which takes their interfaces with them.
It never touches a namespace or a process it did not create. IPv6 addresses are added `nodad`, usable at once.
`detach()` hands what it owns over to the caller instead (`dnslb lab up` leaves a lab running that way).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from pathlib import Path
from types import TracebackType

from dnslb.adapters.child import Child, spawn

IP = "ip"

IPAddress = IPv4Address | IPv6Address
IPInterface = IPv4Interface | IPv6Interface
IPNetwork = IPv4Network | IPv6Network

_RUN_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_ROLE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_PREFIX = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")  # the kernel's IFNAMSIZ is 16 with the NUL
_SYSCTL = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_setns = ctypes.CDLL(None, use_errno=True).setns
_setns.argtypes = [ctypes.c_int, ctypes.c_int]


class NetnsError(RuntimeError):
    """A command run for a namespace failed; the message names the command and carries its output."""


@dataclass(frozen=True)
class Namespace:
    """A network namespace, by name; every method runs a command for it and raises `NetnsError` when that fails."""

    name: str

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = _RUN_TIMEOUT,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside the namespace to completion and return its exit status and text output."""
        return _run([IP, "netns", "exec", self.name, *argv], check=check, timeout=timeout, input=input, env=env)

    def ip(self, *args: str) -> str:
        """`ip -n NAME ARGS`, returning its stdout."""
        return _run([IP, "-n", self.name, *args]).stdout

    def add_address(self, dev: str, interface: IPInterface) -> None:
        """Add `interface` (address and prefix length) to `dev`; IPv6 without duplicate address detection."""
        extra = ["nodad"] if interface.version == 6 else []
        self.ip("address", "add", str(interface), "dev", _ifname(dev), *extra)

    def delete_address(self, dev: str, interface: IPInterface) -> None:
        self.ip("address", "del", str(interface), "dev", _ifname(dev))

    def add_route(self, destination: IPNetwork, via: IPAddress | None = None, *, dev: str | None = None) -> None:
        """Add (or replace) a route to `destination` through the gateway `via` and/or out of `dev`."""
        if via is None and dev is None:
            raise ValueError("a route needs a gateway (via), an interface (dev) or both")
        if via is not None and via.version != destination.version:
            raise ValueError(f"gateway {via} is not of the family of {destination}")
        args = ["-6" if destination.version == 6 else "-4", "route", "replace", str(destination)]
        if via is not None:
            args += ["via", str(via)]
        if dev is not None:
            args += ["dev", _ifname(dev)]
        self.ip(*args)

    def delete_route(self, destination: IPNetwork) -> None:
        self.ip("-6" if destination.version == 6 else "-4", "route", "del", str(destination))

    def set_link(self, dev: str, *, up: bool) -> None:
        """Bring `dev` up or down (down cuts the link: the peer sees no carrier, packets are dropped)."""
        self.ip("link", "set", _ifname(dev), "up" if up else "down")

    def set_nomaster(self, dev: str) -> None:
        """Take `dev` off its bridge: it stays up, but nothing crosses between it and the bridge."""
        self.ip("link", "set", _ifname(dev), "nomaster")

    def set_master(self, dev: str, bridge: str) -> None:
        """Make `dev` a port of `bridge`."""
        self.ip("link", "set", _ifname(dev), "master", _ifname(bridge))

    def sysctl(self, key: str, value: str) -> None:
        """Set a sysctl as seen from inside the namespace (net.* keys are per namespace)."""
        if not _SYSCTL.match(key) or not value.strip() or "\n" in value:
            raise ValueError(f"bad sysctl {key}={value!r}")
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def links(self) -> tuple[str, ...]:
        """The names of the interfaces in the namespace."""
        out = self.ip("-o", "link", "show")
        # lines look like "3: eth0@if4: <BROADCAST,...>"; the @ part names the peer's index
        return tuple(line.split(":", 2)[1].strip().split("@", 1)[0] for line in out.splitlines() if line.strip())


@contextlib.contextmanager
def entered(namespace: Namespace) -> Iterator[None]:
    """Run the calling thread inside `namespace` for the block, then back where it was. Sockets opened inside stay
    in the namespace for their whole life, so a client made inside keeps working after the block only with the
    connections it already has; threads started inside inherit the namespace."""
    with open("/proc/thread-self/ns/net") as original, open(_NETNS_DIR / namespace.name) as target:
        _enter(target.fileno(), namespace.name)
        try:
            yield
        finally:
            _enter(original.fileno(), "the original namespace")


def _enter(fd: int, what: str) -> None:
    if _setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise NetnsError(f"cannot enter {what}: {os.strerror(error)}")


class Process(Child):
    """A long-running process started inside a namespace by `Network.spawn`; stop it with `Network.stop`.

    `ip netns exec` execs the command, so the PID is the command's own. It leads a session of its own, and is not
    reaped before `Network.stop`, which then also kills what is left of its process group."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        namespace: Namespace,
        argv: tuple[str, ...],
        log: Path | None,
        name: str | None = None,
    ) -> None:
        super().__init__(popen, name or Path(argv[0]).name, log)
        self.namespace = namespace
        self.argv = argv

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets open but stops answering, so its peers' hold timers run out."""
        self.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.send_signal(signal.SIGCONT)

    def _ask_to_stop(self) -> None:
        """SIGTERM, and SIGCONT: a paused process acts on SIGTERM only once it runs again."""
        self.send_signal(signal.SIGTERM)
        self.send_signal(signal.SIGCONT)

    def __repr__(self) -> str:
        return f"Process(pid={self.pid}, namespace={self.namespace.name!r}, argv={list(self.argv)!r})"


class Network:
    """Owns the namespaces it creates and the processes it spawns, and removes them all on `close()`/exit."""

    def __init__(self, prefix: str = "dnslb") -> None:
        if not _PREFIX.match(prefix):
            raise ValueError(f"namespace prefix {prefix!r} must be lowercase letters and digits, at most 16")
        self.tag = f"{prefix}-{secrets.token_hex(3)}"
        self._namespaces: list[Namespace] = []
        self._processes: list[Process] = []
        self._closed = False
        atexit.register(self.close)

    @property
    def namespaces(self) -> tuple[Namespace, ...]:
        return tuple(self._namespaces)

    @property
    def processes(self) -> tuple[Process, ...]:
        """The spawned processes not stopped yet (some may have ended on their own)."""
        return tuple(self._processes)

    def namespace(self, role: str) -> Namespace:
        """Create the namespace `<tag>-<role>` with its loopback up."""
        self._check_open()
        if not _ROLE.match(role):
            raise ValueError(f"namespace role {role!r} must be lowercase letters, digits and dashes")
        namespace = Namespace(f"{self.tag}-{role}")
        if namespace in self._namespaces:
            raise ValueError(f"namespace {namespace.name} exists already")
        _run([IP, "netns", "add", namespace.name])
        self._namespaces.append(namespace)
        namespace.set_link("lo", up=True)
        return namespace

    def veth(self, a: Namespace, a_dev: str, b: Namespace, b_dev: str, *, up: bool = True) -> None:
        """A veth pair: `a_dev` in `a` joined to `b_dev` in `b` (both created there directly, never in the host)."""
        self._check_owned(a, b)
        a.ip("link", "add", _ifname(a_dev), "type", "veth", "peer", "name", _ifname(b_dev), "netns", b.name)
        if up:
            a.set_link(a_dev, up=True)
            b.set_link(b_dev, up=True)

    def bridge(self, namespace: Namespace, dev: str, *, ports: Sequence[str] = ()) -> None:
        """A bridge `dev` in `namespace` with `ports` (interfaces already there) attached, all up.

        Multicast snooping is off: without an MLD querier it can drop IPv6 neighbour discovery after a port flaps."""
        self._check_owned(namespace)
        namespace.ip("link", "add", _ifname(dev), "type", "bridge", "mcast_snooping", "0")
        namespace.set_link(dev, up=True)
        for port in ports:
            namespace.set_master(port, dev)
            namespace.set_link(port, up=True)

    def spawn(
        self,
        namespace: Namespace,
        argv: Sequence[str],
        *,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        name: str | None = None,
    ) -> Process:
        """Start `argv` inside `namespace`, stdout and stderr to `log` (None: discarded), in a session of its own.

        `env` is added to this process's environment; `name` names it in messages (None: the program's name)."""
        self._check_owned(namespace)
        full_env = {**os.environ, **env} if env is not None else None
        popen = spawn([IP, "netns", "exec", namespace.name, *argv], log=log, env=full_env, cwd=cwd, new_session=True)
        process = Process(popen, namespace, tuple(argv), log, name)
        self._processes.append(process)
        return process

    def stop(self, process: Process, *, timeout: float = _STOP_TIMEOUT) -> int:
        """Stop a process this network spawned: SIGTERM (and SIGCONT, should it be paused), SIGKILL after `timeout`;
        then SIGKILL whatever is left of its process group (children it started). Returns its exit status."""
        if process not in self._processes:
            raise ValueError(f"{process!r} was not spawned by this network, or is stopped already")
        status = process.stop(timeout, resume=True, group=True)
        self._processes.remove(process)
        return status

    def close(self) -> None:
        """Stop every process still running, then delete every namespace created; raise `NetnsError` at the end if
        something could not be removed (after trying everything)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        problems: list[str] = []
        for process in self._processes:  # all at once: each may take its grace period (a speaker drains)
            with contextlib.suppress(OSError):
                process._ask_to_stop()
        for process in reversed(self._processes):
            try:
                process.stop(_STOP_TIMEOUT, resume=True, group=True)
            except (OSError, subprocess.SubprocessError) as error:
                problems.append(f"stopping {process!r}: {error}")
        self._processes.clear()
        for namespace in reversed(self._namespaces):
            try:
                _run([IP, "netns", "delete", namespace.name])
            except NetnsError as error:
                problems.append(str(error))
        self._namespaces.clear()
        if problems:
            raise NetnsError("teardown left something behind:\n" + "\n".join(problems))

    def detach(self) -> tuple[tuple[Namespace, ...], tuple[Process, ...]]:
        """Hand over what this network owns: it no longer stops or deletes anything (not even at exit), and the
        caller becomes responsible for the namespaces and processes returned."""
        self._closed = True
        atexit.unregister(self.close)
        owned = tuple(self._namespaces), tuple(self._processes)
        self._namespaces.clear()
        self._processes.clear()
        return owned

    def __enter__(self) -> Network:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"network {self.tag} is closed")

    def _check_owned(self, *namespaces: Namespace) -> None:
        self._check_open()
        for namespace in namespaces:
            if namespace not in self._namespaces:
                raise ValueError(f"namespace {namespace.name} was not created by network {self.tag}")


def _run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = _RUN_TIMEOUT,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env} if env is not None else None
    try:
        result = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, input=input, env=full_env, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise NetnsError(f"`{' '.join(argv)}` did not finish within {timeout:g}s") from error
    if check and result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip())[-2000:]
        raise NetnsError(f"`{' '.join(argv)}` failed with exit status {result.returncode}: {output}")
    return result


def _ifname(dev: str) -> str:
    if not _IFNAME.match(dev):
        raise ValueError(f"interface name {dev!r} must be 1-15 letters, digits, '_', '.' or '-'")
    return dev
