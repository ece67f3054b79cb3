"""Graceful restart and the ordered drain, with a real ExaBGP 5 against a real BIRD 2 on loopback (BIRD is a graceful
restart helper by default: `graceful restart aware`).

With graceful restart, a speaker's ExaBGP that stops closes its session without a NOTIFICATION, BIRD keeps the paths
as stale, and the next ExaBGP's End-of-RIB (sent by the driver once the desired routes are in) ends that: a path still
desired never leaves BIRD, one no longer desired does. A speaker that hangs still loses its paths on the hold timer.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dnslb.adapters.exabgp.driver import ExaBGPDriver
from dnslb_testkit.waiting import wait_for
from tests.bgp_driver.test_driver_bird import (
    HOLD_TIME,
    QUICK_RESTARTS,
    ROUTER,
    SPEAKER,
    TIMEOUT,
    BirdSession,
    LoopbackBird,
    neighbor,
    route,
)


@pytest.fixture
def bird() -> Iterator[LoopbackBird]:
    router = LoopbackBird([BirdSession("speaker", ROUTER, SPEAKER)]).start()
    yield router
    router.stop()


@pytest.fixture
def drivers(tmp_path: Path) -> Iterator[Callable[..., ExaBGPDriver]]:
    started: list[ExaBGPDriver] = []

    def start(bird: LoopbackBird, graceful_restart: int | None = None) -> ExaBGPDriver:
        driver = ExaBGPDriver(
            [neighbor(bird, graceful_restart=graceful_restart)],
            tmp_path / f"exabgp{len(started)}",
            backoff=QUICK_RESTARTS,
        )
        started.append(driver)
        driver.start()
        return driver

    yield start
    for driver in started:
        pid = driver.pid
        if pid is not None:
            os.kill(pid, signal.SIGCONT)  # a test may have left it stopped
        driver.stop()


class Watch:
    """Samples BIRD's prefixes every 20 ms in a thread, to see a path that left even briefly."""

    def __init__(self, bird: LoopbackBird) -> None:
        self._bird = bird
        self.seen: list[frozenset[str]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.02):
            self.seen.append(frozenset(self._bird.routes()))

    def stop(self) -> list[frozenset[str]]:
        self._done.set()
        self._thread.join()
        return self.seen


def test_a_restarted_speaker_changes_no_path_and_end_of_rib_clears_what_it_no_longer_announces(
    bird: LoopbackBird, drivers: Callable[..., ExaBGPDriver]
) -> None:
    kept, dropped = route("10.100.0.1/32"), route("10.100.0.2/32")
    first = drivers(bird, graceful_restart=120)
    first.set_desired({kept, dropped})
    wait_for(lambda: set(bird.routes()) == {"10.100.0.1/32", "10.100.0.2/32"}, TIMEOUT, "both routes in BIRD")

    watch = Watch(bird)
    first.stop()  # ExaBGP closes the session without a NOTIFICATION
    wait_for(lambda: not bird.established("speaker"), TIMEOUT, "BIRD to see the session close")
    second = drivers(bird, graceful_restart=120)
    assert second.wait_established(TIMEOUT), second.output()
    time.sleep(0.5)  # the session is up and the new ExaBGP has nothing yet: End-of-RIB must wait for the speaker
    second.set_desired({kept})
    wait_for(lambda: set(bird.routes()) == {"10.100.0.1/32"}, TIMEOUT, "End-of-RIB to clear the stale 10.100.0.2/32")
    seen = watch.stop()
    assert all("10.100.0.1/32" in prefixes for prefixes in seen), "the path left BIRD during the restart"
    assert any("10.100.0.2/32" in prefixes for prefixes in seen[len(seen) // 4 :]), "kept only until End-of-RIB"


def test_without_graceful_restart_a_stopped_speaker_loses_its_paths_at_once(
    bird: LoopbackBird, drivers: Callable[..., ExaBGPDriver]
) -> None:
    driver = drivers(bird)
    driver.set_desired({route("10.100.0.1/32")})
    wait_for(lambda: "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route in BIRD")
    driver.stop()  # a Cease NOTIFICATION: BIRD drops the paths
    wait_for(lambda: not bird.routes(), TIMEOUT, "BIRD to drop the path")


def test_a_hung_speaker_still_loses_its_paths_on_the_hold_timer(
    bird: LoopbackBird, drivers: Callable[..., ExaBGPDriver]
) -> None:
    driver = drivers(bird, graceful_restart=120)
    driver.set_desired({route("10.100.0.1/32")})
    wait_for(lambda: "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route in BIRD")
    pid = driver.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # hung: the socket stays open, no keepalive leaves
    try:
        wait_for(lambda: not bird.routes(), HOLD_TIME + TIMEOUT, "the hold timer to withdraw the path")
    finally:
        os.kill(pid, signal.SIGCONT)


def test_an_ordered_drain_tags_graceful_shutdown_then_withdraws_while_exabgp_still_runs(
    bird: LoopbackBird, drivers: Callable[..., ExaBGPDriver]
) -> None:
    driver = drivers(bird)
    driver.set_desired({route("10.100.0.1/32", "65000:7")})
    wait_for(lambda: "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route in BIRD")
    driver.tag_graceful_shutdown()
    wait_for(
        lambda: (r := bird.routes().get("10.100.0.1/32")) and r.communities == {(65000, 7), (65535, 0)},
        TIMEOUT,
        "the path tagged GRACEFUL_SHUTDOWN beside its own community",
    )
    draining = threading.Thread(target=driver.drain, args=(60.0,))
    draining.start()
    try:
        wait_for(lambda: not bird.routes(), TIMEOUT, "the withdrawal in BIRD")
        assert driver.pid is not None and bird.established("speaker"), "withdrawn by the session closing, not by UPDATE"
    finally:
        driver.stop()  # ends the drain's wait
        draining.join(TIMEOUT)
    assert not draining.is_alive()
