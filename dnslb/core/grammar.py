"""Strict ASCII grammars for values read from the API, annotations and providers.

Python's own parsers are generous: `int()` takes `'٣'`, `'+5'` and `'1_000'`, `str.isdigit()` says yes to
superscripts, `ipaddress` accepts IPv6 zone ids (`fe80::1%eth0`, where anything may follow the `%`), `str.strip()`
removes Unicode spaces. Whatever comes from outside goes through these instead: ASCII only, exact shapes, ranges.
"""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_UINT = re.compile(r"[0-9]{1,20}")
_IP = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SPACE = " \t"


def trim(text: str) -> str:
    """`text` without leading and trailing ASCII spaces and tabs (and nothing else)."""
    return text.strip(_SPACE)


def parse_uint(text: object, low: int, high: int) -> int:
    """A decimal number of ASCII digits within [low, high]; ValueError otherwise."""
    if not isinstance(text, str) or not _UINT.fullmatch(text):
        raise ValueError(f"{show(text)} is not a whole number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}..{high}")
    return value


def parse_ip(text: object) -> IPAddress:
    """An IPv4 or IPv6 address in ASCII, without a zone id; ValueError otherwise."""
    if not isinstance(text, str) or not _IP.fullmatch(text):
        raise ValueError(f"{show(text)} is not an IP address")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{show(text)} is not an IP address") from None


def is_dns1123_label(text: object, max_length: int = 63) -> bool:
    return isinstance(text, str) and len(text) <= max_length and _DNS1123_LABEL.fullmatch(text) is not None


def is_dns1123_subdomain(text: object) -> bool:
    return isinstance(text, str) and 0 < len(text) <= 253 and all(is_dns1123_label(p) for p in text.split("."))


def show(value: object) -> str:
    """A value for a message: quoted, non-printable and non-ASCII characters escaped, long ones cut."""
    text = value if isinstance(value, str) else repr(value)
    shown = text.encode("ascii", "backslashreplace").decode("ascii")
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in shown)
    return f"'{shown[:64]}…'" if len(shown) > 64 else f"'{shown}'"
