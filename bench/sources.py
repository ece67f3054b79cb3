"""Ingress source benchmark: 5,000 Ingresses with 2 hosts each, published to a real BIND.

Figures: one read of every Ingress into records (the DNS loop does it each pass); the first sync of their 10,000
hostnames (requests sent vs the minimum the provider's limits allow); and with the controller against the API double:
5,000 Ingresses created → every name answered by BIND, then an Ingress's host changed → the new name answered
(p50/p99). Prints one JSON line per figure; never fails on time.
"""

from __future__ import annotations

import base64
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import kubernetes.client as k8s

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._report import figure, save
from bench.dns_sync import Counting, answered
from dnslb.adapters.dnssync.plugins import create
from dnslb.adapters.dnssync.sync import ProviderSync
from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.dns.batch import minimum_requests
from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import claims
from dnslb.core.ipam.request import CLASSLESS
from dnslb.core.sources.read import INGRESS, SERVICE, Memo, SourceObjects, SourceSettings, read_sources
from dnslb_testkit.kubeapi import KubeAPIProcess
from dnslb_testkit.servers.bind import BindServer, TsigKey, ZoneSpec
from tests.controller.harness import NAMESPACE, ControllerProcess, apply_provider, ensure_namespace

ZONE = "example.test"
INGRESSES = 5_000
TEAMS = 50
TRIES = 50
SETTINGS = SourceSettings(enabled=frozenset({SERVICE, INGRESS}))


def ingress(i: int) -> dict[str, Any]:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    paths = {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": f"ing{i}", "namespace": f"team{i % TEAMS}",
                     "creationTimestamp": "2026-12-01T00:00:00Z", "resourceVersion": str(i + 1)},
        "spec": {"ingressClassName": "nginx",
                 "rules": [{"host": f"a{i}.{ZONE}", "http": paths}, {"host": f"b{i}.{ZONE}", "http": paths}]},
        "status": {"loadBalancer": {"ingress": [{"ip": address(i)}]}},
    }  # fmt: skip


def address(i: int) -> str:
    return f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}"


def read_pass() -> list[dict[str, Any]]:
    """Every Ingress read and the claims made, as each DNS pass does: cold, then with nothing changed."""
    objects = SourceObjects(ingresses=[ingress(i) for i in range(INGRESSES)])
    memo: Memo = {}
    times = []
    for _ in range(5):
        start = time.perf_counter()
        found = read_sources(objects, SETTINGS, memo)
        wanted, _ = claims([], CLASSLESS, found.records)
        times.append(time.perf_counter() - start)
    assert len(wanted) == 2 * INGRESSES
    return [
        figure("sources.ingress_pass_cold_ms", times[0] * 1000, "ms", ingresses=INGRESSES, hostnames=2 * INGRESSES),
        figure("sources.ingress_pass_ms", statistics.median(times[1:]) * 1000, "ms", ingresses=INGRESSES,
               hostnames=2 * INGRESSES, note="a DNS pass with no Ingress changed: read and claims"),
    ]  # fmt: skip


def first_sync(settings: dict[str, str], key: TsigKey) -> list[dict[str, Any]]:
    provider = create("rfc2136", settings, {"tsigSecret": key.secret})
    counting = Counting(provider)
    sync = ProviderSync("rfc2136", DNSProviderSpec(type="rfc2136"), counting, "bench",
                        save_replaced=lambda zone, records: None)  # fmt: skip
    wanted, _ = claims([], CLASSLESS, read_sources(SourceObjects(ingresses=[ingress(i) for i in range(INGRESSES)]),
                                                   SETTINGS).records)  # fmt: skip
    sync.read()
    start = time.perf_counter()
    notices = sync.sync(wanted, may_delete=True)
    elapsed = time.perf_counter() - start
    assert not notices, notices[:3]
    fewest = minimum_requests(zone_changes(wanted, [], "bench").groups, provider.limits, provider.cost)
    return [
        figure("sources.first_sync_requests.rfc2136", counting.calls["apply"], "requests", hostnames=len(wanted),
               minimum=fewest),
        figure("sources.first_sync_seconds.rfc2136", elapsed, "s", hostnames=len(wanted)),
    ]  # fmt: skip


def end_to_end(bind: BindServer, key: TsigKey, settings: dict[str, str]) -> list[dict[str, Any]]:
    with KubeAPIProcess() as api, TemporaryDirectory() as logs:
        client = api.api_client()
        core, custom, net = k8s.CoreV1Api(client), k8s.CustomObjectsApi(client), k8s.NetworkingV1Api(client)
        ensure_namespace(core, NAMESPACE)
        for team in range(TEAMS):
            ensure_namespace(core, f"team{team}")
        secret = base64.b64encode(key.secret.encode()).decode()
        core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "tsig"}, "data": {"tsigSecret": secret}})
        apply_provider(custom, "bind", {"type": "rfc2136", "settings": settings, "secretRef": {"name": "tsig"}})
        controller = ControllerProcess(("--api-server", api.url), Path(logs), "--log-level", "warning",
                                       "--source", "service,ingress")  # fmt: skip
        controller.wait_ready(60)
        start = time.perf_counter()
        for i in range(INGRESSES):
            body = ingress(i)
            status = {"status": body.pop("status")}
            del body["metadata"]["resourceVersion"], body["metadata"]["creationTimestamp"]
            net.create_namespaced_ingress(body["metadata"]["namespace"], body)
            net.patch_namespaced_ingress_status(f"ing{i}", f"team{i % TEAMS}", status)
        created = time.perf_counter() - start
        last = f"b{INGRESSES - 1}.{ZONE}"
        while not answered(bind, last):
            time.sleep(0.05)
        published = time.perf_counter() - start
        missing = sum(1 for i in range(0, INGRESSES, 97) if not answered(bind, f"a{i}.{ZONE}"))
        latencies = []
        for t in range(TRIES):
            i = t * (INGRESSES // TRIES)
            name = f"c{i}.{ZONE}"
            rules = ingress(i)["spec"]["rules"]
            rules[1]["host"] = name
            sent = time.perf_counter()
            net.patch_namespaced_ingress(f"ing{i}", f"team{i % TEAMS}", {"spec": {"rules": rules}})
            while not answered(bind, name):
                time.sleep(0.002)
            latencies.append(time.perf_counter() - sent)
        controller.stop()
        client.close()
    latencies.sort()
    return [
        figure("sources.ingresses_created_seconds", created, "s", ingresses=INGRESSES,
               note="create + status patch, one at a time, through the API double"),
        figure("sources.ingresses_to_all_published_seconds", published, "s", ingresses=INGRESSES,
               hostnames=2 * INGRESSES, missing_in_sample=missing),
        figure("sources.ingress_change_to_bind_answer_p50", statistics.median(latencies) * 1000, "ms", tries=TRIES,
               ingresses=INGRESSES),
        figure("sources.ingress_change_to_bind_answer_p99", latencies[int(TRIES * 0.99) - 1] * 1000, "ms",
               tries=TRIES, ingresses=INGRESSES),
    ]  # fmt: skip


def main() -> None:
    figures = read_pass()
    key = TsigKey.generate("bench")
    with BindServer([ZoneSpec(ZONE)], key) as bind:
        settings = {"server": bind.address, "port": str(bind.port), "zones": ZONE,
                    "tsigKeyName": key.name, "tsigAlgorithm": key.algorithm}  # fmt: skip
        figures += first_sync(settings, key)
    with BindServer([ZoneSpec(ZONE)], key) as bind:
        settings = {"server": bind.address, "port": str(bind.port), "zones": ZONE,
                    "tsigKeyName": key.name, "tsigAlgorithm": key.algorithm}  # fmt: skip
        figures += end_to_end(bind, key, settings)
    save("sources", figures)


if __name__ == "__main__":
    main()
