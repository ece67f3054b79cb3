"""An emulation of a router's resilient ECMP, for the lab: BIRD's multipath routes mirrored onto resilient groups.

Many hardware routers offer resilient ECMP (consistent hash buckets, RFC 2992's problem solved by keeping a flow's
bucket on its next hop). The multipath route BIRD puts into the kernel is hash-threshold ECMP instead, which remaps
established flows whenever a next hop leaves or returns. This agent runs inside the lab's router namespace and
emulates the resilient kind: BIRD exports its BGP routes into a side table (`BirdConfig(kernel_table=N)`), and the
agent mirrors every IPv4 and IPv6 route of that table into the main table, which is what forwards:

    python -m dnslb_lab.resilient --source-table 100 [--buckets 128] [--idle-timer 5]

- A route with one next hop becomes `ip route replace PREFIX nhid ID` through a nexthop object (`ip nexthop add id
  ID via GATEWAY dev DEV`), one per next hop, shared by every route through it.
- A multipath route becomes a route through a resilient group of its own (`ip nexthop add id G group A/A'/B/B'/...
  type resilient buckets 128 idle_timer 5`). When next hops leave or join, the group is changed in place (`ip nexthop
  replace id G group ...`), never made anew: the kernel hands only a leaving next hop's buckets to the others, and a
  joining one only buckets that are idle, so the buckets of the remaining next hops stay where they were. Once
  multipath, a prefix keeps its group (down to one next hop), so that a returning next hop finds the buckets' history.
  Each next hop is in a group twice, as two nexthop objects with the same gateway (A and A'): an IPv4 route through a
  group of one member goes straight to that member, and the kernel stops noting which buckets carry traffic, so a next
  hop returning to a group that was down to one would find every bucket idle and take its share, busy ones included.
  Twins keep every group at two members or more; each next hop's share stays what its weight says.
  A group takes new members only once it is `--idle-timer` seconds old: a bucket not used since it was assigned counts
  as idle, so a newer group cannot tell busy buckets from idle ones yet. A single-hop route that becomes multipath
  therefore starts its group with its one next hop (and its twin); the others join when the group is that old.
- A route gone from the source table is removed from main, and the nexthop objects nothing uses any more are deleted.

Idle timer (`--idle-timer`, default 5 s; the kernel's unbalanced timer stays 0, i.e. it never forces a move): a
bucket moves to a returning next hop only once no packet has used it for that long, so a connection that sends at
least that often keeps its node. The lab's users pause at most 0.5 s between requests and give up on one after 2 s;
5 s covers both twice over. 0 would make every bucket idle at once: a returning next hop would take its share at
once, the live connections on those buckets with it (fewer than hash-threshold moves, but some). The trade-off of a
longer timer: connections with longer pauses survive, but a returning next hop gets its buckets later — only as they
fall idle, and a bucket hit by ever new connections never does, so under much churn the group stays unbalanced (the
kernel's default, 120 s, suits long-lived traffic, not a lab scenario a minute long). A leaving next hop's buckets
move at once, whatever the timer: nothing else can take them. Nor does the timer help when the kernel itself deletes
nexthop objects (it flushes them when their device goes down); the agent makes them again, with fresh buckets.

Ownership: every route and nexthop object the agent makes has protocol 240 (`proto 240`); it changes nothing else,
except that a main-table route for a mirrored prefix is replaced. Nexthop IDs are taken from 1000 up, skipping IDs
in use. `ip monitor route` wakes the agent (iproute2 6.1 prints text even with `-json`, so events are only a wake-up
call): it then re-reads the source table, its routes and the nexthop objects, and applies the difference; a full
resync every 2 s catches anything missed. Every change is one log line, naming the `ip` command. SIGTERM or SIGINT:
it removes what it made and exits.

`parse_source`, `parse_mirror` and `plan` are pure (the JSON of `ip -json` in, `ip` commands out); `Agent` runs them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from types import FrameType
from typing import Any, NoReturn

IP = "ip"
PROTOCOL = 240
FIRST_ID = 1000
DEFAULT_BUCKETS = 128
DEFAULT_IDLE_TIMER = 5
RESYNC_SECONDS = 2.0
MAX_BUCKETS = 65535  # the kernel's limit
MAX_IDLE_TIMER = 86400
_MAX_TABLE = 2**32 - 1
_MAX_WEIGHT = 255  # a group member's weight; a route's next hop may say 256
_DEBOUNCE = 0.02  # after a route event, wait this long for more before resyncing
_DRAIN_LIMIT = 0.2
_RECHECKS = 3  # passes at once after a change, to see it took; then back to events and the resync
_IP_TIMEOUT = 10.0
_NO_TABLE = "FIB table does not exist"  # `ip route show table N` before anything made table N

IPNetwork = IPv4Network | IPv6Network

log = logging.getLogger("dnslb_lab.resilient")


@dataclass(frozen=True)
class Hop:
    """Where a next hop points: a gateway (None: straight out of the device) on a device."""

    gateway: str | None
    dev: str
    onlink: bool = False

    def args(self) -> tuple[str, ...]:
        via = ("via", self.gateway) if self.gateway is not None else ()
        return (*via, "dev", self.dev, *(("onlink",) if self.onlink else ()))

    def __str__(self) -> str:
        return " ".join(self.args())


Paths = tuple[tuple[Hop, int], ...]  # a source route's next hops with their weights, sorted
Members = tuple[tuple[int, int], ...]  # a group's nexthop IDs with their weights, sorted


@dataclass(frozen=True)
class Group:
    members: Members
    buckets: int
    idle_timer: int


@dataclass(frozen=True)
class Mirror:
    """What the agent has made (protocol 240), as the kernel has it now."""

    hops: Mapping[int, Hop] = field(default_factory=dict)  # nexthop objects by ID
    groups: Mapping[int, Group] = field(default_factory=dict)  # resilient groups by ID
    routes: Mapping[IPNetwork, int] = field(default_factory=dict)  # main-table routes: prefix → nhid (0: none)
    taken: frozenset[int] = frozenset()  # every nexthop ID in the namespace, the agent's or not


@dataclass(frozen=True)
class Settings:
    buckets: int = DEFAULT_BUCKETS
    idle_timer: int = DEFAULT_IDLE_TIMER


@dataclass(frozen=True)
class Command:
    """One `ip` command (its arguments) and the log line saying what it changes."""

    args: tuple[str, ...]
    message: str
    new_group: int | None = None  # the ID of the group it makes


# --- reading `ip -json` ----------------------------------------------------------------------------------------------


def parse_source(ipv4: Iterable[Mapping[str, Any]], ipv6: Iterable[Mapping[str, Any]]) -> dict[IPNetwork, Paths]:
    """The routes of `ip -json -4/-6 route show table N` by prefix, each its next hops; of several routes for one
    prefix the one of lowest metric, as the kernel would use; routes that are not unicast or lack a device are left
    out."""
    best: dict[IPNetwork, tuple[int, Paths]] = {}
    for version, entries in ((4, ipv4), (6, ipv6)):
        for entry in entries:
            if entry.get("type", "unicast") != "unicast":
                continue
            hops = entry.get("nexthops") or [entry]
            paths = tuple(sorted((path for hop in hops if (path := _path(hop))), key=lambda p: (str(p[0]), p[1])))
            if not paths:
                continue
            prefix = _prefix(str(entry["dst"]), version)
            metric = int(entry.get("metric", 0))
            if prefix not in best or metric < best[prefix][0]:
                best[prefix] = (metric, paths)
    return {prefix: paths for prefix, (_, paths) in best.items()}


def parse_mirror(
    nexthops: Iterable[Mapping[str, Any]], ipv4: Iterable[Mapping[str, Any]], ipv6: Iterable[Mapping[str, Any]]
) -> Mirror:
    """`ip -json nexthop show` and the main table's routes of protocol 240 (`ip -json -4/-6 route show table main
    proto 240`): what the agent has made."""
    hops: dict[int, Hop] = {}
    groups: dict[int, Group] = {}
    taken: set[int] = set()
    for entry in nexthops:
        number = int(entry["id"])
        taken.add(number)
        if str(entry.get("protocol")) != str(PROTOCOL):
            continue
        if "group" in entry:
            arguments = entry.get("resilient_args") or {}
            members = tuple(sorted((int(m["id"]), int(m.get("weight", 1))) for m in entry["group"]))
            groups[number] = Group(members, int(arguments.get("buckets", 0)), int(arguments.get("idle_timer", -1)))
        elif path := _path(entry):
            hops[number] = path[0]
    routes = {
        _prefix(str(entry["dst"]), version): int(entry.get("nhid", 0))
        for version, entries in ((4, ipv4), (6, ipv6))
        for entry in entries
    }
    return Mirror(hops, groups, routes, frozenset(taken))


def _path(hop: Mapping[str, Any]) -> tuple[Hop, int] | None:
    dev = hop.get("dev")
    if not dev:
        return None
    gateway = hop.get("gateway")
    address = str(ip_address(gateway)) if gateway else None
    return Hop(address, str(dev), "onlink" in (hop.get("flags") or ())), min(int(hop.get("weight", 1)), _MAX_WEIGHT)


def _prefix(dst: str, version: int) -> IPNetwork:
    if dst == "default":
        return ip_network("0.0.0.0/0" if version == 4 else "::/0")
    return ip_network(dst)


# --- deciding what to change -----------------------------------------------------------------------------------------


def plan(
    source: Mapping[IPNetwork, Paths], mirror: Mirror, settings: Settings, young: frozenset[int] = frozenset()
) -> list[Command]:
    """The `ip` commands that make the main table mirror `source`, given what the agent has made (`mirror`) and its
    groups younger than the idle timer (`young`, which take no new members yet). In the order to run them: new
    nexthop objects, groups made or changed, routes replaced, then routes, groups and nexthop objects removed."""
    taken = set(mirror.taken)
    hop_of = dict(mirror.hops)
    ids_of: dict[Hop, list[int]] = {}  # the nexthop objects of each next hop, oldest first
    for number, hop in sorted(mirror.hops.items()):
        ids_of.setdefault(hop, []).append(number)
    adds: list[Command] = []
    changes: list[Command] = []
    routes: list[Command] = []

    def new_id() -> int:
        number = FIRST_ID
        while number in taken:
            number += 1
        taken.add(number)
        return number

    def objects(hop: Hop, count: int, prefer: Iterable[int] = ()) -> list[int]:
        """`count` nexthop objects for `hop`: those in `prefer` first, then the oldest; made if there are too few."""
        have = ids_of.setdefault(hop, [])
        chosen = [n for n in prefer if n in have] + [n for n in have if n not in prefer]
        while len(chosen) < count:
            number = new_id()
            have.append(number)
            chosen.append(number)
            hop_of[number] = hop
            adds.append(
                Command(("nexthop", "add", "id", str(number), *hop.args(), *_proto()), f"nexthop {number}: {hop}")
            )
        return chosen[:count]

    def twins(paths: Paths, prefer: Iterable[int] = ()) -> Members:
        """Group members for `paths`: each next hop as two nexthop objects (see the module's docstring)."""
        prefer = tuple(prefer)
        return tuple(sorted((number, weight) for hop, weight in paths for number in objects(hop, 2, prefer)))

    def names(members: Members) -> str:
        by_hop: dict[Hop, list[str]] = {}
        for number, weight in members:
            by_hop.setdefault(hop_of[number], []).append(str(number) if weight == 1 else f"{number},{weight}")
        return ", ".join(f"{hop} [{'/'.join(numbers)}]" for hop, numbers in by_hop.items())

    final_routes: dict[IPNetwork, int] = {}
    final_groups: dict[int, Members] = {}
    for prefix, paths in sorted(source.items(), key=lambda item: _order(item[0])):
        current = mirror.routes.get(prefix, 0)
        group = mirror.groups.get(current) if current not in final_groups else None
        if group is not None:  # multipath before: the group stays, changed in place, however many next hops remain
            before = dict(group.members)
            had = {hop_of[number] for number in before if number in hop_of}
            kept = tuple(path for path in paths if path[0] in had)
            # a young group keeps to the next hops it has (while one is left): new ones join when it comes of age
            members = twins(kept if current in young and kept else paths, prefer=sorted(before))
            if members != group.members or group.idle_timer != settings.idle_timer:
                after = {hop_of[number] for number, _ in members}
                notes = [f"{hop} left" for hop in sorted(had - after, key=str)]
                notes += [f"{hop} joined" for hop in sorted(after - had, key=str)]
                if not notes and set(before) != {number for number, _ in members}:
                    notes.append("nexthop objects changed")
                if any(before.get(number, weight) != weight for number, weight in members):
                    notes.append("weights changed")
                if group.idle_timer != settings.idle_timer:
                    notes.append(f"idle timer {group.idle_timer} -> {settings.idle_timer} s")
                changes.append(
                    Command(
                        ("nexthop", "replace", "id", str(current), *_group_args(members), *_timer(settings), *_proto()),
                        f"{prefix}: group {current} changed in place ({'; '.join(notes)}), now {names(members)}",
                    )
                )
            final_groups[current] = members
            final_routes[prefix] = current
        elif len(paths) == 1:
            number = objects(paths[0][0], 1, prefer=(current,))[0]
            if current != number:
                routes.append(_route(prefix, number, f"{prefix}: via nexthop {number} ({hop_of[number]})"))
            final_routes[prefix] = number
        else:
            members = twins(paths, prefer=(current,))
            number = new_id()
            carried = mirror.hops.get(current)  # the one next hop the route had: its flows stay on it
            start = tuple(m for m in members if hop_of[m[0]] == carried) or members
            later = f"; {len(paths) - 1} more join once it is {settings.idle_timer} s old" if start != members else ""
            size = ("buckets", str(settings.buckets))
            changes.append(
                Command(
                    ("nexthop", "add", "id", str(number), *_group_args(start), *size, *_timer(settings), *_proto()),
                    f"{prefix}: resilient group {number} made, {settings.buckets} buckets, idle timer "
                    f"{settings.idle_timer} s, next hops {names(start)}{later}",
                    new_group=number,
                )
            )
            routes.append(_route(prefix, number, f"{prefix}: via resilient group {number}"))
            final_groups[number] = start
            final_routes[prefix] = number

    removals: list[Command] = []
    for prefix in sorted(mirror.routes, key=_order):
        if prefix not in final_routes:
            family = f"-{prefix.version}"
            removals.append(Command((family, "route", "del", str(prefix), *_proto()), f"{prefix}: route removed"))
    used = set(final_routes.values()) | {number for members in final_groups.values() for number, _ in members}
    joining = {hop for paths in source.values() if len(paths) > 1 for hop, _ in paths}  # into a young group, later
    used |= {number for hop in joining for number in ids_of.get(hop, [])[:2]}
    for number in sorted(set(mirror.groups) - used):
        removals.append(Command(("nexthop", "del", "id", str(number)), f"group {number} deleted"))
    for number in sorted(set(mirror.hops) - used):
        removals.append(Command(("nexthop", "del", "id", str(number)), f"nexthop {number} deleted ({hop_of[number]})"))
    return adds + changes + routes + removals


def _group_args(members: Members) -> tuple[str, ...]:
    spec = "/".join(str(number) if weight == 1 else f"{number},{weight}" for number, weight in members)
    return ("group", spec, "type", "resilient")


def _timer(settings: Settings) -> tuple[str, ...]:
    return ("idle_timer", str(settings.idle_timer))


def _proto() -> tuple[str, ...]:
    return ("proto", str(PROTOCOL))


def _route(prefix: IPNetwork, nhid: int, message: str) -> Command:
    return Command((f"-{prefix.version}", "route", "replace", str(prefix), "nhid", str(nhid), *_proto()), message)


def _order(prefix: IPNetwork) -> tuple[int, int, int]:
    return prefix.version, int(prefix.network_address), prefix.prefixlen


# --- running `ip` ----------------------------------------------------------------------------------------------------


class IpError(RuntimeError):
    """An `ip` command failed; the message is one line."""


def ip(*args: str) -> str:
    """`ip ARGS`, its stdout; `IpError` with its stderr on one line when it fails."""
    try:
        result = subprocess.run([IP, *args], capture_output=True, text=True, timeout=_IP_TIMEOUT, check=False)
    except FileNotFoundError as error:
        raise IpError(f"cannot run {IP!r}: is iproute2 installed?") from error
    except subprocess.TimeoutExpired as error:
        raise IpError(f"ip {' '.join(args)}: no answer within {_IP_TIMEOUT:g}s") from error
    if result.returncode != 0:
        text = " ".join((result.stderr or result.stdout).split()) or f"exit status {result.returncode}"
        raise IpError(f"ip {' '.join(args)}: {text}")
    return result.stdout


def ip_json(*args: str) -> list[dict[str, Any]]:
    """`ip -N -json ARGS` (protocols and scopes as numbers), parsed; a table not made yet reads as empty."""
    try:
        out = ip("-N", "-json", *args)
    except IpError as error:
        if _NO_TABLE in str(error):
            return []
        raise
    entries: list[dict[str, Any]] = json.loads(out) if out.strip() else []
    return entries


class Agent:
    """Mirrors route table `table` into main in the namespace it runs in, with resilient groups per `settings`."""

    def __init__(self, table: int, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.table = table
        self.settings = settings
        self._clock = clock
        self._made: dict[int, float] = {}  # groups this agent made, when (young until the idle timer has passed)
        self._changing = 0  # passes in a row that changed something

    def read(self) -> tuple[dict[IPNetwork, Paths], Mirror]:
        table, proto = str(self.table), str(PROTOCOL)
        source = parse_source(
            ip_json("-4", "route", "show", "table", table), ip_json("-6", "route", "show", "table", table)
        )
        mirror = parse_mirror(
            ip_json("nexthop", "show"),
            ip_json("-4", "route", "show", "table", "main", "proto", proto),
            ip_json("-6", "route", "show", "table", "main", "proto", proto),
        )
        return source, mirror

    def sync(self, *, withdraw: bool = False) -> float:
        """Read, plan, apply; `withdraw`: remove everything the agent made. Returns the seconds until the next pass
        is due: at once after a pass that changed something (to check it took), when a young group comes of age,
        else at the periodic resync."""
        source, mirror = self.read()
        now = self._clock()
        self._made = {g: t for g, t in self._made.items() if now - t < self.settings.idle_timer and g in mirror.groups}
        commands = plan({} if withdraw else source, mirror, self.settings, frozenset(self._made))
        failed = False
        for command in commands:
            try:
                ip(*command.args)
            except IpError as error:
                log.warning("could not change the main table: %s", error)
                failed = True
                continue
            log.info("%s  [ip %s]", command.message, " ".join(command.args))
            if command.new_group is not None:
                self._made[command.new_group] = self._clock()
        self._changing = self._changing + 1 if commands else 0
        if commands and not failed and self._changing <= _RECHECKS:
            return 0.0
        due = min((t + self.settings.idle_timer - now for t in self._made.values()), default=RESYNC_SECONDS)
        return min(RESYNC_SECONDS, max(due, _DEBOUNCE))


def serve(agent: Agent) -> None:
    """Mirror until SIGTERM or SIGINT, waking on route events and every 2 s; then withdraw what the agent made."""
    stop: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    wake_read, wake_write = socket.socketpair()
    wake_write.setblocking(False)
    signal.set_wakeup_fd(wake_write.fileno())
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    monitor: subprocess.Popen[bytes] | None = None
    wait = 0.0
    try:
        while not stop:
            if monitor is None or monitor.poll() is not None:
                if monitor is not None:
                    log.warning("`ip monitor route` ended with status %s; starting it again", monitor.returncode)
                monitor = subprocess.Popen([IP, "monitor", "route"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
                wait = 0.0  # what changed before it listened went unseen: resync
            if wait > 0:
                assert monitor.stdout is not None
                events, woken = monitor.stdout.fileno(), wake_read.fileno()
                ready, _, _ = select.select([events, woken], [], [], wait)
                if events in ready and not _drain(events):
                    monitor.wait()  # it closed its output: it is ending
                if woken in ready:
                    wake_read.recv(4096)
                if stop:
                    break
            try:
                wait = agent.sync()
            except IpError as error:
                log.warning("could not read the routing tables: %s", error)
                wait = RESYNC_SECONDS
    finally:
        if monitor is not None:
            monitor.terminate()
            monitor.wait()
        log.info("stopping: removing what this emulation made")
        try:
            agent.sync(withdraw=True)
        except IpError as error:
            log.warning("could not remove everything: %s", error)


def _drain(fd: int) -> bool:
    """Read what `ip monitor` printed, and what follows within the debounce time (one change is often several);
    False at the end of its output."""
    deadline = time.monotonic() + _DRAIN_LIMIT
    while os.read(fd, 65536):
        ready, _, _ = select.select([fd], [], [], _DEBOUNCE)
        if not ready or time.monotonic() > deadline:
            return True
    return False


# --- command line ----------------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _bounded(low: int, high: int, what: str) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be {low}..{high}, got {value}")
        return value

    return convert


def _table(text: str) -> int:
    value = _bounded(1, _MAX_TABLE, "a table number")(text)
    if 253 <= value <= 255:
        raise argparse.ArgumentTypeError(f"table {value} is one of default (253), main (254) and local (255)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m dnslb_lab.resilient",
        description=(
            "An emulation of a router's resilient ECMP, for the dnslb lab: mirrors every IPv4 and IPv6 route of "
            "--source-table (where BIRD exports its BGP routes) into the main table of the network namespace it runs "
            "in, a multipath route through a resilient nexthop group changed in place as next hops leave and join, so "
            "established flows keep their next hop. Logs every change; SIGTERM removes what it made. Needs root."
        ),
    )
    parser.add_argument(
        "--source-table", type=_table, required=True, metavar="N", help="the routing table to mirror (required)"
    )
    parser.add_argument(
        "--buckets",
        type=_bounded(1, MAX_BUCKETS, "buckets"),
        default=DEFAULT_BUCKETS,
        metavar="B",
        help=f"hash buckets of each resilient group it makes (default: {DEFAULT_BUCKETS})",
    )
    parser.add_argument(
        "--idle-timer",
        type=_bounded(0, MAX_IDLE_TIMER, "the idle timer"),
        default=DEFAULT_IDLE_TIMER,
        metavar="T",
        help="seconds without traffic before a bucket may move to a joining next hop; 0 moves busy buckets too "
        f"(default: {DEFAULT_IDLE_TIMER})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s resilient: %(message)s")
    agent = Agent(args.source_table, Settings(args.buckets, args.idle_timer))
    try:
        agent.read()
    except IpError as error:
        print(f"resilient: error: {error}", file=sys.stderr)
        return 1
    log.info(
        "emulating a router's resilient ECMP: mirroring table %d into main (resilient groups of %d buckets, idle "
        "timer %d s; routes and nexthops of protocol %d)",
        agent.table,
        agent.settings.buckets,
        agent.settings.idle_timer,
        PROTOCOL,
    )
    serve(agent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
