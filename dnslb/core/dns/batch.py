"""Packing changes into provider requests, within the provider's limits. Pure.

A group (a name's record sets with their ownership TXT) is never split: a record set that landed without its
ownership record would look foreign on the next read. Groups are packed first-fit-decreasing by their largest share
of any limit, which fills requests close to the limits; a group that alone exceeds them is reported, not sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, Diagnostic
from dnslb.provider import Change, Cost, Limits

CostOf = Callable[[Change], Cost]


@dataclass(frozen=True)
class Group:
    """Changes that must land in one request."""

    name: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Batch:
    groups: tuple[Group, ...]
    cost: Cost

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for g in self.groups for c in g.changes)


def group_cost(group: Group, cost: CostOf) -> Cost:
    total = Cost()
    for change in group.changes:
        total = total + cost(change)
    return total


def pack(groups: Sequence[Group], limits: Limits, cost: CostOf) -> tuple[list[Batch], list[Diagnostic]]:
    """The batches, and a Diagnostic (about the group's name; its owner is the caller's to fill in) for each group
    that alone exceeds the limits."""
    costed = [(g, group_cost(g, cost)) for g in groups]
    oversized = [
        Diagnostic(None, DNS_NOT_PUBLISHED, _over(c, limits), about=g.name) for g, c in costed if not limits.fits(c)
    ]
    fitting = [(g, c) for g, c in costed if limits.fits(c)]
    fitting.sort(key=lambda gc: (-_share(gc[1], limits), gc[0].name))
    open_batches: list[tuple[list[Group], Cost]] = []
    for group, group_total in fitting:
        for i, (members, used) in enumerate(open_batches):
            if limits.fits(used + group_total):
                members.append(group)
                open_batches[i] = (members, used + group_total)
                break
        else:
            open_batches.append(([group], group_total))
    batches = [Batch(tuple(sorted(members, key=lambda g: g.name)), used) for members, used in open_batches]
    return batches, oversized


def minimum_requests(groups: Sequence[Group], limits: Limits, cost: CostOf) -> int:
    """A lower bound on the requests any packing needs: the busiest limit's total over its size, rounded up."""
    total = Cost()
    for group in groups:
        total = total + group_cost(group, cost)
    if not groups:
        return 0
    bounds = [1]
    for used, limit in ((total.changes, limits.max_changes), (total.values, limits.max_values),
                        (total.bytes, limits.max_bytes)):  # fmt: skip
        if limit:
            bounds.append(math.ceil(used / limit))
    return max(bounds)


def _share(cost: Cost, limits: Limits) -> float:
    shares = [0.0]
    for used, limit in ((cost.changes, limits.max_changes), (cost.values, limits.max_values),
                        (cost.bytes, limits.max_bytes)):  # fmt: skip
        if limit:
            shares.append(used / limit)
    return max(shares)


def _over(cost: Cost, limits: Limits) -> str:
    parts = []
    if limits.max_changes is not None and cost.changes > limits.max_changes:
        parts.append(f"{cost.changes} changes > {limits.max_changes}")
    if limits.max_values is not None and cost.values > limits.max_values:
        parts.append(f"{cost.values} record values > {limits.max_values}")
    if limits.max_bytes is not None and cost.bytes > limits.max_bytes:
        parts.append(f"{cost.bytes} bytes > {limits.max_bytes}")
    return "exceeds one request: " + ", ".join(parts)
