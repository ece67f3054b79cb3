"""Ingresses: the hostnames of their rules and TLS sections (and hostname annotations), pointed at the IPs in their
status or target annotation, as external-dns's `ingress` source reads them.

As in external-dns, `spec.tls[].hosts` are published by default; `tls_hosts=False` is its `--ignore-ingress-tls-spec`,
for clusters where a wildcard or SAN certificate shared by many Ingresses lists names none of them routes
(`*.example.com` would catch every name of the zone). Then a host only a TLS section names is reported, not published;
one that is also a rule's (or an annotation's) is published through it.

An Ingress is read when its class — `spec.ingressClassName`, else the legacy `kubernetes.io/ingress.class`
annotation — is in the class filter (an empty filter takes every class), and skipped, said, when its controller
annotation names another controller than external-dns's `dns-controller`. The `ingress-hostname-source` annotation
(`annotation-only`, `defined-hosts-only`) chooses between the spec's hostnames and the annotation's.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from dnslb.core.diagnostics import Diagnostic
from dnslb.core.grammar import is_dns1123_subdomain, show
from dnslb.core.sources.fields import Owner, Report, child, entries, other_controller, read_owner, text
from dnslb.core.sources.records import (
    SourceRecord,
    Wanted,
    annotation_hostnames,
    annotation_ttl,
    hostname_source,
    hostname_target,
    read_hostname,
    read_ip,
    records_of,
    target_override,
    unique,
)

LEGACY_CLASS = "kubernetes.io/ingress.class"
HOSTNAME_SOURCE = (
    "external-dns.alpha.kubernetes.io/ingress-hostname-source",
    "external-dns.kubernetes.io/ingress-hostname-source",
)
TLS_IGNORED = "TLS hosts are not published: --ignore-ingress-tls-spec"


def ingress_records(
    obj: Mapping[str, Any], class_filter: AbstractSet[str], *, tls_hosts: bool = True
) -> tuple[list[SourceRecord], list[Diagnostic]]:
    """The records a networking.k8s.io/v1 Ingress wants, if its class is in `class_filter` (empty: every class).
    An Ingress of another class says nothing; one without addresses yet wants nothing, and that is no error.
    `tls_hosts`: whether `spec.tls[].hosts` name records (external-dns's default; False is its
    `--ignore-ingress-tls-spec`)."""
    owner, report = read_owner(obj, "Ingress")
    if owner is None:
        return [], report.problems
    spec = child(obj, "spec", "spec", report) or {}
    ours = _ours(owner, spec, class_filter, report)
    if not ours:
        return [], report.problems if ours is None else []
    skipped = Report(owner.ref)
    if other_controller(owner.annotations, skipped):
        return [], skipped.problems  # another controller's: what else is wrong with it is not ours to say
    wanted = _hostnames(owner, spec, report, tls_hosts=tls_hosts)
    if not wanted:
        return [], report.problems
    ttl = annotation_ttl(owner, report)
    addresses = target_override(owner.annotations, report)
    if addresses is None:
        addresses = _status_ips(obj, report)
    return records_of(owner, {w.hostname: addresses for w in wanted}, ttl), report.problems


def _ours(owner: Owner, spec: Mapping[str, Any], class_filter: AbstractSet[str], report: Report) -> bool | None:
    """spec.ingressClassName when set, else the legacy annotation; as external-dns, neither matches no filter.
    None: the class is unreadable and a filter applies, so whose it is cannot be told."""
    name = text(spec, "ingressClassName", "spec.ingressClassName", report)
    if name and not is_dns1123_subdomain(name):
        report.invalid("spec.ingressClassName", f"{show(name)} is not an IngressClass name")
        name = None
    if name is None:
        return None if class_filter else True
    return not class_filter or (name or owner.annotations.get(LEGACY_CLASS, "")) in class_filter


def _hostnames(owner: Owner, spec: Mapping[str, Any], report: Report, *, tls_hosts: bool) -> list[Wanted]:
    defined: list[Wanted] = []
    for i, rule in enumerate(entries(spec, "rules", "spec.rules", report)):
        if not isinstance(rule, Mapping):
            report.invalid(f"spec.rules[{i}]", f"{show(rule)} is not a mapping")
        elif rule.get("host") not in (None, ""):  # a rule for every host: nothing to name
            _add(defined, rule["host"], f"spec.rules[{i}].host", report)
    ignored: list[tuple[object, str]] = []  # TLS hosts left out: (value, field)
    for i, tls in enumerate(entries(spec, "tls", "spec.tls", report)):
        if not isinstance(tls, Mapping):
            report.invalid(f"spec.tls[{i}]", f"{show(tls)} is not a mapping")
            continue
        for j, host in enumerate(entries(tls, "hosts", f"spec.tls[{i}].hosts", report)):
            if host == "":
                continue
            if tls_hosts:
                _add(defined, host, f"spec.tls[{i}].hosts[{j}]", report)
            else:
                ignored.append((host, f"spec.tls[{i}].hosts[{j}]"))
    source = hostname_source(owner, HOSTNAME_SOURCE, report)
    annotated = annotation_hostnames(owner, report) if source != "defined-hosts-only" else []
    wanted = unique((defined if source != "annotation-only" else []) + annotated)
    if source != "annotation-only":  # there the annotation, not the switch, leaves the TLS hosts out
        _say_ignored(ignored, {w.hostname for w in wanted}, report)
    return wanted


def _say_ignored(ignored: list[tuple[object, str]], published: AbstractSet[str], report: Report) -> None:
    """Say which TLS hosts `tls_hosts=False` leaves out: those no rule or annotation publishes anyway."""
    for host, where in ignored:
        name = host.lower().removesuffix(".") if isinstance(host, str) and host.isascii() else ""
        if name not in published:
            report.not_published(where, TLS_IGNORED, about=name)


def _add(wanted: list[Wanted], value: object, where: str, report: Report) -> None:
    name = read_hostname(value, where, report)
    if name is not None:
        wanted.append(Wanted(name, where))


def _status_ips(obj: Mapping[str, Any], report: Report) -> list[str]:
    """The IPs in status.loadBalancer.ingress; a hostname there (a cloud load balancer's) is reported."""
    status = child(obj, "status", "status", report) or {}
    balancer = child(status, "loadBalancer", "status.loadBalancer", report) or {}
    ips = []
    for i, entry in enumerate(entries(balancer, "ingress", "status.loadBalancer.ingress", report)):
        where = f"status.loadBalancer.ingress[{i}]"
        if not isinstance(entry, Mapping):
            report.invalid(where, f"{show(entry)} is not a mapping")
            continue
        if entry.get("ip") not in (None, ""):
            ip = read_ip(entry["ip"], f"{where}.ip", report)
            if ip is not None:
                ips.append(ip)
        hostname = entry.get("hostname")
        if hostname not in (None, ""):
            hostname_target(hostname, f"{where}.hostname", report)
    return ips
