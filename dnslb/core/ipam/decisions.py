"""The controller's VIP decisions, without I/O: Service views and config in, actions for the adapters out.

Kubernetes adapters feed this from informer caches and carry out its actions (status writes, Events); it never
talks to the API itself, so every rule here is tested with plain values.

Startup is `start(all services)`: every VIP already in a status is restored before any Service gets a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from dnslb.core import annotations as ann
from dnslb.core.config import AddressPool
from dnslb.core.diagnostics import IP_ALLOCATED, IP_CONFLICT, IP_NOT_IN_POOL, IP_RELEASED, Diagnostic, failed
from dnslb.core.ipam.allocator import Allocation, Allocator
from dnslb.core.ipam.request import CLASSLESS, ClassFilter, not_handled_because
from dnslb.core.model import ServiceView
from dnslb.core.objects import ObjectKey, service_ref


@dataclass(frozen=True)
class WriteStatus:
    """Set status.loadBalancer.ingress to `ips` (ipMode VIP) and the pool annotation to `pool`."""

    service: ObjectKey
    ips: tuple[str, ...]
    pool: str | None


@dataclass(frozen=True)
class ClearStatus:
    """Remove our VIPs from a Service that is no longer ours (type or class changed)."""

    service: ObjectKey


Action = WriteStatus | ClearStatus | Diagnostic  # a Diagnostic becomes an Event on its Service


class VIPDecisions:
    def __init__(
        self,
        pools: Iterable[AddressPool],
        classes: ClassFilter = CLASSLESS,
        lookup: Callable[[ObjectKey], ServiceView | None] = lambda key: None,
        namespace_labels: Callable[[str], Mapping[str, str]] = lambda namespace: {},
    ) -> None:
        self._pools = tuple(pools)
        self._class = classes
        self._lookup = lookup
        self._namespace_labels = namespace_labels
        self._allocator = Allocator(self._pools, namespace_labels)
        self._refusals: dict[ObjectKey, Diagnostic] = {}

    @property
    def allocator(self) -> Allocator:
        return self._allocator

    def refusal(self, key: ObjectKey) -> Diagnostic | None:
        """Why the Service has no VIP, or not the one it asks for, as last decided."""
        return self._refusals.get(key)

    def start(self, services: Iterable[ServiceView]) -> list[Action]:
        """Restore every VIP in status, then decide for every Service. Call once, with the whole synced cache."""
        services = list(services)
        ours = [s for s in services if not_handled_because(s, self._class) is None]
        # Conflicts among restored VIPs surface below, as the loser's refusal; only strays are reported here.
        actions: list[Action] = [d for d in self._allocator.restore(ours) if d.reason == IP_NOT_IN_POOL]
        for service in sorted(services, key=lambda s: s.order):
            actions += self.service_changed(service)
        return actions

    def service_changed(self, service: ServiceView) -> list[Action]:
        try:  # a bug meeting one Service must cost that Service, not the pass over all of them
            return self._service_changed(service)
        except Exception as exc:
            return [failed(service_ref(service.key), exc)]

    def _service_changed(self, service: ServiceView) -> list[Action]:
        key = service.key
        if not_handled_because(service, self._class) is not None:
            released = self._allocator.release(key)
            self._refusals.pop(key, None)
            if released is None:
                return []
            message = f"released {_ips(released)}: no longer ours"
            actions: list[Action] = [Diagnostic(service_ref(key), IP_RELEASED, message, severity="Normal")]
            ours = {str(ip) for ip in released.ips}
            if ours & set(service.ingress_ips):
                actions.append(ClearStatus(key))
            return actions + self._retry_conflicted()
        before = self._allocator.allocation(key)
        result = self._allocator.allocate(service)
        if isinstance(result, Diagnostic):
            return self._refused(service, result)
        self._refusals.pop(key, None)
        actions = []
        if result != before:
            message = f"assigned {_ips(result)} from pool {result.pool}"
            actions.append(Diagnostic(service_ref(key), IP_ALLOCATED, message, severity="Normal"))
        if _status_of(service) != _desired(result):
            actions.append(WriteStatus(key, *_desired(result)))
        if before is not None and result != before:
            actions += self._retry_conflicted()
        return actions

    def service_deleted(self, key: ObjectKey) -> list[Action]:
        self._refusals.pop(key, None)
        if self._allocator.release(key) is None:
            return []
        return self._retry_conflicted()

    def pools_changed(self, pools: Iterable[AddressPool], services: Iterable[ServiceView]) -> list[Action]:
        """A valid new pool set: rebuild, restoring what is held now (not the cache, which may lag our writes)."""
        held = {a.service: a for a in self._allocator.allocations()}
        self._pools = tuple(pools)
        self._allocator = Allocator(self._pools, self._namespace_labels)
        views = [replace(s, ingress_ips=_desired(held[s.key])[0]) if s.key in held else s for s in services]
        self._refusals.clear()
        return self.start(views)

    def _refused(self, service: ServiceView, refusal: Diagnostic) -> list[Action]:
        kept = self._allocator.allocation(service.key)
        if kept is not None:
            refusal = replace(refusal, message=f"{refusal.message}; keeps {_ips(kept)}")
        if service.key in self._allocator.conflicted():
            refusal = replace(refusal, reason=IP_CONFLICT)
        if self._refusals.get(service.key) == refusal:
            return []
        self._refusals[service.key] = refusal
        return [refusal]

    def _retry_conflicted(self) -> list[Action]:
        actions: list[Action] = []
        for key in self._allocator.conflicted():
            view = self._lookup(key)
            if view is not None:
                actions += self.service_changed(view)
        return actions


def _ips(allocation: Allocation) -> str:
    return ", ".join(str(ip) for ip in allocation.ips)


def _desired(allocation: Allocation) -> tuple[tuple[str, ...], str | None]:
    return tuple(str(ip) for ip in allocation.ips), allocation.pool


def _status_of(service: ServiceView) -> tuple[tuple[str, ...], str | None]:
    return service.ingress_ips, service.annotations.get(ann.ALLOCATED_FROM_POOL)
