"""Controller benchmark against the API double (both in their own processes, driven over HTTP).

Figures: initial allocation of 10,000 Services; with those allocated, create-to-status latency of one new Service
(200 tries); a burst of 1,000; controller RSS; API writes per Service; restart with all of them until /readyz.
Prints one JSON line per figure; never fails on time.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import kubernetes.client as k8s
from kubernetes.watch.watch import iter_resp_lines

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._report import figure, save
from dnslb_testkit.kubeapi import KubeAPIProcess
from dnslb_testkit.waiting import wait_for
from tests.controller.harness import ControllerProcess, apply_pool, ensure_namespace, service_body

EXISTING = 10_000
TRIES = 200
BURST = 1_000


class StatusWatch:
    """Records when each Service first shows a VIP in its status, from a watch of its own."""

    def __init__(self, core: k8s.CoreV1Api) -> None:
        self.seen: dict[str, float] = {}
        self.changed = threading.Condition()
        self._core = core
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._follow()
        except Exception:  # the API double is gone: the benchmark is over
            return

    def _follow(self) -> None:
        version = self._core.list_namespaced_service("bench", limit=1).metadata.resource_version
        while not self._stop:
            response = self._core.list_namespaced_service(
                "bench", watch=True, resource_version=version, timeout_seconds=30, _preload_content=False
            )
            for line in iter_resp_lines(response):
                if not line:
                    continue
                event = json.loads(line)
                obj = event["object"]
                version = obj["metadata"].get("resourceVersion", version)
                ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
                name = obj["metadata"].get("name")
                if ingress and name not in self.seen:
                    with self.changed:
                        self.seen[name] = time.perf_counter()
                        self.changed.notify_all()

    def wait(self, name: str, timeout: float = 10.0) -> float:
        with self.changed:
            self.changed.wait_for(lambda: name in self.seen, timeout)
            return self.seen[name]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def create_many(core: k8s.CoreV1Api, prefix: str, count: int) -> None:
    def worker(start: int) -> None:
        for i in range(start, count, 4):
            core.create_namespaced_service("bench", service_body(f"{prefix}-{i}", allocateLoadBalancerNodePorts=False))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def count_allocated(core: k8s.CoreV1Api) -> int:
    total, token = 0, None
    while True:
        page: Any = core.list_namespaced_service("bench", limit=2000, _continue=token)
        total += sum(1 for s in page.items if s.status.load_balancer and s.status.load_balancer.ingress)
        token = page.metadata._continue
        if not token:
            return total


def main() -> None:
    figures = []
    with KubeAPIProcess(history_limit=100_000) as api, TemporaryDirectory() as logs:
        client = api.api_client()
        client.configuration.connection_pool_maxsize = 8
        core, custom = k8s.CoreV1Api(client), k8s.CustomObjectsApi(client)
        ensure_namespace(core, "dnslb-system")
        ensure_namespace(core, "bench")
        apply_pool(custom, "bench", "10.0.0.0/16")
        create_many(core, "existing", EXISTING)
        api.reset_request_counts()
        controller = ControllerProcess(("--api-server", api.url), Path(logs), "--log-level", "warning")
        start = time.perf_counter()
        controller.wait_ready(120)
        wait_for(lambda: count_allocated(core) == EXISTING, 300, "10,000 VIPs", interval=0.5)
        figures.append(figure("controller.allocate_existing", time.perf_counter() - start, "s", services=EXISTING))

        watch = StatusWatch(core)
        time.sleep(1)
        latencies = []
        for i in range(TRIES):
            sent = time.perf_counter()
            core.create_namespaced_service("bench", service_body(f"one-{i}", allocateLoadBalancerNodePorts=False))
            latencies.append(watch.wait(f"one-{i}") - sent)
        latencies.sort()
        p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
        figures.append(figure("controller.create_to_status_p50", p50 * 1000, "ms", existing=EXISTING, tries=TRIES))
        figures.append(
            figure("controller.create_to_status_p99", p99 * 1000, "ms", existing=EXISTING, tries=TRIES, target_ms=50)
        )

        start = time.perf_counter()
        create_many(core, "burst", BURST)
        created = time.perf_counter() - start
        for i in range(BURST):
            watch.wait(f"burst-{i}", 60)
        last = max(watch.seen[f"burst-{i}"] for i in range(BURST))
        figures.append(
            figure("controller.burst_to_status", last - start, "s", burst=BURST, creating_took_s=round(created, 3),
                   target_s=5)
        )  # fmt: skip

        total = EXISTING + TRIES + BURST
        figures.append(figure("controller.rss", rss_mb(controller.pid), "MB", services=total, target_mb=150))
        writes = api.count_requests("services/status", "patch", "update") + api.count_requests(
            "services", "patch", "update"
        )
        figures.append(figure("controller.api_writes_per_service", writes / total, "writes", services=total,
                              target=1.1, events_created=api.count_requests("events", "create")))  # fmt: skip

        controller.kill()
        restarted = ControllerProcess(("--api-server", api.url), Path(logs), "--log-level", "warning", name="restart")
        start = time.perf_counter()
        restarted.wait_ready(120)
        figures.append(figure("controller.restart_to_ready", time.perf_counter() - start, "s", services=total,
                              target_s=10))  # fmt: skip
        restarted.stop()
        client.close()
    save("controller", figures)


if __name__ == "__main__":
    main()
