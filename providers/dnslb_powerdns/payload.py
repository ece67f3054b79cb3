"""The PATCH body that carries a batch, and what each change adds to it (exactly, so the packer can fill to the limit).

The body is compact ASCII JSON, `{"rrsets":[R1,R2,...]}`: every change adds its rrset plus one separator byte, and the
envelope adds ENVELOPE_BYTES - 1 (there is one separator fewer than rrsets). A require adds nothing: it is checked
before the PATCH, not sent.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from typing import Any

from dnslb.provider import Change, Cost

from .content import contents, fqdn

ENVELOPE_BYTES = len(b'{"rrsets":[]}')


def rrset(change: Change) -> dict[str, Any]:
    record = change.record
    if change.action == "delete":
        return {"name": fqdn(record.name), "type": record.type, "changetype": "DELETE"}
    return {
        "name": fqdn(record.name),
        "type": record.type,
        "ttl": record.ttl,
        "changetype": "REPLACE",
        "records": [_record(content) for content in contents(record)],
    }


def writes(changes: Sequence[Change]) -> list[Change]:
    """The changes that go into the PATCH: a require is checked before it and sends nothing."""
    return [change for change in changes if change.action != "require"]


def patch_body(changes: Sequence[Change]) -> bytes:
    return _encode({"rrsets": [rrset(change) for change in writes(changes)]})


def change_cost(change: Change) -> Cost:
    if change.action == "require":
        return Cost()
    return Cost(changes=1, values=len(change.record.values), bytes=_rrset_bytes(change) + 1)


def _rrset_bytes(change: Change) -> int:
    """len(_encode(rrset(change))), summed from parts: a packer asks the cost of many similar large sets, and
    encoding every record again for each question dominated packing time."""
    record = change.record
    if change.action == "delete" or not record.values:
        return len(_encode(rrset(change)))
    bare_record = dataclasses.replace(record, values=(), exact=())
    bare = len(_encode(rrset(dataclasses.replace(change, record=bare_record))))
    sent = contents(record)
    separators = len(sent) - 1
    return bare + sum(_record_bytes(content) for content in sent) + separators


@functools.lru_cache(maxsize=65536)
def _record_bytes(content: str) -> int:
    return len(_encode(_record(content)))


def _record(content: str) -> dict[str, Any]:
    return {"content": content, "disabled": False}


def _encode(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")
