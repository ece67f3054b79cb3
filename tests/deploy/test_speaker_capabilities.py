"""The speaker needs no Linux capability: deploy/speaker.yaml drops them all and adds none back.

Here the speaker's ExaBGP driver runs in a process that holds no capability at all (permitted, effective and
bounding sets empty, as in the pod), with a TCP MD5 password and an eBGP TTL, and opens a BGP session to a listener
on 127.0.0.1 that holds the same MD5 key: the listener receives ExaBGP's OPEN. So connecting out from an ephemeral
port, TCP_MD5SIG and IP_TTL all work unprivileged; with a wrong or missing key the kernel would drop the SYNs.
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
from tests.deploy.kustomize import DEPLOY, build, one

PASSWORD = "md5-test-password"
TCP_MD5SIG = 14  # linux/tcp.h
BGP_MARKER = b"\xff" * 16
BGP_OPEN = 1

CHILD = textwrap.dedent(
    """
    import ipaddress, pathlib, sys, time
    caps = dict(line.split(":\\t") for line in open("/proc/self/status").read().splitlines() if line.startswith("Cap"))
    held = {name: value for name, value in caps.items() if name != "CapAmb" and int(value, 16)}
    if held:
        sys.exit(f"still holding capabilities: {held}")
    from dnslb.adapters.exabgp.driver import ExaBGPDriver, Neighbor
    port, password, workdir = int(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
    loopback = ipaddress.IPv4Address("127.0.0.1")
    neighbor = Neighbor(peer_address=loopback, peer_asn=64500, local_asn=64512, local_address=loopback,
                        router_id=ipaddress.IPv4Address("192.0.2.11"), peer_port=port, password=password)
    driver = ExaBGPDriver([neighbor], workdir)
    driver.start()
    print("ExaBGP started", flush=True)
    time.sleep(120)
    """
)


def without_capabilities() -> list[str]:
    """A command prefix that runs its command with no capability, the pod's state."""
    if os.geteuid() != 0:
        return []  # an ordinary user holds none already (the child checks)
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is needed to drop capabilities as root"
    return [setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def md5_listener(password: str) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # struct tcp_md5sig: the peer's sockaddr_storage, flags, prefix length, key length, ifindex, key[80]
    peer = struct.pack("=HH4s", socket.AF_INET, 0, socket.inet_aton("127.0.0.1")).ljust(128, b"\0")
    key = password.encode()
    listener.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, peer + struct.pack("=2xH4x80s", len(key), key))
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(30)
    return listener


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dnslb-caps-"))  # short: the relay's Unix socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_manifest_adds_no_capability() -> None:
    speaker = one(build(DEPLOY), "DaemonSet", "dnslb-speaker")
    (container,) = speaker["spec"]["template"]["spec"]["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_exabgp_opens_an_md5_session_with_no_capabilities(workdir: Path) -> None:
    listener = md5_listener(PASSWORD)
    port = listener.getsockname()[1]
    speaker = Child.start(
        [*without_capabilities(), sys.executable, "-c", CHILD, str(port), PASSWORD, str(workdir)],
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
