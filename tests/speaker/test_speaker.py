"""`dnslb speaker` on three nodes against BIRD in network namespaces, driven through the Kubernetes API double."""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import kubernetes.client as k8s
import pytest

from dnslb_testkit.bgpbed import BGPBed, host_prefix
from tests.controller.harness import events_for, wait_for
from tests.speaker.harness import (
    SpeakerProcess,
    addresses,
    custom_object,
    endpoint_slice,
    lb_service,
    next_hops,
    set_ready,
    wait_paths,
)

pytestmark = pytest.mark.root
Start = Callable[..., SpeakerProcess]


def all_speakers(bed: BGPBed, speakers: Start, *extra: str) -> list[SpeakerProcess]:
    return [speakers(node, *extra) for node in bed.nodes]


def test_cluster_vip_from_every_node_ecmp_and_http_reaches_all(
    bed: BGPBed, core: k8s.CoreV1Api, speakers: Start
) -> None:
    all_speakers(bed, speakers)
    vip = "10.100.0.10"
    for node in bed.nodes:
        bed.add_vip(node, ipaddress.ip_address(vip))
        bed.serve_http(node)
    lb_service(core, "web", [vip])
    wait_paths(bed, vip, addresses(bed.nodes), 30)
    route = bed.bird.routes(host_prefix(ipaddress.ip_address(vip)))[0]
    assert "(64512,7)" in (route.attribute("community") or "")
    gateways = wait_for(lambda: (k := bed.bird.kernel_route(host_prefix(ipaddress.ip_address(vip))))
                        and len(k.gateways) == 3 and k.gateways, 10, "one ECMP route with 3 next hops")  # fmt: skip
    assert {str(g) for g in gateways} == addresses(bed.nodes)
    answers = bed.http_get(ipaddress.ip_address(vip), count=40)
    assert all(a.error is None for a in answers), answers
    assert {a.node for a in answers} == {n.name for n in bed.nodes}


def test_dual_stack_vip_gets_an_ipv6_path_over_ipv6_sessions(bed: BGPBed, core: k8s.CoreV1Api, speakers: Start) -> None:
    all_speakers(bed, speakers)
    lb_service(core, "dual", ["10.100.0.20", "fd00:100::20"], ipFamilyPolicy="RequireDualStack")
    wait_paths(bed, "fd00:100::20", addresses(bed.nodes, 6), 30)
    wait_paths(bed, "10.100.0.20", addresses(bed.nodes), 10)
    protocols = {r.protocol for r in bed.bird.routes(host_prefix(ipaddress.ip_address("fd00:100::20")))}
    assert protocols == {n.bird_protocol(6) for n in bed.nodes}


def test_local_service_only_where_its_endpoint_runs_and_follows_it(
    bed: BGPBed, core: k8s.CoreV1Api, client: k8s.ApiClient, speakers: Start
) -> None:
    all_speakers(bed, speakers)
    first, second = bed.nodes[0], bed.nodes[1]
    lb_service(core, "db", ["10.100.0.30"], externalTrafficPolicy="Local")
    endpoint_slice(client, "db", [first.name])
    wait_paths(bed, "10.100.0.30", {str(first.ipv4)}, 30)
    endpoint_slice(client, "db", [second.name])
    wait_paths(bed, "10.100.0.30", {str(second.ipv4)}, 10)


def cordon(core: k8s.CoreV1Api, node: object, on: bool = True) -> object:
    return core.patch_node(node.name, {"spec": {"unschedulable": True if on else None}})  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "case",
    [
        (lambda core, node: set_ready(core, node, False), lambda core, node: set_ready(core, node, True), ()),
        (cordon, lambda core, node: cordon(core, node, False), ("--withdraw-on-cordon",)),
        (lambda core, node: core.patch_node(
            node.name, {"metadata": {"labels": {"node.kubernetes.io/exclude-from-external-load-balancers": ""}}}),
         lambda core, node: core.patch_node(
            node.name, {"metadata": {"labels": {"node.kubernetes.io/exclude-from-external-load-balancers": None}}}),
         ()),
    ],
    ids=["not-ready", "cordoned-when-told", "excluded"],
)  # fmt: skip
def test_an_ineligible_node_is_withdrawn_and_returns(
    bed: BGPBed,
    core: k8s.CoreV1Api,
    speakers: Start,
    case: tuple[Callable[..., object], Callable[..., object], tuple[str, ...]],
) -> None:
    break_node, heal_node, flags = case
    all_speakers(bed, speakers, "--damping=false", *flags)
    vip = "10.100.0.40"
    lb_service(core, "web", [vip])
    wait_paths(bed, vip, addresses(bed.nodes), 30)
    broken = bed.nodes[2]
    break_node(core, broken)
    wait_paths(bed, vip, addresses(bed.nodes[:2]), 5, "the broken node's path withdrawn")  # bench/bgp.py times it
    heal_node(core, broken)
    wait_paths(bed, vip, addresses(bed.nodes), 10, "the path back")


def test_a_cordoned_node_keeps_announcing(bed: BGPBed, core: k8s.CoreV1Api, speakers: Start) -> None:
    all_speakers(bed, speakers)
    lb_service(core, "web", ["10.100.0.41"])
    wait_paths(bed, "10.100.0.41", addresses(bed.nodes), 30)
    cordon(core, bed.nodes[2])
    # a Service created after the cordon reaches every node too: the cordoned speaker has seen its node change by then
    lb_service(core, "shop", ["10.100.0.42"])
    wait_paths(bed, "10.100.0.42", addresses(bed.nodes), 10, "the new VIP from every node, the cordoned one too")
    assert next_hops(bed, "10.100.0.41") == addresses(bed.nodes), "cordon withdrew a path"


def test_flapping_is_damped_while_an_undamped_node_keeps_flapping(
    bed: BGPBed, core: k8s.CoreV1Api, speakers: Start
) -> None:
    damped, undamped, steady = bed.nodes
    # a loss every 2 s: the third one suppresses; the ceiling (750 * 2^(18/10) = 2600) caps the wait once stable
    fast = ("--damping-half-life", "10", "--damping-max-suppress", "18")
    speakers(damped, *fast)
    speakers(undamped, "--damping=false")
    speakers(steady)
    vip = "10.100.0.50"
    lb_service(core, "web", [vip])
    wait_paths(bed, vip, addresses(bed.nodes), 30)
    seen: list[tuple[float, set[str]]] = []
    start = time.monotonic()
    for flap in range(10):  # Ready toggles every second for 10 s on both flapping nodes
        for node in (damped, undamped):
            set_ready(core, node, flap % 2 == 1)
        for _ in range(5):
            seen.append((time.monotonic() - start, next_hops(bed, vip)))
            time.sleep(0.2)
    for node in (damped, undamped):
        set_ready(core, node, True)
    late = [hops for t, hops in seen if t > 5]
    assert all(str(damped.ipv4) not in hops for hops in late), "the damped node came back while still flapping"
    assert any(str(undamped.ipv4) in hops for hops in late) and any(str(undamped.ipv4) not in hops for hops in late)
    assert all(str(steady.ipv4) in hops for _, hops in seen)
    wait_paths(bed, vip, addresses(bed.nodes), 25, "the damped node back once stable")
    notes = events_for(core, "default", damped.name, ["NodeDamped"])
    assert notes and "Ready losses" in notes[0].message


def test_a_hung_node_is_withdrawn_within_the_hold_time(bed: BGPBed, core: k8s.CoreV1Api, speakers: Start) -> None:
    running = all_speakers(bed, speakers)
    vip = "10.100.0.60"
    lb_service(core, "web", [vip])
    wait_paths(bed, vip, addresses(bed.nodes), 30)
    hung = running[2]
    exabgp = wait_for(hung.exabgp_pid, 10, "ExaBGP's pid")
    os.kill(exabgp, signal.SIGSTOP)
    try:
        # the hold time is 3 s: past 8 s the hold timer is not doing its job (bench/bgp.py times it)
        wait_paths(bed, vip, addresses(bed.nodes[:2]), 8, "the hung node's path withdrawn")
    finally:
        os.kill(exabgp, signal.SIGCONT)


def test_exabgp_killed_is_restarted_and_a_dead_relay_leaves_no_stale_route(
    bed: BGPBed, core: k8s.CoreV1Api, speakers: Start
) -> None:
    node = bed.nodes[0]
    speaker = speakers(node)
    vip = "10.100.0.70"
    lb_service(core, "web", [vip])
    wait_paths(bed, vip, {str(node.ipv4)}, 30)
    first = wait_for(speaker.exabgp_pid, 10, "ExaBGP's pid")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: (pid := speaker.exabgp_pid()) is not None and pid != first, 15, "a new ExaBGP")
    wait_paths(bed, vip, {str(node.ipv4)}, 15, "the path back after the restart")
    relay = wait_for(speaker.relay_pid, 10, "the relay's pid")
    before = speaker.exabgp_pid()
    os.kill(relay, signal.SIGKILL)
    # the driver tears ExaBGP down (the session drops, so does the path), then starts afresh and re-announces
    wait_for(lambda: speaker.exabgp_pid() != before, 15, "ExaBGP torn down after its relay died")
    wait_paths(bed, vip, {str(node.ipv4)}, 15, "announced again by the fresh ExaBGP")


def test_drain_under_load_fails_no_request(bed: BGPBed, core: k8s.CoreV1Api, speakers: Start) -> None:
    running = {node.name: speakers(node) for node in bed.nodes}
    vip = "10.100.0.80"
    for node in bed.nodes:
        bed.add_vip(node, ipaddress.ip_address(vip))
        bed.serve_http(node)
    lb_service(core, "web", [vip])
    wait_paths(bed, vip, addresses(bed.nodes), 30)
    failures = 0
    total = 0
    for node in bed.nodes:
        running[node.name].process.send_signal(signal.SIGTERM)  # drain: withdraw, wait, stop
        answers = bed.http_get(ipaddress.ip_address(vip), count=30, timeout=2)
        total += len(answers)
        failures += sum(1 for a in answers if a.error is not None)
        assert running[node.name].process.wait(20) == 0
        others = [n for n in bed.nodes if n is not node]
        wait_paths(bed, vip, addresses(others), 10, f"{node.name} withdrawn")
        running[node.name] = speakers(node)
        wait_paths(bed, vip, addresses(bed.nodes), 30, f"{node.name} back")
        answers = bed.http_get(ipaddress.ip_address(vip), count=30, timeout=2)
        total += len(answers)
        failures += sum(1 for a in answers if a.error is not None)
    assert (failures, total) == (0, 180)


def test_a_speaker_restarted_under_graceful_restart_changes_no_path(
    bed: BGPBed, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, speakers: Start
) -> None:
    for name in ("edge-v4", "edge-v6"):
        custom.patch_namespaced_custom_object(
            "dnslb.io", "v1alpha1", "dnslb-system", "bgppeers", name, {"spec": {"enableGracefulRestart": True}}
        )
    running = {node.name: speakers(node) for node in bed.nodes}
    vip = "10.100.0.85"
    lb_service(core, "web", [vip])
    wait_paths(bed, vip, addresses(bed.nodes), 30)
    seen: list[set[str]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            seen.append(next_hops(bed, vip))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        restarted = bed.nodes[2]
        running[restarted.name].process.send_signal(signal.SIGTERM)  # a rolling update: not a drain
        assert running[restarted.name].process.wait(20) == 0
        fresh = speakers(restarted)
        wait_for(lambda: "End-of-RIB sent" in fresh.log_path.read_text(), 30, "the new speaker's End-of-RIB")
    finally:
        done.set()
        watcher.join()
    assert seen and all(hops == addresses(bed.nodes) for hops in seen), "a path changed during the restart"


def test_an_injection_attempt_is_refused_and_never_reaches_bird(
    bed: BGPBed, core: k8s.CoreV1Api, speakers: Start
) -> None:
    speakers(bed.nodes[0])
    evil = {"dnslb.io/bgp-communities": "65000:1\nannounce route 0.0.0.0/0 next-hop self"}
    lb_service(core, "evil", ["10.100.0.90"], annotations=evil)
    wait_paths(bed, "10.100.0.90", {str(bed.nodes[0].ipv4)}, 30)
    event = wait_for(lambda: events_for(core, "default", "evil", ["InvalidBGPAttribute"]), 10, "the Event")
    assert "not a community" in event[0].message
    assert bed.bird.routes(ipaddress.ip_network("0.0.0.0/0")) == ()


class Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_failing_data_path_withdraws_only_pools_with_health_withdraw(
    bed: BGPBed, core: k8s.CoreV1Api, client: k8s.ApiClient, speakers: Start
) -> None:
    custom_object(k8s.CustomObjectsApi(client), "AddressPool", "addresspools", "guarded",
                  {"addresses": ["10.101.0.0/24"], "healthWithdraw": True})  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
        node = bed.nodes[0]
        speakers(node, "--health-url", url, "--health-interval", "0.2")
        lb_service(core, "guarded", ["10.101.0.5"])
        lb_service(core, "plain", ["10.100.0.5"])
        wait_paths(bed, "10.101.0.5", {str(node.ipv4)}, 30)
        Health.status = 500
        wait_paths(bed, "10.101.0.5", set(), 5, "the guarded VIP withdrawn")
        assert next_hops(bed, "10.100.0.5") == {str(node.ipv4)}
        Health.status = 200
        wait_paths(bed, "10.101.0.5", {str(node.ipv4)}, 5, "the guarded VIP back")
    finally:
        Health.status = 200
        server.shutdown()


POISONS = {  # annotation values anyone allowed to annotate a Service may write
    "local-pref-superscript": {"dnslb.io/bgp-local-pref": "\u00b2"},
    "local-pref-unicode-digits": {"dnslb.io/bgp-local-pref": "\u0663\u0660\u0660"},
    "communities-injection": {"dnslb.io/bgp-communities": "65000:1\nannounce route 0.0.0.0/0 next-hop self"},
    "communities-several-bad-parts": {"dnslb.io/bgp-communities": "1:99999999,large:x,\u00b2:1"},
}


def test_poisoned_services_never_stop_the_healthy_ones_and_say_it_once(
    bed: BGPBed, core: k8s.CoreV1Api, speakers: Start
) -> None:
    node = bed.nodes[0]
    speakers(node)
    for i, (name, poison) in enumerate(POISONS.items()):
        lb_service(core, name, [f"10.100.0.{240 + i}"], annotations=poison)
    healthy = [f"10.100.0.{100 + i}" for i in range(100)]
    for i, vip in enumerate(healthy):
        lb_service(core, f"ok-{i}", [vip])
    for vip in (healthy[0], healthy[-1], *(f"10.100.0.{240 + i}" for i in range(len(POISONS)))):
        wait_paths(bed, vip, {str(node.address(4))}, 30)  # poisoned ones too: on the advertisement's terms
    assert bed.bird.routes(ipaddress.ip_network("0.0.0.0/0")) == ()
    time.sleep(2)  # several more reconciles: a bad annotation must not be said again on each
    for name in POISONS:
        assert [e.reason for e in events_for(core, "default", name)] == ["InvalidBGPAttribute"], name
