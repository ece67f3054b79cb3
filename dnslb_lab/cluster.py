"""What the lab's cluster holds, as plain Kubernetes object bodies: Nodes, the dnslb config, the example Services
and the two web teams' Ingresses.

Pure: builders only. The lab posts them to the API double (`dnslb_lab.lab`); an operator can read them to see what
a minimal working dnslb setup looks like.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

CONFIG_NAMESPACE = "dnslb-system"
ZONE = "lab.test"
WEB_HOSTS = (f"web.{ZONE}", f"shop.{ZONE}")  # the seed's two web apps, both behind the NGINX ingress
# the old world, beside dnslb's: a static name listing every node's address (NodePort style), no Service claims it
OLD_HOST = f"old.{ZONE}"
DB_HOST = f"db.{ZONE}"
DB_PORT = 5432
HTTP_PORT = 80
DNS_PROVIDER = "lab-dns"
TSIG_SECRET = "lab-dns-tsig"
RECORD_TTL = 30

Body = dict[str, Any]


@dataclass(frozen=True)
class LabService:
    """An example LoadBalancer Service of the lab: where it lives and what it answers on."""

    namespace: str
    name: str
    port: int
    hostnames: tuple[str, ...]
    local: bool  # externalTrafficPolicy Local: announced only from nodes with a ready endpoint


# the ingress controller's Service carries no hostname: each team names its own on its Ingress
INGRESS = LabService("ingress-nginx", "ingress-nginx", HTTP_PORT, (), local=False)
DATABASE = LabService("data", "db", DB_PORT, (DB_HOST,), local=True)
SERVICES = (INGRESS, DATABASE)


@dataclass(frozen=True)
class LabIngress:
    """A team's Ingress: its namespace, name and host, served through the NGINX ingress controller's Service."""

    namespace: str
    name: str
    host: str


INGRESSES = (LabIngress("team-web", "web", WEB_HOSTS[0]), LabIngress("team-shop", "shop", WEB_HOSTS[1]))


def node(name: str, address: IPv4Address, *, ready: bool = True) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "conditions": [ready_condition(ready)],
            "addresses": [{"type": "InternalIP", "address": str(address)}],
        },
    }


def ready_condition(ready: bool) -> Body:
    return {"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady" if ready else "LabChaos"}


def namespace(name: str) -> Body:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _resource(kind: str, name: str, spec: Body) -> Body:
    return {
        "apiVersion": "dnslb.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": CONFIG_NAMESPACE},
        "spec": spec,
    }


def config(
    *, pool: IPv4Network, router: IPv4Address, router_asn: int, node_asn: int, hold_time: int, dns_server: IPv4Address
) -> tuple[Body, ...]:
    """AddressPool, BGPPeer and BGPAdvertisement for the VIPs; the RFC2136 DNSProvider (takeover off: `migrate`
    turns it on)."""
    return (
        _resource("AddressPool", "lab", {"addresses": [str(pool)]}),
        _resource(
            "BGPPeer",
            "edge",
            # graceful restart: a speaker restart (the `restart` scenario) changes no path; a drain cordons first
            {
                "myASN": node_asn,
                "peerASN": router_asn,
                "peerAddress": str(router),
                "holdTime": hold_time,
                "enableGracefulRestart": True,
            },
        ),
        _resource("BGPAdvertisement", "all", {"addressPools": ["lab"], "peers": ["edge"]}),
        _resource(
            "DNSProvider",
            DNS_PROVIDER,
            {
                "type": "rfc2136",
                "zones": [ZONE],
                "ownerID": "lab",
                "takeover": False,
                "settings": {
                    "server": str(dns_server),
                    "port": "53",
                    "zones": ZONE,
                    "tsigKeyName": "dnslb-lab",
                    "tsigAlgorithm": "hmac-sha256",
                },
                "secretRef": {"name": TSIG_SECRET},
            },
        ),
    )


def tsig_secret(secret: str) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": TSIG_SECRET, "namespace": CONFIG_NAMESPACE},
        "data": {"tsigSecret": base64.b64encode(secret.encode()).decode()},
    }


def service(spec: LabService) -> Body:
    annotations = {"dnslb.io/hostname": ",".join(spec.hostnames), "dnslb.io/ttl": str(RECORD_TTL)}
    if not spec.hostnames:
        annotations = {}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "annotations": annotations},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": spec.name},
            "ports": [{"name": "main", "port": spec.port, "protocol": "TCP"}],
            "externalTrafficPolicy": "Local" if spec.local else "Cluster",
        },
    }


def endpoint_slice(spec: LabService, nodes: Sequence[str]) -> Body:
    """The Service's endpoints: one ready pod on each of `nodes` (pod addresses are not used by the lab)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{spec.name}-lab",
            "namespace": spec.namespace,
            "labels": {"kubernetes.io/service-name": spec.name},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [f"10.244.{index}.10"], "nodeName": name, "conditions": {"ready": True}}
            for index, name in enumerate(nodes, start=1)
        ],
        "ports": [{"name": "main", "port": spec.port, "protocol": "TCP"}],
    }


def ingress(spec: LabIngress) -> Body:
    backend = {"service": {"name": spec.name, "port": {"number": HTTP_PORT}}}
    paths = [{"path": "/", "pathType": "Prefix", "backend": backend}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "annotations": {"dnslb.io/ttl": str(RECORD_TTL)}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": spec.host, "http": {"paths": paths}}],
        },
    }


def ingress_status(vip: IPv4Address) -> Body:
    """What ingress-nginx writes on each Ingress it serves (--publish-service): its Service's VIP."""
    return {"status": {"loadBalancer": {"ingress": [{"ip": str(vip)}]}}}
