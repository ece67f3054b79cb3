"""The API process ExaBGP runs: `python -m dnslb.adapters.exabgp.relay SOCKET_PATH`.

It connects to the driver's Unix socket and forwards lines both ways: what ExaBGP writes to the relay's stdin (acks and
JSON messages) goes to the socket, and the driver's commands from the socket go to the relay's stdout, which ExaBGP
reads. ExaBGP writes to its API processes with blocking writes, so a relay that stops reading stalls all of ExaBGP,
keepalives included: the relay therefore reads ExaBGP's output into a bounded queue on a thread of its own, whatever
the socket does. When either side closes, the relay exits; it never reconnects, because the driver takes a lost relay
as a reason to tear ExaBGP down.

Only whole lines of printable ASCII are passed to ExaBGP; anything else is dropped and reported on stderr.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections import deque

COMPLAINT_PREFIX = "dnslb relay: "
MAX_QUEUED_LINES = 100_000
MAX_LINE_BYTES = 64 * 1024
_READ_BYTES = 65536


class _Outbox:
    """Lines read from ExaBGP, waiting to go to the socket; bounded, so a stuck driver costs memory, not ExaBGP."""

    def __init__(self, limit: int) -> None:
        self._lines: deque[bytes] = deque()
        self._limit = limit
        self._ready = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, line: bytes) -> None:
        with self._ready:
            if len(self._lines) >= self._limit:
                self.dropped += 1
                return
            self._lines.append(line)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()

    def take(self) -> list[bytes] | None:
        """Every queued line, waiting for one; None once closed and empty."""
        with self._ready:
            while not self._lines and not self._closed:
                self._ready.wait()
            if not self._lines:
                return None
            lines = list(self._lines)
            self._lines.clear()
            return lines


def _complain(text: str) -> None:
    try:
        sys.stderr.write(f"{COMPLAINT_PREFIX}{text}\n")
        sys.stderr.flush()
    except OSError:
        pass


class _LineReader:
    """Whole lines from a file descriptor or socket; a line longer than MAX_LINE_BYTES is dropped, not buffered."""

    def __init__(self) -> None:
        self._partial = b""
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        *lines, rest = (self._partial + data).split(b"\n")
        if self._skipping and lines:
            lines, self._skipping = lines[1:], False
        if len(rest) > MAX_LINE_BYTES:
            _complain(f"dropping a line longer than {MAX_LINE_BYTES} bytes")
            rest, self._skipping = b"", True
        self._partial = rest
        return lines


def _from_exabgp(stdin_fd: int, outbox: _Outbox) -> None:
    """Drain ExaBGP's output; closing the outbox lets `_to_driver` flush what is left (its shutdown notice) and end."""
    reader = _LineReader()
    try:
        while data := os.read(stdin_fd, _READ_BYTES):
            for line in reader.feed(data):
                outbox.put(line + b"\n")
    except OSError as exc:
        _complain(f"reading from ExaBGP failed: {exc}")
    finally:
        outbox.close()


def _to_driver(conn: socket.socket, outbox: _Outbox, finished: threading.Event) -> None:
    try:
        while (lines := outbox.take()) is not None:
            conn.sendall(b"".join(lines))
    except OSError as exc:
        _complain(f"writing to the driver failed: {exc}")
    finally:
        finished.set()


def _printable(line: bytes) -> bool:
    return all(0x20 <= byte < 0x7F for byte in line)


def _to_exabgp(conn: socket.socket, stdout_fd: int, finished: threading.Event) -> None:
    reader = _LineReader()
    try:
        while data := conn.recv(_READ_BYTES):
            for line in reader.feed(data):
                if not _printable(line):
                    _complain(f"dropping a command with characters outside printable ASCII: {line[:80]!r}")
                    continue
                view = memoryview(line + b"\n")
                while view:
                    view = view[os.write(stdout_fd, view) :]
    except OSError as exc:
        _complain(f"forwarding to ExaBGP failed: {exc}")
    finally:
        finished.set()


def run(socket_path: str, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    """Relay until ExaBGP or the driver goes away; 0 when one closed cleanly, 1 when the driver was unreachable."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(socket_path)
    except OSError as exc:
        _complain(f"cannot reach the driver at {socket_path}: {exc}")
        return 1
    finished = threading.Event()
    outbox = _Outbox(MAX_QUEUED_LINES)
    threading.Thread(target=_from_exabgp, args=(stdin_fd, outbox), daemon=True).start()
    threading.Thread(target=_to_driver, args=(conn, outbox, finished), daemon=True).start()
    threading.Thread(target=_to_exabgp, args=(conn, stdout_fd, finished), daemon=True).start()
    finished.wait()
    if outbox.dropped:
        _complain(f"dropped {outbox.dropped} lines from ExaBGP while the driver did not read")
    conn.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        _complain("usage: python -m dnslb.adapters.exabgp.relay SOCKET_PATH")
        return 2
    return run(args[0])


if __name__ == "__main__":
    # os._exit: the reader threads may sit in blocking reads that no interpreter shutdown would wait out
    code = main()
    sys.stderr.flush()
    os._exit(code)
