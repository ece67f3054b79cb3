"""Speaker benchmark against the API double: memory at scale, and what a restart costs in Events.

A cluster of 10,000 LoadBalancer Services with VIPs and 30,000 EndpointSlices shaped as a real API server sends
them (ten endpoints each, addresses, ports, hints, targetRefs and managedFields). One `dnslb speaker` (ExaBGP
included, its peer an address on loopback that never answers: every VIP is decided all the same, and withheld as
PeerDown until a session is up) starts, decides every VIP, is stopped with SIGTERM and starts again.
Figures: the speaker's RSS once every VIP is decided; time from start to that point; Events created by the first
start and by the restart. Prints one JSON line per figure; never fails on time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._report import figure, save
from dnslb_testkit.kubeapi import KubeAPIProcess
from dnslb_testkit.ports import free_port
from dnslb_testkit.waiting import wait_for

SERVICES = 10_000
SLICES_PER_SERVICE = 3
ENDPOINTS_PER_SLICE = 10
NODES = 50


def managed_fields(manager: str) -> list[dict[str, Any]]:
    """What a real server keeps in metadata.managedFields for an object written by `manager` (server-side apply)."""
    fields: dict[str, Any] = {f"f:{k}": {} for k in ("addressType", "endpoints", "ports", "metadata")}
    fields["f:metadata"] = {"f:labels": {".": {}, "f:kubernetes.io/service-name": {}, "f:endpointslice.kubernetes.io/"
                            "managed-by": {}}, "f:ownerReferences": {".": {}, 'k:{"uid":"x"}': {}}}  # fmt: skip
    return [{"manager": manager, "operation": "Update", "apiVersion": "discovery.k8s.io/v1",
             "time": "2026-12-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields}]  # fmt: skip


def cluster() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dnslb-system"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}},
        {"apiVersion": "dnslb.io/v1alpha1", "kind": "AddressPool",
         "metadata": {"name": "p", "namespace": "dnslb-system"}, "spec": {"addresses": ["10.0.0.0/16"]}},
        {"apiVersion": "dnslb.io/v1alpha1", "kind": "BGPPeer",
         "metadata": {"name": "edge", "namespace": "dnslb-system"},
         "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "127.0.0.2", "peerPort": 1790}},
        {"apiVersion": "dnslb.io/v1alpha1", "kind": "BGPAdvertisement",
         "metadata": {"name": "all", "namespace": "dnslb-system"}, "spec": {}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-0", "labels": {"kubernetes.io/hostname": "n"}},
         "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}],
                                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}},
    ]  # fmt: skip
    for i in range(SERVICES):
        name = f"svc-{i}"
        policy = "Local" if i % 5 == 0 else "Cluster"  # Local ones take a healthCheckNodePort: 2,768 at most
        objects.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "bench", "labels": {"app": name},
                         "annotations": {"dnslb.io/hostname": f"{name}.example.test"},
                         "managedFields": managed_fields("kubectl-client-side-apply")},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "externalTrafficPolicy": policy,
                     "allocateLoadBalancerNodePorts": False,
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": f"10.0.{i // 250}.{i % 250 + 1}", "ipMode": "VIP"}]}},
        })  # fmt: skip
        for s in range(SLICES_PER_SERVICE):
            objects.append({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": f"{name}-{s}", "namespace": "bench",
                             "labels": {"kubernetes.io/service-name": name,
                                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                             "managedFields": managed_fields("kube-controller-manager")},
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": [{"addresses": [f"10.244.{(i * 7 + e) % 250}.{(s * 10 + e) % 250 + 1}"],
                               "conditions": {"ready": True, "serving": True, "terminating": False},
                               "nodeName": f"node-{(i + s + e) % NODES}", "zone": "zone-a",
                               "hints": {"forZones": [{"name": "zone-a"}]},
                               "targetRef": {"kind": "Pod", "namespace": "bench", "name": f"{name}-pod-{s}-{e}",
                                             "uid": f"{i:08x}-{s:04x}-{e:04x}-0000-000000000000"}}
                              for e in range(ENDPOINTS_PER_SLICE)],
            })  # fmt: skip
    return objects


def announced_here(objects: list[dict[str, Any]]) -> int:
    """Cluster Services announce from every node; Local ones only where an endpoint is ready (node-0 holds some)."""
    local_here = {
        s["metadata"]["labels"]["kubernetes.io/service-name"]
        for s in objects
        if s["kind"] == "EndpointSlice" and any(e["nodeName"] == "node-0" for e in s["endpoints"])
    }
    return sum(
        1
        for o in objects
        if o["kind"] == "Service"
        and (o["spec"]["externalTrafficPolicy"] == "Cluster" or o["metadata"]["name"] in local_here)
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def decided(metrics_url: str) -> int:
    """VIPs the speaker decided to announce and holds for a peer that never answers (PeerDown)."""
    try:
        text = httpx.get(metrics_url, timeout=5).text
    except httpx.HTTPError:
        return -1
    found = re.search(r'^dnslb_bgp_vips\{state="PeerDown"\} ([0-9.e+]+)$', text, re.M)
    return int(float(found.group(1))) if found else -1


def events(api: KubeAPIProcess) -> int:
    return api.count_requests("events", "create")


def start_speaker(api: KubeAPIProcess, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "dnslb", "speaker", "--api-server", api.url, "--node-name", "node-0",
            "--workdir", str(workdir), "--metrics-addr", f"127.0.0.1:{port}", "--health-url", "",
            "--log-level", "warning", "--drain-seconds", "0"]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=(workdir / "speaker.log").open("ab"))


def run_once(api: KubeAPIProcess, workdir: Path, expected: int) -> tuple[subprocess.Popen[bytes], float]:
    port = free_port()
    started = time.perf_counter()
    speaker = start_speaker(api, workdir, port)
    url = f"http://127.0.0.1:{port}/metrics"
    wait_for(lambda: decided(url) >= expected, 600, f"{expected} VIPs decided", interval=0.5)
    return speaker, time.perf_counter() - started


def main() -> None:
    figures = []
    with KubeAPIProcess(history_limit=200_000) as api, TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        objects = cluster()
        for i in range(0, len(objects), 2_000):
            api.seed(objects[i : i + 2_000])
        api.reset_request_counts()
        expected = announced_here(objects)
        speaker, took = run_once(api, workdir, expected)
        conditions = {"services": SERVICES, "endpoint_slices": SERVICES * SLICES_PER_SERVICE, "managed_fields": True}
        figures.append(figure("speaker.rss", rss_mb(speaker.pid), "MB", **conditions, target_mb=150))
        figures.append(figure("speaker.start_to_announced", took, "s", **conditions))
        figures.append(figure("speaker.events_first_start", events(api), "events", **conditions))
        before = events(api)
        speaker.send_signal(signal.SIGTERM)
        speaker.wait(60)
        restarted, took = run_once(api, workdir, expected)
        figures.append(figure("speaker.events_restart", events(api) - before, "events", **conditions, target=5))
        figures.append(figure("speaker.restart_to_announced", took, "s", **conditions))
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(60)
    save("speaker", figures)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
