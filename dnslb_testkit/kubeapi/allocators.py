"""Cluster IP and node port allocation, in order from the start of each range (real apiserver picks at
random; ordered picks keep test output stable)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SERVICE_CIDR_V4 = ipaddress.IPv4Network("10.96.0.0/12")
SERVICE_CIDR_V6 = ipaddress.IPv6Network("fd00:10:96::/112")
NODE_PORT_FIRST = 30000
NODE_PORT_LAST = 32767


class AllocationError(Exception):
    """The requested value is taken or outside the range."""


class RangeFullError(Exception):
    """Nothing is left to hand out (apiserver answers 500 for this, not 422)."""


@dataclass(frozen=True)
class _Span:
    first: int
    last: int

    def __contains__(self, value: int) -> bool:
        return self.first <= value <= self.last


class _Bitmap:
    def __init__(self, span: _Span) -> None:
        self._span = span
        self._used: set[int] = set()
        self._cursor = span.first

    def reserve(self, value: int) -> None:
        self._used.add(value)

    def in_use(self, value: int) -> bool:
        return value in self._used

    def release(self, value: int) -> None:
        self._used.discard(value)

    def next_free(self) -> int | None:
        size = self._span.last - self._span.first + 1
        if len(self._used) >= size:
            return None
        while self._cursor in self._used:
            self._cursor = self._cursor + 1 if self._cursor < self._span.last else self._span.first
        return self._cursor


class ClusterIPAllocator:
    """One family's service CIDR; the network and broadcast addresses are never handed out."""

    def __init__(self, network: IPNetwork) -> None:
        self.network = network
        first = int(network.network_address) + 1
        last = int(network.broadcast_address) - (1 if network.version == 4 else 0)
        self._bitmap = _Bitmap(_Span(first, last))
        self._span = _Span(first, last)

    @property
    def family(self) -> str:
        return "IPv4" if self.network.version == 4 else "IPv6"

    def allocate(self) -> str:
        value = self._bitmap.next_free()
        if value is None:
            raise RangeFullError(f"failed to allocate a serviceIP: range is full ({self.network})")
        self._bitmap.reserve(value)
        return str(ipaddress.ip_address(value) if self.network.version == 4 else ipaddress.IPv6Address(value))

    def reserve(self, address: str) -> None:
        parsed = ipaddress.ip_address(address)
        value = int(parsed)
        if parsed.version != self.network.version or value not in self._span:
            raise AllocationError(
                f"failed to allocate IP {address}: provided IP is not in the valid range. "
                f"The range of valid IPs is {self.network}"
            )
        if self._bitmap.in_use(value):
            raise AllocationError(f"failed to allocate IP {address}: provided IP is already allocated")
        self._bitmap.reserve(value)

    def release(self, address: str) -> None:
        self._bitmap.release(int(ipaddress.ip_address(address)))


class NodePortAllocator:
    def __init__(self, first: int = NODE_PORT_FIRST, last: int = NODE_PORT_LAST) -> None:
        self._span = _Span(first, last)
        self._bitmap = _Bitmap(self._span)

    def allocate(self) -> int:
        value = self._bitmap.next_free()
        if value is None:
            raise RangeFullError("failed to allocate a nodePort: range is full")
        self._bitmap.reserve(value)
        return value

    def reserve(self, port: int) -> None:
        if port not in self._span:
            raise AllocationError(
                f"provided port is not in the valid range. The range of valid ports is "
                f"{self._span.first}-{self._span.last}"
            )
        if self._bitmap.in_use(port):
            raise AllocationError("provided port is already allocated")
        self._bitmap.reserve(port)

    def release(self, port: int) -> None:
        self._bitmap.release(port)


class ServiceAllocations:
    """The cluster's service CIDRs and node port range, shared by every Service write."""

    def __init__(self) -> None:
        self.cluster_ips = {"IPv4": ClusterIPAllocator(SERVICE_CIDR_V4), "IPv6": ClusterIPAllocator(SERVICE_CIDR_V6)}
        self.node_ports = NodePortAllocator()


def ip_family(address: str) -> str | None:
    try:
        return "IPv4" if ipaddress.ip_address(address).version == 4 else "IPv6"
    except ValueError:
        return None
