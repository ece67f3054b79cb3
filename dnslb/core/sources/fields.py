"""Reading one object's fields strictly, for the sources: ASCII grammars, types, ranges, as `core/model.py` reads
Services. Unlike there, nothing here raises: a malformed field becomes one Diagnostic naming its path and costs only
what holds it (a rule, a listener, an endpoint), so one bad entry never hides the rest of the object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from dnslb.core import annotations as ann
from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, INVALID_OBJECT, Diagnostic
from dnslb.core.grammar import is_dns1123_label, is_dns1123_subdomain, show
from dnslb.core.objects import ObjectKey, ObjectRef

_NOTHING: Mapping[str, Any] = MappingProxyType({})
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")


class Report:
    """The Diagnostics about one object, as its fields are read."""

    def __init__(self, subject: ObjectRef | None) -> None:
        self.subject = subject
        self.problems: list[Diagnostic] = []

    def invalid(self, field: str, message: str, *, about: str = "") -> None:
        """A value that breaks its field's grammar, type or range."""
        self.problems.append(Diagnostic(self.subject, INVALID_OBJECT, message, field=field, about=about))

    def not_published(self, field: str, message: str, *, about: str = "") -> None:
        """A well-formed value that dnslb does not publish."""
        self.problems.append(Diagnostic(self.subject, DNS_NOT_PUBLISHED, message, field=field, about=about))

    def skipped(self, field: str, message: str) -> None:
        """A whole object left alone on purpose (it says it is another's): said, as a Normal event, not a Warning."""
        self.problems.append(Diagnostic(self.subject, DNS_NOT_PUBLISHED, message, field=field, severity="Normal"))


@dataclass(frozen=True)
class Owner:
    """Who an object is, when it was created and its annotations: what every source reads of its metadata."""

    ref: ObjectRef
    created: str  # RFC 3339, or "" when not (yet) known
    annotations: Mapping[str, str]


def read_owner(obj: object, kind: str) -> tuple[Owner | None, Report]:
    """The object's identity and metadata; None (reported, about no object) when it has no usable name."""
    report = Report(None)
    if not isinstance(obj, Mapping):
        report.invalid("", f"{kind}: {show(obj)} is not a mapping")
        return None, report
    metadata = child(obj, "metadata", "metadata", report)
    if metadata is None:
        return None, report
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not is_dns1123_subdomain(name):
        message = "is missing" if name is None or name == "" else f"{show(name)} is not a valid name"
        report.invalid("metadata.name", f"{kind}: {message}")
        return None, report
    if namespace is None or namespace == "":
        namespace = "default"  # a manifest without one; the API always says
    elif not is_dns1123_label(namespace):
        report.invalid("metadata.namespace", f"{kind}: {show(namespace)} is not a namespace name")
        return None, report
    report.subject = ObjectRef(kind, ObjectKey(str(namespace), str(name)))
    created = _timestamp(metadata.get("creationTimestamp"), report)
    return Owner(report.subject, created, _annotations(metadata.get("annotations"), report)), report


def other_controller(annotations: Mapping[str, str], report: Report) -> bool:
    """Whether a controller annotation (either prefix) names another controller than `dns-controller` — present and
    empty included, as in external-dns; then the object is skipped, and `report` says so."""
    for name in ann.CONTROLLER:
        value = annotations.get(name)
        if value is not None and value != ann.OUR_CONTROLLER:
            message = f"skipped: controller annotation names {show(value)}, not {show(ann.OUR_CONTROLLER)}"
            report.skipped(ann.field(name), message)
            return True
    return False


def child(parent: Mapping[str, Any], key: str, where: str, report: Report) -> Mapping[str, Any] | None:
    """The mapping at `key` (empty when absent), or None, reported, when it is something else."""
    value = parent.get(key)
    if value is None:
        return _NOTHING
    if isinstance(value, Mapping):
        return value
    report.invalid(where, f"{show(value)} is not a mapping")
    return None


def entries(parent: Mapping[str, Any], key: str, where: str, report: Report) -> list[Any]:
    """The list at `key`: empty when absent, and when it is something else (reported)."""
    value = parent.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    report.invalid(where, f"{show(value)} is not a list")
    return []


def text(parent: Mapping[str, Any], key: str, where: str, report: Report) -> str | None:
    """The string at `key` ("" when absent), or None, reported, when it is something else."""
    value = parent.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    report.invalid(where, f"{show(value)} is not a string")
    return None


def port(value: object, where: str, report: Report) -> int | None:
    """A port number 1-65535, or None, reported."""
    if type(value) is int and 1 <= value <= 65535:
        return value
    report.invalid(where, f"{show(value)} is not a port number (1-65535)")
    return None


def _timestamp(value: object, report: Report) -> str:
    """RFC 3339 as the API writes it (YAML loaders make it a datetime); unusable, it reads as not yet known."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        return value
    report.invalid("metadata.creationTimestamp", f"{show(value)} is not an RFC 3339 time; read as not yet known")
    return ""


def _annotations(value: object, report: Report) -> Mapping[str, str]:
    """The annotations with string keys and values; each other entry is reported and left out."""
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        report.invalid("metadata.annotations", f"{show(value)} is not a mapping")
        return MappingProxyType({})
    kept: dict[str, str] = {}
    for key, entry in value.items():
        if isinstance(key, str) and isinstance(entry, str):
            kept[key] = entry
        else:
            report.invalid(f"metadata.annotations[{show(key)[1:-1]}]", f"{show(entry)} is not a string")
    return MappingProxyType(kept)
