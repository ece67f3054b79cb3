"""`dnslb lab up|run|down|status`: the command line of the lab."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from dnslb import __version__
from dnslb_lab import cluster, scenarios, state
from dnslb_lab.lab import DNS_ADDRESS, NETNS_PREFIX, ROUTERS, Lab, LabOptions, resolve
from dnslb_lab.load import DEFAULT_CLIENT_MIX, client_mix
from dnslb_lab.report import DNSLB_WORLD, OLD_WORLD, Sample, build_report, parse_sample, read_samples, write_report
from dnslb_lab.resilient import DEFAULT_BUCKETS, DEFAULT_IDLE_TIMER
from dnslb_testkit.netns import Namespace, NetnsError, Process
from dnslb_testkit.servers.frr import VTYSH

_MIN_PHASE = 6.0
_DEFAULT_DURATION = 600.0


def main(argv: list[str] | None = None) -> int:
    """`dnslb lab ARGS`: the `dnslb` command hands everything after `lab` to this."""
    parser = argparse.ArgumentParser(
        prog="dnslb lab",
        description=(
            "Build a router (BIRD or FRR: see --router), nodes (dnslb speaker, NGINX, a demo app, a database), a DNS "
            "server (BIND), the control plane (API double, dnslb controller) and a client in network namespaces; run "
            "a scenario under load and report latency, failures and convergence times."
        ),
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    up = commands.add_parser(
        "up",
        help="build the lab and leave it running",
        description="Build the lab (router, nodes, DNS, control plane, client) and leave it running; `lab down` "
        "removes it. Needs root and Linux network namespaces.",
    )
    _lab_options(up)
    up.add_argument(
        "--logs", type=Path, default=None, help="where its processes log (default /var/log/dnslb-lab/<time>)"
    )
    up.set_defaults(run=run_up)

    run = commands.add_parser(
        "run",
        help="build the lab, run a scenario under load, print the report, tear it down",
        description="Build the lab, start the load generator in the client namespace, drive a scenario, and write "
        "report.txt, report.json, report.png and samples.jsonl to --output. Half the HTTP users live in the old "
        f"world ({cluster.OLD_HOST}: A records of every node), half in dnslb's ({', '.join(cluster.WEB_HOSTS)}: "
        "the VIP), both with the same client mix, through the same phases; the report compares them per phase. "
        "Everything the lab started is stopped at the end, on Ctrl-C and on SIGTERM. Scenarios: "
        + "; ".join(f"{name}: {text}" for name, (_, text) in scenarios.SCENARIOS.items()),
    )
    _lab_options(run)
    run.add_argument(
        "--scenario",
        choices=sorted(scenarios.SCENARIOS),
        default="node-down",
        help="what happens under load, from the list above (default node-down)",
    )
    run.add_argument(
        "--duration",
        type=float,
        default=_DEFAULT_DURATION,
        help=f"seconds the scenario runs, split over its phases; an outage phase (a node down) lasts "
        f"{scenarios.OUTAGE_UNITS}x the others, so that it outlasts the BGP hold time plus the records' "
        f"{cluster.RECORD_TTL} s TTL (default {_DEFAULT_DURATION:g}: node-down with 3 nodes has phases of "
        f"{_DEFAULT_DURATION / scenarios.phase_units('node-down', 3):g} s, outages of "
        f"{scenarios.OUTAGE_UNITS * _DEFAULT_DURATION / scenarios.phase_units('node-down', 3):g} s; "
        f"at least {_MIN_PHASE:g} s a phase)",
    )
    run.add_argument("--users", type=int, default=200, help="concurrent HTTP users (default 200)")
    run.add_argument(
        "--client-mix",
        type=client_mix,
        default=client_mix(DEFAULT_CLIENT_MIX),
        metavar="KIND=SHARE,...",
        help="HTTP client kinds in each world: single (the first resolved address only, fails on timeout) and "
        f"fallback (happy eyeballs over every address) (default {DEFAULT_CLIENT_MIX})",
    )
    run.add_argument("--db-users", type=int, default=20, help="concurrent database clients (default 20)")
    run.add_argument(
        "--output", type=Path, default=Path("lab-report"), help="where the report goes (default lab-report/)"
    )
    run.set_defaults(run=run_scenario)

    down = commands.add_parser(
        "down",
        help="tear down labs left by `lab up`",
        description="Stop every process a `lab up` started (by PID, checked against its start time), delete its "
        "namespaces and files.",
    )
    down.set_defaults(run=run_down)

    status = commands.add_parser(
        "status",
        help="show labs left by `lab up`",
        description="Show each running lab: its processes, BGP sessions and routes at the router, DNS answers.",
    )
    status.set_defaults(run=run_status)


def _lab_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=3, help="cluster nodes (default 3)")
    parser.add_argument("--hold-time", type=int, default=3, help="BGP hold time, seconds (default 3)")
    parser.add_argument(
        "--damping-half-life", type=float, default=None, help="speakers' damping half-life (default: a phase)"
    )
    parser.add_argument(
        "--router",
        choices=list(ROUTERS),
        default="ecmp",
        help="the edge router (default ecmp). ecmp: BIRD, its multipath route in the router's kernel, whose "
        "hash-threshold ECMP moves established connections of other nodes too whenever a node leaves or returns; "
        "resilient: an emulation of a router with resilient ECMP: BIRD exports into a side table and a lab agent "
        "(python -m dnslb_lab.resilient) mirrors it into Linux resilient nexthop groups "
        f"({DEFAULT_BUCKETS} buckets, idle timer {DEFAULT_IDLE_TIMER} s), so a node leaving or returning leaves the "
        "other nodes' busy connections where they are; frr: FRR from Debian (bgpd + zebra) instead of BIRD, "
        "hash-threshold ECMP as with ecmp",
    )


def _needs_root(command: str) -> int | None:
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        print(
            f"dnslb lab {command}: needs root on Linux: it creates network namespaces, veth links and runs BIRD, "
            "BIND and NGINX inside them. Run it as root (sudo), or see `dnslb plan` for what dnslb would do.",
            file=sys.stderr,
        )
        return 2
    return None


def _options(args: argparse.Namespace, phase: float, logs: Path, legacy: bool = False) -> LabOptions:
    if not 1 <= args.nodes <= 50:
        raise SystemExit("dnslb lab: --nodes must be 1..50")
    if args.hold_time < 3:
        raise SystemExit("dnslb lab: --hold-time must be at least 3 (BGP)")
    half_life = args.damping_half_life if args.damping_half_life is not None else round(max(phase, 5.0), 1)
    return LabOptions(args.nodes, args.hold_time, True, half_life, legacy, logs, args.router)


def _say(text: str) -> None:
    print(f"[lab {time.strftime('%H:%M:%S')}] {text}", flush=True)


def run_up(args: argparse.Namespace) -> int:
    if (code := _needs_root("up")) is not None:
        return code
    logs = args.logs or Path("/var/log/dnslb-lab") / time.strftime("%Y%m%d-%H%M%S")
    lab = Lab(_options(args, 30.0, logs), say=_say)
    lab.start()
    lab.create_services()
    saved = _detach(lab).save()
    state.release(lab.testbed.network.tag)  # the state file owns it now
    _say(f"lab up; state in {saved}, logs in {logs}")
    client = lab.client_namespace.name
    print(f"  try:  ip netns exec {client} curl -s http://{cluster.WEB_HOSTS[0]}/")
    print(f"        ip netns exec {client} dig +short {cluster.DB_HOST} @{DNS_ADDRESS}")
    print("  then: dnslb lab status; dnslb lab down")
    return 0


def _detach(lab: Lab) -> state.LabState:
    bed, bind = lab.testbed, lab.bind
    assert bind is not None and bind.pid is not None
    namespaces, processes = bed.network.detach()
    owned = [state.owned(p.pid, " ".join(p.argv[:4])) for p in processes if p.alive()]
    owned.append(state.owned(bind.pid, "named"))
    frr = bed.router_daemon == "frr"
    paths = [
        str(bed.directory),
        str(bed.routing.directory),
        str(bind.directory),
        f"/etc/netns/{lab.client_namespace.name}",
    ]
    return state.LabState(
        tag=bed.network.tag,
        namespaces=tuple(n.name for n in namespaces),
        processes=tuple(owned),
        paths=tuple(paths),
        api_url=lab.api_url,
        client=lab.client_namespace.name,
        router=bed.router.name,
        bird_socket="" if frr else str(bed.bird.socket),
        vips={name: str(vip) for name, vip in lab.vips.items()},
        hostnames={
            s.name: list(s.hostnames or (cluster.WEB_HOSTS if s is cluster.INGRESS else ())) for s in cluster.SERVICES
        },
        logs=str(lab.options.logs),
        router_kind=lab.options.router,
        router_daemon=bed.router_daemon,
        frr_dir=str(bed.frr.directory) if frr else "",
    )


def run_down(args: argparse.Namespace) -> int:
    if (code := _needs_root("down")) is not None:
        return code
    failed = False
    labs = state.load_all()
    for lab in labs:
        problems = state.teardown(lab)
        state.release(lab.tag)
        for problem in problems:
            print(f"{lab.tag}: {problem}", file=sys.stderr)
        failed |= bool(problems)
        print(f"{lab.tag}: down ({len(lab.namespaces)} namespaces, {len(lab.processes)} processes)")
    orphans = 0
    for tag, namespaces in sorted(state.lab_namespaces(NETNS_PREFIX).items()):
        running = state.owner(tag)
        if running is not None:
            print(f"{tag}: in use by `dnslb lab` PID {running.pid}; stop that (Ctrl-C) to tear it down")
            continue
        problems = state.remove_orphan(tag, namespaces)
        for problem in problems:
            print(f"{tag}: {problem}", file=sys.stderr)
        failed |= bool(problems)
        orphans += 1
        print(f"{tag}: removed what a lab left behind when it died ({len(namespaces)} namespaces)")
    if not labs and not orphans:
        print("no lab is up")
    return 1 if failed else 0


def run_status(args: argparse.Namespace) -> int:
    if (code := _needs_root("status")) is not None:
        return code
    labs = state.load_all()
    if not labs:
        print("no lab is up")
        return 0
    for lab in labs:
        print(f"lab {lab.tag}: router {lab.router_kind}, API {lab.api_url}, logs {lab.logs}")
        for process in lab.processes:
            print(f"  {'running' if state.alive(process) else 'GONE   '} {process.pid:>7}  {process.what}")
        router = Namespace(lab.router)
        try:
            print(f"  BGP sessions at the router ({'FRR' if lab.router_daemon == 'frr' else 'BIRD'}):")
            for line in _sessions(router, lab):
                print(f"    {line}")
            for name, vip in lab.vips.items():
                route = router.ip("-4", "route", "show", "exact", f"{vip}/32").strip() or "(no route)"
                print(f"  {name} VIP {vip}: {' '.join(route.split())}")
                words = route.split()
                if "nhid" in words:  # a nexthop object or group: zebra's, or the resilient agent's
                    group = router.ip("nexthop", "show", "id", words[words.index("nhid") + 1]).strip()
                    print(f"    {' '.join(group.split())}")
                for host in lab.hostnames.get(name, []):
                    print(f"    {host} → {', '.join(resolve(Namespace(lab.client), host)) or '(no answer)'}")
        except NetnsError as error:
            print(f"  cannot inspect: {error}")
    return 0


def _sessions(router: Namespace, lab: state.LabState) -> list[str]:
    """The router daemon's own table of its BGP sessions, one line each."""
    if lab.router_daemon == "frr":
        argv = [VTYSH, "--config_dir", lab.frr_dir, "--vty_socket", lab.frr_dir, "-c", "show bgp summary"]
        return [line for line in router.run(argv).stdout.splitlines() if line.strip()]
    return router.run(["birdc", "-s", lab.bird_socket, "show", "protocols"]).stdout.splitlines()[2:]


class _Interrupted(KeyboardInterrupt):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(f"signal {signum}")


def run_scenario(args: argparse.Namespace) -> int:
    if (code := _needs_root("run")) is not None:
        return code
    if args.users < 0 or args.db_users < 0 or args.users + args.db_users == 0:
        raise SystemExit("dnslb lab run: --users and --db-users must be >= 0 and not both 0")
    units = scenarios.phase_units(args.scenario, args.nodes)
    phase = max(args.duration / units, _MIN_PHASE)
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    samples_path = output / "samples.jsonl"
    samples_path.unlink(missing_ok=True)
    options = _options(args, phase, output / "logs", legacy=args.scenario == "migrate")
    _say_phases(args, phase)
    # SIGINT too: a process started in the background by a shell inherits SIGINT ignored, and Ctrl-C must still work
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    lab = Lab(options, say=_say)
    timeline = scenarios.Timeline(say=_say)
    started = time.time()
    try:
        lab.start()
        setup = lab.create_services(publish_web=args.scenario != "migrate")
        for name, measured in setup.items():
            timeline.converged(name, measured.seconds, measured.detail)
        load = _start_load(lab, args, samples_path)
        progress = _Progress(samples_path, timeline)
        progress.start()
        time.sleep(min(phase / 2, 5.0))  # users ramp up before the first phase
        scenarios.SCENARIOS[args.scenario][0](lab, timeline, phase)
        timeline.finish()
        _stop_load(lab, load)
        progress.stop()
    except KeyboardInterrupt:
        _say("interrupted: tearing the lab down")
        _teardown(lab)
        return 130
    except BaseException:
        _teardown(lab)
        raise
    _teardown(lab)
    samples = read_samples(samples_path)
    meta: dict[str, str | int | float] = {
        "dnslb": __version__,
        "nodes": args.nodes,
        "users": args.users,
        "db users": args.db_users,
        "hold time s": args.hold_time,
        "phase s": round(phase, 1),
        "damping half-life s": options.damping_half_life,
        "router": options.router_summary(),
        "client mix": str(args.client_mix),
        "worlds": f"{OLD_WORLD}={cluster.OLD_HOST} (every node), {DNSLB_WORLD}={'+'.join(cluster.WEB_HOSTS)} (VIP)",
        "load": "dnslb_lab.load (asyncio + httpx, keep-alive per user, system resolver → lab BIND)",
    }
    report = build_report(args.scenario, samples, timeline.phases, timeline.events, timeline.convergences, meta)
    text, data = write_report(report, output)
    print(report.to_text())
    written = [text, data, samples_path]
    try:
        from dnslb_lab.plot import plot_report

        written.append(plot_report(report, samples, output / "report.png"))
    except ImportError as error:  # matplotlib is the `lab` extra
        print(f"no plot: {error} (pip install 'dnslb[lab]')", file=sys.stderr)
    _say("wrote " + ", ".join(str(p) for p in written) + f" in {time.time() - started:.0f} s")
    return 0


def _say_phases(args: argparse.Namespace, phase: float) -> None:
    outage = scenarios.OUTAGE_UNITS * phase
    _say(
        f"scenario {args.scenario}: phases of {phase:.0f} s, outages of {outage:.0f} s; {args.users} HTTP users "
        f"(half {OLD_WORLD}, half {DNSLB_WORLD}; {args.client_mix}) + {args.db_users} DB users"
    )
    if outage < args.hold_time + cluster.RECORD_TTL:
        _say(f"note: outages shorter than hold time + TTL ({args.hold_time + cluster.RECORD_TTL} s) flatter the old "
             "world, whose records keep a dead node for as long as it is dead; raise --duration")  # fmt: skip


def _teardown(lab: Lab) -> None:
    """Stop the lab; a second Ctrl-C or SIGTERM must not cut the teardown short and leave namespaces behind."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    lab.close()


def _start_load(lab: Lab, args: argparse.Namespace, out: Path) -> Process:
    argv = [sys.executable, "-m", "dnslb_lab.load", "--out", str(out.resolve()), "--duration", "0", "--ramp", "3",
            "--users", str(args.users), "--db-users", str(args.db_users), "--timeout", "2",
            "--db", f"{cluster.DB_HOST}:{cluster.DB_PORT}", "--client-mix", str(args.client_mix),
            "--url", f"{OLD_WORLD}=http://{cluster.OLD_HOST}/"]  # fmt: skip
    for host in cluster.WEB_HOSTS:
        argv += ["--url", f"{DNSLB_WORLD}=http://{host}/"]
    _say(
        f"load: {args.users} HTTP users on {cluster.OLD_HOST} and {', '.join(cluster.WEB_HOSTS)}, {args.db_users} "
        f"on {cluster.DB_HOST}"
    )
    return lab.testbed.spawn(lab.client_namespace, argv, log=lab.options.logs / "load.log")


def _stop_load(lab: Lab, load: Process) -> None:
    status = lab.testbed.network.stop(load, timeout=10.0)
    summary = load.read_log().strip().splitlines()[-1:] or ["(nothing)"]
    _say(f"load stopped (exit {status}): {summary[0]}")


class _Progress:
    """One line a second while the scenario runs: phase, requests and failures in the last second, p99."""

    def __init__(self, path: Path, timeline: scenarios.Timeline) -> None:
        self._path = path
        self._timeline = timeline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._offset = 0
        self._total = 0
        self._failed = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(1.0):
            fresh = self._read()
            failures = sum(1 for s in fresh if not s.ok)
            worlds = " ".join(
                f"{w} {sum(1 for s in fresh if not s.ok and s.world == w)}" for w in (OLD_WORLD, DNSLB_WORLD)
            )
            self._total += len(fresh)
            self._failed += failures
            latencies = sorted(s.latency for s in fresh if s.ok)
            p99 = (
                f"{latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000:.0f} ms" if latencies else "-"
            )
            print(
                f"  {time.monotonic() - started:5.0f}s  {self._timeline.current():<32.32} {len(fresh):>5} req/s "
                f"{failures:>4} failed/s ({worlds})  p99 {p99:>7}  total {self._total} ({self._failed} failed)",
                flush=True,
            )

    def _read(self) -> list[Sample]:
        try:
            with self._path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except OSError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        samples = []
        for line in complete.decode(errors="replace").splitlines():
            try:
                samples.append(parse_sample(json.loads(line)))
            except ValueError:
                continue
        return samples
