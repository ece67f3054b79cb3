"""The RFC 2136 provider: zones read by AXFR, names by ANY queries, changes sent as one dynamic update message, all
over TCP with TSIG."""

from __future__ import annotations

from collections.abc import Sequence

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.update
import dns.xfr
import dns.zone

from dnslb.provider import RECORD_TYPES, Change, Cost, Limits, RecordSet, Rejected, Zone
from dnslb_rfc2136.errors import raise_for_rcode, translated
from dnslb_rfc2136.records import InvalidRecord, owner_name, rdata_type, rdatas, record_set, record_sets
from dnslb_rfc2136.settings import Rfc2136Settings
from dnslb_rfc2136.sizes import TCP_MESSAGE_BYTES, change_bytes, message_overhead

_TTL_MAX = 2**31 - 1
_NAMES_SHOWN = 5
# BIND 9.18.28+ refuses a record set larger than this by default (max-records-per-type), answering SERVFAIL
_BIND_DEFAULT_MAX_RECORDS = 100


class Rfc2136Provider:
    def __init__(self, settings: Rfc2136Settings) -> None:
        self.settings = settings
        overhead = max(message_overhead(zone, settings.key) for zone in settings.zones)
        self._limits = Limits(max_bytes=TCP_MESSAGE_BYTES - overhead, record_types=RECORD_TYPES)

    @property
    def limits(self) -> Limits:
        return self._limits

    def cost(self, change: Change) -> Cost:
        return Cost(changes=1, values=len(change.record.values), bytes=change_bytes(change))

    def zones(self) -> list[Zone]:
        """The configured zones, each checked by a (signed) SOA query: RFC 2136 has no way to list zones."""
        for zone in self.settings.zones:
            self._check_served(zone)
        return [Zone(zone, zone) for zone in self.settings.zones]

    def records(self, zone: Zone) -> list[RecordSet]:
        transferred = dns.zone.Zone(zone.name, relativize=False)
        query, _ = dns.xfr.make_query(transferred, serial=None, keyring=self.settings.key)
        with translated(f"{self._server}: zone transfer (AXFR) of {zone.name}", self.settings.key_name):
            dns.query.inbound_xfr(
                self.settings.server, transferred, query, port=self.settings.port, timeout=self.settings.timeout
            )
        return record_sets(transferred)

    def records_at(self, zone: Zone, names: Sequence[str]) -> list[RecordSet]:
        """One ANY query per name to the primary, over TCP, where BIND answers ANY in full (its `minimal-any` only
        shortens answers over UDP). A name with an answer is then checked to exist as itself, by an update that
        only has the prerequisite "name is in use" (it changes nothing): a wildcard answers for names that do not
        exist, and the answer does not say so. A server that answers ANY minimally (RFC 8482) or not with authority
        is read by zone transfer instead."""
        origin = dns.name.from_text(zone.name)
        wanted = sorted({name.lower().rstrip(".") for name in names})
        found: list[RecordSet] = []
        for name in wanted:
            try:
                owner = owner_name(name)
            except InvalidRecord as invalid:
                raise Rejected(f"{self._server}: read of names in zone {zone.name}: {invalid}") from None
            if not owner.is_subdomain(origin):
                continue
            answered = self._any(zone, origin, owner)
            if answered is None:
                return [r for r in self.records(zone) if r.name in wanted]
            if answered and self._in_use(zone, origin, owner):
                found += answered
        return sorted(found)

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        if not changes:
            return
        what = self._update_what(zone, changes)
        response = self._exchange(self.update_message(zone, changes), what)
        raise_for_rcode(response.rcode(), what, _hint(response.rcode(), changes))

    @property
    def _server(self) -> str:
        return f"rfc2136 {self.settings.endpoint}"

    def _check_served(self, zone: str) -> None:
        what = f"{self._server}: SOA query for zone {zone}"
        query = dns.message.make_query(zone, dns.rdatatype.SOA)
        if self.settings.key is not None:
            query.use_tsig(self.settings.key)
        response = self._exchange(query, what)
        raise_for_rcode(response.rcode(), what)
        soa = response.get_rrset(response.answer, dns.name.from_text(zone), dns.rdataclass.IN, dns.rdatatype.SOA)
        if not response.flags & dns.flags.AA or soa is None:
            raise Rejected(f"{what}: the server is not authoritative for {zone}; check settings.zones")

    def update_message(self, zone: Zone, changes: Sequence[Change]) -> dns.update.UpdateMessage:
        """The one message `apply` sends for `changes` (signed when rendered); Rejected if a change cannot be sent."""
        what = self._update_what(zone, changes)
        if zone.name.lower().rstrip(".") not in self.settings.zones:
            # the byte limits are computed for the configured zones' names
            raise Rejected(f"{what}: nothing sent: zone {zone.name} is not in settings.zones")
        origin = dns.name.from_text(zone.name)
        message = dns.update.UpdateMessage(origin, keyring=self.settings.key)
        for change in changes:
            try:
                _add_change(message, origin, change)
            except InvalidRecord as invalid:
                raise Rejected(f"{what}: nothing sent: {change.action} {invalid}") from None
        return message

    def _any(self, zone: Zone, origin: dns.name.Name, owner: dns.name.Name) -> list[RecordSet] | None:
        """The record sets an ANY query answers at `owner`; None when the answer cannot be taken as all of them."""
        what = f"{self._server}: ANY query for {owner.to_text(True)} in zone {zone.name}"
        query = dns.message.make_query(owner, dns.rdatatype.ANY)
        if self.settings.key is not None:
            query.use_tsig(self.settings.key)
        response = self._exchange(query, what)
        if response.rcode() == dns.rcode.NXDOMAIN:
            return []
        raise_for_rcode(response.rcode(), what)
        if not response.flags & dns.flags.AA:
            return None  # a referral: the name is at or below a delegation
        rrsets = [rrset for rrset in response.answer if rrset.name == owner]
        if any(rrset.rdtype == dns.rdatatype.HINFO and _rfc8482(rrset) for rrset in rrsets):
            return None
        return [r for r in (record_set(owner, origin, rrset) for rrset in rrsets) if r is not None]

    def _in_use(self, zone: Zone, origin: dns.name.Name, owner: dns.name.Name) -> bool:
        """Whether `owner` itself has records: prerequisites name owners literally, never through a wildcard."""
        what = f"{self._server}: check that {owner.to_text(True)} exists in zone {zone.name}"
        message = dns.update.UpdateMessage(origin, keyring=self.settings.key)
        message.present(owner)
        response = self._exchange(message, what)
        if response.rcode() == dns.rcode.NXDOMAIN:
            return False
        raise_for_rcode(response.rcode(), what)
        return True

    def _update_what(self, zone: Zone, changes: Sequence[Change]) -> str:
        return f"{self._server}: update of zone {zone.name} ({len(changes)} changes)"

    def _exchange(self, message: dns.message.Message, what: str) -> dns.message.Message:
        with translated(what, self.settings.key_name):
            return dns.query.tcp(message, self.settings.server, timeout=self.settings.timeout, port=self.settings.port)


def _add_change(message: dns.update.UpdateMessage, origin: dns.name.Name, change: Change) -> None:
    record = change.record
    name = owner_name(record.name)
    if not name.is_subdomain(origin):
        raise InvalidRecord(f"{record.name} {record.type}: the name is not in zone {origin.to_text(True)}")
    if not 0 <= record.ttl <= _TTL_MAX:
        raise InvalidRecord(f"{record.name} {record.type}: TTL {record.ttl} is out of range")
    if not record.values:
        raise InvalidRecord(f"{record.name} {record.type}: a record set needs at least one value")
    rdtype = rdata_type(record)
    if name == origin and rdtype in (dns.rdatatype.CNAME, dns.rdatatype.NS) and change.action != "require":
        # a CNAME cannot stand beside the apex SOA (the server would ignore it, silently); the apex NS records are
        # the server's, and not read here
        raise InvalidRecord(f"{record.name} {record.type}: the zone apex's {record.type} records are not dnslb's")
    if change.action == "create":
        message.absent(name, rdtype)
        message.add(name, record.ttl, *rdatas(record))
    elif change.action == "update":
        previous = change.previous
        if previous is None:
            raise InvalidRecord(f"{record.name} {record.type}: the update does not say what it replaces")
        if previous.key != record.key:
            raise InvalidRecord(f"{record.name} {record.type}: the update replaces another record set ({previous})")
        # value-dependent: the set must stand with exactly the values read (rdata compared in wire form, TTL not)
        message.present(name, *rdatas(previous))
        message.delete(name, rdtype)
        message.add(name, record.ttl, *rdatas(record))
    elif change.action == "delete":
        message.present(name, *rdatas(record))
        message.delete(name, rdtype)
    else:
        message.present(name, *rdatas(record))


def _rfc8482(rrset: dns.rrset.RRset) -> bool:
    """The HINFO an RFC 8482 server answers ANY with instead of the record sets."""
    return any(getattr(rdata, "cpu", b"") == b"RFC8482" for rdata in rrset)


# which actions' prerequisites an rcode says failed
_FAILED_PREREQUISITES: dict[dns.rcode.Rcode, tuple[str, ...]] = {
    dns.rcode.YXRRSET: ("create",),
    dns.rcode.NXRRSET: ("update", "delete", "require"),
}


def _hint(rcode: dns.rcode.Rcode, changes: Sequence[Change]) -> str:
    """Which changes to look at, where the rcode allows a guess."""
    if rcode == dns.rcode.SERVFAIL:
        largest = max(len(c.record.values) for c in changes)
        if largest > _BIND_DEFAULT_MAX_RECORDS:
            return (
                f"(a record set here has {largest} values; BIND since 9.18.28 answers SERVFAIL to a record set "
                f"over its max-records-per-type, {_BIND_DEFAULT_MAX_RECORDS} by default)"
            )
        return ""
    actions = _FAILED_PREREQUISITES.get(rcode, ())
    suspects = [f"{c.action} of {c.record.name} {c.record.type}" for c in changes if c.action in actions]
    if not suspects:
        return ""
    more = f" and {len(suspects) - _NAMES_SHOWN} more" if len(suspects) > _NAMES_SHOWN else ""
    which = "" if len(suspects) == 1 else "one of: "
    return f"({which}{', '.join(suspects[:_NAMES_SHOWN])}{more})"
