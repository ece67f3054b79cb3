"""The speaker in the BGP bed: one `dnslb speaker` per node (ExaBGP inside the node's namespace), BIRD as the edge
router, the Kubernetes API double as the cluster."""

from __future__ import annotations

import ipaddress
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
from kubernetes.client.rest import ApiException

from dnslb.adapters.child import Child
from dnslb_testkit.bgpbed import BedNode, BGPBed, host_prefix
from dnslb_testkit.ports import free_port
from dnslb_testkit.waiting import wait_for
from tests.controller.harness import NAMESPACE, ensure_namespace

VIPS = "10.100.0.0/24"
VIPS6 = "fd00:100::/120"


def custom_object(custom: k8s.CustomObjectsApi, kind: str, plural: str, name: str, spec: dict[str, Any]) -> None:
    body = {"apiVersion": "dnslb.io/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": spec}  # fmt: skip
    custom.create_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, plural, body)


def node_body(node: BedNode, ready: bool = True, **spec: Any) -> dict[str, Any]:
    addresses = [{"type": "InternalIP", "address": str(node.ipv4)}]
    if node.ipv6 is not None:
        addresses.append({"type": "InternalIP", "address": str(node.ipv6)})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node.name, "labels": {"kubernetes.io/hostname": node.name}},
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}], "addresses": addresses},
    }


def set_ready(core: k8s.CoreV1Api, node: BedNode, ready: bool) -> None:
    core.patch_node_status(
        node.name, {"status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}
    )


def setup_cluster(core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, bed: BGPBed, hold_time: int = 3) -> None:
    ensure_namespace(core, NAMESPACE)
    for node in bed.nodes:
        created = core.create_node(node_body(node))
        # PUT, not a strategic-merge patch: NodeAddress merges by `type`, which folds two InternalIPs into one
        body = node_body(node)
        body["metadata"]["resourceVersion"] = created.metadata.resource_version
        core.replace_node_status(node.name, body)
    first = bed.nodes[0]
    peer = {"myASN": first.asn, "peerASN": 64500, "holdTime": hold_time}
    custom_object(custom, "BGPPeer", "bgppeers", "edge-v4", {**peer, "peerAddress": str(first.router_ipv4)})
    if first.router_ipv6 is not None:
        custom_object(custom, "BGPPeer", "bgppeers", "edge-v6", {**peer, "peerAddress": str(first.router_ipv6)})
    custom_object(custom, "AddressPool", "addresspools", "vips", {"addresses": [VIPS, VIPS6]})
    custom_object(custom, "BGPAdvertisement", "bgpadvertisements", "all", {"communities": ["64512:7"]})


def lb_service(
    core: k8s.CoreV1Api, name: str, vips: Iterable[str], annotations: dict[str, str] | None = None, **spec: Any
) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 8080}], **spec},
    }
    core.create_namespaced_service("default", body)
    ingress = [{"ip": ip, "ipMode": "VIP"} for ip in vips]
    core.patch_namespaced_service_status(name, "default", {"status": {"loadBalancer": {"ingress": ingress}}})


def endpoint_slice(core_client: k8s.ApiClient, service: str, nodes: Iterable[str]) -> None:
    discovery = k8s.DiscoveryV1Api(core_client)
    body: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-slice", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [f"10.244.{i}.5"], "nodeName": n, "conditions": {"ready": True}} for i, n in enumerate(nodes)
        ],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }
    try:
        discovery.create_namespaced_endpoint_slice("default", body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        discovery.replace_namespaced_endpoint_slice(
            f"{service}-slice", "default", {**body, "metadata": {**body["metadata"], "resourceVersion": None}}
        )


class SpeakerProcess:
    def __init__(self, api_url: str, node: BedNode, workdir: Path, *extra: str) -> None:
        self.node = node
        self.port = free_port()
        self.workdir = workdir / node.name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"speaker-{node.name}-{self.port}.log"
        command = [
            sys.executable, "-m", "dnslb.app.cli", "speaker", "--node-name", node.name, "--api-server", api_url,
            "--netns", node.namespace.name, "--workdir", str(self.workdir), "--metrics-addr", f"127.0.0.1:{self.port}",
            "--drain-seconds", "1", "--log-format", "logfmt", *extra,
        ]  # fmt: skip
        self.process = Child.start(command, name=f"speaker on {node.name}", log=self.log_path)

    def exabgp_pid(self) -> int | None:
        """ExaBGP's PID, found by its config path (the speaker starts it in our workdir)."""
        needle = str(self.workdir / "exabgp.conf").encode()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if needle in (entry / "cmdline").read_bytes():
                        return int(entry.name)
                except OSError:
                    continue
        return None

    def relay_pid(self) -> int | None:
        needle = b"dnslb.adapters.exabgp.relay"
        exabgp = self.exabgp_pid()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[1]) == exabgp and needle in (entry / "cmdline").read_bytes():
                        return int(entry.name)
                except (OSError, IndexError, ValueError):
                    continue
        return None

    def stop(self) -> int:
        return self.process.stop(20)


def next_hops(bed: BGPBed, vip: str) -> set[str]:
    """The nodes (by address) BIRD has a path from for this VIP."""
    return {str(route.next_hop) for route in bed.bird.routes(host_prefix(ipaddress.ip_address(vip)))}


def wait_paths(bed: BGPBed, vip: str, expected: set[str], timeout: float, what: str = "") -> float:
    """Wait until BIRD's paths for `vip` are exactly `expected`; return how long it took."""
    start = time.monotonic()
    wait_for(lambda: next_hops(bed, vip) == expected, timeout, what or f"paths {sorted(expected)} for {vip}")
    return time.monotonic() - start


def addresses(nodes: Iterable[BedNode], version: int = 4) -> set[str]:
    return {str(n.address(version)) for n in nodes}
