"""A BGP test bed in network namespaces: an edge router running BIRD or FRR, N nodes that announce VIPs to it, a
client.

    with BGPBed(nodes=3, ipv6=True, hold_time=3) as bed:   # router="frr": FRR (zebra + bgpd) instead of BIRD
        node = bed.nodes[0]                 # namespace, ipv4/ipv6, router_ipv4/ipv6 (its BGP peer), asn, session(4|6)
        bed.add_vip(node, vip)              # the VIP on the node's loopback
        bed.spawn(node, ["exabgp", ...])    # a speaker (or anything) inside the node's namespace, stopped by PID
        bed.serve_http(node)                # answers GET with the node's name, on every address of the node
        bed.http_get(vip, count=30)         # from the client: which node answered each of 30 new connections
        bed.routing.established()           # the router's Established sessions, by name: {"node1_v4", ...}
        bed.routing.routes(host_prefix(vip))   # the router's paths, one per node, `.protocol` the session's name
        bed.routing.kernel_route(host_prefix(vip)).gateways   # the router's ECMP route: one next hop per node
        bed.bird, bed.frr                   # the daemon's own object (birdc, vtysh, ...); the other one raises
        bed.cut(node); bed.restore(node)    # the path beyond the node's link cut and mended: only hold timers notice

Topology. Namespaces `dnslb-<6 hex>-router`, `-node1` ... `-nodeN` and `-client`. In the router namespace the bridge
`br0` joins one veth per node (the router end is named after the node, e.g. `node1`; the node end is `eth0`), like
the nodes of a rack behind their top-of-rack router; the client has its own link (`client` ↔ `eth0`). Addresses:

    node LAN (br0)   10.0.0.0/24, fd00::/64        router .1 / ::1, node i: 10.0.0.(10+i) / fd00::(10+i), as
                                                   written (node1: 10.0.0.11 and fd00::11)
    client link      10.0.1.0/24, fd00:0:0:1::/64  router .1 / ::1, client .2 / ::2
    VIPs             anything outside those, e.g. VIPS_V4 = 10.100.0.0/24, VIPS_V6 = fd00:100::/64

Nodes and client route everything via the router. The router forwards IPv4 and IPv6 and hashes multipath by L4
(`fib_multipath_hash_policy=1`), so new connections from the client spread over the ECMP next hops.

BGP. The router is AS `router_asn` (64500); nodes are AS `node_asn` (64512), all the same as a cluster usually is
(`asn_per_node=True`: 64512, 64513, ...; both routers multipath either way: BIRD since paths from different neighbour
ASes are equal when AS path length, origin and local preference are, FRR with `bgp bestpath as-path
multipath-relax`). The router has one session per node and family, whichever daemon runs it: `node1_v4` to the
node's IPv4 address, `node1_v6` to its IPv6 address (BIRD's protocol names, FRR's neighbour descriptions), each
carrying its own family; it connects and listens both (`passive=True`: it only listens), retries every second,
imports everything and exports nothing, and puts one multipath route per prefix into the router's kernel (BIRD's
`merge paths on`, into table N instead with `kernel_table=N`; FRR's `maximum-paths`, installed by zebra as
protocol `bgp`). `cut()` takes the router's port for a node off the bridge: both link ends stay up, so the router and
the node only notice when the hold timer runs out — as with a dead cable or a hung node (or `Process.pause()` on the
node's speaker). SIGKILL of a speaker, by contrast, closes its TCP session at once.

Speakers. The bed runs none itself. ExaBGP 5 runs in a node as `exabgp server CONF` with the environment
`exabgp_daemon_user=root` (no drop to `nobody`) and `exabgp_api_cli=false` (no CLI pipes); `tests/bgp/test_bed.py`
has a minimal static config (`neighbor ROUTER { local-address NODE; local-as; peer-as; hold-time; family;
static { route VIP/32 next-hop self; } }`); the real `ExaBGPDriver` runs in a node with `netns=node.namespace.name`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network, ip_network
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar

from dnslb.adapters.child import ChildStartError
from dnslb_testkit.netns import IPAddress, IPNetwork, Namespace, Network, Process
from dnslb_testkit.servers.bird import BirdConfig, BirdNeighbor, BirdRoute, BirdRouter, KernelRoute
from dnslb_testkit.servers.frr import FrrConfig, FrrNeighbor, FrrRouter

ROUTER_ASN = 64500
NODE_ASN = 64512
HTTP_PORT = 8080
VIPS_V4 = IPv4Network("10.100.0.0/24")
VIPS_V6 = IPv6Network("fd00:100::/64")

_NODE_LAN_V4 = "10.0.0"
_NODE_LAN_V6 = "fd00:"
_CLIENT_LINK_V4 = "10.0.1"
_CLIENT_LINK_V6 = "fd00:0:0:1:"
_BRIDGE = "br0"
_UPLINK = "eth0"
_MAX_NODES = 200
_SERVE_TIMEOUT = 10.0
ROUTERS = ("bird", "frr")

T = TypeVar("T")

# A one-file HTTP server: answers every GET with the node's name. socketserver rather than http.server.HTTPServer,
# whose server_bind looks the bound address up in DNS.
_HTTP_SERVER = """
import socket, socketserver, sys
from http.server import BaseHTTPRequestHandler
name, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
server = Server((host, port), Handler)
print("listening", flush=True)
server.serve_forever()
"""

# The client side: `count` GETs, each on a new connection (so from a new source port), as JSON.
_HTTP_CLIENT = """
import http.client, json, sys
host, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
answers = []
for _ in range(count):
    try:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.request("GET", "/")
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        connection.close()
        if response.status == 200:
            answers.append({"node": body, "error": None})
        else:
            answers.append({"node": None, "error": f"HTTP {response.status}"})
    except Exception as error:
        answers.append({"node": None, "error": f"{type(error).__name__}: {error}"})
print(json.dumps(answers))
"""


class EdgeRouter(Protocol):
    """What the bed's router answers, whichever daemon runs it (`BirdRouter`, `FrrRouter`)."""

    @property
    def directory(self) -> Path: ...

    def log(self) -> str: ...

    def established(self) -> frozenset[str]: ...

    def routes(self, prefix: IPNetwork) -> tuple[BirdRoute, ...]: ...

    def kernel_route(self, prefix: IPNetwork) -> KernelRoute | None: ...


@dataclass(frozen=True)
class BedNode:
    """A node of the bed: its namespace, its link to the router, its addresses and the router's (its BGP peer's)
    addresses on that link, its ASN and the names of the router's sessions to it (`bird_v4`/`bird_v6`, whichever
    daemon runs the router)."""

    name: str
    namespace: Namespace
    interface: str
    port: str
    asn: int
    ipv4: IPv4Address
    router_ipv4: IPv4Address
    bird_v4: str
    ipv6: IPv6Address | None = None
    router_ipv6: IPv6Address | None = None
    bird_v6: str | None = None

    def address(self, version: int) -> IPAddress:
        """The node's address of IP version 4 or 6."""
        return self.ipv4 if version == 4 else _required(self.ipv6, f"{self.name} has no IPv6 address")

    def router_address(self, version: int) -> IPAddress:
        """The router's address (the BGP peer) on this node's link, IP version 4 or 6."""
        return self.router_ipv4 if version == 4 else _required(self.router_ipv6, f"{self.name} has no IPv6 address")

    def bird_protocol(self, version: int) -> str:
        """The router's name for its session to this node over IP version 4 or 6 (BIRD's protocol, FRR's neighbour
        description): `node1_v4`, `node1_v6`."""
        return self.bird_v4 if version == 4 else _required(self.bird_v6, f"{self.name} has no IPv6 session")

    def session(self, version: int) -> str:
        """The same as `bird_protocol`, by a name that fits either router."""
        return self.bird_protocol(version)


@dataclass(frozen=True)
class HttpAnswer:
    """One GET from the client: the name of the node that answered, or why none did."""

    node: str | None
    error: str | None = None


class BGPBed:
    """Router (BIRD, or FRR with `router="frr"`), `nodes` nodes and a client in namespaces; a context manager that
    builds it all and tears it all down (processes by PID, namespaces it created), also when building fails.

    `kernel_table=N` (BIRD only): BIRD exports its routes into the router's kernel table N instead of main
    (`BirdConfig.kernel_table`), for something else to turn into main-table routes, e.g. the lab's resilient-ECMP
    emulation `dnslb_lab.resilient`; until something does, the router forwards nothing to the VIPs."""

    def __init__(
        self,
        nodes: int = 3,
        *,
        ipv6: bool = True,
        router_asn: int = ROUTER_ASN,
        node_asn: int = NODE_ASN,
        asn_per_node: bool = False,
        hold_time: int = 9,
        passive: bool = False,
        prefix: str = "dnslb",
        router: str = "bird",
        kernel_table: int | None = None,
    ) -> None:
        if not 1 <= nodes <= _MAX_NODES:
            raise ValueError(f"a bed has 1..{_MAX_NODES} nodes, not {nodes}")
        if router not in ROUTERS:
            raise ValueError(f"the router runs one of {ROUTERS}, not {router!r}")
        if kernel_table is not None and router != "bird":
            raise ValueError(f"kernel_table is BIRD's (BirdConfig.kernel_table); the router runs {router}")
        self.router_daemon = router
        self.kernel_table = kernel_table
        self.ipv6 = ipv6
        self.router_asn = router_asn
        self.hold_time = hold_time
        self._node_count = nodes
        self._node_asn = node_asn
        self._asn_per_node = asn_per_node
        self._passive = passive
        self.network = Network(prefix)
        self.router_ipv4 = IPv4Address(f"{_NODE_LAN_V4}.1")
        self.router_ipv6 = IPv6Address(f"{_NODE_LAN_V6}:1") if ipv6 else None
        self.client_ipv4 = IPv4Address(f"{_CLIENT_LINK_V4}.2")
        self.client_ipv6 = IPv6Address(f"{_CLIENT_LINK_V6}:2") if ipv6 else None
        self.nodes: tuple[BedNode, ...] = ()
        self._router: Namespace | None = None
        self._client: Namespace | None = None
        self._bird: BirdRouter | None = None
        self._frr: FrrRouter | None = None
        self._directory: Path | None = None

    @property
    def router(self) -> Namespace:
        return _required(self._router, "the bed is not started")

    @property
    def client(self) -> Namespace:
        return _required(self._client, "the bed is not started")

    @property
    def bird(self) -> BirdRouter:
        """The router's BIRD (a bed with `router="bird"`)."""
        if self.router_daemon != "bird":
            raise RuntimeError(f"the bed's router runs {self.router_daemon}, not BIRD: use `routing` or `frr`")
        return _required(self._bird, "the bed is not started")

    @property
    def frr(self) -> FrrRouter:
        """The router's FRR (a bed with `router="frr"`)."""
        if self.router_daemon != "frr":
            raise RuntimeError(f"the bed's router runs {self.router_daemon}, not FRR: use `routing` or `bird`")
        return _required(self._frr, "the bed is not started")

    @property
    def routing(self) -> EdgeRouter:
        """Whichever daemon runs the router: `established()`, `routes(prefix)`, `kernel_route(prefix)`, `log()`."""
        return self.bird if self.router_daemon == "bird" else self.frr

    @property
    def directory(self) -> Path:
        """A temp dir for logs and configs of what runs in the bed; removed at teardown."""
        return _required(self._directory, "the bed is not started")

    def node(self, name: str) -> BedNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"the bed has no node {name!r}")

    def start(self) -> BGPBed:
        if self._router is not None:
            raise RuntimeError("the bed is already started")
        try:
            self._directory = Path(tempfile.mkdtemp(prefix=f"{self.network.tag}-bed-"))  # the tag finds it again
            self._build_router()
            self.nodes = tuple(self._build_node(index) for index in range(1, self._node_count + 1))
            self._build_client()
            if self.router_daemon == "frr":
                self._frr = FrrRouter(self.network, self.router, self._frr_config())
                self._frr.start()
            else:
                self._bird = BirdRouter(self.network, self.router, self._bird_config())
                self._bird.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop the router's daemons and everything spawned, delete the namespaces, remove the temp dir."""
        try:
            if self._bird is not None:
                self._bird.stop()
            if self._frr is not None:
                self._frr.stop()
        finally:
            try:
                self.network.close()
            finally:
                if self._directory is not None:
                    shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> BGPBed:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def run(
        self, where: Namespace | BedNode, argv: Sequence[str], *, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a command to completion inside the router, client or a node; text output."""
        return _namespace(where).run(argv, check=check, timeout=timeout)

    def spawn(
        self,
        where: Namespace | BedNode,
        argv: Sequence[str],
        *,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> Process:
        """Start a long-running command inside the router, client or a node; stopped at teardown or by `stop`."""
        return self.network.spawn(_namespace(where), argv, log=log, env=env, cwd=self.directory, name=name)

    def stop(self, process: Process) -> int:
        """Stop a process started in the bed (by PID) and return its exit status."""
        return self.network.stop(process)

    def add_vip(self, node: BedNode, vip: IPAddress) -> None:
        """Put `vip` on the node's loopback, as a host address (/32 or /128)."""
        node.namespace.add_address("lo", _host_interface(vip))

    def remove_vip(self, node: BedNode, vip: IPAddress) -> None:
        node.namespace.delete_address("lo", _host_interface(vip))

    def serve_http(self, node: BedNode, *, port: int = HTTP_PORT, address: IPAddress | None = None) -> Process:
        """An HTTP server inside the node answering every GET with the node's name, on `address` (None: every
        address of the node, IPv4 and IPv6 — each VIP on its loopback included). Returns once it listens."""
        host = str(address) if address is not None else "::"
        log = self.directory / f"http-{node.name}-{port}.log"
        argv = [sys.executable, "-c", _HTTP_SERVER, node.name, host, str(port)]
        process = self.spawn(node, argv, log=log, name=f"the HTTP server on {node.name}")
        try:
            process.wait_ready(lambda: "listening" in process.read_log(), _SERVE_TIMEOUT, "listen")
        except ChildStartError:
            self.stop(process)
            raise
        return process

    def http_get(
        self, address: IPAddress, *, port: int = HTTP_PORT, count: int = 1, timeout: float = 2.0
    ) -> tuple[HttpAnswer, ...]:
        """`count` GETs from the client to `address`, each on a new connection; which node answered each."""
        if count < 1:
            raise ValueError("count must be at least 1")
        argv = [sys.executable, "-c", _HTTP_CLIENT, str(address), str(port), str(count), str(timeout)]
        result = self.client.run(argv, timeout=count * timeout + 30.0)
        return tuple(HttpAnswer(item["node"], item["error"]) for item in json.loads(result.stdout))

    def cut(self, node: BedNode) -> None:
        """Cut the path beyond the node's link, silently: the router's port for it leaves the bridge, so both ends
        of the link stay up with carrier and no frame crosses — a dead switch port or cable further on, as a node
        sees it. Neither side's kernel says anything; only BGP's hold timers notice."""
        self.router.set_nomaster(node.port)

    def restore(self, node: BedNode) -> None:
        self.router.set_master(node.port, _BRIDGE)

    def _build_router(self) -> None:
        router = self._router = self.network.namespace("router")
        self.network.bridge(router, _BRIDGE)
        router.add_address(_BRIDGE, IPv4Interface(f"{self.router_ipv4}/24"))
        router.sysctl("net.ipv4.ip_forward", "1")
        router.sysctl("net.ipv4.fib_multipath_hash_policy", "1")
        if self.router_ipv6 is not None:
            router.add_address(_BRIDGE, IPv6Interface(f"{self.router_ipv6}/64"))
            router.sysctl("net.ipv6.conf.all.forwarding", "1")
            router.sysctl("net.ipv6.fib_multipath_hash_policy", "1")

    def _build_node(self, index: int) -> BedNode:
        name = f"node{index}"
        namespace = self.network.namespace(name)
        self.network.veth(self.router, name, namespace, _UPLINK)
        self.router.set_master(name, _BRIDGE)
        ipv4 = IPv4Address(f"{_NODE_LAN_V4}.{10 + index}")
        namespace.add_address(_UPLINK, IPv4Interface(f"{ipv4}/24"))
        namespace.add_route(ip_network("0.0.0.0/0"), self.router_ipv4)
        ipv6 = None
        if self.router_ipv6 is not None:
            ipv6 = IPv6Address(f"{_NODE_LAN_V6}:{10 + index}")
            namespace.add_address(_UPLINK, IPv6Interface(f"{ipv6}/64"))
            namespace.add_route(ip_network("::/0"), self.router_ipv6)
        return BedNode(
            name=name,
            namespace=namespace,
            interface=_UPLINK,
            port=name,
            asn=self._node_asn + (index - 1 if self._asn_per_node else 0),
            ipv4=ipv4,
            router_ipv4=self.router_ipv4,
            bird_v4=f"{name}_v4",
            ipv6=ipv6,
            router_ipv6=self.router_ipv6,
            bird_v6=f"{name}_v6" if ipv6 is not None else None,
        )

    def _build_client(self) -> None:
        client = self._client = self.network.namespace("client")
        self.network.veth(self.router, "client", client, _UPLINK)
        self.router.add_address("client", IPv4Interface(f"{_CLIENT_LINK_V4}.1/24"))
        client.add_address(_UPLINK, IPv4Interface(f"{self.client_ipv4}/24"))
        client.add_route(ip_network("0.0.0.0/0"), IPv4Address(f"{_CLIENT_LINK_V4}.1"))
        if self.client_ipv6 is not None:
            self.router.add_address("client", IPv6Interface(f"{_CLIENT_LINK_V6}:1/64"))
            client.add_address(_UPLINK, IPv6Interface(f"{self.client_ipv6}/64"))
            client.add_route(ip_network("::/0"), IPv6Address(f"{_CLIENT_LINK_V6}:1"))

    def _bird_config(self) -> BirdConfig:
        neighbors: list[BirdNeighbor] = []
        for node in self.nodes:
            neighbors.append(BirdNeighbor(node.bird_v4, node.ipv4, node.asn, node.router_ipv4, passive=self._passive))
            if node.ipv6 is not None and node.router_ipv6 is not None and node.bird_v6 is not None:
                neighbors.append(
                    BirdNeighbor(node.bird_v6, node.ipv6, node.asn, node.router_ipv6, passive=self._passive)
                )
        return BirdConfig(
            router_id=self.router_ipv4,
            asn=self.router_asn,
            neighbors=tuple(neighbors),
            hold_time=self.hold_time,
            kernel_table=self.kernel_table,
        )

    def _frr_config(self) -> FrrConfig:
        neighbors: list[FrrNeighbor] = []
        for node in self.nodes:
            neighbors.append(FrrNeighbor(node.bird_v4, node.ipv4, node.asn, passive=self._passive))
            if node.ipv6 is not None and node.bird_v6 is not None:
                neighbors.append(FrrNeighbor(node.bird_v6, node.ipv6, node.asn, passive=self._passive))
        return FrrConfig(
            router_id=self.router_ipv4,
            asn=self.router_asn,
            neighbors=tuple(neighbors),
            hold_time=self.hold_time,
            maximum_paths=max(16, len(self.nodes)),
        )


def host_prefix(address: IPAddress) -> IPNetwork:
    """The /32 or /128 of an address: how a VIP appears in routing tables."""
    return ip_network(f"{address}/{address.max_prefixlen}")


def _host_interface(address: IPAddress) -> IPv4Interface | IPv6Interface:
    if isinstance(address, IPv4Address):
        return IPv4Interface(f"{address}/32")
    return IPv6Interface(f"{address}/128")


def _namespace(where: Namespace | BedNode) -> Namespace:
    return where.namespace if isinstance(where, BedNode) else where


def _required(value: T | None, message: str) -> T:
    if value is None:
        raise RuntimeError(message)
    return value
