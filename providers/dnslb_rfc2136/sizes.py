"""Upper bounds on an update message's wire size, so the packer can keep every message within 65,535 bytes.

Names are counted uncompressed: dnspython compresses them, so the real message is never larger than counted.
"""

from __future__ import annotations

from functools import lru_cache

import dns.exception
import dns.name
import dns.rdatatype
import dns.tsig

from dnslb.provider import Change, RecordSet
from dnslb_rfc2136.records import InvalidRecord, exact_matches, exact_rdata, owner_name, rdata_of

TCP_MESSAGE_BYTES = 65_535  # the two-byte length prefix of DNS over TCP
HEADER_BYTES = 12
QUESTION_FIXED_BYTES = 4  # type, class: the zone section's one entry
RR_FIXED_BYTES = 10  # type, class, TTL, rdata length
# TSIG rdata after the algorithm name: time signed (6), fudge (2), MAC size (2), original id (2), error (2),
# other length (2); the MAC itself and other data come on top
TSIG_FIXED_RDATA_BYTES = 16
NAME_MAX_BYTES = 255


def message_overhead(zone: str, key: dns.tsig.Key | None) -> int:
    """Bytes of an update message for `zone` before any prerequisite or update: header, zone section and TSIG."""
    overhead = HEADER_BYTES + _name_bytes(zone) + QUESTION_FIXED_BYTES
    if key is not None:
        mac_bytes = dns.tsig.mac_sizes[key.algorithm]
        tsig_rdata = _wire_length(key.algorithm) + TSIG_FIXED_RDATA_BYTES + mac_bytes
        overhead += _wire_length(key.name) + RR_FIXED_BYTES + tsig_rdata
    return overhead


def change_bytes(change: Change) -> int:
    """What a change adds to an update message: one RR per value of each set it names, and one RR without rdata.

    create = "RRset does not exist" + adds; update = "RRset exists with exactly the previous values" + "delete RRset"
    + adds; delete = "RRset exists with exactly these values" + "delete RRset"; require = "RRset exists with exactly
    these values" alone. Values are counted as they are sent: from `exact` when the record set carries it.
    """
    record = change.record
    bare = _name_bytes(record.name) + RR_FIXED_BYTES
    total = _values_bytes(record)
    if change.action != "require":
        total += bare
    if change.action == "update" and change.previous is not None:
        total += _values_bytes(change.previous)
    return total


def _values_bytes(record: RecordSet) -> int:
    bare = _name_bytes(record.name) + RR_FIXED_BYTES
    return sum(bare + length for length in rdata_lengths(record))


def rdata_lengths(record: RecordSet) -> list[int]:
    try:
        rdtype = dns.rdatatype.from_text(record.type)
    except dns.exception.DNSException:
        rdtype = dns.rdatatype.NONE
    if record.exact and exact_matches(rdtype, record.values, record.exact):
        return [_exact_bytes(rdtype, text) for text in record.exact]
    return [_rdata_bytes(rdtype, value) for value in record.values]


@lru_cache(maxsize=65_536)
def _exact_bytes(rdtype: dns.rdatatype.RdataType, text: str) -> int:
    wire = exact_rdata(rdtype, text).to_wire()
    assert wire is not None
    return len(wire)


@lru_cache(maxsize=65_536)
def _rdata_bytes(rdtype: dns.rdatatype.RdataType, value: str) -> int:
    if rdtype == dns.rdatatype.A:
        return 4
    if rdtype == dns.rdatatype.AAAA:
        return 16
    try:
        wire = rdata_of(rdtype, value).to_wire()
        assert wire is not None
        return len(wire)
    except InvalidRecord:
        # apply() refuses this value before sending anything, so any size will do
        return len(value.encode("utf-8", "surrogateescape")) + 1


@lru_cache(maxsize=65_536)
def _name_bytes(name: str) -> int:
    try:
        return _wire_length(owner_name(name))
    except InvalidRecord:
        return NAME_MAX_BYTES


def _wire_length(name: dns.name.Name) -> int:
    """An absolute name's uncompressed wire length: each label with its length byte (the root's is empty)."""
    return sum(len(label) + 1 for label in name.labels)
