"""Routes as typed values, and the ExaBGP API lines that announce and withdraw them. Pure.

An `Route` checks every field when it is built, and its API text is rendered from integers and fixed keywords
only, never by formatting a string that came from config, an annotation or a Service. Python's own `str()` of an
address is not trusted either: an IPv6 scope id (`fe80::1%eth0`) may hold any character, a newline included, so
addresses are rebuilt from their integer value. Every rendered line is checked against the grammar it must follow
before it leaves this module.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from dnslb.core.config.communities import WELL_KNOWN, Community

Prefix: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
PeerAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
NextHop: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address | Literal["self"]
Action: TypeAlias = Literal["announce", "withdraw"]

SELF: Literal["self"] = "self"
MAX_U16 = 0xFFFF
MAX_U32 = 0xFFFFFFFF

# RFC 1997 and RFC 3765 values of the well-known names config accepts
_WELL_KNOWN_VALUES = {
    "no-export": (0xFFFF, 0xFF01),
    "no-advertise": (0xFFFF, 0xFF02),
    "no-export-subconfed": (0xFFFF, 0xFF03),
    "nopeer": (0xFFFF, 0xFF04),
}
assert set(_WELL_KNOWN_VALUES) == set(WELL_KNOWN)

_ADDRESS = r"[0-9a-f.:]+"
_LINE = re.compile(
    rf"(neighbor {_ADDRESS} )?(announce|withdraw) route {_ADDRESS}/[0-9]{{1,3}}"
    rf"( next-hop ({_ADDRESS}|self))?"
    r"( community \[[0-9]+:[0-9]+( [0-9]+:[0-9]+)*\])?"
    r"( large-community \[[0-9]+:[0-9]+:[0-9]+( [0-9]+:[0-9]+:[0-9]+)*\])?"
    r"( local-preference [0-9]+)?"
)


def _address_text(address: PeerAddress) -> str:
    """The compressed form of an address rebuilt from its integer, so no scope id or subclass can add to it."""
    if type(address) is ipaddress.IPv4Address:
        return ipaddress.IPv4Address(int(address)).compressed
    return ipaddress.IPv6Address(int(address)).compressed


def _is_u(value: object, maximum: int) -> bool:
    return type(value) is int and 0 <= value <= maximum


def _check_address(address: object, what: str) -> None:
    if type(address) not in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        raise TypeError(f"{what} must be an IPv4Address or IPv6Address, not {type(address).__name__}")
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise ValueError(f"{what} must not carry an IPv6 scope id")


def check_peer_address(address: object, what: str = "address") -> None:
    """Raise unless `address` is a plain unicast IPv4/IPv6 address (no scope id, not unspecified or multicast)."""
    _check_address(address, what)
    assert isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
    if address.is_unspecified or address.is_multicast:
        raise ValueError(f"{what} {_address_text(address)} is not a unicast address")


def _canonical_standard(community: object) -> tuple[int, int]:
    if type(community) is not Community:
        raise TypeError(f"communities must be Community values, not {type(community).__name__}")
    if community.well_known:
        if community.well_known not in _WELL_KNOWN_VALUES or community.parts:
            raise ValueError("unknown well-known community")
        return _WELL_KNOWN_VALUES[community.well_known]
    parts = community.parts
    if type(parts) is not tuple or len(parts) != 2 or not all(_is_u(p, MAX_U16) for p in parts):
        raise ValueError("a standard community is two integers of 0-65535")
    return parts[0], parts[1]


def _canonical_large(community: object) -> tuple[int, int, int]:
    if type(community) is not Community:
        raise TypeError(f"large communities must be Community values, not {type(community).__name__}")
    parts = community.parts
    if community.well_known or type(parts) is not tuple or len(parts) != 3:
        raise ValueError("a large community is three integers of 0-4294967295")
    if not all(_is_u(p, MAX_U32) for p in parts):
        raise ValueError("a large community is three integers of 0-4294967295")
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True)
class Route:
    """One unicast route: a prefix, its next hop and the attributes sent with it.

    `communities` holds standard and well-known communities, `large_communities` large ones; both are stored sorted,
    without duplicates, and well-known names as their numeric values, so equal routes compare equal. Use `create` to
    pass a mix of both kinds. `local_preference` only reaches iBGP peers (eBGP peers ignore LOCAL_PREF).
    """

    prefix: Prefix
    next_hop: NextHop = SELF
    communities: tuple[Community, ...] = ()
    large_communities: tuple[Community, ...] = ()
    local_preference: int | None = None

    def __post_init__(self) -> None:
        prefix = self.prefix
        if type(prefix) not in (ipaddress.IPv4Network, ipaddress.IPv6Network):
            raise TypeError(f"prefix must be an IPv4Network or IPv6Network, not {type(prefix).__name__}")
        _check_address(prefix.network_address, "prefix")
        if prefix.prefixlen == 0:
            raise ValueError("refusing to announce a default route")
        if prefix.is_multicast:
            raise ValueError(f"{_address_text(prefix.network_address)} is a multicast prefix")
        if not (type(self.next_hop) is str and self.next_hop == SELF):
            check_peer_address(self.next_hop, "next hop")
            assert not isinstance(self.next_hop, str)
            if self.next_hop.version != prefix.version:
                raise ValueError(f"next hop is IPv{self.next_hop.version} but the prefix is IPv{prefix.version}")
        if self.local_preference is not None and not _is_u(self.local_preference, MAX_U32):
            raise ValueError("local preference must be an integer of 0-4294967295")
        if type(self.communities) is not tuple or type(self.large_communities) is not tuple:
            raise TypeError("communities must be given as tuples")
        standard = sorted({_canonical_standard(c) for c in self.communities})
        large = sorted({_canonical_large(c) for c in self.large_communities})
        object.__setattr__(self, "communities", tuple(Community(p) for p in standard))
        object.__setattr__(self, "large_communities", tuple(Community(p) for p in large))

    @classmethod
    def create(
        cls,
        prefix: Prefix,
        *,
        next_hop: NextHop = SELF,
        communities: Iterable[Community] = (),
        local_preference: int | None = None,
    ) -> Route:
        """An announcement with `communities` of any kind (standard, well-known, large) sorted into their fields."""
        given = tuple(communities)
        large = tuple(c for c in given if type(c) is Community and c.large and not c.well_known)
        standard = tuple(c for c in given if c not in large)
        return cls(prefix, next_hop, standard, large, local_preference)

    @property
    def version(self) -> int:
        return self.prefix.version

    def sort_key(self) -> tuple[int, int, int]:
        return (self.prefix.version, int(self.prefix.network_address), self.prefix.prefixlen)

    def prefix_text(self) -> str:
        return f"{_address_text(self.prefix.network_address)}/{int(self.prefix.prefixlen)}"

    def announce_line(self, neighbor: PeerAddress | None = None) -> str:
        """The ExaBGP API command announcing this route (to one neighbor, or to every neighbor of the process)."""
        next_hop = SELF if isinstance(self.next_hop, str) else _address_text(self.next_hop)
        words = [_selector(neighbor), "announce route", self.prefix_text(), "next-hop", next_hop]
        if self.communities:
            words.append("community [" + " ".join(f"{a}:{b}" for a, b in (c.parts for c in self.communities)) + "]")
        if self.large_communities:
            values = " ".join(f"{a}:{b}:{c}" for a, b, c in (x.parts for x in self.large_communities))
            words.append(f"large-community [{values}]")
        if self.local_preference is not None:
            words.append(f"local-preference {int(self.local_preference)}")
        return _checked(" ".join(w for w in words if w))

    def withdraw_line(self, neighbor: PeerAddress | None = None) -> str:
        """The ExaBGP API command withdrawing this route's prefix."""
        return _checked(" ".join(w for w in (_selector(neighbor), "withdraw route", self.prefix_text()) if w))


def _selector(neighbor: PeerAddress | None) -> str:
    if neighbor is None:
        return ""
    check_peer_address(neighbor, "neighbor")
    return f"neighbor {_address_text(neighbor)}"


def _checked(line: str) -> str:
    if not _LINE.fullmatch(line):
        raise AssertionError(f"rendered an API line outside its grammar: {line!r}")
    return line


@dataclass(frozen=True)
class Update:
    """One API command: announce or withdraw `announcement` to `neighbor` (None: every neighbor of the process)."""

    action: Action
    announcement: Route
    neighbor: PeerAddress | None = None

    def line(self) -> str:
        if self.action == "announce":
            return self.announcement.announce_line(self.neighbor)
        return self.announcement.withdraw_line(self.neighbor)


def by_prefix(routes: Iterable[Route]) -> dict[Prefix, Route]:
    """Index routes by prefix; raise ValueError when two differ for one prefix (a peer keeps one route per prefix)."""
    index: dict[Prefix, Route] = {}
    for route in routes:
        if type(route) is not Route:
            raise TypeError(f"routes must be Route values, not {type(route).__name__}")
        have = index.setdefault(route.prefix, route)
        if have != route:
            raise ValueError(f"two different routes for {route.prefix_text()}: {have} and {route}")
    return index


def updates(
    desired: Mapping[PeerAddress, Iterable[Route]],
    announced: Mapping[PeerAddress, Iterable[Route]],
) -> list[Update]:
    """The commands that turn `announced` into `desired`, per neighbor: every withdrawal first, then announcements.

    A route whose attributes changed is announced again without a withdrawal: the new announcement replaces the old
    one at the peer, with no moment where the prefix is gone.
    """
    withdraws: list[Update] = []
    announces: list[Update] = []
    for neighbor in sorted(set(desired) | set(announced), key=lambda a: (a.version, int(a))):
        want = by_prefix(desired.get(neighbor, ()))
        have = by_prefix(announced.get(neighbor, ()))
        gone = [route for prefix, route in have.items() if prefix not in want]
        new = [route for prefix, route in want.items() if have.get(prefix) != route]
        withdraws += [Update("withdraw", r, neighbor) for r in sorted(gone, key=Route.sort_key)]
        announces += [Update("announce", r, neighbor) for r in sorted(new, key=Route.sort_key)]
    return withdraws + announces
