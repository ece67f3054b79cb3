"""DNS benchmark with real BIND and moto (and the controller against the API double for end-to-end latency).

Figures: first sync of 10,000 hostnames (requests sent vs the minimum the provider's limits allow, wall time);
Service created → name answered by BIND (p50/p99); provider calls while nothing changes.
Prints one JSON line per figure; never fails on time.
"""

from __future__ import annotations

import base64
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import boto3
import dns.message
import dns.query
import dns.rdatatype
import kubernetes.client as k8s
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._report import figure, save
from dnslb.adapters.dnssync.loop import DNSLoop, Hooks
from dnslb.adapters.dnssync.plugins import create
from dnslb.adapters.dnssync.sync import ProviderSync
from dnslb.core.config.resources import DNSProvider, DNSProviderSpec
from dnslb.core.dns.batch import minimum_requests
from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import Claim
from dnslb.core.ipam.request import CLASSLESS
from dnslb.core.objects import ObjectKey
from dnslb.provider import Change, Cost, Limits, Provider, RecordSet, Zone
from dnslb_testkit.kubeapi import KubeAPIProcess
from dnslb_testkit.servers.bind import BindServer, TsigKey, ZoneSpec
from dnslb_testkit.servers.route53 import MotoServer
from tests.builders import make_service
from tests.controller.harness import (
    NAMESPACE,
    ControllerProcess,
    apply_pool,
    apply_provider,
    ensure_namespace,
    service_body,
)

ZONE = "example.test"
HOSTNAMES = 10_000
TRIES = 100


class Counting:
    """A provider that counts the calls made to the real one."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.calls = {"zones": 0, "records": 0, "apply": 0}

    @property
    def limits(self) -> Limits:
        return self.inner.limits

    def cost(self, change: Change) -> Cost:
        return self.inner.cost(change)

    def zones(self) -> list[Zone]:
        self.calls["zones"] += 1
        return self.inner.zones()

    def records(self, zone: Zone) -> list[RecordSet]:
        self.calls["records"] += 1
        return self.inner.records(zone)

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        self.calls["apply"] += 1
        self.inner.apply(zone, changes)


def claims_for(count: int) -> list[Claim]:
    return [
        Claim(f"h{i}.{ZONE}", ObjectKey(f"ns{i % 50}", f"svc{i}"), "", 300,
              (RecordSet.of(f"h{i}.{ZONE}", "A", 300, [f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}"]),))
        for i in range(count)
    ]  # fmt: skip


def first_sync(name: str, provider: Provider) -> list[dict[str, Any]]:
    counting = Counting(provider)
    sync = ProviderSync(name, DNSProviderSpec(type=name), counting, "bench",
                        save_replaced=lambda zone, records: None, report=lambda notice: None)  # fmt: skip
    wanted = claims_for(HOSTNAMES)
    start = time.perf_counter()
    sync.read()
    notices = sync.sync(wanted, may_delete=True)
    elapsed = time.perf_counter() - start
    assert not notices, notices[:3]
    groups = zone_changes(wanted, [], "bench").groups
    fewest = minimum_requests(groups, provider.limits, provider.cost)
    return [
        figure(f"dns.first_sync_requests.{name}", counting.calls["apply"], "requests", hostnames=HOSTNAMES,
               minimum=fewest, target=f"<= {fewest + 1}"),
        figure(f"dns.first_sync_seconds.{name}", elapsed, "s", hostnames=HOSTNAMES,
               requests_per_second_limit=provider.limits.requests_per_second),
    ]  # fmt: skip


def answered(bind: BindServer, name: str) -> list[str]:
    response = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), bind.address, port=bind.port, timeout=1)
    return [r.to_text() for rrset in response.answer for r in rrset]


def end_to_end(bind: BindServer, key: TsigKey, settings: dict[str, str]) -> list[dict[str, Any]]:
    with KubeAPIProcess() as api, TemporaryDirectory() as logs:
        client = api.api_client()
        core, custom = k8s.CoreV1Api(client), k8s.CustomObjectsApi(client)
        ensure_namespace(core, NAMESPACE)
        secret = base64.b64encode(key.secret.encode()).decode()
        core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "tsig"}, "data": {"tsigSecret": secret}})
        apply_pool(custom, "bench", "10.0.0.0/16")
        apply_provider(custom, "bind", {"type": "rfc2136", "settings": settings, "secretRef": {"name": "tsig"}})
        controller = ControllerProcess(("--api-server", api.url), Path(logs), "--log-level", "warning")
        controller.wait_ready(60)
        latencies = []
        for i in range(TRIES):
            name = f"e2e{i}.{ZONE}"
            sent = time.perf_counter()
            core.create_namespaced_service("default", service_body(f"e2e{i}", annotations={"dnslb.io/hostname": name},
                                                                   allocateLoadBalancerNodePorts=False))  # fmt: skip
            while not answered(bind, name):
                time.sleep(0.002)
            latencies.append(time.perf_counter() - sent)
        controller.stop()
        client.close()
    latencies.sort()
    return [
        figure("dns.service_to_bind_answer_p50", statistics.median(latencies) * 1000, "ms", tries=TRIES),
        figure("dns.service_to_bind_answer_p99", latencies[int(TRIES * 0.99) - 1] * 1000, "ms", tries=TRIES,
               target_ms=300),
    ]  # fmt: skip


def quiet(provider: Provider, seconds: float, resync: float) -> list[dict[str, Any]]:
    """The sync loop under a stream of events that change nothing: how often does it call the provider?"""
    counting = Counting(provider)
    views = [make_service(f"q{i}", annotations={"dnslb.io/hostname": f"q{i}.{ZONE}"}, ingress=(f"10.9.0.{i + 1}",))
             for i in range(100)]  # fmt: skip
    loop = DNSLoop(
        Hooks(services=lambda: views, source_complete=lambda: True, make_provider=lambda resource: counting,
              save_replaced=lambda *a: None, report=lambda *a: None),
        owner="bench", classes=CLASSLESS, registry=CollectorRegistry(),
        resync_seconds=resync,
    )  # fmt: skip
    loop.configure([DNSProvider.model_validate({"apiVersion": "dnslb.io/v1alpha1", "kind": "DNSProvider",
                                                "metadata": {"name": "quiet"}, "spec": {"type": "x"}})])  # fmt: skip
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    time.sleep(2)  # first read and the 100 names written
    baseline = dict(counting.calls)
    end = time.monotonic() + seconds
    events = 0
    while time.monotonic() < end:
        loop.trigger()
        events += 1
        time.sleep(0.1)
    loop.stop()
    thread.join(5)
    calls = {k: counting.calls[k] - baseline[k] for k in counting.calls}
    return [
        figure("dns.quiet_writes", calls["apply"], "requests", seconds=seconds, events=events, target=0),
        figure("dns.quiet_zone_reads", calls["records"], "reads", seconds=seconds, resync_seconds=resync,
               expected=int(seconds // resync)),
    ]  # fmt: skip


def main() -> None:
    figures = []
    key = TsigKey.generate("bench")
    with BindServer([ZoneSpec(ZONE)], key) as bind:
        settings = {"server": bind.address, "port": str(bind.port), "zones": ZONE,
                    "tsigKeyName": key.name, "tsigAlgorithm": key.algorithm}  # fmt: skip
        figures += first_sync("rfc2136", create("rfc2136", settings, {"tsigSecret": key.secret}))
    with MotoServer() as moto:
        route53 = boto3.client("route53", endpoint_url=moto.url, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        route53.create_hosted_zone(Name=ZONE, CallerReference="bench")
        figures += first_sync("route53", create("route53", {"endpointURL": moto.url}, MotoServer.CREDENTIALS))
    with BindServer([ZoneSpec(ZONE)], key) as bind:
        settings = {"server": bind.address, "port": str(bind.port), "zones": ZONE,
                    "tsigKeyName": key.name, "tsigAlgorithm": key.algorithm}  # fmt: skip
        figures += end_to_end(bind, key, settings)
        figures += quiet(create("rfc2136", settings, {"tsigSecret": key.secret}), seconds=60, resync=20)
    save("dns", figures)


if __name__ == "__main__":
    main()
