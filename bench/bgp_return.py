"""How fast a node is back at the router after a silent outage (root, network namespaces): real BIRD (connecting
every second, as the README's snippet), real ExaBGP via `dnslb speaker`, the API double.

A silent outage takes the router's port for node2 off the bridge: both link ends keep carrier, only the hold timers
notice. After each outage (default 5, 30 and 90 s; `--outages 5,30,90,300`) the port goes back and the figure is
the time until node2's path is in BIRD again — with the speaker listening (BGPPeer listenPort 179: BIRD's next
connect brings it back) and with listenPort 0 (ExaBGP's own reconnect, backing off up to 60 s).
Prints one JSON line per figure; never fails on time.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import kubernetes.client as k8s

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._report import figure, save
from dnslb_testkit.bgpbed import BGPBed
from dnslb_testkit.kubeapi import KubeAPI
from tests.speaker.harness import SpeakerProcess, addresses, lb_service, setup_cluster, wait_paths

HOLD = 3
VIP = "10.100.0.1"


def outages(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds separated by commas, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError("outages must be positive seconds")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/bgp_return.py", description=__doc__.splitlines()[0])
    parser.add_argument("--outages", type=outages, default=(5.0, 30.0, 90.0), help="seconds (default 5,30,90)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/bgp_return.py needs root (network namespaces); skipped", file=sys.stderr)
        return
    figures: list[dict[str, Any]] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # unwind: tear the bed down on SIGTERM too
    with KubeAPI() as api, BGPBed(nodes=2, ipv6=False, hold_time=HOLD) as bed, TemporaryDirectory() as logs:
        client = api.api_client()
        core, custom = k8s.CoreV1Api(client), k8s.CustomObjectsApi(client)
        setup_cluster(core, custom, bed, hold_time=HOLD)
        speakers = [SpeakerProcess(api.url, node, Path(logs), "--log-level", "warning") for node in bed.nodes]
        lb_service(core, "web", [VIP])
        wait_paths(bed, VIP, addresses(bed.nodes), 60)
        node = bed.nodes[1]
        for listen_port in (179, 0):
            custom.patch_namespaced_custom_object(
                "dnslb.io", "v1alpha1", "dnslb-system", "bgppeers", "edge-v4", {"spec": {"listenPort": listen_port}}
            )
            time.sleep(2)  # the speakers restart ExaBGP with the new neighbour: let them settle
            wait_paths(bed, VIP, addresses(bed.nodes), 120, "both paths before the outages")
            for outage in args.outages:
                start = time.monotonic()
                bed.cut(node)
                wait_paths(bed, VIP, addresses(bed.nodes[:1]), HOLD + 10, "the hold timer to withdraw node2")
                time.sleep(max(0.0, outage - (time.monotonic() - start)))
                bed.restore(node)
                back = wait_paths(bed, VIP, addresses(bed.nodes), 120, "node2's path back")
                mode = "listening" if listen_port else "connecting only"
                figures.append(figure(f"bgp.back_after_{outage:g}s_outage_{'listen' if listen_port else 'connect'}",
                                      back, "s", outage_s=outage, speaker=mode, hold_time_s=HOLD,
                                      router="BIRD, connect retry 1 s"))  # fmt: skip
        for speaker in speakers:
            speaker.stop()
        client.close()
    save("bgp_return", figures)


if __name__ == "__main__":
    main()
