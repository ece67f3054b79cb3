"""The lab's demo workloads and load generator, as the lab runs them (own processes), on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dnslb.adapters.child import Child, ChildStartError
from dnslb_lab import load
from dnslb_testkit.ports import free_port
from dnslb_testkit.waiting import wait_for

SAMPLE_KEYS = {"t", "kind", "ok", "latency", "node", "error", "client", "world"}
STARTUP_SECONDS = 10.0
STOP_GRACE = 5.0


def start_app(kind: str, name: str, port: int, delay_file: Path) -> Child:
    command = [sys.executable, "-m", "dnslb_lab.app", kind, "--name", name, "--host", "127.0.0.1", "--port", str(port)]
    log = delay_file.parent / f"app-{kind}.log"
    app = Child.start([*command, "--delay-file", str(delay_file)], name=f"`app {kind}`", log=log)

    def listening() -> bool:
        line, complete, _ = app.read_log().partition("\n")
        if complete and line != "listening":
            raise ChildStartError(f"`app {kind}` printed {line!r} instead of `listening`")
        return bool(complete)

    try:
        app.wait_ready(listening, STARTUP_SECONDS, "print `listening`")
    except BaseException:
        app.stop(STOP_GRACE)
        raise
    return app


@dataclass(frozen=True)
class Node:
    name: str
    http: Child
    http_port: int
    db: Child
    db_port: int
    delay_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/"

    @property
    def db_address(self) -> str:
        return f"127.0.0.1:{self.db_port}"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    delay_file = tmp_path / "delay"
    http_port, db_port = free_port(), free_port()
    http = start_app("http", "node1", http_port, delay_file)
    try:
        db = start_app("db", "node1", db_port, delay_file)
    except BaseException:
        http.stop(STOP_GRACE)
        raise
    try:
        yield Node("node1", http, http_port, db, db_port, delay_file)
    finally:
        http.stop(STOP_GRACE)
        db.stop(STOP_GRACE)


@dataclass(frozen=True)
class Run:
    returncode: int
    summary: dict[str, Any]
    samples: list[dict[str, Any]]


def load_command(node: Node, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "dnslb_lab.load", "--out", str(out), "--url", node.url, "--users", "3",
        "--db", node.db_address, "--db-users", "2", "--ramp", "0", "--wait-min", "0.02", "--wait-max", "0.05",
        "--timeout", "1", *extra,
    ]  # fmt: skip


def start_load(node: Node, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(load_command(node, out, *extra), stdout=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], out: Path, timeout: float) -> Run:
    try:
        stdout, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"the load generator did not exit within {timeout}s")
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    return Run(process.returncode, json.loads(lines[0]), read_samples(out))


def read_samples(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "the samples file ends in a partial line"
    return [json.loads(line) for line in text.splitlines()]


def assert_consistent(run: Run) -> None:
    assert run.returncode == 0
    assert set(run.summary) == {"requests", "failures", "duration"}
    assert run.summary["requests"] == len(run.samples)
    assert run.summary["failures"] == sum(not s["ok"] for s in run.samples)
    for sample in run.samples:
        assert set(sample) == SAMPLE_KEYS
        assert sample["kind"] in ("http", "db")
        assert isinstance(sample["ok"], bool)
        assert isinstance(sample["t"], float)
        assert isinstance(sample["latency"], float)
        assert sample["latency"] >= 0
        assert (sample["error"] is None) == sample["ok"]


def test_http_app_names_its_node(node: Node) -> None:
    with httpx.Client() as client:
        for path in ("/", "/some/page?x=1"):
            response = client.get(f"http://127.0.0.1:{node.http_port}{path}")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            assert response.text == "node1"
        assert client.get(f"http://127.0.0.1:{node.http_port}/healthz").text == "ok"
    assert node.http.stop(STOP_GRACE) == 0


def test_db_speaks_the_line_protocol(node: Node) -> None:
    with socket.create_connection(("127.0.0.1", node.db_port), timeout=5) as sock, sock.makefile("rwb") as stream:
        for request, reply in (
            (b"QUERY 1\n", b"ROW node1 1\n"),
            (b"PING\n", b"PONG node1\n"),
            (b"DROP TABLE\n", b"ERR unknown command\n"),
            (b"QUERY 42\n", b"ROW node1 42\n"),
        ):
            stream.write(request)
            stream.flush()
            assert stream.readline() == reply
    assert node.db.stop(STOP_GRACE) == 0


def test_load_records_both_kinds(node: Node, tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    run = finish(start_load(node, out, "--duration", "2"), out, timeout=10)
    assert_consistent(run)
    for kind in ("http", "db"):
        samples = [s for s in run.samples if s["kind"] == kind]
        assert len(samples) >= 10, kind
        assert all(s["ok"] and s["node"] == "node1" and s["error"] is None for s in samples), kind
    assert 1.9 <= run.summary["duration"] < 4


def test_delay_file_slows_answers(node: Node, tmp_path: Path) -> None:
    node.delay_file.write_text("0.3\n")
    out = tmp_path / "samples.jsonl"
    process = start_load(node, out, "--duration", "2.5")
    time.sleep(1.2)
    node.delay_file.unlink()
    removed = time.time()
    run = finish(process, out, timeout=10)
    assert_consistent(run)
    assert all(s["ok"] for s in run.samples)
    for kind in ("http", "db"):
        before = [s["latency"] for s in run.samples if s["kind"] == kind and s["t"] < removed - 0.05]
        after = [s["latency"] for s in run.samples if s["kind"] == kind and s["t"] > removed + 0.5]
        assert before, kind
        assert after, kind
        assert min(before) >= 0.3, kind
        assert max(after) < 0.2, kind


def test_load_survives_the_http_app_dying(node: Node, tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    process = start_load(node, out, "--duration", "3")
    time.sleep(1.2)
    os.kill(node.http.pid, signal.SIGKILL)
    killed = time.time()
    run = finish(process, out, timeout=10)
    assert_consistent(run)
    http_after = [s for s in run.samples if s["kind"] == "http" and s["t"] > killed + 0.1]
    assert http_after
    assert not any(s["ok"] for s in http_after)
    assert all(s["node"] is None and s["error"] for s in http_after)
    assert max(s["t"] for s in http_after) > killed + 1, "HTTP users stopped trying after the failure"
    db_after = [s for s in run.samples if s["kind"] == "db" and s["t"] > killed + 1]
    assert db_after
    assert all(s["ok"] for s in db_after)


def test_sigterm_stops_promptly_and_records_in_flight(node: Node, tmp_path: Path) -> None:
    node.delay_file.write_text("0.4")
    out = tmp_path / "samples.jsonl"
    process = start_load(node, out, "--duration", "0", "--users", "4", "--wait-min", "0.01", "--wait-max", "0.02")
    # Under way once answers are being recorded: from then on each user is in a request 97% of the time. (A fixed
    # sleep let a slow start on a busy machine be signalled before any request had begun.)
    wait_for(lambda: out.exists() and out.read_text().count("\n") >= 4, 30, "answers recorded")
    os.kill(process.pid, signal.SIGTERM)
    signalled = time.time()
    run = finish(process, out, timeout=1 + 3)
    assert time.time() - signalled < 1 + 3
    assert_consistent(run)
    assert run.samples
    assert any(s["t"] < signalled < s["t"] + s["latency"] for s in run.samples), "in-flight requests were dropped"


def test_help_describes_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dnslb_lab.load", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    options = [
        "--out",
        "--url",
        "--users",
        "--db",
        "--db-users",
        "--duration",
        "--ramp",
        "--wait-min",
        "--wait-max",
        "--timeout",
    ]
    for option in options:
        assert option in result.stdout


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--users", "-1"], "--users"),
        (["--users", "many"], "--users"),
        (["--wait-min", "1", "--wait-max", "0.5"], "--wait-min"),
        (["--users", "0"], "--users"),
        (["--db-users", "2"], "--db"),
        (["--db", "nowhere"], "--db"),
        (["--timeout", "0"], "--timeout"),
        (["--url", "web.lab.test"], "--url"),
        ([], "--out"),
    ],
)
def test_invalid_arguments_name_the_option(argv: list[str], option: str, capsys: pytest.CaptureFixture[str]) -> None:
    if argv:
        argv = ["--out", "samples.jsonl", *argv]
    with pytest.raises(SystemExit) as exit_info:
        load.parse_options(argv)
    assert exit_info.value.code == 2
    assert option in capsys.readouterr().err


def test_invalid_arguments_exit_2_from_the_command_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "dnslb_lab.load", "--out", str(tmp_path / "s.jsonl"), "--db-users", "3"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "--db" in result.stderr
    assert not (tmp_path / "s.jsonl").exists()


def test_db_defaults_to_ten_users_only_with_an_address() -> None:
    assert load.parse_options(["--out", "s"]).db_users == 0
    options = load.parse_options(["--out", "s", "--db", "[::1]:5432"])
    assert (options.db, options.db_users) == (load.Endpoint("::1", 5432), 10)
    assert options.urls == (load.DEFAULT_URL,)
