"""Each session's status (state, since, last error) in the driver and the sink, against a real ExaBGP 5 and a real BIRD
2 on loopback (see `test_driver_bird`): a router that refuses the connection, one that refuses our AS, one that never
answers (a TCP MD5 password it does not share), a session that comes up and one that drops. Then how ExaBGP's words
(state messages, log lines) become one line each, for lines it never wrote too.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnslb.adapters.exabgp.driver import ExaBGPDriver, Neighbor, SessionStatus
from dnslb.adapters.exabgp.link import BGP, TCP, describe_down, log_failure
from dnslb.adapters.exabgp.sink import ExaBGPSink
from dnslb.core.bgp.routes import Route
from dnslb.core.bgp.status import CONNECTING, ESTABLISHED, IDLE, PeerSession
from dnslb.core.config import BGPPeer
from dnslb.core.model import NodeView
from dnslb_testkit.ports import free_port
from dnslb_testkit.waiting import wait_for
from tests.bgp_driver import test_driver_bird as loopback
from tests.bgp_driver.test_driver_bird import (
    HOLD_TIME,
    ROUTER,
    ROUTER_ASN,
    SPEAKER,
    TIMEOUT,
    BirdSession,
    LoopbackBird,
    neighbor,
    route,
)

# the loopback suite's fixtures: a BIRD (or several), and drivers stopped after the test
bird, bird_factory, driver_factory = loopback.bird, loopback.bird_factory, loopback.driver_factory

PEER = "router"  # the BGPPeer's name
NODE = NodeView(name="node1", ready=True, addresses=(str(SPEAKER),))
DRIVER_LOG = "dnslb.adapters.exabgp.driver"


# ---- the sink, configured from a BGPPeer as the speaker does ---------------------------------------------------------


def bgp_peer(port: int, **spec: Any) -> BGPPeer:
    return BGPPeer.model_validate(
        {
            "apiVersion": "dnslb.io/v1alpha1",
            "kind": "BGPPeer",
            "metadata": {"name": PEER},
            "spec": {
                "myASN": ROUTER_ASN,
                "peerASN": ROUTER_ASN,
                "peerAddress": str(ROUTER),
                "peerPort": port,
                "sourceAddress": str(SPEAKER),
                "routerID": str(SPEAKER),
                "holdTime": HOLD_TIME,
                "listenPort": 0,
                **spec,
            },
        }
    )


@pytest.fixture
def sink_factory(tmp_path: Path) -> Iterator[Callable[..., ExaBGPSink]]:
    """A sink whose one BGPPeer, PEER, is the router at ROUTER:`port`; `on_session` hears its sessions."""
    started: list[ExaBGPSink] = []

    def start(port: int, on_session: Callable[[str, bool], None] | None = None) -> ExaBGPSink:
        sink = ExaBGPSink(tmp_path / f"sink{len(started)}", lambda peer: None)
        started.append(sink)
        if on_session is not None:
            sink.on_session(on_session)
        sink.configure([bgp_peer(port)], NODE)
        return sink

    yield start
    for sink in started:
        sink.stop()


def session_of(sink: ExaBGPSink) -> PeerSession:
    return sink.status()[PEER]


def wait_session(sink: ExaBGPSink, holds: Callable[[PeerSession], object], what: str) -> PeerSession:
    """The sink's session with PEER, once `holds` is true of it."""

    def check() -> PeerSession | None:
        session = session_of(sink)
        return session if holds(session) else None

    return wait_for(check, TIMEOUT, what)


def desired(*routes: Route) -> dict[str, frozenset[Route]]:
    return {PEER: frozenset(routes)}


def attempts(driver: ExaBGPDriver) -> int:
    """The connections this ExaBGP made so far, from the names it gives them in its log (outgoing-1, -2, ...)."""
    return max((int(n) for n in re.findall(r"outgoing-(\d+)", driver.output())), default=0)


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == DRIVER_LOG and r.levelno == logging.WARNING and text in r.getMessage()
    ]


# ---- sessions that do not come up -----------------------------------------------------------------------------------


def test_before_exabgp_runs_every_session_is_idle(tmp_path: Path) -> None:
    driver = ExaBGPDriver([Neighbor(ROUTER, ROUTER_ASN, ROUTER_ASN, SPEAKER, SPEAKER)], tmp_path)
    assert driver.session_status() == {str(ROUTER): SessionStatus(IDLE, None, "")}


def test_a_router_that_refuses_the_connection_leaves_the_session_connecting_with_why_and_no_prefixes(
    sink_factory: Callable[..., ExaBGPSink],
) -> None:
    closed = free_port(str(ROUTER))  # nothing listens there: the router's kernel answers with a reset
    before = time.time()
    sink = sink_factory(closed)
    sink.set_desired(desired(route("10.100.0.1/32")))

    session = wait_session(sink, lambda s: s.last_error, "a reason the session is not up")
    assert "refused" in session.last_error
    assert session == PeerSession(PEER, str(ROUTER), CONNECTING, session.since, session.last_error, frozenset())
    assert session.since is not None and before <= session.since <= time.time()


def test_a_router_that_refuses_our_as_names_the_notification_and_it_is_logged_once(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, DRIVER_LOG)
    driver = driver_factory([neighbor(bird, local_asn=ROUTER_ASN + 9)])
    driver.set_desired({route("10.100.0.1/32")})

    wait_for(lambda: warnings_about(caplog, "Bad Peer AS"), TIMEOUT, "the reason logged")
    wait_for(lambda: attempts(driver) >= 4, TIMEOUT, "ExaBGP to try four times")
    [status] = driver.session_status().values()
    assert status.state == CONNECTING
    assert status.last_error == "the router sent NOTIFICATION 2/2 (OPEN Message Error: Bad Peer AS)"
    # BIRD also closes the connections it takes while it waits to retry the session: no better reason, not logged
    assert len(warnings_about(caplog, "Bad Peer AS")) == 1, caplog.text
    assert warnings_about(caplog, "is not up") == warnings_about(caplog, "Bad Peer AS"), caplog.text
    assert driver.announced == frozenset()


def test_a_router_that_never_answers_is_reported_after_a_hold_time(
    bird_factory: Callable[..., LoopbackBird], driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    """BIRD's kernel drops every segment without the password's signature: ExaBGP waits and says nothing."""
    router = bird_factory(BirdSession("speaker", ROUTER, SPEAKER, password="the router's"))
    driver = driver_factory([neighbor(router, password="another")])

    status = wait_for(lambda: driver.session_status()[str(ROUTER)].last_error, TIMEOUT, "a reason")
    assert status.startswith(f"no TCP connection within {HOLD_TIME}s") and "MD5" in status
    assert driver.session_status()[str(ROUTER)].state == CONNECTING


# ---- sessions that come up, and go --------------------------------------------------------------------------------


def test_an_established_session_reports_since_when_and_the_prefixes_bird_holds(
    bird: LoopbackBird, sink_factory: Callable[..., ExaBGPSink]
) -> None:
    before = time.time()
    sink = sink_factory(bird.port)
    sink.set_desired(desired(route("10.100.0.1/32"), route("10.100.0.2/32")))

    wait_for(lambda: set(bird.routes()) == {"10.100.0.1/32", "10.100.0.2/32"}, TIMEOUT, "both routes in BIRD")
    session = wait_session(sink, lambda s: s.prefixes, "the sink to report them")
    assert session.prefixes == {ip_network(prefix) for prefix in bird.routes()}
    assert session.state == ESTABLISHED and session.last_error == ""
    assert session.since is not None and before <= session.since <= time.time()

    sink.set_desired(desired(route("10.100.0.2/32")))
    wait_for(lambda: set(bird.routes()) == {"10.100.0.2/32"}, TIMEOUT, "the withdrawal in BIRD")
    assert session_of(sink).prefixes == {ip_network("10.100.0.2/32")}
    assert session_of(sink).since == session.since


@pytest.mark.parametrize(
    "drop",
    [
        lambda bird: bird.birdc("disable", "speaker"),
        LoopbackBird.stop,  # then ExaBGP's connections are refused, which explains less than BIRD's NOTIFICATION
    ],
    ids=["disabled", "stopped"],
)
def test_a_session_that_drops_leaves_established_with_why_and_no_prefixes(
    bird: LoopbackBird, sink_factory: Callable[..., ExaBGPSink], drop: Callable[[LoopbackBird], object]
) -> None:
    heard: list[tuple[str, bool]] = []
    sink = sink_factory(bird.port, lambda peer, up: heard.append((peer, up)))
    sink.set_desired(desired(route("10.100.0.1/32")))
    up = wait_session(sink, lambda s: s.prefixes, "the route acked over the session")
    wait_for(lambda: "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route in BIRD")

    drop(bird)
    down = wait_session(sink, lambda s: s.state != ESTABLISHED, "the session to go")
    assert down.state == CONNECTING and down.prefixes == frozenset()
    assert down.since is not None and up.since is not None and down.since > up.since
    assert down.last_error == "the router sent NOTIFICATION 6/2 (Cease: Administrative Shutdown)"
    # the listener hears of the fall from the driver's thread, right after the state changed: wait for it
    wait_for(lambda: len(heard) >= 2, TIMEOUT, "the fall reported to the listener")
    assert heard == [(str(ROUTER), True), (str(ROUTER), False)]


def test_the_sink_reports_nothing_before_it_is_configured(tmp_path: Path) -> None:
    assert ExaBGPSink(tmp_path, lambda peer: None).status() == {}


# ---- ExaBGP's words -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "established", "text", "rank"),
    [
        (
            "notification received (2,2)",
            False,
            "the router sent NOTIFICATION 2/2 (OPEN Message Error: Bad Peer AS)",
            BGP,
        ),
        ("notification sent (4,0)", True, "ExaBGP sent NOTIFICATION 4/0 (Hold Timer Expired)", BGP),
        ("notification received (6,42)", True, "the router sent NOTIFICATION 6/42 (Cease)", BGP),
        ("notification received (99,1)", False, "the router sent NOTIFICATION 99/1 (unknown error code)", BGP),
        ("closing connection", False, "TCP connection refused, reset or unreachable", TCP),
        ("closing connection", True, "TCP connection lost", TCP),
        ("process problem", True, "process problem", TCP),
        ("", False, "ExaBGP gave no reason", TCP),
    ],
)
def test_a_down_reason_becomes_one_line(reason: str, established: bool, text: str, rank: int) -> None:
    failure = describe_down(reason, established)
    assert failure is not None and (failure.text, failure.rank) == (text, rank)


def test_a_connection_collision_is_no_failure() -> None:
    assert describe_down("connection received before we could fully establish one (connection failed)", False) is None


@pytest.mark.parametrize(
    ("line", "peer", "text"),
    [
        # what ExaBGP 5.0.15 writes (log short, level INFO, and DEBUG for the last one)
        (
            "outgoing-2      outgoing-2 127.0.0.1-127.0.0.2 127.0.0.2 lost TCP session with peer",
            "127.0.0.2",
            "the router closed the TCP connection",
        ),
        (
            "incoming-1      incoming-1 ::1-::1 ::1 peer is too slow",
            "::1",
            "the router stopped answering (read timeout)",
        ),
        (
            "outgoing-1      Could not connect to peer 192.0.2.1:179 "
            "([Errno ENETUNREACH] [Errno 101] Network is unreachable)",
            "192.0.2.1",
            "cannot connect: Network is unreachable",
        ),
    ],
)
def test_a_log_line_that_says_why(line: str, peer: str, text: str) -> None:
    found = log_failure(line)
    assert found is not None and found[0] == peer and found[1].text == text


@pytest.mark.parametrize(
    "line",
    [
        "outgoing-1      outgoing-1 127.0.0.1-127.0.0.2, closing connection",
        "outgoing-1      connection to 127.0.0.2 closed",
        "reactor         loaded new configuration successfully",
        "outgoing-1      sending TCP payload (  57) " + "FFFF " * 200 + "lost TCP session with peer",
        "",
    ],
)
def test_other_log_lines_say_nothing(line: str) -> None:
    assert log_failure(line) is None


@given(st.text(max_size=600))
def test_any_text_is_read_safely(text: str) -> None:
    for failure in (describe_down(text, False), describe_down(text, True)):
        assert failure is None or (failure.text.isascii() and failure.text.isprintable() and len(failure.text) <= 160)
    found = log_failure(text)
    assert found is None or (found[1].text.isascii() and found[1].text.isprintable())


@given(st.text(max_size=300))
def test_any_error_in_a_line_that_names_one_is_read_safely(error: str) -> None:
    found = log_failure(f"outgoing-1      outgoing-1 ::1-::1 ::1 problem sending message ({error})")
    assert found is None or (found[0] == "::1" and found[1].text.isascii() and found[1].text.isprintable())
