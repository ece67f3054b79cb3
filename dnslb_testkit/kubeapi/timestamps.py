"""RFC 3339 times as apiserver stores them: `Time` to the second, `MicroTime` to the microsecond."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dnslb_testkit.kubeapi.errors import ApiError, bad_request

# Go's time.RFC3339 parser needs a zone; Python's fromisoformat would also take a naive time.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(value: object, field: str) -> datetime:
    """Parse a client-sent time; a malformed or zone-less one is a 400, as in apiserver's decoder."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise _unparseable(value, field)
    text = value.replace("z", "Z").replace("t", "T").replace(" ", "T")
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _unparseable(value, field) from None


def _unparseable(value: object, field: str) -> ApiError:
    return bad_request(f'unable to decode {field}: parsing time {value!r} as "2006-01-02T15:04:05Z07:00": cannot parse')


def normalize_time(value: object, field: str) -> str:
    return format_time(parse(value, field))


def normalize_micro_time(value: object, field: str) -> str:
    return format_micro_time(parse(value, field))
