"""An external-dns webhook server (protocol version 1) over an InMemoryProvider, for tests of the webhook provider.

It answers the four routes as external-dns expects and as the common webhook servers built on external-dns's
`provider/webhook` template check them: `GET /` and `GET /records` need `Accept`, `POST /records` needs
`Content-Type`, `POST /adjustendpoints` needs both; a missing header is 406, a different media type 415 (compared as a
string, as external-dns does). A body that does not decode is 400. A change the zone refuses is 400 with the reason as
text (a bad address): external-dns treats every answer outside 500-510 as permanent, and 400 is the refusal its
reference server uses; one that finds the zone not as the request says (a create that exists, an update whose
updateOld or a delete that does not match what stands) is 409, also with the reason. Other failures are 500.

Targets are kept as they were sent (`RecordSet.exact` in the store) and listed so; a record set put into the store
without exact values is listed as external-dns writes it (TXT quoted). `store` and `stored` write and read the store
behind the provider's back.

    with WebhookServer(["example.test"]) as server:
        provider = WebhookProvider(server.url)
        server.provider.records(Zone("example.test"))   # what landed
        server.forced_status = 429                       # every request now answers 429

Or as a process: `python -m dnslb_testkit.webhook_server --port 8888 --zones example.test`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

from dnslb.provider import Change, Conflict, ProviderError, RecordSet, Rejected, Zone
from dnslb_inmemory import InMemoryProvider
from dnslb_webhook import wire

DEFAULT_TTL = 300  # for endpoints without recordTTL (external-dns sends its ownership TXT records so)
_STOP_TIMEOUT = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class WebhookServer:
    def __init__(self, zones: Sequence[str], default_ttl: int = DEFAULT_TTL) -> None:
        self.provider = InMemoryProvider(zones)
        self.default_ttl = default_ttl
        self.forced_status: int | None = None
        """When set, every request is answered with this status (and `Retry-After: 1` for 429)."""
        self.seen: list[SeenRequest] = []
        self._running: _Running | None = None

    def store(self, name: str, type_: str, ttl: int, targets: Sequence[str]) -> None:
        """Make `targets` the record set `name` `type_`, unconditionally, kept as given."""
        endpoint = {"dnsName": name, "targets": list(targets), "recordType": type_, "recordTTL": ttl}
        record = wire.from_endpoint(endpoint).record
        self.provider.write(self._zone_of(record.name), record)

    def stored(self, name: str, type_: str) -> list[str]:
        """The targets `GET /records` lists for `name` `type_` ([] when there is none)."""
        zone = self._zone_of(name)
        return [t for r in self.provider.records_at(zone, [name]) if r.type == type_ for t in _listed(r)["targets"]]

    @property
    def url(self) -> str:
        if self._running is None:
            raise RuntimeError("the webhook server is not running")
        return self._running.url

    def __enter__(self) -> WebhookServer:
        running = _Running(self.application())
        try:
            running.start()
        except BaseException:
            running.stop()
            raise
        self._running = running
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._running is not None:
            self._running.stop()
            self._running = None

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._record_and_force])
        app.router.add_get("/", self._negotiate)
        app.router.add_get("/records", self._records)
        app.router.add_post("/records", self._apply)
        app.router.add_post("/adjustendpoints", self._adjust)
        return app

    # handlers

    @web.middleware
    async def _record_and_force(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.seen.append(SeenRequest(request.method, request.path, dict(request.headers), await request.read()))
        status = self.forced_status
        if status is not None:
            headers = {"Retry-After": "1"} if status == 429 else {}
            return web.Response(status=status, text=f"answering every request with {status}", headers=headers)
        return await handler(request)

    async def _negotiate(self, request: web.Request) -> web.Response:
        refused = _refused_media_type(request, "Accept")
        if refused:
            return refused
        zones = tuple(z.name for z in self.provider.zones())
        return _json_answer(wire.DomainFilter(include=zones).body())

    async def _records(self, request: web.Request) -> web.Response:
        refused = _refused_media_type(request, "Accept")
        if refused:
            return refused
        records = [r for zone in self.provider.zones() for r in self.provider.records(zone)]
        return _json_answer([_listed(r) for r in records])

    async def _apply(self, request: web.Request) -> web.Response:
        refused = _refused_media_type(request, "Content-Type")
        if refused:
            return refused
        try:
            by_zone = self._changes_by_zone(wire.change_lists(json.loads(await request.read())))
            for zone, changes in by_zone.items():
                self.provider.apply(zone, changes)
        except Conflict as conflict:
            return web.Response(status=409, text=str(conflict))
        except (ValueError, Rejected) as refusal:
            return web.Response(status=400, text=str(refusal))
        except ProviderError as failure:
            return web.Response(status=500, text=str(failure))
        return web.Response(status=204)

    async def _adjust(self, request: web.Request) -> web.Response:
        refused = _refused_media_type(request, "Content-Type") or _refused_media_type(request, "Accept")
        if refused:
            return refused
        try:
            endpoints = [
                wire.from_endpoint(e, self.default_ttl) for e in wire.endpoints_in(json.loads(await request.read()))
            ]
        except ValueError as refusal:
            return web.Response(status=400, text=str(refusal))
        # an InMemoryProvider stores what it is given, so adjusting only fills in the TTL it would store
        return _json_answer([wire.endpoint_of(e.record) for e in endpoints])

    # translation

    def _changes_by_zone(self, lists: Mapping[str, list[object]]) -> dict[Zone, list[Change]]:
        """Deletes first, then updates, then creates, so that a batch can replace a record set."""
        ordered: list[Change] = [Change("delete", self._record(e)) for e in lists["delete"]]
        for old, new in zip(lists["updateOld"], lists["updateNew"], strict=True):
            ordered.append(Change("update", self._record(new), self._record(old)))
        ordered += [Change("create", self._record(e)) for e in lists["create"]]
        by_zone: dict[Zone, list[Change]] = {}
        for change in ordered:
            by_zone.setdefault(self._zone_of(change.record.name), []).append(change)
        return by_zone

    def _record(self, endpoint: object) -> RecordSet:
        record = wire.from_endpoint(endpoint, self.default_ttl).record
        problem = wire.value_problem(record)
        if problem:
            raise Rejected(problem)
        return record

    def _zone_of(self, name: str) -> Zone:
        zones = [z for z in self.provider.zones() if name == z.name or name.endswith("." + z.name)]
        if not zones:
            raise Rejected(f"{name} is not in any zone this server manages")
        return max(zones, key=lambda z: len(z.name))


def _listed(record: RecordSet) -> wire.Endpoint:
    """The endpoint `GET /records` lists: targets as they were sent; a record set stored without them (the in-memory
    store then reads its values as its exact ones) as external-dns writes it."""
    endpoint = wire.endpoint_of(dataclasses.replace(record, exact=()))
    if record.exact != record.values:
        endpoint["targets"] = list(record.exact)
    return endpoint


def _refused_media_type(request: web.Request, header: str) -> web.Response | None:
    value = request.headers.get(header, "")
    if not value:
        return web.Response(status=406, text=f"client must provide the {header} header")
    if value != wire.MEDIA_TYPE:
        return web.Response(status=415, text=f"unsupported media type in {header}: {value!r}; use {wire.MEDIA_TYPE}")
    return None


def _json_answer(body: object) -> web.Response:
    # headers, not content_type=: aiohttp would re-format the media type, and external-dns compares it as a string
    return web.Response(body=wire.encode(body), headers={"Content-Type": wire.MEDIA_TYPE, "Vary": "Content-Type"})


class _Running:
    """An aiohttp application served on 127.0.0.1 (a free port by default) from its own thread and event loop."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app, self._host, self._port = app, host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhook-server", daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def start(self) -> None:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(_STOP_TIMEOUT)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(_STOP_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_STOP_TIMEOUT)
        self._loop.close()

    async def _serve(self) -> str:
        self._runner = await _serving(self._app, self._host, self._port)
        return _url_of(self._runner)


async def _serving(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def _url_of(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"


# python -m dnslb_testkit.webhook_server


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dnslb_testkit.webhook_server",
        description=(
            "An external-dns webhook server (protocol version 1) that keeps records in memory. Prints the URL it "
            "serves on one line when ready; stops on SIGTERM or SIGINT."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8888, help="port to listen on; 0 picks a free one (default: 8888)")
    parser.add_argument("--zones", required=True, help="comma-separated zones to serve, e.g. example.test")
    parser.add_argument(
        "--default-ttl", type=int, default=DEFAULT_TTL, help="TTL for endpoints without one (default: %(default)s)"
    )
    return parser.parse_args(argv)


async def _serve_until_signalled(server: WebhookServer, host: str, port: int) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    runner = await _serving(server.application(), host, port)
    print(_url_of(runner), flush=True)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    zones = [z.strip() for z in arguments.zones.split(",") if z.strip()]
    if not zones:
        print("--zones names no zone", file=sys.stderr)
        return 2
    server = WebhookServer(zones, default_ttl=arguments.default_ttl)
    asyncio.run(_serve_until_signalled(server, arguments.host, arguments.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
