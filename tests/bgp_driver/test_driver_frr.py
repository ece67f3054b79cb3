"""The driver with a real ExaBGP 5 against a real FRR (zebra and bgpd) as the edge router, in network namespaces.

The bed's nodes run the real `ExaBGPDriver` inside their namespaces, peering with FRR over IPv4 and IPv6; FRR's table
is read with `vtysh ... json` and its multipath route from the router namespace's kernel. The README's FRR snippet is
run verbatim, with a speaker configured as the README says. Needs root; an FRR or ExaBGP that cannot start fails the
test, with its log, and never skips it. Every process is stopped by PID and every namespace deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from ipaddress import IPv4Address, IPv4Interface, ip_address, ip_network
from pathlib import Path

import pytest

from dnslb.adapters.exabgp.driver import Backoff, ExaBGPDriver, Neighbor
from dnslb.core.bgp.routes import Route
from dnslb_testkit.bgpbed import BedNode, BGPBed, host_prefix
from dnslb_testkit.netns import IPAddress, Network
from dnslb_testkit.servers.frr import FrrConfig, FrrNeighbor, FrrRouter, FrrStartError
from dnslb_testkit.waiting import wait_for

pytestmark = pytest.mark.root

README = Path(__file__).resolve().parents[2] / "README.md"
HOLD_TIME = 3
SETTLE = 20.0  # generous bound for sessions and routes to appear on a busy 2-core machine
QUICK_RESTARTS = Backoff(initial=0.2, maximum=1.0)
VIP_V4 = ip_address("10.100.0.1")
VIP_V6 = ip_address("fd00:100::1")

# what the README configures: the router 10.0.0.1 in AS 64500, node1 10.0.0.11 in AS 64512, the example password
README_ROUTER = IPv4Address("10.0.0.1")
README_NODE = IPv4Address("10.0.0.11")
README_ROUTER_ASN = 64500
README_NODE_ASN = 64512
README_PASSWORD = "example-only-replace-me"
README_HOLD_TIME = 9
README_VIP = ip_network("198.51.100.1/32")
OUTSIDE_README_POOL = ip_network("198.51.100.100/32")  # in neither part of the example pool: the router refuses it


def readme_frr_snippet() -> str:
    """The fenced block after the README line that starts "FRR (`/etc/frr/frr.conf`"."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("FRR (`/etc/frr/frr.conf`"))
    opening = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[opening + 1 : closing]) + "\n"


@pytest.fixture
def drivers(tmp_path: Path) -> Iterator[Callable[..., ExaBGPDriver]]:
    """Start an ExaBGPDriver inside a namespace; every one started is stopped at the end, before the bed goes."""
    started: list[ExaBGPDriver] = []

    def start(netns: str, neighbors: Sequence[Neighbor]) -> ExaBGPDriver:
        driver = ExaBGPDriver(neighbors, tmp_path / f"exabgp{len(started)}", backoff=QUICK_RESTARTS, netns=netns)
        started.append(driver)
        driver.start()
        return driver

    yield start
    for driver in started:
        driver.stop()


def node_neighbors(bed: BGPBed, node: BedNode) -> list[Neighbor]:
    """One session per family, from the node's address of that family to the router's."""
    versions = (4, 6) if node.ipv6 is not None else (4,)
    return [
        Neighbor(
            peer_address=node.router_address(version),
            peer_asn=bed.router_asn,
            local_asn=node.asn,
            local_address=node.address(version),
            router_id=node.ipv4,
            hold_time=bed.hold_time,
        )
        for version in versions
    ]


def gateways(bed: BGPBed, vip: IPAddress) -> frozenset[IPAddress]:
    route = bed.routing.kernel_route(host_prefix(vip))
    return route.gateways if route is not None else frozenset()


def paths(bed: BGPBed, vip: IPAddress) -> dict[str, IPAddress | None]:
    """FRR's paths for the VIP: neighbour name → next hop."""
    return {route.protocol: route.next_hop for route in bed.routing.routes(host_prefix(vip))}


def wait_or_explain(bed: BGPBed, condition: Callable[[], object], what: str) -> None:
    try:
        wait_for(condition, SETTLE, what)
    except TimeoutError as error:
        raise AssertionError(f"{error}\nFRR peers: {bed.frr.peers()}\n{bed.frr.log()[-4000:]}") from error


@pytest.fixture
def bed() -> Iterator[BGPBed]:
    with BGPBed(nodes=2, ipv6=True, hold_time=HOLD_TIME, router="frr") as bed:
        yield bed


@pytest.fixture
def announcing(bed: BGPBed, drivers: Callable[..., ExaBGPDriver]) -> dict[str, ExaBGPDriver]:
    """Both nodes' drivers announcing both VIPs, every session Established."""
    started = {node.name: drivers(node.namespace.name, node_neighbors(bed, node)) for node in bed.nodes}
    wanted = {node.session(version) for node in bed.nodes for version in (4, 6)}
    wait_or_explain(bed, lambda: wanted <= bed.routing.established(), f"sessions {sorted(wanted)} Established")
    for node in bed.nodes:
        bed.add_vip(node, VIP_V4)
        bed.add_vip(node, VIP_V6)
        started[node.name].set_desired({Route.create(host_prefix(VIP_V4)), Route.create(host_prefix(VIP_V6))})
    return started


@pytest.mark.parametrize("vip", [VIP_V4, VIP_V6], ids=["ipv4", "ipv6"])
def test_a_vip_from_two_nodes_is_two_paths_in_frr_and_a_two_next_hop_route_in_the_kernel(
    bed: BGPBed, announcing: dict[str, ExaBGPDriver], vip: IPAddress
) -> None:
    nodes = {node.address(vip.version): node for node in bed.nodes}
    wait_or_explain(bed, lambda: gateways(bed, vip) == set(nodes), f"a two-next-hop ECMP route for {vip}")

    routes = bed.routing.routes(host_prefix(vip))
    assert {r.protocol: r.next_hop for r in routes} == {n.session(vip.version): a for a, n in nodes.items()}
    assert all(r.next_hop is not None and r.as_path == (nodes[r.next_hop].asn,) for r in routes)
    assert {r.origin for r in routes} == {"IGP"}
    assert sum(r.primary for r in routes) == 1  # FRR's best path; the other one is in the ECMP set beside it
    kernel = bed.routing.kernel_route(host_prefix(vip))
    assert kernel is not None and kernel.protocol == "bgp" and len(kernel.next_hops) == 2
    assert bed.frr.fib_next_hops(host_prefix(vip)) == set(nodes)
    summary = bed.frr.vtysh_json("show bgp summary")
    assert {peer["pfxSnt"] for family in summary.values() for peer in family["peers"].values()} == {0}  # exports none


def test_withdrawing_from_one_node_leaves_the_other_next_hop(bed: BGPBed, announcing: dict[str, ExaBGPDriver]) -> None:
    first, second = bed.nodes
    wait_or_explain(bed, lambda: len(gateways(bed, VIP_V4)) == 2, "two next hops")

    announcing[first.name].set_desired({Route.create(host_prefix(VIP_V6))})  # the IPv4 VIP withdrawn
    wait_or_explain(bed, lambda: gateways(bed, VIP_V4) == {second.ipv4}, "the second node's next hop alone")
    assert paths(bed, VIP_V4) == {second.session(4): second.ipv4}
    assert len(gateways(bed, VIP_V6)) == 2  # the other VIP keeps both nodes
    assert {first.session(4), first.session(6)} <= bed.routing.established()  # a withdrawal, not a lost session

    announcing[first.name].set_desired({Route.create(host_prefix(VIP_V4)), Route.create(host_prefix(VIP_V6))})
    wait_or_explain(bed, lambda: gateways(bed, VIP_V4) == {first.ipv4, second.ipv4}, "both next hops again")


def test_stopping_a_driver_removes_its_paths(bed: BGPBed, announcing: dict[str, ExaBGPDriver]) -> None:
    first, second = bed.nodes
    wait_or_explain(bed, lambda: len(gateways(bed, VIP_V4)) == 2 == len(gateways(bed, VIP_V6)), "two next hops each")

    announcing[first.name].stop()
    wait_or_explain(
        bed,
        lambda: gateways(bed, VIP_V4) == {second.ipv4} and gateways(bed, VIP_V6) == {second.ipv6},
        "only the second node's next hops",
    )
    assert paths(bed, VIP_V4) == {second.session(4): second.ipv4}
    assert paths(bed, VIP_V6) == {second.session(6): second.ipv6}
    established = bed.routing.established()
    assert {second.session(4), second.session(6)} <= established
    assert not {first.session(4), first.session(6)} & established


def test_a_cut_link_loses_its_path_within_the_hold_time_and_comes_back_when_mended(
    bed: BGPBed, announcing: dict[str, ExaBGPDriver]
) -> None:
    first, second = bed.nodes
    wait_or_explain(bed, lambda: len(gateways(bed, VIP_V4)) == 2, "two next hops")

    bed.cut(first)
    try:
        # the router's side of the link stays up, so FRR only learns of the cut when the hold timer expires: about a
        # second after the hold time here (BIRD: within it), and a margin for a busy machine on top
        bound = HOLD_TIME + 3.0
        wait_for(lambda: gateways(bed, VIP_V4) == {second.ipv4}, bound, "the cut node's path withdrawn")
        assert first.session(4) not in bed.routing.established()
    finally:
        bed.restore(first)
    # FRR retries every second (`timers connect 1`) and ExaBGP after its own backoff: back within seconds
    wait_or_explain(bed, lambda: gateways(bed, VIP_V4) == {first.ipv4, second.ipv4}, "the mended node's path back")


def test_the_readme_frr_snippet_accepts_a_speaker_configured_as_the_readme_says(
    drivers: Callable[..., ExaBGPDriver],
) -> None:
    snippet = readme_frr_snippet()
    assert f"password {README_PASSWORD}" in snippet and f"router bgp {README_ROUTER_ASN}" in snippet, snippet
    speaker = Neighbor(
        peer_address=README_ROUTER,
        peer_asn=README_ROUTER_ASN,
        local_asn=README_NODE_ASN,
        local_address=README_NODE,
        router_id=README_NODE,
        hold_time=README_HOLD_TIME,
        password=README_PASSWORD,
    )
    with Network("frrreadme") as network:
        router, node = network.namespace("router"), network.namespace("node1")
        network.veth(router, "node1", node, "eth0")
        router.add_address("node1", IPv4Interface(f"{README_ROUTER}/24"))
        node.add_address("eth0", IPv4Interface(f"{README_NODE}/24"))
        node.add_address("lo", IPv4Interface(README_VIP))
        with FrrRouter(network, router, snippet) as frr:
            driver = drivers(node.name, [speaker])
            try:
                check_the_readme_router(frr, driver)
            finally:
                driver.stop()


def check_the_readme_router(frr: FrrRouter, driver: ExaBGPDriver) -> None:
    peer = str(README_NODE)
    try:
        # the speaker connects out; FRR takes it through `bgp listen range` (no neighbour listed by address)
        wait_for(lambda: peer in frr.established(), SETTLE, "the session from the node")
        driver.set_desired({Route.create(OUTSIDE_README_POOL), Route.create(README_VIP)})
        wait_for(lambda: frr.routes(README_VIP), SETTLE, f"{README_VIP} in FRR's table")
        kernel = wait_for(lambda: frr.kernel_route(README_VIP), SETTLE, f"{README_VIP} in the kernel")
        # kept as received (`soft-reconfiguration inbound`), so seen to have arrived, and denied by DNSLB-IN
        wait_for(lambda: str(OUTSIDE_README_POOL) in received_routes(frr, peer), SETTLE, "the route outside the pool")
    except TimeoutError as error:
        raise AssertionError(f"{error}\nFRR peers: {frr.peers()}\n{frr.log()[-4000:]}") from error

    [path] = frr.routes(README_VIP)
    assert path.protocol == peer and path.next_hop == README_NODE and path.as_path == (README_NODE_ASN,)
    assert kernel.gateways == {README_NODE} and kernel.protocol == "bgp"
    assert frr.routes(OUTSIDE_README_POOL) == () and frr.kernel_route(OUTSIDE_README_POOL) is None
    neighbor = frr.vtysh_json(f"show bgp neighbors {peer}")[peer]
    assert neighbor["bgpTimerHoldTimeMsecs"] == README_HOLD_TIME * 1000, neighbor  # ExaBGP's 9 s, FRR's `timers 3 9`

    # an operator widens the pool's prefix list: the route denied before comes in without a session reset (after
    # FRR's 5 s route-map delay timer), from what FRR kept as received
    frr.configure(f"ip prefix-list DNSLB-VIPS seq 30 permit {OUTSIDE_README_POOL}")
    wait_for(lambda: frr.kernel_route(OUTSIDE_README_POOL), SETTLE, f"{OUTSIDE_README_POOL} let in")
    assert frr.vtysh_json(f"show bgp neighbors {peer}")[peer]["connectionsDropped"] == 0


def received_routes(frr: FrrRouter, peer: str) -> dict[str, object]:
    """What FRR received from `peer` before its inbound policy (needs `soft-reconfiguration inbound`)."""
    answer = frr.vtysh_json(f"show bgp ipv4 unicast neighbors {peer} received-routes")
    return dict(answer.get("receivedRoutes", {}))


def test_routers_in_two_namespaces_run_at_once_and_answer_for_themselves() -> None:
    with Network("frrtwo") as network:
        first, second = network.namespace("r1"), network.namespace("r2")
        config_a = FrrConfig(IPv4Address("10.0.0.1"), 64500, (FrrNeighbor("peer_a", IPv4Address("10.0.0.11"), 64512),))
        config_b = FrrConfig(IPv4Address("10.0.0.2"), 64501, (FrrNeighbor("peer_b", IPv4Address("10.0.0.12"), 64513),))
        with FrrRouter(network, first, config_a) as a, FrrRouter(network, second, config_b) as b:
            assert a.directory != b.directory
            assert set(a.peers()) == {"10.0.0.11"} and set(b.peers()) == {"10.0.0.12"}
            assert a.vtysh_json("show bgp summary")["ipv4Unicast"]["as"] == 64500
            assert b.vtysh_json("show bgp summary")["ipv4Unicast"]["as"] == 64501
            pids = {p.pid for p in (*a.processes.values(), *b.processes.values())}
            assert len(pids) == 4
        assert not network.processes  # every daemon stopped by PID


@pytest.mark.parametrize(
    "line",
    [
        " neighbor 10.0.0.11 no-such-thing",  # refused by vtysh's check, before any daemon starts
        " neighbor 10.0.0.11 peer-group NO-SUCH-GROUP",  # passes the check, refused by bgpd while loading
    ],
    ids=["syntax", "bgpd"],
)
def test_a_config_frr_refuses_fails_loudly(line: str) -> None:
    config = f"router bgp 64500\n neighbor 10.0.0.11 remote-as 64512\n{line}\nexit\n"
    with Network("frrbad") as network:
        router = network.namespace("router")
        with pytest.raises(FrrStartError, match="refused its config") as refused:
            FrrRouter(network, router, config).start()
        assert line.strip() in str(refused.value)
        assert not network.processes  # the daemons it had started are stopped again


def test_a_daemon_that_does_not_come_up_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "zebra").write_text("#!/bin/sh\necho 'zebra: cannot start here' >&2\nexit 3\n")
    (tmp_path / "zebra").chmod(0o755)
    config = FrrConfig(IPv4Address("10.0.0.1"), 64500, ())
    with Network("frrdown") as network:
        router = network.namespace("router")
        with pytest.raises(FrrStartError, match="exited with status 3") as failed:
            FrrRouter(network, router, config, libexec=tmp_path).start()
        assert "cannot start here" in str(failed.value)  # the tail of its log
        assert not network.processes
