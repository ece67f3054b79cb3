"""BIRD 2 as the edge router of a test bed: running inside a network namespace, one BGP session per neighbour.

    config = BirdConfig(
        router_id=IPv4Address("10.0.0.1"), asn=64500, hold_time=3,
        neighbors=(BirdNeighbor("node1_v4", IPv4Address("10.0.0.11"), 64512, local_address=IPv4Address("10.0.0.1")),),
    )
    with BirdRouter(network, router_namespace, config) as bird:
        bird.protocol("node1_v4").established          # `birdc show protocols`
        bird.routes(ip_network("10.100.0.1/32"))       # one BirdRoute per path, with next hop and BGP attributes
        bird.kernel_route(ip_network("10.100.0.1/32")) # what BIRD put into the namespace's kernel table

The generated config: a `device` protocol; a `kernel` protocol per family that exports the BGP routes into the main
table with `merge paths on`, so equal paths from several neighbours become one multipath (ECMP) kernel route; one
`bgp` protocol per neighbour carrying the session's own family (`import all; export none;`), with short `connect
delay`/`connect retry`/`error wait` timers so sessions come back within seconds. BIRD merges paths that are equal
by its rules: same local preference, AS path length, origin, MED (compared only between paths from the same
neighbour AS), eBGP vs iBGP and IGP metric — different neighbour ASNs do not prevent merging, a longer AS path (a
prepend) drops that path from the ECMP set, `merge paths off` leaves the kernel one next hop. Its own table keeps one
route per neighbour (`routes()` shows them all, BIRD's best marked `primary`); only the kernel route is multipath.
`kernel_table=N` exports those routes into the kernel routing table N instead of main (`kernel table N;` in both
kernel protocols; Linux makes a numeric table on first use), for something else to turn into main-table routes — the
lab's resilient-ECMP router emulation, `dnslb_lab.resilient`; `kernel_route()` still reads main.
LOCAL_PREF does not cross an eBGP session: every path from a node has BIRD's default, 100. Graceful restart stays at
BIRD's default (aware: it keeps a restarting peer's routes only if that peer announced the capability).

BIRD runs in the foreground (`-f`) as a child process of the `Network`, with its control socket, config and log in a
temp dir, and is stopped by PID. It fails loudly, with its log, when the config is refused or it does not come up.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address, ip_network
from pathlib import Path
from types import TracebackType
from typing import Any

from dnslb.adapters.child import ChildStartError
from dnslb_testkit.netns import IPAddress, IPNetwork, Namespace, Network, Process

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"

_START_TIMEOUT = 15.0
_BIRDC_TIMEOUT = 10.0
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_MAX_ASN = 2**32 - 1
_MAX_TABLE = 2**32 - 1

# `show route ... all`: a path starts with "PREFIX  unicast [proto 10:11:06.370] * (100) [AS64512i]"; the prefix is
# left out on the further paths of the same network
_ROUTE_HEAD = re.compile(r"^(?P<prefix>\S+)?\s+(?P<kind>[a-z]+) \[(?P<protocol>\S+)[^\]]*\](?P<primary> \*)?")
_VIA = re.compile(r"^via (?P<gateway>\S+) on (?P<dev>\S+)")
_DEV = re.compile(r"^dev (?P<dev>\S+)")
_PAIR = re.compile(r"\((\d+),\s*(\d+)\)")
_TRIPLE = re.compile(r"\((\d+),\s*(\d+),\s*(\d+)\)")


class BirdStartError(ChildStartError):
    """BIRD refused its config or did not come up; the message carries its log."""


class BirdcError(RuntimeError):
    """birdc failed or BIRD answered with an error."""


@dataclass(frozen=True)
class BirdNeighbor:
    """One BGP session. `name` is BIRD's protocol name; the session carries the family of `address`.

    `local_address`: the router's own address for the session; `passive`: wait for the neighbour to connect (BIRD
    otherwise connects and listens both); `hold_time`: None for the router's."""

    name: str
    address: IPAddress
    asn: int
    local_address: IPAddress
    passive: bool = False
    hold_time: int | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"BIRD protocol name {self.name!r} must be a letter then letters, digits or '_'")
        check_asn(self.asn)
        if self.local_address.version != self.address.version:
            raise ValueError(f"{self.name}: local address {self.local_address} is not of the family of {self.address}")
        if self.hold_time is not None:
            check_hold_time(self.hold_time)

    @property
    def family(self) -> str:
        return "ipv6" if self.address.version == 6 else "ipv4"


@dataclass(frozen=True)
class BirdConfig:
    """What the router is: its ID and ASN, its neighbours and timers, and whether its BGP routes go to the kernel."""

    router_id: IPv4Address
    asn: int
    neighbors: tuple[BirdNeighbor, ...]
    hold_time: int = 9
    connect_retry_time: int = 1
    error_wait_time: tuple[int, int] = (1, 5)
    merge_paths: bool = True
    kernel: bool = True
    kernel_table: int | None = None  # None: main

    def __post_init__(self) -> None:
        check_asn(self.asn)
        table = self.kernel_table
        if table is not None and (not 0 < table <= _MAX_TABLE or 253 <= table <= 255):
            raise ValueError(f"kernel table {table} is 253-255 (default, main, local) or out of 1..{_MAX_TABLE}")
        check_hold_time(self.hold_time)
        names = [n.name for n in self.neighbors]
        if len(set(names)) != len(names):
            raise ValueError(f"neighbour names must be unique: {names}")
        if self.connect_retry_time < 1 or not 1 <= self.error_wait_time[0] <= self.error_wait_time[1]:
            raise ValueError("connect retry time must be >= 1 and error wait time (min, max) with 1 <= min <= max")

    def render(self) -> str:
        """The bird.conf text (logging goes to stderr, which the router sends to its log file)."""
        lines = [
            "log stderr all;",
            f"router id {self.router_id};",
            "protocol device { scan time 10; }",
        ]
        if self.kernel:
            merge = "  merge paths on;" if self.merge_paths else "  merge paths off;"
            for family in ("ipv4", "ipv6"):
                lines += [
                    f"protocol kernel kernel_{family} {{",
                    *([f"  kernel table {self.kernel_table};"] if self.kernel_table is not None else []),
                    f"  {family} {{ import none; export where source = RTS_BGP; }};",
                    merge,
                    "}",
                ]
        for neighbor in self.neighbors:
            hold = neighbor.hold_time if neighbor.hold_time is not None else self.hold_time
            low, high = self.error_wait_time
            lines += [
                f"protocol bgp {neighbor.name} {{",
                f"  local {neighbor.local_address} as {self.asn};",
                f"  neighbor {neighbor.address} as {neighbor.asn};",
                f"  passive {'on' if neighbor.passive else 'off'};",
                f"  hold time {hold};",
                f"  keepalive time {hold // 3};",
                "  connect delay time 1;",
                f"  connect retry time {self.connect_retry_time};",
                f"  error wait time {low}, {high};",
                f"  {neighbor.family} {{ import all; export none; }};",
                "}",
            ]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BirdProtocol:
    """A line of `show protocols`: `state` is up/down/start/stop, `info` the BGP state (Established, Active, ...)."""

    name: str
    proto: str
    state: str
    info: str

    @property
    def established(self) -> bool:
        return self.proto == "BGP" and self.info.split(" ", 1)[0] == "Established"


@dataclass(frozen=True)
class BirdRoute:
    """One path BIRD has for a prefix (`show route PREFIX all`), from the protocol (neighbour) that sent it.

    `primary`: BIRD's best path. `attributes`: every `BGP.*` attribute as BIRD prints it, name without `BGP.`."""

    prefix: IPNetwork
    protocol: str
    kind: str
    primary: bool
    next_hops: tuple[IPAddress, ...]
    interfaces: tuple[str, ...]
    attributes: tuple[tuple[str, str], ...] = ()

    def attribute(self, name: str) -> str | None:
        return next((value for key, value in self.attributes if key == name), None)

    @property
    def next_hop(self) -> IPAddress | None:
        return self.next_hops[0] if self.next_hops else None

    @property
    def as_path(self) -> tuple[int, ...]:
        text = self.attribute("as_path") or ""
        return tuple(int(token) for token in re.findall(r"\d+", text))

    @property
    def local_pref(self) -> int | None:
        text = self.attribute("local_pref")
        return int(text) if text is not None else None

    @property
    def med(self) -> int | None:
        text = self.attribute("med")
        return int(text) if text is not None else None

    @property
    def origin(self) -> str | None:
        return self.attribute("origin")

    @property
    def communities(self) -> tuple[tuple[int, int], ...]:
        text = self.attribute("community") or ""
        return tuple((int(a), int(b)) for a, b in _PAIR.findall(text))

    @property
    def large_communities(self) -> tuple[tuple[int, int, int], ...]:
        text = self.attribute("large_community") or ""
        return tuple((int(a), int(b), int(c)) for a, b, c in _TRIPLE.findall(text))


@dataclass(frozen=True)
class KernelNextHop:
    gateway: IPAddress | None
    dev: str
    weight: int = 1


@dataclass(frozen=True)
class KernelRoute:
    """A route in a namespace's kernel table (`ip route show exact PREFIX`), multipath or not."""

    prefix: IPNetwork
    protocol: str
    next_hops: tuple[KernelNextHop, ...] = ()

    @property
    def gateways(self) -> frozenset[IPAddress]:
        return frozenset(hop.gateway for hop in self.next_hops if hop.gateway is not None)


class BirdRouter:
    """BIRD with `config`, running inside `namespace` as a child of `network`; a context manager that starts it,
    waits until its control socket answers, and stops it by PID."""

    def __init__(
        self,
        network: Network,
        namespace: Namespace,
        config: BirdConfig,
        *,
        bird: str = BIRD,
        birdc: str = BIRDC,
        start_timeout: float = _START_TIMEOUT,
    ) -> None:
        self.network = network
        self.namespace = namespace
        self.config = config
        self._bird = bird
        self._birdc = birdc
        self._start_timeout = start_timeout
        self._directory: Path | None = None
        self._process: Process | None = None

    @property
    def directory(self) -> Path:
        """The temp dir holding bird.conf, the control socket and bird.log."""
        if self._directory is None:
            raise RuntimeError("BirdRouter is not started")
        return self._directory

    @property
    def socket(self) -> Path:
        return self.directory / "bird.ctl"

    @property
    def process(self) -> Process:
        if self._process is None:
            raise RuntimeError("BirdRouter is not started")
        return self._process

    def log(self) -> str:
        path = self.directory / "bird.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> BirdRouter:
        if self._process is not None:
            raise RuntimeError("BirdRouter is already started")
        self._directory = Path(tempfile.mkdtemp(prefix=f"{self.network.tag}-bird-"))
        try:
            conf = self.directory / "bird.conf"
            conf.write_text(self.config.render())
            self._check_config(conf)
            self._process = self.network.spawn(
                self.namespace,
                [self._bird, "-f", "-c", str(conf), "-s", str(self.socket), "-P", str(self.directory / "bird.pid")],
                log=self.directory / "bird.log",
            )
            self.process.wait_ready(self._up, self._start_timeout, "come up", error=BirdStartError)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process in self.network.processes:
            self.network.stop(process)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def __enter__(self) -> BirdRouter:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def birdc(self, *command: str) -> str:
        """Run one birdc command and return its output without the greeting line."""
        try:
            result = subprocess.run(
                [self._birdc, "-s", str(self.socket), *command],
                capture_output=True,
                text=True,
                timeout=_BIRDC_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise BirdcError(f"birdc {' '.join(command)} did not answer within {_BIRDC_TIMEOUT:g}s") from error
        lines = result.stdout.splitlines()
        if result.returncode != 0 or not lines or not lines[0].startswith("BIRD "):
            raise BirdcError(f"birdc {' '.join(command)} failed: {(result.stderr or result.stdout).strip()}")
        text = "\n".join(lines[1:])
        if text.startswith(("syntax error", "Unknown command")):
            raise BirdcError(f"birdc {' '.join(command)}: {text.strip()}")
        return text

    def protocols(self) -> tuple[BirdProtocol, ...]:
        return parse_protocols(self.birdc("show", "protocols"))

    def protocol(self, name: str) -> BirdProtocol:
        for protocol in self.protocols():
            if protocol.name == name:
                return protocol
        raise KeyError(f"BIRD has no protocol {name!r}")

    def established(self) -> frozenset[str]:
        """The names of the BGP protocols whose session is Established."""
        return frozenset(p.name for p in self.protocols() if p.established)

    def routes(self, prefix: IPNetwork) -> tuple[BirdRoute, ...]:
        """Every path BIRD has for exactly `prefix` (none: an empty tuple)."""
        try:
            return parse_routes(self.birdc("show", "route", str(prefix), "all"))
        except BirdcError as error:
            if "Network not found" in str(error):  # BIRD's answer when it has no route for the prefix at all
                return ()
            raise

    def kernel_route(self, prefix: IPNetwork) -> KernelRoute | None:
        """The route for exactly `prefix` in the router namespace's main kernel table."""
        return kernel_route(self.namespace, prefix)

    def _check_config(self, conf: Path) -> None:
        result = subprocess.run(
            [self._bird, "-p", "-c", str(conf)], capture_output=True, text=True, timeout=_BIRDC_TIMEOUT, check=False
        )
        if result.returncode != 0:
            raise BirdStartError(
                f"BIRD refused its config: {(result.stderr or result.stdout).strip()}\n{conf.read_text()}"
            )

    def _up(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return "Daemon is up and running" in self.birdc("show", "status")
        except BirdcError:
            return False


def parse_protocols(text: str) -> tuple[BirdProtocol, ...]:
    """`show protocols` output (without the greeting) into protocols."""
    protocols = []
    for line in text.splitlines():
        fields = line.split(None, 5)
        if len(fields) < 5 or fields[0] == "Name":
            continue
        # Name Proto Table State Since [Info]; Since is a time (and maybe a date, but then it has no spaces)
        name, proto, _table, state = fields[:4]
        info = fields[5].strip() if len(fields) > 5 else ""
        protocols.append(BirdProtocol(name, proto, state, info))
    return tuple(protocols)


def parse_routes(text: str) -> tuple[BirdRoute, ...]:
    """`show route PREFIX all` output (without the greeting) into one route per path."""
    routes: list[BirdRoute] = []
    prefix: IPNetwork | None = None
    current: dict[str, Any] | None = None

    def finish() -> None:
        if current is not None and prefix is not None:
            routes.append(
                BirdRoute(
                    prefix=prefix,
                    protocol=current["protocol"],
                    kind=current["kind"],
                    primary=current["primary"],
                    next_hops=tuple(current["hops"]),
                    interfaces=tuple(current["devs"]),
                    attributes=tuple(current["attributes"]),
                )
            )

    for line in text.splitlines():
        if not line.strip() or line.startswith("Table ") or line.startswith("Network not found"):
            continue
        if line.startswith("\t"):
            if current is None:
                continue
            body = line.strip()
            if via := _VIA.match(body):
                current["hops"].append(ip_address(via["gateway"]))
                current["devs"].append(via["dev"])
            elif dev := _DEV.match(body):
                current["devs"].append(dev["dev"])
            elif body.startswith("BGP.") and ":" in body:
                key, value = body[4:].split(":", 1)
                current["attributes"].append((key.strip(), value.strip()))
            continue
        head = _ROUTE_HEAD.match(line)
        if head is None:
            continue
        finish()
        if head["prefix"]:
            prefix = ip_network(head["prefix"])
        current = {
            "protocol": head["protocol"],
            "kind": head["kind"],
            "primary": bool(head["primary"]),
            "hops": [],
            "devs": [],
            "attributes": [],
        }
    finish()
    return tuple(routes)


def kernel_route(namespace: Namespace, prefix: IPNetwork) -> KernelRoute | None:
    """The route for exactly `prefix` in `namespace`'s main table, with its next hops (one per path)."""
    family = "-6" if prefix.version == 6 else "-4"
    entries = json.loads(namespace.ip("-j", family, "route", "show", "exact", str(prefix)) or "[]")
    if not entries:
        return None
    entry = entries[0]
    hops = entry.get("nexthops") or [entry]
    next_hops = tuple(
        KernelNextHop(_gateway(hop.get("gateway")), str(hop.get("dev", "")), int(hop.get("weight", 1))) for hop in hops
    )
    return KernelRoute(prefix, str(entry.get("protocol", "")), next_hops)


def _gateway(text: object) -> IPAddress | None:
    return ip_address(text) if isinstance(text, str) else None


def check_asn(asn: int) -> None:
    if not 1 <= asn <= _MAX_ASN:
        raise ValueError(f"ASN {asn} is out of range 1..{_MAX_ASN}")


def check_hold_time(hold_time: int) -> None:
    if not 3 <= hold_time <= 65535:
        raise ValueError(f"hold time {hold_time} must be 3..65535 seconds")
