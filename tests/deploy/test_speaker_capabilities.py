"""The speaker needs one Linux capability, NET_BIND_SERVICE: deploy/speaker.yaml drops every other.

Here the speaker's ExaBGP driver runs in a process that holds no capability at all (permitted, effective and
bounding sets empty), with a TCP MD5 password and an eBGP TTL, and opens a BGP session to a listener on 127.0.0.1
that holds the same MD5 key: the listener receives ExaBGP's OPEN. So connecting out from an ephemeral port,
TCP_MD5SIG and IP_TTL all work unprivileged; with a wrong or missing key the kernel would drop the SYNs. Then, as
user 0 holding NET_BIND_SERVICE alone (the pod's state), ExaBGP listens on port 179 and answers a router that
connects to it there with its OPEN, while its own connects go nowhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dnslb.adapters.child import Child
from dnslb.adapters.exabgp.config import SINGLE_HOP_TTL
from dnslb_testkit.ports import free_port
from dnslb_testkit.waiting import wait_for
from tests.deploy.kustomize import DEPLOY, build, one

PASSWORD = "md5-test-password"
TCP_MD5SIG = 14  # linux/tcp.h
BGP_MARKER = b"\xff" * 16
BGP_OPEN = 1

CHILD = textwrap.dedent(
    """
    import ipaddress, pathlib, sys, time
    caps = dict(line.split(":\\t") for line in open("/proc/self/status").read().splitlines() if line.startswith("Cap"))
    allowed = int(sys.argv[5])
    held = {name: value for name, value in caps.items() if name != "CapAmb" and int(value, 16) & ~allowed}
    if held:
        sys.exit(f"still holding capabilities: {held}")
    from dnslb.adapters.exabgp.driver import ExaBGPDriver, Neighbor
    port, password, workdir = int(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
    listen = int(sys.argv[4]) or None
    loopback = ipaddress.IPv4Address("127.0.0.1")
    neighbor = Neighbor(peer_address=loopback, peer_asn=64500, local_asn=64512, local_address=loopback,
                        router_id=ipaddress.IPv4Address("192.0.2.11"), peer_port=port, password=password,
                        listen_port=listen)
    driver = ExaBGPDriver([neighbor], workdir)
    driver.start()
    print("ExaBGP started", flush=True)
    time.sleep(120)
    """
)


NET_BIND_SERVICE = 10  # linux/capability.h


def without_capabilities(*keep: str) -> list[str]:
    """A command prefix that runs its command with no capability but `keep` (as user 0, which gets what the bounding
    set allows: the pod's state)."""
    if os.geteuid() != 0:
        return []  # an ordinary user holds none already (the child checks)
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is needed to drop capabilities as root"
    bounding = ",".join(["-all", *(f"+{cap}" for cap in keep)])
    return [setpriv, "--inh-caps=-all", "--ambient-caps=-all", f"--bounding-set={bounding}", "--no-new-privs", "--"]


def md5_key(peer: str, password: str) -> bytes:
    """struct tcp_md5sig: the peer's sockaddr_storage, flags, prefix length, key length, ifindex, key[80]."""
    address = struct.pack("=HH4s", socket.AF_INET, 0, socket.inet_aton(peer)).ljust(128, b"\0")
    key = password.encode()
    return address + struct.pack("=2xH4x80s", len(key), key)


def md5_listener(password: str) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5_key("127.0.0.1", password))
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(30)
    return listener


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dnslb-caps-"))  # short: the relay's Unix socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_manifest_adds_only_net_bind_service() -> None:
    speaker = one(build(DEPLOY), "DaemonSet", "dnslb-speaker")
    (container,) = speaker["spec"]["template"]["spec"]["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}


def test_exabgp_opens_an_md5_session_with_no_capabilities(workdir: Path) -> None:
    listener = md5_listener(PASSWORD)
    port = listener.getsockname()[1]
    speaker = Child.start(
        [*without_capabilities(), sys.executable, "-c", CHILD, str(port), PASSWORD, str(workdir), "0", "0"],
        name="the capability-less speaker",
        log=workdir / "speaker.log",
    )
    try:
        try:
            connection, (address, _) = listener.accept()
        except TimeoutError:
            speaker.kill()
            pytest.fail(
                f"no BGP connection arrived within 30s; the capability-less speaker said:\n{speaker.read_log()}"
            )
        with connection:
            connection.settimeout(10)
            assert address == "127.0.0.1"
            header = connection.recv(19, socket.MSG_WAITALL)
            assert header[:16] == BGP_MARKER and header[18] == BGP_OPEN, header
            # an eBGP peer without multihop sends with TTL 1 (IP_TTL, set unprivileged too)
            assert SINGLE_HOP_TTL == 1
    finally:
        listener.close()
        speaker.stop(30)  # ExaBGP dies with it (PR_SET_PDEATHSIG)


@pytest.mark.root
def test_exabgp_listens_on_179_with_net_bind_service_alone(workdir: Path) -> None:
    nowhere = free_port("127.0.0.1")  # ExaBGP's own connects are refused: only the router's can make a session
    argv = [sys.executable, "-c", CHILD, str(nowhere), PASSWORD, str(workdir), "179", str(1 << NET_BIND_SERVICE)]
    speaker = Child.start(
        [*without_capabilities("net_bind_service"), *argv],
        name="the speaker holding NET_BIND_SERVICE",
        log=workdir / "speaker.log",
    )
    try:
        router = wait_for(lambda: md5_connection(PASSWORD, 179), 30.0, "ExaBGP to accept on 127.0.0.1:179")
        with router:
            router.settimeout(10)
            header = router.recv(19, socket.MSG_WAITALL)
            assert header[:16] == BGP_MARKER and header[18] == BGP_OPEN, (header, speaker.read_log())
    finally:
        speaker.stop(30)


def md5_connection(password: str, port: int) -> socket.socket | None:
    """A router's connection to 127.0.0.1:`port` with the MD5 key; None while nothing accepts there."""
    connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    connection.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5_key("127.0.0.1", password))
    connection.settimeout(2)
    try:
        connection.connect(("127.0.0.1", port))
    except OSError:
        connection.close()
        return None
    return connection
