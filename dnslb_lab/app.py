"""The lab's demo workloads: an HTTP app and a TCP "database" that both answer with the name of their node.

`python -m dnslb_lab.app http --name node1 --port 8081` serves every GET with the node name (`/healthz` with "ok");
`python -m dnslb_lab.app db --name node1 --port 5432` speaks a line protocol (`QUERY <n>` -> `ROW <name> <n>`,
`PING` -> `PONG <name>`). Both print `listening` once bound and exit cleanly on SIGTERM/SIGINT. A `--delay-file`
holding a number of seconds makes every answer that slow: this is how the lab makes a node slow.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import math
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

DELAY_RECHECK_SECONDS = 0.2
BACKLOG = 1024
# how long in-flight HTTP requests may take to finish after SIGTERM before their connections are cut
HTTP_SHUTDOWN_SECONDS = 1.0
MAX_LINE_BYTES = 4096


@dataclass(frozen=True)
class AppOptions:
    kind: str
    name: str
    host: str
    port: int
    delay_file: Path | None


class DelaySource:
    """The artificial delay from `--delay-file`: seconds as a float, 0 when missing/empty/invalid.

    The file is stat'ed at most every DELAY_RECHECK_SECONDS and re-read only when its mtime or size changed,
    so a busy server does not touch the disk per request.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._checked_at = -math.inf
        self._stamp: tuple[int, int] | None = None
        self._seconds = 0.0

    def seconds(self) -> float:
        if self._path is None:
            return 0.0
        now = time.monotonic()
        if now - self._checked_at >= DELAY_RECHECK_SECONDS:
            self._checked_at = now
            self._refresh(self._path)
        return self._seconds

    def _refresh(self, path: Path) -> None:
        try:
            stat = path.stat()
        except OSError:
            self._stamp, self._seconds = None, 0.0
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            self._seconds = parse_delay(path)

    async def wait(self) -> None:
        seconds = self.seconds()
        if seconds > 0:
            await asyncio.sleep(seconds)


def parse_delay(path: Path) -> float:
    """The delay written in `path`; anything unreadable, non-finite or negative counts as no delay."""
    try:
        value = float(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket for `host`; "::" (or "") is dual-stack, an IPv4 address or name binds IPv4 only.

    Bound by hand because asyncio's create_server always sets IPV6_V6ONLY, which would make "::" IPv6-only.
    """
    if host in ("", "::"):
        dualstack = socket.has_dualstack_ipv6()
        return socket.create_server(
            ("::", port), family=socket.AF_INET6, backlog=BACKLOG, dualstack_ipv6=dualstack, reuse_port=False
        )
    return socket.create_server((host, port), family=address_family(host), backlog=BACKLOG)


def address_family(host: str) -> socket.AddressFamily:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        return infos[0][0]
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


def announce() -> None:
    print("listening", flush=True)


async def until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


# --- HTTP -------------------------------------------------------------------------------------------------------


def http_app(name: str, delay: DelaySource) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def whoami(_: web.Request) -> web.Response:
        await delay.wait()
        return web.Response(text=name)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/{path:.*}", whoami)
    return app


async def serve_http(options: AppOptions) -> None:
    app = http_app(options.name, DelaySource(options.delay_file))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=HTTP_SHUTDOWN_SECONDS)
    await runner.setup()
    try:
        site = web.SockSite(runner, bind(options.host, options.port), backlog=BACKLOG)
        await site.start()
        announce()
        await until_signalled()
    finally:
        await runner.cleanup()


# --- DB ---------------------------------------------------------------------------------------------------------


class DbServer:
    """The line-protocol "database": one task per connection, many queries per connection."""

    def __init__(self, name: str, delay: DelaySource) -> None:
        self._name = name
        self._delay = delay
        self._connections: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, ValueError):
            pass  # the client went away or sent garbage too long for a line: drop the connection
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(await self.answer(line.decode("utf-8", errors="replace").strip()))
            await writer.drain()

    async def answer(self, command: str) -> bytes:
        match command.split():
            case ["QUERY", number] if is_integer(number):
                await self._delay.wait()
                return f"ROW {self._name} {number}\n".encode()
            case ["PING"]:
                return f"PONG {self._name}\n".encode()
            case _:
                return b"ERR unknown command\n"

    async def close_connections(self) -> None:
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)


def is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


async def serve_db(options: AppOptions) -> None:
    db = DbServer(options.name, DelaySource(options.delay_file))
    server = await asyncio.start_server(
        db.handle, sock=bind(options.host, options.port), backlog=BACKLOG, limit=MAX_LINE_BYTES
    )
    try:
        announce()
        await until_signalled()
    finally:
        server.close()
        await db.close_connections()
        await server.wait_closed()


# --- CLI --------------------------------------------------------------------------------------------------------


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dnslb_lab.app",
        description="The lab's demo workloads; each prints `listening` once bound and stops on SIGTERM/SIGINT.",
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="{http,db}")
    http = kinds.add_parser("http", help="HTTP app: every GET answers 200 with the node name; /healthz answers ok")
    db = kinds.add_parser("db", help="TCP line protocol: `QUERY <n>` -> `ROW <name> <n>`, `PING` -> `PONG <name>`")
    for sub, default_port in ((http, 8080), (db, 5432)):
        sub.add_argument("--name", required=True, help="node name to answer with")
        sub.add_argument("--host", default="0.0.0.0", help='address to bind; "::" is dual-stack (default: 0.0.0.0)')
        sub.add_argument("--port", type=port_number, default=default_port, help=f"port (default: {default_port})")
        sub.add_argument(
            "--delay-file",
            type=Path,
            help="file holding seconds (float) to wait before each answer; missing/empty/invalid = no delay",
        )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> AppOptions:
    args = build_parser().parse_args(argv)
    return AppOptions(kind=args.kind, name=args.name, host=args.host, port=args.port, delay_file=args.delay_file)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    serve = serve_http if options.kind == "http" else serve_db
    try:
        asyncio.run(serve(options))
    except OSError as exc:
        print(f"{options.kind}: cannot serve on {options.host}:{options.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
