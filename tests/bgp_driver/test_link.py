"""The driver's end of the relay socket, against a scripted stand-in for relay and ExaBGP: who may connect, acks
matched in order, JSON messages passed on, and a silent ExaBGP taken as a lost relay."""

from __future__ import annotations

import os
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dnslb.adapters.child import Child
from dnslb.adapters.exabgp.link import NeighborState, RelayGone, RelayLink, RelayListener, parse_neighbor_state

# Answers like ExaBGP through the relay: a state message first, then `done` for route commands, `error` for anything
# else, and nothing at all for `hang`.
FAKE_RELAY = textwrap.dedent(
    """
    import socket, sys
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(sys.argv[1])
    conn.sendall(b'{ "type": "state", "neighbor": { "address": { "peer": "127.0.0.2" }, "state": "up" } }\\n')
    for line in conn.makefile("rb"):
        if line.startswith((b"announce ", b"withdraw ")):
            conn.sendall(b"done\\n")
        elif not line.startswith(b"hang"):
            conn.sendall(b"error\\n")
    """
)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[RelayListener]:
    listener = RelayListener(tmp_path / "relay.sock")
    yield listener
    listener.close()


@pytest.fixture
def fake_relay(listener: RelayListener) -> Iterator[tuple[RelayLink, list[object]]]:
    messages: list[object] = []
    relay = Child.start([sys.executable, "-c", FAKE_RELAY, str(listener.path)], name="fake relay")
    try:
        link = listener.accept(10.0, os.getpid(), relay.alive, messages.append)
        assert link is not None and link.pid == relay.pid
        yield link, messages
        link.close()
    finally:
        relay.kill()


def test_acks_come_back_in_order_and_messages_are_passed_on(fake_relay: tuple[RelayLink, list[object]]) -> None:
    link, messages = fake_relay
    acks = link.execute(["announce route 192.0.2.1/32 next-hop self", "bogus", "withdraw route 192.0.2.1/32"], 5.0)
    assert [a.ok for a in acks] == [True, False, True]
    assert all(a.seconds >= 0 for a in acks)
    assert [parse_neighbor_state(m) for m in messages] == [NeighborState("127.0.0.2", "up")]


def test_a_silent_exabgp_closes_the_link(fake_relay: tuple[RelayLink, list[object]]) -> None:
    link, _ = fake_relay
    with pytest.raises(RelayGone, match="no ack"):
        link.execute(["hang"], 0.3)
    assert link.closed.is_set()
    with pytest.raises(RelayGone):
        link.execute(["announce route 192.0.2.1/32 next-hop self"], 1.0)


def test_a_line_break_is_never_sent(fake_relay: tuple[RelayLink, list[object]]) -> None:
    link, _ = fake_relay
    with pytest.raises(ValueError, match="non-printable"):
        link.execute(["announce route 192.0.2.1/32 next-hop self\nannounce route 0.0.0.0/0 next-hop self"], 1.0)
    assert [a.ok for a in link.execute(["announce route 192.0.2.1/32 next-hop self"], 5.0)] == [True]


def test_only_a_child_of_exabgp_may_connect(listener: RelayListener) -> None:
    # this test process is nobody's relay: its parent is not itself
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stranger:
        stranger.connect(str(listener.path))
        assert listener.accept(0.5, os.getpid(), lambda: True, lambda message: None) is None
        assert stranger.recv(1) == b""


def test_the_socket_is_for_this_user_only(listener: RelayListener) -> None:
    assert listener.path.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "message",
    [
        {"type": "update"},
        {"type": "state", "neighbor": "127.0.0.2"},
        {"type": "state", "neighbor": {"address": {"peer": 1}, "state": "up"}},
        ["state"],
    ],
)
def test_other_messages_are_not_neighbor_states(message: object) -> None:
    assert parse_neighbor_state(message) is None


def test_a_down_state_keeps_its_reason() -> None:
    message = {"type": "state", "neighbor": {"address": {"peer": "::1"}, "state": "down", "reason": "peer reset"}}
    assert parse_neighbor_state(message) == NeighborState("::1", "down", "peer reset")
