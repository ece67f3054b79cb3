"""Route53's text forms of names and TXT values, to and from dnslb's canonical text.

Route53 returns names with every character other than a-z, 0-9, `-`, `_` and `.` escaped as `\\ddd` (octal), so a
wildcard comes back as `\\052.apps.example.test.`. A TXT value is one or more quoted strings of at most 255 bytes
each, with `"` and `\\` escaped by a backslash and bytes outside printable ASCII as `\\ddd`.
"""

from __future__ import annotations

TXT_STRING_BYTES = 255

_PRINTABLE = range(0x20, 0x7F)
_ENCODING = "utf-8"
# invalid UTF-8 from foreign records survives a read and write back unchanged
_ERRORS = "surrogateescape"


def name_from_route53(text: str) -> str:
    return _unescape(text).decode(_ENCODING, _ERRORS).lower().rstrip(".")


def name_to_route53(name: str) -> str:
    return name.rstrip(".") + "."


def txt_to_route53(text: str) -> str:
    data = text.encode(_ENCODING, _ERRORS)
    chunks = [data[i : i + TXT_STRING_BYTES] for i in range(0, len(data), TXT_STRING_BYTES)] or [b""]
    return " ".join(f'"{_escape(chunk)}"' for chunk in chunks)


def txt_from_route53(value: str) -> str:
    """The strings of a TXT value, unescaped and joined; unquoted words (from other tools) count as strings too."""
    data = bytearray()
    i = 0
    while i < len(value):
        if value[i].isspace():
            i += 1
            continue
        quoted = value[i] == '"'
        start = i + 1 if quoted else i
        end = _string_end(value, start, quoted)
        data += _unescape(value[start:end])
        i = end + 1 if quoted else end
    return bytes(data).decode(_ENCODING, _ERRORS)


def _string_end(value: str, start: int, quoted: bool) -> int:
    i = start
    while i < len(value):
        char = value[i]
        if char == "\\":
            i += 2
            continue
        if (quoted and char == '"') or (not quoted and char.isspace()):
            return i
        i += 1
    return len(value)


def _escape(chunk: bytes) -> str:
    out = []
    for byte in chunk:
        if byte in (ord('"'), ord("\\")):
            out.append("\\" + chr(byte))
        elif byte in _PRINTABLE:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def _unescape(text: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            octal = text[i + 1 : i + 4]
            if len(octal) == 3 and octal[0] in "0123" and all(c in "01234567" for c in octal):
                out.append(int(octal, 8))
                i += 4
                continue
            char = text[i + 1]
            i += 1
        out += char.encode(_ENCODING, _ERRORS)
        i += 1
    return bytes(out)
