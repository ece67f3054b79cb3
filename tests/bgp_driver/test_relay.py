"""The relay as ExaBGP runs it (`python -m dnslb.adapters.exabgp.relay SOCKET`), with this test playing both ExaBGP
(the relay's stdin and stdout) and the driver (the Unix socket)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TIMEOUT = 10.0


@dataclass
class Relay:
    process: subprocess.Popen[bytes]
    conn: socket.socket

    def from_driver(self, data: bytes) -> None:
        self.conn.sendall(data)

    def to_exabgp(self) -> bytes:
        """One line the relay wrote to ExaBGP."""
        assert self.process.stdout is not None
        return self.process.stdout.readline()

    def from_exabgp(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def to_driver(self, size: int) -> bytes:
        received = b""
        while len(received) < size:
            chunk = self.conn.recv(size - len(received))
            if not chunk:
                break
            received += chunk
        return received


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    path = tmp_path / "relay.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(TIMEOUT)
    process = subprocess.Popen(
        [sys.executable, "-m", "dnslb.adapters.exabgp.relay", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    conn: socket.socket | None = None
    try:
        conn, _ = server.accept()
        conn.settimeout(TIMEOUT)
        yield Relay(process, conn)
    finally:
        if conn is not None:
            conn.close()
        server.close()
        if process.poll() is None:
            os.kill(process.pid, 9)
        process.wait(TIMEOUT)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_lines_go_both_ways(relay: Relay) -> None:
    relay.from_driver(b"announce route 192.0.2.1/32 next-hop self\n")
    assert relay.to_exabgp() == b"announce route 192.0.2.1/32 next-hop self\n"
    relay.from_exabgp(b"done\n")
    assert relay.to_driver(5) == b"done\n"


def test_only_whole_printable_lines_reach_exabgp(relay: Relay) -> None:
    relay.from_driver(b"withdraw route 192.0.2.1/32\n\x1b[2Jbad\nannounce route 192.0.2.")
    relay.from_driver(b"2/32 next-hop self\n")
    assert relay.to_exabgp() == b"withdraw route 192.0.2.1/32\n"
    assert relay.to_exabgp() == b"announce route 192.0.2.2/32 next-hop self\n"
    relay.conn.close()
    relay.process.wait(TIMEOUT)
    assert relay.process.stderr is not None
    assert b"dropping a command" in relay.process.stderr.read()


def test_exabgp_output_is_drained_even_when_the_driver_reads_nothing(relay: Relay) -> None:
    # ExaBGP writes to its API process with blocking writes: a relay that stopped reading would stall it
    line = b'{ "type": "state", "padding": "' + b"x" * 100 + b'" }\n'
    written = threading.Event()

    def flood() -> None:
        for _ in range(20):
            relay.from_exabgp(line * 10_000)
        written.set()

    threading.Thread(target=flood, daemon=True).start()
    assert written.wait(30), "the relay stopped reading ExaBGP's output"
    assert relay.process.poll() is None


def test_the_relay_leaves_when_the_driver_goes(relay: Relay) -> None:
    relay.conn.close()
    assert relay.process.wait(TIMEOUT) == 0


def test_the_relay_passes_on_exabgps_last_words_then_leaves(relay: Relay) -> None:
    notice = b'{ "type": "notification", "notification": "shutdown" }\n'
    relay.from_exabgp(b"done\n" + notice)
    assert relay.process.stdin is not None
    relay.process.stdin.close()
    assert relay.to_driver(5 + len(notice)) == b"done\n" + notice
    assert relay.process.wait(TIMEOUT) == 0
    assert relay.conn.recv(1) == b""


def test_without_a_driver_the_relay_exits_at_once(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dnslb.adapters.exabgp.relay", str(tmp_path / "missing.sock")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    assert b"cannot reach the driver" in result.stderr
