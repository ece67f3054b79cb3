"""IPAM benchmark: allocation and restore speed at 10,000 Services, and memory against pool size.

Prints one JSON line per figure; never fails on time.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._report import figure, save
from dnslb.core.config import AddressPool
from dnslb.core.ipam import Allocation, Allocator
from dnslb.core.model import Port, ServiceView
from dnslb.core.objects import ObjectKey


def pool(name: str, *addresses: str) -> AddressPool:
    return AddressPool.model_validate(
        {"apiVersion": "dnslb.io/v1alpha1", "kind": "AddressPool", "metadata": {"name": name},
         "spec": {"addresses": list(addresses)}}
    )  # fmt: skip


def services(count: int, families: tuple[str, ...] = ("IPv4",)) -> list[ServiceView]:
    return [
        ServiceView(
            key=ObjectKey(f"ns{i % 50}", f"svc{i}"),
            created=f"2026-01-01T00:00:{i:08d}Z",
            type="LoadBalancer",
            ip_families=families,
            ports=(Port("TCP", 80),),
        )
        for i in range(count)
    ]


def best_of(runs: int, work: Callable[[], float]) -> tuple[float, float]:
    times = [work() for _ in range(runs)]
    return min(times), statistics.median(times)


def allocate_all(pools: list[AddressPool], views: list[ServiceView]) -> tuple[Allocator, float]:
    allocator = Allocator(pools)
    start = time.perf_counter()
    for view in views:
        result = allocator.allocate(view)
        assert isinstance(result, Allocation), result
    return allocator, time.perf_counter() - start


def peak_bytes(pools: list[AddressPool], views: list[ServiceView]) -> int:
    """Peak traced memory of building an allocator and allocating `views` (the views themselves excluded)."""
    gc.collect()
    tracemalloc.start()
    allocator, _ = allocate_all(pools, views)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del allocator
    return peak


def main() -> None:
    figures = []
    views = services(10_000)
    slash16 = [pool("p16", "10.0.0.0/16")]

    fastest, median = best_of(5, lambda: allocate_all(slash16, views)[1])
    figures.append(figure("ipam.allocate_10k_services", fastest, "s", pool="/16", median_s=median, target_s=0.5))

    allocator, _ = allocate_all(slash16, views)
    with_status = [
        ServiceView(**{**v.__dict__, "ingress_ips": tuple(str(ip) for ip in a.ips)})
        for v, a in zip(views, (allocator.allocation(v.key) for v in views), strict=True)
        if a is not None
    ]

    def restore() -> float:
        fresh = Allocator(slash16)
        start = time.perf_counter()
        conflicts = fresh.restore(with_status)
        elapsed = time.perf_counter() - start
        assert not conflicts
        return elapsed

    fastest, median = best_of(5, restore)
    figures.append(figure("ipam.restore_10k_assignments", fastest, "s", pool="/16", median_s=median, target_s=0.5))

    six = services(10_000, ("IPv6",))
    fastest, median = best_of(3, lambda: allocate_all([pool("v6", "fd00::/64")], six)[1])
    figures.append(figure("ipam.allocate_10k_services_ipv6", fastest, "s", pool="IPv6 /64", median_s=median))

    slash8_10k = peak_bytes([pool("p8", "10.0.0.0/8")], views)
    slash24_200 = peak_bytes([pool("p24", "10.0.0.0/24")], views[:200])
    slash8_200 = peak_bytes([pool("p8", "10.0.0.0/8")], views[:200])
    v6_10k = peak_bytes([pool("v6", "fd00::/64")], six)
    figures.append(figure("ipam.peak_memory", slash8_10k, "bytes", pool="/8", allocations=10_000))
    figures.append(figure("ipam.peak_memory", slash24_200, "bytes", pool="/24", allocations=200))
    figures.append(figure("ipam.peak_memory", slash8_200, "bytes", pool="/8", allocations=200))
    figures.append(figure("ipam.peak_memory", v6_10k, "bytes", pool="IPv6 /64", allocations=10_000))
    per_8, per_24 = slash8_10k / 10_000, slash24_200 / 200
    figures.append(figure("ipam.bytes_per_allocation", per_8, "bytes", pool="/8", allocations=10_000))
    figures.append(figure("ipam.bytes_per_allocation", per_24, "bytes", pool="/24", allocations=200))
    figures.append(
        figure(
            "ipam.pool_size_memory_ratio",
            per_8 / per_24,
            "ratio",
            compares="/8 with 10k vs /24 with 200, per allocation",
            target="<= 2",
        )
    )
    figures.append(
        figure(
            "ipam.pool_size_memory_ratio", slash8_200 / slash24_200, "ratio", compares="/8 vs /24, both 200 allocations"
        )
    )
    save("ipam", figures)


if __name__ == "__main__":
    main()
