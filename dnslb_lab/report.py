"""The lab's report: what the load generator saw, phase by phase, with the chaos events and convergence times.

The load generator writes one JSON object per finished request (JSONL); `read_samples` reads that file back and
`build_report` turns samples, phases, events and convergence measurements into a `Report`, which renders as a
human-readable table (`to_text`) and as plain JSON (`to_json`). Everything here is pure apart from `read_samples`
and `write_report`.

HTTP users come in two worlds at once, on the same nodes through the same events: "old" resolves a name listing every
node's address (the DNS of NodePort days), "dnslb" a name answered with the VIP. Each world has the same mix of client
kinds ("single": the first resolved address only; "fallback": happy eyeballs over all of them), and the report
compares the worlds phase by phase, per client kind, with the failures sorted by cause.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

ALL = "all"
KNOWN_KINDS = ("http", "db")
OLD_WORLD = "old"
DNSLB_WORLD = "dnslb"
CLIENT_KINDS = ("single", "fallback")
# why a request failed, as far as the error's class tells: before any server saw it (connect), an established
# connection broken under it (what an ECMP remap does), no answer in time on a connection that was up, a bad status
CAUSES = ("connect timeout", "connect failed", "reset", "read timeout", "http error", "other")
CAUSES_LEGEND = (
    "causes: connect = no connection made (a dead address, no route); read timeout = no answer on a connection;",
    "        reset = a connection reset or closed under a request (an ECMP remap sends it to a node that never saw it)",
)
_CAUSE_OF_ERROR = {
    "ConnectTimeout": "connect timeout",
    "ConnectError": "connect failed",
    "ConnectionRefusedError": "connect failed",
    "ReadError": "reset",
    "WriteError": "reset",
    "RemoteProtocolError": "reset",
    "ConnectionResetError": "reset",
    "BrokenPipeError": "reset",
    "BadReply": "reset",
    "ReadTimeout": "read timeout",
    "WriteTimeout": "read timeout",
}
WHOLE_RUN = "whole run"
TOP_ERRORS = 5
PERCENTILES = (50, 95, 99)

MetaValue = str | int | float
_T = TypeVar("_T")
Row = tuple[str, ...]


@dataclass(frozen=True)
class Sample:
    """One finished request, as the load generator logged it."""

    t: float  # epoch seconds when the request started
    kind: str  # "http" or "db"
    ok: bool
    latency: float  # seconds from start to answer or failure
    node: str | None  # the node that answered; None on failure
    error: str | None  # short text on failure, else None
    client: str | None = None  # HTTP: the user's client kind ("single", "fallback"); None for the database
    world: str | None = None  # HTTP: "old" or "dnslb" (or the URL's host); None for the database


def counted_at(sample: Sample) -> float:
    """When a request counts: a success when it started, a failure when it failed. A fault opens its phase right
    after it strikes, so a request in flight at that instant started in the phase before and fails in the fault's."""
    return sample.t if sample.ok else sample.t + sample.latency


@dataclass(frozen=True)
class Phase:
    """A named time window of the scenario: the samples that count in it (`counted_at`) belong to it."""

    name: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Mark:
    """A mark on the timeline: a chaos step or an observation at one instant, e.g. "cut node1 link"."""

    t: float
    label: str


@dataclass(frozen=True)
class Convergence:
    """How long something took to converge; `seconds` is None when it never did. A measurement named "cause →
    outcome" (e.g. "node1 down → path withdrawn in BIRD") is a moment on the timeline: `at` is when the outcome was
    seen (epoch seconds), when the lab recorded it; the plot otherwise counts `seconds` from the start of the phase
    the cause names."""

    name: str
    seconds: float | None
    detail: str = ""
    at: float | None = None

    @property
    def reached(self) -> bool:
        return self.seconds is not None


@dataclass(frozen=True)
class PhaseStats:
    """Request statistics of one kind ("all", "http", "db") within one time window.

    Percentiles are nearest-rank over the latencies of OK requests, None when there are none; `max_ms` covers all
    requests, failures included, because a timeout is the longest wait a user had.
    """

    kind: str
    requests: int
    failures: int
    failure_rate: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    answers_by_node: dict[str, int] = field(default_factory=dict)
    top_errors: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "failure_rate": round(self.failure_rate, 6),
            "rps": round(self.rps, 3),
            "p50_ms": _round(self.p50_ms),
            "p95_ms": _round(self.p95_ms),
            "p99_ms": _round(self.p99_ms),
            "max_ms": _round(self.max_ms),
            "answers_by_node": dict(self.answers_by_node),
            "top_errors": [{"error": message, "count": count} for message, count in self.top_errors],
        }


@dataclass(frozen=True)
class Tally:
    """The HTTP requests of one world's users of one client kind ("all": every kind) in one time window, and their
    failures by cause (in `CAUSES` order, causes seen only)."""

    world: str
    client: str
    requests: int
    failures: int
    causes: tuple[tuple[str, int], ...] = ()

    @property
    def failure_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "failure_rate": round(self.failure_rate, 6),
            "causes": dict(self.causes),
        }


@dataclass(frozen=True)
class PhaseReport:
    """A time window and its statistics: one `PhaseStats` for "all", then one per kind seen in the run; and one
    `Tally` per world and client kind seen in the run (client "all" first)."""

    name: str
    start: float
    end: float
    stats: tuple[PhaseStats, ...]
    tallies: tuple[Tally, ...] = ()

    @property
    def duration(self) -> float:
        return self.end - self.start

    def stats_for(self, kind: str = ALL) -> PhaseStats:
        for stats in self.stats:
            if stats.kind == kind:
                return stats
        raise KeyError(kind)

    def tally(self, world: str, client: str = ALL) -> Tally:
        for tally in self.tallies:
            if (tally.world, tally.client) == (world, client):
                return tally
        raise KeyError((world, client))

    def to_json(self, started: float) -> dict[str, Any]:
        worlds: dict[str, dict[str, Any]] = {}
        for tally in self.tallies:
            worlds.setdefault(tally.world, {})[tally.client] = tally.to_json()
        return {
            "name": self.name,
            "start": self.start,
            "end": self.end,
            "start_offset": round(self.start - started, 3),
            "end_offset": round(self.end - started, 3),
            "duration": round(self.duration, 3),
            "stats": {stats.kind: stats.to_json() for stats in self.stats},
            "worlds": worlds,
        }


@dataclass(frozen=True)
class Comparison:
    """The whole run's HTTP failures in dnslb's world against the old world's (same users, events and moments)."""

    old: Tally
    dnslb: Tally

    @property
    def failures_percent(self) -> float | None:
        """dnslb's failures as a percentage of the old world's; None when the old world had none."""
        return 100 * self.dnslb.failures / self.old.failures if self.old.failures else None

    @property
    def failure_rate_percent(self) -> float | None:
        return 100 * self.dnslb.failure_rate / self.old.failure_rate if self.old.failure_rate else None

    def to_json(self) -> dict[str, Any]:
        return {
            "old_requests": self.old.requests,
            "old_failures": self.old.failures,
            "dnslb_requests": self.dnslb.requests,
            "dnslb_failures": self.dnslb.failures,
            "dnslb_failures_percent_of_old": _round(self.failures_percent, 2),
            "dnslb_failure_rate_percent_of_old": _round(self.failure_rate_percent, 2),
        }

    def to_text(self) -> str:
        rates = f"failure rates {self.dnslb.failure_rate * 100:.2f} % and {self.old.failure_rate * 100:.2f} %"
        if self.failures_percent is None:
            return f"dnslb failures over the whole run: {self.dnslb.failures}; the old world had none ({rates})"
        return (
            f"dnslb failures over the whole run: {self.dnslb.failures} = {self.failures_percent:.1f} % of the old "
            f"world's {self.old.failures} ({rates})"
        )


@dataclass(frozen=True)
class Report:
    """Everything `dnslb lab run` learned about one scenario; offsets in the renderings count from `started`."""

    scenario: str
    started: float
    phases: tuple[PhaseReport, ...]
    overall: PhaseReport
    convergences: tuple[Convergence, ...] = ()
    events: tuple[Mark, ...] = ()
    meta: dict[str, MetaValue] = field(default_factory=dict)

    @property
    def ended(self) -> float:
        return self.overall.end

    @property
    def kinds(self) -> tuple[str, ...]:
        """The request kinds seen in the run, "http" and "db" first."""
        return tuple(stats.kind for stats in self.overall.stats if stats.kind != ALL)

    @property
    def worlds(self) -> tuple[str, ...]:
        """The worlds of the run's HTTP users, "old" and "dnslb" first."""
        return tuple(dict.fromkeys(tally.world for tally in self.overall.tallies))

    @property
    def clients(self) -> tuple[str, ...]:
        """The client kinds of the run's HTTP users, "single" and "fallback" first."""
        return tuple(dict.fromkeys(tally.client for tally in self.overall.tallies if tally.client != ALL))

    @property
    def comparison(self) -> Comparison | None:
        """dnslb against the old world over the whole run, when both ran."""
        if OLD_WORLD not in self.worlds or DNSLB_WORLD not in self.worlds:
            return None
        return Comparison(self.overall.tally(OLD_WORLD), self.overall.tally(DNSLB_WORLD))

    def to_json(self) -> dict[str, Any]:
        comparison = self.comparison
        return {
            "scenario": self.scenario,
            "started": self.started,
            "ended": self.ended,
            "duration": round(self.ended - self.started, 3),
            "meta": dict(self.meta),
            "kinds": list(self.kinds),
            "worlds": list(self.worlds),
            "clients": list(self.clients),
            "causes": list(CAUSES),
            "comparison": comparison.to_json() if comparison is not None else None,
            "phases": [phase.to_json(self.started) for phase in self.phases],
            "overall": self.overall.to_json(self.started),
            "convergences": [
                {
                    "name": c.name,
                    "reached": c.reached,
                    "seconds": c.seconds,
                    "detail": c.detail,
                    "at": c.at,
                    "offset": None if c.at is None else round(c.at - self.started, 3),
                }
                for c in self.convergences
            ],
            "events": [{"label": e.label, "t": e.t, "offset": round(e.t - self.started, 3)} for e in self.events],
        }

    def to_text(self) -> str:
        sections = [
            self._header_lines(),
            _align(self._table_rows()),
            self._worlds_lines(),
            self._errors_lines(),
            self._answers_lines(),
            self._convergence_lines(),
            self._event_lines(),
        ]
        return "\n\n".join("\n".join(lines) for lines in sections if lines) + "\n"

    def _header_lines(self) -> list[str]:
        when = datetime.fromtimestamp(self.started, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        total = self.overall.stats_for(ALL).requests
        lines = [
            f"lab report: {self.scenario}",
            f"started {when}, duration {self.ended - self.started:.1f} s, {total} requests",
        ]
        if self.meta:
            lines.append("  ".join(f"{key}={value}" for key, value in self.meta.items()))
        return lines

    def _table_rows(self) -> list[Row]:
        header: Row = (
            "phase",
            "kind",
            "start s",
            "dur s",
            "requests",
            "failed",
            "fail%",
            "rps",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
        )
        rows = [header]
        for phase in (*self.phases, self.overall):
            rows.append(_table_row(phase.name, phase.start - self.started, phase.duration, phase.stats_for(ALL)))
            if len(self.kinds) > 1:
                rows.extend(_table_row("", None, None, phase.stats_for(kind)) for kind in self.kinds)
        return rows

    def _worlds_lines(self) -> list[str]:
        """The worlds side by side: per phase and client kind, each world's requests, failures and their causes."""
        if not self.worlds:
            return []
        header: Row = ("phase", "client")
        for world in self.worlds:
            header += (f"{world} req", "failed", "fail%")
        header += tuple(f"{world} failures by cause" for world in self.worlds)
        rows = [header]
        for phase in (*self.phases, self.overall):
            for client in (ALL, *self.clients):
                tallies = [phase.tally(world, client) for world in self.worlds]
                numbers = (cell for t in tallies for cell in _tally_cells(t))
                rows.append((phase.name if client == ALL else "", client, *numbers, *map(_causes, tallies)))
        title = f"{' vs '.join(self.worlds)}: HTTP users per world and client kind, failures by cause"
        comparison = self.comparison
        footer = [*CAUSES_LEGEND, *([comparison.to_text()] if comparison is not None else [])]
        return [title, *_align(rows, text_tail=len(self.worlds)), *footer]

    def _errors_lines(self) -> list[str]:
        rows = [
            (phase.name, ", ".join(f"{message} ({count})" for message, count in phase.stats_for(ALL).top_errors))
            for phase in self.phases
            if phase.stats_for(ALL).top_errors
        ]
        return ["errors", *_align(rows, indent="  ")] if rows else []

    def _answers_lines(self) -> list[str]:
        rows = [
            (phase.name, ", ".join(f"{node} {count}" for node, count in phase.stats_for(ALL).answers_by_node.items()))
            for phase in self.phases
            if phase.stats_for(ALL).answers_by_node
        ]
        return ["answers by node", *_align(rows, indent="  ")] if rows else []

    def _convergence_lines(self) -> list[str]:
        return ["convergence", *(f"  {_convergence_text(c)}" for c in self.convergences)] if self.convergences else []

    def _event_lines(self) -> list[str]:
        return ["events", *(f"  {e.t - self.started:+9.2f} s  {e.label}" for e in self.events)] if self.events else []


def read_samples(path: Path) -> list[Sample]:
    """The samples of a JSONL file; blank lines are skipped.

    The generator may be killed mid-write, so an unparseable last line is dropped; an unparseable line anywhere
    else raises ValueError naming the file and line number.
    """
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    last = max((number for number, line in enumerate(lines, 1) if line.strip()), default=0)
    samples = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            samples.append(parse_sample(json.loads(line)))
        except ValueError as e:
            if number == last:
                break
            raise ValueError(f"{path}:{number}: not a sample: {e}") from e
    return samples


def parse_sample(obj: object) -> Sample:
    """A `Sample` from one decoded JSONL object; ValueError when a field is missing or has the wrong type."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    return Sample(
        t=_number(obj, "t"),
        kind=_typed(obj, "kind", str),
        ok=_typed(obj, "ok", bool),
        latency=_number(obj, "latency"),
        node=_optional_str(obj, "node"),
        error=_optional_str(obj, "error"),
        client=_optional_str(obj, "client"),
        world=_optional_str(obj, "world"),
    )


def build_report(  # noqa: PLR0917 (the orchestrator's positional call is the agreed signature)
    scenario: str,
    samples: Sequence[Sample],
    phases: Sequence[Phase],
    events: Sequence[Mark] = (),
    convergences: Sequence[Convergence] = (),
    meta: Mapping[str, MetaValue] | None = None,
    *,
    started: float | None = None,
) -> Report:
    """The report of one run. `started` defaults to the earliest phase start, sample or event.

    Each phase gets the samples that count in it (`counted_at`: start <= it < end); the "whole run" row gets every
    sample, in a phase or not.
    """
    for phase in phases:
        if phase.end < phase.start:
            raise ValueError(f"phase {phase.name!r} ends before it starts")
    by_time = sorted(samples, key=counted_at)
    times = [counted_at(s) for s in by_time]
    instants = [*(p.start for p in phases), *(p.end for p in phases), *times, *(e.t for e in events)]
    start = started if started is not None else min(instants, default=0.0)
    end = max([start, *instants])
    groups = Groups(run_kinds(by_time), run_worlds(by_time), run_clients(by_time))
    phase_reports = tuple(
        phase_report(p.name, p.start, p.end, by_time[bisect_left(times, p.start) : bisect_left(times, p.end)], groups)
        for p in phases
    )
    return Report(
        scenario=scenario,
        started=start,
        phases=phase_reports,
        overall=phase_report(WHOLE_RUN, start, end, by_time, groups),
        convergences=tuple(convergences),
        events=tuple(sorted(events, key=attrgetter("t"))),
        meta=dict(meta or {}),
    )


def write_report(report: Report, directory: Path) -> tuple[Path, Path]:
    """Write `report.txt` and `report.json` into `directory` (created if missing); returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    text_path = directory / "report.txt"
    json_path = directory / "report.json"
    text_path.write_text(report.to_text(), encoding="utf-8")
    json_path.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return text_path, json_path


@dataclass(frozen=True)
class Groups:
    """What the run's samples are grouped by: request kinds, and the worlds and client kinds of HTTP users."""

    kinds: tuple[str, ...]
    worlds: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()


def run_kinds(samples: Sequence[Sample]) -> tuple[str, ...]:
    """The kinds present in `samples`, "http" and "db" first, any others after in name order."""
    return _known_first({s.kind for s in samples}, KNOWN_KINDS)


def run_worlds(samples: Sequence[Sample]) -> tuple[str, ...]:
    """The worlds present in `samples`, "old" and "dnslb" first."""
    return _known_first({s.world for s in samples if s.world is not None}, (OLD_WORLD, DNSLB_WORLD))


def run_clients(samples: Sequence[Sample]) -> tuple[str, ...]:
    """The client kinds of the samples that have a world, "single" and "fallback" first."""
    return _known_first({s.client for s in samples if s.world is not None and s.client is not None}, CLIENT_KINDS)


def _known_first(present: set[str], known: Sequence[str]) -> tuple[str, ...]:
    return (*(k for k in known if k in present), *sorted(present - set(known)))


def phase_report(name: str, start: float, end: float, samples: Sequence[Sample], groups: Groups) -> PhaseReport:
    duration = end - start
    stats = [phase_stats(ALL, samples, duration)]
    stats.extend(phase_stats(kind, [s for s in samples if s.kind == kind], duration) for kind in groups.kinds)
    tallies = world_tallies(samples, groups.worlds, groups.clients)
    return PhaseReport(name=name, start=start, end=end, stats=tuple(stats), tallies=tallies)


def world_tallies(samples: Sequence[Sample], worlds: Sequence[str], clients: Sequence[str]) -> tuple[Tally, ...]:
    """For each world: a `Tally` of all its samples, then one per client kind (empty ones too, so that every
    phase has every row)."""
    tallies = []
    for world in worlds:
        mine = [s for s in samples if s.world == world]
        tallies.append(tally(world, ALL, mine))
        tallies.extend(tally(world, client, [s for s in mine if s.client == client]) for client in clients)
    return tuple(tallies)


def tally(world: str, client: str, samples: Sequence[Sample]) -> Tally:
    causes = Counter(failure_cause(s.error) for s in samples if not s.ok)
    return Tally(
        world=world,
        client=client,
        requests=len(samples),
        failures=sum(causes.values()),
        causes=tuple((cause, causes[cause]) for cause in CAUSES if causes[cause]),
    )


def failure_cause(error: str | None) -> str:
    """Which of `CAUSES` a failure's error text (`ClassName: message`, or `HTTP <status>`) points to."""
    name = normalise_error(error)
    if name.startswith("HTTP "):
        return "http error"
    return _CAUSE_OF_ERROR.get(name, "other")


def phase_stats(kind: str, samples: Sequence[Sample], duration: float) -> PhaseStats:
    """Statistics of `samples` (already filtered to one kind, or not for "all") over a window of `duration` seconds."""
    ok_ms = sorted(s.latency * 1000 for s in samples if s.ok)
    p50, p95, p99 = (nearest_rank(ok_ms, percent) for percent in PERCENTILES)
    failures = sum(1 for s in samples if not s.ok)
    answers = Counter(s.node for s in samples if s.node is not None)
    errors = Counter(normalise_error(s.error) for s in samples if not s.ok)
    return PhaseStats(
        kind=kind,
        requests=len(samples),
        failures=failures,
        failure_rate=failures / len(samples) if samples else 0.0,
        rps=len(samples) / duration if duration > 0 else 0.0,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=max((s.latency * 1000 for s in samples), default=None),
        answers_by_node=dict(sorted(answers.items())),
        top_errors=tuple(sorted(errors.items(), key=lambda item: (-item[1], item[0]))[:TOP_ERRORS]),
    )


def nearest_rank(sorted_values: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `percent`% of the values at or below it."""
    if not sorted_values:
        return None
    rank = max(1, -(-percent * len(sorted_values) // 100))  # ceil in integers: no float rounding at exact ranks
    return sorted_values[rank - 1]


def normalise_error(error: str | None) -> str:
    """Group failures by what went wrong, not by its details: "OSError: [Errno 113] ..." -> "OSError"."""
    if not error or not error.strip():
        return "unknown"
    return error.split(":", 1)[0].strip() or "unknown"


def _table_row(name: str, offset: float | None, duration: float | None, stats: PhaseStats) -> Row:
    return (
        name,
        stats.kind,
        "" if offset is None else f"{offset:.1f}",
        "" if duration is None else f"{duration:.1f}",
        str(stats.requests),
        str(stats.failures),
        f"{stats.failure_rate * 100:.2f}" if stats.requests else "-",
        f"{stats.rps:.1f}",
        _ms(stats.p50_ms),
        _ms(stats.p95_ms),
        _ms(stats.p99_ms),
        _ms(stats.max_ms),
    )


def _tally_cells(tally: Tally) -> Row:
    rate = f"{tally.failure_rate * 100:.2f}" if tally.requests else "-"
    return str(tally.requests), str(tally.failures), rate


def _causes(tally: Tally) -> str:
    return ", ".join(f"{cause} {count}" for cause, count in tally.causes)


def _align(rows: Sequence[Row], indent: str = "", text_tail: int = 0) -> list[str]:
    """Columns padded to their widest cell: the first two (names) and the last `text_tail` (text) left-aligned, the
    rest (numbers) right-aligned."""
    if not rows:
        return []
    count = len(rows[0])
    widths = [max(len(row[i]) for row in rows) for i in range(count)]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(w) if i < 2 or i >= count - text_tail else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _convergence_text(convergence: Convergence) -> str:
    if convergence.seconds is None:
        return f"{convergence.name}: not reached" + (f" ({convergence.detail})" if convergence.detail else "")
    return f"{convergence.name}: {convergence.seconds:.2f} s" + (
        f" ({convergence.detail})" if convergence.detail else ""
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _number(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key!r} must be a number, got {value!r}")
    return float(value)


def _typed(obj: dict[str, Any], key: str, kind: type[_T]) -> _T:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"{key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string or null, got {value!r}")
    return value
