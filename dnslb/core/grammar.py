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


# Go's time.ParseDuration units, in nanoseconds; ASCII only (Go also takes `µs` and `μs` for microseconds).
_DURATION_UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_MAX_DURATION_NS = 2**63 - 1  # Go's time.Duration: an int64 of nanoseconds, about 2562047 h


def parse_go_duration(text: object) -> float:
    """Seconds of a Go duration as `time.ParseDuration` reads it (and so Kubernetes' metav1.Duration, MetalLB and
    external-dns): one or more decimal numbers, each with a unit (ns, us, ms, s, m, h), like `90s`, `1m30s`, `1.5h`,
    `300ms`; `0` alone needs no unit. Stricter than Go on purpose: ASCII only (no `µs`), and no sign (a negative
    duration means nothing where dnslb reads one). ValueError, one line, otherwise."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"{show(text)} is not a duration (like 90s, 1m30s or 1.5h)")
    if not text.isascii():
        hint = ": write us for microseconds" if "µs" in text or "μs" in text else " (like 90s, 1m30s or 1.5h)"
        raise ValueError(f"{show(text)} is not a duration{hint}")
    if text[0] in "+-":
        why = "a duration here cannot be negative" if text[0] == "-" else "write it without a sign"
        raise ValueError(f"{show(text)} is not a duration: {why}")
    if text == "0":
        return 0.0
    total, position = 0, 0
    while position < len(text):
        part = _DURATION_PART.match(text, position)
        assert part is not None  # every group may be empty
        whole, fraction, unit = part.group(1), part.group(2), part.group(3)
        if not whole and not fraction:
            raise ValueError(f"{show(text)} is not a duration (like 90s, 1m30s or 1.5h)")
        if not unit:
            raise ValueError(f"{show(text)} is not a duration: a number without a unit (ns, us, ms, s, m, h)")
        if unit not in _DURATION_UNITS:
            raise ValueError(f"{show(text)} is not a duration: unknown unit {show(unit)} (ns, us, ms, s, m, h)")
        scale = _DURATION_UNITS[unit]
        whole = whole.lstrip("0")
        if len(whole) > 19:  # past int64 nanoseconds whatever the unit
            raise ValueError(f"{show(text)} is out of range (at most about 2562047h)")
        digits = (fraction or "")[:20]  # as Go, digits past a nanosecond's precision do not count
        total += int(whole or "0") * scale + (int(digits or "0") * scale) // 10 ** len(digits)
        if total > _MAX_DURATION_NS:
            raise ValueError(f"{show(text)} is out of range (at most about 2562047h)")
        position = part.end()
    return total / 1e9
