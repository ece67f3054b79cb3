"""The lab end to end, as an operator runs it: `dnslb lab run`, `lab up|status|down`, Ctrl-C, and `--router` (BIRD's
hash-threshold ECMP, FRR, the resilient-ECMP emulation). Real BIRD or FRR, BIND, NGINX, ExaBGP, speakers and
controller in namespaces; the report, and for the emulation the router's routing tables while it runs, are what these
tests read."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dnslb.adapters.child import Child
from dnslb_lab import state
from dnslb_testkit.waiting import wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]

LAB = [sys.executable, "-m", "dnslb.app.cli", "lab"]
# what only a lab's processes have on their command line: its workloads, load generator, resilient-ECMP agent, dnslb
# against its API, and the router's daemons (FRR's vty sockets, BIRD's config) in a temp dir named after the lab
LAB_MARKS = ("dnslb_lab.app", "dnslb_lab.load", "dnslb_lab.resilient", "http://10.0.3.10:6443", "/dnslblab-")
NODE_GATEWAYS = {"10.0.0.11": "node1", "10.0.0.12": "node2"}  # the router's next hops: the nodes on its bridge


@pytest.fixture(autouse=True, scope="module")
def _no_lab_left_behind() -> None:
    """A lab killed with its machine (no teardown) leaves namespaces and processes that these tests would count as
    theirs: `lab down` removes them first, as an operator would."""
    subprocess.run([*LAB, "down"], capture_output=True, timeout=120, check=True)


def lab_namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.startswith("dnslblab-")}


def lab_processes() -> list[str]:
    """Command lines of processes only a lab runs (its workloads, load generator, and dnslb against its API)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(mark in cmdline for mark in LAB_MARKS):
                found.append(f"{entry.name}: {cmdline}")
    return found


def phase_entry(report: dict[str, Any], phase: str) -> dict[str, Any]:
    for entry in report["phases"]:
        if entry["name"] == phase:
            found: dict[str, Any] = entry
            return found
    raise AssertionError(f"no phase {phase!r} in {[p['name'] for p in report['phases']]}")


def stats(report: dict[str, Any], phase: str, kind: str = "http") -> dict[str, Any]:
    result: dict[str, Any] = phase_entry(report, phase)["stats"][kind]
    return result


def tally(report: dict[str, Any], phase: str, world: str, client: str = "all") -> dict[str, Any]:
    result: dict[str, Any] = phase_entry(report, phase)["worlds"][world][client]
    return result


def answered_within(report: dict[str, Any], samples: list[dict[str, Any]], phase: str) -> set[str]:
    """The nodes that answered requests started and finished within the phase."""
    entry = phase_entry(report, phase)
    return {
        s["node"] for s in samples if s["node"] and entry["start"] <= s["t"] and s["t"] + s["latency"] < entry["end"]
    }


def start_run(tmp_path: Path) -> tuple[Child, Path]:
    """A long `lab run` in the background, returned once its first phase has begun (the lab is up)."""
    log = tmp_path / "out.log"
    run = Child.start(
        [
            *LAB,
            "run",
            "--nodes",
            "2",
            "--duration",
            "120",
            "--users",
            "5",
            "--db-users",
            "1",
            "--output",
            str(tmp_path),
        ],
        name="`dnslb lab run`",
        log=log,
    )
    try:
        run.wait_ready(lambda: "phase: baseline" in run.read_log(), 200, "begin its first phase", interval=0.2)
    except BaseException:
        run.kill()
        raise
    return run, log


def test_node_down_run_reports_the_failover_and_leaves_nothing_behind(tmp_path: Path) -> None:
    before = lab_namespaces()
    result = subprocess.run(
        [*LAB, "run", "--scenario", "node-down", "--nodes", "2", "--duration", "30", "--users", "10",
         "--db-users", "2", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=500, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "req/s" in result.stdout  # progress while it ran
    assert "lab report: node-down" in result.stdout

    report = json.loads((tmp_path / "report.json").read_text())
    assert [p["name"] for p in report["phases"]] == ["baseline", "node1 down", "node1 back", "node2 down", "node2 back"]
    baseline = stats(report, "baseline")
    assert baseline["requests"] > 0 and baseline["failures"] == 0
    assert set(baseline["answers_by_node"]) == {"node1", "node2"}
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    # a dead node answers nothing (a request whose SYN is retried may reach it once it is back, after the phase);
    # everything goes to the other one
    assert answered_within(report, samples, "node1 down") == {"node2"}
    assert answered_within(report, samples, "node2 down") == {"node1"}
    assert stats(report, "node1 down", "db")["requests"] > 0  # the database went on, rescheduled
    # both worlds side by side, each with both client kinds, in every phase
    assert (report["worlds"], report["clients"]) == (["old", "dnslb"], ["single", "fallback"])
    for entry in report["phases"]:
        for world in ("old", "dnslb"):
            assert set(entry["worlds"][world]) == {"all", "single", "fallback"}
            for client in ("single", "fallback"):
                assert tally(report, entry["name"], world, client)["requests"] > 0, (entry["name"], world, client)
    for world in ("old", "dnslb"):
        assert tally(report, "baseline", world)["failures"] == 0
        whole = report["overall"]["worlds"][world]["all"]
        assert whole["failures"] == sum(whole["causes"].values())
    comparison = report["comparison"]
    assert comparison["old_requests"] > 0 and comparison["dnslb_requests"] > 0
    assert comparison["old_failures"] == report["overall"]["worlds"]["old"]["all"]["failures"]
    assert {(s["kind"], s["world"], s["client"]) for s in samples} == {
        ("http", "old", "single"), ("http", "old", "fallback"), ("http", "dnslb", "single"),
        ("http", "dnslb", "fallback"), ("db", None, None),
    }  # fmt: skip
    convergences = {c["name"]: c for c in report["convergences"]}
    web = "ingress-nginx/ingress-nginx created → web.lab.test (Ingress team-web/web) answered by BIND"
    for name in ("node1 down → path withdrawn in BIRD", "node1 back → path in BIRD", web):
        assert convergences[name]["reached"], convergences[name]
    text = (tmp_path / "report.txt").read_text()
    assert text.startswith("lab report: node-down")
    assert "old vs dnslb: HTTP users per world and client kind, failures by cause" in text
    assert "phase       client    old req  failed  fail%  dnslb req  failed  fail%  old failures by cause" in text
    assert "dnslb failures over the whole run: " in text
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "logs" / "controller.log").exists()

    assert lab_namespaces() <= before
    assert lab_processes() == []


def test_up_status_down(tmp_path: Path) -> None:
    before = lab_namespaces()
    up = subprocess.run([*LAB, "up", "--nodes", "2", "--logs", str(tmp_path)], capture_output=True, text=True,
                        timeout=200, check=False)  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        (lab,) = [s for s in state.load_all() if s.namespaces[0] not in before]
        assert all(state.alive(p) for p in lab.processes)
        status = subprocess.run([*LAB, "status"], capture_output=True, text=True, timeout=60, check=True).stdout
        assert status.count("Established") >= 2
        assert "web.lab.test → 10.100.0.0" in status
        client = ["ip", "netns", "exec", lab.client]
        fetch = "import urllib.request as u; print(u.urlopen('http://web.lab.test/', timeout=3).read().decode())"
        answer = subprocess.run(
            [*client, sys.executable, "-c", fetch], capture_output=True, text=True, timeout=30, check=False
        )
        assert answer.stdout.strip() in {"node1", "node2"}, answer.stderr
    finally:
        down = subprocess.run([*LAB, "down"], capture_output=True, text=True, timeout=120, check=False)
    assert down.returncode == 0, down.stderr
    # `lab down` also removes what an earlier, killed lab left behind, so `before` may shrink
    assert lab_namespaces() <= before
    assert not any(state.alive(p) for p in lab.processes)
    assert not lab.file.exists()
    assert lab_processes() == []


def test_ctrl_c_tears_everything_down(tmp_path: Path) -> None:
    before = lab_namespaces()
    run, log = start_run(tmp_path)
    try:
        assert lab_namespaces() - before  # it is up
        down = subprocess.run([*LAB, "down"], capture_output=True, text=True, timeout=60, check=True)
        before = lab_namespaces() & before  # it removes what an earlier, killed lab left behind
        assert f"in use by `dnslb lab` PID {run.pid}" in down.stdout  # `lab down` leaves a running lab alone
        assert lab_namespaces() - before
        run.send_signal(signal.SIGINT)
        assert run.wait(120) == 130
    finally:
        run.kill()  # reaps it: it has ended by now unless the test failed
    assert "tearing the lab down" in log.read_text()
    assert lab_namespaces() == before
    assert lab_processes() == []


def test_down_removes_what_a_killed_lab_left_behind(tmp_path: Path) -> None:
    before = lab_namespaces()
    run, _ = start_run(tmp_path)
    run.kill()  # no teardown: namespaces and processes stay behind
    after_kill = lab_namespaces() - before
    assert after_kill
    assert lab_processes()
    down = subprocess.run([*LAB, "down"], capture_output=True, text=True, timeout=120, check=False)
    assert down.returncode == 0, down.stderr
    assert "removed what a lab left behind when it died" in down.stdout
    assert lab_namespaces() <= before
    tags = {name.rsplit("-", 1)[0] for name in after_kill}
    assert not [p for tag in tags for p in Path(tempfile.gettempdir()).glob(f"{tag}-*")]  # its temp dirs too
    assert lab_processes() == []


def short_node_down(output: Path, router: str) -> list[str]:
    """`lab run` argv: a short node-down scenario on 2 nodes (phases of 6 s, outages of 12 s) with few users."""
    return [*LAB, "run", "--router", router, "--scenario", "node-down", "--nodes", "2", "--duration", "30",
            "--users", "10", "--db-users", "2", "--output", str(output)]  # fmt: skip


def assert_node_down_report(report: dict[str, Any], samples: list[dict[str, Any]], router: str) -> None:
    """What a user reads in any router's node-down report: a dead node's path goes and comes back at the router, and
    only the live node answers while one is down. (Not that both nodes answer in the baseline: a few users' keep-alive
    connections all land on one node now and then.)"""
    assert [p["name"] for p in report["phases"]] == ["baseline", "node1 down", "node1 back", "node2 down", "node2 back"]
    baseline = stats(report, "baseline")
    assert baseline["requests"] > 0 and baseline["failures"] == 0
    assert answered_within(report, samples, "node1 down") == {"node2"}
    assert answered_within(report, samples, "node2 down") == {"node1"}
    convergences = {c["name"]: c for c in report["convergences"]}
    for name in (f"ingress-nginx/ingress-nginx created → 2 path(s) in {router}",
                 f"node1 down → path withdrawn in {router}", f"node1 back → path in {router}",
                 f"node2 down → path withdrawn in {router}", f"node2 back → path in {router}"):  # fmt: skip
        assert convergences[name]["reached"], convergences[name]


def read_run(output: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    report = json.loads((output / "report.json").read_text())
    samples = [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]
    return report, samples


def test_frr_as_the_router_runs_the_scenario_and_the_report_says_so(tmp_path: Path) -> None:
    before = lab_namespaces()
    result = subprocess.run(short_node_down(tmp_path, "frr"), capture_output=True, text=True, timeout=400, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report, samples = read_run(tmp_path)
    assert report["meta"]["router"].startswith("frr (FRR from Debian")
    assert "router=frr (FRR from Debian" in (tmp_path / "report.txt").read_text()
    assert_node_down_report(report, samples, "FRR")
    assert lab_namespaces() <= before
    assert lab_processes() == []  # FRR's daemons too


@dataclass(frozen=True)
class NexthopGroup:
    """The router's main-table route to a VIP through a nexthop group: the group, its kind and its next hops."""

    id: int
    type: str
    buckets: int
    nodes: frozenset[str]


def ip_json(namespace: str, *args: str) -> Any:
    out = subprocess.run(["ip", "-n", namespace, "-j", *args], capture_output=True, text=True, timeout=10, check=True)
    return json.loads(out.stdout or "[]")


def nexthop_group(router: str, vip: str) -> NexthopGroup | None:
    """The group the router's main table sends `vip` through (None: no route, or one without a group)."""
    routes = ip_json(router, "route", "show", "exact", f"{vip}/32")
    if len(routes) != 1 or "nhid" not in routes[0]:
        return None
    nexthops = {entry["id"]: entry for entry in ip_json(router, "nexthop", "show")}
    group = nexthops.get(routes[0]["nhid"])
    if group is None or "group" not in group:
        return None
    gateways = {nexthops.get(member["id"], {}).get("gateway") for member in group["group"]}
    return NexthopGroup(
        id=group["id"],
        type=group.get("type", "mpath"),
        buckets=group.get("resilient_args", {}).get("buckets", 0),
        nodes=frozenset(NODE_GATEWAYS.get(str(g), str(g)) for g in gateways),
    )


def test_resilient_router_emulation_keeps_one_resilient_group_for_the_vip_through_a_node_down(tmp_path: Path) -> None:
    before = lab_namespaces()
    log = tmp_path / "out.log"
    run = Child.start(short_node_down(tmp_path, "resilient"), name="`dnslb lab run --router resilient`", log=log)
    try:

        def reach(phase: str) -> None:
            run.wait_ready(lambda: f"phase: {phase}\n" in run.read_log(), 200, f"reach phase {phase!r}", interval=0.1)

        def group_of(nodes: set[str]) -> NexthopGroup:
            found = wait_for(
                lambda: (g := nexthop_group(router, vip)) is not None and g.nodes == nodes and g,
                20.0,
                f"the route to {vip} through a group of {sorted(nodes)}",
                interval=0.2,
            )
            assert isinstance(found, NexthopGroup)
            return found

        reach("baseline")
        (router,) = [name for name in lab_namespaces() - before if name.endswith("-router")]
        client = router.removesuffix("-router") + "-client"
        vip_line = re.search(r"ingress-nginx/ingress-nginx: VIP (\S+),", run.read_log())
        assert vip_line is not None
        vip = vip_line.group(1)
        group = group_of({"node1", "node2"})
        assert (group.type, group.buckets) == ("resilient", 128)
        rehash = subprocess.run(["ip", "netns", "exec", client, "sysctl", "-n", "net.core.txrehash"],
                                capture_output=True, text=True, timeout=10, check=True)  # fmt: skip
        assert rehash.stdout.strip() == "0"  # the client's retransmissions keep their hash, as through a router
        reach("node1 down")
        assert group_of({"node2"}).id == group.id  # changed in place: node2's buckets stay where they were
        reach("node1 back")
        assert group_of({"node1", "node2"}).id == group.id
        assert run.wait(300) == 0, run.log_tail(60)
    finally:
        run.stop(grace=120)  # reaps it; a lab still running tears itself down on SIGTERM
    report, samples = read_run(tmp_path)
    assert report["meta"]["router"] == (
        "resilient (emulation: BIRD + Linux resilient nexthop groups, buckets 128, idle timer 5 s)"
    )
    assert "router=resilient (emulation: " in (tmp_path / "report.txt").read_text()
    assert_node_down_report(report, samples, "BIRD")
    # a node coming back takes only idle buckets: no established connection of dnslb's users is moved and reset
    for phase in ("node1 back", "node2 back"):
        assert "reset" not in tally(report, phase, "dnslb")["causes"], tally(report, phase, "dnslb")
    assert lab_namespaces() <= before
    assert lab_processes() == []
