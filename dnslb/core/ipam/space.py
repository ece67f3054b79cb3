"""Free addresses of one family in one pool."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable


class FreeSpace:
    """Free addresses as sorted, disjoint, non-adjacent inclusive intervals of integers.

    Memory grows with fragmentation (at most one interval per address taken), never with the size of the space,
    so an IPv4 /8 or an IPv6 /64 costs two intervals until it is used.
    """

    __slots__ = ("_ends", "_starts", "free")

    def __init__(self, intervals: Iterable[tuple[int, int]]) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self.free = 0
        for first, last in sorted(intervals):
            if self._ends and first <= self._ends[-1] + 1:
                self.free += max(0, last - self._ends[-1])
                self._ends[-1] = max(self._ends[-1], last)
            else:
                self._starts.append(first)
                self._ends.append(last)
                self.free += last - first + 1

    def __contains__(self, value: int) -> bool:
        i = bisect_right(self._starts, value) - 1
        return i >= 0 and value <= self._ends[i]

    def lowest(self, avoid_buggy_ipv4: bool = False) -> int | None:
        """The lowest free value; with `avoid_buggy_ipv4`, never one whose last byte is 0 or 255."""
        for first, last in zip(self._starts, self._ends, strict=True):
            candidate = _skip_buggy(first) if avoid_buggy_ipv4 else first
            if candidate <= last:
                return candidate
        return None

    def first_in(self, first: int, last: int, avoid_buggy_ipv4: bool = False) -> int | None:
        """The lowest free value in [first, last]; with `avoid_buggy_ipv4`, never one whose last byte is 0 or 255.

        One bisection; the walk after it passes only intervals that end before `first` or hold nothing but buggy
        addresses, so a full range costs a lookup, however much of the space is taken."""
        i = max(bisect_right(self._starts, first) - 1, 0)
        while i < len(self._starts) and self._starts[i] <= last:
            candidate = max(self._starts[i], first)
            if avoid_buggy_ipv4:
                candidate = _skip_buggy(candidate)
            if candidate <= min(self._ends[i], last):
                return candidate
            i += 1
        return None

    def take(self, value: int) -> bool:
        """Mark `value` used; False when it was not free."""
        i = bisect_right(self._starts, value) - 1
        if i < 0 or value > self._ends[i]:
            return False
        first, last = self._starts[i], self._ends[i]
        if first == last:
            del self._starts[i], self._ends[i]
        elif value == first:
            self._starts[i] = value + 1
        elif value == last:
            self._ends[i] = value - 1
        else:
            self._ends[i] = value - 1
            self._starts.insert(i + 1, value + 1)
            self._ends.insert(i + 1, last)
        self.free -= 1
        return True

    def give(self, value: int) -> None:
        """Mark `value` free again; it must lie in the space and be taken."""
        i = bisect_right(self._starts, value)
        if i > 0 and value <= self._ends[i - 1]:
            raise ValueError(f"{value} is already free")
        joins_left = i > 0 and self._ends[i - 1] == value - 1
        joins_right = i < len(self._starts) and self._starts[i] == value + 1
        if joins_left and joins_right:
            self._ends[i - 1] = self._ends[i]
            del self._starts[i], self._ends[i]
        elif joins_left:
            self._ends[i - 1] = value
        elif joins_right:
            self._starts[i] = value
        else:
            self._starts.insert(i, value)
            self._ends.insert(i, value)
        self.free += 1


def is_buggy_ipv4(value: int) -> bool:
    """Addresses ending in .0 or .255, which some old firmware drops as network or broadcast addresses."""
    return value & 0xFF in (0, 0xFF)


def _skip_buggy(value: int) -> int:
    low = value & 0xFF
    return value + 1 if low == 0 else value + 2 if low == 0xFF else value
