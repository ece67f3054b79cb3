"""Drop-in semantics: an Ingress or a Gateway API route written for external-dns means the same in dnslb.

One test per behaviour, named after it (docs/compatibility.md cites them by name); each docstring names the
external-dns file (kubernetes-sigs/external-dns, `source/`) whose behaviour it pins. Where dnslb differs on purpose,
the test says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, Diagnostic
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources import ingress_records
from dnslb.core.sources.gateway import RouteKind
from tests.unit.test_sources import GW, gateway, ingress, listener, published, read_route, route

ALPHA, GA = "external-dns.alpha.kubernetes.io/", "external-dns.kubernetes.io/"
PREFIXES = pytest.mark.parametrize("prefix", [ALPHA, GA])
INGRESS = ObjectRef("Ingress", ObjectKey("shop", "web"))
ROUTE = ObjectRef("HTTPRoute", ObjectKey("infra", "r"))
GW2 = ObjectKey("infra", "gw2")
ALL = {"namespaces": {"from": "All"}}


def said(diagnostics: list[Diagnostic]) -> list[tuple[str, str, str, str]]:
    return [(d.reason, d.severity, d.field, d.about) for d in diagnostics]


# ---------------------------------------------------------------------------------- Ingress (source/ingress.go)


def test_ingress_tls_only_host_published_by_default() -> None:
    """ingress.go endpointsFromIngress: spec.tls[].hosts are read unless --ignore-ingress-tls-spec."""
    obj = ingress("web.example.com", tls=[{"hosts": ["secure.example.com"], "secretName": "cert"}])
    records, diagnostics = ingress_records(obj, set())
    assert list(published(records)) == ["web.example.com", "secure.example.com"]
    assert diagnostics == []


def test_ingress_tls_hosts_off_reports_tls_only_host_as_not_published() -> None:
    """ingress.go, --ignore-ingress-tls-spec: TLS hosts are left out; dnslb says which, so `dnslb plan` shows it."""
    obj = ingress("web.example.com", tls=[{"hosts": ["web.example.com", "Secure.example.com."]}])
    records, diagnostics = ingress_records(obj, set(), tls_hosts=False)
    assert list(published(records)) == ["web.example.com"]
    assert [(d.reason, d.field, d.about, d.message) for d in diagnostics] == [
        (DNS_NOT_PUBLISHED, "spec.tls[0].hosts[1]", "secure.example.com",
         "TLS hosts are not published: --ignore-ingress-tls-spec"),
    ]  # fmt: skip


def test_ingress_tls_hosts_off_keeps_a_tls_host_that_a_rule_or_annotation_names() -> None:
    """ingress.go: the switch drops only the TLS section's endpoints; the rule's and annotation's stay."""
    tls = [{"hosts": ["web.example.com", "x.example.com"]}]
    obj = ingress("web.example.com", tls=tls, annotations={f"{GA}hostname": "x.example.com"})
    records, diagnostics = ingress_records(obj, set(), tls_hosts=False)
    assert list(published(records)) == ["web.example.com", "x.example.com"] and diagnostics == []


@pytest.mark.parametrize("spec", [{}, {"ingressClassName": ""}])
def test_ingress_legacy_class_annotation_counts_when_ingress_class_name_is_empty(spec: dict[str, Any]) -> None:
    """ingress.go filterByIngressClass: without spec.ingressClassName, kubernetes.io/ingress.class is matched."""
    obj = ingress("web.example.com", annotations={"kubernetes.io/ingress.class": "nginx"}, **spec)
    assert list(published(ingress_records(obj, {"nginx"})[0])) == ["web.example.com"]
    assert ingress_records(obj, {"traefik"}) == ([], [])


def test_ingress_class_name_wins_over_legacy_class_annotation() -> None:
    """ingress.go filterByIngressClass: a set ingressClassName is the class; the annotation is not looked at."""
    obj = ingress("web.example.com", annotations={"kubernetes.io/ingress.class": "nginx"}, ingressClassName="traefik")
    assert ingress_records(obj, {"nginx"}) == ([], [])
    assert list(published(ingress_records(obj, {"traefik"})[0])) == ["web.example.com"]


def test_ingress_of_no_class_is_dropped_by_a_class_filter_and_kept_without_one() -> None:
    """ingress.go filterByIngressClass: no filter keeps every Ingress; a filter drops one of no class."""
    obj = ingress("web.example.com")
    assert ingress_records(obj, {"nginx"}) == ([], [])
    assert list(published(ingress_records(obj, set())[0])) == ["web.example.com"]


@PREFIXES
@pytest.mark.parametrize("value", ["kops", ""])
def test_ingress_controller_annotation_naming_another_controller_is_skipped_and_said(prefix: str, value: str) -> None:
    """annotations/processors.go IsControllerMismatch: present and not `dns-controller` (empty too): skipped."""
    obj = ingress("web.example.com", "bad host", annotations={f"{prefix}controller": value})
    records, diagnostics = ingress_records(obj, set())
    assert records == []
    assert said(diagnostics) == [(DNS_NOT_PUBLISHED, "Normal", f"metadata.annotations[{prefix}controller]", "")]
    assert diagnostics[0].subject == INGRESS
    assert diagnostics[0].message == f"skipped: controller annotation names '{value}', not 'dns-controller'"


@PREFIXES
def test_ingress_controller_annotation_dns_controller_is_ours(prefix: str) -> None:
    """annotations/annotations.go ControllerValue: `dns-controller` is the value external-dns takes as its own."""
    obj = ingress("web.example.com", annotations={f"{prefix}controller": "dns-controller"})
    assert ingress_records(obj, set()) == ingress_records(ingress("web.example.com"), set())


def test_ingress_of_another_class_with_a_foreign_controller_says_nothing() -> None:
    """Another class's Ingress is not dnslb's to talk about, whatever its controller annotation says."""
    obj = ingress("web.example.com", annotations={f"{GA}controller": "kops"}, ingressClassName="traefik")
    assert ingress_records(obj, {"nginx"}) == ([], [])


@PREFIXES
def test_ingress_target_annotation_overrides_status_addresses(prefix: str) -> None:
    """ingress.go: TargetsFromTargetAnnotation first; the status's addresses only without it."""
    obj = ingress("web.example.com", ips=("10.0.0.1",), annotations={f"{prefix}target": "192.0.2.1,2001:db8::1"})
    records, diagnostics = ingress_records(obj, set())
    assert published(records) == {"web.example.com": ("192.0.2.1", "2001:db8::1")} and diagnostics == []


@PREFIXES
def test_ingress_hostname_source_annotation_only(prefix: str) -> None:
    """ingress.go: ingress-hostname-source=annotation-only publishes the hostname annotation's names alone."""
    annotations = {f"{prefix}ingress-hostname-source": "annotation-only", f"{GA}hostname": "x.example.com"}
    obj = ingress("web.example.com", tls=[{"hosts": ["secure.example.com"]}], annotations=annotations)
    assert list(published(ingress_records(obj, set())[0])) == ["x.example.com"]
    assert ingress_records(obj, set(), tls_hosts=False)[1] == []  # the annotation, not the switch, drops the TLS host


@PREFIXES
def test_ingress_hostname_source_defined_hosts_only(prefix: str) -> None:
    """ingress.go: ingress-hostname-source=defined-hosts-only publishes the rules' and TLS hosts alone."""
    annotations = {f"{prefix}ingress-hostname-source": "Defined-Hosts-Only", f"{GA}hostname": "x.example.com"}
    obj = ingress("web.example.com", tls=[{"hosts": ["secure.example.com"]}], annotations=annotations)
    assert list(published(ingress_records(obj, set())[0])) == ["web.example.com", "secure.example.com"]


# ------------------------------------------------------------------- Gateway routes (source/gateway.go, gateway_*.go)


@PREFIXES
def test_route_hostname_annotation_adds_names(prefix: str) -> None:
    """gateway.go hosts: the hostname annotation's names join spec.hostnames, matched with listeners alike."""
    obj = route("a.example.com", annotations={f"{prefix}hostname": "b.example.com"})
    records, diagnostics = read_route(obj, (GW, gateway(listener("http"))))
    assert list(published(records)) == ["a.example.com", "b.example.com"] and diagnostics == []


@pytest.mark.parametrize(("kind", "protocol"), [("TCPRoute", "TCP"), ("UDPRoute", "UDP")])
def test_tcproute_named_only_by_annotation(kind: RouteKind, protocol: str) -> None:
    """gateway_tcproute.go, gateway_udproute.go: Hostnames() is nil, so on a listener without a hostname the
    annotation is the only name; a spec.hostnames in the manifest is not read. UDPRoute is a route kind."""
    gw = gateway(listener("l", protocol=protocol))
    assert read_route(route("spec.example.com", kind=kind), (GW, gw), kind=kind) == ([], [])
    obj = route("spec.example.com", kind=kind, annotations={f"{GA}hostname": "db.example.com"})
    records, diagnostics = read_route(obj, (GW, gw), kind=kind)
    assert list(published(records)) == ["db.example.com"] and diagnostics == []
    assert records[0].owner.kind == kind


def test_route_inherits_listener_hostname() -> None:
    """gateway.go hosts: a route without spec.hostnames takes the hostname of each listener it attaches to."""
    gw = gateway(listener("a", hostname="a.example.com"), listener("b", port=81, hostname="*.apps.example.com"))
    records, diagnostics = read_route(route(), (GW, gw))
    assert list(published(records)) == ["a.example.com", "*.apps.example.com"] and diagnostics == []


def test_route_and_listener_without_hostnames_give_no_name() -> None:
    """gateway.go matchRouteToListener: gwHost == "" && rtHost == "" names nothing."""
    assert read_route(route(), (GW, gateway(listener("http")))) == ([], [])


def test_route_not_accepted_publishes_nothing() -> None:
    """gateway.go resolveParentRef: gwRouteIsAccepted, the status.parents entry's Accepted=True, is required."""
    obj = route("a.example.com", accepted=[])
    assert read_route(obj, (GW, gateway(listener("http")))) == ([], [])


def test_route_status_parent_not_in_spec_parent_refs_is_ignored_despite_accepted() -> None:
    """gateway.go gwRouteHasParentRef: an accepted status parent that spec.parentRefs does not name is ignored."""
    gws = (GW, gateway(listener("http"))), (GW2, gateway(listener("http"), addresses=[{"value": "10.0.0.9"}]))
    accepted = [{"name": "gw", "namespace": "infra"}, {"name": "gw2", "namespace": "infra"}]
    obj = route("a.example.com", parents=[{"name": "gw", "namespace": "infra"}], accepted=accepted)
    assert published(read_route(obj, *gws)[0]) == {"a.example.com": ("10.0.0.1",)}


def test_route_section_name_selects_listener_despite_accepted() -> None:
    """gateway.go resolveParentRef: sectionName chooses the listener; another's hostname is not shared."""
    gw = gateway(listener("a", hostname="a.example.com"), listener("b", port=81, hostname="b.example.com"))
    obj = route(parents=[{"name": "gw", "sectionName": "b"}])
    assert list(published(read_route(obj, (GW, gw))[0])) == ["b.example.com"]
    obj = route(parents=[{"name": "gw", "sectionName": "c"}])  # accepted on a listener the Gateway does not have
    assert read_route(obj, (GW, gw)) == ([], [])


def test_route_parent_ref_port_selects_listener_despite_accepted() -> None:
    """gateway.go matchRouteToListener: parentRefs[].port must be the listener's port (GEP-957)."""
    gw = gateway(listener("a", hostname="a.example.com"), listener("b", port=8080, hostname="b.example.com"))
    assert list(published(read_route(route(parents=[{"name": "gw", "port": 8080}]), (GW, gw))[0])) == ["b.example.com"]
    assert read_route(route(parents=[{"name": "gw", "port": 9090}]), (GW, gw)) == ([], [])


@pytest.mark.parametrize(
    ("kind", "fits"),
    [
        ("HTTPRoute", {"HTTP", "HTTPS"}),
        ("GRPCRoute", {"HTTP", "HTTPS"}),
        ("TLSRoute", {"TLS"}),
        ("TCPRoute", {"TCP", "TLS"}),  # as external-dns gwProtocolMatches: a TLS listener carries TCP routes
        ("UDPRoute", {"UDP"}),
    ],
)
def test_route_listener_protocol_must_fit_route_kind_despite_accepted(kind: RouteKind, fits: set[str]) -> None:
    """gateway.go gwProtocolMatches, with each gateway_*route.go's Protocol()."""
    for protocol in ("HTTP", "HTTPS", "TLS", "TCP", "UDP"):
        obj = route(kind=kind, annotations={f"{GA}hostname": "a.example.com"})
        records, _ = read_route(obj, (GW, gateway(listener("l", protocol=protocol))), kind=kind)
        assert bool(records) is (protocol in fits), protocol


def test_route_allowed_routes_same_refuses_other_namespace_despite_accepted() -> None:
    """gateway.go routeIsAllowed: allowedRoutes.namespaces.from defaults to Same, the Gateway's namespace."""
    parents = [{"name": "gw", "namespace": "infra"}]
    allowances: list[dict[str, Any]] = [{}, {"namespaces": {"from": "Same"}}]
    for allowed in allowances:
        gw = gateway(listener("http", **allowed))
        records, diagnostics = read_route(route("a.example.com", namespace="shop", parents=parents), (GW, gw))
        assert records == [] and [(d.field, d.about) for d in diagnostics] == [("spec.hostnames[0]", "a.example.com")]
        assert read_route(route("a.example.com", namespace="infra", parents=parents), (GW, gw))[0]


def test_route_allowed_routes_all_admits_other_namespace() -> None:
    """gateway.go routeIsAllowed: from All takes a route of any namespace."""
    obj = route("a.example.com", namespace="shop", parents=[{"name": "gw", "namespace": "infra"}])
    assert list(published(read_route(obj, (GW, gateway(listener("http", namespaces=ALL["namespaces"]))))[0])) == [
        "a.example.com"
    ]


def test_route_allowed_routes_selector_matches_namespace_labels_despite_accepted() -> None:
    """gateway.go routeIsAllowed: from Selector matches the route's Namespace's labels."""
    selector = {"from": "Selector", "selector": {"matchLabels": {"dns": "public"}}}
    gw = gateway(listener("http", namespaces=selector))
    labels = {"shop": {"dns": "public"}, "blog": {"dns": "private"}}
    for namespace, admitted in (("shop", True), ("blog", False), ("unknown", False)):
        obj = route("a.example.com", namespace=namespace, parents=[{"name": "gw", "namespace": "infra"}])
        records, _ = read_route(obj, (GW, gw), labels=lambda ns: labels.get(ns, {}))
        assert bool(records) is admitted, namespace


def test_route_allowed_routes_kinds_refuse_other_kind_despite_accepted() -> None:
    """gateway.go routeIsAllowed: allowedRoutes.kinds, group defaulting to gateway.networking.k8s.io."""
    gw = gateway(listener("https", protocol="HTTPS", kinds=[{"kind": "GRPCRoute"}]))
    records, diagnostics = read_route(route("a.example.com"), (GW, gw))
    assert records == [] and [(d.field, d.about) for d in diagnostics] == [("spec.hostnames[0]", "a.example.com")]
    assert read_route(route("a.example.com", kind="GRPCRoute"), (GW, gw), kind="GRPCRoute")[0]


def test_route_hostnames_under_a_wildcard_listener_are_published_at_any_depth() -> None:
    """gateway.go gwMatchingHost; Gateway API: `*.example.com` takes test.example.com and foo.test.example.com."""
    gw = gateway(listener("http", hostname="*.example.com"))
    obj = route("test.example.com", "foo.test.example.com", "example.com", "test.example.net")
    records, diagnostics = read_route(obj, (GW, gw))
    assert list(published(records)) == ["test.example.com", "foo.test.example.com"]
    assert [(d.field, d.about) for d in diagnostics] == [
        ("spec.hostnames[2]", "example.com"),
        ("spec.hostnames[3]", "test.example.net"),
    ]


def test_route_wildcard_hostname_takes_the_more_specific_listener_hostname() -> None:
    """gateway.go gwMatchingHost: the intersection is the more specific of the two names."""
    gw = gateway(listener("a", hostname="api.example.com"), listener("b", port=81, hostname="*.apps.example.com"))
    records, _ = read_route(route("*.example.com"), (GW, gw))
    assert list(published(records)) == ["api.example.com", "*.apps.example.com"]


@PREFIXES
def test_route_controller_annotation_naming_another_controller_is_skipped_and_said(prefix: str) -> None:
    """annotations/processors.go IsControllerMatch, indexed on every route informer in gateway.go."""
    obj = route("a.example.com", annotations={f"{prefix}controller": "kops"})
    records, diagnostics = read_route(obj, (GW, gateway(listener("http"))))
    assert records == []
    assert said(diagnostics) == [(DNS_NOT_PUBLISHED, "Normal", f"metadata.annotations[{prefix}controller]", "")]
    assert diagnostics[0].subject == ROUTE and "names 'kops'" in diagnostics[0].message
    obj = route("a.example.com", annotations={f"{prefix}controller": "dns-controller"})
    assert read_route(obj, (GW, gateway(listener("http"))))[0]


@PREFIXES
def test_gateway_controller_annotation_naming_another_controller_publishes_no_route_and_is_said(prefix: str) -> None:
    """gateway.go: the Gateway informer is indexed with IsControllerMatch, so its routes find no Gateway there."""
    other = gateway(listener("http"), annotations={f"{prefix}controller": "kops"})
    records, diagnostics = read_route(route("a.example.com"), (GW, other))
    assert records == []
    assert said(diagnostics) == [(DNS_NOT_PUBLISHED, "Normal", f"metadata.annotations[{prefix}controller]", "")]
    assert diagnostics[0].subject == ObjectRef("Gateway", GW)
    # through another parent the route still publishes, and its hostnames are not said to go nowhere
    gw2 = gateway(listener("http"), addresses=[{"value": "10.0.0.9"}])
    parents = [{"name": "gw", "namespace": "infra"}, {"name": "gw2", "namespace": "infra"}]
    records, diagnostics = read_route(route("a.example.com", parents=parents), (GW, other), (GW2, gw2))
    assert published(records) == {"a.example.com": ("10.0.0.9",)}
    assert [d.subject for d in diagnostics] == [ObjectRef("Gateway", GW)]


@PREFIXES
def test_gateway_target_annotation_overrides_status_addresses_for_attached_routes(prefix: str) -> None:
    """gateway.go newGatewayListenerObject: the Gateway's target annotation replaces its status.addresses."""
    gw = gateway(listener("http"), annotations={f"{prefix}target": "192.0.2.7"})
    records, diagnostics = read_route(route("a.example.com", "b.example.com"), (GW, gw))
    assert published(records) == {"a.example.com": ("192.0.2.7",), "b.example.com": ("192.0.2.7",)}
    assert diagnostics == []


@PREFIXES
@pytest.mark.parametrize("kind", ["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"])
def test_route_gateway_hostname_source_annotation_only(prefix: str, kind: RouteKind) -> None:
    """gateway.go hosts: gateway-hostname-source=annotation-only, on every route kind: the annotation's names only,
    no spec.hostnames and no listener hostname."""
    protocol = {"HTTPRoute": "HTTP", "GRPCRoute": "HTTPS", "TLSRoute": "TLS", "TCPRoute": "TCP", "UDPRoute": "UDP"}
    gw = gateway(listener("l", protocol=protocol[kind]), listener("m", protocol=protocol[kind], port=81,
                                                                   hostname="*.example.net"))  # fmt: skip
    annotations = {f"{prefix}gateway-hostname-source": "annotation-only", f"{GA}hostname": "x.example.com"}
    records, _ = read_route(route("a.example.com", kind=kind, annotations=annotations), (GW, gw), kind=kind)
    assert list(published(records)) == ["x.example.com"]


@PREFIXES
def test_route_gateway_hostname_source_defined_hosts_only(prefix: str) -> None:
    """gateway.go hosts: gateway-hostname-source=defined-hosts-only: spec.hostnames only, the annotation's left out."""
    annotations = {f"{prefix}gateway-hostname-source": "defined-hosts-only", f"{GA}hostname": "x.example.com"}
    records, diagnostics = read_route(route("a.example.com", annotations=annotations), (GW, gateway(listener("h"))))
    assert list(published(records)) == ["a.example.com"] and diagnostics == []


@pytest.mark.parametrize("kind", ["HTTPRoute", "TCPRoute"])
def test_route_defined_hosts_only_without_hostnames_takes_no_listener_hostname(kind: RouteKind) -> None:
    """gateway.go hosts: with defined-hosts-only, a route without spec.hostnames gets no "" (the listeners' names):
    it publishes nothing; dnslb says so."""
    protocol = "HTTP" if kind == "HTTPRoute" else "TCP"
    gw = gateway(listener("l", protocol=protocol, hostname="a.example.com"))
    annotations = {f"{GA}gateway-hostname-source": "defined-hosts-only", f"{GA}hostname": "x.example.com"}
    records, diagnostics = read_route(route(kind=kind, annotations=annotations), (GW, gw), kind=kind)
    assert records == []
    assert [(d.reason, d.field) for d in diagnostics] == [
        (DNS_NOT_PUBLISHED, f"metadata.annotations[{GA}gateway-hostname-source]")
    ]
    assert list(published(read_route(route(kind=kind), (GW, gw), kind=kind)[0])) == ["a.example.com"]


def test_route_unknown_hostname_source_falls_back_to_both_and_is_said() -> None:
    """gateway.go hosts: an unknown gateway-hostname-source warns and behaves as if absent."""
    annotations = {f"{GA}gateway-hostname-source": "rules", f"{GA}hostname": "x.example.com"}
    records, diagnostics = read_route(route(annotations=annotations), (GW, gateway(listener("h", hostname="a.b.c"))))
    assert list(published(records)) == ["a.b.c"]  # the listener's; x.example.com is no name the listener takes
    assert [d.field for d in diagnostics] == [
        f"metadata.annotations[{GA}gateway-hostname-source]",
        f"metadata.annotations[{GA}hostname]",
    ]
