"""The driver with a real ExaBGP 5 against a real BIRD 2, both on loopback, no namespaces.

BIRD listens passively on 127.0.0.2 (and ::1) on a free port, in its own temp dir with its own control socket, and is
read back with `birdc show route all`; ExaBGP connects from 127.0.0.1 (and ::1). BIRD calls a loopback neighbour an
invalid address for a direct session, so its side is `multihop`; with no IGP route to a loopback next hop, BIRD marks
the received routes `unreachable`, which leaves them, and every BGP attribute, in its table for these tests to read.
Every process is started as a child and stopped by PID; a BIRD or ExaBGP that cannot start fails the test. A router
slow to answer is a `Gate` between them: it takes ExaBGP's connection and holds it, with ExaBGP's OPEN unanswered, until
the test lets it through to BIRD.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path

import pytest

from dnslb.adapters.child import Child
from dnslb.adapters.exabgp.driver import Backoff, CommandResult, ExaBGPDriver, ExaBGPStartError, Neighbor
from dnslb.core.bgp.routes import PeerAddress, Route
from dnslb.core.config.communities import Community, parse_community
from dnslb_testkit.ports import free_port
from dnslb_testkit.waiting import wait_for

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"
ROUTER_ASN = 65000
HOLD_TIME = 3
TIMEOUT = 10.0
QUICK_RESTARTS = Backoff(initial=0.2, maximum=1.0)

ROUTER = IPv4Address("127.0.0.2")
ROUTER_B = IPv4Address("127.0.0.3")
SPEAKER = IPv4Address("127.0.0.1")
# BIRD runs one session per neighbour address at a time: a second router session needs a second speaker address
SPEAKER_B = IPv4Address("127.0.0.4")
LOOPBACK6 = IPv6Address("::1")


# ---- a BIRD on loopback ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BirdSession:
    """One passive BGP protocol of the test BIRD: it listens on `local`:`port` for `speaker`."""

    name: str
    local: PeerAddress
    speaker: PeerAddress
    speaker_asn: int = ROUTER_ASN
    password: str | None = None


@dataclass(frozen=True)
class BirdRoute:
    prefix: str
    protocol: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def communities(self) -> set[tuple[int, ...]]:
        found = re.findall(r"\((\d+),\s*(\d+)\)", self.attributes.get("BGP.community", ""))
        return {tuple(int(p) for p in pair) for pair in found}

    @property
    def large_communities(self) -> set[tuple[int, ...]]:
        found = re.findall(r"\((\d+),\s*(\d+),\s*(\d+)\)", self.attributes.get("BGP.large_community", ""))
        return {tuple(int(p) for p in triple) for triple in found}

    @property
    def local_pref(self) -> int:
        return int(self.attributes["BGP.local_pref"])


_ROUTE_HEAD = re.compile(r"^(?P<prefix>\S+)?\s+\S+\s+\[(?P<protocol>\S+) ")


def parse_routes(text: str) -> list[BirdRoute]:
    """`birdc show route all`: a head line per path (the prefix left out on further paths), then indented attributes."""
    routes: list[BirdRoute] = []
    prefix = ""
    for line in text.splitlines():
        if line.startswith(("BIRD ", "Table ")) or not line.strip():
            continue
        if line.startswith("\t") or line.startswith("    "):
            name, _, value = line.strip().partition(": ")
            if routes:
                routes[-1].attributes[name] = value
            continue
        head = _ROUTE_HEAD.match(line)
        if head:
            prefix = head["prefix"] or prefix
            routes.append(BirdRoute(prefix, head["protocol"]))
    return routes


class LoopbackBird:
    def __init__(self, sessions: Sequence[BirdSession]) -> None:
        self.sessions = tuple(sessions)
        self.port = free_port("0.0.0.0", "::")  # BIRD listens on the wildcard address of each family
        self.directory = Path(tempfile.mkdtemp(prefix="dnslb-loopback-bird-"))
        self.socket = self.directory / "bird.ctl"
        self._child: Child | None = None

    def start(self) -> LoopbackBird:
        conf = self.directory / "bird.conf"
        conf.write_text(self._config())
        self._child = Child.start(
            [BIRD, "-f", "-c", str(conf), "-s", str(self.socket)], name="BIRD", log=self.directory / "bird.log"
        )
        self._child.wait_ready(self._answers, TIMEOUT, "come up")
        return self

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop(TIMEOUT)
        shutil.rmtree(self.directory, ignore_errors=True)

    def birdc(self, *command: str) -> str:
        result = subprocess.run(
            [BIRDC, "-s", str(self.socket), *command], capture_output=True, text=True, timeout=TIMEOUT, check=True
        )
        return result.stdout

    def routes(self, session: str | None = None) -> dict[str, BirdRoute]:
        """Prefix → route, from every session or one."""
        command = ["show", "route", "all"] + (["protocol", session] if session else [])
        return {r.prefix: r for r in parse_routes(self.birdc(*command))}

    def established(self, session: str) -> bool:
        return "Established" in self.birdc("show", "protocols", session)

    def received(self, session: str) -> tuple[int, int]:
        """IPv4 updates and withdrawals the session's channel received since it (last) started."""
        text = self.birdc("show", "protocols", "all", session).partition("Channel ipv4")[2]
        updates = re.search(r"Import updates:\s+(\d+)", text)
        withdraws = re.search(r"Import withdraws:\s+(\d+)", text)
        assert updates and withdraws, text
        return int(updates[1]), int(withdraws[1])

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        result = subprocess.run(
            [BIRDC, "-s", str(self.socket), "show", "status"], capture_output=True, timeout=TIMEOUT, check=False
        )
        return result.returncode == 0 and b"Daemon is up" in result.stdout

    def _config(self) -> str:
        lines = [
            "log stderr all;",
            f"router id {ROUTER};",
            "protocol device { scan time 60; }",
        ]
        for s in self.sessions:
            lines += [
                f"protocol bgp {s.name} {{",
                f"  local {s.local} port {self.port} as {ROUTER_ASN};",
                f"  neighbor {s.speaker} as {s.speaker_asn};",
                "  multihop;",
                "  passive on;",
                f"  hold time {HOLD_TIME};",
                "  error wait time 1, 2;",
                f'  password "{s.password}";' if s.password else "",
                "  ipv4 { import all; export none; };",
                "  ipv6 { import all; export none; };",
                "}",
            ]
        return "\n".join(lines) + "\n"


class Gate:
    """A TCP relay on the router's address that ExaBGP connects to (its `peer_port`) and that connects on to BIRD from
    the speaker's address. While `closed`, it takes each new connection and holds it, unanswered, until `open`."""

    def __init__(self, bird: LoopbackBird, speaker: IPv4Address = SPEAKER) -> None:
        self._bird, self._speaker = bird, speaker
        self._server = socket.create_server((str(bird.sessions[0].local), 0))
        self.port: int = self._server.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._held = 0
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="gate", daemon=True).start()

    def close(self) -> None:
        """Hold new connections from now on."""
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    @property
    def held(self) -> int:
        """Connections waiting for `open`."""
        with self._lock:
            return self._held

    def stop(self) -> None:
        self._server.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()
        self._open.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._through, args=(client,), daemon=True).start()

    def _through(self, client: socket.socket) -> None:
        with self._lock:
            self._sockets.append(client)
            self._held += 1
        self._open.wait()
        with self._lock:
            self._held -= 1
        try:
            bird = socket.create_connection(
                (str(ROUTER), self._bird.port), timeout=TIMEOUT, source_address=(str(self._speaker), 0)
            )
        except OSError:
            client.close()
            return
        bird.settimeout(None)
        with self._lock:
            self._sockets.append(bird)
        threading.Thread(target=_pump, args=(client, bird), daemon=True).start()
        _pump(bird, client)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until either side closes, then close both."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def bird_factory() -> Iterator[Callable[..., LoopbackBird]]:
    started: list[LoopbackBird] = []

    def start(*sessions: BirdSession) -> LoopbackBird:
        bird = LoopbackBird(sessions or (BirdSession("speaker", ROUTER, SPEAKER),))
        started.append(bird)
        return bird.start()

    yield start
    for bird in started:
        bird.stop()


@pytest.fixture
def bird(bird_factory: Callable[..., LoopbackBird]) -> LoopbackBird:
    return bird_factory()


@pytest.fixture
def gate(bird: LoopbackBird) -> Iterator[Gate]:
    gate = Gate(bird)
    yield gate
    gate.stop()


# ---- the driver -----------------------------------------------------------------------------------------------------


def neighbor(bird: LoopbackBird, session: BirdSession | None = None, **fields: object) -> Neighbor:
    session = session or bird.sessions[0]
    base: dict[str, object] = {
        "peer_address": session.local,
        "peer_asn": ROUTER_ASN,
        "local_asn": session.speaker_asn,
        "local_address": session.speaker,
        "router_id": SPEAKER,
        "peer_port": bird.port,
        "hold_time": HOLD_TIME,
    }
    return Neighbor(**{**base, **fields})  # type: ignore[arg-type]


@dataclass
class Commands:
    """What the driver reported sending, through its on_command hook."""

    results: list[CommandResult] = field(default_factory=list)

    def __call__(self, result: CommandResult) -> None:
        self.results.append(result)

    def take(self) -> list[str]:
        lines = [r.change.line() for r in self.results]
        self.results.clear()
        return lines


@pytest.fixture
def driver_factory(tmp_path: Path) -> Iterator[Callable[..., ExaBGPDriver]]:
    started: list[ExaBGPDriver] = []

    def start(
        neighbors: Sequence[Neighbor],
        *,
        backoff: Backoff = QUICK_RESTARTS,
        on_command: Callable[[CommandResult], None] | None = None,
    ) -> ExaBGPDriver:
        workdir = tmp_path / f"exabgp{len(started)}"
        driver = ExaBGPDriver(neighbors, workdir, backoff=backoff, on_command=on_command)
        started.append(driver)
        driver.start()
        return driver

    yield start
    for driver in started:
        exabgp, relay = driver.pid, driver.relay_pid
        driver.stop()
        assert driver.pid is None
        for pid in (exabgp, relay):
            if pid is not None:
                assert not running(pid), f"pid {pid} outlived driver.stop()"


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def route(text: str, *communities: str, local_preference: int | None = None) -> Route:
    return Route.create(
        ip_network(text), communities=[parse_community(c) for c in communities], local_preference=local_preference
    )


# ---- tests ----------------------------------------------------------------------------------------------------------


def test_an_announced_route_reaches_bird_with_its_attributes_and_a_withdrawal_removes_it(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    commands = Commands()
    driver = driver_factory([neighbor(bird)], on_command=commands)
    assert driver.wait_established(TIMEOUT), driver.output()
    vip = route("10.100.0.1/32", "65000:100", "no-export", "large:65000:1:2", local_preference=250)
    driver.set_desired({vip})

    wait_for(lambda: "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route in BIRD")
    seen = bird.routes()["10.100.0.1/32"]
    assert seen.communities == {(65000, 100), (65535, 65281)}
    assert seen.large_communities == {(65000, 1, 2)}
    assert seen.local_pref == 250
    assert seen.attributes["BGP.next_hop"] == str(SPEAKER)
    assert driver.announced == {vip}
    assert driver.sessions == {str(ROUTER): True}
    [result] = commands.results
    assert result.ok and 0 < result.seconds < TIMEOUT

    driver.set_desired(set())
    wait_for(lambda: "10.100.0.1/32" not in bird.routes(), TIMEOUT, "the withdrawal in BIRD")
    assert driver.announced == frozenset()
    assert driver.stats.commands == 2


def test_only_the_difference_is_sent(bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver]) -> None:
    """On an Established session that carries routes; routes changed while it comes up: the tests after this one."""
    commands = Commands()
    driver = driver_factory([neighbor(bird)], on_command=commands)
    assert driver.wait_established(TIMEOUT), driver.output()
    a, b, c = route("10.100.0.1/32"), route("10.100.0.2/32"), route("10.100.0.3/32")
    b_preferred = route("10.100.0.2/32", local_preference=300)
    to = f"neighbor {ROUTER}"

    driver.set_desired({a, b})
    assert sorted(commands.take()) == [
        f"{to} announce route {p} next-hop self" for p in ("10.100.0.1/32", "10.100.0.2/32")
    ]
    # A session's first UPDATE pass leaves withdrawals out, and whatever ExaBGP is told until it makes that pass (while
    # it writes its End-of-RIB after Established, say) goes into it: the changes below wait for it to be out.
    wait_for(lambda: set(bird.routes()) == {"10.100.0.1/32", "10.100.0.2/32"}, TIMEOUT, "the first routes in BIRD")
    driver.set_desired({b, a})
    assert commands.take() == []
    driver.set_desired({a, b_preferred, c})
    assert commands.take() == [
        f"{to} announce route 10.100.0.2/32 next-hop self local-preference 300",
        f"{to} announce route 10.100.0.3/32 next-hop self",
    ]
    driver.set_desired({c})
    assert commands.take() == [f"{to} withdraw route 10.100.0.1/32", f"{to} withdraw route 10.100.0.2/32"]

    wait_for(lambda: set(bird.routes()) == {"10.100.0.3/32"}, TIMEOUT, "BIRD to hold only 10.100.0.3/32")
    assert driver.stats.failed_commands == 0


# ExaBGP 5.0.15 queues what it is told for a session short of Established, and sends it in the session's first UPDATE
# pass, which leaves every withdrawal out (reactor/peer.py `include_withdraw = False` until that pass ends). And a
# `withdraw route`, or an `announce route` with other attributes, leaves the prefix's queued announcement where it was
# (Configuration.inject_change -> OutgoingRIB.add_to_rib, rib/outgoing.py), so that pass announces it: a withdrawn VIP,
# or one with its old attributes, stays at the router until its next change. Announcements for a session that is not
# Established must wait for it to come up; withdrawals must not (the test after these two).


def wait_for_table(bird: LoopbackBird, want: dict[str, int], what: str) -> None:
    """Until BIRD holds exactly the prefixes of `want`, each with that local preference; the error says what it held."""
    held: dict[str, int] = {}

    def holds() -> bool:
        nonlocal held
        held = {prefix: r.local_pref for prefix, r in bird.routes().items()}
        return held == want

    try:
        wait_for(holds, TIMEOUT, what)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; BIRD holds {held}") from None


def test_routes_changed_before_the_session_is_up_reach_bird_as_last_set(
    bird: LoopbackBird, gate: Gate, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    gate.close()
    driver = driver_factory([neighbor(bird, peer_port=gate.port)])
    wait_for(lambda: gate.held, TIMEOUT, "ExaBGP's connection held")  # no failed attempt can flush its queue now
    # the driver sends a batch in prefix order: 10.100.0.1/32 makes ExaBGP queue local-preference 300 first
    other = route("10.100.0.1/32", local_preference=300)
    kept, dropped = route("10.100.0.2/32"), route("10.100.0.3/32")
    kept_preferred = route("10.100.0.2/32", local_preference=300)
    driver.set_desired({other, kept, dropped})
    driver.set_desired({kept_preferred})
    assert driver.sessions == {str(ROUTER): False}

    gate.open()
    # ExaBGP would announce 10.100.0.1/32 and 10.100.0.2/32 (300), then 10.100.0.2/32 (100) and 10.100.0.3/32
    wait_for_table(bird, {"10.100.0.2/32": 300}, "BIRD to hold the kept route, preferred, alone")
    wait_for(lambda: driver.announced == {kept_preferred}, TIMEOUT, "the driver to record it")


def test_a_vip_added_and_removed_while_the_session_is_re_established_is_not_left_at_bird(
    bird: LoopbackBird, gate: Gate, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    """The router drops the session, and is slow to answer ExaBGP's next OPEN; a VIP comes and goes meanwhile."""
    driver = driver_factory([neighbor(bird, peer_port=gate.port)])
    kept, passing = route("10.100.0.1/32"), route("10.100.0.9/32")
    assert driver.wait_established(TIMEOUT), driver.output()
    driver.set_desired({kept})
    wait_for(lambda: set(bird.routes()) == {"10.100.0.1/32"}, TIMEOUT, "the route in BIRD")

    gate.close()
    bird.birdc("disable", "speaker")  # a Cease; after an administrative one BIRD takes the next connection at once
    wait_for(lambda: driver.sessions == {str(ROUTER): False}, TIMEOUT, "ExaBGP to see the session go")
    wait_for(lambda: gate.held, TIMEOUT, "ExaBGP's next connection held")
    driver.set_desired({kept, passing})
    driver.set_desired({kept})
    assert driver.sessions == {str(ROUTER): False}

    bird.birdc("enable", "speaker")
    gate.open()
    wait_for(lambda: bird.established("speaker"), TIMEOUT, "the session back")
    # one UPDATE would carry both routes: BIRD's table goes from none straight to the wrong one
    wait_for_table(bird, {"10.100.0.1/32": 100}, "BIRD to hold the kept route alone")
    assert driver.announced == {kept}


def test_a_vip_withdrawn_while_the_session_is_down_is_not_announced_again_when_it_comes_back(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    """ExaBGP sends its adj-rib-out again when a session comes back: a route withdrawn from it while the session was
    down stays out of that, and out of the router, even for a moment (a node back from a partition)."""
    driver = driver_factory([neighbor(bird)])
    kept, gone = route("10.100.0.1/32"), route("10.100.0.2/32")
    assert driver.wait_established(TIMEOUT), driver.output()
    driver.set_desired({kept, gone})
    wait_for(lambda: len(bird.routes()) == 2, TIMEOUT, "both routes in BIRD")

    bird.birdc("disable", "speaker")
    wait_for(lambda: driver.sessions == {str(ROUTER): False}, TIMEOUT, "ExaBGP to see the session go")
    driver.set_desired({kept})
    bird.birdc("enable", "speaker")

    wait_for(lambda: set(bird.routes()) == {"10.100.0.1/32"}, TIMEOUT, "the kept route back, alone")
    assert bird.received("speaker") == (1, 0), "the new session was sent the withdrawn route (and its withdrawal)"


def test_a_listen_port_that_is_taken_leaves_exabgp_connecting_out(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver], caplog: pytest.LogCaptureFixture
) -> None:
    """Another BGP daemon on the node's port must not keep the node's routes from the router: ExaBGP, which exits
    when it cannot bind a `listen` port, runs again without listening, and says why."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((str(SPEAKER), 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        driver = driver_factory([neighbor(bird, listen_port=port)])
        vip = route("10.100.0.1/32")
        driver.set_desired({vip})
        wait_for(lambda: "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route in BIRD")
    assert any(
        "cannot listen for the routers' connections" in r.getMessage() and f":{port}" in r.getMessage()
        for r in caplog.records
    ), caplog.text


def test_a_killed_exabgp_is_restarted_and_announces_again(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    driver = driver_factory([neighbor(bird)])
    vip = route("10.100.0.1/32", "65000:7")
    driver.set_desired({vip})
    wait_for(lambda: "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route in BIRD")
    old_pid, old_relay = driver.pid, driver.relay_pid
    assert old_pid is not None and old_relay is not None

    os.kill(old_pid, signal.SIGKILL)
    wait_for(
        lambda: driver.pid not in (None, old_pid) and driver.announced == {vip}, TIMEOUT, "a new ExaBGP announcing"
    )
    wait_for(
        lambda: bird.established("speaker") and "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route back in BIRD"
    )
    assert bird.routes()["10.100.0.1/32"].communities == {(65000, 7)}
    assert not running(old_pid)
    wait_for(lambda: not running(old_relay), TIMEOUT, "the old relay to leave")
    assert driver.stats.starts == 2 and driver.stats.exits == 1


def test_a_killed_relay_tears_exabgp_down_and_no_stale_route_is_left(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    driver = driver_factory([neighbor(bird)], backoff=Backoff(initial=1.0))  # time to see BIRD without the session
    kept, dropped = route("10.100.0.1/32"), route("10.100.0.2/32")
    driver.set_desired({kept, dropped})
    wait_for(lambda: len(bird.routes()) == 2, TIMEOUT, "both routes in BIRD")
    old_pid, relay = driver.pid, driver.relay_pid
    assert old_pid is not None and relay is not None

    os.kill(relay, signal.SIGKILL)
    wait_for(
        lambda: not bird.established("speaker") and not bird.routes(), TIMEOUT, "BIRD to lose the session and routes"
    )
    wait_for(lambda: not running(old_pid), TIMEOUT, "the old ExaBGP to be gone")
    driver.set_desired({kept})  # while ExaBGP is down: stored, announced on the next start

    wait_for(lambda: bird.established("speaker") and "10.100.0.1/32" in bird.routes(), TIMEOUT, "the kept route back")
    time.sleep(0.5)  # would a stale route come back with it?
    assert set(bird.routes()) == {"10.100.0.1/32"}
    assert driver.pid != old_pid and driver.relay_pid != relay
    assert driver.stats.relay_losses == 1 and driver.stats.exits == 0


def test_drain_withdraws_before_it_stops_exabgp(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    driver = driver_factory([neighbor(bird)])
    driver.set_desired({route("10.100.0.1/32"), Route(ip_network("2001:db8:100::1/128"), LOOPBACK6)})
    wait_for(lambda: len(bird.routes()) == 2, TIMEOUT, "the routes in BIRD")

    draining = threading.Thread(target=driver.drain, args=(1.5,))
    draining.start()
    wait_for(lambda: not bird.routes(), 1.0, "the withdrawals in BIRD")
    assert bird.established("speaker"), "the session must outlive the withdrawals"
    draining.join(TIMEOUT)
    assert not draining.is_alive()
    wait_for(lambda: not bird.established("speaker"), TIMEOUT, "the session to close")
    assert driver.pid is None


def test_an_injection_attempt_is_refused_and_bird_never_sees_a_default_route(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    commands = Commands()
    driver = driver_factory([neighbor(bird)], on_command=commands)
    assert driver.wait_established(TIMEOUT), driver.output()
    driver.set_desired({route("10.100.0.1/32")})
    commands.take()

    injection = "65000:1\nannounce route 0.0.0.0/0 next-hop self"
    with pytest.raises(ValueError):
        parse_community(injection)
    forged = Community((), injection)  # built by hand, past the parser
    with pytest.raises(ValueError):
        Route(ip_network("10.100.0.2/32"), communities=(forged,))
    with pytest.raises(TypeError):
        driver.set_desired({"10.100.0.2/32\nannounce route 0.0.0.0/0 next-hop self"})  # type: ignore[arg-type]

    assert commands.take() == []
    assert driver.announced == {route("10.100.0.1/32")}
    time.sleep(0.3)
    assert set(bird.routes()) == {"10.100.0.1/32"}
    assert "0.0.0.0/0" not in bird.birdc("show", "route", "all")


def test_ipv6_over_an_ipv6_session_on_loopback(
    bird_factory: Callable[..., LoopbackBird], driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    session = BirdSession("speaker6", LOOPBACK6, LOOPBACK6)
    bird = bird_factory(session)
    driver = driver_factory([neighbor(bird, session)])
    assert driver.wait_established(TIMEOUT), driver.output()
    vip6 = route("2001:db8:100::1/128", "65000:6")  # next-hop self: the session's own ::1
    vip4 = Route(ip_network("10.100.0.1/32"), SPEAKER)  # IPv4 over this session needs its next hop spelled out
    driver.set_desired({vip6, vip4})

    wait_for(lambda: {"2001:db8:100::1/128", "10.100.0.1/32"} <= set(bird.routes()), TIMEOUT, "both routes in BIRD")
    seen = bird.routes()["2001:db8:100::1/128"]
    assert seen.attributes["BGP.next_hop"] == "::1"
    assert seen.communities == {(65000, 6)}
    assert bird.routes()["10.100.0.1/32"].attributes["BGP.next_hop"] == str(SPEAKER)
    driver.set_desired({vip4})
    wait_for(lambda: set(bird.routes()) == {"10.100.0.1/32"}, TIMEOUT, "the IPv6 withdrawal in BIRD")


def test_ipv6_nlri_over_an_ipv4_session_needs_an_explicit_next_hop(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    commands = Commands()
    driver = driver_factory([neighbor(bird)], on_command=commands)
    explicit = Route(ip_network("2001:db8:100::1/128"), LOOPBACK6)
    implicit = Route(ip_network("2001:db8:100::2/128"))  # next-hop self: no IPv6 address on this session
    driver.set_desired({explicit, implicit})

    wait_for(lambda: "2001:db8:100::1/128" in bird.routes(), TIMEOUT, "the IPv6 route over the IPv4 session")
    assert bird.routes()["2001:db8:100::1/128"].attributes["BGP.next_hop"] == "::1"
    assert commands.take() == [f"neighbor {ROUTER} announce route 2001:db8:100::1/128 next-hop ::1"]
    assert driver.stats.unsendable == 1 and driver.announced == {explicit}


def test_ebgp_with_an_md5_password_and_a_wrong_one(
    bird_factory: Callable[..., LoopbackBird], driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    password = "s3cr;t #{x} y"  # what a config tokeniser would choke on
    session = BirdSession("router_ebgp", ROUTER, SPEAKER, speaker_asn=65001, password=password)
    bird = bird_factory(session)
    right = driver_factory([neighbor(bird, session, password=password)])
    assert right.wait_established(TIMEOUT), right.output()
    right.set_desired({route("10.100.0.1/32")})
    wait_for(lambda: "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route over eBGP")
    assert bird.routes()["10.100.0.1/32"].attributes["BGP.as_path"] == "65001"
    right.stop()
    wait_for(lambda: not bird.established("router_ebgp"), TIMEOUT, "the session to close")

    wrong = driver_factory([neighbor(bird, session, password="not it")])
    assert not wrong.wait_established(2.0)
    assert not bird.established("router_ebgp")


def test_reconfigure_moves_the_routes_to_the_new_neighbors(
    bird_factory: Callable[..., LoopbackBird], driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    first, second = BirdSession("router_a", ROUTER, SPEAKER), BirdSession("router_b", ROUTER_B, SPEAKER_B)
    bird = bird_factory(first, second)
    driver = driver_factory([neighbor(bird, first)])
    driver.set_desired([route("10.100.0.1/32")])
    wait_for(lambda: "10.100.0.1/32" in bird.routes("router_a"), TIMEOUT, "the route from the first session")

    driver.reconfigure([neighbor(bird, second)])
    wait_for(lambda: "10.100.0.1/32" in bird.routes("router_b"), TIMEOUT, "the route from the second session")
    wait_for(lambda: not bird.established("router_a"), TIMEOUT, "the first session to close")
    assert not bird.routes("router_a")
    assert set(driver.sessions) == {str(ROUTER_B)}


def test_routes_per_neighbor(
    bird_factory: Callable[..., LoopbackBird], driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    first, second = BirdSession("router_a", ROUTER, SPEAKER), BirdSession("router_b", ROUTER_B, SPEAKER_B)
    bird = bird_factory(first, second)
    driver = driver_factory([neighbor(bird, first), neighbor(bird, second)])
    desired: dict[PeerAddress, list[Route]] = {
        ROUTER: [route("10.100.0.1/32")],
        ROUTER_B: [route("10.100.0.2/32", "65000:2")],
    }
    driver.set_desired(desired)
    wait_for(lambda: set(bird.routes("router_a")) == {"10.100.0.1/32"}, TIMEOUT, "the first session's route")
    wait_for(lambda: set(bird.routes("router_b")) == {"10.100.0.2/32"}, TIMEOUT, "the second session's route")
    assert driver.stats.announced == {str(ROUTER): 1, str(ROUTER_B): 1}


def test_an_exabgp_that_cannot_start_fails_loudly(tmp_path: Path) -> None:
    neighbors = [Neighbor(ROUTER, ROUTER_ASN, ROUTER_ASN, SPEAKER, SPEAKER, peer_port=9)]
    with pytest.raises(ExaBGPStartError, match="cannot run"):
        ExaBGPDriver(neighbors, tmp_path / "a", exabgp=tmp_path / "no-such-exabgp").start()
    with pytest.raises(ExaBGPStartError, match="exited with status 1"):
        ExaBGPDriver(neighbors, tmp_path / "b", exabgp=Path("/bin/false")).start()
    with pytest.raises(ExaBGPStartError, match="longer than"):
        ExaBGPDriver(neighbors, tmp_path / ("x" * 120)).start()


def test_a_driver_without_neighbors_runs_no_exabgp_until_it_gets_some(
    bird: LoopbackBird, driver_factory: Callable[..., ExaBGPDriver]
) -> None:
    driver = driver_factory([])
    driver.set_desired({route("10.100.0.1/32")})
    assert driver.pid is None and driver.sessions == {} and driver.announced == frozenset()

    driver.reconfigure([neighbor(bird)])
    wait_for(lambda: "10.100.0.1/32" in bird.routes(), TIMEOUT, "the route once a neighbor is configured")
