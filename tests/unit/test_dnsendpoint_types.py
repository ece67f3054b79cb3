"""DNSEndpoints of every record type, pure: what the source reads (targets checked per type, with the field and the
reason), the rules of one name (a CNAME stands beside nothing), what is refused rather than dropped (setIdentifier,
providerSpecific), and what the zone plan does with types beyond addresses (a provider's types, ownership of each
type at a name, deletes, takeover, the zone apex). One test per behaviour; docs/compatibility.md cites them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, INVALID_OBJECT, Diagnostic
from dnslb.core.dns.changes import rollback_changes, zone_changes
from dnslb.core.dns.desired import Claim, claims
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources import SourceRecord, dnsendpoint_records
from dnslb.core.sources.records import RecordValues
from dnslb.provider import (
    BASIC_RECORD_TYPES,
    RECORD_TYPES,
    Change,
    Limits,
    RecordSet,
    Zone,
    absolute_value,
    canonical_value,
)
from dnslb_inmemory import InMemoryProvider
from tests.unit.test_sources import CREATED, _well_formed, dnsendpoint, endpoint, mutated

OWNER = ObjectRef("DNSEndpoint", ObjectKey("shop", "records"))
ZONE = Zone("example.test", "example.test")


def read(*endpoints: Any) -> tuple[dict[str, SourceRecord], list[Diagnostic]]:
    records, diagnostics = dnsendpoint_records(dnsendpoint(*endpoints))
    return {r.hostname: r for r in records}, diagnostics


def values(record: SourceRecord, type_: str) -> tuple[str, ...]:
    return next((r.values for r in record.records if r.type == type_), ())


def said(diagnostics: list[Diagnostic]) -> list[tuple[str, str, str]]:
    return [(d.field, d.reason, d.about) for d in diagnostics]


# ------------------------------------------------------------------------------------------- each type, published


def test_dnsendpoint_mx_record_published() -> None:
    found, diagnostics = read(endpoint("example.com", "MX", "10 Mail.Example.com.", "20 mx2.example.net"))
    assert diagnostics == []
    assert found["example.com"] == SourceRecord(
        OWNER, CREATED, "example.com", (), None, (RecordValues("MX", ("10 mail.example.com", "20 mx2.example.net")),)
    )


def test_dnsendpoint_txt_record_published_as_written() -> None:
    found, diagnostics = read(endpoint("example.com", "TXT", "v=spf1 include:_spf.example.net ~all", 'say "hi"'))
    assert diagnostics == []
    assert values(found["example.com"], "TXT") == ('say "hi"', "v=spf1 include:_spf.example.net ~all")


def test_dnsendpoint_quoted_txt_target_read_as_zone_file_strings() -> None:
    # as external-dns's Route53 users write TXT targets: in quotes, maybe several strings, with escapes
    found, diagnostics = read(endpoint("example.com", "TXT", '"v=spf1 -all"', '"part one " "and \\"two\\""'))
    assert diagnostics == []
    assert values(found["example.com"], "TXT") == ('part one and "two"', "v=spf1 -all")


def test_dnsendpoint_srv_record_published() -> None:
    found, diagnostics = read(endpoint("_sip._tcp.example.com", "SRV", "10 5 5060 SIP.example.com.", "0 0 0 ."))
    assert diagnostics == []
    assert values(found["_sip._tcp.example.com"], "SRV") == ("0 0 0 .", "10 5 5060 sip.example.com")


def test_dnsendpoint_ns_record_published() -> None:
    found, diagnostics = read(endpoint("team.example.com", "NS", "ns1.example.net", "NS2.example.net."))
    assert diagnostics == []
    assert values(found["team.example.com"], "NS") == ("ns1.example.net", "ns2.example.net")


def test_dnsendpoint_ptr_record_published() -> None:
    found, diagnostics = read(endpoint("7.2.0.192.in-addr.arpa", "PTR", "host.example.com."))
    assert diagnostics == []
    assert values(found["7.2.0.192.in-addr.arpa"], "PTR") == ("host.example.com",)


def test_dnsendpoint_naptr_record_published() -> None:
    target = '100 10 "S" "SIP+D2U" "" _sip._udp.example.com.'
    found, diagnostics = read(endpoint("example.com", "NAPTR", target))
    assert diagnostics == []
    assert values(found["example.com"], "NAPTR") == ('100 10 "S" "SIP+D2U" "" _sip._udp.example.com',)


def test_dnsendpoint_cname_record_published() -> None:
    found, diagnostics = read(endpoint("www.example.com", "CNAME", "Web.Example.com."))
    assert diagnostics == []
    assert found["www.example.com"].records == (RecordValues("CNAME", ("web.example.com",)),)
    assert found["www.example.com"].addresses == ()


def test_dnsendpoint_names_in_targets_are_absolute_with_or_without_the_trailing_dot() -> None:
    found, diagnostics = read(
        endpoint("a.example.com", "SRV", "10 5 443 sip.example.com", "10 5 443 sip.example.com."),
        endpoint("b.example.com", "NS", "ns.example.net", "ns.example.net."),
    )
    assert diagnostics == []
    assert values(found["a.example.com"], "SRV") == ("10 5 443 sip.example.com",)
    assert values(found["b.example.com"], "NS") == ("ns.example.net",)


def test_dnsendpoint_underscore_names_published() -> None:
    found, diagnostics = read(
        endpoint("_dmarc.example.com", "TXT", "v=DMARC1; p=reject"),
        endpoint("_acme-challenge.example.com", "CNAME", "example.com.acme.example.net"),
    )
    assert diagnostics == []
    assert set(found) == {"_dmarc.example.com", "_acme-challenge.example.com"}


def test_dnsendpoint_ownership_record_names_refused() -> None:
    found, diagnostics = read(
        endpoint("_dnslb.web.example.com", "TXT", "heritage=dnslb"), endpoint("_wildcard.example.com", "A", "10.0.0.1")
    )
    assert found == {}
    assert said(diagnostics) == [
        ("spec.endpoints[0].dnsName", DNS_NOT_PUBLISHED, ""),
        ("spec.endpoints[1].dnsName", DNS_NOT_PUBLISHED, ""),
    ]
    assert "ownership record" in diagnostics[0].message and "ownership record" in diagnostics[1].message


def test_dnsendpoint_endpoints_of_one_name_merge_every_type_into_one_record() -> None:
    found, diagnostics = read(
        endpoint("example.com", "A", "10.0.0.1"),
        endpoint("example.com", "MX", "10 mx.example.com"),
        endpoint("example.com", "TXT", "one"),
        endpoint("example.com", "MX", "20 mx2.example.com", "10 mx.example.com."),
        endpoint("example.com", "AAAA", "2001:db8::1"),
    )
    assert diagnostics == []
    assert found["example.com"] == SourceRecord(
        OWNER,
        CREATED,
        "example.com",
        ("10.0.0.1", "2001:db8::1"),
        None,
        (RecordValues("MX", ("10 mx.example.com", "20 mx2.example.com")), RecordValues("TXT", ("one",))),
    )


# -------------------------------------------------------------------------------------- targets checked per type


@pytest.mark.parametrize(
    ("record_type", "target", "why"),
    [
        ("MX", "mail.example.com", "is not an MX target (preference and host"),
        ("MX", "70000 mail.example.com", "is not an unsigned 16-bit integer"),
        ("MX", "10 mail.example.com extra", "is not an MX target"),
        ("SRV", "10 5 mail.example.com", "is not an SRV target (priority, weight, port and host"),
        ("SRV", "10 5 99999 sip.example.com.", "is not an SRV target"),
        ("NAPTR", "100 10 S", "is not an NAPTR target (order, preference, flags, service, regexp and replacement"),
        ("CNAME", "10.0.0.1", "is an IP address, not a hostname"),
        ("NS", "ns..example.net", "is not a hostname"),
        ("PTR", ".", "the root is no PTR target"),
        ("CNAME", "wëb.example.com", "is not ASCII"),
        ("TXT", '"unclosed" "', "is in quotes but not TXT strings"),
        ("TXT", "\ud800", "is not UTF-8 text"),
        ("TXT", 42, "is not a string"),
    ],
)
def test_dnsendpoint_bad_target_refused_with_reason(record_type: str, target: Any, why: str) -> None:
    found, diagnostics = read(endpoint("example.com", record_type, target))
    assert found == {}
    assert said(diagnostics) == [("spec.endpoints[0].targets[0]", INVALID_OBJECT, "example.com")]
    assert why in diagnostics[0].message


def test_dnsendpoint_bad_srv_target_refused_with_reason() -> None:
    found, diagnostics = read(endpoint("_sip._tcp.example.com", "SRV", "10 5 sip.example.com."))
    assert found == {}
    assert said(diagnostics) == [("spec.endpoints[0].targets[0]", INVALID_OBJECT, "_sip._tcp.example.com")]
    shape = "(priority, weight, port and host, like '10 5 443 sip.example.com.')"
    assert diagnostics[0].message.startswith(f"'10 5 sip.example.com.' is not an SRV target {shape}")


def test_dnsendpoint_bad_target_costs_only_itself_the_others_publish() -> None:
    found, diagnostics = read(endpoint("example.com", "MX", "10 mx1.example.com", "ten mx2.example.com", "20 mx3"))
    assert values(found["example.com"], "MX") == ("10 mx1.example.com", "20 mx3")
    assert said(diagnostics) == [("spec.endpoints[0].targets[1]", INVALID_OBJECT, "example.com")]


def test_dnsendpoint_target_with_a_comment_or_a_second_line_refused_not_cut() -> None:
    found, diagnostics = read(
        endpoint("example.com", "MX", "10 mx.example.com ; backup", "20 a.example.com\n30 b.example.com")
    )
    assert found == {}
    assert [d.field for d in diagnostics] == ["spec.endpoints[0].targets[0]", "spec.endpoints[0].targets[1]"]
    assert "has a comment" in diagnostics[0].message and "has a control character" in diagnostics[1].message


def test_dnsendpoint_dname_and_unknown_types_reported() -> None:
    found, diagnostics = read(
        endpoint("a.example.com", "DNAME", "b.example.com"),
        endpoint("a.example.com", "CAA", '0 issue "ca.example.net"'),
        endpoint("a.example.com", "mx", "10 mx.example.com"),
    )
    assert found == {}
    assert said(diagnostics) == [
        (f"spec.endpoints[{i}].recordType", DNS_NOT_PUBLISHED, "a.example.com") for i in range(3)
    ]
    assert "(in capitals: MX)" in diagnostics[2].message


# ------------------------------------------------------------------------------------------------ one name's rules


def test_dnsendpoint_a_and_cname_at_one_name_addresses_win() -> None:
    found, diagnostics = read(
        endpoint("www.example.com", "CNAME", "web.example.com"),
        endpoint("www.example.com", "A", "10.0.0.1"),
        endpoint("www.example.com", "AAAA", "2001:db8::1"),
    )
    assert found["www.example.com"].addresses == ("10.0.0.1", "2001:db8::1")
    assert found["www.example.com"].records == ()
    assert said(diagnostics) == [("spec.endpoints[0]", DNS_NOT_PUBLISHED, "www.example.com")]
    assert "a CNAME cannot stand beside other records at one name: the A/AAAA records" in diagnostics[0].message


def test_dnsendpoint_cname_beside_any_other_record_refused_the_other_published() -> None:
    found, diagnostics = read(
        endpoint("www.example.com", "TXT", "verification=1"), endpoint("www.example.com", "CNAME", "web.example.com")
    )
    assert found["www.example.com"].records == (RecordValues("TXT", ("verification=1",)),)
    assert said(diagnostics) == [("spec.endpoints[1]", DNS_NOT_PUBLISHED, "www.example.com")]


def test_dnsendpoint_two_cname_targets_refused() -> None:
    found, diagnostics = read(
        endpoint("www.example.com", "CNAME", "a.example.com"),
        endpoint("www.example.com", "CNAME", "b.example.com", "a.example.com."),
    )
    assert found == {}
    assert said(diagnostics) == [("spec.endpoints[1].targets[0]", DNS_NOT_PUBLISHED, "www.example.com")]
    assert "a CNAME has exactly one target, and 2 are given" in diagnostics[0].message


def test_dnsendpoint_one_cname_target_given_twice_is_one_target() -> None:
    found, diagnostics = read(endpoint("www.example.com", "CNAME", "web.example.com", "Web.example.com."))
    assert diagnostics == []
    assert found["www.example.com"].records == (RecordValues("CNAME", ("web.example.com",)),)


# ----------------------------------------------------------------------------------- refused, never silently dropped


def test_dnsendpoint_set_identifier_refused_not_dropped() -> None:
    found, diagnostics = read(
        endpoint("www.example.com", "A", "10.0.0.1", setIdentifier="eu"), endpoint("api.example.com", "A", "10.0.0.2")
    )
    assert set(found) == {"api.example.com"}  # the endpoint is not published as the name's only record set
    assert said(diagnostics) == [("spec.endpoints[0].setIdentifier", DNS_NOT_PUBLISHED, "www.example.com")]
    assert "routing policies" in diagnostics[0].message and "not supported" in diagnostics[0].message


def test_dnsendpoint_provider_specific_refused_not_dropped() -> None:
    properties = [{"name": "alias", "value": "true"}, {"name": "aws/evaluate-target-health", "value": "true"}]
    found, diagnostics = read(endpoint("www.example.com", "CNAME", "lb.example.net", providerSpecific=properties))
    assert found == {}
    assert said(diagnostics) == [("spec.endpoints[0].providerSpecific[0]", DNS_NOT_PUBLISHED, "www.example.com")]
    assert "'alias', 'aws/evaluate-target-health'" in diagnostics[0].message


def test_dnsendpoint_empty_provider_specific_is_nothing_asked() -> None:
    found, diagnostics = read(endpoint("www.example.com", "A", "10.0.0.1", providerSpecific=[], setIdentifier=""))
    assert diagnostics == [] and set(found) == {"www.example.com"}


# --------------------------------------------------------------------------------------------------- into claims


def test_dnsendpoint_records_become_one_claim_per_name_with_every_type_and_the_ttl() -> None:
    records, _ = dnsendpoint_records(
        dnsendpoint(
            endpoint("example.com", "A", "10.0.0.1", recordTTL=60), endpoint("example.com", "MX", "10 mx.x.com")
        )
    )
    found, skipped = claims([], ClassFilter(), sourced=records)
    assert skipped == []
    assert [c.records for c in found] == [
        (RecordSet.of("example.com", "A", 60, ["10.0.0.1"]), RecordSet.of("example.com", "MX", 60, ["10 mx.x.com"]))
    ]


# ------------------------------------------------------------------------------------------------------ zone plan


def endpoint_claim(hostname: str, *records: tuple[str, list[str]], ttl: int = 300) -> Claim:
    sets = tuple(RecordSet.of(hostname, t, ttl, v) for t, v in records)
    return Claim(hostname, OWNER, CREATED, ttl, sets, gated=False)


def zone_with(*records: RecordSet) -> InMemoryProvider:
    provider = InMemoryProvider(["example.test"])
    for record in records:
        provider.write(ZONE, record)
    return provider


def converge(provider: InMemoryProvider, wanted: list[Claim], **options: Any) -> list[Change]:
    plan = zone_changes(wanted, provider.records(ZONE), "cluster-a", **{"types": RECORD_TYPES, **options})
    if plan.changes:
        provider.apply(ZONE, plan.changes)
    return list(plan.changes)


def standing(provider: InMemoryProvider) -> dict[tuple[str, str], tuple[str, ...]]:
    return {r.key: r.values for r in provider.records(ZONE)}


def test_a_type_the_provider_cannot_write_is_refused_with_a_reason_and_the_rest_published() -> None:
    claim = endpoint_claim("web.example.test", ("A", ["10.0.0.1"]), ("MX", ["10 mx.example.net"]))
    plan = zone_changes([claim], [], "cluster-a", types=BASIC_RECORD_TYPES)
    assert [(c.action, c.record.type) for c in plan.changes] == [("create", "A"), ("create", "TXT")]
    assert [(d.reason, d.about, d.subject) for d in plan.refused] == [(DNS_NOT_PUBLISHED, "web.example.test", OWNER)]
    assert plan.refused[0].message == (
        "MX records are not published: this DNSProvider's type writes A, AAAA, CNAME and TXT"
    )


def test_the_ownership_record_lists_the_types_beyond_addresses_and_cname_dnslb_writes() -> None:
    provider = zone_with()
    converge(provider, [endpoint_claim("web.example.test", ("A", ["10.0.0.1"]), ("TXT", ["hi"]), ("MX", ["5 m.x"]))])
    assert standing(provider)[("_dnslb.web.example.test", "TXT")] == (
        "heritage=dnslb,dnslb/owner=cluster-a,dnslb/resource=dnsendpoint/shop/records,dnslb/types=MX+TXT",
    )
    # addresses and CNAMEs only: the ownership record as it always was
    converge(provider, [endpoint_claim("www.example.test", ("CNAME", ["web.example.test"]))])
    assert standing(provider)[("_dnslb.www.example.test", "TXT")] == (
        "heritage=dnslb,dnslb/owner=cluster-a,dnslb/resource=dnsendpoint/shop/records",
    )


def test_deleting_a_name_removes_every_type_of_ours_and_nothing_else() -> None:
    spf = RecordSet.of("web.example.test", "SPF", 300, ['"v=spf1 -all"'])
    provider = zone_with(spf)
    claim = endpoint_claim("web.example.test", ("A", ["10.0.0.1"]), ("TXT", ["hi"]), ("MX", ["5 m.x"]))
    converge(provider, [claim])
    assert converge(provider, [claim]) == []
    deleted = converge(provider, [])
    assert sorted((c.action, c.record.type) for c in deleted) == [("delete", t) for t in ("A", "MX", "TXT", "TXT")]
    assert provider.records(ZONE) == [spf]


def test_an_operators_txt_at_a_name_dnslb_publishes_addresses_for_stays_theirs() -> None:
    theirs = RecordSet.of("web.example.test", "TXT", 300, ["google-site-verification=abc"])
    provider = zone_with(theirs)
    converge(provider, [endpoint_claim("web.example.test", ("A", ["10.0.0.1"]))])
    # a TXT the name's ownership record does not list is in the way of a claim that wants one: refused, not taken
    plan = zone_changes(
        [endpoint_claim("web.example.test", ("A", ["10.0.0.1"]), ("TXT", ["mine"]))],
        provider.records(ZONE),
        "cluster-a",
        types=RECORD_TYPES,
    )
    assert plan.groups == () and "TXT records dnslb does not own stand at this name" in plan.refused[0].message
    converge(provider, [])  # the name is deleted: the operator's TXT stays
    assert provider.records(ZONE) == [theirs]


def test_a_type_the_claim_no_longer_wants_is_deleted_under_sync_and_kept_ours_under_upsert_only() -> None:
    both = endpoint_claim("web.example.test", ("A", ["10.0.0.1"]), ("MX", ["5 m.x"]))
    only_a = endpoint_claim("web.example.test", ("A", ["10.0.0.1"]))
    kept = zone_with()
    converge(kept, [both])
    assert converge(kept, [only_a], policy="upsert-only") == []  # the MX stays, and stays listed as ours
    assert converge(kept, [], policy="sync")[0].record.type == "A"
    assert kept.records(ZONE) == []  # deleted whole: the MX too
    synced = zone_with()
    converge(synced, [both])
    changes = converge(synced, [only_a])
    assert [(c.action, c.record.type) for c in changes] == [("delete", "MX"), ("update", "TXT")]
    assert ("web.example.test", "MX") not in standing(synced)


def test_create_only_lists_a_new_type_in_the_ownership_record() -> None:
    provider = zone_with()
    converge(provider, [endpoint_claim("web.example.test", ("A", ["10.0.0.1"]))])
    changes = converge(
        provider, [endpoint_claim("web.example.test", ("A", ["10.0.0.9"]), ("MX", ["5 m.x"]))], policy="create-only"
    )
    assert [(c.action, c.record.type) for c in changes] == [("create", "MX"), ("update", "TXT")]
    assert standing(provider)[("web.example.test", "A")] == ("10.0.0.1",)  # create-only: no update of what stands
    assert converge(provider, [endpoint_claim("web.example.test", ("MX", ["5 m.x"]))], policy="create-only") == []


def test_a_cname_claim_takes_over_everything_in_its_way_and_rollback_restores_it() -> None:
    nodes = RecordSet.of("www.example.test", "A", 60, ["192.0.2.1", "192.0.2.2"])
    verification = RecordSet.of("www.example.test", "TXT", 60, ["verification=1"])
    provider = zone_with(nodes, verification)
    before = provider.records(ZONE)
    claim = endpoint_claim("www.example.test", ("CNAME", ["web.example.test"]))
    refused = zone_changes([claim], before, "cluster-a", types=RECORD_TYPES)
    assert refused.groups == () and refused.refused[0].message.startswith("A/TXT records dnslb does not own")
    plan = zone_changes([claim], before, "cluster-a", types=RECORD_TYPES, takeover=True)
    assert sorted(plan.replaced) == sorted([nodes, verification])
    provider.apply(ZONE, plan.changes)
    assert {k: v for k, v in standing(provider).items() if k[0] == "www.example.test"} == {
        ("www.example.test", "CNAME"): ("web.example.test",)
    }
    rollback = rollback_changes(plan.replaced, provider.records(ZONE), "cluster-a")
    provider.apply(ZONE, [c for g in rollback for c in g.changes])
    assert provider.records(ZONE) == before


def test_an_mx_claim_leaves_foreign_addresses_at_its_name_alone() -> None:
    nodes = RecordSet.of("mail.example.test", "A", 60, ["192.0.2.1"])
    provider = zone_with(nodes)
    converge(provider, [endpoint_claim(nodes.name, ("MX", ["10 mx.example.net"]))])
    assert standing(provider)[nodes.key] == nodes.values
    assert standing(provider)[(nodes.name, "MX")] == ("10 mx.example.net",)


def test_the_zone_apex_soa_and_ns_are_never_in_the_way_and_cname_or_ns_there_is_refused() -> None:
    soa = RecordSet.of("example.test", "SOA", 3600, ["ns.example.test. hostmaster.example.test. 1 7200 3600 86400 60"])
    apex_ns = RecordSet.of("example.test", "NS", 3600, ["ns.example.test"])
    provider = zone_with(soa, apex_ns)
    claim = endpoint_claim(
        "example.test", ("A", ["10.0.0.1"]), ("MX", ["10 mx.example.net"]), ("NS", ["ns.example.net"])
    )
    plan = zone_changes([claim], provider.records(ZONE), "cluster-a", types=RECORD_TYPES, takeover=True)
    assert plan.replaced == ()
    assert [d.message for d in plan.refused] == [
        "NS records are not published at the zone apex: its SOA and NS are the zone's"
    ]
    provider.apply(ZONE, plan.changes)
    assert standing(provider)[apex_ns.key] == apex_ns.values and standing(provider)[soa.key] == soa.values
    cname = zone_changes(
        [endpoint_claim("example.test", ("CNAME", ["web.example.net"]))], provider.records(ZONE), "cluster-a",
        types=RECORD_TYPES, takeover=True,
    )  # fmt: skip
    assert "CNAME records are not published at the zone apex" in cname.refused[0].message


def test_a_claim_with_a_cname_beside_addresses_loses_the_cname_in_the_plan_too() -> None:
    claim = endpoint_claim("www.example.test", ("A", ["10.0.0.1"]), ("CNAME", ["web.example.test"]))
    plan = zone_changes([claim], [], "cluster-a", types=RECORD_TYPES)
    assert [c.record.type for c in plan.changes] == ["A", "TXT"]
    assert plan.refused[0].message == "a CNAME cannot stand beside other records at one name: the A records win"
    two = endpoint_claim("two.example.test", ("CNAME", ["a.example.test", "b.example.test"]))
    assert "exactly one target" in zone_changes([two], [], "cluster-a", types=RECORD_TYPES).refused[0].message


def test_names_under_the_ownership_prefix_are_refused_by_the_plan() -> None:
    plan = zone_changes([endpoint_claim("_dnslb.web.example.test", ("TXT", ["x"]))], [], "cluster-a")
    assert plan.groups == () and "ownership records" in plan.refused[0].message


# ------------------------------------------------------------------------------------------- canonical values


@pytest.mark.parametrize(
    ("type_", "given", "canonical", "absolute"),
    [
        ("MX", "10 Mail.Example.COM.", "10 mail.example.com", "10 mail.example.com."),
        ("SRV", "0 0 0 .", "0 0 0 .", "0 0 0 ."),
        ("NAPTR", '100 10 S SIP+D2U "" _SIP._udp.x.com', '100 10 "S" "SIP+D2U" "" _sip._udp.x.com',
         '100 10 "S" "SIP+D2U" "" _sip._udp.x.com.'),
        ("NS", "NS1.x.com.", "ns1.x.com", "ns1.x.com."),
        ("AAAA", "2001:DB8:0::1", "2001:db8::1", "2001:db8::1"),
        ("TXT", '"a" "b c"', "ab c", '"ab c"'),
    ],
)  # fmt: skip
def test_canonical_values_are_one_spelling_and_absolute_values_read_back_as_them(
    type_: str, given: str, canonical: str, absolute: str
) -> None:
    assert canonical_value(type_, given) == canonical
    assert absolute_value(type_, canonical) == absolute
    assert canonical_value(type_, absolute) == canonical


def test_a_providers_record_types_are_never_lowered_by_the_operators_limits() -> None:
    limits = Limits(max_bytes=1000, record_types=RECORD_TYPES)
    assert limits.lowered(Limits(max_bytes=10)).record_types == RECORD_TYPES
    assert Limits().record_types == BASIC_RECORD_TYPES


# ------------------------------------------------------------------------------------------------------ properties

_EVERY_TYPE = dnsendpoint(
    endpoint("a.example.com", "A", "10.0.0.1", recordTTL=60),
    endpoint("a.example.com", "MX", "10 mx.example.com", "20 mx2.example.com."),
    endpoint("a.example.com", "TXT", "v=spf1 -all", '"quoted" "two"'),
    endpoint("_sip._tcp.example.com", "SRV", "10 5 5060 sip.example.com."),
    endpoint("www.example.com", "CNAME", "a.example.com"),
    endpoint("www.example.com", "A", "10.0.0.2"),
    endpoint("n.example.com", "NAPTR", '100 10 "S" "SIP+D2U" "" _sip._udp.example.com.'),
    endpoint("d.example.com", "NS", "ns1.example.net"),
    endpoint("1.0.0.10.in-addr.arpa", "PTR", "a.example.com"),
    endpoint("p.example.com", "A", "10.0.0.3", providerSpecific=[{"name": "alias", "value": "true"}]),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(obj=mutated(_EVERY_TYPE))
def test_a_dnsendpoint_of_every_type_broken_anywhere_never_raises(obj: Any) -> None:
    _well_formed(dnsendpoint_records(obj), ("DNSEndpoint",))
    records, _ = dnsendpoint_records(obj)
    for record in records:
        for values_ in record.records:
            assert all(canonical_value(values_.type, v) == v for v in values_.values if values_.type != "TXT")
