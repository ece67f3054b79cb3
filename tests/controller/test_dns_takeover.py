"""Takeover and rollback on a real BIND: the all-nodes A record becomes the VIP, then comes back byte for byte."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import kubernetes.client as k8s

from dnslb.adapters.dnssync.plugins import create
from dnslb_testkit.kubeapi import KubeAPIControl
from dnslb_testkit.servers.bind import BindServer, TsigKey, ZoneSpec
from tests.controller.harness import (
    NAMESPACE,
    ControllerProcess,
    apply_pool,
    apply_provider,
    events_for,
    service_body,
    wait_for,
)

Start = Callable[..., ControllerProcess]
NODES = [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(300)]


def answer(bind: BindServer, name: str) -> tuple[int, list[str]]:
    query = dns.message.make_query(name, dns.rdatatype.A)
    response = dns.query.tcp(query, bind.address, port=bind.port, timeout=3)
    for rrset in response.answer:
        return rrset.ttl, sorted(r.to_text() for r in rrset)
    return 0, []


def test_takeover_replaces_the_all_nodes_record_and_rollback_restores_it(
    ns: str, api: KubeAPIControl, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    key = TsigKey.generate("dnslb-test")
    zone = ZoneSpec("example.test", records=tuple(f"web 120 IN A {ip}" for ip in NODES))
    with BindServer([zone], key) as bind:
        settings = {"server": bind.address, "port": str(bind.port), "zones": "example.test",
                    "tsigKeyName": key.name, "tsigAlgorithm": key.algorithm}  # fmt: skip
        provider = create("rfc2136", settings, {"tsigSecret": key.secret})
        before = provider.records(provider.zones()[0])
        assert answer(bind, "web.example.test") == (120, sorted(NODES))

        encoded = base64.b64encode(key.secret.encode()).decode()
        core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "tsig"}, "data": {"tsigSecret": encoded}})
        apply_pool(custom, "p", "10.95.0.0/28")
        apply_provider(custom, "bind", {"type": "rfc2136", "settings": settings, "secretRef": {"name": "tsig"},
                                        "takeover": True})  # fmt: skip
        proc = controller("--resync-seconds", "3")  # re-reads the zone soon after the rollback below
        proc.wait_ready()
        core.create_namespaced_service(ns, service_body("web", annotations={"dnslb.io/hostname": "web.example.test"}))
        vip = wait_for(lambda: (s := core.read_namespaced_service("web", ns)).status.load_balancer.ingress
                       and s.status.load_balancer.ingress[0].ip, 10, "a VIP")  # fmt: skip
        wait_for(lambda: answer(bind, "web.example.test")[1] == [vip], 15, "BIND answering the VIP")
        saved = core.read_namespaced_config_map("dnslb-takeover-bind", NAMESPACE).data["example.test"]
        assert "198.18.1.50" in saved

        custom.patch_namespaced_custom_object(
            "dnslb.io", "v1alpha1", NAMESPACE, "dnsproviders", "bind", {"spec": {"takeover": False}}
        )
        rollback = subprocess.run(
            [sys.executable, "-m", "dnslb.app.cli", "dns", "rollback", "--provider", "bind", "--api-server", api.url],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert rollback.returncode == 0, rollback.stderr
        assert "restored 1 record set(s)" in rollback.stdout
        assert answer(bind, "web.example.test") == (120, sorted(NODES))
        assert provider.records(provider.zones()[0]) == before  # byte for byte: the ownership TXT is gone too
        notice = wait_for(lambda: events_for(core, ns, "web", ["DNSNotPublished"]), 15, "the controller standing off")
        assert "set takeover on the DNSProvider" in notice[-1].message
        assert provider.records(provider.zones()[0]) == before


def test_rollback_refuses_while_takeover_is_on(
    api: KubeAPIControl, custom: k8s.CustomObjectsApi, core: k8s.CoreV1Api, tmp_path: Path
) -> None:
    apply_provider(custom, "mem", {"type": "inmemory", "settings": {"zones": "example.test"}, "takeover": True})
    result = subprocess.run(
        [sys.executable, "-m", "dnslb.app.cli", "dns", "rollback", "--provider", "mem", "--api-server", api.url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "still has spec.takeover: true" in result.stderr
