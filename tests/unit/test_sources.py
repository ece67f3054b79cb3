"""The sources, pure: Ingresses, Gateway API routes and DNSEndpoints into the hostnames they want and their IPs."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, INVALID_OBJECT, Diagnostic
from dnslb.core.dns.hostnames import hostname_problem
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources import (
    SourceRecord,
    dnsendpoint_records,
    gateway_view,
    ingress_records,
    intersection,
    route_records,
)
from dnslb.core.sources.dnsendpoint import name_problem
from dnslb.core.sources.gateway import RouteKind

CREATED = "2026-01-01T00:00:00Z"
GW = ObjectKey("infra", "gw")
Records = tuple[list[SourceRecord], list[Diagnostic]]


def published(records: list[SourceRecord]) -> dict[str, tuple[str, ...]]:
    return {r.hostname: r.addresses for r in records}


def fields(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.field for d in diagnostics]


def metadata(name: str, namespace: str, annotations: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "creationTimestamp": CREATED, "annotations": dict(annotations or {})}


# ---------------------------------------------------------------------------------------------------------- Ingress


def ingress(
    *hosts: Any,
    ips: tuple[str, ...] = ("10.0.0.1",),
    annotations: Mapping[str, Any] | None = None,
    lb_hostnames: tuple[str, ...] = (),
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata("web", "shop", annotations),
        "spec": {"rules": [{"host": h, "http": {"paths": []}} for h in hosts], **spec},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips] + [{"hostname": h} for h in lb_hostnames]}},
    }


def test_an_ingress_points_its_rule_hosts_at_the_ips_in_its_status() -> None:
    obj = ingress("Web.Example.com", "api.example.com.", ips=("10.0.0.10", "2001:db8::0:1", "10.0.0.9"))
    records, diagnostics = ingress_records(obj, set())
    assert diagnostics == []
    assert records == [
        SourceRecord(ObjectRef("Ingress", ObjectKey("shop", "web")), CREATED, name, addresses, None)
        for name, addresses in [
            ("web.example.com", ("10.0.0.9", "10.0.0.10", "2001:db8::1")),
            ("api.example.com", ("10.0.0.9", "10.0.0.10", "2001:db8::1")),
        ]
    ]


def test_an_ingress_names_each_hostname_once_and_takes_wildcards_and_rules_without_a_host() -> None:
    obj = ingress("a.example.com", "*.example.com", "A.example.com", "", None)
    assert list(published(ingress_records(obj, set())[0])) == ["a.example.com", "*.example.com"]


@pytest.mark.parametrize(
    ("annotations", "names"),
    [
        ({"dnslb.io/hostname": "x.example.com, y.example.com"}, ["web.example.com", "x.example.com", "y.example.com"]),
        ({"external-dns.alpha.kubernetes.io/hostname": "x.example.com"}, ["web.example.com", "x.example.com"]),
        ({"external-dns.kubernetes.io/hostname": "x.example.com,"}, ["web.example.com", "x.example.com"]),
        # the first of the names present wins, as for Services
        ({"dnslb.io/hostname": "x.example.com", "external-dns.alpha.kubernetes.io/hostname": "y.example.com"},
         ["web.example.com", "x.example.com"]),
        ({"external-dns.alpha.kubernetes.io/ingress-hostname-source": "annotation-only",
          "dnslb.io/hostname": "x.example.com"}, ["x.example.com"]),
        ({"external-dns.alpha.kubernetes.io/ingress-hostname-source": "Defined-Hosts-Only",
          "dnslb.io/hostname": "x.example.com"}, ["web.example.com"]),
    ],
)  # fmt: skip
def test_annotations_add_hostnames_to_an_ingress(annotations: dict[str, str], names: list[str]) -> None:
    records, diagnostics = ingress_records(ingress("web.example.com", annotations=annotations), set())
    assert list(published(records)) == names
    assert diagnostics == []


def test_an_unknown_hostname_source_is_reported_and_both_sources_apply() -> None:
    annotations = {"external-dns.alpha.kubernetes.io/ingress-hostname-source": "rules", "dnslb.io/hostname": "x.a.b"}
    records, diagnostics = ingress_records(ingress("web.example.com", annotations=annotations), set())
    assert list(published(records)) == ["web.example.com", "x.a.b"]
    assert fields(diagnostics) == ["metadata.annotations[external-dns.alpha.kubernetes.io/ingress-hostname-source]"]


@pytest.mark.parametrize(
    ("class_name", "legacy", "classes", "ours"),
    [
        (None, None, set(), True),
        ("nginx", None, set(), True),
        ("nginx", None, {"nginx"}, True),
        ("nginx", None, {"traefik"}, False),
        (None, "nginx", {"nginx", "traefik"}, True),
        (None, "haproxy", {"nginx"}, False),
        (None, None, {"nginx"}, False),  # as external-dns: an Ingress of no class matches no filter
        ("traefik", "nginx", {"nginx"}, False),  # ingressClassName wins over the annotation
        ("", "nginx", {"nginx"}, True),
    ],
)
def test_an_ingress_is_read_only_when_its_class_is_one_of_the_filter(
    class_name: str | None, legacy: str | None, classes: set[str], ours: bool
) -> None:
    annotations = {"kubernetes.io/ingress.class": legacy} if legacy is not None else {}
    spec: dict[str, Any] = {"ingressClassName": class_name} if class_name is not None else {}
    obj = ingress("web.example.com", "bad host", annotations=annotations, **spec)
    records, diagnostics = ingress_records(obj, classes)
    assert bool(records) is ours
    assert fields(diagnostics) == (["spec.rules[1].host"] if ours else [])  # another's Ingress: nothing said


def test_an_unreadable_class_under_a_filter_is_said_and_nothing_is_published() -> None:
    assert ingress_records(ingress("web.example.com", ingressClassName=["nginx"]), {"nginx"}) == (
        [],
        [Diagnostic(ObjectRef("Ingress", ObjectKey("shop", "web")), INVALID_OBJECT, "'['nginx']' is not a string",
                    field="spec.ingressClassName")],
    )  # fmt: skip
    records, diagnostics = ingress_records(ingress("web.example.com", ingressClassName="Nginx!"), set())
    assert list(published(records)) == ["web.example.com"] and fields(diagnostics) == ["spec.ingressClassName"]


def test_tls_hosts_are_published_by_default_and_once_when_also_a_rule_host() -> None:
    tls = [{"hosts": ["*.example.com", "web.example.com", ""], "secretName": "cert"}]
    obj = ingress("web.example.com", tls=tls)
    assert ingress_records(obj, set()) == ingress_records(obj, set(), tls_hosts=True)
    assert list(published(ingress_records(obj, set())[0])) == ["web.example.com", "*.example.com"]
    records, diagnostics = ingress_records(obj, set(), tls_hosts=False)
    assert list(published(records)) == ["web.example.com"]
    assert [(d.field, d.about) for d in diagnostics] == [("spec.tls[0].hosts[0]", "*.example.com")]


def test_an_ingress_without_addresses_yet_wants_nothing_and_says_nothing() -> None:
    assert ingress_records(ingress("web.example.com", ips=()), set()) == ([], [])
    obj = ingress("web.example.com")
    del obj["status"]
    assert ingress_records(obj, set()) == ([], [])


def test_hostnames_in_an_ingress_status_are_reported_not_published() -> None:
    records, diagnostics = ingress_records(ingress("web.example.com", lb_hostnames=("lb-1.elb.aws.com",)), set())
    assert published(records) == {"web.example.com": ("10.0.0.1",)}
    assert [(d.reason, d.field, d.about) for d in diagnostics] == [
        (DNS_NOT_PUBLISHED, "status.loadBalancer.ingress[1].hostname", "lb-1.elb.aws.com")
    ]
    records, diagnostics = ingress_records(ingress("web.example.com", ips=(), lb_hostnames=("lb.aws.com",)), set())
    assert records == [] and len(diagnostics) == 1


@pytest.mark.parametrize(
    ("target", "addresses", "reported"),
    [
        ("192.0.2.1, 2001:DB8::5", ("192.0.2.1", "2001:db8::5"), []),
        ("192.0.2.1,lb.example.net.", ("192.0.2.1",), [(DNS_NOT_PUBLISHED, "lb.example.net")]),
        ("lb.example.net", None, [(DNS_NOT_PUBLISHED, "lb.example.net")]),  # overrides still: nothing to publish
        ("192.0.2.1,not a target", ("192.0.2.1",), [(INVALID_OBJECT, "")]),
        ("", ("10.0.0.1",), []),  # empty: the status applies, as in external-dns
    ],
)
def test_the_target_annotation_overrides_the_status_with_its_ips(
    target: str, addresses: tuple[str, ...] | None, reported: list[tuple[str, str]]
) -> None:
    for name in ("external-dns.alpha.kubernetes.io/target", "external-dns.kubernetes.io/target"):
        obj = ingress("web.example.com", annotations={name: target}, lb_hostnames=("lb.aws.com",))
        records, diagnostics = ingress_records(obj, set())
        assert published(records) == ({"web.example.com": addresses} if addresses else {})
        status_reported = [(DNS_NOT_PUBLISHED, "lb.aws.com")] if not target else []
        assert [(d.reason, d.about) for d in diagnostics] == reported + status_reported


@pytest.mark.parametrize(
    ("annotations", "ttl", "reported"),
    [
        ({}, None, []),
        ({"dnslb.io/ttl": "60"}, 60, []),
        ({"external-dns.alpha.kubernetes.io/ttl": " 120 "}, 120, []),
        ({"dnslb.io/ttl": "60", "external-dns.alpha.kubernetes.io/ttl": "120"}, 60, []),
        ({"dnslb.io/ttl": "0"}, None, ["metadata.annotations[dnslb.io/ttl]"]),
        ({"dnslb.io/ttl": "604801"}, None, ["metadata.annotations[dnslb.io/ttl]"]),
        ({"dnslb.io/ttl": "+60"}, None, ["metadata.annotations[dnslb.io/ttl]"]),
        ({"dnslb.io/ttl": "٦٠"}, None, ["metadata.annotations[dnslb.io/ttl]"]),
        ({"external-dns.kubernetes.io/ttl": "1m"}, 60, []),  # a Go duration, as external-dns takes it
        ({"external-dns.kubernetes.io/ttl": "soon"}, None, ["metadata.annotations[external-dns.kubernetes.io/ttl]"]),
    ],
)
def test_ttl_annotations_are_read_as_for_services_and_a_bad_one_costs_only_the_ttl(
    annotations: dict[str, str], ttl: int | None, reported: list[str]
) -> None:
    records, diagnostics = ingress_records(ingress("web.example.com", annotations=annotations), set())
    assert [(r.hostname, r.ttl) for r in records] == [("web.example.com", ttl)]
    assert fields(diagnostics) == reported


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`obj` with the value at `path` ("spec rules 1 host": keys and indexes, space-separated) replaced."""
    out = copy.deepcopy(obj)
    *parents, last = path.split(" ")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("spec rules 1 host", 5, "spec.rules[1].host"),
        ("spec rules 1 host", "bad_host.example.com", "spec.rules[1].host"),
        ("spec rules 1 host", "ünï.example.com", "spec.rules[1].host"),
        ("spec rules 1 host", "\u212a.example.com", "spec.rules[1].host"),  # the Kelvin sign lowers to an ASCII k
        ("spec rules 1 host", "10.0.0.7", "spec.rules[1].host"),
        ("spec rules 1 host", "a.*.example.com", "spec.rules[1].host"),
        ("spec rules 1 host", "localhost", "spec.rules[1].host"),
        ("spec rules 1 host", "a" * 64 + ".example.com", "spec.rules[1].host"),
        ("spec rules 1", "b.example.com", "spec.rules[1]"),
        ("status loadBalancer ingress 1 ip", "10.0.0.256", "status.loadBalancer.ingress[1].ip"),
        ("status loadBalancer ingress 1 ip", "fe80::1%eth0", "status.loadBalancer.ingress[1].ip"),
        ("status loadBalancer ingress 1 ip", "\u0661\u0660.0.0.2", "status.loadBalancer.ingress[1].ip"),
        ("status loadBalancer ingress 1", ["10.0.0.2"], "status.loadBalancer.ingress[1]"),
        ("status loadBalancer ingress 1 hostname", 7, "status.loadBalancer.ingress[1].hostname"),
        ("metadata annotations dnslb.io/hostname", "c.example.com,-bad-.example.com",
         "metadata.annotations[dnslb.io/hostname]"),
        ("metadata annotations dnslb.io/ttl", 60, "metadata.annotations[dnslb.io/ttl]"),
        ("metadata creationTimestamp", "yesterday", "metadata.creationTimestamp"),
        ("spec tls", "cert", "spec.tls"),
        ("spec ingressClassName", 7, "spec.ingressClassName"),
    ],
)  # fmt: skip
def test_a_malformed_field_costs_its_item_with_one_diagnostic_and_the_rest_is_read(
    path: str, value: Any, field: str
) -> None:
    base = ingress("a.example.com", "b.example.com", ips=("10.0.0.1", "10.0.0.2"), tls=[])
    records, diagnostics = ingress_records(_set(base, path, value), set(), tls_hosts=True)
    assert fields(diagnostics) == [field]
    assert diagnostics[0].subject == ObjectRef("Ingress", ObjectKey("shop", "web"))
    assert "a.example.com" in published(records)
    broken_ip = path.startswith("status loadBalancer ingress 1") and not path.endswith("hostname")
    assert published(records)["a.example.com"] == (("10.0.0.1",) if broken_ip else ("10.0.0.1", "10.0.0.2"))


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ("not an object", ""),
        ({"metadata": []}, "metadata"),
        ({"metadata": {"namespace": "shop"}}, "metadata.name"),
        ({"metadata": {"name": "Web"}}, "metadata.name"),
        ({"metadata": {"name": "web", "namespace": "a.b"}}, "metadata.namespace"),
    ],
)
def test_an_object_without_a_usable_name_is_reported_about_no_object(obj: Any, field: str) -> None:
    for read in (
        lambda o: ingress_records(o, set()),
        dnsendpoint_records,
        lambda o: route_records(o, "HTTPRoute", {}, set(), lambda ns: {}),
    ):
        records, diagnostics = read(obj)
        assert records == [] and [(d.subject, d.field) for d in diagnostics] == [(None, field)]


def test_a_manifest_without_namespace_is_in_default_and_a_yaml_timestamp_is_read() -> None:
    import datetime

    obj = ingress("web.example.com")
    del obj["metadata"]["namespace"]
    obj["metadata"]["creationTimestamp"] = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    [record] = ingress_records(obj, set())[0]
    assert record.owner.key == ObjectKey("default", "web") and record.created == "2026-01-02T03:04:05Z"


# -------------------------------------------------------------------------------------------------- Gateway routes


def listener(
    name: str, protocol: str = "HTTP", port: int = 80, hostname: str | None = None, **allowed: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "protocol": protocol, "port": port}
    if hostname is not None:
        out["hostname"] = hostname
    if allowed:
        out["allowedRoutes"] = allowed
    return out


def gateway(
    *listeners: dict[str, Any],
    addresses: list[Any] | None = None,
    class_name: str = "dnslb",
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": metadata(GW.name, GW.namespace, annotations),
        "spec": {"gatewayClassName": class_name, "listeners": list(listeners)},
        "status": {"addresses": [{"type": "IPAddress", "value": "10.0.0.1"}] if addresses is None else addresses},
    }


def route(
    *hostnames: Any,
    kind: str = "HTTPRoute",
    parents: list[dict[str, Any]] | None = None,
    accepted: list[dict[str, Any]] | None = None,
    namespace: str = "infra",
    annotations: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A route; its parents (default: the Gateway GW) all accepted unless `accepted` says which."""
    parents = [{"name": GW.name, "namespace": GW.namespace}] if parents is None else parents
    accepted = parents if accepted is None else accepted
    status = [
        {
            "parentRef": dict(ref),
            "controllerName": "example.com/gw",
            "conditions": [{"type": "Accepted", "status": "True"}],
        }
        for ref in accepted
    ]
    spec: dict[str, Any] = {"parentRefs": parents}
    if hostnames:
        spec["hostnames"] = list(hostnames)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": kind,
        "metadata": metadata("r", namespace, annotations),
        "spec": spec,
        "status": {"parents": status},
    }


def read_route(
    obj: dict[str, Any],
    *gateways: tuple[ObjectKey, dict[str, Any]],
    kind: RouteKind = "HTTPRoute",
    classes: frozenset[str] = frozenset(),
    labels: Callable[[str], Mapping[str, str]] = lambda ns: {},
) -> Records:
    return route_records(obj, kind, dict(gateways), classes, labels)


def test_a_route_points_its_hostnames_at_the_ips_of_the_gateway_that_accepted_it() -> None:
    gw = gateway(listener("http"), addresses=[{"type": "IPAddress", "value": "2001:db8::0:2"}, {"value": "10.0.0.2"}])
    records, diagnostics = read_route(route("a.example.com", "B.example.com"), (GW, gw))
    assert diagnostics == []
    assert records == [
        SourceRecord(ObjectRef("HTTPRoute", ObjectKey("infra", "r")), CREATED, name, ("10.0.0.2", "2001:db8::2"), None)
        for name in ("a.example.com", "b.example.com")
    ]


@pytest.mark.parametrize(
    ("status", "published_"),
    [
        ([{"parentRef": {"name": "gw"}, "conditions": [{"type": "Accepted", "status": "True"}]}], True),
        ([{"parentRef": {"name": "gw", "namespace": "infra", "group": "gateway.networking.k8s.io",
                         "kind": "Gateway"}, "conditions": [{"type": "Accepted", "status": "True"}]}], True),
        ([{"parentRef": {"name": "gw"}, "conditions": [{"type": "Accepted", "status": "False"}]}], False),
        ([{"parentRef": {"name": "gw"}, "conditions": [{"type": "ResolvedRefs", "status": "True"}]}], False),
        ([{"parentRef": {"name": "gw", "sectionName": "http"},
           "conditions": [{"type": "Accepted", "status": "True"}]}], False),  # another parentRef's status
        ([{"parentRef": {"name": "other"}, "conditions": [{"type": "Accepted", "status": "True"}]}], False),
        ([], False),
    ],
)  # fmt: skip
def test_a_route_publishes_only_through_parents_whose_status_says_accepted(
    status: list[dict[str, Any]], published_: bool
) -> None:
    obj = route("a.example.com", parents=[{"name": "gw"}])
    obj["status"]["parents"] = status
    records, diagnostics = read_route(obj, (GW, gateway(listener("http"))))
    assert bool(records) is published_
    assert diagnostics == []  # not accepted yet: pending, not wrong


@pytest.mark.parametrize(
    ("listener_host", "route_hosts", "names"),
    [
        (None, ["a.example.com"], ["a.example.com"]),
        (None, [], []),
        ("a.example.com", [], ["a.example.com"]),
        ("*.example.com", [], ["*.example.com"]),
        ("*.example.com", ["a.example.com", "a.b.example.com", "example.com", "x.example.net"],
         ["a.example.com", "a.b.example.com"]),
        ("a.example.com", ["*.example.com"], ["a.example.com"]),
        ("a.b.example.com", ["*.example.com"], ["a.b.example.com"]),
        ("*.example.com", ["*.a.example.com"], ["*.a.example.com"]),
        ("*.a.example.com", ["*.example.com"], ["*.a.example.com"]),
        ("*.example.com", ["*.example.com"], ["*.example.com"]),
        ("a.example.com", ["b.example.com"], []),
    ],
)  # fmt: skip
def test_a_route_shares_hostnames_with_its_listeners(
    listener_host: str | None, route_hosts: list[str], names: list[str]
) -> None:
    gw = gateway(listener("http", hostname=listener_host))
    records, diagnostics = read_route(route(*route_hosts), (GW, gw))
    assert list(published(records)) == names
    unmatched = [h for h in route_hosts if not any(intersection(listener_host, h) == n for n in names)]
    assert [(d.field, d.about) for d in diagnostics] == [
        (f"spec.hostnames[{route_hosts.index(h)}]", h) for h in unmatched
    ]


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        ("a.example.com", "a.example.com", "a.example.com"),
        ("*.example.com", "a.example.com", "a.example.com"),
        ("*.example.com", "a.b.example.com", "a.b.example.com"),
        ("*.example.com", "example.com", None),
        ("*.example.com", "aexample.com", None),
        ("*.ab.com", "x.ab.com", "x.ab.com"),  # equal lengths
        ("*.example.com", "*.b.example.com", "*.b.example.com"),
        ("*.example.com", "*.example.net", None),
        ("a.example.com", "b.example.com", None),
    ],
)
def test_intersection_is_the_more_specific_of_two_matching_hostnames(a: str, b: str, shared: str | None) -> None:
    assert intersection(a, b) == shared
    assert intersection(b, a) == shared


@pytest.mark.parametrize(
    ("parent", "names"),
    [
        ({"name": "gw"}, ["a.example.com", "b.example.com"]),
        ({"name": "gw", "sectionName": "a"}, ["a.example.com"]),
        ({"name": "gw", "sectionName": "b"}, ["b.example.com"]),
        ({"name": "gw", "sectionName": "c"}, []),
        ({"name": "gw", "port": 8080}, ["b.example.com"]),
        ({"name": "gw", "port": 8080, "sectionName": "a"}, []),
    ],
)
def test_section_name_and_port_choose_the_listeners(parent: dict[str, Any], names: list[str]) -> None:
    gw = gateway(listener("a", hostname="a.example.com"), listener("b", port=8080, hostname="b.example.com"))
    records, _ = read_route(route(parents=[parent]), (GW, gw))
    assert list(published(records)) == names


def test_a_route_attached_through_two_sections_of_one_gateway_and_two_gateways_takes_their_addresses() -> None:
    other = ObjectKey("infra", "gw2")
    gw2 = gateway(listener("http"), addresses=[{"value": "10.0.0.9"}])
    parents = [{"name": "gw", "sectionName": "a"}, {"name": "gw", "sectionName": "b"}, {"name": "gw2"}]
    gw = gateway(listener("a", hostname="*.example.com"), listener("b", hostname="a.example.com", port=81))
    records, diagnostics = read_route(route("a.example.com", parents=parents), (GW, gw), (other, gw2))
    assert published(records) == {"a.example.com": ("10.0.0.1", "10.0.0.9")} and diagnostics == []


@pytest.mark.parametrize(
    ("allowed", "namespace", "attached"),
    [
        ({}, "infra", True),
        ({}, "shop", False),  # Same is the default
        ({"namespaces": {"from": "Same"}}, "shop", False),
        ({"namespaces": {"from": "All"}}, "shop", True),
        ({"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "shop"}}}}, "shop", True),
        ({"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "shop"}}}}, "infra", False),
        ({"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
            {"key": "team", "operator": "In", "values": ["shop", "blog"]}]}}}, "shop", True),
        ({"namespaces": {"from": "Selector", "selector": {}}}, "elsewhere", True),  # empty selector: every one
        ({"kinds": [{"kind": "HTTPRoute"}]}, "infra", True),
        ({"kinds": [{"kind": "GRPCRoute", "group": "gateway.networking.k8s.io"}]}, "infra", False),
        ({"kinds": [{"kind": "HTTPRoute", "group": "example.com"}]}, "infra", False),
    ],
)  # fmt: skip
def test_allowed_routes_choose_the_namespaces_and_kinds_a_listener_takes(
    allowed: dict[str, Any], namespace: str, attached: bool
) -> None:
    labels = {"shop": {"team": "shop"}, "infra": {"team": "infra"}}
    parents = [{"name": "gw", "namespace": "infra"}]
    gw = gateway(listener("http", **allowed))
    records, _ = read_route(route("a.example.com", namespace=namespace, parents=parents), (GW, gw),
                            labels=lambda ns: labels.get(ns, {}))  # fmt: skip
    assert bool(records) is attached


@pytest.mark.parametrize(
    ("kind", "protocols"),
    [
        ("HTTPRoute", ["HTTP", "HTTPS"]),
        ("GRPCRoute", ["HTTP", "HTTPS"]),
        ("TLSRoute", ["TLS"]),
        ("TCPRoute", ["TCP", "TLS"]),
        ("UDPRoute", ["UDP"]),
    ],
)
def test_a_route_attaches_to_listeners_of_its_protocol(kind: RouteKind, protocols: list[str]) -> None:
    for protocol in ("HTTP", "HTTPS", "TLS", "TCP", "UDP", "example.com/quic"):
        gw = gateway(listener("l", protocol=protocol))
        obj = route("a.example.com", kind=kind, annotations={"dnslb.io/hostname": "b.example.com"})
        records, _ = read_route(obj, (GW, gw), kind=kind)
        names = (
            ["a.example.com", "b.example.com"] if kind in ("HTTPRoute", "GRPCRoute", "TLSRoute") else ["b.example.com"]
        )
        assert list(published(records)) == (names if protocol in protocols else []), protocol


def test_tcp_routes_have_no_hostnames_of_their_own_and_take_annotations_and_listener_hostnames() -> None:
    annotations = {"external-dns.alpha.kubernetes.io/hostname": "db.example.com,db.example.net"}
    gw = gateway(listener("tcp", protocol="TCP"), listener("tls", protocol="TLS", port=443, hostname="*.example.com"))
    obj = route("ignored.example.com", kind="TCPRoute", annotations=annotations)
    records, diagnostics = read_route(obj, (GW, gw), kind="TCPRoute")
    # as external-dns: the annotation's through the TCP listener, those the TLS listener shares, and its own
    assert list(published(records)) == ["db.example.com", "db.example.net", "*.example.com"]
    assert diagnostics == []
    annotations["external-dns.alpha.kubernetes.io/gateway-hostname-source"] = "annotation-only"
    records, _ = read_route(route(kind="TCPRoute", annotations=annotations), (GW, gw), kind="TCPRoute")
    assert list(published(records)) == ["db.example.com", "db.example.net"]


def test_annotation_hostnames_of_a_route_are_matched_with_listeners_too() -> None:
    gw = gateway(listener("http", hostname="*.example.com"))
    annotations = {"dnslb.io/hostname": "x.example.com,x.example.net"}
    records, diagnostics = read_route(route("a.example.com", annotations=annotations), (GW, gw))
    assert list(published(records)) == ["a.example.com", "x.example.com"]
    assert [(d.field, d.about) for d in diagnostics] == [("metadata.annotations[dnslb.io/hostname]", "x.example.net")]


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("annotation-only", ["x.example.com"]),
        ("defined-hosts-only", ["a.example.com"]),
    ],
)
def test_the_gateway_hostname_source_annotation_chooses_the_route_hostnames(source: str, names: list[str]) -> None:
    annotations = {
        "external-dns.alpha.kubernetes.io/gateway-hostname-source": source,
        "dnslb.io/hostname": "x.example.com",
    }
    records, _ = read_route(route("a.example.com", annotations=annotations), (GW, gateway(listener("http"))))
    assert list(published(records)) == names


@pytest.mark.parametrize(
    ("addresses", "annotations", "ips", "reported"),
    [
        ([{"type": "IPAddress", "value": "10.0.0.2"}, {"value": "2001:db8::2"}], {}, ("10.0.0.2", "2001:db8::2"), []),
        ([{"type": "Hostname", "value": "gw.example.net"}, {"value": "10.0.0.2"}], {}, ("10.0.0.2",),
         [(DNS_NOT_PUBLISHED, "status.addresses[0].value")]),
        ([{"type": "NamedAddress", "value": "pool-a"}], {}, None, [(DNS_NOT_PUBLISHED, "status.addresses[0].type")]),
        ([{"type": "IPAddress", "value": "gw.example.net"}], {}, None, [(INVALID_OBJECT, "status.addresses[0].value")]),
        ([], {}, None, []),  # no address yet
        ([{"value": "10.0.0.2"}], {"external-dns.alpha.kubernetes.io/target": "192.0.2.7"}, ("192.0.2.7",), []),
        ([{"value": "10.0.0.2"}], {"external-dns.alpha.kubernetes.io/target": "lb.example.net"}, None,
         [(DNS_NOT_PUBLISHED, "metadata.annotations[external-dns.alpha.kubernetes.io/target]")]),
    ],
)  # fmt: skip
def test_a_gateway_is_reached_at_the_ips_of_its_status_or_target_annotation(
    addresses: list[dict[str, str]], annotations: dict[str, str], ips: tuple[str, ...] | None,
    reported: list[tuple[str, str]],
) -> None:  # fmt: skip
    gw = gateway(listener("http"), addresses=addresses, annotations=annotations)
    records, diagnostics = read_route(route("a.example.com"), (GW, gw))
    assert published(records) == ({"a.example.com": ips} if ips else {})
    assert [(d.subject, d.reason, d.field) for d in diagnostics] == [
        (ObjectRef("Gateway", GW), reason, field) for reason, field in reported
    ]


@pytest.mark.parametrize(
    ("class_name", "classes", "ours"),
    [("dnslb", frozenset(), True), ("dnslb", frozenset({"dnslb"}), True), ("istio", frozenset({"dnslb"}), False)],
)
def test_only_gateways_of_the_given_classes_publish(class_name: str, classes: frozenset[str], ours: bool) -> None:
    gw = gateway(listener("http"), class_name=class_name)
    records, diagnostics = read_route(route("a.example.com", "bad_name"), (GW, gw), classes=classes)
    assert bool(records) is ours
    assert fields(diagnostics) == (["spec.hostnames[1]"] if ours else [])  # another's route: nothing said


def test_a_gateway_whose_class_is_unreadable_under_a_filter_says_so_and_publishes_nothing() -> None:
    gw = gateway(listener("http"), class_name="Not A Class")
    records, diagnostics = read_route(route("a.example.com"), (GW, gw), classes=frozenset({"dnslb"}))
    assert records == [] and [(d.subject, d.field) for d in diagnostics] == [
        (ObjectRef("Gateway", GW), "spec.gatewayClassName")
    ]


def test_a_route_whose_gateway_is_unknown_or_not_a_gateway_says_nothing() -> None:
    assert read_route(route("a.example.com"), (ObjectKey("infra", "other"), gateway(listener("l")))) == ([], [])
    parents = [{"name": "svc", "kind": "Service", "group": ""}]
    assert read_route(route("a.example.com", parents=parents), (GW, gateway(listener("l")))) == ([], [])


def test_a_route_whose_hostnames_are_all_malformed_does_not_take_the_listener_hostname() -> None:
    gw = gateway(listener("http", hostname="*.example.com"))
    records, diagnostics = read_route(route("not a name"), (GW, gw))
    assert records == [] and fields(diagnostics) == ["spec.hostnames[0]"]


def test_a_listener_hostname_dnslb_cannot_publish_is_reported_about_the_route() -> None:
    gw = gateway(listener("http", hostname="intranet"))
    records, diagnostics = read_route(route(), (GW, gw))
    assert records == [] and [(d.subject, d.about) for d in diagnostics] == [
        (ObjectRef("HTTPRoute", ObjectKey("infra", "r")), "intranet")
    ]


def test_a_route_ttl_comes_from_its_annotations() -> None:
    obj = route("a.example.com", annotations={"external-dns.alpha.kubernetes.io/ttl": "30"})
    assert [r.ttl for r in read_route(obj, (GW, gateway(listener("http"))))[0]] == [30]


@pytest.mark.parametrize(
    ("path", "value", "field", "subject"),
    [
        ("spec hostnames 1", "Ä.example.com", "spec.hostnames[1]", "HTTPRoute"),
        ("spec parentRefs 1", "gw2", "spec.parentRefs[1]", "HTTPRoute"),
        ("spec parentRefs 1 port", 0, "spec.parentRefs[1].port", "HTTPRoute"),
        ("spec parentRefs 1 namespace", 7, "spec.parentRefs[1].namespace", "HTTPRoute"),
        ("spec parentRefs 1 kind", ["Gateway"], "spec.parentRefs[1].kind", "HTTPRoute"),
        ("spec parentRefs 1 sectionName", "Not_A_Section", "spec.parentRefs[1].sectionName", "HTTPRoute"),
        ("status parents 1 parentRef", None, "status.parents[1].parentRef", "HTTPRoute"),
        ("status parents 1 conditions", {"Accepted": "True"}, "status.parents[1].conditions", "HTTPRoute"),
        ("gw2 spec listeners 0 hostname", "*.*.example.com", "spec.listeners[0].hostname", "Gateway"),
        ("gw2 spec listeners 0 port", "80", "spec.listeners[0].port", "Gateway"),
        ("gw2 spec listeners 0 protocol", "HT TP", "spec.listeners[0].protocol", "Gateway"),
        ("gw2 spec listeners 0 name", None, "spec.listeners[0].name", "Gateway"),
        ("gw2 spec listeners 0 allowedRoutes", {"namespaces": {"from": "Elsewhere"}},
         "spec.listeners[0].allowedRoutes.namespaces.from", "Gateway"),
        ("gw2 spec listeners 0 allowedRoutes", {"namespaces": {"from": "Selector", "selector": {"matchLabels": 1}}},
         "spec.listeners[0].allowedRoutes.namespaces.selector", "Gateway"),
        ("gw2 spec listeners 0 allowedRoutes", {"namespaces": {"from": "Selector"}},
         "spec.listeners[0].allowedRoutes.namespaces.selector", "Gateway"),
        ("gw2 spec listeners 0 allowedRoutes", {"kinds": [{"group": "x"}]}, "spec.listeners[0].allowedRoutes.kinds[0]",
         "Gateway"),
        ("gw2 status addresses 0", "10.0.0.9", "status.addresses[0]", "Gateway"),
    ],
)  # fmt: skip
def test_a_malformed_route_or_gateway_field_costs_its_item_and_the_rest_is_read(
    path: str, value: Any, field: str, subject: str
) -> None:
    """The route attaches to gw (listener "a") and gw2 (listener "b"); breaking the second costs only its address."""
    parents: list[dict[str, Any]] = [
        {"name": "gw", "sectionName": "a"},
        {"name": "gw2", "sectionName": "b", "port": 80},
    ]
    obj = route("a.example.com", "b.example.com", parents=parents)
    gw = gateway(listener("a"))
    gw2 = gateway(listener("b"), addresses=[{"value": "10.0.0.9"}])
    if path.startswith("gw2 "):
        gw2 = _set(gw2, path.removeprefix("gw2 "), value)
    else:
        obj = _set(obj, path, value)
    records, diagnostics = read_route(obj, (GW, gw), (ObjectKey("infra", "gw2"), gw2))
    assert [(d.field, d.subject.kind if d.subject else "") for d in diagnostics] == [(field, subject)]
    gw2_lost = path.startswith(("gw2 ", "spec parentRefs 1", "status parents 1"))
    assert published(records)["a.example.com"] == (("10.0.0.1",) if gw2_lost else ("10.0.0.1", "10.0.0.9"))


def test_a_route_accepted_through_a_broken_listener_says_which_hostnames_went_nowhere() -> None:
    gw = gateway(listener("a", hostname="a.example.com"), listener("b", port="http"))  # type: ignore[arg-type]
    records, diagnostics = read_route(route("a.example.com", "b.example.com"), (GW, gw))
    assert list(published(records)) == ["a.example.com"]
    assert [(d.subject.kind if d.subject else "", d.field) for d in diagnostics] == [
        ("HTTPRoute", "spec.hostnames[1]"),
        ("Gateway", "spec.listeners[1].port"),
    ]


def test_an_unknown_route_kind_is_reported() -> None:
    records, diagnostics = route_records(route("a.example.com"), "HTTPSRoute", {}, set(), lambda ns: {})  # type: ignore[arg-type]
    assert records == [] and len(diagnostics) == 1


def test_gateway_view_reads_listeners_and_addresses() -> None:
    view = gateway_view(GW, gateway(listener("http", hostname="*.example.com"), listener("tls", "TLS", 443)))
    assert [(lis.name, lis.hostname, lis.port, lis.protocol, lis.namespaces) for lis in view.listeners] == [
        ("http", "*.example.com", 80, "HTTP", "Same"),
        ("tls", None, 443, "TLS", "Same"),
    ]
    assert view.addresses == ("10.0.0.1",) and view.class_name == "dnslb" and view.problems == ()


# ----------------------------------------------------------------------------------------------------- DNSEndpoint


def endpoint(name: str, record_type: str = "A", *targets: Any, **more: Any) -> dict[str, Any]:
    return {"dnsName": name, "recordType": record_type, "targets": list(targets), **more}


def dnsendpoint(*endpoints: Any) -> dict[str, Any]:
    return {
        "apiVersion": "externaldns.k8s.io/v1alpha1",
        "kind": "DNSEndpoint",
        "metadata": metadata("records", "shop", None),
        "spec": {"endpoints": list(endpoints)},
    }


def test_a_dnsendpoint_publishes_its_a_and_aaaa_endpoints_one_record_per_name() -> None:
    obj = dnsendpoint(
        endpoint("web.example.com", "A", "10.0.0.2", "10.0.0.1", recordTTL=60),
        endpoint("web.example.com.", "AAAA", "2001:DB8::1", recordTTL=60),
        endpoint("*.apps.example.com", "A", "10.0.0.3"),
        endpoint("web.example.com", "A", "10.0.0.1", "10.0.0.4", recordTTL=60),
    )
    records, diagnostics = dnsendpoint_records(obj)
    assert diagnostics == []
    assert records == [
        SourceRecord(ObjectRef("DNSEndpoint", ObjectKey("shop", "records")), CREATED, name, addresses, ttl)
        for name, addresses, ttl in [
            ("web.example.com", ("10.0.0.1", "10.0.0.2", "10.0.0.4", "2001:db8::1"), 60),
            ("*.apps.example.com", ("10.0.0.3",), None),
        ]
    ]


@pytest.mark.parametrize(
    ("broken", "field", "reason"),
    [
        (endpoint("x.example.com", "DNAME", "web.example.com"), "spec.endpoints[1].recordType", DNS_NOT_PUBLISHED),
        (endpoint("x.example.com", "HINFO", "a b"), "spec.endpoints[1].recordType", DNS_NOT_PUBLISHED),
        (endpoint("x.example.com", "a", "10.0.0.1"), "spec.endpoints[1].recordType", DNS_NOT_PUBLISHED),
        (endpoint("x.example.com", "", "10.0.0.1"), "spec.endpoints[1].recordType", INVALID_OBJECT),
        (endpoint("x.example.com", "A", "10.0.0.1", setIdentifier="eu"), "spec.endpoints[1].setIdentifier",
         DNS_NOT_PUBLISHED),
        (endpoint("x.example.com", "A"), "spec.endpoints[1].targets", DNS_NOT_PUBLISHED),
        (endpoint("x.example.com", "A", "10.0.0.1", targets="10.0.0.1"), "spec.endpoints[1].targets", INVALID_OBJECT),
        (endpoint("x.example.com", "A", "2001:db8::1"), "spec.endpoints[1].targets[0]", INVALID_OBJECT),
        (endpoint("x.example.com", "AAAA", "10.0.0.1"), "spec.endpoints[1].targets[0]", INVALID_OBJECT),
        (endpoint("", "A", "10.0.0.1"), "spec.endpoints[1].dnsName", INVALID_OBJECT),
        (endpoint("x..example.com", "A", "10.0.0.1"), "spec.endpoints[1].dnsName", DNS_NOT_PUBLISHED),
        (endpoint("_dnslb.x.example.com", "TXT", "x"), "spec.endpoints[1].dnsName", DNS_NOT_PUBLISHED),
        (endpoint("x.example.com", "A", "10.0.0.1", providerSpecific=[{"name": "alias", "value": "true"}]),
         "spec.endpoints[1].providerSpecific[0]", DNS_NOT_PUBLISHED),
        ("x.example.com", "spec.endpoints[1]", INVALID_OBJECT),
    ],
)  # fmt: skip
def test_an_endpoint_dnslb_cannot_publish_costs_itself_with_one_diagnostic(
    broken: Any, field: str, reason: str
) -> None:
    obj = dnsendpoint(
        endpoint("web.example.com", "A", "10.0.0.1"), broken, endpoint("api.example.com", "A", "10.0.0.2")
    )
    records, diagnostics = dnsendpoint_records(obj)
    assert published(records) == {"web.example.com": ("10.0.0.1",), "api.example.com": ("10.0.0.2",)}
    assert [(d.field, d.reason) for d in diagnostics] == [(field, reason)]


@pytest.mark.parametrize(
    ("targets", "published_", "reported"),
    [
        (["10.0.0.1", "10.0.0.256"], ("10.0.0.1",), ["spec.endpoints[0].targets[1]"]),
        (["10.0.0.1", "lb.example.net."], ("10.0.0.1",), ["spec.endpoints[0].targets[1]"]),
        (["10.0.0.1", 167772161], ("10.0.0.1",), ["spec.endpoints[0].targets[1]"]),
        (["10.0.0.1."], None, ["spec.endpoints[0].targets[0]"]),  # external-dns refuses the trailing dot too
    ],
)
def test_a_malformed_target_costs_only_itself(
    targets: list[Any], published_: tuple[str, ...] | None, reported: list[str]
) -> None:
    records, diagnostics = dnsendpoint_records(dnsendpoint(endpoint("web.example.com", "A", *targets)))
    assert published(records) == ({"web.example.com": published_} if published_ else {})
    assert fields(diagnostics) == reported


@pytest.mark.parametrize(
    ("ttl", "expected", "reported"),
    [
        (None, None, False),
        (0, None, False),  # external-dns: no TTL configured
        (3600, 3600, False),
        (-1, None, True),
        (604_801, None, True),
        ("60", None, True),
        (True, None, True),
        (60.0, None, True),
    ],
)
def test_record_ttl_out_of_range_costs_only_the_ttl(ttl: Any, expected: int | None, reported: bool) -> None:
    more = {"recordTTL": ttl} if ttl is not None else {}
    records, diagnostics = dnsendpoint_records(dnsendpoint(endpoint("web.example.com", "A", "10.0.0.1", **more)))
    assert [r.ttl for r in records] == [expected]
    assert fields(diagnostics) == (["spec.endpoints[0].recordTTL"] if reported else [])


def test_endpoints_of_one_name_with_different_ttls_take_the_first_and_say_so() -> None:
    obj = dnsendpoint(
        endpoint("web.example.com", "A", "10.0.0.1", recordTTL=60),
        endpoint("web.example.com", "AAAA", "2001:db8::1", recordTTL=300),
    )
    records, diagnostics = dnsendpoint_records(obj)
    assert [(r.ttl, r.addresses) for r in records] == [(60, ("10.0.0.1", "2001:db8::1"))]
    assert [(d.field, d.about) for d in diagnostics] == [("spec.endpoints[1].recordTTL", "web.example.com")]


# ------------------------------------------------------------------------------------------------------ properties

_KEYS = [
    "metadata", "name", "namespace", "annotations", "creationTimestamp", "spec", "status", "rules", "host", "tls",
    "hosts", "ingressClassName", "loadBalancer", "ingress", "ip", "hostname", "hostnames", "parentRefs", "parents",
    "parentRef", "sectionName", "port", "group", "kind", "conditions", "type", "listeners", "protocol",
    "allowedRoutes", "namespaces", "from", "selector", "matchLabels", "matchExpressions", "kinds", "addresses",
    "value", "gatewayClassName", "endpoints", "dnsName", "targets", "recordType", "recordTTL", "setIdentifier",
    "dnslb.io/hostname", "dnslb.io/ttl", "external-dns.alpha.kubernetes.io/target", "kubernetes.io/ingress.class",
    "external-dns.kubernetes.io/controller", "external-dns.kubernetes.io/ingress-hostname-source",
    "external-dns.alpha.kubernetes.io/gateway-hostname-source",
]  # fmt: skip
_TEXT = st.sampled_from(
    ["", "gw", "infra", "a.example.com", "*.example.com", "10.0.0.1", "fd00::1", "HTTP", "TCP", "A", "AAAA", "True",
     "Accepted", "All", "Selector", "Same", "IPAddress", "Hostname", "2026-01-01T00:00:00Z", "\u212a", "1e3", "٣",
     "dns-controller", "annotation-only", "defined-hosts-only"]
) | st.text(max_size=20)  # fmt: skip
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=30,
)  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    out = copy.copy(value)
    out[path[0]] = _replaced(value[path[0]], path[1:], new)
    return out


@st.composite
def mutated(draw: st.DrawFn, valid: Any) -> Any:
    """A valid object with one to three of its values (anywhere, the object itself included) made anything."""
    obj = valid
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(obj)))
        obj = _replaced(obj, path, draw(json_values))
    return obj


_INGRESS = ingress("a.example.com", "b.example.com", ips=("10.0.0.1", "fd00::1"),
                   annotations={"dnslb.io/hostname": "c.example.com", "dnslb.io/ttl": "60",
                                "external-dns.alpha.kubernetes.io/target": "10.0.0.5"},
                   tls=[{"hosts": ["d.example.com"]}], ingressClassName="nginx")  # fmt: skip
_ROUTE = route(
    "a.example.com", "*.b.example.com", parents=[{"name": "gw", "sectionName": "s", "port": 80}, {"name": "gw"}]
)
_GATEWAY = gateway(
    listener("s", hostname="*.example.com"),
    listener("t", "TLS", 443, namespaces={"from": "Selector", "selector": {"matchLabels": {"a": "b"}}},
             kinds=[{"kind": "TLSRoute"}]),
    addresses=[{"value": "10.0.0.1"}, {"type": "Hostname", "value": "gw.example.net"}],
    annotations={"external-dns.alpha.kubernetes.io/target": "10.0.0.7"},
)  # fmt: skip
_DNSENDPOINT = dnsendpoint(
    endpoint("a.example.com", "A", "10.0.0.1", recordTTL=60), endpoint("a.example.com", "AAAA", "fd00::1")
)


def _well_formed(result: Records, kinds: tuple[str, ...]) -> None:
    """What every source promises, whatever it was given."""
    records, diagnostics = result
    assert all(isinstance(d, Diagnostic) for d in diagnostics)
    for record in records:
        assert record.owner.kind in kinds
        name_rules = name_problem if record.owner.kind == "DNSEndpoint" else hostname_problem
        assert name_rules(record.hostname) is None and record.hostname == record.hostname.lower()
        assert record.addresses or record.records, record
        if record.owner.kind != "DNSEndpoint":
            assert record.records == ()
        types = [r.type for r in record.records]
        assert types == sorted(set(types)) and not {"A", "AAAA"} & set(types)
        assert all(r.values and list(r.values) == sorted(set(r.values)) for r in record.records)
        cnames = [r for r in record.records if r.type == "CNAME"]
        assert not cnames or (len(record.records) == 1 and not record.addresses and len(cnames[0].values) == 1)
        ips = [ipaddress.ip_address(a) for a in record.addresses]
        assert [str(ip) for ip in ips] == list(record.addresses)
        assert ips == sorted(set(ips), key=lambda ip: (ip.version, ip))
        assert record.ttl is None or 1 <= record.ttl <= 604_800
    assert len({r.hostname for r in records}) == len(records)


_SOURCES = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])


@_SOURCES
@given(obj=json_values, classes=st.sampled_from([set(), {"nginx"}]), tls=st.booleans())
def test_an_ingress_of_any_shape_never_raises(obj: Any, classes: set[str], tls: bool) -> None:
    _well_formed(ingress_records(obj, classes, tls_hosts=tls), ("Ingress",))


@_SOURCES
@given(obj=mutated(_INGRESS), classes=st.sampled_from([set(), {"nginx"}]), tls=st.booleans())
def test_an_ingress_broken_anywhere_never_raises(obj: Any, classes: set[str], tls: bool) -> None:
    _well_formed(ingress_records(obj, classes, tls_hosts=tls), ("Ingress",))


@_SOURCES
@given(obj=json_values)
def test_a_dnsendpoint_of_any_shape_never_raises(obj: Any) -> None:
    _well_formed(dnsendpoint_records(obj), ("DNSEndpoint",))


@_SOURCES
@given(obj=mutated(_DNSENDPOINT))
def test_a_dnsendpoint_broken_anywhere_never_raises(obj: Any) -> None:
    _well_formed(dnsendpoint_records(obj), ("DNSEndpoint",))


ROUTE_KINDS: list[RouteKind] = ["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"]


@_SOURCES
@given(obj=json_values, gw=json_values, kind=st.sampled_from(ROUTE_KINDS), labels=json_values)
def test_a_route_and_gateway_of_any_shape_never_raise(obj: Any, gw: Any, kind: RouteKind, labels: Any) -> None:
    namespace_labels = labels if isinstance(labels, dict) else {}
    result = route_records(obj, kind, {GW: gw}, {"dnslb"}, lambda ns: namespace_labels)
    _well_formed(result, (kind,))


@_SOURCES
@given(
    obj=mutated(_ROUTE),
    gw=mutated(_GATEWAY),
    kind=st.sampled_from(ROUTE_KINDS),
    classes=st.sampled_from([frozenset(), frozenset({"dnslb"})]),
)
def test_a_route_and_gateway_broken_anywhere_never_raise(
    obj: Any, gw: Any, kind: RouteKind, classes: frozenset[str]
) -> None:
    _well_formed(route_records(obj, kind, {GW: gw}, classes, lambda ns: {"a": "b"}), (kind,))


_HOSTS = st.sampled_from(["a.example.com", "B.example.com", "*.example.com", "a.example.com."]) | st.sampled_from(
    ["bad_host.example.com", "a.*.example.com", "10.0.0.1", "localhost", "é.example.com", "-a.example.com"]
)


@given(hosts=st.lists(_HOSTS, max_size=6))
def test_each_malformed_rule_host_costs_itself_and_only_itself(hosts: list[str]) -> None:
    records, diagnostics = ingress_records(ingress(*hosts), set())
    valid = [h.lower().removesuffix(".") for h in hosts if hostname_problem(h.lower().removesuffix(".")) is None]
    valid = [h for h in valid if h != "10.0.0.1"]
    assert list(published(records)) == list(dict.fromkeys(valid))
    assert len(diagnostics) == len(hosts) - sum(1 for h in hosts if h.lower().removesuffix(".") in valid)
    assert {d.field for d in diagnostics} == {f"spec.rules[{i}].host" for i, h in enumerate(hosts)
                                              if h.lower().removesuffix(".") not in valid}  # fmt: skip


_NAMES = st.lists(st.sampled_from(["a", "b", "ab", "x-y"]), min_size=1, max_size=4).map(".".join)


@given(a=_NAMES, b=_NAMES, wild_a=st.booleans(), wild_b=st.booleans())
def test_intersection_is_symmetric_and_a_name_both_take(a: str, b: str, wild_a: bool, wild_b: bool) -> None:
    a, b = ("*." + a if wild_a else a), ("*." + b if wild_b else b)
    shared = intersection(a, b)
    assert shared == intersection(b, a)

    def takes(pattern: str, name: str) -> bool:
        return name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:]))

    if shared is not None:
        assert shared in (a, b) and takes(a, shared) and takes(b, shared)
    else:
        assert not takes(a, b) and not takes(b, a)
