"""The DNS gate and what each hostname came to: pure rules, as tables."""

from __future__ import annotations

from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, VIP_ANNOUNCED, VIP_UNANNOUNCED, Diagnostic
from dnslb.core.dns import gate
from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import claims
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.objects import ObjectKey, service_ref
from tests.builders import make_service
from tests.unit.test_dns_engine import WEB, claim, converge, zone_with

API = ObjectKey("default", "api")


def test_split_holds_back_claims_whose_vips_no_node_announces() -> None:
    web, api = claim("web.example.test", "10.0.0.1", "fd00::1"), claim("api.example.test", "10.0.0.2", service=API)
    assert gate.split([web, api], None) == ([web, api], [])
    assert gate.split([web, api], frozenset()) == ([], [web, api])
    assert gate.split([web, api], {"fd00::1"}) == ([web], [api])  # one VIP of a dual-stack Service is enough


def test_a_waiting_claim_writes_nothing_and_says_why_once_per_name() -> None:
    plan = zone_changes([], [], "cluster-a", waiting=[claim()])
    assert plan.groups == ()
    (pending,) = plan.pending
    assert pending.reason == "DNSPending" and pending.severity == "Normal"
    assert pending.describe() == "web.example.test: no node announces 10.0.0.1 yet; published once one does"


def test_a_published_name_is_never_withdrawn_or_changed_while_its_claim_waits() -> None:
    provider = zone_with()
    converge(provider, [claim()])
    zone = provider.zones()[0]
    standing = provider.records(zone)
    # its VIP stops being announced, then the Service even moves to an unannounced VIP: what stands stays
    for waiting in (claim(), claim("web.example.test", "10.0.0.9")):
        plan = zone_changes([], provider.records(zone), "cluster-a", waiting=[waiting])
        assert plan.changes == () and plan.pending == ()
    assert provider.records(zone) == standing


def test_publications_one_line_per_hostname() -> None:
    web, www, api = claim(), claim("www.example.test"), claim("api.example.test", "10.0.0.2", service=API)
    refused = Diagnostic(
        service_ref(WEB), DNS_NOT_PUBLISHED, "owned by another dnslb (owner b)", about="www.example.test"
    )
    unserved = Diagnostic(service_ref(API), DNS_NOT_PUBLISHED, gate.UNSERVED, about="api.example.test")
    found = gate.publications(
        [web, www, api],
        [refused, unserved],
        {("web.example.test", service_ref(WEB))},
        announced=frozenset({"10.0.0.1"}),
    )
    assert found[WEB].message == (
        "web.example.test: published\nwww.example.test: refused: owned by another dnslb (owner b)"
    )
    assert (found[WEB].ok, found[WEB].reason) == (False, "NotPublished")
    assert found[API].hostnames == (gate.HostnameState("api.example.test", gate.REFUSED, gate.UNSERVED),)

    waiting = gate.publications([api], [], set(), announced=frozenset())
    assert waiting[API].reason == "Pending"
    assert waiting[API].message == "api.example.test: pending: no node announces 10.0.0.2 yet; published once one does"

    lost = gate.publications([web], [], {("web.example.test", service_ref(WEB))}, announced=frozenset())
    assert lost[WEB].message == "web.example.test: unannounced: no node announces 10.0.0.1; the record is kept"
    assert lost[WEB].reason == "VIPUnannounced"
    # the same, with no provider gating (announced None): published
    assert gate.publications([web], [], {("web.example.test", service_ref(WEB))}, None)[WEB].ok


def test_a_published_name_is_published_whatever_another_provider_says() -> None:
    other = Diagnostic(service_ref(WEB), DNS_NOT_PUBLISHED, "foreign", about="web.example.test")
    found = gate.publications([claim()], [other], {("web.example.test", service_ref(WEB))}, None)
    assert found[WEB].message == "web.example.test: published"


def test_a_condition_message_reads_back_and_garbage_is_unknown() -> None:
    publication = gate.publications([claim()], [], set(), announced=frozenset())[WEB]
    assert gate.read_message(publication.message) == publication.hostnames
    assert gate.read_message("web.example.test: published\nnot a line\n\n") == (
        gate.HostnameState("web.example.test", gate.PUBLISHED),
        gate.HostnameState("", gate.UNKNOWN, "not a line"),
    )


def test_transitions_say_a_loss_and_a_return_once_each() -> None:
    published = gate.Publication((gate.HostnameState("web.example.test", gate.PUBLISHED),))
    lost = gate.Publication((gate.HostnameState("web.example.test", gate.UNANNOUNCED, "no node announces 10.0.0.1"),))
    (warning,) = gate.transitions(WEB, published.hostnames, lost)
    assert (warning.reason, warning.severity, warning.about) == (VIP_UNANNOUNCED, "Warning", "web.example.test")
    assert gate.transitions(WEB, lost.hostnames, lost) == []
    (back,) = gate.transitions(WEB, lost.hostnames, published)
    assert (back.reason, back.severity) == (VIP_ANNOUNCED, "Normal")
    assert gate.transitions(WEB, (), published) == []


def test_the_later_service_of_a_blue_green_pair_says_the_shared_name_as_the_holders() -> None:
    green = ObjectKey("default", "green")
    services = [
        make_service("web", created="2026-01-01T00:00:00Z", ingress=("10.0.0.1",),
                     annotations={"dnslb.io/hostname": "www.example.test", "dnslb.io/shared-hostnames": "true"}),
        make_service("green", created="2026-01-02T00:00:00Z", ingress=("10.0.0.2",),
                     annotations={"dnslb.io/hostname": "www.example.test", "dnslb.io/shared-hostnames": "true"}),
    ]  # fmt: skip
    found, said = claims(services, ClassFilter())
    assert [c.records[0].values for c in found] == [("10.0.0.1", "10.0.0.2")]
    pending = gate.publications(found, said, set(), None)
    shared = "shared with the earlier Service default/web"
    assert pending[green].message == f"www.example.test: pending: {shared}; not written yet"
    published = gate.publications(found, said, {("www.example.test", service_ref(WEB))}, None)
    assert published[WEB].ok and published[green].ok
    assert published[green].message == f"www.example.test: published: {shared}"
