"""The load generator's two client kinds on loopback: a name whose first address refuses and whose second answers.
`single` tries the first address only and fails; `fallback` (httpx on anyio: happy eyeballs) goes on to the second.
Both resolve again for every new connection, and only then."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from dnslb_lab import load
from dnslb_lab.report import Sample

LIVE, DEAD = "127.0.0.1", "127.0.0.2"  # the server listens on the first only: the second refuses at once
NAME = "site.test"


@dataclass(frozen=True)
class Outcome:
    samples: list[Sample]
    asked: list[str]  # the names looked up


@asynccontextmanager
async def http_server() -> AsyncIterator[int]:
    """Answers every request on a connection with "node1", keeping the connection alive."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnode1")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, LIVE, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def resolving(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[str]:
    """Make NAME resolve to `addresses`, in that order, on the running loop; returns the log of names looked up."""
    loop = asyncio.get_running_loop()
    original, asked = loop.getaddrinfo, []

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name != NAME:
            return await original(host, port, *args, **kwargs)
        asked.append(name)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port))) for address in addresses]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return asked


def user(client: str, port: int) -> load.HttpUser:
    options = load.parse_options(["--out", "unused", "--timeout", "1"])
    plan = load.HttpPlan(f"http://{NAME}:{port}/", "old", client)
    return load.HttpUser(plan, options, ssl.create_default_context())


async def requests(monkeypatch: pytest.MonkeyPatch, client: str, addresses: tuple[str, ...], count: int) -> Outcome:
    """`count` requests of one user of kind `client` to NAME, which resolves to `addresses`."""
    async with http_server() as port:
        asked = resolving(monkeypatch, *addresses)
        one = user(client, port)
        try:
            samples = [await one.get() for _ in range(count)]
        finally:
            await one.close()
    return Outcome(samples, asked)


def test_single_tries_the_first_address_only(monkeypatch: pytest.MonkeyPatch) -> None:
    (sample,) = asyncio.run(requests(monkeypatch, "single", (DEAD, LIVE), 1)).samples

    assert (sample.ok, sample.client, sample.world) == (False, "single", "old")
    assert sample.error is not None and sample.error.startswith("ConnectError")


def test_fallback_goes_on_to_the_next_address(monkeypatch: pytest.MonkeyPatch) -> None:
    (sample,) = asyncio.run(requests(monkeypatch, "fallback", (DEAD, LIVE), 1)).samples

    assert (sample.ok, sample.node, sample.client) == (True, "node1", "fallback")


@pytest.mark.parametrize("client", ["single", "fallback"])
def test_a_kept_connection_is_not_resolved_again(client: str, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = asyncio.run(requests(monkeypatch, client, (LIVE, DEAD), 3))

    assert [s.node for s in outcome.samples] == ["node1"] * 3
    assert outcome.asked == [NAME]
