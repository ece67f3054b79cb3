"""The lab report: samples into phases, statistics, the text and JSON renderings, and the PNG plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.image import imread

from dnslb_lab.plot import plot_report
from dnslb_lab.report import (
    CAUSES,
    CLIENT_KINDS,
    Convergence,
    Mark,
    Phase,
    Report,
    Sample,
    Tally,
    build_report,
    failure_cause,
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


def test_a_failure_counts_in_the_phase_it_failed_in() -> None:
    """A fault strikes, then its phase opens: a request in flight then started before and fails in the fault's."""
    samples = [ok(9.999), failed(9.999, "ReadTimeout"), failed(5.0, "ReadTimeout")]  # failed() takes 1 s
    report = build_report("s", samples, [phase("baseline", 0, 10), phase("node1 down", 10, 20)], [], [], {})
    assert [(p.stats_for().requests, p.stats_for().failures) for p in report.phases] == [(2, 1), (1, 1)]


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
        "at": None,
        "offset": None,
    }
    assert data["meta"] == {"users": 20, "nodes": 3}


def test_json_has_when_a_measurement_was_reached_when_the_lab_recorded_it() -> None:
    convergence = Convergence("node1 down → path withdrawn in BIRD", 3.02, at=T0 + 13.02)
    report = build_report("s", [], [phase("node1 down", 10, 20)], [], [convergence], {})

    assert report.to_json()["convergences"][0]["at"] == T0 + 13.02
    assert report.to_json()["convergences"][0]["offset"] == 3.02


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
    assert width == 1400
    assert height >= 800  # taller when the timeline's labels need more rows


def test_plot_is_a_png_1400_wide(tmp_path: Path) -> None:
    report, samples = scenario_report()

    assert_png(plot_report(report, samples, tmp_path / "plot.png"))


def test_plot_without_samples_is_still_drawn(tmp_path: Path) -> None:
    report = build_report("empty", [], [phase("baseline", 0, 10)], [Mark(T0 + 5, "cut")], [], {"users": 1})

    assert_png(plot_report(report, [], tmp_path / "empty.png"))


# --- old world vs dnslb ------------------------------------------------------------------------------------------


def user(t: float, world: str, client: str, error: str | None = None) -> Sample:
    node, latency = (None, 2.0) if error else ("node2", 0.003)
    return Sample(T0 + t, "http", error is None, latency, node, error, client=client, world=world)


def worlds_report() -> tuple[Report, list[Sample]]:
    """Both worlds through a baseline and a node-down phase; the old world's single client fails the most."""
    samples = [
        *(user(i * 0.1, world, client) for i in range(50) for world in ("dnslb", "old") for client in CLIENT_KINDS),
        user(10.2, "old", "single", "ConnectTimeout"),
        user(10.4, "old", "single", "ConnectTimeout"),
        user(12.0, "old", "single", "ConnectError: All connection attempts failed"),
        user(10.3, "old", "fallback", "ReadTimeout"),
        user(10.1, "dnslb", "single", "ReadError: [Errno 104] Connection reset by peer"),
        user(11.0, "dnslb", "fallback", "RemoteProtocolError: Server disconnected without sending a response."),
        user(12.0, "old", "single"),
        failed(10.5, "TimeoutError", kind="db"),  # the database is in neither world
    ]
    phases = [phase("baseline", 0, 10), phase("node1 down", 10, 20)]
    return build_report("node-down", samples, phases, [Mark(T0 + 10, "node1 link cut")], [], {}), samples


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        ("ConnectTimeout", "connect timeout"),
        ("ConnectError: [Errno 111] Connection refused", "connect failed"),
        ("ConnectError: All connection attempts failed", "connect failed"),
        ("ReadError: [Errno 104] Connection reset by peer", "reset"),
        ("RemoteProtocolError: Server disconnected without sending a response.", "reset"),
        ("ConnectionResetError: [Errno 104] Connection reset by peer", "reset"),
        ("ReadTimeout", "read timeout"),
        ("HTTP 502", "http error"),
        ("PoolTimeout", "other"),
        (None, "other"),
    ],
)
def test_failures_are_sorted_by_cause(error: str | None, cause: str) -> None:
    assert failure_cause(error) == cause
    assert cause in CAUSES


def test_each_phase_tallies_each_world_by_client_kind_and_cause() -> None:
    report, _ = worlds_report()
    down = report.phases[1]

    assert report.worlds == ("old", "dnslb")  # the old world first, whatever the samples' order
    assert report.clients == ("single", "fallback")
    assert down.tally("old", "single") == Tally("old", "single", 4, 3, (("connect timeout", 2), ("connect failed", 1)))
    assert down.tally("old") == Tally(
        "old", "all", 5, 4, (("connect timeout", 2), ("connect failed", 1), ("read timeout", 1))
    )
    assert down.tally("dnslb") == Tally("dnslb", "all", 2, 2, (("reset", 2),))
    assert down.tally("dnslb", "single").failure_rate == 1.0
    baseline = report.phases[0]
    assert baseline.tally("old", "fallback") == Tally("old", "fallback", 50, 0)
    assert baseline.tally("dnslb").requests == 100
    assert down.stats_for("db").failures == 1  # counted as before, but in no world


def test_a_phase_without_a_worlds_requests_still_has_its_rows() -> None:
    samples = [user(1, "old", "single"), user(11, "dnslb", "fallback")]
    report = build_report("s", samples, [phase("a", 0, 10), phase("b", 10, 20)], [], [], {})

    assert report.phases[0].tally("dnslb", "fallback") == Tally("dnslb", "fallback", 0, 0)
    assert report.phases[1].tally("old", "single").requests == 0


def test_the_whole_run_compares_dnslb_with_the_old_world() -> None:
    comparison = worlds_report()[0].comparison

    assert comparison is not None
    assert (comparison.old.failures, comparison.dnslb.failures) == (4, 2)
    assert comparison.failures_percent == pytest.approx(50.0)
    assert comparison.failure_rate_percent == pytest.approx(100 * (2 / 102) / (4 / 105))


def test_no_percentage_when_the_old_world_never_failed_and_no_comparison_with_one_world() -> None:
    both = build_report("s", [user(1, "old", "single"), user(2, "dnslb", "single", "ReadTimeout")], [], [], [], {})
    assert both.comparison is not None and both.comparison.failures_percent is None
    assert "dnslb failures over the whole run: 1; the old world had none" in both.to_text()

    one = build_report("s", [user(1, "dnslb", "single")], [], [], [], {})
    assert one.comparison is None
    assert one.to_json()["comparison"] is None
    assert "dnslb failures over the whole run" not in one.to_text()


def test_json_has_the_worlds_per_phase_and_the_comparison() -> None:
    data = json.loads(json.dumps(worlds_report()[0].to_json()))

    assert (data["worlds"], data["clients"], data["causes"]) == (["old", "dnslb"], ["single", "fallback"], list(CAUSES))
    down = data["phases"][1]["worlds"]
    assert set(down) == {"old", "dnslb"}
    assert set(down["old"]) == {"all", "single", "fallback"}
    assert down["old"]["single"] == {
        "requests": 4,
        "failures": 3,
        "failure_rate": 0.75,
        "causes": {"connect timeout": 2, "connect failed": 1},
    }
    assert data["overall"]["worlds"]["dnslb"]["all"]["causes"] == {"reset": 2}
    assert data["comparison"] == {
        "old_requests": 105,
        "old_failures": 4,
        "dnslb_requests": 102,
        "dnslb_failures": 2,
        "dnslb_failures_percent_of_old": 50.0,
        "dnslb_failure_rate_percent_of_old": round(100 * (2 / 102) / (4 / 105), 2),
    }


def test_text_puts_the_worlds_side_by_side_per_phase_and_client_kind() -> None:
    lines = worlds_report()[0].to_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("old vs dnslb"))
    table = lines[start + 1 : start + 1 + 1 + 3 * 3]

    assert table[0].split()[:8] == ["phase", "client", "old", "req", "failed", "fail%", "dnslb", "req"]
    assert [line.split()[0] for line in table[1:]] == [
        "baseline", "single", "fallback", "node1", "single", "fallback", "whole", "single", "fallback",
    ]  # fmt: skip
    down = table[4].split()
    assert down[:11] == ["node1", "down", "all", "5", "4", "80.00", "2", "2", "100.00", "connect", "timeout"]
    assert table[4].endswith("read timeout 1  reset 2")
    assert table[5].split()[1:7] == ["4", "3", "75.00", "1", "1", "100.00"]
    edge = table[0].index("fail%") + len("fail%")  # the old world's failure rates end where their header does
    assert all(line[edge - 1].isdigit() for line in table[1:])
    assert lines[start + 1 + 1 + 3 * 3].startswith("causes: connect = no connection")
    assert lines[start + 3 + 1 + 3 * 3] == (
        "dnslb failures over the whole run: 2 = 50.0 % of the old world's 4 (failure rates 1.96 % and 3.81 %)"
    )


def test_plot_with_both_worlds_is_drawn(tmp_path: Path) -> None:
    report, samples = worlds_report()

    assert_png(plot_report(report, samples, tmp_path / "worlds.png"))
