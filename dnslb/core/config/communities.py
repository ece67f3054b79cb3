"""BGP communities as written in config and annotations: `65000:100`, `large:65000:1:2`, or a well-known name."""

from __future__ import annotations

import re
from dataclasses import dataclass

WELL_KNOWN = ("no-export", "no-advertise", "no-export-subconfed", "nopeer")
_STANDARD = re.compile(r"([0-9]{1,5}):([0-9]{1,5})")
_LARGE = re.compile(r"large:([0-9]{1,10}):([0-9]{1,10}):([0-9]{1,10})")


@dataclass(frozen=True, order=True)
class Community:
    """One community; `large` holds three 32-bit parts, a standard one two 16-bit parts, a well-known one none."""

    parts: tuple[int, ...]
    well_known: str = ""

    @property
    def large(self) -> bool:
        return len(self.parts) == 3

    def __str__(self) -> str:
        if self.well_known:
            return self.well_known
        text = ":".join(str(p) for p in self.parts)
        return f"large:{text}" if self.large else text


def parse_community(text: str) -> Community:
    """Parse one community; raise ValueError naming what is wrong. Nothing but digits, colons and names passes."""
    if text in WELL_KNOWN:
        return Community((), text)
    if match := _STANDARD.fullmatch(text):
        parts = tuple(int(g) for g in match.groups())
        if all(p <= 0xFFFF for p in parts):
            return Community(parts)
        raise ValueError(f"'{text}' has a part above 65535")
    if match := _LARGE.fullmatch(text):
        parts = tuple(int(g) for g in match.groups())
        if all(p <= 0xFFFFFFFF for p in parts):
            return Community(parts)
        raise ValueError(f"'{text}' has a part above 4294967295")
    raise ValueError(
        f"{text!r} is not a community (expected ASN:VALUE, large:ASN:A:B or one of {', '.join(WELL_KNOWN)})"
    )
