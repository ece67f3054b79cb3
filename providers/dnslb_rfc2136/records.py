"""Record sets ↔ dnspython rdata: canonical values out of a transferred zone or an answer, rdata to send in an update.

A record set read carries its values exactly as dnspython writes the server's rdata (`exact`: names absolute with
their case, TXT as the server splits and escapes it). Rdata to send is made from `exact` when the record set carries
one that reads as its values: a prerequisite compares rdata in wire form, where a TXT value split into other strings
differs, and a restored record set goes back as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rdtypes.nsbase
import dns.zone

from dnslb.provider import RecordSet, canonical_value

TXT_STRING_BYTES = 255
# the types dnslb publishes whose values have several fields (their names compared in the plugin API's form)
_PRESENTATION_TYPES = frozenset({dns.rdatatype.MX, dns.rdatatype.SRV, dns.rdatatype.NAPTR})

# kept by the server, not by anyone who writes records: the apex SOA/NS and what a DNSSEC signer adds
_APEX_SERVER_TYPES = frozenset({dns.rdatatype.SOA, dns.rdatatype.NS})
_SIGNER_TYPES = frozenset(
    {
        dns.rdatatype.RRSIG,
        dns.rdatatype.NSEC,
        dns.rdatatype.NSEC3,
        dns.rdatatype.NSEC3PARAM,
        dns.rdatatype.DNSKEY,
        dns.rdatatype.CDS,
        dns.rdatatype.CDNSKEY,
    }
)


class InvalidRecord(ValueError):
    """A record set that cannot be put into an update message; the message says which and why."""


def record_sets(zone: dns.zone.Zone) -> list[RecordSet]:
    """Every record set of a transferred zone other than the server's own, as canonical RecordSets."""
    return sorted(_record_sets(zone))


def _record_sets(zone: dns.zone.Zone) -> Iterator[RecordSet]:
    origin = zone.origin
    assert origin is not None
    for name, rdataset in zone.iterate_rdatasets():
        record = record_set(name.derelativize(origin), origin, rdataset)
        if record is not None:
            yield record


def record_set(name: dns.name.Name, origin: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> RecordSet | None:
    """An absolute name's rdataset as a RecordSet; None for what the server keeps itself (apex SOA/NS, DNSSEC)."""
    rdtype = rdataset.rdtype
    if not rdataset or rdtype in _SIGNER_TYPES or (name == origin and rdtype in _APEX_SERVER_TYPES):
        return None
    return RecordSet.of(
        name.to_text(omit_final_dot=True),
        dns.rdatatype.to_text(rdtype),
        rdataset.ttl,
        [value_text(rdata) for rdata in rdataset],
        exact=[rdata.to_text() for rdata in rdataset],
    )


def value_text(rdata: dns.rdata.Rdata) -> str:
    """The canonical text of one value: TXT unquoted and joined, names lowercase without the trailing dot."""
    if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
        # surrogateescape: bytes that are not UTF-8 survive a read and write back unchanged
        return b"".join(rdata.strings).decode("utf-8", "surrogateescape")
    if isinstance(rdata, dns.rdtypes.nsbase.NSBase):  # CNAME, NS, PTR, DNAME: the value is one name
        return rdata.target.to_text(omit_final_dot=True).lower()
    if rdata.rdtype in _PRESENTATION_TYPES:  # the plugin API's canonical form: names lowercase, the root as "."
        return canonical_value(dns.rdatatype.to_text(rdata.rdtype), rdata.to_text())
    # anything else in its presentation form, with names written relative to the root (no trailing dot)
    return rdata.to_text(origin=dns.name.root, relativize=True)


def owner_name(name: str) -> dns.name.Name:
    try:
        return dns.name.from_text(name)
    except dns.exception.DNSException as invalid:
        raise InvalidRecord(f"{name!r} is not a valid DNS name: {invalid}") from None


def rdata_type(record: RecordSet) -> dns.rdatatype.RdataType:
    try:
        rdtype = dns.rdatatype.from_text(record.type)
    except dns.exception.DNSException:
        raise InvalidRecord(f"{record.name}: unknown record type {record.type!r}") from None
    if dns.rdatatype.is_metatype(rdtype) or rdtype in (dns.rdatatype.SOA, *_SIGNER_TYPES):
        raise InvalidRecord(f"{record.name}: record type {record.type} cannot be set by a dynamic update")
    return rdtype


def rdatas(record: RecordSet) -> list[dns.rdata.Rdata]:
    """The record set's rdata: from its exact values when they read as its values, else from its canonical values
    (TXT split into 255-byte character-strings)."""
    rdtype = rdata_type(record)
    if record.exact and exact_matches(rdtype, record.values, record.exact):
        return [exact_rdata(rdtype, text) for text in record.exact]
    try:
        return [rdata_of(rdtype, value) for value in record.values]
    except InvalidRecord as invalid:
        raise InvalidRecord(f"{record.name} {record.type}: {invalid}") from None


@lru_cache(maxsize=4096)
def exact_matches(rdtype: dns.rdatatype.RdataType, values: tuple[str, ...], exact: tuple[str, ...]) -> bool:
    """Whether exact values read as these canonical ones (a record set changed since it was read, and still carrying
    the exact values of the read, is sent as its values say)."""
    try:
        return sorted({value_text(exact_rdata(rdtype, text)) for text in exact}) == list(values)
    except InvalidRecord:
        return False


@lru_cache(maxsize=65_536)
def exact_rdata(rdtype: dns.rdatatype.RdataType, text: str) -> dns.rdata.Rdata:
    """Rdata from its text as `record_set` writes it (names absolute)."""
    try:
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text, origin=dns.name.root, relativize=False)
    except (dns.exception.DNSException, ValueError) as invalid:
        raise InvalidRecord(f"{text!r} is not a valid value: {invalid}") from None


def rdata_of(rdtype: dns.rdatatype.RdataType, value: str) -> dns.rdata.Rdata:
    if rdtype == dns.rdatatype.TXT:
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, rdtype, txt_strings(value))
    try:
        # the root as origin: canonical names carry no trailing dot but are absolute
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=dns.name.root, relativize=False)
    except (dns.exception.DNSException, ValueError) as invalid:
        raise InvalidRecord(f"{value!r} is not a valid value: {invalid}") from None


def txt_strings(value: str) -> list[bytes]:
    encoded = value.encode("utf-8", "surrogateescape")
    return [encoded[i : i + TXT_STRING_BYTES] for i in range(0, len(encoded), TXT_STRING_BYTES)] or [b""]
