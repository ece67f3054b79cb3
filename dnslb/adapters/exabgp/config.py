"""ExaBGP 5's configuration and environment files, written from typed neighbor values. Pure.

Nothing from config reaches these files as text: addresses are rebuilt from integers, numbers are integers, the MD5
password is passed base64-encoded (`md5-base64 true`), and the relay's command line may hold only characters that
ExaBGP's tokeniser reads as one word each.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dnslb.core.bgp.routes import MAX_U32, PeerAddress, check_peer_address

PROCESS_NAME = "dnslb-relay"
MIN_HOLD_TIME = 3
MAX_HOLD_TIME = 65535
MAX_RESTART_TIME = 4095  # the capability's 12-bit field
MAX_MD5_PASSWORD_BYTES = 80  # the kernel's TCP_MD5SIG_MAXKEYLEN
# TTL for sessions that must be one hop (eBGP without multihop) and for those that may cross many
SINGLE_HOP_TTL = 1
MULTIHOP_TTL = 255

_WORD = re.compile(r"[A-Za-z0-9_./+=@%,-]+")


@dataclass(frozen=True)
class Neighbor:
    """One BGP session: ExaBGP connects from `local_address` to `peer_address`:`peer_port`, and with `listen_port` also
    accepts the router's connection on `local_address`:`listen_port`. ExaBGP's own reconnects back off up to 60 s (not
    configurable), so a session lost to a silent outage comes back only as fast as a router that connects itself.

    `graceful_restart` is the restart time (seconds) ExaBGP offers (RFC 4724): a router that supports it keeps this
    node's paths, as stale, when the session closes without a NOTIFICATION (ExaBGP closes that way when stopped) until
    the new session's End-of-RIB, at most that long. ExaBGP sends End-of-RIB only when told (`manual-eor`, on every
    session): the driver tells it once the session carries every desired route, so a restarted speaker changes no
    path; and ExaBGP's own End-of-RIB at Established would delay its first UPDATE pass, which sends no withdrawals,
    until the driver's first changes had joined it.
    `password` is the TCP MD5 (RFC 2385) key, as read from the Secret. `multihop` allows an eBGP peer that is more than
    one hop away (outgoing TTL 255); without it an eBGP session is sent with TTL 1. iBGP sessions keep the system TTL.
    """

    peer_address: PeerAddress
    peer_asn: int
    local_asn: int
    local_address: PeerAddress
    router_id: ipaddress.IPv4Address
    peer_port: int = 179
    hold_time: int = 9
    password: str | None = None
    multihop: bool = False
    listen_port: int | None = None
    graceful_restart: int | None = None

    def __post_init__(self) -> None:
        check_peer_address(self.peer_address, "peer address")
        check_peer_address(self.local_address, "local address")
        if self.peer_address.version != self.local_address.version:
            raise ValueError("local address and peer address must be of one IP family")
        if type(self.router_id) is not ipaddress.IPv4Address or self.router_id.is_unspecified:
            raise ValueError("router id must be a non-zero IPv4Address")
        for name in ("peer_asn", "local_asn"):
            value = getattr(self, name)
            if type(value) is not int or not 1 <= value <= MAX_U32:
                raise ValueError(f"{name} must be an integer of 1-4294967295")
        if type(self.peer_port) is not int or not 1 <= self.peer_port <= 65535:
            raise ValueError("peer port must be an integer of 1-65535")
        if self.listen_port is not None and (type(self.listen_port) is not int or not 1 <= self.listen_port <= 65535):
            raise ValueError("listen port must be an integer of 1-65535")
        if self.graceful_restart is not None and (
            type(self.graceful_restart) is not int or not 1 <= self.graceful_restart <= MAX_RESTART_TIME
        ):
            raise ValueError(f"graceful restart time must be an integer of 1-{MAX_RESTART_TIME} seconds")
        if type(self.hold_time) is not int or not MIN_HOLD_TIME <= self.hold_time <= MAX_HOLD_TIME:
            raise ValueError(f"hold time must be an integer of {MIN_HOLD_TIME}-{MAX_HOLD_TIME} seconds")
        if self.password is not None:
            if type(self.password) is not str or not self.password:
                raise ValueError("password must be a non-empty string")
            if len(self.password.encode()) > MAX_MD5_PASSWORD_BYTES:
                raise ValueError(f"password is longer than the {MAX_MD5_PASSWORD_BYTES} bytes TCP MD5 allows")
        if type(self.multihop) is not bool:
            raise TypeError("multihop must be a bool")

    @property
    def key(self) -> str:
        """How the driver names this session: its peer address."""
        return self.peer_address.compressed

    @property
    def ebgp(self) -> bool:
        return self.peer_asn != self.local_asn

    def stanza(self, process: str = PROCESS_NAME) -> str:
        """This neighbor's block of exabgp.conf, bound to the relay `process` with neighbor state changes on."""
        lines = [
            f"neighbor {_ip(self.peer_address)} {{",
            f"    router-id {_ip(self.router_id)};",
            f"    local-address {_ip(self.local_address)};",
            f"    local-as {int(self.local_asn)};",
            f"    peer-as {int(self.peer_asn)};",
            f"    hold-time {int(self.hold_time)};",
            f"    connect {int(self.peer_port)};",
        ]
        if self.listen_port is not None:
            lines.append(f"    listen {int(self.listen_port)};")
        if self.ebgp:
            lines.append(f"    outgoing-ttl {MULTIHOP_TTL if self.multihop else SINGLE_HOP_TTL};")
        if self.password is not None:
            # base64 keeps quotes, spaces, ';' and '#' in a password away from the tokeniser
            lines.append(f"    md5-password {base64.b64encode(self.password.encode()).decode()};")
            lines.append("    md5-base64 true;")
        lines.append("    manual-eor true;")
        if self.graceful_restart is not None:
            lines += [
                "    capability {",
                f"        graceful-restart {int(self.graceful_restart)};",
                "    }",
            ]
        lines += [
            "    family {",
            "        ipv4 unicast;",
            "        ipv6 unicast;",
            "    }",
            "    api {",
            f"        processes [ {_word(process)} ];",
            "        neighbor-changes;",
            "    }",
            "}",
        ]
        return "\n".join(lines)


def _ip(address: PeerAddress) -> str:
    if type(address) is ipaddress.IPv4Address:
        return ipaddress.IPv4Address(int(address)).compressed
    return ipaddress.IPv6Address(int(address)).compressed


def _word(text: str) -> str:
    if not _WORD.fullmatch(text):
        raise ValueError(f"{text!r} cannot be written into exabgp.conf as one word")
    return text


def render_config(neighbors: Sequence[Neighbor], relay_argv: Sequence[str], process: str = PROCESS_NAME) -> str:
    """exabgp.conf: the relay as the one API process (JSON messages, never respawned) and every neighbor bound to it.

    Respawn is off because a respawned API process comes back to an ExaBGP that still announces everything the dead
    one asked for; the driver tears ExaBGP down instead.
    """
    keys = [n.key for n in neighbors]
    if len(set(keys)) != len(keys):
        raise ValueError("two neighbors share a peer address")
    if not relay_argv or not relay_argv[0].startswith("/"):
        raise ValueError("the relay command must start with an absolute path")
    run = " ".join(_word(arg) for arg in relay_argv)
    process_block = "\n".join(
        [
            f"process {_word(process)} {{",
            f"    run {run};",
            "    encoder json;",
            "    respawn false;",
            "}",
        ]
    )
    return "\n\n".join([process_block, *(n.stanza(process) for n in neighbors)]) + "\n"


def environment(user: str, log_level: str = "INFO") -> dict[str, dict[str, str]]:
    """ExaBGP's settings, by section: acks on, no CLI pipe, no respawn, log to stdout; no listening socket but those
    of neighbors with a `listen` port (`tcp.bind` empty)."""
    return {
        "api": {"ack": "true", "cli": "false", "encoder": "json", "respawn": "false", "terminate": "false"},
        "bgp": {"passive": "false"},
        "daemon": {"daemonize": "false", "drop": "false", "pid": "", "user": _word(user)},
        "log": {"destination": "stdout", "level": _word(log_level), "statistics": "false", "short": "true"},
        "tcp": {"attempts": "0", "bind": ""},
    }


def render_environment(settings: Mapping[str, Mapping[str, str]]) -> str:
    """The INI text of an ExaBGP environment file (`EXABGP_ENVFILE`)."""
    blocks = []
    for section, options in settings.items():
        lines = [f"[exabgp.{_word(section)}]"]
        lines += [f"{_word(key)} = {_word(value) if value else repr('')}" for key, value in options.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
