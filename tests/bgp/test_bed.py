"""The BGP test bed proven with real peers: BIRD as the router, a minimal ExaBGP 5 per node with a static route.

Needs root for network namespaces (skipped only when not root; CI runs as root). BIRD or ExaBGP failing to start
fails these tests, with their logs; it never skips them.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path

import pytest

from dnslb_testkit.bgpbed import BedNode, BGPBed, host_prefix
from dnslb_testkit.netns import IPAddress, Process
from dnslb_testkit.servers.bird import (
    BirdConfig,
    BirdNeighbor,
    BirdRouter,
    BirdStartError,
    parse_protocols,
    parse_routes,
)
from dnslb_testkit.waiting import wait_for

EXABGP = Path(sys.executable).with_name("exabgp")
HOLD_TIME = 3
VIP_V4 = IPv4Address("10.100.0.1")
VIP_V6 = IPv6Address("fd00:100::1")
CONNECTIONS = 30  # with L4 hashing, the odds that 30 new connections miss one of 3 nodes are about 1 in 60,000
SETTLE = 20.0  # generous bound for sessions and routes to appear on a busy 2-core machine


@dataclass(frozen=True)
class Speaker:
    node: BedNode
    process: Process


def exabgp_config(node: BedNode, vips: tuple[IPAddress, ...], router_asn: int) -> str:
    """One neighbor block per family: the session to the router's address of that family, the VIPs as static routes."""
    blocks = []
    for version in (4, 6):
        routes = [f"    route {host_prefix(vip)} next-hop self;" for vip in vips if vip.version == version]
        if not routes:
            continue
        blocks += [
            f"neighbor {node.router_address(version)} {{",
            f"  router-id {node.ipv4};",
            f"  local-address {node.address(version)};",
            f"  local-as {node.asn};",
            f"  peer-as {router_asn};",
            f"  hold-time {HOLD_TIME};",
            f"  family {{ ipv{version} unicast; }}",
            "  static {",
            *routes,
            "  }",
            "}",
        ]
    return "\n".join(blocks) + "\n"


def start_speaker(bed: BGPBed, node: BedNode, vips: tuple[IPAddress, ...]) -> Speaker:
    config = bed.directory / f"exabgp-{node.name}.conf"
    config.write_text(exabgp_config(node, vips, bed.router_asn))
    # as root: no privilege drop to `nobody`; no CLI named pipes
    env = {"exabgp_daemon_user": "root", "exabgp_api_cli": "false", "exabgp_log_destination": "stdout"}
    log = bed.directory / f"exabgp-{node.name}.log"
    return Speaker(node, bed.spawn(node, [str(EXABGP), "server", str(config)], log=log, env=env))


def wait_established(bed: BGPBed, speakers: list[Speaker], versions: tuple[int, ...]) -> None:
    wanted = {s.node.bird_protocol(v) for s in speakers for v in versions}
    try:
        wait_for(lambda: wanted <= bed.bird.established(), SETTLE, f"sessions {sorted(wanted)} up")
    except TimeoutError as error:
        logs = "\n".join(
            f"--- {s.node.name} (alive: {s.process.alive()})\n{s.process.read_log()[-3000:]}" for s in speakers
        )
        raise AssertionError(f"{error}\nBIRD: {bed.bird.protocols()}\n{bed.bird.log()[-3000:]}\n{logs}") from error


def gateways(bed: BGPBed, vip: IPAddress) -> frozenset[IPAddress]:
    route = bed.bird.kernel_route(host_prefix(vip))
    return route.gateways if route is not None else frozenset()


@pytest.fixture(scope="module")
def announcing() -> Iterator[tuple[BGPBed, list[Speaker]]]:
    """3 nodes, each with both VIPs on its loopback, an HTTP server and ExaBGP announcing both over two sessions."""
    with BGPBed(nodes=3, ipv6=True, hold_time=HOLD_TIME) as bed:
        speakers = []
        for node in bed.nodes:
            bed.add_vip(node, VIP_V4)
            bed.add_vip(node, VIP_V6)
            bed.serve_http(node)
            speakers.append(start_speaker(bed, node, (VIP_V4, VIP_V6)))
        wait_established(bed, speakers, (4, 6))
        yield bed, speakers


@pytest.mark.root
@pytest.mark.parametrize("vip", [VIP_V4, VIP_V6], ids=["ipv4", "ipv6"])
def test_three_nodes_announcing_a_vip_make_one_ecmp_route_that_reaches_every_node(
    announcing: tuple[BGPBed, list[Speaker]], vip: IPAddress
) -> None:
    bed, speakers = announcing
    nodes = {s.node.address(vip.version): s.node for s in speakers}

    wait_for(lambda: gateways(bed, vip) == set(nodes), SETTLE, f"ECMP route for {vip}")

    paths = bed.bird.routes(host_prefix(vip))
    assert sorted(p.protocol for p in paths) == sorted(n.bird_protocol(vip.version) for n in nodes.values())
    assert {p.next_hop for p in paths} == set(nodes)
    assert all(p.next_hop is not None and p.as_path == (nodes[p.next_hop].asn,) for p in paths)
    assert {p.origin for p in paths} == {"IGP"}
    assert sum(p.primary for p in paths) == 1  # BIRD keeps one path per peer; only the kernel route is multipath
    kernel = bed.bird.kernel_route(host_prefix(vip))
    assert kernel is not None and kernel.protocol == "bird" and len(kernel.next_hops) == 3

    answers = bed.http_get(vip, count=CONNECTIONS)
    assert [a.error for a in answers if a.error] == []
    counts = Counter(a.node for a in answers)
    assert set(counts) == {n.name for n in nodes.values()}, counts


@pytest.mark.root
def test_cutting_a_link_withdraws_its_path_within_the_hold_time(announcing: tuple[BGPBed, list[Speaker]]) -> None:
    bed, speakers = announcing
    cut, kept = speakers[2].node, [s.node for s in speakers[:2]]
    wait_for(
        lambda: len(gateways(bed, VIP_V4)) == 3 and len(gateways(bed, VIP_V6)) == 3, SETTLE, "three paths for each VIP"
    )

    bed.cut(cut)
    try:
        # bounded by the hold time (plus a margin for a busy machine), and not noticed earlier: the router's bridge
        # stays up, so BIRD learns of the cut only when the hold timer expires
        bound = HOLD_TIME + 2.0
        wait_for(lambda: len(gateways(bed, VIP_V4)) == 2, bound, "IPv4 path withdrawn")
        wait_for(lambda: len(gateways(bed, VIP_V6)) == 2, bound, "IPv6 path withdrawn")
        assert f"{cut.bird_v4}: Error: Hold timer expired" in bed.bird.log(), bed.bird.log()[-2000:]
        assert gateways(bed, VIP_V4) == {n.ipv4 for n in kept}
        assert gateways(bed, VIP_V6) == {n.ipv6 for n in kept}
        assert {n.bird_v4 for n in kept} <= bed.bird.established()
        answers = bed.http_get(VIP_V4, count=CONNECTIONS)
        assert {a.node for a in answers} == {n.name for n in kept}
    finally:
        bed.restore(cut)
    # the session comes back on its own once the link is up again (ExaBGP reconnects, BIRD's error wait is short)
    wait_for(
        lambda: len(gateways(bed, VIP_V4)) == 3 and len(gateways(bed, VIP_V6)) == 3, SETTLE, "three paths for each VIP"
    )


@pytest.mark.root
def test_teardown_leaves_no_namespace_and_no_process() -> None:
    with BGPBed(nodes=2, ipv6=False, hold_time=HOLD_TIME, asn_per_node=True, passive=True) as bed:
        for node in bed.nodes:
            bed.add_vip(node, VIP_V4)
        speakers = [start_speaker(bed, node, (VIP_V4,)) for node in bed.nodes]
        server = bed.serve_http(bed.nodes[0])
        wait_established(bed, speakers, (4,))
        # different neighbour ASes (passive BIRD: the speakers connect) still merge into one ECMP route
        wait_for(lambda: gateways(bed, VIP_V4) == {n.ipv4 for n in bed.nodes}, SETTLE, "ECMP route")
        assert [n.asn for n in bed.nodes] == [64512, 64513]
        names = {n.name for n in bed.network.namespaces}
        pids = [bed.bird.process.pid, server.pid, *(s.process.pid for s in speakers)]
        tag = bed.network.tag

    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert len(names) == 4 and not any(tag in line for line in listed.splitlines())
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []


@pytest.mark.root
@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("echo 'syntax error, unexpected thing' >&2; exit 1", "refused its config: syntax error"),
        ('[ "$1" = -p ] && exit 0; echo "cannot bind the control socket" >&2; exit 3', "exited with status 3"),
    ],
    ids=["config-refused", "exits-at-start"],
)
def test_a_bird_that_cannot_start_fails_loudly_and_leaves_nothing(tmp_path: Path, script: str, message: str) -> None:
    broken = tmp_path / "bird"
    broken.write_text(f"#!/bin/sh\n{script}\n")
    broken.chmod(0o755)
    config = BirdConfig(
        router_id=IPv4Address("10.0.0.1"),
        asn=64500,
        neighbors=(BirdNeighbor("peer", IPv4Address("10.0.0.11"), 64512, IPv4Address("10.0.0.1")),),
    )
    with BGPBed(nodes=1, ipv6=False) as bed:
        router = BirdRouter(bed.network, bed.router, config, bird=str(broken))
        with pytest.raises(BirdStartError, match=message) as failure:
            router.start()
        assert "cannot bind" in str(failure.value) or "syntax error" in str(failure.value)
        assert bed.network.processes == (bed.bird.process,)  # the failed one is stopped, the bed's own BIRD runs
        tag = bed.network.tag
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert tag not in listed


def test_bird_config_has_ecmp_and_fast_timers() -> None:
    neighbor = BirdNeighbor("node1_v6", IPv6Address("fd00::11"), 64512, IPv6Address("fd00::1"), passive=True)
    text = BirdConfig(router_id=IPv4Address("10.0.0.1"), asn=64500, neighbors=(neighbor,), hold_time=3).render()
    assert text.count("merge paths on;") == 2
    assert "local fd00::1 as 64500;" in text and "neighbor fd00::11 as 64512;" in text
    assert "passive on;" in text and "hold time 3;" in text and "error wait time 1, 5;" in text
    assert "ipv6 { import all; export none; };" in text
    with pytest.raises(ValueError, match="hold time"):
        BirdConfig(router_id=IPv4Address("10.0.0.1"), asn=64500, neighbors=(), hold_time=2)
    with pytest.raises(ValueError, match="family"):
        BirdNeighbor("bad", IPv6Address("fd00::11"), 64512, IPv4Address("10.0.0.1"))


def test_a_bed_with_a_kernel_table_has_bird_export_there_and_refuses_one_for_frr() -> None:
    text = BGPBed(2, kernel_table=100)._bird_config().render()
    assert text.count("kernel table 100;") == 2  # IPv4 and IPv6
    assert "kernel table" not in BGPBed(2)._bird_config().render()
    with pytest.raises(ValueError, match="kernel_table is BIRD's"):
        BGPBed(2, router="frr", kernel_table=100)


def test_parse_birdc_output() -> None:
    protocols = parse_protocols(
        "Name       Proto      Table      State  Since         Info\n"
        "device1    Device     ---        up     10:11:06.109  \n"
        "node1_v4   BGP        ---        up     10:11:06.370  Established   \n"
        "node2_v4   BGP        ---        start  10:11:09.001  Idle          BGP Error: Hold timer expired\n"
    )
    assert [(p.name, p.established) for p in protocols] == [("device1", False), ("node1_v4", True), ("node2_v4", False)]
    assert protocols[2].info == "Idle          BGP Error: Hold timer expired"

    routes = parse_routes(
        "Table master4:\n"
        "10.100.0.1/32        unicast [node1_v4 10:11:06.370] * (100) [AS64512i]\n"
        "\tvia 10.0.0.11 on br0\n"
        "\tType: BGP univ\n"
        "\tBGP.origin: IGP\n"
        "\tBGP.as_path: 64512\n"
        "\tBGP.next_hop: 10.0.0.11\n"
        "\tBGP.local_pref: 100\n"
        "\tBGP.community: (64500,100) (64500,200)\n"
        "\tBGP.large_community: (64500, 1, 2)\n"
        "                     unicast [node2_v4 10:11:06.369] (100) [AS64513i]\n"
        "\tvia 10.0.0.12 on br0\n"
        "\tBGP.as_path: 64513\n"
    )
    assert [(r.protocol, r.primary, r.next_hop) for r in routes] == [
        ("node1_v4", True, IPv4Address("10.0.0.11")),
        ("node2_v4", False, IPv4Address("10.0.0.12")),
    ]
    assert all(r.prefix == ip_network("10.100.0.1/32") for r in routes)
    assert routes[0].communities == ((64500, 100), (64500, 200))
    assert routes[0].large_communities == ((64500, 1, 2),)
    assert (routes[0].local_pref, routes[1].local_pref, routes[1].as_path) == (100, None, (64513,))
    assert parse_routes("Network not found\n") == ()
