"""Ports for test servers: one free now (never the same twice), or one that refuses every connection.

port = free_port()                                  # TCP on 127.0.0.1
port = free_port("127.0.0.1", udp=True)             # TCP and UDP: a DNS server
port = free_port("0.0.0.0", "::")                   # TCP on every IPv4 and every IPv6 address
with closed_port() as port: ...                     # bound, not listening: connecting is refused
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

__all__ = ["closed_port", "free_port", "silent_port"]

_ATTEMPTS = 100
_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port(*hosts: str, udp: bool = False) -> int:
    """A port free now for TCP (and UDP, with `udp`) on each of `hosts` (default 127.0.0.1), and never handed out
    before by this process: the kernel may give a just-released port out again at once, so two children started in
    a row (neither bound yet) could otherwise get the same one."""
    hosts = hosts or ("127.0.0.1",)
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    for _ in range(_ATTEMPTS):
        with contextlib.ExitStack() as held:
            first = held.enter_context(_bound(hosts[0], socket.SOCK_STREAM, 0))
            port: int = first.getsockname()[1]
            try:
                for host in hosts:
                    for kind in kinds:
                        if (host, kind) != (hosts[0], socket.SOCK_STREAM):
                            held.enter_context(_bound(host, kind, port))
            except OSError:
                continue
        with _lock:
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError(f"found no port free on {', '.join(hosts)} in {_ATTEMPTS} tries")


@contextlib.contextmanager
def closed_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A TCP port held bound but not listening for the block: connecting to it is refused, and no other process can
    take it meanwhile."""
    with _bound(host, socket.SOCK_STREAM, 0) as held:
        port: int = held.getsockname()[1]
        yield port


@contextlib.contextmanager
def silent_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A TCP port listening for the block, where nothing ever accepts: connections complete in the kernel's backlog,
    and no request is ever read or answered."""
    with _bound(host, socket.SOCK_STREAM, 0) as held:
        held.listen()
        port: int = held.getsockname()[1]
        yield port


def _bound(host: str, kind: int, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # the IPv4 port is asked for on its own
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
