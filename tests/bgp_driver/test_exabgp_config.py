"""ExaBGP's config and environment files, rendered from typed neighbors, and accepted by ExaBGP itself."""

from __future__ import annotations

import base64
import subprocess
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import pytest

from dnslb.adapters.exabgp.config import Neighbor, environment, render_config, render_environment
from dnslb.adapters.exabgp.driver import default_exabgp

RELAY = ["/usr/bin/python3", "-m", "dnslb.adapters.exabgp.relay", "/run/dnslb/relay.sock"]


def neighbor(**fields: Any) -> Neighbor:
    base: dict[str, Any] = {
        "peer_address": IPv4Address("192.0.2.1"),
        "peer_asn": 65000,
        "local_asn": 65001,
        "local_address": IPv4Address("192.0.2.11"),
        "router_id": IPv4Address("192.0.2.11"),
    }
    return Neighbor(**{**base, **fields})


def test_a_neighbor_stanza_says_everything_the_peer_needs() -> None:
    stanza = neighbor(peer_port=1179, hold_time=3, password='p"a ss;#{', multihop=True, listen_port=179).stanza()
    encoded = base64.b64encode(b'p"a ss;#{').decode()
    assert stanza.splitlines() == [
        "neighbor 192.0.2.1 {",
        "    router-id 192.0.2.11;",
        "    local-address 192.0.2.11;",
        "    local-as 65001;",
        "    peer-as 65000;",
        "    hold-time 3;",
        "    connect 1179;",
        "    listen 179;",
        "    outgoing-ttl 255;",
        f"    md5-password {encoded};",
        "    md5-base64 true;",
        "    manual-eor true;",
        "    family {",
        "        ipv4 unicast;",
        "        ipv6 unicast;",
        "    }",
        "    api {",
        "        processes [ dnslb-relay ];",
        "        neighbor-changes;",
        "    }",
        "}",
    ]


def test_graceful_restart_offers_the_capability_and_every_session_leaves_end_of_rib_to_the_driver() -> None:
    lines = neighbor(graceful_restart=120).stanza().splitlines()
    at = lines.index("    manual-eor true;")
    assert lines[at + 1 : at + 4] == ["    capability {", "        graceful-restart 120;", "    }"]
    assert "graceful-restart" not in neighbor().stanza() and "    manual-eor true;" in neighbor().stanza()


def test_a_neighbor_without_a_listen_port_only_connects() -> None:
    assert "listen" not in neighbor().stanza()


def test_ttl_is_one_for_single_hop_ebgp_and_left_alone_for_ibgp() -> None:
    assert "outgoing-ttl 1;" in neighbor().stanza()
    assert "outgoing-ttl" not in neighbor(local_asn=65000).stanza()


@pytest.mark.parametrize(
    "fields",
    [
        {"peer_address": "192.0.2.1"},
        {"local_address": IPv6Address("::1")},
        {"router_id": IPv4Address("0.0.0.0")},
        {"peer_asn": 0},
        {"local_asn": 2**32},
        {"peer_port": 0},
        {"hold_time": 2},
        {"hold_time": True},
        {"password": ""},
        {"password": "x" * 81},
        {"multihop": 1},
        {"listen_port": 0},
        {"graceful_restart": 0},
        {"graceful_restart": 4096},
        {"listen_port": 65536},
        {"listen_port": "179"},
    ],
)
def test_invalid_neighbors_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        neighbor(**fields)


def test_the_relay_runs_as_the_one_api_process_never_respawned() -> None:
    text = render_config([neighbor()], RELAY)
    assert text.startswith(
        "process dnslb-relay {\n"
        "    run /usr/bin/python3 -m dnslb.adapters.exabgp.relay /run/dnslb/relay.sock;\n"
        "    encoder json;\n"
        "    respawn false;\n"
        "}\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["python3", "-m", "dnslb.adapters.exabgp.relay"],
        ["/usr/bin/python3", "-m", "dnslb.adapters.exabgp.relay", "/tmp/a dir/relay.sock"],
        ["/usr/bin/python3", "-m", "dnslb.adapters.exabgp.relay", "/tmp/x;\n}\nneighbor 10.0.0.1 {"],
    ],
)
def test_relay_command_lines_exabgp_would_misread_are_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        render_config([neighbor()], argv)


def test_two_neighbors_with_one_peer_address_are_refused() -> None:
    with pytest.raises(ValueError, match="share a peer address"):
        render_config([neighbor(), neighbor(peer_port=1179)], RELAY)


def test_environment_file_turns_acks_on_and_respawn_and_the_cli_off() -> None:
    text = render_environment(environment("root"))
    assert "[exabgp.api]\nack = true\ncli = false\nencoder = json\nrespawn = false\n" in text
    assert "bind = ''" in text
    with pytest.raises(ValueError):
        render_environment(environment("root\n[exabgp.api]"))


def test_exabgp_accepts_the_rendered_config(tmp_path: Path) -> None:
    conf = tmp_path / "exabgp.conf"
    relay = ["/bin/true"]  # ExaBGP checks that the program exists and is executable
    neighbors = [
        neighbor(password="s3cret", multihop=True, listen_port=1179),
        neighbor(
            peer_address=IPv6Address("2001:db8::1"),
            local_address=IPv6Address("2001:db8::11"),
            local_asn=65000,
            hold_time=3,
            graceful_restart=120,
        ),
    ]
    conf.write_text(render_config(neighbors, relay))
    env = tmp_path / "exabgp.env"
    env.write_text(render_environment(environment("root")))
    result = subprocess.run(
        [str(default_exabgp()), "validate", "-n", str(conf)],
        env={"EXABGP_ENVFILE": str(env), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
