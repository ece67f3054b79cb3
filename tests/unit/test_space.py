"""FreeSpace against a plain set of free integers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dnslb.core.ipam.space import FreeSpace, is_buggy_ipv4

operations = st.lists(st.tuples(st.sampled_from(["take", "give"]), st.integers(0, 600)), max_size=200)


@given(operations, st.booleans())
def test_matches_a_set(ops: list[tuple[str, int]], avoid: bool) -> None:
    intervals = [(0, 99), (100, 255), (300, 511)]
    space = FreeSpace(intervals)
    free = {v for first, last in intervals for v in range(first, last + 1)}
    domain = set(free)
    for op, value in ops:
        if op == "take":
            assert space.take(value) == (value in free)
            free.discard(value)
        elif value in domain and value not in free:
            space.give(value)
            free.add(value)
        assert space.free == len(free)
        acceptable = sorted(v for v in free if not (avoid and is_buggy_ipv4(v)))
        assert space.lowest(avoid) == (acceptable[0] if acceptable else None)
        assert all((v in space) == (v in free) for v in (value, value + 1, value - 1))


def test_a_huge_space_is_two_numbers() -> None:
    space = FreeSpace([(0, 2**64 - 1)])
    assert space.free == 2**64 and space.lowest() == 0
    assert space.take(2**63) and space.free == 2**64 - 1
