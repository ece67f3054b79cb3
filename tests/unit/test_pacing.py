"""The pacer in front of a provider account: below the provider's rate, writes ahead of reads, held when throttled."""

from __future__ import annotations

import pytest

from dnslb.adapters.dnssync.pacing import HEADROOM, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def paced(rate: float | None) -> tuple[Pacer, Clock]:
    clock = Clock()
    return Pacer(rate, clock=clock, sleep=clock.sleep), clock


def sent_at(pacer: Pacer, clock: Clock, count: int, *, write: bool) -> list[float]:
    times = []
    for _ in range(count):
        pacer.take(write=write)
        times.append(clock.now)
    return times


def refused_by_a_token_bucket(times: list[float], rate: float, burst: float) -> int:
    """How many of these requests a provider's token bucket (Route53: 5 a second, 5 at once) would throttle."""
    tokens, last, refused = burst, times[0], 0
    for at in times:
        tokens = min(burst, tokens + (at - last) * rate)
        last = at
        if tokens < 1:
            refused += 1
        else:
            tokens -= 1
    return refused


def test_requests_go_out_below_the_providers_rate() -> None:
    pacer, clock = paced(5)
    writes = sent_at(pacer, clock, 41, write=True)
    # a burst of 4 (the bucket), then 4 per second: 20 % under Route53's 5
    assert writes[:4] == [100.0] * 4
    assert writes[-1] - writes[0] == pytest.approx((41 - 4) / (5 * HEADROOM))
    mixed = writes + [t for i in range(200) for t in sent_at(pacer, clock, 1, write=i % 3 == 0)]
    assert refused_by_a_token_bucket(mixed, rate=5, burst=5) == 0


def test_a_long_read_leaves_a_token_for_a_write() -> None:
    pacer, clock = paced(5)
    sent_at(pacer, clock, 100, write=False)  # a long read, at full pace
    before = clock.now
    pacer.take(write=True)
    assert clock.now == before  # the write went at once
    reads = sent_at(pacer, clock, 20, write=False)
    assert (reads[-1] - reads[0]) / 19 == pytest.approx(1 / (5 * HEADROOM))  # reads keep the same pace


def test_throttling_holds_every_request_then_starts_from_an_empty_bucket() -> None:
    pacer, clock = paced(5)
    pacer.hold(3.0)
    pacer.take(write=True)
    assert clock.now == pytest.approx(103.0 + 1 / (5 * HEADROOM))


def test_no_rate_no_waiting() -> None:
    pacer, clock = paced(None)
    sent_at(pacer, clock, 1000, write=False)
    assert clock.now == 100.0
