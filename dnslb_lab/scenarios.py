"""The lab's scenarios: what happens to the cluster, phase by phase, while the load runs.

Each scenario is a function of the running `Lab`, a `Timeline` that records phases, chaos events and convergence
times (what the report shows), and the length of one phase unit: most phases last one unit, an outage phase (a node
down) `OUTAGE_UNITS`. The node-down one replays the seed's production test. The load's two worlds (old.lab.test's
every-node records, dnslb's VIP) live through every scenario side by side, so each phase compares them.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from dnslb_lab import cluster
from dnslb_lab.lab import Lab
from dnslb_lab.report import Convergence, Mark, Phase

_WITHDRAW_GRACE = 10.0  # beyond the hold time: how long a withdrawal may take before it counts as not reached
# a dead node costs dnslb's world a burst (hold timer, ECMP remaps) and the old world failures for as long as it stays
# dead: outages long enough to show that, beyond the hold time plus the records' TTL (what DNS failover would take)
OUTAGE_UNITS = 2
_SETTLE = 5.0
# a drain waits until the node's ingress holds at most this many client connections (requests in flight: with
# keep-alive off a connection lasts one request), at most _DRAIN_LIMIT seconds, before its speaker withdraws
_DRAIN_LEFTOVER = 2
_DRAIN_LIMIT = 10.0  # a phase goes on this long after the change it waited for, so that what the change did stays in it


@dataclass
class Timeline:
    """Phases (contiguous), events and convergence measurements, on the wall clock the load generator uses."""

    phases: list[Phase] = field(default_factory=list)
    events: list[Mark] = field(default_factory=list)
    convergences: list[Convergence] = field(default_factory=list)
    say: Callable[[str], None] = print
    _current: tuple[str, float] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def phase(self, name: str) -> None:
        now = time.time()
        with self._lock:
            if self._current is not None:
                self.phases.append(Phase(self._current[0], self._current[1], now))
            self._current = (name, now)
        self.say(f"phase: {name}")

    def current(self) -> str:
        with self._lock:
            return self._current[0] if self._current else ""

    def finish(self) -> None:
        with self._lock:
            if self._current is not None:
                self.phases.append(Phase(self._current[0], self._current[1], time.time()))
                self._current = None

    def event(self, label: str) -> None:
        self.events.append(Mark(time.time(), label))
        self.say(f"event: {label}")

    def converged(self, name: str, seconds: float | None, detail: str = "") -> None:
        """Recorded as soon as the outcome is seen: now is when it happened, for the timeline."""
        self.convergences.append(Convergence(name, seconds, detail, at=time.time() if seconds is not None else None))
        shown = f"{seconds:.2f} s" if seconds is not None else f"not reached {detail}".strip()
        self.say(f"measured: {name}: {shown}")


Scenario = Callable[[Lab, Timeline, float], None]


def hold(seconds: float, since: float) -> None:
    """Sleep until `seconds` have passed since the monotonic time `since`."""
    remaining = since + seconds - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def _measure(
    lab: Lab, timeline: Timeline, name: str, condition: Callable[[], bool], *, since: float, limit: float
) -> float | None:
    """Record how long after `since` (monotonic) `condition` became true, polling at most `limit` seconds; returns
    when it did (monotonic), None when it did not."""
    at = lab.wait(condition, limit)
    timeline.converged(name, None if at is None else at - since, "" if at is not None else f"within {limit:g}s")
    return at


def _with(lab: Lab, name: str, vip: IPv4Address) -> Callable[[], bool]:
    """True once the router has a path for `vip` from node `name`."""
    return lambda: name in lab.paths(vip)


def _without(lab: Lab, name: str, vip: IPv4Address) -> Callable[[], bool]:
    return lambda: name not in lab.paths(vip)


def _quiet(lab: Lab, name: str) -> Callable[[], bool]:
    """True once node `name`'s ingress holds no more client connections than requests in flight."""
    return lambda: lab.client_connections(name) <= _DRAIN_LEFTOVER


def node_down(lab: Lab, timeline: Timeline, name: str, phase: float, world: str = "") -> None:
    """The node dies: its link goes dark, BGP's hold timer withdraws its paths; the node lifecycle controller marks
    it NotReady after a grace period; a database on it is rescheduled to another node. Lasts `OUTAGE_UNITS` phases."""
    outage = OUTAGE_UNITS * phase
    start = time.monotonic()
    lab.cut(name)  # before the phase opens: a request started in this phase can never reach the dead node
    timeline.phase(f"{world}{name} down")
    timeline.event(f"{name} link cut")
    vip = lab.vips[cluster.INGRESS.name]
    limit = lab.options.hold_time + _WITHDRAW_GRACE
    _measure(
        lab,
        timeline,
        f"{world}{name} down → path withdrawn in {lab.router_name}",
        _without(lab, name, vip),
        since=start,
        limit=limit,
    )
    hold(min(outage / 3, 5.0), start)
    lab.set_ready(name, False)
    timeline.event(f"{name} NotReady")
    if lab.database_node == name:
        survivor = next(n for n, parts in lab.nodes.items() if not parts.down)
        moved = time.monotonic()
        lab.start_database(survivor)
        timeline.event(f"database rescheduled to {survivor}")
        db_vip = lab.vips[cluster.DATABASE.name]
        _measure(
            lab,
            timeline,
            f"database on {survivor} → its path in {lab.router_name}",
            lab.paths_are(db_vip, {survivor}),
            since=moved,
            limit=30.0,
        )
    hold(outage, start)


def node_back(lab: Lab, timeline: Timeline, name: str, phase: float, world: str = "") -> None:
    start = time.monotonic()
    timeline.phase(f"{world}{name} back")
    lab.restore(name)
    lab.set_ready(name, True)
    timeline.event(f"{name} link up, Ready")
    vip = lab.vips[cluster.INGRESS.name]
    back = _measure(
        lab, timeline, f"{world}{name} back → path in {lab.router_name}", _with(lab, name, vip), since=start, limit=30.0
    )
    hold(phase, start)
    if back is not None:  # a late return (a speaker's reconnect backoff) still has its ECMP remap in this phase
        hold(_SETTLE, back)


def baseline(timeline: Timeline, phase: float, name: str = "baseline") -> None:
    start = time.monotonic()
    timeline.phase(name)
    hold(phase, start)


def run_node_down(lab: Lab, timeline: Timeline, phase: float) -> None:
    """The production test: each node taken down in turn, then brought back."""
    baseline(timeline, phase)
    for name in list(lab.nodes):
        node_down(lab, timeline, name, phase)
        node_back(lab, timeline, name, phase)


def run_drain(lab: Lab, timeline: Timeline, phase: float) -> None:
    """Each node drained in turn for maintenance, as an operator drains a node that carries an ingress: cordoned,
    the ingress stops keep-alive (as ingress controllers do when they drain) so its clients reconnect while the
    node still has its path, then SIGTERM to its speaker (an ordered drain, since the node is cordoned); then its
    speaker started again and the node uncordoned. Without the ingress step, the drained node's established
    connections are cut when its path goes: no stateless router can keep them."""
    baseline(timeline, phase)
    vip = lab.vips[cluster.INGRESS.name]
    for name in list(lab.nodes):
        start = time.monotonic()
        timeline.phase(f"{name} drained")
        if lab.database_node == name:  # the drain evicts the database first, as `kubectl drain` would
            survivor = next(n for n in lab.nodes if n != name)
            lab.start_database(survivor)
            timeline.event(f"database evicted to {survivor}")
            db_vip = lab.vips[cluster.DATABASE.name]
            _measure(lab, timeline, f"database on {survivor} → its path in {lab.router_name}",
                     lab.paths_are(db_vip, {survivor}), since=start, limit=30.0)  # fmt: skip
            start = time.monotonic()
        lab.set_cordoned(name, True)
        lab.set_keepalive(name, False)
        timeline.event(f"{name} cordoned, its ingress stops keep-alive")
        _measure(lab, timeline, f"{name} ingress → its client connections closed", _quiet(lab, name),
                 since=start, limit=_DRAIN_LIMIT)  # fmt: skip
        speaker = lab.nodes[name].speaker
        assert speaker is not None
        speaker.send_signal(signal.SIGTERM)
        timeline.event(f"{name} speaker SIGTERM")
        _measure(
            lab,
            timeline,
            f"{name} drain → path withdrawn in {lab.router_name}",
            _without(lab, name, vip),
            since=start,
            limit=15,
        )
        lab.stop_speaker(name)
        hold(phase, start)
        start = time.monotonic()
        timeline.phase(f"{name} speaker back")
        lab.set_cordoned(name, False)
        lab.set_keepalive(name, True)
        lab.start_speaker(name)
        timeline.event(f"{name} uncordoned, speaker started")
        _measure(
            lab,
            timeline,
            f"{name} speaker start → path in {lab.router_name}",
            _with(lab, name, vip),
            since=start,
            limit=30,
        )
        hold(phase, start)


def run_restart(lab: Lab, timeline: Timeline, phase: float) -> None:
    """Each node's speaker restarted in turn, as a rolling update does (SIGTERM, then a new speaker), with graceful
    restart on the BGPPeer: the router keeps the node's paths until the new speaker's End-of-RIB."""
    baseline(timeline, phase)
    vip = lab.vips[cluster.INGRESS.name]
    for name in list(lab.nodes):
        start = time.monotonic()
        timeline.phase(f"{name} speaker restarted")
        with PathWatch(lab, vip) as watch:
            lab.stop_speaker(name)
            timeline.event(f"{name} speaker stopped (SIGTERM)")
            said = _said(lab.options.logs / f"speaker-{name}.log", "End-of-RIB sent")
            lab.start_speaker(name)
            timeline.event(f"{name} speaker started")
            _measure(lab, timeline, f"{name} speaker start → End-of-RIB to the router", said, since=start, limit=30.0)
            hold(_SETTLE, time.monotonic())
        timeline.event(f"{name} restart: {watch.changes} path changes at the router")
        hold(phase, start)


class PathWatch:
    """Counts changes of the router's set of paths for one VIP, sampled every 50 ms in a thread."""

    def __init__(self, lab: Lab, vip: IPv4Address) -> None:
        self._lab, self._vip = lab, vip
        self.changes = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="path-watch", daemon=True)

    def __enter__(self) -> PathWatch:
        self._last = self._lab.paths(self._vip)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(0.05):
            paths = self._lab.paths(self._vip)
            if paths != self._last:
                self.changes += 1
                self._last = paths


def _said(log: Path, text: str) -> Callable[[], bool]:
    """Whether `log` says `text` after what it held when this was called (a speaker's log outlives the speaker)."""
    offset = log.stat().st_size if log.exists() else 0

    def said() -> bool:
        try:
            with log.open("rb") as file:
                file.seek(offset if log.stat().st_size >= offset else 0)  # a new speaker may start it afresh
                return text in file.read().decode(errors="replace")
        except OSError:
            return False

    return said


def run_flapping(lab: Lab, timeline: Timeline, phase: float) -> None:
    """One node heavily loaded (rate-limited uplink, slow app) while its Ready condition toggles: first with the
    speaker's damping off, then on, so the two halves compare side by side."""
    name = list(lab.nodes)[-1]
    vip = lab.vips[cluster.INGRESS.name]
    baseline(timeline, phase)
    start = time.monotonic()
    timeline.phase(f"{name} slow")
    lab.set_slow(name, True)
    timeline.event(f"{name} slow (tbf 2mbit, +200 ms)")
    hold(phase, start)
    for damping in (False, True):
        label = "damped" if damping else "no damping"
        start = time.monotonic()
        timeline.phase(f"restart {name} speaker, {label}")
        lab.stop_speaker(name)
        lab.set_ready(name, True)
        lab.start_speaker(name, damping=damping)
        lab.wait(_with(lab, name, vip), 30.0)
        hold(min(phase / 2, 3.0), start)
        start = time.monotonic()
        timeline.phase(f"flapping, {label}")
        timeline.event(f"{name} Ready flaps ({label})")
        churn = _flap(lab, name, vip, phase, start)
        timeline.converged(
            f"flapping, {label}: {name} in ECMP",
            churn.announced,
            f"of {churn.seconds:.1f} s; {churn.losses} Ready losses, {churn.path_changes} path changes at the router",
        )
        lab.set_ready(name, True)
    start = time.monotonic()
    timeline.phase("recovered")
    lab.set_slow(name, False)
    lab.stop_speaker(name)
    lab.start_speaker(name)
    timeline.event(f"{name} fast and steady again")
    hold(phase, start)


@dataclass(frozen=True)
class Churn:
    """What the router saw of a flapping node: how long its path was in the ECMP set, how often it changed."""

    seconds: float
    announced: float
    losses: int
    path_changes: int


def _flap(lab: Lab, name: str, vip: IPv4Address, phase: float, start: float) -> Churn:
    """Toggle the node's Ready every second for the phase while watching its path at the router."""
    losses = int(phase // 2)

    def toggle() -> None:
        for index in range(losses):
            lab.set_ready(name, False)
            hold(2 * index + 1.0, start)
            lab.set_ready(name, True)
            hold(2 * index + 2.0, start)

    thread = threading.Thread(target=toggle, name="flap", daemon=True)
    thread.start()
    announced, changes = 0.0, 0
    last, was_in = time.monotonic(), name in lab.paths(vip)
    while thread.is_alive():
        time.sleep(0.05)
        now, is_in = time.monotonic(), name in lab.paths(vip)
        announced += (now - last) if was_in else 0.0
        changes += is_in != was_in
        last, was_in = now, is_in
    return Churn(time.monotonic() - start, announced, losses, changes)


def run_migrate(lab: Lab, timeline: Timeline, phase: float) -> None:
    """From the old world (web's names as A records listing every node, NodePort style) to dnslb with takeover, a
    node failure in each world, and the rollback to the old records. The load's dnslb world follows web's names
    through it, so it matches the old world (old.lab.test) until the takeover and again after the rollback."""
    first = next(iter(lab.nodes))
    host = cluster.WEB_HOSTS[0]
    legacy = lab.legacy_answer()
    vip = str(lab.vips[cluster.INGRESS.name])
    baseline(timeline, phase, "old world: all-nodes A record")
    node_down(lab, timeline, first, phase, "old world: ")
    node_back(lab, timeline, first, phase, "old world: ")
    start = time.monotonic()
    timeline.phase("dnslb: takeover")
    lab.kubectl_patch_provider({"takeover": True})
    timeline.event("DNSProvider takeover: true")
    _measure(lab, timeline, f"takeover → {host} answers the VIP", lab.answers(host, (vip,)), since=start, limit=60.0)
    hold(phase, start)
    node_down(lab, timeline, first, phase, "dnslb: ")
    node_back(lab, timeline, first, phase, "dnslb: ")
    start = time.monotonic()
    timeline.phase("rollback")
    lab.kubectl_patch_provider({"takeover": False})
    result = lab.dnslb("dns", "rollback", "--provider", cluster.DNS_PROVIDER)
    timeline.event("dnslb dns rollback" + ("" if result.returncode == 0 else f" failed: {result.stderr.strip()}"))
    _measure(
        lab, timeline, f"rollback → {host} answers every node again", lab.answers(host, legacy), since=start, limit=30.0
    )
    hold(phase, start)


SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "node-down": (run_node_down, "nodes taken down one by one and brought back (the production test)"),
    "drain": (
        run_drain,
        "each node drained in turn: cordoned, its ingress stops keep-alive, SIGTERM to its "
        "speaker, then started and uncordoned",
    ),
    "restart": (run_restart, "each node's speaker restarted in turn (a rolling update), graceful restart on"),
    "flapping": (run_flapping, "one slow node whose Ready flaps, without and with damping, side by side"),
    "migrate": (run_migrate, "all-nodes A record → dnslb with takeover → rollback, a node failure in each world"),
}


def phase_units(scenario: str, nodes: int) -> int:
    """How many phase units the scenario lasts (an outage phase counts `OUTAGE_UNITS`), to split a total duration."""
    node_cycle = OUTAGE_UNITS + 1  # a node down, then back
    return {
        "node-down": 1 + node_cycle * nodes,
        "drain": 1 + 2 * nodes,
        "restart": 1 + nodes,
        "flapping": 2 + 2 * 2 + 1,
        "migrate": 1 + node_cycle + 1 + node_cycle + 1,
    }[scenario]
