"""The ExaBGP driver: runs ExaBGP 5 as a supervised child process and keeps what it announces equal to what is desired.

    driver = ExaBGPDriver([Neighbor(...)], Path("/run/dnslb/bgp"))
    driver.start()
    driver.set_desired({Route.create(ipaddress.ip_network("192.0.2.10/32"), communities=[...])})
    ...
    driver.drain(10.0)   # on SIGTERM: withdraw everything, give the routers time, stop ExaBGP

ExaBGP runs with a generated config and environment file in `workdir`, as `exabgp server exabgp.conf`. Its one API
process is `python -m dnslb.adapters.exabgp.relay`, which connects back to a Unix socket of this driver (see `relay`
and `link`).
`set_desired` sends only the difference between desired and announced (withdrawals first; announcements only to
Established sessions, the others get theirs when they come up), and waits for ExaBGP's ack
of each command; `announced` is what ExaBGP has acked, whether or not a session is up to carry it.

Supervision, all from one thread (so ExaBGP's parent-death signal, bound to the thread that forked it, lasts as long
as the driver):
- ExaBGP exits: start it again after a backoff and re-announce everything desired.
- The relay goes away, or ExaBGP stops acking: ExaBGP is torn down first. It would respawn an API process (with
  respawn on) or carry on without one (with it off) still announcing every route the lost relay asked for, and
  nothing could withdraw them. Then it is started again cleanly and only what is still desired is announced.
- The driver's own process dies: the kernel kills ExaBGP (PR_SET_PDEATHSIG), so no session outlives the speaker.

Each neighbor's session has a status (`session_status`): Idle while no ExaBGP runs for it, Connecting while ExaBGP
tries, Established; since when, and why it last went down or could not be made, from ExaBGP's state messages, the
lines of its log that say more (see `link`), and a connection ExaBGP has not made, without a word, within the hold
time. A session that will not come up is logged once per reason, not on each of ExaBGP's retries.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import ipaddress
import logging
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import dnslb
from dnslb.adapters.child import poll_until, stop_process
from dnslb.adapters.exabgp.config import Neighbor, environment, render_config, render_environment
from dnslb.adapters.exabgp.link import (
    SILENT,
    TCP,
    Failure,
    NeighborState,
    RelayGone,
    RelayLink,
    RelayListener,
    describe_down,
    log_failure,
    parse_neighbor_state,
)
from dnslb.adapters.exabgp.relay import COMPLAINT_PREFIX as RELAY_PREFIX
from dnslb.core.bgp.routes import SELF, PeerAddress, Prefix, Route, Update, by_prefix, updates
from dnslb.core.bgp.status import CONNECTING, ESTABLISHED, IDLE
from dnslb.core.config.communities import Community

__all__ = ["Backoff", "CommandResult", "DriverStats", "ExaBGPDriver", "ExaBGPStartError", "Neighbor", "SessionStatus"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_WATCH_INTERVAL = 0.2
_LOG_TAIL_LINES = 60
_PACKAGE_ROOT = Path(dnslb.__file__).resolve().parent.parent
GRACEFUL_SHUTDOWN = Community((65535, 0))  # RFC 8326
_FAMILY = {4: "ipv4 unicast", 6: "ipv6 unicast"}
_BIND_FAILURE = "can not bind to"  # how ExaBGP says a `listen` socket failed, before it exits
# A log line and the state message it explains come by different pipes: this close, they are about one attempt
_HINT_WINDOW = 1.0
_NO_FAILURE = SILENT - 1

Routes = Collection[Route] | Mapping[PeerAddress, Collection[Route]]


class ExaBGPStartError(RuntimeError):
    """ExaBGP did not start, or its relay did not connect, in time; the message ends with ExaBGP's output."""


@dataclass(frozen=True)
class Backoff:
    """Delays between restarts: `initial`, doubling up to `maximum`; a run of `reset_after` seconds starts over."""

    initial: float = 0.5
    maximum: float = 30.0
    reset_after: float = 60.0


@dataclass(frozen=True)
class CommandResult:
    """One command ExaBGP acked: `ok` is False when it answered `error`; `seconds` from writing it to the ack."""

    change: Update
    ok: bool
    seconds: float


@dataclass(frozen=True)
class SessionStatus:
    """One neighbor's BGP session as the driver last saw it. `state`: IDLE (no ExaBGP runs for it yet, or any more),
    CONNECTING (ExaBGP tries, or is connected and not yet Established) or ESTABLISHED, from `dnslb.core.bgp.status`;
    `since`: wall-clock time of the last change of state (None: none yet); `last_error`: why the session last went
    down or could not be made, one line ("" if it never did)."""

    state: str = IDLE
    since: float | None = None
    last_error: str = ""


@dataclass
class _Session:
    """What the driver knows of one neighbor's session; guarded by the driver's lock.

    An episode runs from the session's last Established (or ExaBGP's start) to the next. Within one, a failure replaces
    `last_error` only if it got as far as the one there (`rank`), and each reason is logged once, after it has held
    for a moment: ExaBGP's log lines come at once, its state messages through the relay, later (much later while the
    relay starts), and a failure that got further may still be on its way."""

    state: str = IDLE
    since: float | None = None
    last_error: str = ""
    rank: int = _NO_FAILURE
    error_at: float = 0.0  # monotonic time `last_error` last changed
    vague_at: float | None = None  # monotonic time `last_error` came from a vague reason a log line may refine
    hint: tuple[Failure, float] | None = None  # a log line's failure, and when: the state message may follow
    heard: bool = False  # ExaBGP said anything of this session since it started
    trying_since: float = 0.0  # monotonic time the relay connected: ExaBGP is trying since
    logged: set[str] = field(default_factory=set)

    def status(self) -> SessionStatus:
        return SessionStatus(self.state, self.since, self.last_error)

    def move(self, state: str) -> bool:
        if state == self.state:
            return False
        self.state, self.since = state, time.time()
        return True

    def follow(self, state: NeighborState, now: float) -> None:
        """Take ExaBGP's state message."""
        self.heard = True
        if state.state == "up":
            self.move(ESTABLISHED)
            self.new_episode()
            return
        if state.state != "down":  # connected: TCP is up, BGP not yet
            self.move(CONNECTING)
            return
        established = self.state == ESTABLISHED
        hint, self.hint = self.hint, None  # about the connection this message ends, if about any
        if self.move(CONNECTING) and established:  # ExaBGP tries again at once
            self.new_episode()
        failure = describe_down(state.reason, established)
        if failure is not None and failure.vague and hint is not None and now - hint[1] <= _HINT_WINDOW:
            failure = hint[0]
        if failure is not None:
            self.record(failure, now)

    def new_episode(self) -> None:
        self.rank, self.vague_at, self.hint = _NO_FAILURE, None, None
        self.logged.clear()

    def record(self, failure: Failure, now: float) -> None:
        """Take `failure` as `last_error` if it got as far as the one this episode has."""
        if failure.rank < self.rank:
            return
        if failure.text != self.last_error:
            self.last_error, self.error_at = failure.text, now
        self.rank = failure.rank
        self.vague_at = now if failure.vague else None

    def silent(self, now: float, hold_time: int) -> bool:
        """ExaBGP has tried for `hold_time` and said nothing of this session, nor has anything else been found."""
        return (
            self.state == CONNECTING and not self.heard and self.rank < SILENT and now - self.trying_since >= hold_time
        )

    def reason_this_episode(self) -> str:
        return self.last_error if self.rank > _NO_FAILURE else ""

    def news(self, now: float) -> str | None:
        """The reason the session is not up, once it has held for a moment, if not logged yet this episode."""
        if self.state != CONNECTING or self.rank == _NO_FAILURE or self.last_error in self.logged:
            return None
        if now - max(self.error_at, self.trying_since) < _HINT_WINDOW:
            return None
        self.logged.add(self.last_error)
        return self.last_error


@dataclass(frozen=True)
class DriverStats:
    starts: int = 0  # ExaBGP processes started
    exits: int = 0  # ExaBGP processes that ended on their own
    relay_losses: int = 0  # times the relay went away (or ExaBGP stopped acking) and ExaBGP was torn down
    commands: int = 0
    failed_commands: int = 0  # commands ExaBGP answered with `error`
    announced: Mapping[str, int] = dataclasses.field(default_factory=dict)  # neighbor → prefixes acked for it
    unsendable: int = 0  # desired (neighbor, route) pairs left out: next-hop self of the other family


def default_exabgp() -> Path:
    """The `exabgp` script installed next to this Python."""
    return Path(sys.executable).parent / "exabgp"


_prctl = ctypes.CDLL(None, use_errno=True).prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


_setns = ctypes.CDLL(None, use_errno=True).setns
_setns.argtypes = [ctypes.c_int, ctypes.c_int]
_CLONE_NEWNET = 0x40000000


def _die_with_parent() -> None:
    """Runs in the forked child before exec: have the kernel SIGKILL ExaBGP when the forking thread ends.

    Safe as a preexec_fn despite the driver's threads: it takes no Python-level lock, it only calls a function
    resolved at import time that is a single system call."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _in_netns(fd: int) -> Callable[[], None]:
    """A preexec_fn that also moves ExaBGP (and so its relay) into the network namespace open at `fd`."""

    def enter() -> None:
        _die_with_parent()
        if _setns(fd, _CLONE_NEWNET) != 0:
            os._exit(121)

    return enter


class ExaBGPDriver:
    """One supervised ExaBGP for a set of neighbors, announcing what `set_desired` last asked for."""

    def __init__(
        self,
        neighbors: Sequence[Neighbor],
        workdir: Path,
        *,
        exabgp: Path | None = None,
        python: Path | None = None,
        ack_timeout: float = 10.0,
        start_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        backoff: Backoff = Backoff(),
        log_level: str = "INFO",
        on_command: Callable[[CommandResult], None] | None = None,
        on_session: Callable[[str, bool], None] | None = None,
        netns: str | None = None,
    ) -> None:
        """`on_command` hears every acked command (for latency metrics), `on_session` every session going up (True)
        or down (False), keyed by peer address; both are called from the driver's threads and must not block."""
        self._neighbors = _checked_neighbors(neighbors)
        self._workdir = workdir
        self._exabgp = exabgp or default_exabgp()
        self._netns = netns  # run ExaBGP in this named network namespace (the lab and tests); None: ours
        self._python = python or Path(sys.executable)
        self._ack_timeout = ack_timeout
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._backoff = backoff
        self._log_level = log_level
        self._on_command = on_command
        self._on_session = on_session

        self._state = threading.Condition()  # guards every field below
        self._intent: frozenset[Route] | dict[PeerAddress, frozenset[Route]] = frozenset()
        self._intent_known = False  # set_desired was called: only then may End-of-RIB say "that is everything"
        self._eor_due: set[str] = set()  # sessions up since ExaBGP last sent them End-of-RIB
        self._reconcile_due = False  # a session came up: send it what changed while it was down
        self._announced: dict[PeerAddress, dict[Prefix, Route]] = {}
        self._sessions: dict[str, _Session] = {n.key: _Session() for n in self._neighbors}
        self._launched: tuple[Neighbor, ...] = ()  # the neighbors the current ExaBGP was started with
        self._process: subprocess.Popen[bytes] | None = None
        self._link: RelayLink | None = None
        self._stats = DriverStats()
        self._unsendable: set[tuple[PeerAddress, Route]] = set()
        self._restart_requested = False
        self._listening = True  # False once ExaBGP could not bind a neighbor's listen port: run it connecting only
        self._started: threading.Event | None = None
        self._start_error: ExaBGPStartError | None = None

        self._applying = threading.Lock()  # one batch of commands at a time
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._output: deque[str] = deque(maxlen=_LOG_TAIL_LINES)

    # ---- the public face ------------------------------------------------------------------------------------------

    @property
    def announced(self) -> frozenset[Route]:
        """Every route ExaBGP has acked, for any neighbor."""
        with self._state:
            return frozenset(r for routes in self._announced.values() for r in routes.values())

    def announced_to(self, peer: PeerAddress) -> frozenset[Route]:
        with self._state:
            return frozenset(self._announced.get(peer, {}).values())

    @property
    def sessions(self) -> dict[str, bool]:
        """Peer address → whether ExaBGP last reported the session Established."""
        with self._state:
            return {key: session.state == ESTABLISHED for key, session in self._sessions.items()}

    def session_status(self) -> dict[str, SessionStatus]:
        """Peer address → the status of its session."""
        with self._state:
            return {key: session.status() for key, session in self._sessions.items()}

    @property
    def pid(self) -> int | None:
        with self._state:
            return self._process.pid if self._process is not None else None

    @property
    def relay_pid(self) -> int | None:
        with self._state:
            return self._link.pid if self._link is not None else None

    @property
    def stats(self) -> DriverStats:
        with self._state:
            counts = {str(peer): len(routes) for peer, routes in self._announced.items()}
            return dataclasses.replace(self._stats, announced=counts, unsendable=len(self._unsendable))

    @property
    def workdir(self) -> Path:
        return self._workdir

    def output(self) -> str:
        """The last lines ExaBGP (and the relay) wrote."""
        with self._state:
            return "\n".join(self._output)

    def start(self) -> None:
        """Start ExaBGP and wait for its relay; raise ExaBGPStartError (after cleaning up) if the first start fails.
        Later failures are retried by the supervisor."""
        if self._supervisor is not None:
            raise RuntimeError("the driver was already started")
        started = threading.Event()
        with self._state:
            self._started = started
        self._supervisor = threading.Thread(target=self._supervise, name="exabgp-supervisor", daemon=True)
        self._supervisor.start()
        started.wait()
        if self._start_error is not None:
            self._supervisor.join()
            raise self._start_error

    def set_desired(self, routes: Routes) -> None:
        """Make ExaBGP announce exactly `routes`: one collection for every neighbor, or a mapping peer address →
        routes (neighbors it leaves out get none). One route per prefix and neighbor. Returns once ExaBGP acked the
        difference (announcements for Established sessions only: the others get theirs when they come up)."""
        intent: frozenset[Route] | dict[PeerAddress, frozenset[Route]]
        if isinstance(routes, Mapping):
            intent = {peer: frozenset(by_prefix(rs).values()) for peer, rs in routes.items()}
        else:
            intent = frozenset(by_prefix(routes).values())
        with self._state:
            self._intent = intent
            self._intent_known = True
        self._reconcile()

    def reconfigure(self, neighbors: Sequence[Neighbor]) -> None:
        """Use a new set of neighbors: ExaBGP is restarted with them (at once, no backoff) and re-announces."""
        checked = _checked_neighbors(neighbors)
        with self._state:
            if checked == self._neighbors:
                return
            self._neighbors = checked
            self._sessions = {n.key: self._sessions.get(n.key) or _Session() for n in checked}
            self._restart_requested = True
            self._listening = True
        self._wake.set()

    def wait_established(self, timeout: float) -> bool:
        """Wait until every neighbor's session is Established; False on timeout."""
        with self._state:
            return self._state.wait_for(
                lambda: bool(self._sessions) and all(s.state == ESTABLISHED for s in self._sessions.values()), timeout
            )

    def drain(self, seconds: float, graceful_shutdown: float = 0.0) -> None:
        """Withdraw everything, give the peers `seconds` to move traffic away, then stop ExaBGP. With
        `graceful_shutdown`, first announce every route again with the GRACEFUL_SHUTDOWN community (65535:0, RFC 8326)
        and wait that long: a router that lowers such paths' preference moves new flows away before the withdrawal."""
        if graceful_shutdown > 0:
            log.info("draining: every route tagged GRACEFUL_SHUTDOWN for %.1fs", graceful_shutdown)
            self.tag_graceful_shutdown()
            self._stopping.wait(graceful_shutdown)
        log.info("draining: withdrawing every route, then stopping ExaBGP in %.1fs", seconds)
        with self._state:
            self._intent = frozenset()
        self._reconcile()
        self._stopping.wait(seconds)
        self.stop()

    def tag_graceful_shutdown(self) -> None:
        """Announce every desired route again with the GRACEFUL_SHUTDOWN community added (until the next
        `set_desired`)."""
        with self._state:
            self._intent = _tagged(self._intent, GRACEFUL_SHUTDOWN)
        self._reconcile()

    def stop(self) -> None:
        """Stop ExaBGP (and its relay) now, without withdrawing first; the sessions close, so peers drop the routes."""
        self._stopping.set()
        self._wake.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join()

    # ---- applying the difference --------------------------------------------------------------------------------

    def _desired(self) -> dict[PeerAddress, frozenset[Route]]:
        """What each neighbor should hear, less routes it cannot carry: `next-hop self` for a prefix of the other
        family than the session's (ExaBGP has no address of that family to put there, and answers `error`)."""
        desired: dict[PeerAddress, frozenset[Route]] = {}
        unsendable: set[tuple[PeerAddress, Route]] = set()
        for neighbor in self._launched:
            peer = neighbor.peer_address
            routes = self._intent if isinstance(self._intent, frozenset) else self._intent.get(peer, frozenset())
            cannot = {r for r in routes if r.next_hop == SELF and r.version != peer.version}
            desired[peer] = routes - cannot
            unsendable |= {(peer, r) for r in cannot}
        if unsendable != self._unsendable:
            for peer, r in sorted(unsendable - self._unsendable, key=lambda pr: (str(pr[0]), pr[1].sort_key())):
                log.error(
                    "not announcing %s to %s: next-hop self needs an IPv%d session", r.prefix_text(), peer, r.version
                )
            self._unsendable = unsendable
        return desired

    def _reconcile(self) -> None:
        with self._applying:
            with self._state:
                link = self._link
                desired = self._desired()
                announced = {peer: list(routes.values()) for peer, routes in self._announced.items()}
                up = {key for key, session in self._sessions.items() if session.state == ESTABLISHED}
                self._reconcile_due = False
            if link is None or link.closed.is_set():
                return
            # Announcements only for Established sessions: ExaBGP 5.0.15 keeps an announcement queued for a session
            # that is not up even when a later withdraw or attribute change should replace it, and sends it when the
            # session comes up. Withdrawals always: ExaBGP re-announces what its RIB holds to a session that comes
            # back, and the router dropped the session's paths anyway (or, under graceful restart, End-of-RIB does).
            changes = [c for c in updates(desired, announced) if c.action == "withdraw" or _up(c, up)]
            results: list[CommandResult] = []
            try:
                if changes:
                    acks = link.execute([c.line() for c in changes], self._ack_timeout)
                    results = [CommandResult(c, a.ok, a.seconds) for c, a in zip(changes, acks, strict=True)]
                    with self._state:
                        if self._link is link:
                            self._record(results)
                self._end_of_rib(link)
            except RelayGone as exc:
                log.warning("could not apply %d route changes: %s", len(changes), exc)
                self._wake.set()
                return
        for result in results:
            if not result.ok:
                log.error("ExaBGP refused %r", result.change.line())
            self._notify(self._on_command, result)

    def _end_of_rib(self, link: RelayLink) -> None:
        """Tell each session that came up End-of-RIB, once ExaBGP holds every route desired for it
        (commands are acked in order, and ExaBGP sends End-of-RIB after the routes it holds): the router then drops
        the stale paths of the previous session that are no longer announced, and only those."""
        with self._state:
            if not self._intent_known:
                return
            due = sorted(key for key in self._eor_due if self._is_established(key))
            self._eor_due.clear()
        if not due:
            return
        lines = [f"neighbor {key} announce eor {_FAMILY[ipaddress.ip_address(key).version]}" for key in due]
        for key, ack in zip(due, link.execute(lines, self._ack_timeout), strict=True):
            if ack.ok:
                log.info("End-of-RIB sent to %s: it has every route (a graceful-restart router drops the rest)", key)
            else:
                log.error("ExaBGP refused End-of-RIB for %s", key)

    def _record(self, results: list[CommandResult]) -> None:
        failed = 0
        for result in results:
            change = result.change
            assert change.neighbor is not None
            routes = self._announced.setdefault(change.neighbor, {})
            if not result.ok:
                failed += 1
            elif change.action == "announce":
                routes[change.announcement.prefix] = change.announcement
            else:
                routes.pop(change.announcement.prefix, None)
        self._stats = dataclasses.replace(
            self._stats,
            commands=self._stats.commands + len(results),
            failed_commands=self._stats.failed_commands + failed,
        )

    def _notify(self, callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("a driver callback failed")

    # ---- messages from ExaBGP -------------------------------------------------------------------------------------

    def _on_message(self, message: object) -> None:
        state = parse_neighbor_state(message)
        if state is not None:
            self._on_state(state)

    def _on_state(self, state: NeighborState) -> None:
        key = _normalised(state.peer)
        with self._state:
            session = self._sessions.get(key)
            if session is None:
                return
            was_up = session.state == ESTABLISHED
            session.follow(state, time.monotonic())
            up = session.state == ESTABLISHED
            if up == was_up:
                return
            if up:  # what changed while it was down goes now, from the supervisor's thread: this one reads the acks
                self._reconcile_due = True
                self._eor_due.add(key)
                self._wake.set()
            why = session.reason_this_episode()
            session.logged.add(why)
            self._state.notify_all()
        if up:
            log.info("BGP session with %s is established", key)
        else:
            log.warning("BGP session with %s is down: %s", key, why or "no reason given")
        self._notify(self._on_session, key, up)

    def _on_log_failure(self, peer: str, failure: Failure) -> None:
        """A line of ExaBGP's log said why a connection to `peer` failed."""
        key, now = _normalised(peer), time.monotonic()
        with self._state:
            session = self._sessions.get(key)
            if session is None:
                return
            session.heard = True
            if session.state == ESTABLISHED or session.vague_at is None or now - session.vague_at > _HINT_WINDOW:
                session.hint = (failure, now)  # for the state message that will follow
            if session.state != ESTABLISHED:
                session.record(failure, now)

    def _check_sessions(self) -> None:
        """Log why sessions are not up (see `_Session`), and find those ExaBGP has tried for a hold time without a
        word: no TCP connection was made."""
        now, news = time.monotonic(), []
        with self._state:
            for neighbor in self._launched:
                session = self._sessions.get(neighbor.key)
                if session is None:
                    continue
                if session.silent(now, neighbor.hold_time):
                    session.record(_silence(neighbor.hold_time), now)
                text = session.news(now)
                if text is not None:
                    news.append((neighbor.key, text))
        for key, text in news:
            log.warning("BGP session with %s is not up: %s (ExaBGP keeps trying)", key, text)

    def _is_established(self, key: str) -> bool:
        session = self._sessions.get(key)
        return session is not None and session.state == ESTABLISHED

    # ---- supervision ----------------------------------------------------------------------------------------------

    def _supervise(self) -> None:
        try:
            self._run_until_stopped()
        except Exception as exc:
            log.exception("the ExaBGP supervisor failed")
            self._report_start(ExaBGPStartError(f"cannot start ExaBGP: {exc}"))
        finally:
            self._teardown()

    def _run_until_stopped(self) -> None:
        """Start, watch and restart ExaBGP until `stop()`; give up only if the very first start fails."""
        delay = self._backoff.initial
        while not self._stopping.is_set():
            with self._state:
                neighbors = self._neighbors
                self._restart_requested = False
            if not neighbors:
                self._report_start(None)
                self._wake.wait()
                self._wake.clear()
                continue
            began = time.monotonic()
            try:
                self._launch(neighbors if self._listening else _connecting_only(neighbors))
            except (ExaBGPStartError, OSError, ValueError) as exc:
                self._teardown(_first_clause(str(exc)))
                if self._cannot_listen():
                    continue
                error = exc if isinstance(exc, ExaBGPStartError) else ExaBGPStartError(f"cannot start ExaBGP: {exc}")
                if self._report_start(error):
                    return
                log.error("%s", error)
            else:
                self._report_start(None)
                self._reconcile()
                why = self._watch()
                self._teardown(None if why in (None, "reconfigured") else _first_clause(why))
                if why is None:
                    return
                if why == "reconfigured" or self._cannot_listen():
                    delay = self._backoff.initial
                    continue
                log.warning("%s; restarting ExaBGP in %.1fs", why, delay)
            if time.monotonic() - began > self._backoff.reset_after:
                delay = self._backoff.initial
            self._stopping.wait(delay)
            delay = min(delay * 2, self._backoff.maximum)

    def _cannot_listen(self) -> bool:
        """Whether ExaBGP just failed to bind a listen port; if so, it runs without listening from now on (until
        `reconfigure`): sessions still come up, and come back, by ExaBGP connecting out, only more slowly after a
        silent outage. Another BGP daemon on the node (port 179) must not keep every route from being announced."""
        if not self._listening or not any(n.listen_port for n in self._neighbors):
            return False
        failure = next((line for line in self.output().splitlines() if _BIND_FAILURE in line), None)
        if failure is None:
            return False
        self._listening = False
        log.error(
            "ExaBGP cannot listen for the routers' connections (%s); running it without: after a silent outage a "
            "session comes back only on ExaBGP's own reconnect backoff (up to 60 s). Free the port, or set the "
            "BGPPeer's listenPort to 0",
            failure.split("] ", 1)[-1],
        )
        return True

    def _report_start(self, error: ExaBGPStartError | None) -> bool:
        """Tell a waiting `start()` how the first launch went; False (and nothing done) after the first."""
        with self._state:
            started = self._started
            if started is None or started.is_set():
                return False
            self._start_error = error
        started.set()
        return True

    def _watch(self) -> str | None:
        """Block until this ExaBGP must go; why (None: the driver stops)."""
        while True:
            self._wake.wait(_WATCH_INTERVAL)
            self._wake.clear()
            self._check_sessions()
            with self._state:
                process, link, restart = self._process, self._link, self._restart_requested
            if self._stopping.is_set():
                return None
            with self._state:
                due = self._reconcile_due or (bool(self._eor_due) and self._intent_known)
            if due:
                self._reconcile()
            if restart:
                return "reconfigured"
            if process is not None and process.poll() is not None:
                with self._state:
                    self._stats = dataclasses.replace(self._stats, exits=self._stats.exits + 1)
                return f"ExaBGP exited with status {process.returncode}"
            if link is not None and link.closed.is_set():
                with self._state:
                    self._stats = dataclasses.replace(self._stats, relay_losses=self._stats.relay_losses + 1)
                return f"lost the relay (pid {link.pid}); tore ExaBGP down so that no route outlives it"

    def _launch(self, neighbors: tuple[Neighbor, ...]) -> None:
        workdir = self._workdir
        workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        socket_path = workdir / "relay.sock"
        config_path, env_path = workdir / "exabgp.conf", workdir / "exabgp.env"
        relay = [str(self._python), "-m", "dnslb.adapters.exabgp.relay", str(socket_path)]
        config_path.write_text(render_config(neighbors, relay))
        try:
            user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:  # a random UID without a passwd entry (some platforms): ExaBGP only drops privileges as root
            user = os.environ.get("USER") or "nobody"
        env_path.write_text(render_environment(environment(user, self._log_level)))
        with self._state:
            self._launched = neighbors
            self._eor_due.clear()
            self._output.clear()
            # before the spawn: a session may come up, and say so, before the relay is accepted
            self._announced = {}
            launched = {n.key for n in neighbors}
            for key, session in self._sessions.items():
                session.move(CONNECTING if key in launched else IDLE)
                session.new_episode()
                session.heard = False
        listener = RelayListener(socket_path)
        netns_fd = os.open(f"/var/run/netns/{self._netns}", os.O_RDONLY) if self._netns else None
        try:
            process = subprocess.Popen(
                [str(self._exabgp), "server", str(config_path)],
                cwd=workdir,
                env=self._child_environment(env_path),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C or SIGTERM to the speaker's group must not skip the drain
                preexec_fn=_die_with_parent if netns_fd is None else _in_netns(netns_fd),  # noqa: PLW1509
            )
        except (OSError, subprocess.SubprocessError) as exc:
            listener.close()
            raise ExaBGPStartError(f"cannot run {self._exabgp}: {exc}") from exc
        finally:
            if netns_fd is not None:
                os.close(netns_fd)
        assert process.stdout is not None
        with self._state:
            self._process = process
            self._stats = dataclasses.replace(self._stats, starts=self._stats.starts + 1)
        threading.Thread(target=self._copy_output, args=(process.pid, process.stdout), daemon=True).start()
        try:
            link = listener.accept(self._start_timeout, process.pid, lambda: process.poll() is None, self._on_message)
        finally:
            listener.close()
        if link is None:
            if process.poll() is not None:
                why = f"ExaBGP exited with status {process.returncode}"
            else:
                why = f"ExaBGP's relay did not connect within {self._start_timeout:g}s"
            time.sleep(_WATCH_INTERVAL)  # let the last of its output arrive
            raise ExaBGPStartError(f"{why}; its output ends:\n{self.output()}")
        with self._state:
            self._link = link
            accepted = time.monotonic()  # ExaBGP runs its peers now (it forks the relay as it starts them)
            for neighbor in neighbors:
                if neighbor.key in self._sessions:
                    self._sessions[neighbor.key].trying_since = accepted
        log.info("ExaBGP %d started with %d neighbors; relay %d connected", process.pid, len(neighbors), link.pid)

    def _child_environment(self, env_path: Path) -> dict[str, str]:
        # inherited exabgp.* / exabgp_* variables would override the generated environment file
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("exabgp")}
        env["EXABGP_ENVFILE"] = str(env_path)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
        return env

    def _copy_output(self, pid: int, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            with self._state:
                self._output.append(line)
            # the relay writes to the stderr it inherits from ExaBGP, which is this stream
            relay = line.startswith(RELAY_PREFIX)
            log.log(logging.WARNING if relay else logging.DEBUG, "exabgp[%d] %s", pid, line)
            if not relay:
                self._read_failure(line)

    def _read_failure(self, line: str) -> None:
        """Whatever ExaBGP writes, this thread must go on reading its output (or ExaBGP blocks on a full pipe)."""
        try:
            found = log_failure(line)
            if found is not None:
                self._on_log_failure(*found)
        except Exception:
            log.exception("reading ExaBGP's output line %r failed", line[:200])

    def _teardown(self, why: str | None = None) -> None:
        """Stop ExaBGP and its relay, by PID, and forget what they announced. `why`: the failure that ends it (None:
        stopping, or restarting with new neighbors), for the sessions it ends."""
        with self._state:
            process, link = self._process, self._link
            self._process, self._link, self._launched = None, None, ()
            self._announced = {}
            changed = [key for key, session in self._sessions.items() if session.state == ESTABLISHED]
            now = time.monotonic()
            for session in self._sessions.values():
                if why is not None and session.state != IDLE:
                    if session.state == ESTABLISHED:
                        session.new_episode()
                    session.record(Failure(why, TCP), now)
                session.move(IDLE)
            self._state.notify_all()
        if link is not None:
            link.close()
        if process is not None:
            stop_process(process, self._stop_timeout, name="ExaBGP")  # SIGTERM: ExaBGP sends its peers a Cease
            if process.stdout is not None:
                process.stdout.close()
            log.info("ExaBGP %d stopped (status %s)", process.pid, process.returncode)
        if link is not None:
            _stop_relay(link.pid, self._workdir / "relay.sock", self._stop_timeout)
        for key in changed:
            self._notify(self._on_session, key, False)


def _checked_neighbors(neighbors: Sequence[Neighbor]) -> tuple[Neighbor, ...]:
    checked = tuple(neighbors)
    for neighbor in checked:
        if type(neighbor) is not Neighbor:
            raise TypeError(f"neighbors must be Neighbor values, not {type(neighbor).__name__}")
    keys = [n.key for n in checked]
    if len(set(keys)) != len(keys):
        raise ValueError("two neighbors share a peer address")
    return checked


def _up(change: Update, up: set[str]) -> bool:
    return change.neighbor is not None and change.neighbor.compressed in up


def _tagged(
    intent: frozenset[Route] | dict[PeerAddress, frozenset[Route]], community: Community
) -> frozenset[Route] | dict[PeerAddress, frozenset[Route]]:
    def tag(routes: frozenset[Route]) -> frozenset[Route]:
        return frozenset(dataclasses.replace(r, communities=(*r.communities, community)) for r in routes)

    return tag(intent) if isinstance(intent, frozenset) else {peer: tag(rs) for peer, rs in intent.items()}


def _connecting_only(neighbors: tuple[Neighbor, ...]) -> tuple[Neighbor, ...]:
    return tuple(dataclasses.replace(n, listen_port=None) for n in neighbors)


def _silence(hold_time: int) -> Failure:
    return Failure(
        f"no TCP connection within {hold_time}s: no route, no answer, or a TCP MD5 password the router does not share",
        SILENT,
    )


def _first_clause(text: str) -> str:
    """The start of an error message, up to its first ";" or line end."""
    lines = text.strip().splitlines()
    return lines[0].split(";")[0].strip() if lines else "ExaBGP stopped"


def _normalised(address: str) -> str:
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address


def _stop_relay(pid: int, socket_path: Path, timeout: float) -> None:
    """The relay leaves once ExaBGP is gone; if it has not within `timeout`, kill it, after checking by its command
    line that the PID still is our relay."""
    poll_until(lambda: not _alive(pid), timeout, interval=0.02)
    if _alive(pid) and os.fsencode(socket_path) in _command_line(pid):
        log.warning("relay %d outlived ExaBGP; killing it", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    # when the speaker is PID 1 of its container, orphans are its children: reap this one
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
