"""dnslb's canonical record values and names ↔ PowerDNS's record content and FQDNs.

PowerDNS's API speaks zone-file presentation: names with the trailing dot, TXT as quoted strings with `\\"`, `\\\\` and
`\\DDD` escapes. dnslb keeps names without the dot and a TXT value as one unquoted text; MX, SRV and NAPTR content
is the plugin API's `absolute_value` of the canonical value, and read back with `canonical_value`.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from dnslb.provider import RecordSet, absolute_value, canonical_value

TXT_STRING_BYTES = 255  # one <character-string> on the wire
NAME_TYPES = frozenset({"CNAME", "NS", "PTR"})  # a value that is one name
PRESENTATION_TYPES = frozenset({"MX", "SRV", "NAPTR"})  # a value of several fields, names among them


def fqdn(name: str) -> str:
    return name.rstrip(".") + "."


def canonical_name(name: str) -> str:
    return name.lower().rstrip(".")


def to_content(type_: str, value: str) -> str:
    """A canonical value as PowerDNS record content."""
    if type_ == "TXT":
        return quote_txt(value)
    if type_ in NAME_TYPES:
        return fqdn(value)
    if type_ in PRESENTATION_TYPES:
        try:
            return absolute_value(type_, value)
        except ValueError:
            return value  # PowerDNS says what is wrong with it
    return value


def contents(record: RecordSet) -> tuple[str, ...]:
    """The record set as PowerDNS content: its exact contents when it carries them and they read as its values (a
    record set read from PowerDNS, written back byte for byte), else its values rendered."""
    if record.exact and exact_matches(record.type, record.values, record.exact):
        return record.exact
    return tuple(to_content(record.type, value) for value in record.values)


@lru_cache(maxsize=4096)
def exact_matches(type_: str, values: tuple[str, ...], exact: tuple[str, ...]) -> bool:
    return sorted({from_content(type_, content) for content in exact}) == list(values)


def from_content(type_: str, content: str) -> str:
    """PowerDNS record content as a canonical value; types dnslb does not manage are kept as PowerDNS shows them."""
    if type_ == "TXT":
        return unquote_txt(content)
    if type_ in NAME_TYPES:
        return canonical_name(content)
    if type_ in PRESENTATION_TYPES:
        try:
            return canonical_value(type_, content)
        except ValueError:
            return content
    if type_ in ("A", "AAAA"):
        try:
            return ipaddress.ip_address(content).compressed
        except ValueError:
            return content
    return content


def quote_txt(text: str) -> str:
    """`text` as quoted strings of at most 255 bytes each; bytes outside printable ASCII become `\\DDD`, so a split
    inside a multi-byte UTF-8 character stays expressible."""
    raw = text.encode()
    chunks = [raw[i : i + TXT_STRING_BYTES] for i in range(0, len(raw), TXT_STRING_BYTES)] or [b""]
    return " ".join('"' + "".join(_escape(byte) for byte in chunk) + '"' for chunk in chunks)


def unquote_txt(content: str) -> str:
    """Quoted (or bare) strings back into one text, their bytes joined and read as UTF-8."""
    data = bytearray()
    i, end = 0, len(content)
    while i < end:
        if content[i].isspace():
            i += 1
            continue
        quoted = content[i] == '"'
        if quoted:
            i += 1
        while i < end:
            char = content[i]
            if quoted and char == '"':
                i += 1
                break
            if not quoted and char.isspace():
                break
            if char == "\\" and i + 1 < end:
                digits = content[i + 1 : i + 4]
                if len(digits) == 3 and digits.isascii() and digits.isdigit() and int(digits) < 256:
                    data.append(int(digits))
                    i += 4
                else:
                    data.extend(content[i + 1].encode())
                    i += 2
                continue
            data.extend(char.encode())
            i += 1
    return data.decode(errors="replace")


def _escape(byte: int) -> str:
    if byte in b'"\\':
        return "\\" + chr(byte)
    if 0x20 <= byte < 0x7F:
        return chr(byte)
    return f"\\{byte:03d}"
