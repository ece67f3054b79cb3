"""Node status benchmark against the API double: what 1,000 churning Services cost in NodeAnnouncement writes.

One `dnslb speaker` (ExaBGP included; its peer an address on loopback that never answers, so every VIP is withheld
as PeerDown and the status lists them all) watches 1,000 LoadBalancer Services while their VIPs change 20 times a
second for a minute. Figures: status writes per minute by the node (target: bounded by --status-interval, 12 a
minute at 5 s, whatever the churn), the status object's size, and the time from the last change to the status
showing it. Prints one JSON line per figure; never fails on time.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import kubernetes.client as k8s

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._report import figure, save
from dnslb_testkit.kubeapi import KubeAPIProcess
from dnslb_testkit.ports import free_port
from dnslb_testkit.waiting import wait_for

SERVICES = 1_000
CHURN_PER_SECOND = 20
CHURN_SECONDS = 60.0
INTERVAL = 5.0


def cluster() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dnslb-system"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}},
        {"apiVersion": "dnslb.io/v1alpha1", "kind": "AddressPool",
         "metadata": {"name": "p", "namespace": "dnslb-system"}, "spec": {"addresses": ["10.0.0.0/16"]}},
        {"apiVersion": "dnslb.io/v1alpha1", "kind": "BGPPeer",
         "metadata": {"name": "edge", "namespace": "dnslb-system"},
         "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "127.0.0.2", "peerPort": 1790, "listenPort": 0}},
        {"apiVersion": "dnslb.io/v1alpha1", "kind": "BGPAdvertisement",
         "metadata": {"name": "all", "namespace": "dnslb-system"}, "spec": {}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-0", "labels": {"kubernetes.io/hostname": "n"}},
         "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}],
                                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}},
    ]  # fmt: skip
    for i in range(SERVICES):
        objects.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"svc-{i}", "namespace": "bench"},
            "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": vip(i, 0), "ipMode": "VIP"}]}},
        })  # fmt: skip
    return objects


def vip(service: int, generation: int) -> str:
    n = (service + generation * SERVICES) % 60_000 + 1
    return f"10.0.{n // 250}.{n % 250 + 1}"


def status_of(custom: k8s.CustomObjectsApi) -> dict[str, Any]:
    try:
        obj = custom.get_namespaced_custom_object("dnslb.io", "v1alpha1", "dnslb-system", "nodeannouncements", "node-0")
    except k8s.ApiException:
        return {}
    return dict(obj.get("status") or {})


def listed(status: dict[str, Any]) -> set[str]:
    return {v for group in status.get("withheld", []) + status.get("announced", []) for v in group.get("vips", [])}


def main() -> None:
    figures = []
    with KubeAPIProcess() as api, TemporaryDirectory() as tmp:
        api.seed(cluster())
        client = k8s.ApiClient(k8s.Configuration(host=api.url))
        core, custom = k8s.CoreV1Api(client), k8s.CustomObjectsApi(client)
        argv = [sys.executable, "-m", "dnslb", "speaker", "--api-server", api.url, "--node-name", "node-0",
                "--workdir", tmp, "--metrics-addr", f"127.0.0.1:{free_port()}", "--health-url", "",
                "--log-level", "warning", "--drain-seconds", "0", "--status-interval", str(INTERVAL)]  # fmt: skip
        speaker = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=(Path(tmp) / "speaker.log").open("ab"))
        try:
            first = {vip(i, 0) for i in range(SERVICES)}
            wait_for(lambda: listed(status_of(custom)) >= first, 120, "the first status listing every VIP")
            api.reset_request_counts()
            generation = [0] * SERVICES
            started = time.monotonic()
            changes = 0
            while (elapsed := time.monotonic() - started) < CHURN_SECONDS:
                service = random.randrange(SERVICES)
                generation[service] += 1
                ingress = [{"ip": vip(service, generation[service]), "ipMode": "VIP"}]
                core.patch_namespaced_service_status(f"svc-{service}", "bench", {"status": {"loadBalancer": {
                    "ingress": ingress}}})  # fmt: skip
                changes += 1
                time.sleep(max(0.0, changes / CHURN_PER_SECOND - elapsed))
            last_change = time.monotonic()
            final = {vip(i, generation[i]) for i in range(SERVICES)}
            wait_for(lambda: listed(status_of(custom)) == final, 60, "the status showing the last change")
            caught_up = time.monotonic() - last_change
            writes = api.count_requests("nodeannouncements/status", "patch")
            size = len(json.dumps(status_of(custom)))
        finally:
            speaker.send_signal(signal.SIGTERM)
            speaker.wait(60)
    conditions = {"services": SERVICES, "changes_per_s": CHURN_PER_SECOND, "churn_s": CHURN_SECONDS,
                  "status_interval_s": INTERVAL}  # fmt: skip
    per_minute = writes / ((CHURN_SECONDS + caught_up) / 60)
    figures.append(figure("node_status.writes_per_minute", per_minute, "writes/min", **conditions,
                          target=60 / INTERVAL, changes=changes))  # fmt: skip
    figures.append(figure("node_status.last_change_to_status", caught_up, "s", **conditions))
    figures.append(figure("node_status.object_bytes", size, "bytes", **conditions))
    save("node_status", figures)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
