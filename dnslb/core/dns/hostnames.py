"""Hostnames a Service asks for, from its annotations, checked against RFC 1123."""

from __future__ import annotations

import re

from dnslb.core import annotations as ann
from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, Diagnostic
from dnslb.core.grammar import trim
from dnslb.core.model import ServiceView
from dnslb.core.objects import service_ref

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def hostname_problem(name: str) -> str | None:
    """Why `name` (lowercase, no trailing dot) is not a valid hostname, or None."""
    if not name:
        return "is empty"
    if not name.isascii():
        return f"{name[:40]!r} is not ASCII (write an internationalized name in its xn-- form)"
    if len(name) > 253:
        return f"'{name[:40]}…' is longer than 253 characters"
    labels = name.split(".")
    if len(labels) < 2:
        return f"'{name}' is not fully qualified"
    if labels[-1].isdigit():
        return f"'{name}' is an address, not a hostname (no top-level domain is all digits)"
    for i, label in enumerate(labels):
        if label == "*" and i == 0:
            continue
        if label == "*" or "*" in label:
            return f"'{name}' has a wildcard that is not the whole leftmost label"
        if len(label) > 63:
            return f"'{name}' has a label longer than 63 characters"
        if not _LABEL.fullmatch(label):
            return f"'{name}' has an invalid label '{label}' (letters, digits and inner '-' only)"
    return None


def service_hostnames(service: ServiceView) -> tuple[tuple[str, ...], tuple[Diagnostic, ...]]:
    """Valid hostnames (lowercased, without trailing dot, in annotation order) and one Diagnostic per invalid one."""
    found = ann.lookup(service.annotations, ann.HOSTNAME)
    if found is None:
        return (), ()
    field = ann.field(found[0])
    names: list[str] = []
    problems: list[Diagnostic] = []
    for raw in found[1].split(","):
        text = trim(raw).removesuffix(".")
        if not trim(raw):
            continue
        name = text.lower() if text.isascii() else text  # lower() first would turn a Kelvin sign into a "k"
        problem = hostname_problem(name)
        if problem is not None:
            problems.append(Diagnostic(service_ref(service.key), DNS_NOT_PUBLISHED, problem, field=field))
        elif name not in names:
            names.append(name)
    return tuple(names), tuple(problems)
