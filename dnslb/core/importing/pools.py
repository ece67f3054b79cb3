"""IPAddressPool → AddressPool, keeping MetalLB's rules as its allocator and config code have them:
- Pool choice: the pools with a `serviceAllocation` that fits the Service come first, lowest `priority` first, those
  without a priority (0) after those with one; only then the auto-assign pools without a serviceAllocation, as
  dnslb orders them too (a pool with a serviceAllocation but no priority is still given one just above the highest
  given, so the order reads plainly in the output).
- An address: the first free address of the first listed range, in MetalLB and dnslb alike.
- A CIDR with host bits (`198.51.100.10/24`) is its whole network, as Go's ParseCIDR reads it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dnslb.core.grammar import parse_ip, show, trim
from dnslb.core.importing.fields import (
    Collector,
    Source,
    empty,
    leftovers,
    read_bool,
    read_int,
    read_labels,
    read_mapping,
    read_spec,
    read_texts,
)
from dnslb.core.importing.results import Body, Note
from dnslb.core.manifests import Document


@dataclass(frozen=True)
class Pool:
    source: Source
    labels: Mapping[str, str]
    addresses: tuple[str, ...]
    families: frozenset[int]
    auto_assign: bool
    avoid_buggy: bool
    allocation: Mapping[str, Any] | None  # the serviceAllocation, less its priority
    priority: int  # MetalLB's: 0 is none

    @property
    def name(self) -> str:
        return self.source.name


_POOL_FIELDS = ("addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation")
_ALLOCATION_FIELDS = ("namespaces", "namespaceSelectors", "serviceSelectors")
_CIDR = re.compile(r"[0-9A-Fa-f:.]{2,45}/[0-9]{1,3}")


def read_pools(documents: Sequence[Document], out: Collector) -> dict[str, Pool]:
    pools: dict[str, Pool] = {}

    def read(document: Document) -> None:
        pool, notes = _read_pool(Source.of(document), document.body)
        pools[pool.name] = pool
        out.notes += notes

    out.each(documents, read)
    priorities = _priorities(pools.values())
    for pool in pools.values():
        out.add(pool.source, "AddressPool", _pool_spec(pool, priorities[pool.name]), pool.labels)
    out.notes += _tie_notes(pools.values(), priorities)
    return pools


def _read_pool(source: Source, body: Body) -> tuple[Pool, list[Note]]:
    spec = read_spec(source, body)
    texts = read_texts(source, spec, "addresses", "spec.addresses")
    entries = [_address(source, i, text) for i, text in enumerate(texts)]
    allocation, priority, notes = _allocation(source, spec)
    pool = Pool(
        source,
        read_labels(source, body),
        tuple(text for text, _, _ in entries),
        frozenset(version for _, version, _ in entries),
        read_bool(source, spec, "autoAssign", "spec.autoAssign", True),
        read_bool(source, spec, "avoidBuggyIPs", "spec.avoidBuggyIPs", False),
        allocation,
        priority,
    )
    return pool, [*notes, *leftovers(source, spec, _POOL_FIELDS, {})]


def _address(source: Source, index: int, text: str) -> tuple[str, int, int]:
    """(the entry as dnslb writes it, IP version, first address) of one MetalLB address entry."""
    path, entry = f"spec.addresses[{index}]", trim(text)
    if "-" in entry:
        first_text, _, last_text = entry.partition("-")
        try:
            first, last = parse_ip(trim(first_text)), parse_ip(trim(last_text))
        except ValueError as exc:
            raise source.invalid(path, f"{show(text)} is not a range: {exc}") from None
        return f"{first}-{last}", first.version, int(first)
    try:
        if not _CIDR.fullmatch(entry):
            raise ValueError(entry)
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise source.invalid(path, f"{show(text)} is neither a CIDR nor a FIRST-LAST range") from None
    return str(network), network.version, int(network.network_address)


def _allocation(source: Source, spec: Body) -> tuple[dict[str, Any] | None, int, list[Note]]:
    if spec.get("serviceAllocation") is None:
        return None, 0, []
    allocation = read_mapping(source, spec, "serviceAllocation", "spec.serviceAllocation")
    priority = read_int(source, allocation, "priority", "spec.serviceAllocation.priority")
    kept = {k: allocation[k] for k in _ALLOCATION_FIELDS if not empty(allocation.get(k))}
    notes = [
        source.note(f"spec.serviceAllocation.{key}: not a field dnslb import knows; left out")
        for key, value in allocation.items()
        if key not in (*_ALLOCATION_FIELDS, "priority") and not empty(value)
    ]
    return kept, priority, notes


def _priorities(pools: Iterable[Pool]) -> dict[str, int | None]:
    """dnslb priorities that try pools in MetalLB's order (see the module docstring)."""
    pools = list(pools)
    highest = max((p.priority for p in pools if p.allocation is not None), default=0)
    return {p.name: (p.priority or highest + 1) if p.allocation is not None else None for p in pools}


def _tie_notes(pools: Iterable[Pool], priorities: Mapping[str, int | None]) -> list[Note]:
    ranks: dict[int | None, list[Pool]] = {}
    for pool in pools:
        if pool.auto_assign:
            ranks.setdefault(priorities[pool.name], []).append(pool)
    notes = []
    for rank, tied in ranks.items():
        if len(tied) > 1:
            names = sorted(p.name for p in tied)
            which = f"of priority {rank}" if rank is not None else "without a serviceAllocation"
            notes.append(
                tied[0].source.note(
                    f"pools {', '.join(names)} ({which}): MetalLB picks among them in no fixed order, dnslb by name "
                    f"({names[0]} first); give them distinct serviceAllocation priorities to choose"
                )
            )
    return notes


def _pool_spec(pool: Pool, priority: int | None) -> Body:
    spec: Body = {"addresses": list(pool.addresses)}
    if not pool.auto_assign:
        spec["autoAssign"] = False
    if pool.avoid_buggy:
        spec["avoidBuggyIPs"] = True
    if pool.allocation is not None:
        spec["serviceAllocation"] = {"priority": priority, **pool.allocation}
    return spec
