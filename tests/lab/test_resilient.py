"""The lab's emulation of a router's resilient ECMP (`python -m dnslb_lab.resilient`), against the kernel's resilient
nexthop groups in network namespaces, with live TCP connections through it.

Topology, built with the test kit's `Network` like `BGPBed`'s: a router namespace whose bridge br0 joins three nodes
(10.0.0.11-13, fd00::11-13) and a client on a link of its own (10.0.1.2, fd00:0:0:1::2); the router forwards and
hashes multipath by L4. Each node has the VIPs on its loopback and a TCP server that answers every line with the
node's name. Most tests put the VIP's route into the router's table 100 themselves, as BIRD would (`ip route replace
VIP table 100 nexthop via ... nexthop via ...`), and run the agent in the router namespace; the last one has BIRD
export what ExaBGP speakers on two nodes announce into table 100 (`BirdConfig(kernel_table=100)`).

`Connections` are the client's established TCP connections to a VIP, each asking for its node's name every 0.2 s —
far more often than the agent's idle timer (5 s), so the kernel sees their buckets busy. The root tests fail (never
skip) without root or when a peer cannot start; the tests of `plan` and of the command line need neither.
"""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_interface, ip_network
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import pytest

from dnslb_lab.resilient import PROTOCOL, Group, Hop, Mirror, Settings, parse_mirror, parse_source, plan
from dnslb_testkit.netns import IPAddress, Namespace, Network, Process, entered
from dnslb_testkit.servers.bird import BirdConfig, BirdNeighbor, BirdRouter
from dnslb_testkit.waiting import wait_for

T = TypeVar("T")

TABLE = 100
BUCKETS = 128  # the agent's defaults
IDLE_TIMER = 5
VIP4 = IPv4Address("10.100.0.1")
VIP6 = IPv6Address("fd00:100::1")
OTHER_VIP = IPv4Address("10.100.0.2")
PORT = 8080
CONNECTIONS = 24  # over 3 nodes: the odds that one node gets none are about 1 in 5,000
PING = 0.2
SETTLE = 20.0  # generous bound for a busy 2-core machine
EXABGP = Path(sys.executable).with_name("exabgp")
ROUTER_ASN, NODE_ASN = 64500, 64512

# answers every line with the node's name, on every address (IPv4 and IPv6) of the node
ECHO_SERVER = """
import socket, socketserver, sys
name, port = sys.argv[1], int(sys.argv[2])
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for _ in self.rfile:
            self.wfile.write(name.encode() + b"\\n")
            self.wfile.flush()
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
server = Server(("::", port), Handler)
print("listening", flush=True)
server.serve_forever()
"""


def gateway(index: int, version: int) -> str:
    """Node `index`'s address on the router's bridge: what the router's routes go via."""
    return f"10.0.0.{10 + index}" if version == 4 else f"fd00::{10 + index}"


def host(vip: IPAddress) -> str:
    return f"{vip}/{vip.max_prefixlen}"


# --- the rack: router, three nodes, client ---------------------------------------------------------------------------


@dataclass
class Rack:
    network: Network
    router: Namespace
    nodes: tuple[Namespace, ...]
    client: Namespace
    directory: Path
    agent: Process | None = None

    def source(self, vip: IPAddress, nodes: Sequence[int]) -> None:
        """The VIP's route in the router's table 100 through `nodes` (1-based), as BIRD puts it: one multipath route
        (none at all for no nodes)."""
        family = f"-{vip.version}"
        if not nodes:
            self.router.ip(family, "route", "del", host(vip), "table", str(TABLE))
            return
        hops = [word for i in nodes for word in ("nexthop", "via", gateway(i, vip.version), "dev", "br0")]
        self.router.ip(family, "route", "replace", host(vip), "table", str(TABLE), *hops)

    def start_agent(self, *args: str) -> Process:
        log = self.directory / "resilient.log"
        argv = [sys.executable, "-m", "dnslb_lab.resilient", "--source-table", str(TABLE), *args]
        agent = self.agent = self.network.spawn(self.router, argv, log=log, name="the resilient ECMP agent")
        agent.wait_ready(lambda: "emulating a router's resilient ECMP" in agent.read_log(), 10.0, "start")
        return agent

    def wait(self, condition: Callable[[], T | None], what: str, timeout: float = SETTLE) -> T:
        """`wait_for`, failing with what the router and the agent had to say."""
        try:
            return wait_for(condition, timeout, what)
        except TimeoutError as error:
            state = self.router.ip("nexthop", "show") + self.router.ip("route", "show", "table", "all")
            log = self.agent.log_tail(40) if self.agent is not None else "(no agent)"
            raise AssertionError(f"{error}\n--- router:\n{state}\n--- agent:\n{log}") from error


@pytest.fixture
def rack(tmp_path: Path) -> Iterator[Rack]:
    with Network("dnslbres") as network:
        router = network.namespace("router")
        network.bridge(router, "br0")
        router.add_address("br0", ip_interface("10.0.0.1/24"))
        router.add_address("br0", ip_interface("fd00::1/64"))
        for key in ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"):
            router.sysctl(key, "1")
        for key in ("net.ipv4.fib_multipath_hash_policy", "net.ipv6.fib_multipath_hash_policy"):
            router.sysctl(key, "1")  # L4: each connection hashes on its ports
        nodes = []
        for index in (1, 2, 3):
            name = f"node{index}"
            node = network.namespace(name)
            network.veth(router, name, node, "eth0")
            router.set_master(name, "br0")
            node.add_address("eth0", ip_interface(f"{gateway(index, 4)}/24"))
            node.add_address("eth0", ip_interface(f"{gateway(index, 6)}/64"))
            node.add_route(ip_network("0.0.0.0/0"), ip_address("10.0.0.1"))
            node.add_route(ip_network("::/0"), ip_address("fd00::1"))
            for vip in (VIP4, VIP6, OTHER_VIP):
                node.add_address("lo", ip_interface(host(vip)))
            serve(network, node, name, tmp_path / f"echo-{name}.log")
            nodes.append(node)
        client = network.namespace("client")
        network.veth(router, "client", client, "eth0")
        router.add_address("client", ip_interface("10.0.1.1/24"))
        router.add_address("client", ip_interface("fd00:0:0:1::1/64"))
        client.add_address("eth0", ip_interface("10.0.1.2/24"))
        client.add_address("eth0", ip_interface("fd00:0:0:1::2/64"))
        client.add_route(ip_network("0.0.0.0/0"), ip_address("10.0.1.1"))
        client.add_route(ip_network("::/0"), ip_address("fd00:0:0:1::1"))
        # Across veths a packet keeps the hash of the socket that sent it, and the router's multipath hash takes
        # that as it is; TCP draws a new one after a retransmission timeout, which would send the connection to
        # another bucket. A router hashes the headers, which stay: so does the hash, with rehashing off.
        client.sysctl("net.core.txrehash", "0")
        for namespace in (router, *nodes, client):
            # a node answers from a VIP on its loopback: it can ask for the router's MAC only from a link-local
            # address that has passed duplicate address detection (until then its first answers wait a second)
            wait_for(functools.partial(dad_done, namespace), 10.0, f"IPv6 DAD done in {namespace.name}")
        yield Rack(network, router, tuple(nodes), client, tmp_path)


def dad_done(namespace: Namespace) -> bool:
    return "tentative" not in namespace.ip("-6", "address")


def serve(network: Network, node: Namespace, name: str, log: Path) -> Process:
    argv = [sys.executable, "-c", ECHO_SERVER, name, str(PORT)]
    server = network.spawn(node, argv, log=log, name=f"the server on {name}")
    server.wait_ready(lambda: "listening" in server.read_log(), 10.0, "listen")
    return server


# --- what the router shows -------------------------------------------------------------------------------------------


def ip_json(namespace: Namespace, *args: str) -> list[dict[str, Any]]:
    text = namespace.ip("-json", *args)
    entries: list[dict[str, Any]] = json.loads(text) if text.strip() else []
    return entries


@dataclass(frozen=True)
class Mirrored:
    """The main-table route to a VIP: the nexthop object or group it uses, and the gateways in it."""

    nhid: int
    resilient: bool
    buckets: int
    idle_timer: int
    gateways: frozenset[str]


def mirrored(router: Namespace, vip: IPAddress) -> Mirrored | None:
    routes = ip_json(router, f"-{vip.version}", "route", "show", "exact", host(vip))
    if not routes or "nhid" not in routes[0]:
        return None
    nexthops = {entry["id"]: entry for entry in ip_json(router, "nexthop", "show")}
    entry = nexthops.get(routes[0]["nhid"])
    if entry is None:
        return None
    members = [nexthops.get(member["id"], {}) for member in entry.get("group", [entry])]
    arguments = entry.get("resilient_args", {})
    return Mirrored(
        nhid=int(entry["id"]),
        resilient=entry.get("type") == "resilient",
        buckets=int(arguments.get("buckets", 0)),
        idle_timer=int(arguments.get("idle_timer", -1)),
        gateways=frozenset(str(member.get("gateway")) for member in members),
    )


def with_gateways(router: Namespace, vip: IPAddress, gateways: set[str]) -> Callable[[], Mirrored | None]:
    def check() -> Mirrored | None:
        found = mirrored(router, vip)
        return found if found is not None and found.gateways == gateways else None

    return check


def buckets(router: Namespace, group: int) -> dict[int, tuple[str, float]]:
    """`ip nexthop bucket show id GROUP`: each bucket's gateway and how long it has seen no packet (seconds)."""
    gateways = {entry["id"]: str(entry.get("gateway")) for entry in ip_json(router, "nexthop", "show")}
    table = {}
    for entry in ip_json(router, "nexthop", "bucket", "show", "id", str(group)):
        bucket = entry["bucket"]
        table[int(bucket["index"])] = (gateways.get(bucket["nhid"], "?"), float(bucket["idle_time"]))
    return table


def shares(table: dict[int, tuple[str, float]]) -> Counter[str]:
    return Counter(gw for gw, _ in table.values())


def nexthops(router: Namespace) -> dict[int, str | None]:
    """Every nexthop object and group of the router, with its gateway (groups: None)."""
    return {int(entry["id"]): entry.get("gateway") for entry in ip_json(router, "nexthop", "show")}


def owned(router: Namespace) -> list[str]:
    """Whatever of protocol 240 the router has: the agent's nexthop objects and routes."""
    nexthops = [f"nexthop {e['id']}" for e in ip_json(router, "-N", "nexthop", "show") if e.get("protocol") == "240"]
    routes = [
        str(e["dst"]) for v in ("-4", "-6") for e in ip_json(router, "-N", v, "route", "show", "proto", str(PROTOCOL))
    ]
    return nexthops + routes


# --- live connections from the client --------------------------------------------------------------------------------


@dataclass
class Connection:
    sock: socket.socket
    answers: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def node(self) -> str | None:
        """The node that answered first."""
        return self.answers[0] if self.answers else None


class Connections:
    """`count` established TCP connections from the client to `vip`, each asking its node's name every 0.2 s from a
    thread of its own until it fails (a reset: its packets reached a node without the connection) or is closed."""

    def __init__(self, client: Namespace, vip: IPAddress, count: int) -> None:
        self._stop = threading.Event()
        self.all: list[Connection] = []
        with entered(client):  # the sockets stay in the client's namespace
            try:
                for _ in range(count):
                    self.all.append(Connection(socket.create_connection((str(vip), PORT), timeout=5.0)))
            except BaseException:
                for connection in self.all:
                    connection.sock.close()
                raise
        self._threads = [threading.Thread(target=self._ask, args=(c,), daemon=True) for c in self.all]
        for thread in self._threads:
            thread.start()
        try:
            wait_for(lambda: all(c.answers or c.error for c in self.all), 10.0, "an answer on every connection")
            assert [c.error for c in self.all if c.error] == []
        except BaseException:
            self.close()
            raise

    def _ask(self, connection: Connection) -> None:
        connection.sock.settimeout(3.0)
        reader = connection.sock.makefile("rb")
        try:
            while not self._stop.is_set():
                connection.sock.sendall(b"?\n")
                line = reader.readline()
                if not line:
                    raise ConnectionError("closed by the peer")
                connection.answers.append(line.decode().strip())
                self._stop.wait(PING)
        except (OSError, ValueError) as error:
            if not self._stop.is_set():
                connection.error = f"{type(error).__name__}: {error}"
        finally:
            reader.close()

    def on(self, node: str) -> list[Connection]:
        return [c for c in self.all if c.node == node]

    def a_few_more_answers(self, connections: Sequence[Connection], rounds: int = 5) -> None:
        """Wait until each of `connections` has answered `rounds` more times (or failed)."""
        marks = [len(c.answers) + rounds for c in connections]
        wait_for(
            lambda: all(c.error or len(c.answers) >= mark for c, mark in zip(connections, marks, strict=True)),
            10.0,
            f"{rounds} more answers on each connection",
        )

    def close(self) -> None:
        self._stop.set()
        for connection in self.all:
            connection.sock.close()
        for thread in self._threads:
            thread.join(timeout=5.0)

    def __enter__(self) -> Connections:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def new_connections_reach(rack: Rack, vip: IPAddress, count: int = CONNECTIONS) -> set[str]:
    """The nodes that answer `count` new connections."""
    with Connections(rack.client, vip, count) as fresh:
        return {c.node for c in fresh.all if c.node is not None}


def assert_kept_their_node(connections: Sequence[Connection]) -> None:
    broken = [(c.node, c.error, sorted(set(c.answers))) for c in connections if c.error or len(set(c.answers)) != 1]
    assert broken == [], "established connections should stay on their node"


# --- the agent in the router namespace -------------------------------------------------------------------------------


@pytest.mark.root
@pytest.mark.parametrize("vip", [VIP4, VIP6], ids=["ipv4", "ipv6"])
def test_a_multipath_route_becomes_a_route_through_a_resilient_group_of_its_next_hops(
    rack: Rack, vip: IPAddress
) -> None:
    rack.start_agent()
    rack.source(vip, (1, 2, 3))

    three = {gateway(i, vip.version) for i in (1, 2, 3)}
    route = rack.wait(with_gateways(rack.router, vip, three), "the VIP via a group of three next hops")
    assert (route.resilient, route.buckets, route.idle_timer) == (True, BUCKETS, IDLE_TIMER)
    table = buckets(rack.router, route.nhid)
    assert set(shares(table)) == three and all(42 <= n <= 44 for n in shares(table).values()), shares(table)
    assert sorted(n.removeprefix("node") for n in new_connections_reach(rack, vip)) == ["1", "2", "3"]
    log = rack.agent.read_log() if rack.agent else ""
    assert f"{host(vip)}: resilient group {route.nhid} made, 128 buckets, idle timer 5 s" in log


@pytest.mark.root
@pytest.mark.parametrize("vip", [VIP4, VIP6], ids=["ipv4", "ipv6"])
def test_a_next_hop_that_leaves_and_returns_moves_only_its_own_buckets_and_no_busy_one(
    rack: Rack, vip: IPAddress
) -> None:
    rack.start_agent()
    rack.source(vip, (1, 2, 3))
    gw1, gw2, gw3 = (gateway(i, vip.version) for i in (1, 2, 3))
    group = rack.wait(with_gateways(rack.router, vip, {gw1, gw2, gw3}), "a group of three").nhid

    with Connections(rack.client, vip, CONNECTIONS) as connections:
        staying = connections.on("node1") + connections.on("node2")
        leaving = connections.on("node3")
        assert connections.on("node1") and connections.on("node2"), Counter(c.node for c in connections.all)
        before = buckets(rack.router, group)

        rack.source(vip, (1, 2))  # node3 leaves
        after = rack.wait(with_gateways(rack.router, vip, {gw1, gw2}), "node3 out of the group")
        assert after.nhid == group, "the group is changed in place, not made anew"
        left = buckets(rack.router, group)
        assert {i: gw for i, (gw, _) in left.items() if before[i][0] != gw3} == {
            i: gw for i, (gw, _) in before.items() if gw != gw3
        }, "the buckets of node1 and node2 stay where they were"
        assert shares(left) == {gw1: 64, gw2: 64}  # node3's went to the others
        rack.wait(lambda: all(c.error for c in leaving), "node3's connections reset where their buckets went")
        connections.a_few_more_answers(staying)
        assert_kept_their_node(staying)

        busy = {i for i, (_, idle) in buckets(rack.router, group).items() if idle < 1.0}  # well within the timer
        assert busy, "the live connections keep some buckets busy"
        rack.source(vip, (1, 2, 3))  # node3 returns
        rack.wait(lambda: shares(buckets(rack.router, group))[gw3] >= 42, "node3 back to its share of the buckets")
        back = buckets(rack.router, group)
        assert mirrored(rack.router, vip) == Mirrored(group, True, BUCKETS, IDLE_TIMER, frozenset({gw1, gw2, gw3}))
        moved = {i for i in back if back[i][0] != left[i][0]}
        assert moved == {i for i, (gw, _) in back.items() if gw == gw3}, "only buckets for node3 moved"
        assert not moved & busy, "no busy bucket moved: the kernel moves a bucket only once idle for the idle timer"
        connections.a_few_more_answers(staying)
        assert_kept_their_node(staying)

    assert new_connections_reach(rack, vip) == {"node1", "node2", "node3"}


@pytest.mark.root
def test_a_route_that_goes_multipath_keeps_its_connections_on_the_next_hop_it_had(rack: Rack) -> None:
    rack.start_agent("--idle-timer", "2")
    gw1, gw2 = gateway(1, 4), gateway(2, 4)
    rack.source(VIP4, (1,))
    single = rack.wait(with_gateways(rack.router, VIP4, {gw1}), "the VIP via node1")
    assert not single.resilient, "one next hop: a plain nexthop object"

    with Connections(rack.client, VIP4, CONNECTIONS) as connections:
        assert {c.node for c in connections.all} == {"node1"}
        rack.source(VIP4, (1, 2))
        # the group starts with node1 alone; node2 joins once the group is 2 s old, and gets only idle buckets
        group = rack.wait(with_gateways(rack.router, VIP4, {gw1, gw2}), "node2 in the group")
        assert group.resilient
        rack.wait(lambda: shares(buckets(rack.router, group.nhid))[gw2] == 64, "node2 with its share of buckets")
        connections.a_few_more_answers(connections.all)
        assert_kept_their_node(connections.all)
    log = rack.agent.read_log() if rack.agent else ""
    assert f"resilient group {group.nhid} made, 128 buckets, idle timer 2 s, next hops " in log
    assert f"next hops via {gw1} dev br0 [" in log and "]; 1 more join once it is 2 s old" in log
    assert new_connections_reach(rack, VIP4) == {"node1", "node2"}


@pytest.mark.root
def test_a_route_removed_from_the_source_table_leaves_main_with_its_unused_nexthops(rack: Rack) -> None:
    agent = rack.start_agent()
    rack.source(VIP4, (1, 2, 3))
    rack.source(OTHER_VIP, (2,))
    gw1, gw2, gw3 = (gateway(i, 4) for i in (1, 2, 3))
    group = rack.wait(with_gateways(rack.router, VIP4, {gw1, gw2, gw3}), "a group of three").nhid
    single = rack.wait(with_gateways(rack.router, OTHER_VIP, {gw2}), "the other VIP via node2")
    assert not single.resilient

    rack.source(VIP4, ())
    # node1's and node3's nexthop objects deleted with the group, node2's one still in use
    rack.wait(lambda: nexthops(rack.router) == {single.nhid: gw2}, "only the other VIP's nexthop left")
    assert mirrored(rack.router, VIP4) is None and group not in nexthops(rack.router)
    assert new_connections_reach(rack, OTHER_VIP) == {"node2"}

    rack.source(OTHER_VIP, ())
    rack.wait(lambda: owned(rack.router) == [], "nothing of the agent's left")
    rack.source(VIP4, (1, 2))
    rack.wait(with_gateways(rack.router, VIP4, {gw1, gw2}), "the VIP back")
    rack.network.stop(agent)  # SIGTERM: it removes what it made
    assert owned(rack.router) == []
    assert "stopping: removing what this emulation made" in agent.read_log()


@pytest.mark.root
def test_bird_exporting_into_a_side_table_and_the_agent_keep_connections_when_a_node_withdraws_and_returns(
    rack: Rack,
) -> None:
    neighbors = tuple(
        BirdNeighbor(f"node{i}_v4", IPv4Address(gateway(i, 4)), NODE_ASN, IPv4Address("10.0.0.1")) for i in (1, 2)
    )
    config = BirdConfig(
        router_id=IPv4Address("10.0.0.1"), asn=ROUTER_ASN, neighbors=neighbors, hold_time=3, kernel_table=TABLE
    )
    assert "  kernel table 100;" in config.render()
    gw1, gw2 = gateway(1, 4), gateway(2, 4)
    with BirdRouter(rack.network, rack.router, config) as bird:
        rack.start_agent()
        speakers = {i: start_speaker(rack, i) for i in (1, 2)}
        rack.wait(lambda: {"node1_v4", "node2_v4"} <= bird.established(), "both BGP sessions up")
        rack.wait(lambda: kernel_gateways(rack.router, VIP4) == {gw1, gw2}, "BIRD's multipath route in table 100")
        group = rack.wait(with_gateways(rack.router, VIP4, {gw1, gw2}), "the VIP via a resilient group of both")
        assert group.resilient
        assert bird.kernel_route(ip_network(host(VIP4))) is not None  # BIRD's own view of main: the mirror

        with Connections(rack.client, VIP4, CONNECTIONS) as connections:
            on_node1 = connections.on("node1")
            assert on_node1 and connections.on("node2"), Counter(c.node for c in connections.all)

            rack.network.stop(speakers.pop(2))  # node2's speaker stops: its session closes, BIRD withdraws
            rack.wait(with_gateways(rack.router, VIP4, {gw1}), "node2 out of the group")
            rack.wait(lambda: all(c.error for c in connections.on("node2")), "node2's connections reset")
            speakers[2] = start_speaker(rack, 2)
            back = rack.wait(with_gateways(rack.router, VIP4, {gw1, gw2}), "node2 back in the group")
            assert back.nhid == group.nhid, "the same group throughout"
            rack.wait(lambda: shares(buckets(rack.router, group.nhid))[gw2] == 64, "node2 with its share again")
            connections.a_few_more_answers(on_node1)
            assert_kept_their_node(on_node1)  # with hash-threshold ECMP about half of them would have moved

        assert new_connections_reach(rack, VIP4) == {"node1", "node2"}


def kernel_gateways(router: Namespace, vip: IPAddress) -> set[str]:
    """The gateways of the VIP's route in table 100 (BIRD's export)."""
    routes = ip_json(router, "route", "show", "exact", host(vip), "table", str(TABLE))
    return {str(hop.get("gateway")) for route in routes for hop in route.get("nexthops") or [route]}


def start_speaker(rack: Rack, index: int) -> Process:
    """ExaBGP 5 in node `index` announcing VIP4 with itself as next hop (as `tests/bgp/test_bed.py` runs it)."""
    config = rack.directory / f"exabgp-node{index}.conf"
    config.write_text(
        "neighbor 10.0.0.1 {\n"
        f"  router-id {gateway(index, 4)};\n"
        f"  local-address {gateway(index, 4)};\n"
        f"  local-as {NODE_ASN};\n"
        f"  peer-as {ROUTER_ASN};\n"
        "  hold-time 3;\n"
        "  family { ipv4 unicast; }\n"
        f"  static {{\n    route {host(VIP4)} next-hop self;\n  }}\n"
        "}\n"
    )
    env = {"exabgp_daemon_user": "root", "exabgp_api_cli": "false", "exabgp_log_destination": "stdout"}
    log = rack.directory / f"exabgp-node{index}.log"
    return rack.network.spawn(rack.nodes[index - 1], [str(EXABGP), "server", str(config)], log=log, env=env)


# --- the plan, without a kernel --------------------------------------------------------------------------------------

NODE = {i: Hop(gateway(i, 4), "br0") for i in (1, 2, 3)}
PREFIX = ip_network("10.100.0.1/32")


def commands(source: dict[Any, Any], mirror: Mirror, young: frozenset[int] = frozenset()) -> list[str]:
    return [" ".join(c.args) for c in plan(source, mirror, Settings(), young)]


def test_plan_makes_a_group_for_a_multipath_route_and_changes_it_in_place() -> None:
    source = parse_source(
        [
            {
                "dst": "10.100.0.1",
                "nexthops": [
                    {"gateway": "10.0.0.11", "dev": "br0", "weight": 1},
                    {"gateway": "10.0.0.12", "dev": "br0", "weight": 1},
                    {"gateway": "10.0.0.13", "dev": "br0", "weight": 1},
                ],
            },
            {"dst": "10.100.0.9", "type": "unreachable"},
        ],
        [],
    )
    assert source == {PREFIX: ((NODE[1], 1), (NODE[2], 1), (NODE[3], 1))}
    assert commands(source, Mirror(taken=frozenset({1000}))) == [  # every next hop twice: see the agent's docstring
        "nexthop add id 1001 via 10.0.0.11 dev br0 proto 240",
        "nexthop add id 1002 via 10.0.0.11 dev br0 proto 240",
        "nexthop add id 1003 via 10.0.0.12 dev br0 proto 240",
        "nexthop add id 1004 via 10.0.0.12 dev br0 proto 240",
        "nexthop add id 1005 via 10.0.0.13 dev br0 proto 240",
        "nexthop add id 1006 via 10.0.0.13 dev br0 proto 240",
        "nexthop add id 1007 group 1001/1002/1003/1004/1005/1006 type resilient buckets 128 idle_timer 5 proto 240",
        "-4 route replace 10.100.0.1/32 nhid 1007 proto 240",
    ]
    mirror = parse_mirror(
        [
            *(
                {"id": 1000 + i, "gateway": gateway((i + 1) // 2, 4), "dev": "br0", "protocol": "240"}
                for i in range(1, 7)
            ),
            {
                "id": 1007,
                "group": [{"id": i} for i in range(1001, 1007)],
                "type": "resilient",
                "resilient_args": {"buckets": 128, "idle_timer": 5},
                "protocol": "240",
            },
            {"id": 7, "gateway": "10.0.0.11", "dev": "br0"},  # someone else's: never touched, its ID never taken
        ],
        [{"dst": "10.100.0.1", "nhid": 1007}],
        [],
    )
    assert mirror.groups[1007] == Group(tuple((i, 1) for i in range(1001, 1007)), 128, 5)
    assert commands(source, mirror) == []
    assert commands({PREFIX: ((NODE[1], 1), (NODE[2], 1))}, mirror) == [
        "nexthop replace id 1007 group 1001/1002/1003/1004 type resilient idle_timer 5 proto 240",
        "nexthop del id 1005",
        "nexthop del id 1006",
    ]
    assert commands({PREFIX: ((NODE[2], 1),)}, mirror) == [  # down to one next hop: still the group
        "nexthop replace id 1007 group 1003/1004 type resilient idle_timer 5 proto 240",
        *(f"nexthop del id {i}" for i in (1001, 1002, 1005, 1006)),
    ]
    assert commands({}, mirror) == [
        "-4 route del 10.100.0.1/32 proto 240",
        "nexthop del id 1007",
        *(f"nexthop del id {i}" for i in range(1001, 1007)),
    ]


def test_plan_grows_a_young_group_only_once_it_has_come_of_age() -> None:
    mirror = Mirror(
        hops={1001: NODE[1], 1002: NODE[1], 1003: NODE[2]},
        groups={1004: Group(((1001, 1), (1002, 1)), 128, 5)},
        routes={PREFIX: 1004},
        taken=frozenset(range(1000, 1005)),  # 1000: someone else's
    )
    wanted = {PREFIX: ((NODE[1], 1), (NODE[2], 1), (NODE[3], 1))}
    assert commands(wanted, mirror, young=frozenset({1004})) == []  # node2's nexthop stays: it joins later
    assert commands(wanted, mirror) == [
        "nexthop add id 1005 via 10.0.0.12 dev br0 proto 240",
        "nexthop add id 1006 via 10.0.0.13 dev br0 proto 240",
        "nexthop add id 1007 via 10.0.0.13 dev br0 proto 240",
        "nexthop replace id 1004 group 1001/1002/1003/1005/1006/1007 type resilient idle_timer 5 proto 240",
    ]
    single = Mirror(hops={1001: NODE[1]}, routes={PREFIX: 1001}, taken=frozenset({1000, 1001}))
    assert commands(wanted, single) == [  # from one next hop to three: the group starts with the one it had
        "nexthop add id 1002 via 10.0.0.11 dev br0 proto 240",
        *(f"nexthop add id {i} via {gateway((i - 999) // 2, 4)} dev br0 proto 240" for i in range(1003, 1007)),
        "nexthop add id 1007 group 1001/1002 type resilient buckets 128 idle_timer 5 proto 240",
        "-4 route replace 10.100.0.1/32 nhid 1007 proto 240",
    ]


def test_the_command_line_shows_its_defaults_and_refuses_bad_flags_in_one_line() -> None:
    agent = [sys.executable, "-m", "dnslb_lab.resilient"]
    shown = " ".join(subprocess.run([*agent, "--help"], capture_output=True, text=True, check=True).stdout.split())
    assert "emulation of a router's resilient ECMP" in shown
    assert "(default: 128)" in shown and "(default: 5)" in shown
    for flags, message in [
        ([], "the following arguments are required: --source-table"),
        (["--source-table", "254"], "table 254 is one of default (253), main (254) and local (255)"),
        (["--source-table", "100", "--buckets", "0"], "buckets must be 1..65535, got 0"),
    ]:
        refused = subprocess.run([*agent, *flags], capture_output=True, text=True, check=False)
        assert refused.returncode == 2
        assert refused.stderr.count("\n") == 1 and message in refused.stderr, refused.stderr
