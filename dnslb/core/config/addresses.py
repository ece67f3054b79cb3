"""Address entries of an AddressPool: CIDRs and `first-last` ranges, IPv4 or IPv6."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from dnslb.core.grammar import IPAddress, parse_ip, trim

_CIDR = re.compile(r"[0-9A-Fa-f:.]{2,45}/[0-9]{1,3}")


@dataclass(frozen=True, order=True)
class AddressRange:
    """An inclusive range of addresses of one family, as integers so that arithmetic is cheap."""

    version: int
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return ip.version == self.version and self.first <= int(ip) <= self.last

    def overlaps(self, other: AddressRange) -> bool:
        return self.version == other.version and self.first <= other.last and other.first <= self.last

    def __str__(self) -> str:
        first, last = address(self.version, self.first), address(self.version, self.last)
        return f"{first}-{last}"


def address(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def parse_address_range(text: str) -> AddressRange:
    """Parse `10.0.0.0/24`, `10.0.0.1-10.0.0.9` or `fd00::/64`; raise ValueError with a message for an operator."""
    entry = trim(text)
    if "-" in entry:
        first_text, _, last_text = entry.partition("-")
        try:
            first = parse_ip(trim(first_text))
            last = parse_ip(trim(last_text))
        except ValueError:
            raise ValueError(f"'{text}' is not a valid address range (expected FIRST-LAST)") from None
        if first.version != last.version:
            raise ValueError(f"'{text}' mixes IPv4 and IPv6")
        if int(first) > int(last):
            raise ValueError(f"'{text}' is reversed")
        return AddressRange(first.version, int(first), int(last))
    if "/" not in entry:
        raise ValueError(f"'{text}' is neither a CIDR (10.0.0.0/24) nor a range (10.0.0.1-10.0.0.9)")
    if not _CIDR.fullmatch(entry):
        raise ValueError(f"'{text}' is not a valid CIDR")
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            raise ValueError(f"'{text}' has host bits set") from None
        raise ValueError(f"'{text}' is not a valid CIDR") from None
    return AddressRange(network.version, int(network.network_address), int(network.broadcast_address))
