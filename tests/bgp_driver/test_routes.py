"""Typed routes: validation at construction, the exact ExaBGP API text, the difference plan, and that no string —
whatever its source — can reach the API text as anything but the one command it was built for."""

from __future__ import annotations

import ipaddress
from collections import Counter
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from dnslb.core.bgp.routes import Route, Update, by_prefix, updates
from dnslb.core.config.communities import WELL_KNOWN, Community, parse_community

VIP = ip_network("192.0.2.10/32")
VIP6 = ip_network("2001:db8::10/128")
PEER = IPv4Address("127.0.0.2")
PEER6 = IPv6Address("::1")


def community(text: str) -> Community:
    return parse_community(text)


# ---- rendering ------------------------------------------------------------------------------------------------------


def test_announce_line_carries_every_attribute() -> None:
    route = Route.create(
        VIP,
        communities=[community("65000:100"), community("no-export"), community("large:65000:1:2")],
        local_preference=250,
    )
    assert route.announce_line() == (
        "announce route 192.0.2.10/32 next-hop self community [65000:100 65535:65281] "
        "large-community [65000:1:2] local-preference 250"
    )
    assert route.withdraw_line() == "withdraw route 192.0.2.10/32"


def test_lines_for_one_neighbor_and_for_ipv6() -> None:
    route = Route(VIP6, next_hop=IPv6Address("2001:db8::1"))
    assert route.announce_line(PEER6) == "neighbor ::1 announce route 2001:db8::10/128 next-hop 2001:db8::1"
    assert route.withdraw_line(PEER) == "neighbor 127.0.0.2 withdraw route 2001:db8::10/128"


def test_attributes_are_canonical_so_equal_routes_compare_equal() -> None:
    a = Route.create(VIP, communities=[community("65000:2"), community("no-export"), community("65000:2")])
    b = Route.create(VIP, communities=[community("65535:65281"), community("65000:2")])
    assert a == b
    assert a.communities == (Community((65000, 2)), Community((65535, 65281)))
    assert hash(a) == hash(b)


def test_create_sorts_large_communities_into_their_field() -> None:
    route = Route.create(VIP, communities=[community("large:1:2:3"), community("1:2")])
    assert route.communities == (Community((1, 2)),)
    assert route.large_communities == (Community((1, 2, 3)),)


# ---- validation -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"prefix": "192.0.2.10/32"}, TypeError),
        ({"prefix": ip_address("192.0.2.10")}, TypeError),
        ({"prefix": ip_network("0.0.0.0/0")}, ValueError),
        ({"prefix": ip_network("::/0")}, ValueError),
        ({"prefix": ip_network("224.0.0.0/24")}, ValueError),
        ({"prefix": ipaddress.IPv6Network("fe80::%eth0/64")}, ValueError),
        ({"next_hop": IPv6Address("::1")}, ValueError),  # IPv4 prefix, IPv6 next hop
        ({"next_hop": "127.0.0.1"}, TypeError),
        ({"next_hop": "self\n"}, TypeError),
        ({"next_hop": IPv4Address("0.0.0.0")}, ValueError),
        ({"next_hop": IPv4Address("224.0.0.1")}, ValueError),
        ({"local_preference": -1}, ValueError),
        ({"local_preference": 2**32}, ValueError),
        ({"local_preference": True}, ValueError),
        ({"local_preference": "100"}, ValueError),
        ({"communities": [community("1:2")]}, TypeError),  # a list, not a tuple
        ({"communities": ("65000:1",)}, TypeError),
        ({"communities": (Community((65536, 1)),)}, ValueError),
        ({"communities": (Community((1, 2, 3)),)}, ValueError),  # large, in the standard field
        ({"communities": (Community((), "no-export\nannounce route 0.0.0.0/0 next-hop self"),)}, ValueError),
        ({"communities": (Community((1, 2), "no-export"),)}, ValueError),
        ({"communities": (Community(("1", 2)),)}, ValueError),  # type: ignore[arg-type]
        ({"large_communities": (Community((1, 2)),)}, ValueError),
        ({"large_communities": (Community((1, 2, 2**32)),)}, ValueError),
    ],
)
def test_invalid_fields_are_refused_at_construction(fields: dict[str, Any], error: type[Exception]) -> None:
    arguments: dict[str, Any] = {"prefix": VIP, **fields}
    with pytest.raises(error):
        Route(**arguments)


def test_an_ipv6_next_hop_with_a_scope_id_is_refused() -> None:
    # str() of such an address carries the scope id verbatim, newlines included
    sneaky = IPv6Address("fe80::1%x\nannounce route 0.0.0.0 next-hop self")
    assert "\n" in str(sneaky)
    with pytest.raises(ValueError, match="scope id"):
        Route(VIP6, next_hop=sneaky)
    with pytest.raises(ValueError, match="scope id"):
        Route(VIP).announce_line(sneaky)


def test_the_injection_from_the_brief_never_becomes_a_community() -> None:
    with pytest.raises(ValueError):
        parse_community("65000:1\nannounce route 0.0.0.0/0 next-hop self")


# ---- the plan -------------------------------------------------------------------------------------------------------


def test_plan_sends_only_the_difference_withdrawals_first() -> None:
    a = Route(ip_network("192.0.2.1/32"))
    b = Route(ip_network("192.0.2.2/32"))
    b_changed = Route(ip_network("192.0.2.2/32"), local_preference=300)
    c = Route(ip_network("192.0.2.3/32"))
    assert updates({PEER: [a, b]}, {PEER: [a, b]}) == []
    assert updates({PEER: [a, b_changed]}, {PEER: [a, b, c]}) == [
        Update("withdraw", c, PEER),
        Update("announce", b_changed, PEER),  # replaces b in place: no withdrawal, no gap
    ]
    assert updates({}, {PEER: [a]}) == [Update("withdraw", a, PEER)]


def test_plan_is_per_neighbor() -> None:
    a = Route(ip_network("192.0.2.1/32"))
    changes = updates({PEER: [a], PEER6: [a]}, {PEER: [a]})
    assert changes == [Update("announce", a, PEER6)]
    assert changes[0].line() == "neighbor ::1 announce route 192.0.2.1/32 next-hop self"


def test_two_routes_for_one_prefix_are_refused() -> None:
    with pytest.raises(ValueError, match="two different routes"):
        by_prefix([Route(VIP), Route(VIP, local_preference=1)])
    with pytest.raises(TypeError):
        by_prefix(["192.0.2.10/32"])  # type: ignore[list-item]


# ---- nothing smuggled -----------------------------------------------------------------------------------------------

INJECTION = "65000:1\nannounce route 0.0.0.0/0 next-hop self"


def _assert_one_clean_command(route: Route) -> None:
    for line in (route.announce_line(), route.withdraw_line(), route.announce_line(PEER6)):
        assert line.isascii() and line.isprintable()
        assert "\n" not in line and "\r" not in line
        assert line.count("route") == 1 and "0.0.0.0/0" not in line


# Strings as config would hold them: valid communities and prefixes, built from their parts ...
_U16, _U32 = st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1)
COMMUNITY_TEXTS = st.one_of(
    st.builds("{}:{}".format, _U16, _U16),
    st.builds("large:{}:{}:{}".format, _U32, _U32, _U32),
    st.sampled_from(WELL_KNOWN),
)
PREFIX_TEXTS = (
    st.one_of(
        st.tuples(st.ip_addresses(v=4), st.integers(1, 32)),
        st.tuples(st.ip_addresses(v=6), st.integers(1, 128)),
    )
    .map(lambda parts: str(ip_network(parts, strict=False)))
    .filter(lambda text: not ip_network(text).is_multicast)
)
# ... and hostile ones: anything at all, and valid strings with a second command or a stray character attached
_SMUGGLED = st.sampled_from(["\nannounce route 0.0.0.0/0 next-hop self", "\r", "\x00", " ", "]", "%eth0"])
HOSTILE_TEXTS = st.one_of(
    st.text(),
    st.builds(str.__add__, COMMUNITY_TEXTS, _SMUGGLED),
    st.builds(str.__add__, PREFIX_TEXTS, _SMUGGLED),
)
# Half the cases are config that parses; the other half mixes hostile strings in.
CASES = st.one_of(
    st.tuples(st.lists(COMMUNITY_TEXTS, max_size=4), PREFIX_TEXTS),
    st.tuples(st.lists(st.one_of(COMMUNITY_TEXTS, HOSTILE_TEXTS), max_size=4), st.one_of(PREFIX_TEXTS, HOSTILE_TEXTS)),
)
# RFC 1997 and RFC 3765
WELL_KNOWN_VALUES = {"no-export": "65535:65281", "no-advertise": "65535:65282", "no-export-subconfed": "65535:65283",
                     "nopeer": "65535:65284"}  # fmt: skip


def expected_prefix(prefix: str) -> str:
    network = ip_network(prefix)
    return f"{network.network_address.compressed}/{network.prefixlen}"


def expected_announcement(prefix: str, texts: list[str]) -> str:
    """What the announce command must say for these config strings, worked out from the strings themselves."""
    standard = {WELL_KNOWN_VALUES.get(t, t) for t in texts if not t.startswith("large:")}
    large = {t.removeprefix("large:") for t in texts if t.startswith("large:")}
    words = [f"announce route {expected_prefix(prefix)} next-hop self"]
    if standard:
        words.append(f"community [{' '.join(sorted(standard, key=_numbers))}]")
    if large:
        words.append(f"large-community [{' '.join(sorted(large, key=_numbers))}]")
    return " ".join(words)


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(":"))


def parse_and_render(texts: list[str], prefix: str) -> str:
    """ "refused" when a string does not parse; else "rendered", once the commands were checked."""
    try:
        communities = [parse_community(t) for t in texts]
        route = Route.create(ip_network(prefix), communities=communities)
    except (ValueError, TypeError):
        return "refused"
    _assert_one_clean_command(route)
    announcement = expected_announcement(prefix, texts)
    assert route.announce_line() == announcement
    assert route.announce_line(PEER6) == f"neighbor ::1 {announcement}"
    assert route.withdraw_line() == f"withdraw route {expected_prefix(prefix)}"
    return "rendered"


@given(case=CASES)
@example(case=([INJECTION], "192.0.2.1/32\nannounce route 0.0.0.0/0 next-hop self"))
@example(case=(["large:1:2:3\rannounce route 0.0.0.0/0 next-hop self"], "fe80::%a\nb/64"))
@example(case=(["no-export", "65000:1", "large:1:2:3", "65000:1"], "2001:db8::/32"))
def test_strings_from_config_either_fail_or_yield_one_clean_command(case: tuple[list[str], str]) -> None:
    event(parse_and_render(*case))


def test_the_generated_strings_reach_both_outcomes() -> None:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=200, database=None, derandomize=True)
    @given(case=CASES)
    def run(case: tuple[list[str], str]) -> None:
        outcomes[parse_and_render(*case)] += 1

    run()
    assert outcomes["rendered"] >= 50 and outcomes["refused"] >= 50, outcomes


@given(
    parts=st.lists(st.one_of(st.integers(), st.text(), st.booleans(), st.none()), max_size=4),
    well_known=st.text(),
    large=st.booleans(),
)
@example(parts=[], well_known="no-export\nannounce route 0.0.0.0/0 next-hop self", large=False)
@example(parts=[65000, 1], well_known="", large=False)
def test_hand_built_communities_either_fail_or_yield_one_clean_command(
    parts: list[Any], well_known: str, large: bool
) -> None:
    forged = Community(tuple(parts), well_known)
    try:
        standard, big = ((), (forged,)) if large else ((forged,), ())
        route = Route(VIP, communities=standard, large_communities=big)
    except (ValueError, TypeError):
        return
    _assert_one_clean_command(route)


@given(scope=st.text(min_size=1).filter(lambda s: "%" not in s and "/" not in s))
def test_scoped_ipv6_prefixes_never_pass(scope: str) -> None:
    try:
        network = ipaddress.IPv6Network(f"2001:db8::%{scope}/64")
    except ValueError:
        return
    with pytest.raises(ValueError, match="scope id"):
        Route(network)
