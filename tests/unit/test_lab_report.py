"""The lab report: samples into phases, statistics, the text and JSON renderings, and the PNG plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.image import imread

from dnslb_lab.plot import plot_report
from dnslb_lab.report import (
    Convergence,
    Mark,
    Phase,
    Report,
    Sample,
    build_report,
    read_samples,
    write_report,
)

T0 = 1764150000.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ok(t: float, kind: str = "http", latency_ms: float = 10.0, node: str = "node1") -> Sample:
    return Sample(t=T0 + t, kind=kind, ok=True, latency=latency_ms / 1000, node=node, error=None)


def failed(t: float, error: str, kind: str = "http") -> Sample:
    return Sample(t=T0 + t, kind=kind, ok=False, latency=1.0, node=None, error=error)


def phase(name: str, start: float, end: float) -> Phase:
    return Phase(name, T0 + start, T0 + end)


def scenario_report() -> tuple[Report, list[Sample]]:
    samples = [
        *(ok(i * 0.1, kind="http" if i % 2 else "db", node=f"node{i % 3 + 1}") for i in range(100)),
        failed(10.5, "ConnectTimeout"),
        failed(11.0, "ConnectionResetError: [Errno 104] Connection reset by peer", kind="db"),
        failed(11.5, "ConnectionResetError: [Errno 32] Broken pipe"),
        ok(12.0, node="node2"),
    ]
    report = build_report(
        "nodes-one-by-one",
        samples,
        [phase("baseline", 0, 10), phase("node1 down", 10, 20)],
        [Mark(T0 + 10, "cut node1 link"), Mark(T0 + 13.02, "node1 path withdrawn")],
        [Convergence("node1 down → path withdrawn in BIRD", 3.02), Convergence("node1 back", None, "timeout 30 s")],
        {"users": 20, "nodes": 3},
    )
    return report, samples


def test_samples_belong_to_the_phase_their_start_falls_in() -> None:
    samples = [ok(-1), ok(0), ok(9.999), ok(10), ok(19.5), ok(20), ok(25)]
    report = build_report("s", samples, [phase("a", 0, 10), phase("b", 10, 20)], [], [], {})

    assert [p.stats_for().requests for p in report.phases] == [2, 2]
    assert report.overall.stats_for().requests == 7  # samples outside every phase still count for the whole run
    assert report.started == T0 - 1
    assert report.ended == T0 + 25


def test_percentiles_are_nearest_rank_over_ok_latencies() -> None:
    samples = [ok(i * 0.01, latency_ms=i) for i in range(100, 0, -1)] + [failed(0.5, "ConnectTimeout")]
    stats = build_report("s", samples, [phase("p", 0, 10)], [], [], {}).phases[0].stats_for()

    assert (stats.p50_ms, stats.p95_ms, stats.p99_ms) == (50, 95, 99)
    assert stats.max_ms == 1000  # the failure's wait counts for the max, not for the percentiles
    assert stats.requests == 101
    assert stats.rps == pytest.approx(10.1)


def test_failures_are_counted_and_errors_grouped_by_their_kind() -> None:
    report, _ = scenario_report()
    down = report.phases[1].stats_for()

    assert (down.requests, down.failures) == (4, 3)
    assert down.failure_rate == pytest.approx(0.75)
    assert down.top_errors == (("ConnectionResetError", 2), ("ConnectTimeout", 1))
    assert down.answers_by_node == {"node2": 1}
    assert report.phases[1].stats_for("db").failures == 1
    assert report.phases[1].stats_for("http").failures == 2


def test_answers_are_counted_per_node() -> None:
    report, _ = scenario_report()

    assert report.phases[0].stats_for().answers_by_node == {"node1": 34, "node2": 33, "node3": 33}


def test_a_phase_without_ok_requests_has_no_percentiles_and_the_text_shows_a_dash() -> None:
    samples = [ok(1), failed(11, "HTTP 502"), failed(12, "HTTP 502")]
    report = build_report("s", samples, [phase("up", 0, 10), phase("all failing", 10, 20)], [], [], {})
    stats = report.phases[1].stats_for()

    assert (stats.p50_ms, stats.p95_ms, stats.p99_ms) == (None, None, None)
    row = next(line for line in report.to_text().splitlines() if line.startswith("all failing"))
    assert row.split()[-4:-1] == ["-", "-", "-"]
    assert "HTTP 502 (2)" in report.to_text()


def test_text_lists_phases_per_kind_convergences_and_events() -> None:
    report, _ = scenario_report()
    text = report.to_text()
    lines = text.splitlines()

    for name in ("baseline", "node1 down", "whole run"):
        assert any(line.startswith(name) for line in lines), name
    assert "  node1 down → path withdrawn in BIRD: 3.02 s" in lines
    assert "  node1 back: not reached (timeout 30 s)" in lines
    assert any(line.endswith("s  node1 path withdrawn") and "+13.02" in line for line in lines)
    assert "users=20  nodes=3" in text
    assert "\x1b" not in text


def test_text_table_columns_are_aligned() -> None:
    report, _ = scenario_report()
    lines = report.to_text().splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("phase"))) :]
    table = table[: table.index("")]

    assert len(table) == 1 + 3 * 3  # header, then all/http/db for two phases and the whole run
    assert len({len(line) for line in table}) == 1  # numbers are right-aligned to the same edge
    assert [line[:10].strip() for line in table[1:] if not line.startswith(" ")] == [
        "baseline",
        "node1 down",
        "whole run",
    ]


def test_one_kind_only_gives_one_row_per_phase() -> None:
    report = build_report("s", [ok(1), ok(2)], [phase("p", 0, 10)], [], [], {})

    assert report.kinds == ("http",)
    assert not any(line.lstrip().startswith("http") for line in report.to_text().splitlines())


def test_json_round_trips_with_offsets_and_absolute_times() -> None:
    report, _ = scenario_report()
    data = json.loads(json.dumps(report.to_json()))

    assert data["scenario"] == "nodes-one-by-one"
    assert data["kinds"] == ["http", "db"]
    assert [p["name"] for p in data["phases"]] == ["baseline", "node1 down"]
    assert data["phases"][1]["start"] == T0 + 10
    assert data["phases"][1]["start_offset"] == 10
    assert data["phases"][1]["stats"]["all"]["top_errors"][0] == {"error": "ConnectionResetError", "count": 2}
    assert data["events"][1] == {"label": "node1 path withdrawn", "t": T0 + 13.02, "offset": 13.02}
    assert data["convergences"][1] == {
        "name": "node1 back",
        "reached": False,
        "seconds": None,
        "detail": "timeout 30 s",
    }
    assert data["meta"] == {"users": 20, "nodes": 3}


def test_write_report_writes_text_and_json(tmp_path: Path) -> None:
    report, _ = scenario_report()
    text_path, json_path = write_report(report, tmp_path / "run1")

    assert text_path.read_text(encoding="utf-8") == report.to_text()
    assert json.loads(json_path.read_text(encoding="utf-8")) == json.loads(json.dumps(report.to_json()))


def sample_line(t: float, ok: bool = True) -> str:
    node, error = ("node1", None) if ok else (None, "ConnectTimeout")
    return json.dumps({"t": t, "kind": "db", "ok": ok, "latency": 0.01, "node": node, "error": error})


def test_read_samples_tolerates_a_truncated_last_line_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text(f"{sample_line(1.0)}\n\n{sample_line(2.0, ok=False)}\n{sample_line(3.0)[:25]}", encoding="utf-8")

    samples = read_samples(path)

    assert samples == [
        Sample(1.0, "db", True, 0.01, "node1", None),
        Sample(2.0, "db", False, 0.01, None, "ConnectTimeout"),
    ]


@pytest.mark.parametrize(
    "bad_line",
    ['{"t": 1.0, "kind": "db"', '{"t": "soon", "kind": "db", "ok": true, "latency": 0.1}', "[1, 2]"],
)
def test_read_samples_rejects_a_bad_line_in_the_middle(tmp_path: Path, bad_line: str) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text(f"{sample_line(1.0)}\n{bad_line}\n{sample_line(3.0)}\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"samples\.jsonl:2:"):
        read_samples(path)


def assert_png(path: Path) -> None:
    assert path.read_bytes().startswith(PNG_MAGIC)
    height, width = imread(path).shape[:2]
    assert (width, height) == (1400, 800)


def test_plot_is_a_1400x800_png(tmp_path: Path) -> None:
    report, samples = scenario_report()

    assert_png(plot_report(report, samples, tmp_path / "plot.png"))


def test_plot_without_samples_is_still_drawn(tmp_path: Path) -> None:
    report = build_report("empty", [], [phase("baseline", 0, 10)], [Mark(T0 + 5, "cut")], [], {"users": 1})

    assert_png(plot_report(report, [], tmp_path / "empty.png"))
