"""FRR as the edge router of a test bed: `zebra` and `bgpd` running inside a network namespace, queried with `vtysh`.

    config = FrrConfig(
        router_id=IPv4Address("10.0.0.1"), asn=64500, hold_time=3,
        neighbors=(FrrNeighbor("node1_v4", IPv4Address("10.0.0.11"), 64512),),
    )
    with FrrRouter(network, router_namespace, config) as frr:
        frr.established()                              # {"node1_v4"}: `show bgp summary json`
        frr.routes(ip_network("10.100.0.1/32"))        # one path per neighbour (a `BirdRoute`, `.protocol` its name)
        frr.kernel_route(ip_network("10.100.0.1/32"))  # what zebra put into the namespace's kernel table
    with FrrRouter(network, router_namespace, "router bgp 64500\n ...") as frr:   # a raw frr.conf, used verbatim
        frr.established()                              # the peer addresses, e.g. {"10.0.0.11"}

The generated config: `bgp route-map delay-timer 0` (FRR otherwise applies route-map changes 5 s late and, until
then, turns away the sessions of neighbours that use one: they came up 5 s later), a deny-all route-map, then one
`router bgp` with `no bgp ebgp-requires-policy` (FRR's "traditional" defaults otherwise accept and send nothing over
eBGP without a route-map) and `no bgp default ipv4-unicast`; per neighbour its ASN, its name as description,
`timers KEEPALIVE HOLD` (keepalive a third of the hold time), `timers connect` (1 s: FRR's default is 120 s),
`passive` and `password` when asked; per family `maximum-paths` (ECMP: zebra installs the equal paths as one
multipath kernel route), and for the neighbours of that family only `activate`, so each session carries its own
family, and the deny-all route-map outbound. So, as the BIRD router, it imports everything and exports nothing (FRR
would otherwise pass one node's routes on to the others). The route-map comes before its use: FRR denies what a
session receives while its route-map is unknown, and does not look at those routes again. `bgp bestpath as-path
multipath-relax` lets paths from different neighbour ASes form one ECMP set (without it FRR only multipaths paths
from the same neighbour AS; BIRD merges them either way). FRR keeps one path per neighbour in its table, its best
marked `primary`, the others flagged multipath.

The daemons run in the foreground as children of the `Network` (stopped by PID), as FRR's own `frr` user (FRR refuses
to run as root: root is not in its `frrvty` group), each with `--vty_socket`, `-z` (zebra's API socket), `-i` (pid
file) and `-f` (an empty per-daemon config) in a temp dir owned by `frr`, `-P 0` (no TCP vty) and `--log stdout`
into a log file per daemon there. No `-N` pathspace: it would only move paths that are given explicitly anyway, and
it leaves a directory behind in /var/run/frr. FRR 8.4 (Debian 12) has no `mgmtd`. The config is then loaded as
FRR's integrated `frr.conf` is at boot: with `vtysh -f`, which hands each line to the daemon that owns it. It is
checked first with `vtysh -C` (the daemons' own `-C` exits 0 on unknown commands); a refused config or a daemon that
does not come up fails loudly, with the config or the daemon's log.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from types import TracebackType
from typing import Any

from dnslb.adapters.child import ChildStartError
from dnslb_testkit.netns import IPAddress, IPNetwork, Namespace, Network, Process
from dnslb_testkit.servers.bird import BirdRoute, KernelRoute, check_asn, check_hold_time, kernel_route

__all__ = [
    "FrrConfig",
    "FrrNeighbor",
    "FrrRouter",
    "FrrStartError",
    "VtyshError",
    "parse_established",
    "parse_paths",
]

FRR_LIBEXEC = Path("/usr/lib/frr")
VTYSH = "/usr/bin/vtysh"
FRR_USER = "frr"
DAEMONS = ("zebra", "bgpd")  # in start order: bgpd connects to zebra's API socket
EXPORT_NONE = "TESTKIT-EXPORT-NONE"  # every neighbour's outbound route-map: the router sends the nodes nothing

_START_TIMEOUT = 15.0
_VTYSH_TIMEOUT = 10.0
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_PASSWORD = re.compile(r"^[!-~]{1,80}$")  # one vtysh WORD: printable ASCII, no space; TCP MD5 keys are <= 80 bytes
_MAX_PATHS = 256  # Debian builds FRR with --enable-multipath=256
# FRR's names of the well-known communities, as its JSON `community.string` spells them (RFC 1997, 7999, 8326, 8642)
_WELL_KNOWN = {
    "graceful-shutdown": (65535, 0),
    "accept-own": (65535, 1),
    "route-filter-translated-v4": (65535, 2),
    "route-filter-v4": (65535, 3),
    "route-filter-translated-v6": (65535, 4),
    "route-filter-v6": (65535, 5),
    "llgr-stale": (65535, 6),
    "no-llgr": (65535, 7),
    "accept-own-nexthop": (65535, 8),
    "blackhole": (65535, 666),
    "no-export": (65535, 65281),
    "no-advertise": (65535, 65282),
    "local-AS": (65535, 65283),
    "no-peer": (65535, 65284),
}


class FrrStartError(ChildStartError):
    """FRR refused its config or a daemon did not come up; the message carries the config or the daemon's log."""


class VtyshError(RuntimeError):
    """vtysh failed or FRR answered a command with an error."""


@dataclass(frozen=True)
class FrrNeighbor:
    """One BGP session, to `address` (its family is the session's). `name` is how the tests call it (FRR keeps it as
    the neighbour's description); `passive`: wait for the neighbour to connect (FRR otherwise connects and listens
    both); `hold_time`: None for the router's; `password`: the TCP MD5 key."""

    name: str
    address: IPAddress
    asn: int
    passive: bool = False
    hold_time: int | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"neighbour name {self.name!r} must be a letter then letters, digits or '_'")
        check_asn(self.asn)
        if self.hold_time is not None:
            check_hold_time(self.hold_time)
        if self.password is not None and not _PASSWORD.match(self.password):
            raise ValueError(f"{self.name}: the password must be 1-80 printable ASCII characters without spaces")

    @property
    def family(self) -> str:
        return "ipv6" if self.address.version == 6 else "ipv4"


@dataclass(frozen=True)
class FrrConfig:
    """What the router is: its ID and ASN, its neighbours and timers, and how many equal paths go to the kernel."""

    router_id: IPv4Address
    asn: int
    neighbors: tuple[FrrNeighbor, ...]
    hold_time: int = 9
    connect_retry_time: int = 1
    maximum_paths: int = 16
    multipath_relax: bool = True

    def __post_init__(self) -> None:
        check_asn(self.asn)
        check_hold_time(self.hold_time)
        names = [n.name for n in self.neighbors]
        if len(set(names)) != len(names):
            raise ValueError(f"neighbour names must be unique: {names}")
        addresses = [n.address for n in self.neighbors]
        if len(set(addresses)) != len(addresses):
            raise ValueError(f"neighbour addresses must be unique: {[str(a) for a in addresses]}")
        if not 1 <= self.connect_retry_time <= 65535:
            raise ValueError("connect retry time must be 1..65535 seconds")
        if not 1 <= self.maximum_paths <= _MAX_PATHS:
            raise ValueError(f"maximum paths must be 1..{_MAX_PATHS}")

    def names(self) -> dict[str, str]:
        """Peer address (as FRR prints it) → neighbour name."""
        return {n.address.compressed: n.name for n in self.neighbors}

    def render(self) -> str:
        """The frr.conf text."""
        lines = [
            "bgp route-map delay-timer 0",
            f"route-map {EXPORT_NONE} deny 10",  # defined before its use (see the module's docstring)
            "exit",
            f"router bgp {self.asn}",
            f" bgp router-id {self.router_id}",
            " no bgp ebgp-requires-policy",
            " no bgp default ipv4-unicast",
        ]
        if self.multipath_relax:
            lines.append(" bgp bestpath as-path multipath-relax")
        for neighbor in self.neighbors:
            peer = f" neighbor {neighbor.address}"
            hold = neighbor.hold_time if neighbor.hold_time is not None else self.hold_time
            lines += [
                f"{peer} remote-as {neighbor.asn}",
                f"{peer} description {neighbor.name}",
                f"{peer} timers {hold // 3} {hold}",
                f"{peer} timers connect {self.connect_retry_time}",
            ]
            if neighbor.passive:
                lines.append(f"{peer} passive")
            if neighbor.password is not None:
                lines.append(f"{peer} password {neighbor.password}")
        for family in ("ipv4", "ipv6"):
            lines += [f" address-family {family} unicast", f"  maximum-paths {self.maximum_paths}"]
            for neighbor in (n for n in self.neighbors if n.family == family):
                lines += [
                    f"  neighbor {neighbor.address} activate",
                    f"  neighbor {neighbor.address} route-map {EXPORT_NONE} out",
                ]
            lines.append(" exit-address-family")
        lines.append("exit")
        return "\n".join(lines) + "\n"


class FrrRouter:
    """FRR (zebra and bgpd) with `config` — an `FrrConfig`, or a raw frr.conf text used verbatim — running inside
    `namespace` as children of `network`; a context manager that starts the daemons, loads the config, and stops
    them by PID."""

    def __init__(
        self,
        network: Network,
        namespace: Namespace,
        config: FrrConfig | str,
        *,
        libexec: Path = FRR_LIBEXEC,
        vtysh: str = VTYSH,
        user: str = FRR_USER,
        start_timeout: float = _START_TIMEOUT,
    ) -> None:
        self.network = network
        self.namespace = namespace
        self.config = config
        self._libexec = libexec
        self._vtysh = vtysh
        self._user = user
        self._start_timeout = start_timeout
        self._directory: Path | None = None
        self._processes: dict[str, Process] = {}

    @property
    def directory(self) -> Path:
        """The temp dir holding frr.conf, the daemons' vty sockets, pid files and logs."""
        if self._directory is None:
            raise RuntimeError("FrrRouter is not started")
        return self._directory

    @property
    def processes(self) -> dict[str, Process]:
        """Daemon name → its process."""
        if not self._processes:
            raise RuntimeError("FrrRouter is not started")
        return dict(self._processes)

    def config_text(self) -> str:
        return self.config if isinstance(self.config, str) else self.config.render()

    def log(self) -> str:
        """Every daemon's log, one after the other, each under a `--- daemon` line, then what vtysh said loading the
        config (FRR accepts a reference to a route-map it does not know, and says so only there)."""
        parts = []
        for name in (*DAEMONS, "vtysh"):
            path = self.directory / f"{name}.log"
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def start(self) -> FrrRouter:
        if self._directory is not None:
            raise RuntimeError("FrrRouter is already started")
        self._directory = Path(tempfile.mkdtemp(prefix=f"{self.network.tag}-frr-"))
        try:
            try:
                account = pwd.getpwnam(self._user)
            except KeyError:
                raise FrrStartError(f"no user {self._user!r}: is the Debian package frr installed?") from None
            conf = self.directory / "frr.conf"
            conf.write_text(self.config_text())
            (self.directory / "vtysh.conf").write_text("")  # vtysh reads this, not /etc/frr/vtysh.conf
            for daemon in DAEMONS:
                (self.directory / f"{daemon}.conf").write_text("")
            os.chown(self.directory, account.pw_uid, account.pw_gid)  # the daemons drop to `frr` and write here
            self._check_config(conf)
            for daemon in DAEMONS:
                self._start_daemon(daemon)
            self._load_config(conf)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        processes, self._processes = self._processes, {}
        try:
            for daemon in reversed(DAEMONS):
                process = processes.get(daemon)
                if process is not None and process in self.network.processes:
                    self.network.stop(process)
        finally:
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
                self._directory = None

    def __enter__(self) -> FrrRouter:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def vtysh(self, command: str, *, daemon: str | None = None) -> str:
        """Run one vtysh command (against one daemon, or whichever owns it) and return its output."""
        argv = [self._vtysh, "--config_dir", str(self.directory), "--vty_socket", str(self.directory)]
        if daemon is not None:
            argv += ["-d", daemon]
        try:
            result = subprocess.run(
                [*argv, "-c", command], capture_output=True, text=True, timeout=_VTYSH_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise VtyshError(f"vtysh -c {command!r} did not answer within {_VTYSH_TIMEOUT:g}s") from error
        if result.returncode != 0 or result.stdout.lstrip().startswith("%"):
            raise VtyshError(f"vtysh -c {command!r} failed ({result.returncode}): {_output(result)}")
        return result.stdout

    def configure(self, *lines: str) -> None:
        """Change the running config as an operator would: `configure terminal`, then `lines` in order."""
        self.vtysh("\n".join(("configure terminal", *lines)))

    def vtysh_json(self, command: str) -> Any:
        """A `... json` command's answer, parsed ({} when FRR has nothing to show)."""
        text = self.vtysh(f"{command} json").strip()
        try:
            return json.loads(text) if text else {}
        except json.JSONDecodeError as error:
            raise VtyshError(f"vtysh -c {command!r} json: not JSON: {text[:500]}") from error

    def peers(self) -> dict[str, str]:
        """Peer address → BGP state (Established, Active, Connect, Idle, ...), over every address family."""
        return parse_peers(self.vtysh_json("show bgp summary"))

    def established(self) -> frozenset[str]:
        """The names of the neighbours whose session is Established (a raw config's neighbours: their addresses)."""
        return parse_established(self.vtysh_json("show bgp summary"), self._names())

    def routes(self, prefix: IPNetwork) -> tuple[BirdRoute, ...]:
        """Every path FRR has for exactly `prefix` (none: an empty tuple), `.protocol` the neighbour's name."""
        family = "ipv6" if prefix.version == 6 else "ipv4"
        return parse_paths(self.vtysh_json(f"show bgp {family} unicast {prefix}"), prefix, self._names())

    def fib_next_hops(self, prefix: IPNetwork) -> frozenset[IPAddress]:
        """The next hops zebra has installed for exactly `prefix` (`show ip route PREFIX json`, those marked fib)."""
        command = "show ipv6 route" if prefix.version == 6 else "show ip route"
        answer = self.vtysh_json(f"{command} {prefix}")
        hops: set[IPAddress] = set()
        for entry in answer.get(str(prefix), []):
            if entry.get("installed"):
                hops |= {ip_address(h["ip"]) for h in entry.get("nexthops", []) if h.get("fib") and "ip" in h}
        return frozenset(hops)

    def kernel_route(self, prefix: IPNetwork) -> KernelRoute | None:
        """The route for exactly `prefix` in the router namespace's main kernel table (zebra's are protocol `bgp`)."""
        return kernel_route(self.namespace, prefix)

    def _names(self) -> dict[str, str]:
        return self.config.names() if isinstance(self.config, FrrConfig) else {}

    def _start_daemon(self, daemon: str) -> None:
        d = self.directory
        argv = [
            str(self._libexec / daemon),
            "-u", self._user, "-g", self._user,
            "-P", "0",
            "--vty_socket", str(d),
            "-z", str(d / "zserv.api"),
            "-i", str(d / f"{daemon}.pid"),
            "-f", str(d / f"{daemon}.conf"),
            "--log", "stdout",
        ]  # fmt: skip
        process = self.network.spawn(self.namespace, argv, log=d / f"{daemon}.log", name=f"FRR {daemon}")
        self._processes[daemon] = process
        process.wait_ready(lambda: self._answers(daemon), self._start_timeout, "come up", error=FrrStartError)

    def _answers(self, daemon: str) -> bool:
        if not (self.directory / f"{daemon}.vty").exists():
            return False
        try:
            self.vtysh("show version", daemon=daemon)
        except VtyshError:
            return False
        return True

    def _check_config(self, conf: Path) -> None:
        result = self._vtysh_run("-C", "-f", str(conf))
        if result.returncode != 0:
            raise FrrStartError(f"FRR refused its config: {_output(result)}\n{conf.read_text()}")

    def _load_config(self, conf: Path) -> None:
        result = self._vtysh_run("--vty_socket", str(self.directory), "-f", str(conf))
        (self.directory / "vtysh.log").write_text(_output(result))
        if result.returncode != 0:
            raise FrrStartError(f"FRR refused its config: {_output(result)}\n{conf.read_text()}\n{self._daemon_logs()}")
        for process in self._processes.values():
            if not process.alive():
                raise FrrStartError(f"{process.name} exited while loading its config:\n{self.log()}")

    def _daemon_logs(self) -> str:
        return "\n".join(f"--- {name}\n{p.log_tail()}" for name, p in self._processes.items())

    def _vtysh_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [self._vtysh, "--config_dir", str(self.directory), *args]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=_VTYSH_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as error:
            raise FrrStartError(f"`{' '.join(argv)}` did not finish within {_VTYSH_TIMEOUT:g}s") from error


def parse_peers(summary: dict[str, Any]) -> dict[str, str]:
    """`show bgp summary json` into peer address → state, over every address family."""
    states: dict[str, str] = {}
    for family in summary.values():
        if not isinstance(family, dict):
            continue
        for address, peer in (family.get("peers") or {}).items():
            state = str(peer.get("state", ""))
            if states.get(address) != "Established":
                states[address] = state
    return states


def parse_established(summary: dict[str, Any], names: dict[str, str] | None = None) -> frozenset[str]:
    """The Established peers of `show bgp summary json`, by `names` (peer address → name; unnamed: the address)."""
    names = names or {}
    return frozenset(
        names.get(address, address) for address, state in parse_peers(summary).items() if state == "Established"
    )


def parse_paths(
    answer: dict[str, Any], prefix: IPNetwork, names: dict[str, str] | None = None
) -> tuple[BirdRoute, ...]:
    """`show bgp ipv4|ipv6 unicast PREFIX json` into one route per path, with BIRD's spelling of the attributes
    (`as_path` "64512 64513", `origin` IGP/EGP/Incomplete, `community` "(65000, 1) (65535, 65281)", ...)."""
    names = names or {}
    routes = []
    for path in answer.get("paths", []):
        peer = path.get("peer", {})
        address = str(peer.get("peerId", ""))
        hops = tuple(ip_address(h["ip"]) for h in path.get("nexthops", []) if "ip" in h)
        attributes: list[tuple[str, str]] = [("as_path", str(path.get("aspath", {}).get("string", "")))]
        if "origin" in path:
            origin = str(path["origin"])
            attributes.append(("origin", origin.capitalize() if origin.lower() == "incomplete" else origin))
        if hops:
            attributes.append(("next_hop", " ".join(str(h) for h in hops)))
        for key, name in (("locPrf", "local_pref"), ("metric", "med")):
            if key in path:
                attributes.append((name, str(path[key])))
        if "community" in path:
            pairs = [_community(token) for token in str(path["community"].get("string", "")).split()]
            attributes.append(("community", " ".join(f"({a}, {b})" for a, b in pairs)))
        if "largeCommunity" in path:
            triples = [token.split(":") for token in str(path["largeCommunity"].get("string", "")).split()]
            attributes.append(("large_community", " ".join(f"({a}, {b}, {c})" for a, b, c in triples)))
        routes.append(
            BirdRoute(
                prefix=prefix,
                protocol=names.get(address, address),
                kind="unicast",
                primary=bool(path.get("bestpath", {}).get("overall")),
                next_hops=hops,
                interfaces=tuple(str(h["interface"]) for h in path.get("nexthops", []) if "interface" in h),
                attributes=tuple(attributes),
            )
        )
    return tuple(routes)


def _community(token: str) -> tuple[int, int]:
    if token in _WELL_KNOWN:
        return _WELL_KNOWN[token]
    high, _, low = token.partition(":")
    return int(high), int(low)


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return ((result.stderr or "") + (result.stdout or "")).strip()[-3000:]
