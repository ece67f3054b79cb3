"""Gateways as routes see them: their class, listeners and addresses (Gateway API v1), read strictly.

A malformed listener is left out, never read as a laxer one: a listener whose hostname is unreadable does not
become one without a hostname (which would take every hostname).

As in external-dns, a Gateway reads two annotations of its own: the target annotation, whose IPs replace its
status.addresses for every route attached to it, and the controller annotation, which when it names another
controller than `dns-controller` leaves the Gateway to that one: no route publishes through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dnslb.core.config.resources import LabelSelector
from dnslb.core.diagnostics import Diagnostic
from dnslb.core.grammar import is_dns1123_subdomain, show
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources.fields import Report, child, entries, other_controller, port, text
from dnslb.core.sources.records import hostname_target, read_ip, target_override

GROUP = "gateway.networking.k8s.io"
# Gateway API's Hostname: RFC 1123, lowercase, optionally `*.` first; single labels allowed (dnslb refuses them later)
_HOSTNAME = re.compile(r"(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_PROTOCOL = re.compile(
    r"[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?"  # HTTP, HTTPS, TLS, TCP, UDP, ...
    r"|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[a-zA-Z0-9]+"  # or domain-prefixed
)
_KIND = re.compile(r"[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?")


@dataclass(frozen=True)
class Listener:
    name: str
    hostname: str | None  # None: every hostname
    port: int
    protocol: str
    namespaces: str  # which routes may attach: Same, All or Selector (by `selector`)
    selector: LabelSelector | None
    kinds: tuple[tuple[str, str], ...]  # (group, kind) of the routes it takes; empty: those its protocol carries

    def allows(self, route_namespace: str, gateway_namespace: str, labels: Callable[[str], Mapping[str, str]]) -> bool:
        if self.namespaces == "All":
            return True
        if self.namespaces == "Same":
            return route_namespace == gateway_namespace
        return self.selector is not None and self.selector.matches(labels(route_namespace))


@dataclass(frozen=True)
class GatewayView:
    key: ObjectKey
    class_name: str | None  # None: unreadable
    listeners: tuple[Listener, ...]
    addresses: tuple[str, ...]  # the IPs it is reached at: its target annotation's, else those in its status
    problems: tuple[Diagnostic, ...]
    skipped: bool = False  # its controller annotation names another controller: nothing publishes through it


def gateway_view(key: ObjectKey, obj: Mapping[str, Any]) -> GatewayView:
    """Read one Gateway (the object found at `key`); what is malformed is left out and in `problems`."""
    report = Report(ObjectRef("Gateway", key))
    if not isinstance(obj, Mapping):
        report.invalid("", f"{show(obj)} is not a mapping")
        return GatewayView(key, None, (), (), tuple(report.problems))
    spec = child(obj, "spec", "spec", report) or {}
    class_name = text(spec, "gatewayClassName", "spec.gatewayClassName", report)
    if class_name is not None and not is_dns1123_subdomain(class_name):
        message = f"{show(class_name)} is not a GatewayClass name" if class_name else "is missing"
        report.invalid("spec.gatewayClassName", message)
        class_name = None
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    strings = {k: v for k, v in annotations.items() if isinstance(v, str)} if isinstance(annotations, Mapping) else {}
    if other_controller(strings, report):
        return GatewayView(key, class_name, (), (), tuple(report.problems), skipped=True)
    listeners = []
    for i, item in enumerate(entries(spec, "listeners", "spec.listeners", report)):
        listener = _listener(item, f"spec.listeners[{i}]", report)
        if listener is not None:
            listeners.append(listener)
    addresses = target_override(strings, report)
    if addresses is None:
        addresses = _status_addresses(obj, report)
    return GatewayView(key, class_name, tuple(listeners), tuple(addresses), tuple(report.problems))


def _listener(item: object, where: str, report: Report) -> Listener | None:
    if not isinstance(item, Mapping):
        report.invalid(where, f"{show(item)} is not a mapping")
        return None
    name = item.get("name")
    if not is_dns1123_subdomain(name):
        report.invalid(f"{where}.name", f"{show(name)} is not a listener name; listener left out")
        return None
    number = port(item.get("port"), f"{where}.port", report)
    protocol = item.get("protocol")
    if not isinstance(protocol, str) or len(protocol) > 255 or not _PROTOCOL.fullmatch(protocol):
        report.invalid(f"{where}.protocol", f"{show(protocol)} is not a protocol; listener left out")
        return None
    hostname = item.get("hostname")
    if hostname in (None, ""):
        hostname = None
    elif not isinstance(hostname, str) or len(hostname) > 253 or not _HOSTNAME.fullmatch(hostname):
        report.invalid(f"{where}.hostname", f"{show(hostname)} is not a hostname; listener left out")
        return None
    allowed = _allowed_routes(item, f"{where}.allowedRoutes", report)
    if number is None or allowed is None:
        return None
    return Listener(str(name), hostname, number, protocol, *allowed)


def _allowed_routes(
    item: Mapping[str, Any], where: str, report: Report
) -> tuple[str, LabelSelector | None, tuple[tuple[str, str], ...]] | None:
    allowed = child(item, "allowedRoutes", where, report)
    namespaces = child(allowed, "namespaces", f"{where}.namespaces", report) if allowed is not None else None
    if allowed is None or namespaces is None:
        return None
    origin = namespaces.get("from")
    origin = "Same" if origin in (None, "") else origin
    selector = None
    if origin == "Selector":
        try:
            selector = LabelSelector.model_validate(namespaces.get("selector"))
        except ValidationError as exc:
            report.invalid(f"{where}.namespaces.selector", f"not a label selector ({exc.errors()[0]['msg']})")
            return None
    elif origin not in ("Same", "All"):
        report.invalid(f"{where}.namespaces.from", f"{show(origin)} is not Same, All or Selector")
        return None
    kinds = []
    for i, entry in enumerate(entries(allowed, "kinds", f"{where}.kinds", report)):
        group = (entry.get("group") or GROUP) if isinstance(entry, Mapping) else None
        kind = entry.get("kind") if isinstance(entry, Mapping) else None
        if not isinstance(group, str) or not isinstance(kind, str) or not _KIND.fullmatch(kind):
            report.invalid(f"{where}.kinds[{i}]", f"{show(entry)} is not a route kind; listener left out")
            return None
        kinds.append((group, kind))
    return str(origin), selector, tuple(kinds)


def _status_addresses(obj: Mapping[str, Any], report: Report) -> list[str]:
    """The IPs in status.addresses (type IPAddress, the default); a Hostname is reported, other types left out."""
    status = child(obj, "status", "status", report) or {}
    ips = []
    for i, entry in enumerate(entries(status, "addresses", "status.addresses", report)):
        where = f"status.addresses[{i}]"
        if not isinstance(entry, Mapping):
            report.invalid(where, f"{show(entry)} is not a mapping")
            continue
        kind, value = entry.get("type") or "IPAddress", entry.get("value")
        if kind == "IPAddress":
            ip = read_ip(value, f"{where}.value", report)
            if ip is not None:
                ips.append(ip)
        elif kind == "Hostname":
            hostname_target(value, f"{where}.value", report)
        else:
            report.not_published(f"{where}.type", f"{show(kind)} addresses are not published: dnslb publishes IPs")
    return ips
