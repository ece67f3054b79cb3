"""The lab report's picture: every request's latency over time, and requests and failures per second (each HTTP
world's failures as a line of its own, so that the old world and dnslb compare at a glance).

Drawn on a bare `matplotlib.figure.Figure` with the Agg canvas, so nothing touches pyplot's global state. The
samples go through numpy arrays and a rasterized scatter, which keeps 100k requests to a few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dnslb_lab.report import DNSLB_WORLD, OLD_WORLD, Report, Sample, run_worlds

WIDTH_PX, HEIGHT_PX, DPI = 1400, 800, 100
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


def plot_report(report: Report, samples: Sequence[Sample], path: Path) -> Path:
    """Draw the report's PNG at `path` (1400x800 px) and return `path`."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    latency_ax, rate_ax = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    arrays = SampleArrays.of(samples, report.started)

    figure.suptitle(_title(report))
    for ax in (latency_ax, rate_ax):
        _draw_phases(ax, report)
    if len(samples):
        seconds = per_second(arrays)
        _draw_latency(latency_ax, arrays, seconds)
        _draw_rates(rate_ax, seconds)
    else:
        rate_ax.set_ylim(0, 1)
        latency_ax.text(0.5, 0.5, "no samples", transform=latency_ax.transAxes, ha="center", va="center")
    for ax in (latency_ax, rate_ax):
        _draw_events(ax, report)
    _label_phases(latency_ax, report)

    latency_ax.set_yscale("log")
    latency_ax.set_ylabel("latency (ms)")
    rate_ax.set_ylabel("per second")
    rate_ax.set_xlabel(f"seconds since {_utc(report.started)}")
    latency_ax.set_xlim(*_x_range(report, arrays))
    latency_ax.set_ylim(*_latency_range(arrays))
    for ax in (latency_ax, rate_ax):
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize=8, markerscale=3, framealpha=0.8)

    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


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


def _draw_phases(ax: Axes, report: Report) -> None:
    """Every other phase shaded, so that neighbouring phases are told apart without a legend."""
    for phase in report.phases[1::2]:
        ax.axvspan(phase.start - report.started, phase.end - report.started, color="0.5", alpha=0.15, linewidth=0)


def _label_phases(ax: Axes, report: Report) -> None:
    for index, phase in enumerate(report.phases):
        middle = (phase.start + phase.end) / 2 - report.started
        height = 1.01 + 0.035 * (index % 2)  # staggered: names of short neighbouring phases would overlap
        ax.text(middle, height, phase.name, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=8)


def _draw_events(ax: Axes, report: Report) -> None:
    for event in report.events:
        offset = event.t - report.started
        ax.axvline(offset, color="0.3", linestyle="--", linewidth=0.8)
        ax.text(
            offset,
            0.93,
            f" {event.label}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="right",
            va="top",
            fontsize=7,
            color="0.2",
        )


def _x_range(report: Report, arrays: SampleArrays) -> tuple[float, float]:
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
