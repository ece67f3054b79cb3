"""BGP benchmark in network namespaces (root): real BIRD, real ExaBGP via `dnslb speaker`, the API double.

Figures: VIP written to a Service's status → path in BIRD (p50/p99); 2,000 VIPs from one speaker → time until all
are in BIRD; a hung node (ExaBGP stopped with SIGSTOP) → seconds until BIRD withdraws it, against the hold time.
Prints one JSON line per figure; never fails on time.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import kubernetes.client as k8s

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._report import figure, save
from dnslb_testkit.bgpbed import BGPBed, host_prefix
from dnslb_testkit.kubeapi import KubeAPI
from dnslb_testkit.waiting import wait_for
from tests.speaker.harness import (
    SpeakerProcess,
    addresses,
    custom_object,
    lb_service,
    set_ready,
    setup_cluster,
    wait_paths,
)

BENCH_POOL = "10.102.0.0/16"
TRIES = 100
MANY = 2000
HOLD = 3


def in_bird(bed: BGPBed, vip: str) -> bool:
    return bool(bed.bird.routes(host_prefix(ipaddress.ip_address(vip))))


def bare_service(name: str) -> dict[str, Any]:
    spec = {"type": "LoadBalancer", "ports": [{"port": 80}], "allocateLoadBalancerNodePorts": False}
    return {"metadata": {"name": name}, "spec": spec}


def route_count(bed: BGPBed) -> int:
    text = bed.bird.birdc("show", "route", "count")
    match = re.search(r"(\d+) of \d+ routes", text)
    return int(match.group(1)) if match else 0


def main() -> None:
    if os.geteuid() != 0:
        print("bench/bgp.py needs root (network namespaces); skipped", file=sys.stderr)
        return
    figures: list[dict[str, Any]] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # unwind: tear the bed down on SIGTERM too
    with KubeAPI() as api, BGPBed(nodes=2, ipv6=False, hold_time=HOLD) as bed, TemporaryDirectory() as logs:
        client = api.api_client()
        core = k8s.CoreV1Api(client)
        setup_cluster(core, k8s.CustomObjectsApi(client), bed, hold_time=HOLD)
        custom_object(k8s.CustomObjectsApi(client), "AddressPool", "addresspools", "bench", {"addresses": [BENCH_POOL]})
        flags = ("--log-level", "warning", "--damping=false")  # the NotReady timing below toggles Ready 5 times
        speakers = [SpeakerProcess(api.url, node, Path(logs), *flags) for node in bed.nodes]
        lb_service(core, "warmup", ["10.100.0.1"])
        wait_paths(bed, "10.100.0.1", addresses(bed.nodes), 60)

        latencies = []
        for i in range(TRIES):
            vip = str(ipaddress.IPv4Address("10.102.0.1") + i)
            core.create_namespaced_service("default", bare_service(f"lat{i}"))
            start = time.perf_counter()
            ingress = {"status": {"loadBalancer": {"ingress": [{"ip": vip, "ipMode": "VIP"}]}}}
            core.patch_namespaced_service_status(f"lat{i}", "default", ingress)
            deadline = time.monotonic() + 30
            while not in_bird(bed, vip):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{vip} never reached BIRD")
                time.sleep(0.002)
            latencies.append(time.perf_counter() - start)
        latencies.sort()
        figures.append(figure("bgp.status_to_bird_p50", statistics.median(latencies) * 1000, "ms", tries=TRIES))
        figures.append(figure("bgp.status_to_bird_p99", latencies[int(TRIES * 0.99) - 1] * 1000, "ms", tries=TRIES,
                              target_ms=100))  # fmt: skip

        baseline = route_count(bed)
        start = time.perf_counter()
        for i in range(MANY):
            vip = str(ipaddress.IPv4Address("10.102.16.0") + i)
            core.create_namespaced_service("default", bare_service(f"many{i}"))
            core.patch_namespaced_service_status(
                f"many{i}", "default", {"status": {"loadBalancer": {"ingress": [{"ip": vip}]}}}
            )
        written = time.perf_counter() - start
        expected = baseline + MANY * len(bed.nodes)
        wait_for(lambda: route_count(bed) >= expected, 300, f"{MANY} VIPs from each speaker in BIRD", interval=0.2)
        figures.append(figure("bgp.vips_to_bird", time.perf_counter() - start, "s", vips=MANY,
                              speakers=len(bed.nodes), writing_status_took_s=round(written, 3)))  # fmt: skip

        withdrawals = []
        for _ in range(5):
            start = time.perf_counter()
            set_ready(core, bed.nodes[1], False)
            wait_paths(bed, "10.100.0.1", addresses(bed.nodes[:1]), 10)
            withdrawals.append(time.perf_counter() - start)
            set_ready(core, bed.nodes[1], True)
            wait_paths(bed, "10.100.0.1", addresses(bed.nodes), 10)
            time.sleep(1)
        figures.append(figure("bgp.not_ready_to_withdrawn_max", max(withdrawals), "s", tries=5, target_s=1,
                              median_s=round(statistics.median(withdrawals), 3)))  # fmt: skip

        hung = speakers[1]
        exabgp = wait_for(hung.exabgp_pid, 10, "ExaBGP's pid")
        os.kill(exabgp, signal.SIGSTOP)
        start = time.perf_counter()
        try:
            wait_paths(bed, "10.100.0.1", addresses(bed.nodes[:1]), 30)
            figures.append(figure("bgp.hung_node_withdrawn", time.perf_counter() - start, "s", hold_time_s=HOLD))
        finally:
            os.kill(exabgp, signal.SIGCONT)
        for speaker in speakers:
            speaker.stop()
        client.close()
    save("bgp", figures)


if __name__ == "__main__":
    main()
