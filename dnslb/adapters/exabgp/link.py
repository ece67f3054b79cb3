"""The driver's end of the relay: a Unix socket that accepts the one relay its ExaBGP started, then sends commands and
matches them with ExaBGP's acks.

ExaBGP answers every API command with a line `done` or `error` (with `exabgp.api.ack` on, its default), in the order
the commands came, since route commands run one after another from one queue. So a batch is written in one go and its
acks are read back in order, instead of one round trip per route. Every other line from ExaBGP is a JSON message
(`encoder json`), handed to `on_message`.

ExaBGP says little about a session that will not come up. `describe_down` turns the reason of a `down` state message
into one line for an operator, and `log_failure` picks the few lines of ExaBGP's log (`level INFO`, `short`) that say
more, with the peer they are about. ExaBGP 5.0.15 reports a refused or unreachable connection as `connected` then
`down` "closing connection" (it reads the socket's error once, loses it, and fails on writing the OPEN); it says nothing
at all about a peer that never answers (a SYN dropped, a wrong TCP MD5 password) or a connect that fails at once (no
route), which it logs only at DEBUG: the driver notices those by the silence.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ACK_DONE = "done"
ACK_ERROR = "error"
# sun_path is 108 bytes on Linux, including the terminating NUL
MAX_SOCKET_PATH_BYTES = 107
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid
_ACCEPT_POLL = 0.1
_CLOSED = object()

log = logging.getLogger(__name__)


class RelayGone(Exception):
    """The relay closed, or ExaBGP stopped answering: nothing more can be sent through this link."""


@dataclass(frozen=True)
class Ack:
    ok: bool
    seconds: float  # from the moment the command was written to the moment its ack arrived


@dataclass(frozen=True)
class NeighborState:
    """A `state` message of ExaBGP's neighbor-changes: `connected` (TCP up), `up` (Established) or `down`."""

    peer: str
    state: str
    reason: str = ""


def parse_neighbor_state(message: object) -> NeighborState | None:
    """The neighbor state in one decoded JSON message from ExaBGP, if it is a state message."""
    if not isinstance(message, dict) or message.get("type") != "state":
        return None
    neighbor = message.get("neighbor")
    if not isinstance(neighbor, dict):
        return None
    address = neighbor.get("address")
    peer = address.get("peer") if isinstance(address, dict) else None
    state = neighbor.get("state")
    if not isinstance(peer, str) or not isinstance(state, str):
        return None
    reason = neighbor.get("reason")
    return NeighborState(peer, state, reason if isinstance(reason, str) else "")


# How far a failed attempt got: of the failures seen since a session was last up, the one that got furthest explains
# most (a router that refuses our AS, then refuses the connection while it waits to retry, has a wrong AS)
SILENT, TCP, BGP = 0, 1, 2


@dataclass(frozen=True)
class Failure:
    """Why a session went down or could not be made, in one printable ASCII line. `vague`: ExaBGP gave no detail
    ("closing connection"), and a line of its log may say more."""

    text: str
    rank: int
    vague: bool = False


_MAX_TEXT = 160
_MAX_LOG_LINE = 512  # longer lines are packet dumps (at DEBUG), never one of those below
_NOTIFICATION = re.compile(r"notification (received|sent) \((\d{1,3}),(\d{1,3})\)")
_VAGUE = "closing connection"
# A connection collision resolved (RFC 4271 6.8): the other connection carries on, nothing failed
_COLLISION = ("connection received before we could fully establish one", "closing outgoing connection as we have")
# RFC 4271 4.5 and 6, RFC 4486 (Cease), RFC 9234 (Role Mismatch)
_NOTIFICATIONS: dict[int, tuple[str, dict[int, str]]] = {
    1: ("Message Header Error", {1: "Connection Not Synchronized", 2: "Bad Message Length", 3: "Bad Message Type"}),
    2: (
        "OPEN Message Error",
        {
            1: "Unsupported Version Number",
            2: "Bad Peer AS",
            3: "Bad BGP Identifier",
            4: "Unsupported Optional Parameter",
            6: "Unacceptable Hold Time",
            7: "Unsupported Capability",
            11: "Role Mismatch",
        },
    ),
    3: (
        "UPDATE Message Error",
        {
            1: "Malformed Attribute List",
            2: "Unrecognized Well-known Attribute",
            3: "Missing Well-known Attribute",
            4: "Attribute Flags Error",
            5: "Attribute Length Error",
            6: "Invalid ORIGIN Attribute",
            8: "Invalid NEXT_HOP Attribute",
            9: "Optional Attribute Error",
            10: "Invalid Network Field",
            11: "Malformed AS_PATH",
        },
    ),
    4: ("Hold Timer Expired", {}),
    5: ("Finite State Machine Error", {}),
    6: (
        "Cease",
        {
            1: "Maximum Number of Prefixes Reached",
            2: "Administrative Shutdown",
            3: "Peer De-configured",
            4: "Administrative Reset",
            5: "Connection Rejected",
            6: "Other Configuration Change",
            7: "Connection Collision Resolution",
            8: "Out of Resources",
            9: "Hard Reset",
            10: "BFD Down",
        },
    ),
    7: ("ROUTE-REFRESH Message Error", {}),
}

# `<direction>-<n> <local>-<peer> <peer> `, how ExaBGP names a connection in its warnings
_CONNECTION = r"(?:incoming|outgoing)-\d{1,10} [0-9A-Fa-f.:]{2,45}-(?P<peer>[0-9A-Fa-f.:]{2,45}) [0-9A-Fa-f.:]{2,45} "
_ERROR = r"\((?P<error>[ -~]{1,200})\)"
_LOG_FAILURES = (
    (re.compile(_CONNECTION + r"lost TCP (?:session|connection) with peer"), "the router closed the TCP connection"),
    (re.compile(_CONNECTION + r"peer is too slow"), "the router stopped answering (read timeout)"),
    (re.compile(_CONNECTION + r"problem sending message " + _ERROR), "sending failed: {error}"),
    # at DEBUG only, once a second while it lasts
    (
        re.compile(
            r"Could not connect to peer (?P<peer>[0-9A-Fa-f.:]{2,45}):\d{1,5}(?:, check your MD5 password)? " + _ERROR
        ),
        "cannot connect: {error}",
    ),
)


def describe_down(reason: str, established: bool) -> Failure | None:
    """The failure a `down` state message reports (its `reason`, for a session that was `established` or not); None
    when nothing failed (a connection collision)."""
    notification = _NOTIFICATION.fullmatch(reason)
    if notification is not None:
        direction, code, subcode = notification[1], int(notification[2]), int(notification[3])
        who = "the router sent" if direction == "received" else "ExaBGP sent"
        return Failure(f"{who} NOTIFICATION {code}/{subcode} ({_notification_name(code, subcode)})", BGP)
    if reason == _VAGUE:
        return Failure(
            "TCP connection lost" if established else "TCP connection refused, reset or unreachable", TCP, True
        )
    if reason.startswith(_COLLISION):
        return None
    return Failure(_printable(reason) or "ExaBGP gave no reason", TCP)


def log_failure(line: str) -> tuple[str, Failure] | None:
    """(peer address as ExaBGP wrote it, failure) when a line of ExaBGP's output says why a connection failed."""
    if len(line) > _MAX_LOG_LINE or not line.isascii():
        return None
    for pattern, template in _LOG_FAILURES:
        found = pattern.search(line)
        if found is not None:
            error = found.groupdict().get("error") or ""
            # errstr's "[Errno ENETUNREACH] [Errno 101] Network is unreachable": the words are enough
            text = template.format(error=error.rsplit("] ", 1)[-1])
            return found["peer"], Failure(_printable(text), TCP)
    return None


def _notification_name(code: int, subcode: int) -> str:
    name, subcodes = _NOTIFICATIONS.get(code, ("unknown error code", {}))
    return f"{name}: {subcodes[subcode]}" if subcode in subcodes else name


def _printable(text: str) -> str:
    """One line of printable ASCII, at most _MAX_TEXT characters."""
    kept = "".join(c if c.isascii() and c.isprintable() else " " for c in text[: _MAX_TEXT * 2])
    return " ".join(kept.split())[:_MAX_TEXT]


def parent_pid(pid: int) -> int | None:
    """The parent of `pid` from /proc, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name, in parentheses, may itself hold spaces and parentheses
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1])


class RelayListener:
    """A listening Unix socket, readable by this user only, for one relay to connect to."""

    def __init__(self, path: Path) -> None:
        if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
            raise ValueError(f"socket path {path} is longer than the {MAX_SOCKET_PATH_BYTES} bytes Unix sockets allow")
        path.unlink(missing_ok=True)
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        umask = os.umask(0o177)
        try:
            self._sock.bind(os.fspath(path))
        finally:
            os.umask(umask)
        self._sock.listen(4)
        self._sock.settimeout(_ACCEPT_POLL)

    def accept(
        self, timeout: float, parent: int, alive: Callable[[], bool], on_message: Callable[[object], None]
    ) -> RelayLink | None:
        """The first connection whose process is a child of `parent` and runs as this user; None if none came
        within `timeout` or `alive()` turned false. Connections from anyone else are closed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            pid, uid, _gid = _CREDENTIALS.unpack(
                conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
            )
            if uid != os.getuid() or parent_pid(pid) != parent:
                log.warning(
                    "refused a relay connection from pid %d (uid %d), not a child of ExaBGP %d", pid, uid, parent
                )
                conn.close()
                continue
            return RelayLink(conn, pid, on_message)
        return None

    def close(self) -> None:
        self._sock.close()
        self.path.unlink(missing_ok=True)


class RelayLink:
    """One relay connection. `execute` sends a batch of commands and returns their acks; JSON messages go to
    `on_message` from the link's reader thread. `closed` is set when the relay goes away or the link is closed."""

    def __init__(self, conn: socket.socket, pid: int, on_message: Callable[[object], None]) -> None:
        self.pid = pid
        self.closed = threading.Event()
        self._conn = conn
        self._conn.settimeout(None)
        self._on_message = on_message
        self._acks: queue.SimpleQueue[tuple[bool, float] | object] = queue.SimpleQueue()
        self._sending = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=f"relay-{pid}", daemon=True)
        self._reader.start()

    def execute(self, lines: Sequence[str], ack_timeout: float) -> list[Ack]:
        """Write `lines` as one batch and wait for an ack of each, in order. Raise RelayGone when the relay goes away,
        or when no ack comes for `ack_timeout` seconds (then the link is closed: later acks could not be matched)."""
        for line in lines:
            if not line.isascii() or not line.isprintable():
                raise ValueError(f"refusing to send a command with non-printable characters: {line!r}")
        if not lines:
            return []
        with self._sending:
            if self.closed.is_set():
                raise RelayGone("the relay link is closed")
            payload = "".join(f"{line}\n" for line in lines).encode("ascii")
            sent = time.monotonic()  # before the write: the reader thread may stamp an ack before sendall returns
            try:
                self._conn.sendall(payload)
            except OSError as exc:
                self.close()
                raise RelayGone(f"writing to the relay failed: {exc}") from exc
            acks = []
            for line in lines:
                try:
                    item = self._acks.get(timeout=ack_timeout)
                except queue.Empty:
                    self.close()
                    raise RelayGone(f"no ack from ExaBGP within {ack_timeout:g}s for {line!r}") from None
                if not isinstance(item, tuple):
                    raise RelayGone("the relay went away before every command was acked")
                ok, at = item
                acks.append(Ack(ok, at - sent))
            return acks

    def close(self) -> None:
        if not self.closed.is_set():
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_RDWR)
        self._conn.close()
        self.closed.set()

    def _read(self) -> None:
        partial = b""
        try:
            while data := self._conn.recv(65536):
                *lines, partial = (partial + data).split(b"\n")
                for raw in lines:
                    self._dispatch(raw.decode("ascii", errors="replace").strip())
        except OSError:
            pass
        finally:
            self.closed.set()
            self._acks.put(_CLOSED)

    def _dispatch(self, line: str) -> None:
        if line in (ACK_DONE, ACK_ERROR):
            self._acks.put((line == ACK_DONE, time.monotonic()))
            return
        if not line:
            return
        try:
            message = json.loads(line)
        except ValueError:
            log.debug("relay %d: %s", self.pid, line)
            return
        try:
            self._on_message(message)
        except Exception:
            log.exception("handling an ExaBGP message failed: %s", line)
