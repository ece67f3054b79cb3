"""The lab report's picture: every request's latency over time, and requests and failures per second (each HTTP
world's failures as a line of its own, so that the old world and dnslb compare at a glance), under the scenario's
timeline: its phases (the fault phases shaded, by kind of fault), the chaos steps the lab took and the moments it
measured (a path withdrawn or back at the router, DNS answering anew), so that every failure burst has its cause
drawn above it.

From the top: the title, a strip of the phases, a lane of labels for the steps and measured moments, each with a
leader line down to its moment, then the latency and the per-second panels. The labels never overlap: they are
stacked in rows (`stack_labels`), as many as the moments close together need, and the figure grows taller with
them; where it can be avoided, no leader crosses a label below it. The layout works in seconds on the time axis,
so the figure has fixed margins: the scale of that axis in pixels is known before anything is drawn, and the
labels' widths (measured with the renderer's font metrics) convert to it.

Drawn on a bare `matplotlib.figure.Figure` with the Agg canvas, so nothing touches pyplot's global state. The
samples go through numpy arrays and a rasterized scatter, which keeps 100k requests to a few seconds.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from dnslb_lab.report import DNSLB_WORLD, OLD_WORLD, PhaseReport, Report, Sample, run_worlds

WIDTH_PX, MIN_HEIGHT_PX, DPI = 1400, 800, 100
# fixed margins and heights, in pixels: the label layout needs the time axis's scale before drawing
LEFT_PX, RIGHT_PX = 80, 30
TITLE_PX, LANE_GAP_PX, PANEL_GAP_PX = 34, 6, 8
# below the panels: the time axis's ticks and label, then the legend (its rows, and the padding around them)
AXIS_LABELS_PX, LEGEND_ROW_PX, LEGEND_PAD_PX, LEGEND_COLUMNS = 48, 20, 10, 5
ROW_PX = 15  # one row of labels
MIN_PANELS_PX = 560  # the latency and per-second panels together (3:2), more when the figure is taller anyway
LABEL_FONT = 7.0
LABEL_PAD_PX = 2.0  # the white box around a label, beyond its text
LABEL_GAP_PX = 6.0  # between neighbouring labels in a row
PHASE_NAME_MARGIN_PX = 4.0  # a phase's name goes inside its bar with this much room on either side

TITLE_META_KEYS = ("users", "nodes")
KIND_COLOURS = {"http": "tab:blue", "db": "tab:green"}
OTHER_KIND_COLOUR = "tab:purple"
FAILURE_COLOUR = "tab:red"
WORLD_COLOURS = {OLD_WORLD: "tab:orange", DNSLB_WORLD: "tab:purple"}
OTHER_WORLD_COLOUR = "tab:brown"
FAILURE_ROW = 0.97  # failures sit in a band at the top of the latency panel, in axes coordinates
MIN_LATENCY_MS = 0.01  # the log axis cannot show zero

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Span = tuple[float, float]
Measure = Callable[[str], float]  # a text's width in pixels

# --- what the timeline's phases and moments are -------------------------------------------------------------------

# A phase is a fault phase when its name says so (the scenarios name phases "node1 down", "node1 drained",
# "node3 slow", "flapping, damped", "node2 speaker restarted"...); the first kind whose pattern matches wins. Every
# other phase (a baseline, a node back, a takeover, a rollback, recovered) is healthy and stays unshaded.
FAULT_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("partition", re.compile(r"partition|isolat|split brain|\bcut off\b", re.IGNORECASE)),
    ("node down", re.compile(r"\bdown\b|\bdead\b|\bkilled\b|\bcrash|\breboot|\bpowered off\b", re.IGNORECASE)),
    ("drain", re.compile(r"\bdrain", re.IGNORECASE)),
    ("flapping", re.compile(r"\bflap", re.IGNORECASE)),
    ("slow node", re.compile(r"\bslow|\bdegraded|\boverload", re.IGNORECASE)),
    ("speaker restart", re.compile(r"\brestart", re.IGNORECASE)),
)
FAULT_COLOURS = {
    "partition": "#d9b8f0",
    "node down": "#f7b6b2",
    "drain": "#ffd8a8",
    "flapping": "#a8e6ef",
    "slow node": "#fff0a0",
    "speaker restart": "#c4e6b0",
}
FAULT_ALPHA = 0.3  # the shading in the data panels, behind the samples

# The measured moments: a convergence named "cause → outcome", sorted by its outcome.
ARROW = " → "
EVENT = "event"
WITHDRAWN = "withdrawn"
ANNOUNCED = "announced"
DNS = "dns"
MEASURED = "measured"
MOMENT_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (WITHDRAWN, re.compile(r"\bwithdraw", re.IGNORECASE)),
    (DNS, re.compile(r"\banswer(s|ed)?\b|\bDNS\b|\brecords?\b", re.IGNORECASE)),
    (ANNOUNCED, re.compile(r"\bpaths?\b", re.IGNORECASE)),
)


@dataclass(frozen=True)
class MomentStyle:
    legend: str
    colour: str
    linestyle: Literal["-", "--"]
    marker: str  # at the top edge of the latency panel; "" for none


MOMENT_STYLES = {
    EVENT: MomentStyle("chaos step (what the lab did)", "0.3", "--", ""),
    WITHDRAWN: MomentStyle("measured: path withdrawn at the router", "#c2185b", "-", "v"),
    ANNOUNCED: MomentStyle("measured: path (back) at the router", "#00897b", "-", "^"),
    DNS: MomentStyle("measured: DNS answers switched", "#9a6b00", "-", "D"),
    MEASURED: MomentStyle("measured: other convergence", "#455a64", "-", "o"),
}


@dataclass(frozen=True)
class Moment:
    """An instant on the timeline, `offset` seconds after the report's start: a chaos step (`kind` "event") or a
    measured moment (one of `MOMENT_STYLES`' other kinds)."""

    offset: float
    label: str
    kind: str


def fault_of(phase_name: str) -> str | None:
    """The kind of fault a phase is, from its name (`FAULT_KINDS`); None for a healthy phase."""
    return next((fault for fault, pattern in FAULT_KINDS if pattern.search(phase_name)), None)


def fault_phases(report: Report) -> list[tuple[PhaseReport, str]]:
    """The report's fault phases with their kind of fault, in order."""
    return [(phase, fault) for phase in report.phases if (fault := fault_of(phase.name)) is not None]


def event_moments(report: Report) -> list[Moment]:
    return [Moment(event.t - report.started, event.label, EVENT) for event in report.events]


def measured_moments(report: Report) -> list[Moment]:
    """The moments the lab measured within the run: every reached convergence named "cause → outcome", at its `at`,
    or else `seconds` after the start of the phase its cause names ("node1 down", "takeover" for "dnslb: takeover",
    "node1 drain" for "node1 drained"), the first such phase at or after the previous measurement's. A measurement
    with neither (the Services' creation, before the run) is left out, as is one outside the run."""
    moments = []
    cursor = 0
    for convergence in report.convergences:
        if convergence.seconds is None or ARROW not in convergence.name:
            continue
        cause, outcome = convergence.name.split(ARROW, 1)
        if convergence.at is not None:
            at = convergence.at
        else:
            index = _phase_named(report.phases, cause.strip(), cursor)
            if index is None:
                continue
            cursor = index
            at = report.phases[index].start + convergence.seconds
        offset = at - report.started
        if not 0 <= offset <= report.ended - report.started:
            continue
        kind = next((kind for kind, pattern in MOMENT_KINDS if pattern.search(outcome)), MEASURED)
        moments.append(Moment(offset, f"{convergence.name}: {convergence.seconds:.2f} s", kind))
    return moments


def _phase_named(phases: Sequence[PhaseReport], cause: str, start: int) -> int | None:
    for index in range(start, len(phases)):
        name = phases[index].name
        if name == cause or name.endswith(f": {cause}") or name.startswith(cause):
            return index
    return None


# --- the label layout -------------------------------------------------------------------------------------------


Align = Literal["left", "right", "centre"]


def fit_span(anchor: float, width: float, lo: float, hi: float, align: Align = "left") -> Span:
    """Where a label `width` wide goes for a moment at `anchor`: starting there ("left"), ending there ("right") or
    centred on it, pushed back inside [lo, hi] when it would stick out (from `lo` when it is wider than the range)."""
    left = {"left": anchor, "right": anchor - width, "centre": anchor - width / 2}[align]
    left = max(lo, min(left, hi - width))
    return left, left + width


def stack_rows(spans: Sequence[Span], anchors: Sequence[float], gap: float = 0.0, margin: float = 0.0) -> list[int]:
    """`stack_labels` for labels with one place each: their rows."""
    return [row for row, _ in stack_labels([[span] for span in spans], anchors, gap, margin)]


class Trial(NamedTuple):
    """Where a label would go with one of its choices of span."""

    crossing: bool  # it covers the leader of a label it must stay under (it covers its own): one crosses the other
    choice: int  # its index in the label's choices
    row: int
    insert: bool  # a row must be inserted for it


def lowest_row(trial: Trial) -> tuple[bool, int, bool, int]:
    """Prefer the choice with no crossing, then the lowest row, then the first choice."""
    return trial.crossing, trial.row, trial.insert, trial.choice


def first_choice(trial: Trial) -> tuple[bool, int, int, bool]:
    """Prefer the choice with no crossing, then the first choice."""
    return trial.crossing, trial.choice, trial.row, trial.insert


def stack_labels(
    choices: Sequence[Sequence[Span]],
    anchors: Sequence[float],
    gap: float = 0.0,
    margin: float = 0.0,
    prefer: Callable[[Trial], tuple[bool | int, ...]] = lowest_row,
) -> list[tuple[int, int]]:
    """For each label, a row (0 = nearest the data, the bottom) and which of its `choices` of span it takes (e.g.
    starting at its moment, or ending there), its leader line running down from it at `anchors[i]`. Labels in one
    row never overlap, nor come closer than `gap`.

    The labels are placed right to left, each where `prefer` says among its choices (by default where it gets the
    lowest row), above every label whose leader it covers (a leader within `margin` of a label's edge runs alongside
    it): a leader never crosses a label below it. A leader can only cross one when two labels cover each other's
    leaders (one pushed back from the edge of the range, its anchor inside it, or one starting and the other ending
    at its moment) and neither has a choice that does not; then a label still takes the lowest row it fits in.
    Where the rows a label may take are full, a row is inserted for it (the rows above move up, which keeps every
    label's order with every other).
    """
    if len(choices) != len(anchors) or not all(choices):
        raise ValueError("one anchor and at least one span per label")
    rows = [-1] * len(choices)
    spans: list[Span] = [options[0] for options in choices]
    placed: list[int] = []

    def free(span: Span, row: int) -> bool:
        return all(rows[j] != row or not _overlap(span, spans[j], gap) for j in placed)

    def trial(i: int, index: int) -> Trial:
        span = choices[i][index]
        lower = 1 + max((rows[j] for j in placed if _covers(span, anchors[j], margin)), default=-1)
        upper = min((rows[j] for j in placed if _covers(spans[j], anchors[i], margin)), default=None)
        if upper is not None and lower <= upper:
            row = next((r for r in range(lower, upper) if free(span, r)), None)
            return Trial(False, index, upper, True) if row is None else Trial(False, index, row, False)
        # nothing above constrains it, or the constraints conflict (a crossing): the lowest row it fits in
        return Trial(upper is not None, index, next(r for r in itertools.count(lower) if free(span, r)), False)

    chosen = [0] * len(choices)
    for i in sorted(range(len(choices)), key=lambda i: (-anchors[i], -choices[i][0][0], i)):
        trials = [trial(i, index) for index in range(len(choices[i]))]
        _, chosen[i], row, insert = min(trials, key=prefer)
        if insert:  # make room just below the labels whose leaders this one must stay under
            for j in placed:
                if rows[j] >= row:
                    rows[j] += 1
        rows[i], spans[i] = row, choices[i][chosen[i]]
        placed.append(i)
    return list(zip(rows, chosen, strict=True))


def crossings(spans: Sequence[Span], rows: Sequence[int], anchors: Sequence[float], margin: float = 0.0) -> int:
    """How many times a leader (running down from its label at its anchor) crosses a label below it."""
    return sum(
        1
        for i, anchor in enumerate(anchors)
        for j, span in enumerate(spans)
        if rows[j] < rows[i] and _covers(span, anchor, margin)
    )


def _overlap(a: Span, b: Span, gap: float) -> bool:
    return a[0] < b[1] + gap and b[0] < a[1] + gap


def _covers(span: Span, x: float, margin: float = 0.0) -> bool:
    return span[0] + margin < x < span[1] - margin


@dataclass(frozen=True)
class Placed:
    """A label laid out: its text box spans `span` (seconds) in `row`; its leader runs down at `anchor`."""

    anchor: float
    text: str
    span: Span
    row: int
    kind: str = EVENT  # a moment's kind (`MOMENT_STYLES`); for a phase's name, its fault ("" when healthy)


def lay_out(
    items: Sequence[tuple[float, str, str]],
    widths_px: Sequence[float],
    x_range: Span,
    seconds_per_px: float,
    *,
    centred: bool = False,
) -> list[Placed]:
    """Labels (anchor in seconds, text, kind) whose texts are `widths_px` wide, laid out in rows on a time axis
    covering `x_range` at `seconds_per_px`: centred on their anchors, or else starting there or ending there,
    whichever stacks them in fewer rows with no more leaders crossing labels."""
    pad, gap = LABEL_PAD_PX * seconds_per_px, LABEL_GAP_PX * seconds_per_px
    margin = (LABEL_PAD_PX + 1) * seconds_per_px  # a leader this close to a label's edge only touches its box
    lo, hi = x_range[0] + pad, x_range[1] - pad
    choices = []
    for (anchor, _, _), width_px in zip(items, widths_px, strict=True):
        width = width_px * seconds_per_px
        if centred:
            texts = [fit_span(anchor, width, lo, hi, "centre")]
        else:  # where it fits without being pushed back from an edge; pushed back when it fits neither way
            texts = [(anchor, anchor + width)] if anchor + width <= hi else []
            texts += [(anchor - width, anchor)] if anchor - width >= lo else []
            texts = texts or [fit_span(anchor, width, lo, hi)]
        choices.append([(left - pad, right + pad) for left, right in texts])
    anchors = [anchor for anchor, _, _ in items]

    def cost(stack: list[tuple[int, int]]) -> tuple[int, int]:
        rows = [row for row, _ in stack]
        spans = [options[index] for options, (_, index) in zip(choices, stack, strict=True)]
        return crossings(spans, rows, anchors, margin), 1 + max(rows, default=-1)

    # each label's choice of side is greedy, and can cost rows or crossings later: the stack with the fewest
    # crossings, then rows, of the labels on their first side, on their side avoiding crossings, and on their side
    # in the lowest row
    stacked = min(
        stack_labels([options[:1] for options in choices], anchors, gap, margin),
        stack_labels(choices, anchors, gap, margin, first_choice),
        stack_labels(choices, anchors, gap, margin, lowest_row),
        key=cost,
    )
    return [
        Placed(anchor, text, options[chosen], row, kind)
        for (anchor, text, kind), options, (row, chosen) in zip(items, choices, stacked, strict=True)
    ]


def row_count(placed: Sequence[Placed]) -> int:
    return 1 + max((p.row for p in placed), default=-1)


# --- the figure ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleArrays:
    """The samples as columns: offset in seconds from the report's start, latency in ms, ok, kind, and world ("" for
    none); `worlds` in the report's order."""

    offset: Floats
    latency_ms: Floats
    ok: Bools
    kind: npt.NDArray[np.str_]
    world: npt.NDArray[np.str_]
    worlds: tuple[str, ...]

    @classmethod
    def of(cls, samples: Sequence[Sample], started: float) -> SampleArrays:
        return cls(
            offset=np.array([s.t for s in samples], dtype=np.float64) - started,
            latency_ms=np.maximum(np.array([s.latency for s in samples], dtype=np.float64) * 1000, MIN_LATENCY_MS),
            ok=np.array([s.ok for s in samples], dtype=np.bool_),
            kind=np.array([s.kind for s in samples], dtype=np.str_),
            world=np.array([s.world or "" for s in samples], dtype=np.str_),
            worlds=run_worlds(samples),
        )


@dataclass(frozen=True)
class PerSecond:
    """Counts and the OK p99 per one-second bin; bin i covers [edges[i], edges[i + 1])."""

    edges: Floats
    requests: Floats
    failures: Floats
    p99_ms: Floats  # NaN where a second had no OK request
    failures_by_world: tuple[tuple[str, Floats], ...] = ()


@dataclass(frozen=True)
class TimelineLayout:
    """The timeline's labels laid out: the phase names (row 0, inside its bar, when a name fits there, else in a
    row above) and the moments' labels."""

    phase_names: list[Placed]
    moments: list[Placed]
    x_range: Span

    @property
    def phase_rows(self) -> int:
        return max(1, row_count(self.phase_names))

    @property
    def moment_rows(self) -> int:
        return row_count(self.moments)


def plot_report(report: Report, samples: Sequence[Sample], path: Path) -> Path:
    """Draw the report's PNG at `path`, 1400 px wide and 800 px tall or taller when the labels need more rows; return
    `path`."""
    figure = draw_report(report, samples)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


def draw_report(report: Report, samples: Sequence[Sample]) -> Figure:
    """The report's figure, on an Agg canvas."""
    figure = Figure(figsize=(WIDTH_PX / DPI, MIN_HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    arrays = SampleArrays.of(samples, report.started)
    timeline = layout_timeline(report, _x_range(report, arrays), _measurer(figure))
    legend = _legend_handles(report, timeline)
    phase_ax, lane_ax, latency_ax, rate_ax = _axes(figure, timeline, -(-len(legend) // LEGEND_COLUMNS))

    figure.text(0.5, 1 - 8 / figure.bbox.height, _title(report), ha="center", va="top", fontsize=12)
    for ax in (latency_ax, rate_ax):
        _shade_faults(ax, report)
    if len(samples):
        seconds = per_second(arrays)
        _draw_latency(latency_ax, arrays, seconds)
        _draw_rates(rate_ax, seconds)
    else:
        rate_ax.set_ylim(0, 1)
        latency_ax.text(0.5, 0.5, "no samples", transform=latency_ax.transAxes, ha="center", va="center")
    for ax in (latency_ax, rate_ax):
        _draw_moment_lines(ax, timeline.moments)
    _draw_markers(latency_ax, timeline.moments)
    _draw_phase_strip(phase_ax, report, timeline)
    if lane_ax is not None:
        _draw_labels(lane_ax, timeline.moments, timeline.moment_rows)

    latency_ax.set_yscale("log")
    latency_ax.set_ylabel("latency (ms)")
    rate_ax.set_ylabel("per second")
    rate_ax.set_xlabel(f"seconds since {_utc(report.started)}")
    latency_ax.set_xlim(*timeline.x_range)
    latency_ax.set_ylim(*_latency_range(arrays))
    for ax in (latency_ax, rate_ax):
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize=8, markerscale=3, framealpha=0.8)
    if legend:
        figure.legend(
            handles=legend,
            loc="lower center",
            bbox_to_anchor=(0.5, 2 / figure.bbox.height),
            ncols=min(len(legend), LEGEND_COLUMNS),
            fontsize=8,
            frameon=False,
        )
    return figure


def layout_timeline(report: Report, x_range: Span, measure: Measure) -> TimelineLayout:
    """Lay out the phase names and the moments' labels for a time axis covering `x_range`; `measure` gives a text's
    width in pixels."""
    seconds_per_px = (x_range[1] - x_range[0]) / (WIDTH_PX - LEFT_PX - RIGHT_PX)
    inside: list[tuple[tuple[float, str, str], float]] = []
    outside: list[tuple[tuple[float, str, str], float]] = []
    for phase in report.phases:
        start, end = phase.start - report.started, phase.end - report.started
        width = measure(phase.name)
        item = ((start + end) / 2, phase.name, fault_of(phase.name) or "")
        fits = (width + 2 * PHASE_NAME_MARGIN_PX) * seconds_per_px <= end - start
        (inside if fits else outside).append((item, width))
    names = [
        Placed(anchor, text, (anchor - width * seconds_per_px / 2, anchor + width * seconds_per_px / 2), 0, kind)
        for (anchor, text, kind), width in inside
    ]
    above = lay_out([item for item, _ in outside], [w for _, w in outside], x_range, seconds_per_px, centred=True)
    names.extend(Placed(p.anchor, p.text, p.span, p.row + 1, p.kind) for p in above)

    items = sorted(
        ((m.offset, m.label, m.kind) for m in (*event_moments(report), *measured_moments(report))),
        key=lambda item: item[0],
    )
    moments = lay_out(items, [measure(text) for _, text, _ in items], x_range, seconds_per_px)
    return TimelineLayout(phase_names=names, moments=moments, x_range=x_range)


def _measurer(figure: Figure) -> Measure:
    """A text's width in pixels in the labels' font, as the figure's renderer draws it."""

    def measure(text: str) -> float:
        artist = figure.text(0, 0, text, fontsize=LABEL_FONT, parse_math=False)
        width = artist.get_window_extent().width
        artist.remove()
        return float(width)

    return measure


def _axes(figure: Figure, timeline: TimelineLayout, legend_rows: int) -> tuple[Axes, Axes | None, Axes, Axes]:
    """The phase strip, the label lane (None without moments), the latency and the per-second panels, from the top,
    with the figure as tall as they need and the time axis's labels and `legend_rows` of legend below them."""
    phase_px = timeline.phase_rows * ROW_PX
    lane_px = timeline.moment_rows * ROW_PX
    bottom_px = AXIS_LABELS_PX + (legend_rows * LEGEND_ROW_PX + LEGEND_PAD_PX if legend_rows else 0)
    fixed = TITLE_PX + phase_px + LANE_GAP_PX + lane_px + bottom_px
    panels = max(MIN_PANELS_PX, MIN_HEIGHT_PX - fixed)  # the gap between them included
    height = fixed + panels
    figure.set_size_inches(WIDTH_PX / DPI, height / DPI)

    left, width = LEFT_PX / WIDTH_PX, (WIDTH_PX - LEFT_PX - RIGHT_PX) / WIDTH_PX
    top = height - TITLE_PX

    def rect(top_px: float, height_px: float) -> tuple[float, float, float, float]:
        return left, (top_px - height_px) / height, width, height_px / height

    latency_px, rate_px = panels * 3 / 5, panels * 2 / 5 - PANEL_GAP_PX
    latency_top = top - phase_px - LANE_GAP_PX - lane_px
    latency_ax = figure.add_axes(rect(latency_top, latency_px))
    rate_ax = figure.add_axes(rect(latency_top - latency_px - PANEL_GAP_PX, rate_px), sharex=latency_ax)
    phase_ax = figure.add_axes(rect(top, phase_px), sharex=latency_ax)
    lane_ax = figure.add_axes(rect(latency_top + lane_px, lane_px), sharex=latency_ax) if lane_px else None
    for ax in (phase_ax, lane_ax):
        if ax is not None:
            ax.set_axis_off()
    latency_ax.tick_params(labelbottom=False)
    return phase_ax, lane_ax, latency_ax, rate_ax


def per_second(arrays: SampleArrays) -> PerSecond:
    """Requests, failures and the nearest-rank p99 of OK latencies in each whole second of offset."""
    first = np.floor(arrays.offset.min())
    bins = (np.floor(arrays.offset) - first).astype(np.int64)
    count = int(bins.max()) + 1
    requests = np.bincount(bins, minlength=count).astype(np.float64)
    failures = np.bincount(bins[~arrays.ok], minlength=count).astype(np.float64)
    by_world = tuple(
        (world, np.bincount(bins[~arrays.ok & (arrays.world == world)], minlength=count).astype(np.float64))
        for world in arrays.worlds
    )

    ok_bins, ok_ms = bins[arrays.ok], arrays.latency_ms[arrays.ok]
    order = np.lexsort((ok_ms, ok_bins))  # by bin, then latency within the bin
    ok_counts = np.bincount(ok_bins, minlength=count)
    bin_starts = np.concatenate(([0], np.cumsum(ok_counts)[:-1]))
    ranks = -(-99 * ok_counts // 100)  # nearest rank, ceil in integers
    p99 = np.full(count, np.nan)
    has_ok = ok_counts > 0
    p99[has_ok] = ok_ms[order][bin_starts[has_ok] + ranks[has_ok] - 1]
    edges = first + np.arange(count + 1, dtype=np.float64)
    return PerSecond(edges=edges, requests=requests, failures=failures, p99_ms=p99, failures_by_world=by_world)


def _draw_latency(ax: Axes, arrays: SampleArrays, seconds: PerSecond) -> None:
    for kind in _kinds(arrays.kind[arrays.ok]):
        mask = arrays.ok & (arrays.kind == kind)
        colour = KIND_COLOURS.get(kind, OTHER_KIND_COLOUR)
        ax.scatter(
            arrays.offset[mask],
            arrays.latency_ms[mask],
            s=2,
            c=colour,
            linewidths=0,
            alpha=0.5,
            rasterized=True,
            label=f"{kind} ok",
        )
    failed = ~arrays.ok
    if failed.any():
        # a blended transform (x in data, y in axes) keeps failures visible at the top, whatever their latency
        ax.scatter(
            arrays.offset[failed],
            np.full(int(failed.sum()), FAILURE_ROW),
            s=12,
            marker="x",
            c=FAILURE_COLOUR,
            linewidths=0.8,
            rasterized=True,
            transform=ax.get_xaxis_transform(),
            label="failed (top row)",
        )
    if arrays.ok.any():
        ax.stairs(seconds.p99_ms, seconds.edges, baseline=None, color="black", linewidth=1, label="p99 per second")


def _draw_rates(ax: Axes, seconds: PerSecond) -> None:
    ax.stairs(seconds.requests, seconds.edges, fill=True, color="tab:blue", alpha=0.35, label="requests/s")
    if seconds.failures.any():
        ax.stairs(seconds.failures, seconds.edges, fill=True, color=FAILURE_COLOUR, alpha=0.5, label="failures/s")
    for world, failures in seconds.failures_by_world:
        if failures.any():
            colour = WORLD_COLOURS.get(world, OTHER_WORLD_COLOUR)
            ax.stairs(failures, seconds.edges, color=colour, linewidth=1.2, label=f"{world} failures/s")
    ax.set_ylim(0, float(seconds.requests.max()) * 1.25)  # headroom for the legend


def _shade_faults(ax: Axes, report: Report) -> None:
    """The fault phases shaded in their fault's colour, behind the samples; healthy phases stay blank."""
    for phase, fault in fault_phases(report):
        start, end = phase.start - report.started, phase.end - report.started
        ax.axvspan(start, end, color=FAULT_COLOURS[fault], alpha=FAULT_ALPHA, linewidth=0, zorder=0)


def _draw_phase_strip(ax: Axes, report: Report, timeline: TimelineLayout) -> None:
    """Each phase a bar in row 0 (filled in its fault's colour, an outline when healthy), named inside it or, when
    the name does not fit, in a row above with a leader down to the bar's middle."""
    ax.set_ylim(0, timeline.phase_rows)
    for phase in report.phases:
        start, end = phase.start - report.started, phase.end - report.started
        fault = fault_of(phase.name)
        face = FAULT_COLOURS[fault] if fault else "white"
        ax.add_patch(Rectangle((start, 0.08), end - start, 0.84, facecolor=face, edgecolor="0.55", linewidth=0.6))
    for name in timeline.phase_names:
        if name.row:
            ax.vlines(name.anchor, 0.92, name.row + 0.5, colors="0.55", linewidth=0.6, zorder=1)
            _label(ax, sum(name.span) / 2, name.row + 0.5, name.text, "0.1")
        else:
            ax.text(name.anchor, 0.5, name.text, ha="center", va="center", fontsize=LABEL_FONT, parse_math=False)


def _draw_labels(ax: Axes, moments: Sequence[Placed], rows: int) -> None:
    """Each moment's label in its row, its leader line down to the lane's bottom, where the data panels begin."""
    ax.set_ylim(0, rows)
    for moment in moments:
        style = MOMENT_STYLES[moment.kind]
        ax.vlines(moment.anchor, 0, moment.row + 0.5, colors=style.colour, linewidth=0.7, zorder=1)
        _label(ax, sum(moment.span) / 2, moment.row + 0.5, moment.text, style.colour)


def _label(ax: Axes, x: float, y: float, text: str, colour: str) -> None:
    """A label centred at (x, y) in a white box (`LABEL_PAD_PX` around its text) that hides the leaders behind it."""
    box = {
        "boxstyle": f"square,pad={LABEL_PAD_PX * 72 / DPI / LABEL_FONT}",  # the pad is in units of the font size
        "facecolor": "white",
        "edgecolor": colour,
        "linewidth": 0.5,
    }
    ax.text(
        x, y, text, ha="center", va="center", fontsize=LABEL_FONT, color=colour, parse_math=False, zorder=3, bbox=box
    )


def _draw_moment_lines(ax: Axes, moments: Sequence[Placed]) -> None:
    for moment in moments:
        style = MOMENT_STYLES[moment.kind]
        measured = moment.kind != EVENT
        ax.axvline(
            moment.anchor,
            color=style.colour,
            linestyle=style.linestyle,
            linewidth=1.0 if measured else 0.8,
            alpha=0.85 if measured else 0.7,
            zorder=1.5,
        )


def _draw_markers(ax: Axes, moments: Sequence[Placed]) -> None:
    """The measured moments' markers on the latency panel's top edge, under their leaders."""
    for moment in moments:
        style = MOMENT_STYLES[moment.kind]
        if style.marker:
            ax.plot(
                [moment.anchor],
                [1.0],
                marker=style.marker,
                markersize=6,
                color=style.colour,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                zorder=4,
            )


def _legend_handles(report: Report, timeline: TimelineLayout) -> list[Artist]:
    """What the shading, the lines and the markers mean: only what the picture has."""
    handles: list[Artist] = []
    faults = dict.fromkeys(fault for _, fault in fault_phases(report))
    handles.extend(
        Patch(facecolor=FAULT_COLOURS[fault], edgecolor="0.55", linewidth=0.6, label=f"fault phase: {fault}")
        for fault in faults
    )
    if any(fault_of(phase.name) is None for phase in report.phases):
        handles.append(Patch(facecolor="white", edgecolor="0.55", linewidth=0.6, label="healthy phase (unshaded)"))
    kinds = {moment.kind for moment in timeline.moments}
    handles.extend(
        Line2D(
            [],
            [],
            color=style.colour,
            linestyle=style.linestyle,
            marker=style.marker or None,
            markersize=5,
            label=style.legend,
        )
        for kind, style in MOMENT_STYLES.items()
        if kind in kinds
    )
    return handles


def _x_range(report: Report, arrays: SampleArrays) -> Span:
    low = min(0.0, float(arrays.offset.min())) if arrays.offset.size else 0.0
    high = max(report.ended - report.started, float(arrays.offset.max()) if arrays.offset.size else 0.0)
    if high <= low:
        high = low + 1
    return low, high


def _latency_range(arrays: SampleArrays) -> tuple[float, float]:
    """The OK latencies with headroom above them for the failure row; a fixed range when nothing succeeded."""
    ok_ms = arrays.latency_ms[arrays.ok]
    if not ok_ms.size:
        return 0.1, 10_000.0
    return float(ok_ms.min()) / 1.5, float(ok_ms.max()) * 4


def _kinds(kinds: npt.NDArray[np.str_]) -> list[str]:
    """The distinct `kinds`, "http" and "db" first so that their colours and legend order stay put."""
    present = {str(kind) for kind in np.unique(kinds)}
    known = [kind for kind in KIND_COLOURS if kind in present]
    return known + sorted(present - set(known))


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _title(report: Report) -> str:
    details = [f"{key} {report.meta[key]}" for key in TITLE_META_KEYS if key in report.meta]
    return f"{report.scenario} ({', '.join(details)})" if details else report.scenario
