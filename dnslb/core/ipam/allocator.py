"""The allocator: which VIPs each Service holds. Pure: no Kubernetes, no I/O, plain values in and out.

Rules, in the order they bite:
- `restore` loads the assignments already in Service status before anything new is allocated; a restored IP that
  another Service already holds is reported (IPConflict) and never moved; one in no pool is kept and reported
  (IPNotInPool).
- A Service keeps its VIP for life unless its own spec asks for something else (requested IPs, pool, sharing).
- Bad input yields a Diagnostic (AllocationFailed) and leaves what the Service already holds untouched; only
  `release` takes IPs away.
- New addresses, as MetalLB chooses them: the first eligible pool, those whose `serviceAllocation` admits the Service
  first (by priority, lower first; without a priority after those with one; then by name), then the auto-assign pools
  without a serviceAllocation (by name); a pool with a serviceAllocation serves no Service it does not admit, not even
  one that names it or asks for one of its addresses. Inside the pool, the first free address in the order
  `spec.addresses` lists them (an entry from its first address on), skipping .0 and .255 where `avoidBuggyIPs` says.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from dnslb.core.config.addresses import address
from dnslb.core.config.resources import AddressPool, any_selector_matches
from dnslb.core.diagnostics import ALLOCATION_FAILED, IP_CONFLICT, IP_NOT_IN_POOL, Diagnostic, failed
from dnslb.core.grammar import IPAddress, parse_ip
from dnslb.core.ipam.request import FAMILY_NAME, Request, request_for
from dnslb.core.ipam.space import FreeSpace, is_buggy_ipv4
from dnslb.core.model import ServiceView
from dnslb.core.objects import ObjectKey, service_ref


@dataclass(frozen=True)
class Allocation:
    service: ObjectKey
    pool: str | None
    ips: tuple[IPAddress, ...]


@dataclass(frozen=True)
class PoolUsage:
    pool: str
    family: str
    size: int
    in_use: int


class _Pool:
    __slots__ = ("avoid_buggy", "free", "full", "listed", "resource", "size")

    def __init__(self, resource: AddressPool) -> None:
        self.resource = resource
        self.avoid_buggy = resource.spec.avoid_buggy_ips
        ranges = resource.spec.ranges()
        self.listed = {v: tuple((r.first, r.last) for r in ranges if r.version == v) for v in (4, 6)}  # spec order
        self.free = {v: FreeSpace(self.listed[v]) for v in (4, 6)}
        self.full = {4: 0, 6: 0}  # how many listed entries, from the first, are known to have nothing to hand out
        self.size = {v: sum(r.size for r in ranges if r.version == v) for v in (4, 6)}

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def order(self) -> tuple[bool, bool, int, str]:
        """Pools with a serviceAllocation first, by priority (none: after those with one), then the rest; then name."""
        allocation = self.resource.spec.service_allocation
        priority = allocation.priority if allocation else None
        return (allocation is None, priority is None, priority or 0, self.name)

    def first_free(self, family: int) -> IPAddress | None:
        """The first free address in the order `spec.addresses` lists them."""
        avoid = self.avoid_buggy and family == 4
        listed = self.listed[family]
        for i in range(self.full[family], len(listed)):
            value = self.free[family].first_in(*listed[i], avoid)
            if value is not None:
                return address(family, value)
            self.full[family] = i + 1
        return None

    def take(self, ip: IPAddress) -> None:
        self.free[ip.version].take(int(ip))

    def give(self, ip: IPAddress) -> None:
        self.free[ip.version].give(int(ip))
        self.full[ip.version] = min(self.full[ip.version], self.rank(ip)[0])

    def rank(self, ip: IPAddress) -> tuple[int, int]:
        """Where `ip` comes in this pool's listing order."""
        value = int(ip)
        listed = self.listed[ip.version]
        return next((i for i, (first, last) in enumerate(listed) if first <= value <= last), len(listed)), value


class Allocator:
    def __init__(
        self,
        pools: Iterable[AddressPool],
        namespace_labels: Callable[[str], Mapping[str, str]] = lambda namespace: {},
    ) -> None:
        self._pools = {p.name: _Pool(p) for p in pools}
        self._ordered = sorted(self._pools.values(), key=lambda p: p.order)
        self._ranges = sorted(
            (r.version, r.first, r.last, p.name) for p in self._pools.values() for r in p.resource.spec.ranges()
        )
        self._range_starts = [(v, first) for v, first, _, _ in self._ranges]
        self._namespace_labels = namespace_labels
        self._allocations: dict[ObjectKey, Allocation] = {}
        self._granted: dict[ObjectKey, Request] = {}  # the request each allocation was granted for
        self._holders: dict[IPAddress, dict[ObjectKey, Request]] = {}
        self._by_sharing_key: dict[str, set[IPAddress]] = {}
        self._conflicted: dict[ObjectKey, tuple[IPAddress, ...]] = {}

    # -- reading --------------------------------------------------------------------------------------------

    def allocation(self, service: ObjectKey) -> Allocation | None:
        return self._allocations.get(service)

    def allocations(self) -> Iterator[Allocation]:
        return iter(self._allocations.values())

    def conflicted(self) -> tuple[ObjectKey, ...]:
        """Services whose restored IPs another Service holds; worth another `allocate` after any release."""
        return tuple(sorted(self._conflicted))

    def pool_of(self, ip: IPAddress) -> str | None:
        i = bisect_right(self._range_starts, (ip.version, int(ip))) - 1
        if i >= 0:
            version, _, last, name = self._ranges[i]
            if version == ip.version and int(ip) <= last:
                return name
        return None

    def usage(self) -> list[PoolUsage]:
        return [
            PoolUsage(p.name, FAMILY_NAME[v], p.size[v], p.size[v] - p.free[v].free)
            for p in self._ordered
            for v in (4, 6)
            if p.size[v]
        ]

    # -- changing -------------------------------------------------------------------------------------------

    def restore(self, services: Iterable[ServiceView]) -> list[Diagnostic]:
        """Take the VIPs these Services already hold (from their status), earlier-created first."""
        conflicts: list[Diagnostic] = []
        for service in sorted(services, key=lambda s: s.order):
            try:  # one Service's status that cannot be taken must not keep the others from theirs
                conflicts += self._restore(service)
            except Exception as exc:
                conflicts.append(failed(service_ref(service.key), exc))
        return conflicts

    def _restore(self, service: ServiceView) -> list[Diagnostic]:
        ips = _parse_ips(service.ingress_ips)
        if not ips or service.key in self._allocations:
            return []
        request = request_for(service)
        blocked = []
        for ip in ips:
            reason, _ = self._sharing_blocked(ip, request)
            if reason is not None:
                blocked.append(Diagnostic(service_ref(service.key), IP_CONFLICT, reason))
        if blocked:
            self._conflicted[service.key] = ips
            return blocked
        self._hold(Allocation(service.key, self.pool_of(ips[0]), ips), request)
        return [
            Diagnostic(service_ref(service.key), IP_NOT_IN_POOL, f"{ip} is in no AddressPool; the Service keeps it")
            for ip in ips
            if self.pool_of(ip) is None
        ]

    def allocate(self, service: ServiceView) -> Allocation | Diagnostic:
        """The Service's VIPs: what it holds when that still fits its spec, else a new assignment, else why not."""
        request = request_for(service)
        key = service.key
        if request.problems:
            return request.problems[0]
        if key in self._conflicted:
            return self._retry_conflicted(request)
        if request.pool is not None and request.pool not in self._pools:
            return _refused(key, f"no AddressPool '{request.pool}'", request.pool_field)
        current = self._allocations.get(key)
        if current is not None and self._still_fits(current, request):
            self._hold(current, request)
            return current
        granted = self._granted.get(key)
        if current is not None:
            self._drop(current)
        result = self._assign_requested(request) if request.requested else self._assign_any(request)
        if isinstance(result, Allocation):
            self._hold(result, request)
        elif current is not None and granted is not None:
            # Keep what it held, on the terms it was granted: sharing checks must not see the refused spec.
            self._hold(current, granted)
        return result

    def release(self, service: ObjectKey) -> Allocation | None:
        self._conflicted.pop(service, None)
        current = self._allocations.get(service)
        if current is not None:
            self._drop(current)
        return current

    # -- internals ------------------------------------------------------------------------------------------

    def _hold(self, allocation: Allocation, request: Request) -> None:
        key = allocation.service
        self._allocations[key] = allocation
        self._granted[key] = request
        for ip in allocation.ips:
            holders = self._holders.setdefault(ip, {})
            if not holders:
                pool = self.pool_of(ip)
                if pool is not None:
                    self._pools[pool].take(ip)
            previous = holders.get(key)
            if previous is not None and previous.sharing_key and previous.sharing_key != request.sharing_key:
                self._by_sharing_key[previous.sharing_key].discard(ip)
            holders[key] = request
            if request.sharing_key:
                self._by_sharing_key.setdefault(request.sharing_key, set()).add(ip)

    def _drop(self, allocation: Allocation) -> None:
        key = allocation.service
        del self._allocations[key]
        del self._granted[key]
        for ip in allocation.ips:
            holders = self._holders[ip]
            request = holders.pop(key)
            if request.sharing_key and not any(r.sharing_key == request.sharing_key for r in holders.values()):
                self._by_sharing_key[request.sharing_key].discard(ip)
            if not holders:
                del self._holders[ip]
                pool = self.pool_of(ip)
                if pool is not None:
                    self._pools[pool].give(ip)

    def _sharing_blocked(self, ip: IPAddress, request: Request) -> tuple[str | None, ObjectKey | None]:
        """(why `request` may not use `ip` alongside its current holders, which holder) or (None, None)."""
        for holder, other in sorted(self._holders.get(ip, {}).items()):
            if holder == request.key:
                continue
            if not request.sharing_key or request.sharing_key != other.sharing_key:
                return f"{ip} is in use by {holder}, and they have no common allow-shared-ip key", holder
            if request.backend != other.backend:
                why = "selects other pods" if request.backend and other.backend else "differs in externalTrafficPolicy"
                return f"{ip} is shared with {holder}, which {why} (Local traffic needs the same pods)", holder
            overlap = request.ports & other.ports
            if overlap:
                ports = ", ".join(str(p) for p in sorted(overlap))
                return f"{ip} is shared with {holder}, which also uses port {ports}", holder
        return None, None

    def _still_fits(self, current: Allocation, request: Request) -> bool:
        if request.requested and set(request.requested) != set(current.ips):
            return False
        if request.pool is not None and request.pool != current.pool:
            return False
        families = sorted(ip.version for ip in current.ips)
        if request.policy == "PreferDualStack":
            if not families or not set(families) <= set(request.families):
                return False
        elif families != sorted(request.families):
            return False
        return all(self._sharing_blocked(ip, request)[0] is None for ip in current.ips)

    def _retry_conflicted(self, request: Request) -> Allocation | Diagnostic:
        ips = self._conflicted[request.key]
        for ip in ips:
            reason, _ = self._sharing_blocked(ip, request)
            if reason is not None:
                return _refused(request.key, f"IP conflict: {reason}; it stays with the earlier Service")
        del self._conflicted[request.key]
        allocation = Allocation(request.key, self.pool_of(ips[0]), ips)
        self._hold(allocation, request)
        return allocation

    def _eligibility(self, pool: _Pool, request: Request) -> str | None:
        """Why `pool` may not serve this Service, or None."""
        allocation = pool.resource.spec.service_allocation
        if allocation is not None:
            namespace = request.key.namespace
            if allocation.namespaces or allocation.namespace_selectors:
                labels = self._namespace_labels(namespace)
                by_selector = any(s.matches(labels) for s in allocation.namespace_selectors)
                if namespace not in allocation.namespaces and not by_selector:
                    return f"namespace {namespace} is not allowed"
            if not any_selector_matches(allocation.service_selectors, request.labels):
                return "the Service's labels match none of its serviceSelectors"
        return None

    def _assign_requested(self, request: Request) -> Allocation | Diagnostic:
        key, field = request.key, request.requested_field
        pools = []
        for ip in request.requested:
            name = self.pool_of(ip)
            if name is None:
                return _refused(key, f"{ip} is in no AddressPool", field)
            pools.append(name)
        if len(set(pools)) > 1:
            return _refused(key, f"the requested IPs lie in different pools ({', '.join(pools)})", field)
        pool = self._pools[pools[0]]
        if request.pool is not None and request.pool != pool.name:
            return _refused(key, f"{request.requested[0]} is in pool {pool.name}, not in {request.pool}", field)
        why = self._eligibility(pool, request)
        if why is not None:
            return _refused(key, f"pool {pool.name} refuses this Service: {why}", field)
        for ip in request.requested:
            if pool.avoid_buggy and ip.version == 4 and is_buggy_ipv4(int(ip)):
                return _refused(key, f"{ip} ends in .0 or .255, which pool {pool.name} avoids", field)
            reason, _ = self._sharing_blocked(ip, request)
            if reason is not None:
                return _refused(key, reason, field)
        return Allocation(key, pool.name, request.requested)

    def _assign_any(self, request: Request) -> Allocation | Diagnostic:
        if not self._pools:
            return _refused(request.key, "no AddressPool is configured")
        if request.pool is not None:
            why = self._eligibility(self._pools[request.pool], request)
            if why is not None:
                return _refused(request.key, f"pool {request.pool} refuses this Service: {why}", request.pool_field)
        unsuitable: list[str] = []
        partial: Allocation | None = None
        partial_admitted = False  # `partial` is from a pool whose serviceAllocation admits the Service
        for pool in self._ordered:
            if request.pool is not None and pool.name != request.pool:
                continue
            restricted = pool.resource.spec.service_allocation is not None
            if partial_admitted and not restricted:
                break  # as MetalLB: one family from a pool that admits the Service beats both from an open one
            why = self._eligibility(pool, request)
            if why is None and request.pool is None and not pool.resource.spec.auto_assign:
                why = "autoAssign is off"
            if why is not None:
                unsuitable.append(f"{pool.name}: {why}")
                continue
            picks = [ip for ip in (self._pick(pool, f, request) for f in request.families) if ip is not None]
            if len(picks) == len(request.families):
                return Allocation(request.key, pool.name, tuple(picks))
            # PreferDualStack with one family: the first pool with the Service's first family, else the first with
            # the other (MetalLB's choice)
            if (
                picks
                and request.policy == "PreferDualStack"
                and (partial is None or partial.ips[0].version != request.families[0] == picks[0].version)
            ):
                partial, partial_admitted = Allocation(request.key, pool.name, tuple(picks)), restricted
            missing = [FAMILY_NAME[f] for f in request.families if all(ip.version != f for ip in picks)]
            unsuitable.append(f"{pool.name}: no free {' or '.join(missing)} address")
        if partial is not None:
            return partial
        field = request.pool_field if request.pool is not None else None
        return _refused(request.key, "no pool can serve it (" + "; ".join(unsuitable) + ")", field)

    def _pick(self, pool: _Pool, family: int, request: Request) -> IPAddress | None:
        """The first address in listing order that is free or that this Service may share, as MetalLB picks."""
        free = pool.first_free(family)
        if request.sharing_key:
            shared = sorted(
                (
                    ip
                    for ip in self._by_sharing_key.get(request.sharing_key, ())
                    if ip.version == family
                    and self.pool_of(ip) == pool.name
                    and not (pool.avoid_buggy and family == 4 and is_buggy_ipv4(int(ip)))
                ),
                key=pool.rank,
            )
            for ip in shared:
                if free is not None and pool.rank(free) < pool.rank(ip):
                    break
                if self._sharing_blocked(ip, request)[0] is None:
                    return ip
        return free


def _parse_ips(texts: tuple[str, ...]) -> tuple[IPAddress, ...]:
    ips: list[IPAddress] = []
    for text in texts:
        try:
            ip = parse_ip(text)
        except ValueError:
            continue
        if ip not in ips:
            ips.append(ip)
    return tuple(ips)


def _refused(service: ObjectKey, message: str, field: str | None = None) -> Diagnostic:
    return Diagnostic(service_ref(service), ALLOCATION_FAILED, message, field=field or "")
