"""DNS benchmark with real BIND and moto (and the controller against the API double for end-to-end latency).

Figures: first sync of 10,000 hostnames (requests sent vs the minimum the provider's limits allow, wall time);
Service created → name answered by BIND (p50/p99); provider calls while nothing changes; and on the strict Route53
server (Route53's throttling at 5 requests/s per account, its quotas and exact change semantics, in front of moto) with
a 50,000-record-set zone: a full read alone and beside another client of the account (time, requests, retries), a new
Service → its records accepted by Route53 (p50/p99) while full reads go on, and the requests an hour in steady state.
Prints one JSON line per figure; never fails on time.
"""

from __future__ import annotations

import base64
import contextlib
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
from dnslb.core.objects import ObjectKey, service_ref
from dnslb.provider import Change, Cost, Limits, Page, Provider, ProviderError, RecordSet, Zone
from dnslb_route53 import Route53Provider
from dnslb_testkit.kubeapi import KubeAPIProcess
from dnslb_testkit.servers.bind import BindServer, TsigKey, ZoneSpec
from dnslb_testkit.servers.route53 import MotoServer
from dnslb_testkit.servers.route53_strict import Limits as ServerLimits
from dnslb_testkit.servers.route53_strict import SeedRecordSet, StrictRoute53
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
LARGE_ZONE = 50_000
ROUTE53_RATE = ServerLimits(rate=5.0, burst=5)
RESYNC_SECONDS = 300.0  # the controller's default --resync-seconds: the period of full reads


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
        Claim(f"h{i}.{ZONE}", service_ref(ObjectKey(f"ns{i % 50}", f"svc{i}")), "", 300,
              (RecordSet.of(f"h{i}.{ZONE}", "A", 300, [f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}"]),))
        for i in range(count)
    ]  # fmt: skip


def first_sync(name: str, provider: Provider) -> list[dict[str, Any]]:
    counting = Counting(provider)
    sync = ProviderSync(name, DNSProviderSpec(type=name), counting, "bench",
                        save_replaced=lambda zone, records: None)  # fmt: skip
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


class Stamped(Counting):
    """Counting, noting also when each name's change was accepted and when each page of a full read was asked for."""

    def __init__(self, inner: Provider) -> None:
        assert isinstance(inner, Route53Provider)
        super().__init__(inner)
        self.route53 = inner
        self.account = inner.account
        self.published: dict[str, float] = {}
        self.pages: list[float] = []

    def records_page(self, zone: Zone, start: str | None) -> Page:
        self.pages.append(time.perf_counter())
        return self.route53.records_page(zone, start)

    def records_at(self, zone: Zone, names: Sequence[str]) -> list[RecordSet]:
        return self.route53.records_at(zone, names)

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        super().apply(zone, changes)
        now = time.perf_counter()
        for change in changes:
            self.published.setdefault(change.record.name, now)


def address(i: int) -> str:
    return f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}"


def full_read(strict: StrictRoute53, provider: Provider, other_client_rps: float) -> list[dict[str, Any]]:
    """One full read of the large zone, paced, resuming from a throttled page; beside another client of the same
    account (same key, so the same bucket on Route53's side) when `other_client_rps`."""
    sync = ProviderSync("route53", DNSProviderSpec(type="route53"), provider, "bench", save_replaced=lambda *a: None)
    stop = threading.Event()

    def other_client() -> None:
        client = boto3.client("route53", endpoint_url=strict.url, region_name="us-east-1",
                              aws_access_key_id=MotoServer.CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key="testing")  # fmt: skip
        while not stop.wait(1 / other_client_rps):
            with contextlib.suppress(Exception):  # throttled: it goes on, as another tool on the account would
                client.list_hosted_zones()

    neighbour = threading.Thread(target=other_client, daemon=True)
    strict.set_limits(ROUTE53_RATE)
    strict.reset_counters()
    if other_client_rps:
        neighbour.start()
    start = time.perf_counter()
    sync.begin_read()
    failed = 0
    while True:
        try:
            if sync.read_some():
                break
        except ProviderError:
            failed += 1  # a page kept failing: the read goes on from it after a pause
        time.sleep(sync.read_due() or 0.0)
    elapsed = time.perf_counter() - start
    stop.set()
    if other_client_rps:
        neighbour.join()
    stats = sync.take_stats()
    counters = strict.counters()
    read = sum(1 for _ in sync.view(ZONE))
    case = "beside_other_client" if other_client_rps else "alone"
    return [
        figure(f"dns.large_zone_full_read_seconds.{case}", elapsed, "s", record_sets=read,
               rate_limit_rps=ROUTE53_RATE.rate, other_client_rps=other_client_rps),
        figure(f"dns.large_zone_full_read_requests.{case}", stats.reads, "requests", record_sets=read,
               throttled_answers=counters.throttled, retries=stats.errors.get("Throttled", 0),
               pages_given_up_and_resumed=failed, other_client_rps=other_client_rps),
    ]  # fmt: skip


def publish_while_reading(strict: StrictRoute53, provider: Stamped, tries: int) -> list[dict[str, Any]]:
    """New Services, one a second, through the DNS loop while full reads of the large zone go on (a full read
    starts every 60 s here and takes most of that): trigger → the change accepted by Route53."""
    views: list[Any] = []
    loop = DNSLoop(
        Hooks(services=lambda: list(views), source_complete=lambda: True, make_provider=lambda resource: provider,
              save_replaced=lambda *a: None, report=lambda *a: None),
        owner="bench", classes=CLASSLESS, registry=CollectorRegistry(), resync_seconds=60,
    )  # fmt: skip
    resource = {"apiVersion": "dnslb.io/v1alpha1", "kind": "DNSProvider", "metadata": {"name": "route53"},
                "spec": {"type": "route53"}}  # fmt: skip
    loop.configure([DNSProvider.model_validate(resource)])
    strict.set_limits(ROUTE53_RATE)
    strict.reset_counters()
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    while loop.metrics.full_reads.labels("route53")._value.get() < 1:  # the first full read: nothing is synced before
        time.sleep(0.5)
    latencies, during_read = [], 0
    for i in range(tries):
        name = f"new{i}.{ZONE}"
        sent = time.perf_counter()
        views.append(make_service(f"new{i}", annotations={"dnslb.io/hostname": name}, ingress=(address(i),)))
        loop.trigger()
        while name not in provider.published:
            time.sleep(0.002)
        latencies.append(provider.published[name] - sent)
        if any(sent - 1.0 <= t <= provider.published[name] for t in provider.pages):
            during_read += 1
        time.sleep(max(0.0, sent + 1.0 - time.perf_counter()))
    loop.stop()
    thread.join(10)
    latencies.sort()
    counters = strict.counters()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    return [
        figure("dns.large_zone_new_service_published_p50", statistics.median(latencies) * 1000, "ms",
               record_sets=LARGE_ZONE, tries=tries, during_a_full_read=during_read, rate_limit_rps=ROUTE53_RATE.rate),
        figure("dns.large_zone_new_service_published_p99", p99 * 1000, "ms", record_sets=LARGE_ZONE, tries=tries,
               during_a_full_read=during_read, throttled_answers=counters.throttled, target_ms=2000),
    ]  # fmt: skip


def large_zone() -> list[dict[str, Any]]:
    figures = []
    with StrictRoute53(limits=ServerLimits(rate=None)) as strict:
        setup = boto3.client("route53", endpoint_url=strict.url, region_name="us-east-1",
                             aws_access_key_id="setup", aws_secret_access_key="testing")  # fmt: skip
        zone_id = setup.create_hosted_zone(Name=ZONE, CallerReference="bench-large")["HostedZone"]["Id"]
        strict.seed(zone_id, [SeedRecordSet(f"old{i}.{ZONE}.", "A", 300, (address(i),)) for i in range(LARGE_ZONE)])
        # the strict layer reads the zone once before its first change (as Route53 needs no such thing, not timed)
        setup.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {"Name": f"warm.{ZONE}.", "Type": "A", "TTL": 60,
                                                       "ResourceRecords": [{"Value": "10.255.0.1"}]}}]})  # fmt: skip
        provider = create("route53", {"endpointURL": strict.url}, MotoServer.CREDENTIALS)
        alone = full_read(strict, provider, other_client_rps=0)
        figures += alone
        figures += full_read(strict, provider, other_client_rps=2)
        per_read = alone[1]["value"]
        figures.append(figure("dns.large_zone_steady_requests_per_hour", per_read * 3600 / RESYNC_SECONDS, "requests",
                              record_sets=LARGE_ZONE, full_reads_per_hour=3600 / RESYNC_SECONDS, target_full_reads=12,
                              how="requests of one full read x full reads an hour at --resync-seconds 300; writes "
                                  "while nothing changes: dns.quiet_writes"))  # fmt: skip
        figures += publish_while_reading(strict, Stamped(provider), tries=60)
    return figures


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
    figures += large_zone()
    save("dns", figures)


if __name__ == "__main__":
    main()
