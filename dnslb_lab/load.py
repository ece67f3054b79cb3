"""The lab's load generator: simulated users over HTTP and client sessions over the TCP "database".

HTTP users are of two client kinds, mixed by `--client-mix` and assigned by user index:
- `single`, a naive client or connection pool: it resolves the name itself, connects to the first address only and
  fails the request when that connect fails or times out;
- `fallback`, happy eyeballs: it tries every resolved address, the next one 250 ms after the previous one started
  (RFC 8305 style), and the first to connect wins.
Both keep their connection alive across requests and resolve again only for a new connection. Each `--url` may be
labelled with a world (`old=http://old.lab.test/`): users are spread evenly over the worlds, each world with the same
client mix, so that worlds compare side by side.

Every finished request becomes one JSON line in `--out`: `{"t": <wall-clock start>, "kind": "http"|"db", "ok": bool,
"latency": seconds, "node": name|null, "error": text|null, "client": kind|null, "world": name|null}` (client and
world are null for the database). The file is flushed at least every half second, since the lab tails it live. On
SIGTERM/SIGINT or at the end of `--duration`, users stop starting requests, in-flight ones get `--timeout` to finish,
and one JSON summary line `{"requests": N, "failures": F, "duration": s}` goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpcore
import httpx

from dnslb_lab.report import CLIENT_KINDS, Sample

DEFAULT_URL = "http://web.lab.test/"
DEFAULT_DB_USERS = 10
DEFAULT_CLIENT_MIX = "single=0.5,fallback=0.5"
_SHARE_TOLERANCE = 1e-6
_WORLD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
FLUSH_SECONDS = 0.25
ERROR_CHARS = 120
# each user resolves names on its own (like separate browsers); the default executor's few threads would queue
# getaddrinfo calls behind one slow DNS answer and turn resolver trouble into artificial client-side latency
RESOLVER_THREADS = 64
CLEANUP_SECONDS = 1.0


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


@dataclass(frozen=True)
class Target:
    """A URL for HTTP users, and the world they count in."""

    world: str
    url: str


@dataclass(frozen=True)
class ClientMix:
    """The share of HTTP users of each client kind; kinds without a share are left out."""

    shares: tuple[tuple[str, float], ...]

    def kinds(self, count: int) -> tuple[str, ...]:
        """The kinds of `count` users in index order, each prefix as close to the shares as whole users allow (smooth
        weighted round robin): a world's first users to start, and a world of few users, have the mix too."""
        credit = dict.fromkeys((kind for kind, _ in self.shares), 0.0)
        kinds = []
        for _ in range(count):
            for kind, share in self.shares:
                credit[kind] += share
            chosen = max(credit, key=credit.__getitem__)  # on a tie, the kind listed first
            credit[chosen] -= 1.0
            kinds.append(chosen)
        return tuple(kinds)

    def __str__(self) -> str:
        return ",".join(f"{kind}={share:g}" for kind, share in self.shares)


@dataclass(frozen=True)
class HttpPlan:
    """What one HTTP user does: which URL it asks, in which world, as which client kind."""

    url: str
    world: str
    client: str


@dataclass(frozen=True)
class Options:
    out: Path
    targets: tuple[Target, ...]
    users: int
    db: Endpoint | None
    db_users: int
    duration: float
    ramp: float
    wait_min: float
    wait_max: float
    timeout: float
    client_mix: ClientMix

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(target.url for target in self.targets)


def plan_http_users(targets: Sequence[Target], mix: ClientMix, users: int) -> tuple[HttpPlan, ...]:
    """User i goes to world i mod #worlds (worlds in the order their URLs were given), and is of the client kind
    `mix` gives its rank in that world, so every world has the same mix; the users of one world and kind take the
    world's URLs in turn."""
    worlds = tuple(dict.fromkeys(target.world for target in targets))
    urls = {world: [t.url for t in targets if t.world == world] for world in worlds}
    kinds = mix.kinds(users)
    seen: Counter[tuple[str, str]] = Counter()
    plans = []
    for index in range(users):
        world = worlds[index % len(worlds)]
        kind = kinds[index // len(worlds)]
        mine = urls[world]
        plans.append(HttpPlan(mine[seen[world, kind] % len(mine)], world, kind))
        seen[world, kind] += 1
    return tuple(plans)


def sample_line(sample: Sample) -> str:
    """One line of `--out`: the fields of `dnslb_lab.report.Sample`, times rounded to the microsecond."""
    fields = {"t": round(sample.t, 6), "kind": sample.kind, "ok": sample.ok, "latency": round(sample.latency, 6)}
    who = {"client": sample.client, "world": sample.world}
    return json.dumps({**fields, "node": sample.node, "error": sample.error, **who})


@dataclass(frozen=True)
class Summary:
    requests: int
    failures: int
    duration: float

    def to_json(self) -> str:
        return json.dumps({"requests": self.requests, "failures": self.failures, "duration": round(self.duration, 3)})


class BadReply(Exception):
    """The database answered something other than the expected `ROW <node> <n>`, or hung up."""


def describe(exc: BaseException) -> str:
    """`ClassName: message`, the message on one line and cut to ERROR_CHARS; just the class name without one."""
    message = " ".join(str(exc).split())
    if len(message) > ERROR_CHARS:
        message = message[: ERROR_CHARS - 1] + "…"
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


class SampleLog:
    """Buffers sample lines and appends them to the output file; counts what it recorded."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._pending: list[str] = []
        self.requests = 0
        self.failures = 0

    def record(self, sample: Sample) -> None:
        self._pending.append(sample_line(sample) + "\n")
        self.requests += 1
        self.failures += not sample.ok

    def flush(self) -> None:
        if self._pending:
            self._stream.write("".join(self._pending))
            self._pending.clear()
        self._stream.flush()

    async def flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()


class Worker:
    """One simulated user's task, and whether it has a request in flight.

    At stop time idle workers (pausing or not started yet) are cancelled at once; busy ones finish their request,
    record it and leave on their own.
    """

    def __init__(self) -> None:
        self.busy = False

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        self.busy = True
        try:
            yield
        finally:
            self.busy = False


class Pacing:
    """When users start and how long they pause between requests."""

    def __init__(self, options: Options, stop: asyncio.Event) -> None:
        self._options = options
        self._stop = stop
        self._population = options.users + options.db_users

    def start_delay(self, index: int) -> float:
        return self._options.ramp * index / self._population

    def stopping(self) -> bool:
        return self._stop.is_set()

    async def pause(self) -> None:
        await asyncio.sleep(random.uniform(self._options.wait_min, self._options.wait_max))


@dataclass(frozen=True)
class Crowd:
    """What all users share."""

    options: Options
    pacing: Pacing
    log: SampleLog
    tls: ssl.SSLContext


# --- HTTP -------------------------------------------------------------------------------------------------------

LIMITS = httpx.Limits(max_connections=1, max_keepalive_connections=1)


async def first_address(host: str, port: int, timeout: float | None) -> str:
    """The first address the system resolver answers for `host`: the one a client that takes `getaddrinfo()[0]`
    connects to. Failures are httpcore's, as a connect's would be."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"resolving {host}") from exc
    except OSError as exc:
        raise httpcore.ConnectError(describe(exc)) from exc
    if not answers:
        raise httpcore.ConnectError(f"no address for {host}")
    return str(answers[0][4][0])


class FirstAddressOnly(httpcore.AsyncNetworkBackend):
    """Connects the way a naive client does: resolve, connect to the first address, give up when that fails. (httpx's
    own backend, anyio's `connect_tcp`, falls back over every address with happy eyeballs: the `fallback` kind.)"""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        clock = time.monotonic()
        address = await first_address(host, port, timeout)
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - clock))
        return await self._backend.connect_tcp(address, port, left, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class FirstAddressTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool that connects with `FirstAddressOnly` (httpx has no public way to hand its
    pool a network backend)."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        super().__init__(verify=tls, limits=LIMITS)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls,
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=FirstAddressOnly(),
        )


class HttpUser:
    """One user of a site: one keep-alive connection, like a browser tab or a pool of one, rebuilt from scratch
    (resolve + connect, the way its client kind does) after any failure."""

    def __init__(self, plan: HttpPlan, options: Options, tls: ssl.SSLContext) -> None:
        self._plan = plan
        self._timeout = options.timeout
        self._tls = tls
        self._client = self._new_client()

    def _new_client(self) -> httpx.AsyncClient:
        if self._plan.client == "single":
            transport: httpx.AsyncHTTPTransport = FirstAddressTransport(self._tls)
        else:
            transport = httpx.AsyncHTTPTransport(verify=self._tls, limits=LIMITS)
        # trust_env=False: proxy variables from the caller's environment must not reroute the lab's traffic
        return httpx.AsyncClient(timeout=self._timeout, transport=transport, trust_env=False)

    def _sample(self, started: float, latency: float, node: str | None, error: str | None) -> Sample:
        plan = self._plan
        return Sample(started, "http", error is None, latency, node, error, client=plan.client, world=plan.world)

    async def get(self) -> Sample:
        started, clock = time.time(), time.perf_counter()
        try:
            response = await self._client.get(self._plan.url)
        except Exception as exc:
            await self.reset()
            return self._sample(started, time.perf_counter() - clock, None, describe(exc))
        latency = time.perf_counter() - clock
        if response.status_code != 200:
            await self.reset()
            return self._sample(started, latency, None, f"HTTP {response.status_code}")
        return self._sample(started, latency, response.text.strip() or None, None)

    async def reset(self) -> None:
        await self.close()
        self._client = self._new_client()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.aclose()


async def http_user(index: int, plan: HttpPlan, crowd: Crowd, worker: Worker) -> None:
    await asyncio.sleep(crowd.pacing.start_delay(index))
    user = HttpUser(plan, crowd.options, crowd.tls)
    try:
        while True:
            with worker.request():
                sample = await user.get()
            crowd.log.record(sample)
            if crowd.pacing.stopping():
                return
            await crowd.pacing.pause()
    finally:
        await user.close()


# --- DB ---------------------------------------------------------------------------------------------------------


class DbUser:
    """A database session: one TCP connection, many queries; any failure drops it and the next query reconnects."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self._endpoint = endpoint
        self._timeout = timeout
        self._connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def query(self, number: int) -> Sample:
        started, clock = time.time(), time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                node = await self._ask(number)
        except Exception as exc:
            self.close()
            return Sample(started, "db", False, time.perf_counter() - clock, None, describe(exc))
        return Sample(started, "db", True, time.perf_counter() - clock, node, None)

    async def _ask(self, number: int) -> str:
        if self._connection is None:
            self._connection = await asyncio.open_connection(self._endpoint.host, self._endpoint.port)
        reader, writer = self._connection
        writer.write(f"QUERY {number}\n".encode())
        await writer.drain()
        return parse_row(await reader.readline(), number)

    def close(self) -> None:
        if self._connection is not None:
            self._connection[1].transport.abort()
            self._connection = None


def parse_row(line: bytes, number: int) -> str:
    """The node name in `ROW <node> <number>`."""
    if not line:
        raise BadReply("connection closed")
    match line.decode("utf-8", errors="replace").split():
        case ["ROW", node, answered] if answered == str(number):
            return node
        case _:
            raise BadReply(f"unexpected reply {line[:60]!r} to QUERY {number}")


async def db_user(index: int, address: Endpoint, crowd: Crowd, worker: Worker) -> None:
    await asyncio.sleep(crowd.pacing.start_delay(index))
    user = DbUser(address, crowd.options.timeout)
    try:
        for number in itertools.count(1):
            with worker.request():
                sample = await user.query(number)
            crowd.log.record(sample)
            if crowd.pacing.stopping():
                return
            await crowd.pacing.pause()
    finally:
        user.close()


# --- run --------------------------------------------------------------------------------------------------------


def spawn_users(crowd: Crowd) -> dict[asyncio.Task[None], Worker]:
    options = crowd.options
    tasks: dict[asyncio.Task[None], Worker] = {}
    for index, plan in enumerate(plan_http_users(options.targets, options.client_mix, options.users)):
        worker = Worker()
        tasks[asyncio.create_task(http_user(index, plan, crowd, worker))] = worker
    if options.db is not None:
        for index in range(options.users, options.users + options.db_users):
            worker = Worker()
            tasks[asyncio.create_task(db_user(index, options.db, crowd, worker))] = worker
    return tasks


async def wind_down(tasks: dict[asyncio.Task[None], Worker], grace: float) -> None:
    """Cancel idle users now, give busy ones `grace` seconds to finish their request, then cancel the rest."""
    if not tasks:
        return
    for task, worker in tasks.items():
        if not worker.busy:
            task.cancel()
    _, late = await asyncio.wait(tasks, timeout=grace)
    for task in late:
        task.cancel()
    # the cancelled users close their connections in `finally`; do not let a stuck close hold the exit
    await asyncio.wait(tasks, timeout=CLEANUP_SECONDS)
    for task in tasks:
        if task.done() and not task.cancelled() and (error := task.exception()) is not None:
            print(f"load: a user stopped early: {describe(error)}", file=sys.stderr)


async def wait_for_stop(stop: asyncio.Event, duration: float) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration if duration > 0 else None)
    stop.set()


async def run(options: Options, stream: IO[str]) -> Summary:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(RESOLVER_THREADS, "resolver"))
    stop = asyncio.Event()
    log = SampleLog(stream)
    flusher = asyncio.create_task(log.flush_periodically())
    clock = time.perf_counter()
    # one TLS context for all clients: building one per client costs milliseconds of CPU each
    crowd = Crowd(options, Pacing(options, stop), log, ssl.create_default_context())
    tasks = spawn_users(crowd)
    try:
        await wait_for_stop(stop, options.duration)
        await wind_down(tasks, options.timeout)
    finally:
        flusher.cancel()
        log.flush()
    return Summary(log.requests, log.failures, time.perf_counter() - clock)


# --- CLI --------------------------------------------------------------------------------------------------------


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text


def target(text: str) -> Target:
    """[WORLD=]URL; without a world, the URL's host names it."""
    world, sep, url = text.partition("=")
    if not sep or world.startswith(("http://", "https://")):
        url = http_url(text)
        return Target(urlsplit(url).hostname or url, url)
    if not _WORLD_NAME.fullmatch(world):
        raise argparse.ArgumentTypeError(f"not a world name (letters, digits, _ . -): {world!r} in {text!r}")
    return Target(world, http_url(url))


def client_mix(text: str) -> ClientMix:
    """KIND=SHARE,...: known kinds, each at most once, shares from 0 to 1 that add up to 1."""
    shares: dict[str, float] = {}
    for item in text.split(","):
        kind, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not kind:
            raise argparse.ArgumentTypeError(f"expected KIND=SHARE[,KIND=SHARE...], got {text!r}")
        if kind not in CLIENT_KINDS:
            raise argparse.ArgumentTypeError(f"unknown client kind {kind!r} (known: {', '.join(CLIENT_KINDS)})")
        if kind in shares:
            raise argparse.ArgumentTypeError(f"client kind {kind!r} given twice in {text!r}")
        shares[kind] = _share(kind, value)
    total = sum(shares.values())
    if abs(total - 1) > _SHARE_TOLERANCE:
        raise argparse.ArgumentTypeError(f"the shares must add up to 1, got {total:g} in {text!r}")
    return ClientMix(tuple((kind, share) for kind, share in shares.items() if share > 0))


def _share(kind: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} for {kind}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"the share of {kind} must be from 0 to 1, got {text}")
    return value


def host_port(text: str) -> Endpoint:
    """HOST:PORT, with an IPv6 address in brackets: [::1]:5432."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
    if not sep or not host or (":" in host and not text.startswith("[")):
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (IPv6 as [ADDR]:PORT), got {text!r}")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number in {text!r}") from None
    if not 0 < number <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range in {text!r}")
    return Endpoint(host, number)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dnslb_lab.load",
        description=(
            "Load generator for `dnslb lab`: HTTP users (one keep-alive connection each, like a browser tab or a "
            "connection pool of one) and database users (one TCP connection each), resolving names through the "
            "system resolver. HTTP users are `single` clients (the first resolved address only, fail on timeout) or "
            "`fallback` clients (happy eyeballs over every address, 250 ms apart). Writes one JSON line per finished "
            "request to --out and a JSON summary line to stdout at the end."
        ),
    )
    add = parser.add_argument
    add("--out", type=Path, required=True, help="samples file (JSON lines), flushed at least every 0.5 s")
    add(
        "--url",
        dest="targets",
        action="append",
        type=target,
        metavar="[WORLD=]URL",
        help="URL the HTTP users GET, labelled with the world its users count in (default label: the URL's host); "
        "repeatable: users are spread evenly over the worlds, then over each world's URLs (default: "
        f"{DEFAULT_URL})",
    )
    add("--users", type=non_negative_int, default=100, help="HTTP users (default: 100)")
    add(
        "--client-mix",
        type=client_mix,
        default=client_mix(DEFAULT_CLIENT_MIX),
        metavar="KIND=SHARE,...",
        help="share of each HTTP client kind in every world, assigned by user index: single (first address only) "
        f"and fallback (happy eyeballs); the shares add up to 1 (default: {DEFAULT_CLIENT_MIX})",
    )
    add("--db", type=host_port, metavar="HOST:PORT", help="database address; required when --db-users > 0")
    add(
        "--db-users",
        type=non_negative_int,
        help=f"database users (default: {DEFAULT_DB_USERS} when --db is given, else 0)",
    )
    add(
        "--duration",
        type=non_negative_float,
        default=60.0,
        help="seconds to run; 0 = until SIGTERM/SIGINT (default: 60)",
    )
    add("--ramp", type=non_negative_float, default=5.0, help="seconds over which users start, evenly (default: 5)")
    add(
        "--wait-min",
        type=non_negative_float,
        default=0.1,
        help="shortest pause between a user's requests (default: 0.1)",
    )
    add(
        "--wait-max",
        type=non_negative_float,
        default=0.5,
        help="longest pause between a user's requests (default: 0.5)",
    )
    add(
        "--timeout",
        type=positive_float,
        default=2.0,
        help="seconds per request (HTTP: per connect/read/write; DB: whole query); also the grace for in-flight "
        "requests at exit (default: 2)",
    )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = build_parser()
    args = parser.parse_args(argv)
    db_users = args.db_users if args.db_users is not None else (DEFAULT_DB_USERS if args.db is not None else 0)
    if args.wait_min > args.wait_max:
        parser.error(f"argument --wait-min: {args.wait_min} is greater than --wait-max {args.wait_max}")
    if args.users == 0 and db_users == 0:
        parser.error("argument --users: at least one of --users and --db-users must be > 0")
    if db_users > 0 and args.db is None:
        parser.error("argument --db: required when --db-users > 0")
    return Options(
        out=args.out,
        targets=tuple(args.targets or [target(DEFAULT_URL)]),
        users=args.users,
        db=args.db,
        db_users=db_users,
        duration=args.duration,
        ramp=args.ramp,
        wait_min=args.wait_min,
        wait_max=args.wait_max,
        timeout=args.timeout,
        client_mix=args.client_mix,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        stream = options.out.open("w", encoding="utf-8")
    except OSError as exc:
        print(f"load: cannot write {options.out}: {exc}", file=sys.stderr)
        return 1
    loop = asyncio.new_event_loop()
    try:
        with stream:
            summary = loop.run_until_complete(run(options, stream))
    finally:
        loop.close()
    print(summary.to_json(), flush=True)
    if not threads_finished(deadline=time.monotonic() + CLEANUP_SECONDS):
        # a getaddrinfo stuck on an unreachable DNS server cannot be cancelled, and the interpreter would join its
        # thread before exiting; everything is written, so leave without waiting for it
        sys.stderr.flush()
        os._exit(0)
    return 0


def threads_finished(deadline: float) -> bool:
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
    return threading.active_count() == 1


if __name__ == "__main__":
    sys.exit(main())
