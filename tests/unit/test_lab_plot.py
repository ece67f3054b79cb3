"""The lab picture's timeline: fault phases, measured moments and the label layout (no two labels overlap)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.image import imread
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from dnslb_lab.plot import (
    ANNOUNCED,
    DNS,
    EVENT,
    MEASURED,
    WITHDRAWN,
    Span,
    Trial,
    crossings,
    draw_report,
    fault_of,
    fault_phases,
    first_choice,
    fit_span,
    lay_out,
    layout_timeline,
    lowest_row,
    measured_moments,
    plot_report,
    stack_labels,
    stack_rows,
)
from dnslb_lab.report import Convergence, Mark, Phase, Report, Sample, build_report

T0 = 1764150000.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def phase(name: str, start: float, end: float) -> Phase:
    return Phase(name, T0 + start, T0 + end)


def left_aligned(anchors: list[float], width: float) -> list[Span]:
    return [(anchor, anchor + width) for anchor in anchors]


# --- stack_rows -----------------------------------------------------------------------------------------------------


def test_labels_a_fifth_of_a_second_apart_take_different_rows() -> None:
    anchors = [85.0, 85.2]

    rows = stack_rows(left_aligned(anchors, 30.0), anchors)

    assert rows[0] != rows[1]


def test_labels_far_apart_share_the_bottom_row() -> None:
    anchors = [0.0, 40.0, 80.0]

    assert stack_rows(left_aligned(anchors, 30.0), anchors) == [0, 0, 0]


def test_the_gap_keeps_neighbours_apart() -> None:
    anchors = [0.0, 10.5]

    assert stack_rows(left_aligned(anchors, 10.0), anchors) == [0, 0]
    assert stack_rows(left_aligned(anchors, 10.0), anchors, gap=1.0) == [1, 0]


def test_any_number_of_labels_at_one_moment_get_a_row_each() -> None:
    anchors = [100.0] * 7

    assert sorted(stack_rows(left_aligned(anchors, 20.0), anchors)) == list(range(7))


def test_a_label_goes_above_the_labels_whose_leaders_it_covers() -> None:
    # the first label covers the second's moment: below it, the second's leader would cross it
    anchors = [0.0, 5.0]

    rows = stack_rows(left_aligned(anchors, 10.0), anchors)

    assert rows == [1, 0]


def test_stack_labels_wants_an_anchor_and_a_span_per_label() -> None:
    with pytest.raises(ValueError, match="one anchor and at least one span per label"):
        stack_rows([(0.0, 1.0)], [])
    with pytest.raises(ValueError, match="one anchor and at least one span per label"):
        stack_labels([[]], [0.0])


def test_fit_span_keeps_the_label_inside_the_axis() -> None:
    assert fit_span(10.0, 5.0, 0.0, 100.0) == (10.0, 15.0)
    assert fit_span(98.0, 5.0, 0.0, 100.0) == (95.0, 100.0)  # pushed back from the right edge
    assert fit_span(10.0, 5.0, 0.0, 100.0, "right") == (5.0, 10.0)
    assert fit_span(1.0, 5.0, 0.0, 100.0, "centre") == (0.0, 5.0)
    assert fit_span(50.0, 4.0, 0.0, 100.0, "centre") == (48.0, 52.0)
    assert fit_span(50.0, 200.0, 0.0, 100.0) == (0.0, 200.0)  # wider than the axis: from its start


@pytest.mark.parametrize("prefer", [lowest_row, first_choice])
def test_a_label_ends_at_its_moment_when_starting_there_would_make_a_crossing(
    prefer: Callable[[Trial], tuple[bool | int, ...]],
) -> None:
    # B, pushed back from the edge at 10, covers A's moment at 5; A starting at 5 would cover B's moment at 8
    choices = [[(5.0, 9.0), (1.0, 5.0)], [(0.0, 10.0)]]
    anchors = [5.0, 8.0]

    (row_a, side_a), (row_b, _) = stack_labels(choices, anchors, prefer=prefer)

    assert side_a == 1
    assert row_b > row_a
    assert crossings([choices[0][side_a], choices[1][0]], [row_a, row_b], anchors) == 0


def test_crossings_counts_leaders_through_labels_below() -> None:
    spans = [(0.0, 10.0), (5.0, 15.0)]

    assert crossings(spans, [0, 1], [0.0, 5.0]) == 1  # the upper label's leader at 5 runs through the lower one
    assert crossings(spans, [1, 0], [0.0, 5.0]) == 0
    assert crossings(spans, [0, 1], [0.0, 5.0], margin=0.5) == 1
    assert crossings([(0.0, 10.0), (9.8, 20.0)], [0, 1], [0.0, 9.8], margin=0.5) == 0  # alongside its edge


labels = st.lists(
    st.tuples(st.floats(0, 600, allow_nan=False), st.floats(0.5, 150, allow_nan=False)), min_size=1, max_size=40
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels, st.floats(0, 5, allow_nan=False))
def test_no_two_labels_in_a_row_overlap(items: list[tuple[float, float]], gap: float) -> None:
    spans = [fit_span(anchor, width, 0.0, 600.0) for anchor, width in items]

    rows = stack_rows(spans, [anchor for anchor, _ in items], gap)

    assert min(rows) == 0
    for i, j in combinations(range(len(spans)), 2):
        if rows[i] == rows[j]:
            a, b = spans[i], spans[j]
            assert a[1] + gap <= b[0] or b[1] + gap <= a[0], (a, b, rows[i])


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels)
def test_no_leader_crosses_a_label_below_it(items: list[tuple[float, float]]) -> None:
    """Labels that start at their moments (none pushed back from an edge)."""
    anchors = [anchor for anchor, _ in items]
    spans = [(anchor, anchor + width) for anchor, width in items]

    rows = stack_rows(spans, anchors)

    for i, j in combinations(range(len(spans)), 2):
        for upper, lower in ((i, j), (j, i)):
            if rows[lower] < rows[upper]:
                assert not spans[lower][0] < anchors[upper] < spans[lower][1]


# --- fault phases -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fault"),
    [
        ("baseline", None),
        ("node1 down", "node down"),
        ("old world: node1 down", "node down"),
        ("dnslb: node2 down", "node down"),
        ("node1 back", None),
        ("node1 drained", "drain"),
        ("node1 speaker back", None),
        ("node2 speaker restarted", "speaker restart"),
        ("node3 slow", "slow node"),
        ("restart node3 speaker, damped", "speaker restart"),
        ("flapping, no damping", "flapping"),
        ("recovered", None),
        ("old world: all-nodes A record", None),
        ("dnslb: takeover", None),
        ("rollback", None),
        ("node2 partitioned from the router", "partition"),
    ],
)
def test_phases_are_sorted_into_faults_and_healthy_ones_by_name(name: str, fault: str | None) -> None:
    assert fault_of(name) == fault


def test_only_fault_phases_are_picked_for_shading() -> None:
    report = timeline_report()

    assert [(p.name, fault) for p, fault in fault_phases(report)] == [
        ("node1 down", "node down"),
        ("node2 drained", "drain"),
    ]


# --- measured moments ---------------------------------------------------------------------------------------------


def timeline_report(samples: list[Sample] | None = None) -> Report:
    phases = [
        phase("baseline", 0, 20),
        phase("node1 down", 20, 60),
        phase("node1 back", 60, 80),
        phase("dnslb: takeover", 80, 100),
        phase("node2 drained", 100, 120),
        phase("node2 speaker back", 120, 140),
    ]
    events = [
        Mark(T0 + 20.0, "node1 link cut"),
        Mark(T0 + 25.0, "node1 NotReady"),
        Mark(T0 + 25.2, "database rescheduled to node2"),
        Mark(T0 + 60.0, "node1 link up, Ready"),
        Mark(T0 + 80.0, "DNSProvider takeover: true"),
        Mark(T0 + 100.0, "node2 cordoned, its ingress stops keep-alive"),
    ]
    convergences = [
        Convergence("default/web created → VIP in status", 0.5),  # before the run: no phase names its cause
        Convergence("node1 down → path withdrawn in router", 3.0),
        Convergence("database on node2 → its path in router", 1.0, at=T0 + 26.5),
        Convergence("node1 back → path in router", 0.8),
        Convergence("takeover → web.lab.test answers the VIP", 12.0),
        Convergence("node2 ingress → its client connections closed", 1.5, at=T0 + 101.5),
        Convergence("node2 drain → path withdrawn in router", None, "within 15s"),
        Convergence("flapping, damped: node3 in ECMP", 10.0, "of 20 s"),  # a duration, not a moment
    ]
    return build_report("node-down", samples or [], phases, events, convergences, {"users": 10, "nodes": 3})


def test_measured_moments_are_placed_at_their_instant_or_after_the_phase_their_cause_names() -> None:
    moments = measured_moments(timeline_report())

    assert [(round(m.offset, 6), m.kind) for m in moments] == [
        (23.0, WITHDRAWN),  # "node1 down" starts at 20
        (26.5, ANNOUNCED),  # its own instant
        (60.8, ANNOUNCED),
        (92.0, DNS),  # "takeover" names "dnslb: takeover", from 80
        (101.5, MEASURED),
    ]
    assert moments[0].label == "node1 down → path withdrawn in router: 3.00 s"


def test_a_moment_outside_the_run_is_left_out() -> None:
    report = build_report(
        "s", [], [phase("node1 down", 0, 10)], [], [Convergence("node1 down → path withdrawn", 30.0)], {}
    )

    assert measured_moments(report) == []


def fake_width(text: str) -> float:
    return 6.0 * len(text)  # pixels


def test_the_timeline_stacks_close_labels_and_takes_in_the_measured_moments() -> None:
    report = timeline_report()

    timeline = layout_timeline(report, (0.0, 140.0), fake_width)

    rows = {m.text: m.row for m in timeline.moments}
    assert rows["node1 NotReady"] != rows["database rescheduled to node2"]
    kinds = {m.text: m.kind for m in timeline.moments}
    assert kinds["node1 link cut"] == EVENT
    assert kinds["node1 down → path withdrawn in router: 3.00 s"] == WITHDRAWN
    assert kinds["takeover → web.lab.test answers the VIP: 12.00 s"] == DNS
    assert len(timeline.moments) == 6 + 5
    assert timeline.moment_rows == 1 + max(m.row for m in timeline.moments)


def test_labels_near_the_right_edge_end_at_their_moment() -> None:
    placed = lay_out([(95.0, "late", EVENT), (10.0, "early", EVENT)], [100.0, 100.0], (0.0, 100.0), 0.1)

    late, early = placed
    assert late.span[1] == pytest.approx(95.0 + 2 * 0.1)  # its box (2 px of padding) ends at its moment
    assert early.span[0] == pytest.approx(10.0 - 2 * 0.1)
    assert late.row == early.row == 0


def test_laid_out_labels_of_a_busy_timeline_neither_overlap_nor_cross() -> None:
    items = [(30.0 + (i % 7) * 0.2 + (i // 7) * 4.0, f"label {i}" + "x" * (i % 5) * 6, EVENT) for i in range(35)]
    widths = [6.0 * len(text) for _, text, _ in items]

    placed = lay_out(items, widths, (0.0, 70.0), 0.05)

    margin = 3 * 0.05
    for a, b in combinations(placed, 2):
        if a.row == b.row:
            assert a.span[1] <= b.span[0] or b.span[1] <= a.span[0]
    spans, rows, anchors = [p.span for p in placed], [p.row for p in placed], [p.anchor for p in placed]
    assert crossings(spans, rows, anchors, margin) == 0


def test_phase_names_that_do_not_fit_their_bar_go_above_it() -> None:
    report = build_report("s", [], [phase("baseline", 0, 100), phase("restart node3 speaker, damped", 100, 101)], [])

    names = {p.text: p.row for p in layout_timeline(report, (0.0, 101.0), fake_width).phase_names}

    assert names == {"baseline": 0, "restart node3 speaker, damped": 1}


# --- rendering ----------------------------------------------------------------------------------------------------


def busy_samples() -> list[Sample]:
    samples = []
    for i in range(1400):
        t = i * 0.1
        failing = 20 <= t < 23
        samples.append(
            Sample(
                T0 + t,
                "http" if i % 4 else "db",
                not failing,
                2.0 if failing else 0.005 + (i % 7) / 1000,
                None if failing else "node2",
                "ConnectTimeout" if failing else None,
                client="single",
                world="old" if i % 2 else "dnslb",
            )
        )
    return samples


def overlapping(boxes: list[Bbox]) -> list[tuple[Bbox, Bbox]]:
    return [(a, b) for a, b in combinations(boxes, 2) if a.overlaps(b)]


def test_the_timeline_renders_to_a_png(tmp_path: Path) -> None:
    path = plot_report(timeline_report(busy_samples()), busy_samples(), tmp_path / "timeline.png")

    assert path.read_bytes().startswith(PNG_MAGIC)
    height, width = imread(path).shape[:2]
    assert (width, height) == (1400, 800)


def test_rendered_labels_never_overlap_and_the_figure_grows_to_fit_them(tmp_path: Path) -> None:
    samples = busy_samples()
    events = [Mark(T0 + 30 + i * 0.2, f"event number {i} of a burst") for i in range(40)]
    report = build_report("burst", samples, [phase("baseline", 0, 30), phase("node1 down", 30, 140)], events)

    figure = draw_report(report, samples)
    figure.canvas.draw()

    texts = [t for ax in figure.axes for t in ax.texts if isinstance(t, Text) and t.get_text()]
    labels = [t for t in texts if t.get_text().startswith("event number")]
    assert len(labels) == 40
    boxes = [t.get_window_extent() for t in texts]
    assert overlapping(boxes) == []
    assert figure.bbox.height > 800 and figure.bbox.width == 1400
    figure.savefig(tmp_path / "burst.png")
    assert (tmp_path / "burst.png").read_bytes().startswith(PNG_MAGIC)
