"""external-dns's webhook wire format, and how its endpoints map to canonical RecordSets. Pure.

As kubernetes-sigs/external-dns speaks it (`provider/webhook`, `endpoint`, `plan`):
- requests and JSON answers carry the media type below; external-dns compares it as a plain string, so it is never
  re-formatted (no space after the `;`);
- an endpoint is `{"dnsName", "targets", "recordType", "setIdentifier", "recordTTL", "labels", "providerSpecific"}`,
  each field omitted when empty (Go's `omitempty`, and Go writes an empty list as `null`); `recordTTL` 0 means "not
  configured"; all targets of one (name, type) travel in one endpoint;
- a change set is `{"create", "updateOld", "updateNew", "delete"}`, `updateOld[i]` paired with `updateNew[i]`. These
  lower-camel keys are `plan.Changes`'s JSON tags in current external-dns; older releases had no tags and sent
  `Create`, `UpdateOld`, … Go matches keys case-insensitively, so readers here do the same and accept both;
- external-dns's TXT registry sends TXT targets wrapped in double quotes (`"heritage=external-dns,…"`) and reads them
  back with the quotes trimmed, so TXT targets are written quoted and read quoted or bare;
- targets read are kept as the server spelled them (`RecordSet.exact`) and sent so when the record set is named
  again (a delete, an update's old side, a restore), for servers that match targets as strings;
- external-dns trims the trailing dot of every target but TXT, SRV and NAPTR ones, and wants it on SRV and NAPTR
  targets (`10 5 443 sip.example.test.`): those are sent with it (`absolute_value`), the others without.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dnslb.provider import Change, RecordSet, absolute_value
from dnslb.provider import canonical_value as canonical_presentation

MEDIA_TYPE = "application/external.dns.webhook+json;version=1"
CHANGE_KEYS = ("create", "updateOld", "updateNew", "delete")

Endpoint = dict[str, Any]


class WireError(ValueError):
    """A JSON body that does not have the shape the protocol gives it."""


def encode(value: object) -> bytes:
    """Compact JSON, ASCII only, so that a string's length is its size in bytes."""
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def field(obj: Mapping[str, Any], name: str) -> Any:
    """`obj[name]` found as Go's encoding/json finds it: the exact key first, then the key in any case."""
    if name in obj:
        return obj[name]
    wanted = name.lower()
    for key, value in obj.items():
        if key.lower() == wanted:
            return value
    return None


# TXT text


def quote_txt(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def unquote_txt(target: str) -> str:
    """The text of a TXT target: its quoted strings unescaped and joined (`"a" "b"` is `ab`), or the target itself
    when it is not in that form (bare text, as some servers keep it)."""
    if not _QUOTED_STRINGS.fullmatch(target):
        return target
    return "".join(_ESCAPE.sub(_unescaped, s) for s in _QUOTED_STRING.findall(target))


_QUOTED_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_QUOTED_STRINGS = re.compile(r'\s*(?:"(?:[^"\\]|\\.)*"\s*)+', re.DOTALL)
_ESCAPE = re.compile(r"\\([0-9]{3}|.)", re.DOTALL)  # RFC 1035: \DDD is a decimal byte, \X is X


def _unescaped(escape: re.Match[str]) -> str:
    return chr(int(escape[1])) if len(escape[1]) == 3 else escape[1]


# endpoints


def endpoint_of(record: RecordSet) -> Endpoint:
    """The endpoint that carries `record`: its targets exactly as read when it carries them and they still read as
    its values, else its values (TXT quoted, as external-dns's registry writes them)."""
    endpoint: Endpoint = {"dnsName": record.name, "targets": list(targets_of(record)), "recordType": record.type}
    if record.ttl > 0:
        endpoint["recordTTL"] = record.ttl
    return endpoint


def targets_of(record: RecordSet) -> tuple[str, ...]:
    if record.exact and exact_matches(record.type, record.values, record.exact):
        return record.exact
    if record.type == "TXT":
        return tuple(quote_txt(v) for v in record.values)
    if record.type in ABSOLUTE_TYPES:
        return tuple(_absolute(record.type, v) for v in record.values)
    return record.values


ABSOLUTE_TYPES = frozenset({"SRV", "NAPTR"})
_NAME_TYPES = frozenset({"CNAME", "NS", "PTR"})


def _absolute(type_: str, value: str) -> str:
    try:
        return absolute_value(type_, value)
    except ValueError:
        return value


@lru_cache(maxsize=4096)
def exact_matches(type_: str, values: tuple[str, ...], exact: tuple[str, ...]) -> bool:
    return sorted({canonical_value(type_, target) for target in exact}) == list(values)


@dataclass(frozen=True)
class WireRecord:
    """One endpoint as read from the wire: its record set, and the routing set it belongs to ('' for none)."""

    record: RecordSet
    set_identifier: str


def from_endpoint(endpoint: object, default_ttl: int = 0) -> WireRecord:
    """An endpoint as a canonical record set; values that do not parse (a bad address) are kept as sent."""
    if not isinstance(endpoint, Mapping):
        raise WireError(f"an endpoint must be a JSON object, not {endpoint!r}")
    name = _string(endpoint, "dnsName")
    type_ = _string(endpoint, "recordType").upper()
    if not name or not type_:
        raise WireError(f"an endpoint needs dnsName and recordType: {dict(endpoint)}")
    targets = field(endpoint, "targets") or []
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise WireError(f"targets of {name} must be a list of strings: {targets!r}")
    ttl = field(endpoint, "recordTTL") or 0
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        raise WireError(f"recordTTL of {name} must be a non-negative integer: {ttl!r}")
    values = [canonical_value(type_, t) for t in targets]
    record = RecordSet.of(name, type_, ttl or default_ttl, values, exact=targets)
    return WireRecord(record, _string(endpoint, "setIdentifier"))


def endpoints_in(body: object) -> list[object]:
    """The endpoints of a JSON list body (`null` is Go's empty list)."""
    if body is None:
        return []
    if not isinstance(body, list):
        raise WireError(f"expected a JSON list of endpoints, not {type(body).__name__}")
    return body


def canonical_value(type_: str, target: str) -> str:
    if type_ == "TXT":
        return unquote_txt(target)
    if type_ in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(target.strip()))
        except ValueError:
            return target
    if type_ in _NAME_TYPES:
        return target.strip().lower().rstrip(".")
    if type_ in ("MX", *ABSOLUTE_TYPES):
        try:
            return canonical_presentation(type_, target)
        except ValueError:
            return target
    return target


def value_problem(record: RecordSet) -> str | None:
    """Why a DNS server would refuse this record set's values, or None."""
    if not record.values:
        return f"{record.name} {record.type} has no targets"
    version = {"A": 4, "AAAA": 6}.get(record.type)
    if version is None:
        return None
    for value in record.values:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return f"{record.name} {record.type}: {value!r} is not an IP address"
        if address.version != version:
            return f"{record.name} {record.type}: {value} is not an IPv{version} address"
    return None


def _string(endpoint: Mapping[str, Any], name: str) -> str:
    value = field(endpoint, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WireError(f"{name} must be a string: {value!r}")
    return value


# negotiation


@dataclass(frozen=True)
class DomainFilter:
    """What `GET /` answers: external-dns's `endpoint.DomainFilter`, domain lists or regular expressions."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    regex_include: str = ""
    regex_exclude: str = ""

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"include": list(self.include), "exclude": list(self.exclude)}
        body |= {"regexInclude": self.regex_include, "regexExclude": self.regex_exclude}
        return {key: value for key, value in body.items() if value}


def domain_filter(body: object) -> DomainFilter:
    if not isinstance(body, Mapping):
        raise WireError(f"expected a JSON object with the domain filter, not {type(body).__name__}")
    # `filters`: what api/webhook.yaml documents, and the exported field that releases before include/exclude wrote
    include = field(body, "include") or field(body, "filters") or []
    exclude = field(body, "exclude") or []
    if not _strings(include) or not _strings(exclude):
        raise WireError(f"include and exclude must be lists of domains: {dict(body)}")
    regex_include, regex_exclude = field(body, "regexInclude") or "", field(body, "regexExclude") or ""
    if not isinstance(regex_include, str) or not isinstance(regex_exclude, str):
        raise WireError(f"regexInclude and regexExclude must be strings: {dict(body)}")
    return DomainFilter(
        tuple(_domain(d) for d in include if _domain(d)),
        tuple(_domain(d) for d in exclude if _domain(d)),
        regex_include,
        regex_exclude,
    )


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _domain(text: str) -> str:
    # a leading dot means "subdomains only" to external-dns; as a zone name it is the same zone
    return text.strip().lower().strip(".")


# change sets


def changes_body(changes: Sequence[Change]) -> dict[str, list[Endpoint]]:
    """One POST /records body. An update needs the record set it replaces: external-dns pairs updateOld/updateNew.
    A require has no place in the protocol: the provider checks it before sending, and it sends nothing."""
    lists: dict[str, list[Endpoint]] = {key: [] for key in CHANGE_KEYS}
    for change in changes:
        if change.action == "require":
            continue
        if change.action == "create":
            lists["create"].append(endpoint_of(change.record))
        elif change.action == "delete":
            lists["delete"].append(endpoint_of(change.record))
        elif change.previous is None:
            raise WireError(f"update of {change.record.name} {change.record.type} does not say what it replaces")
        else:
            lists["updateOld"].append(endpoint_of(change.previous))
            lists["updateNew"].append(endpoint_of(change.record))
    return {key: endpoints for key, endpoints in lists.items() if endpoints}


def change_lists(body: object) -> dict[str, list[object]]:
    """The four endpoint lists of a POST /records body, under the lower-camel keys, whatever case they came in."""
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise WireError(f"expected a JSON object of changes, not {type(body).__name__}")
    lists = {key: endpoints_in(field(body, key)) for key in CHANGE_KEYS}
    if len(lists["updateOld"]) != len(lists["updateNew"]):
        raise WireError(
            f"updateOld has {len(lists['updateOld'])} endpoints and updateNew {len(lists['updateNew'])}; they pair up"
        )
    return lists


def envelope_bytes() -> int:
    """What a change-set body costs beyond its endpoints (the keys, brackets and braces)."""
    return len(encode({key: [] for key in CHANGE_KEYS}))


def change_bytes(change: Change) -> int:
    """What `change` adds to a body: its endpoints and one separating comma each (an upper bound)."""
    if change.action == "require":
        return 0
    records = [change.previous, change.record] if change.action == "update" and change.previous else [change.record]
    return sum(len(encode(endpoint_of(r))) + 1 for r in records)
