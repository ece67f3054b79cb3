"""Gateway API routes — HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute — read as external-dns's `gateway-*route`
sources read them: the hostnames a route shares with the listeners it attaches to, pointed at those Gateways' IPs.

A route publishes through a parent (a Gateway among its spec.parentRefs) only once that Gateway's controller accepted
it there: the status.parents entry for that very parentRef says Accepted=True. Accepted or not, dnslb checks the
attachment itself, as external-dns does: the route attaches to the parent's listeners that the parentRef names
(sectionName, port), that speak its protocol, and whose allowedRoutes take its namespace and kind. With each such
listener it shares the most specific of two matching hostnames (`intersection`); a route without hostnames takes the
listener's, a listener without one takes the route's, and neither having one names nothing. Annotation hostnames are
matched alike (a Gateway does not route a name no listener takes), and are the only names TCP and UDP routes have of
their own.

The route's `gateway-hostname-source` annotation chooses its names: `annotation-only` the hostname annotation's,
`defined-hosts-only` its spec.hostnames — without them it takes no listener's, as in external-dns. A route or
Gateway whose controller annotation names another controller than `dns-controller` is skipped, and said; a
Gateway's target annotation replaces its addresses (`gateways.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Literal

from dnslb.core import annotations as ann
from dnslb.core.diagnostics import INVALID_OBJECT, Diagnostic
from dnslb.core.dns.hostnames import hostname_problem
from dnslb.core.grammar import is_dns1123_label, is_dns1123_subdomain, show
from dnslb.core.objects import ObjectKey
from dnslb.core.sources.fields import Owner, Report, child, entries, other_controller, port, read_owner, text
from dnslb.core.sources.gateways import GROUP, GatewayView, Listener, gateway_view
from dnslb.core.sources.records import (
    SourceRecord,
    Wanted,
    annotation_hostnames,
    annotation_ttl,
    hostname_source,
    read_hostname,
    records_of,
    unique,
)

RouteKind = Literal["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"]
# The listener protocols each kind attaches to, as external-dns matches them: HTTPS carries what HTTP does (gRPC
# included), and a TCP route rides a TLS listener too.
PROTOCOLS: Mapping[str, frozenset[str]] = {
    "HTTPRoute": frozenset({"HTTP", "HTTPS"}),
    "GRPCRoute": frozenset({"HTTP", "HTTPS"}),
    "TLSRoute": frozenset({"TLS"}),
    "TCPRoute": frozenset({"TCP", "TLS"}),
    "UDPRoute": frozenset({"UDP"}),
}
_WITH_HOSTNAMES = ("HTTPRoute", "GRPCRoute", "TLSRoute")
HOSTNAME_SOURCE = (
    "external-dns.alpha.kubernetes.io/gateway-hostname-source",
    "external-dns.kubernetes.io/gateway-hostname-source",
)
_LISTENERS = Wanted("", "")  # a route without hostnames: whatever each listener's is


@dataclass(frozen=True)
class ParentRef:
    """A parentRef with the API's defaults applied, so spec and status entries compare equal."""

    group: str
    kind: str
    namespace: str
    name: str
    section: str | None
    port: int | None


def route_records(
    route: Mapping[str, Any],
    kind: RouteKind,
    gateways: Mapping[ObjectKey, Mapping[str, Any]],
    classes: AbstractSet[str],
    namespace_labels: Callable[[str], Mapping[str, str]],
) -> tuple[list[SourceRecord], list[Diagnostic]]:
    """The records a route of `kind` wants through the `gateways` (by key) of a class in `classes` (empty: every
    class). `namespace_labels` gives a namespace's labels ({} for one unknown), for listeners that select routes'
    namespaces. A route none of whose parents is such a Gateway says nothing; one not accepted yet wants nothing.
    Besides the route's own problems, the Diagnostics hold those of the Gateways it attaches to (about them)."""
    if kind not in PROTOCOLS:
        return [], [Diagnostic(None, INVALID_OBJECT, f"{show(kind)} is not a route kind")]
    owner, report = read_owner(route, kind)
    if owner is None:
        return [], report.problems
    spec = child(route, "spec", "spec", report) or {}
    namespace = owner.ref.key.namespace
    parents = _parents(spec, namespace, gateways, report)
    if all(_ours(gateway, classes) is False for _, gateway in parents):
        return [], []
    skipped = Report(owner.ref)
    if other_controller(owner.annotations, skipped):
        return [], skipped.problems  # another controller's: what else is wrong with it is not ours to say
    wanted = _hostnames(owner, spec, kind, report)
    accepted_refs = _accepted(route, namespace, report)
    accepted = [(ref, gateway) for ref, gateway in parents if ref in accepted_refs]
    targets: dict[str, set[str]] = {}
    matched: set[str] = set()
    problems: list[Diagnostic] = []
    for ref, gateway in accepted:
        ours = _ours(gateway, classes)
        if ours is not False:
            problems += gateway.problems
        if gateway.skipped:  # another controller's Gateway: its own Diagnostic says so
            continue
        for listener in _attached(gateway, ref, kind, namespace, namespace_labels):
            for want in wanted:
                host = intersection(listener.hostname, want.hostname)
                if host is not None:
                    matched.add(want.hostname)
                    if ours and _publishable(host, want, gateway, listener, report):
                        targets.setdefault(host, set()).update(gateway.addresses)
    if any(_ours(gateway, classes) is not False and not gateway.skipped for _, gateway in accepted):
        for want in wanted:
            if want.hostname and want.hostname not in matched:
                message = "not published: no listener this route is accepted on takes this hostname"
                report.not_published(want.field, message, about=want.hostname)
    ttl = annotation_ttl(owner, report) if targets else None
    return records_of(owner, targets, ttl), list(dict.fromkeys(report.problems + problems))


def intersection(listener: str | None, route: str) -> str | None:
    """The hostname a listener's and a route's (each "" or None for none) share, the more specific one; None if
    they do not match. `*.` is a suffix match: `*.example.com` takes `a.example.com` and `a.b.example.com`, not
    `example.com` (Gateway API, as external-dns matches it)."""
    if not listener:
        return route or None
    if not route or route == listener:
        return listener
    shorter, longer = listener, route
    if len(longer) < len(shorter) or (len(longer) == len(shorter) and longer.startswith("*.")):
        shorter, longer = longer, shorter
    if shorter.startswith("*.") and longer.endswith(shorter[1:]):
        return longer
    return None


def _parents(
    spec: Mapping[str, Any], namespace: str, gateways: Mapping[ObjectKey, Mapping[str, Any]], report: Report
) -> list[tuple[ParentRef, GatewayView]]:
    """The route's parentRefs naming a Gateway that `gateways` holds, each with that Gateway read."""
    parents = []
    views: dict[ObjectKey, GatewayView] = {}
    for ref in _parent_refs(spec.get("parentRefs"), "spec.parentRefs", namespace, report):
        key = ObjectKey(ref.namespace, ref.name)
        if (ref.group, ref.kind) == (GROUP, "Gateway") and key in gateways:
            if key not in views:
                views[key] = gateway_view(key, gateways[key])
            parents.append((ref, views[key]))
    return parents


def _ours(gateway: GatewayView, classes: AbstractSet[str]) -> bool | None:
    """Whether the Gateway's class is one of `classes`; None when its class is unreadable and that matters."""
    if not classes:
        return True
    return None if gateway.class_name is None else gateway.class_name in classes


def _publishable(host: str, want: Wanted, gateway: GatewayView, listener: Listener, report: Report) -> bool:
    """Listener hostnames follow the Gateway API's grammar, which allows names dnslb does not publish."""
    problem = hostname_problem(host) if not want.hostname else None
    if problem is not None:
        message = f"the hostname of Gateway {gateway.key} listener {listener.name}: {problem}; not published"
        report.not_published("", message, about=host)
    return problem is None


def _hostnames(owner: Owner, spec: Mapping[str, Any], kind: str, report: Report) -> list[Wanted]:
    defined: list[Wanted] = []
    names = entries(spec, "hostnames", "spec.hostnames", report) if kind in _WITH_HOSTNAMES else []
    for i, value in enumerate(names):
        name = read_hostname(value, f"spec.hostnames[{i}]", report)
        if name is not None:
            defined.append(Wanted(name, f"spec.hostnames[{i}]"))
    source = hostname_source(owner, HOSTNAME_SOURCE, report)
    if not names:  # not when every name was malformed: the route asked for names, never the listeners'
        if source != "defined-hosts-only":
            defined.append(_LISTENERS)
        else:  # as external-dns: the defined hosts are the route's own, and it has none
            found = ann.lookup(owner.annotations, HOSTNAME_SOURCE)
            message = "defined-hosts-only, and the route has no spec.hostnames: it takes no listener's; none published"
            report.not_published(ann.field(found[0]) if found else "", message)
    annotated = annotation_hostnames(owner, report) if source != "defined-hosts-only" else []
    return unique((defined if source != "annotation-only" else []) + annotated)


def _attached(
    gateway: GatewayView, ref: ParentRef, kind: str, namespace: str, labels: Callable[[str], Mapping[str, str]]
) -> list[Listener]:
    """The Gateway's listeners a route of `kind` in `namespace` attaches to through `ref`."""
    return [
        listener
        for listener in gateway.listeners
        if ref.section in (None, listener.name)
        and ref.port in (None, listener.port)
        and listener.protocol in PROTOCOLS[kind]
        and (not listener.kinds or (GROUP, kind) in listener.kinds)
        and listener.allows(namespace, gateway.key.namespace, labels)
    ]


def _accepted(route: Mapping[str, Any], namespace: str, report: Report) -> set[ParentRef]:
    """The parentRefs whose status.parents entry says Accepted=True."""
    status = child(route, "status", "status", report) or {}
    accepted = set()
    for i, entry in enumerate(entries(status, "parents", "status.parents", report)):
        where = f"status.parents[{i}]"
        if not isinstance(entry, Mapping):
            report.invalid(where, f"{show(entry)} is not a mapping")
            continue
        ref = _parent_ref(entry.get("parentRef"), f"{where}.parentRef", namespace, report)
        conditions = entries(entry, "conditions", f"{where}.conditions", report)
        if ref is not None and any(_is_accepted(c) for c in conditions):
            accepted.add(ref)
    return accepted


def _is_accepted(condition: object) -> bool:
    return isinstance(condition, Mapping) and condition.get("type") == "Accepted" and condition.get("status") == "True"


def _parent_refs(value: object, where: str, namespace: str, report: Report) -> list[ParentRef]:
    if value is None:
        return []
    if not isinstance(value, list):
        report.invalid(where, f"{show(value)} is not a list")
        return []
    refs = []
    for i, item in enumerate(value):
        ref = _parent_ref(item, f"{where}[{i}]", namespace, report)
        if ref is not None:
            refs.append(ref)
    return refs


def _parent_ref(item: object, where: str, namespace: str, report: Report) -> ParentRef | None:
    if not isinstance(item, Mapping):
        report.invalid(where, f"{show(item)} is not a mapping")
        return None
    group = GROUP if item.get("group") is None else text(item, "group", f"{where}.group", report)  # "": core
    kind = text(item, "kind", f"{where}.kind", report)
    ref_namespace = text(item, "namespace", f"{where}.namespace", report)
    if group is None or kind is None or ref_namespace is None:
        return None
    kind, ref_namespace = kind or "Gateway", ref_namespace or namespace
    name, section = item.get("name"), item.get("sectionName")
    if not is_dns1123_subdomain(name):
        report.invalid(f"{where}.name", f"{show(name)} is not a name")
        return None
    if not is_dns1123_label(ref_namespace):
        report.invalid(f"{where}.namespace", f"{show(ref_namespace)} is not a namespace name")
        return None
    if section not in (None, "") and not is_dns1123_subdomain(section):
        report.invalid(f"{where}.sectionName", f"{show(section)} is not a section name")
        return None
    number = None if item.get("port") is None else port(item.get("port"), f"{where}.port", report)
    if number is None and item.get("port") is not None:
        return None
    return ParentRef(group, kind, ref_namespace, str(name), str(section) if section else None, number)
