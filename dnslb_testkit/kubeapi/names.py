"""Name, label and annotation syntax, with apiserver's wording for each rule."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_LABEL_1123 = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_1123 = rf"{_LABEL_1123}(\.{_LABEL_1123})*"
_QUALIFIED_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_IANA_SVC_NAME = r"[-a-z0-9]*[a-z]+[-a-z0-9]*"

_LABEL_1123_RE = re.compile(_LABEL_1123)
_LABEL_1035_RE = re.compile(_LABEL_1035)
_SUBDOMAIN_1123_RE = re.compile(_SUBDOMAIN_1123)
_QUALIFIED_NAME_PART_RE = re.compile(_QUALIFIED_NAME_PART)

SUBDOMAIN_MAX = 253
LABEL_MAX = 63


@dataclass(frozen=True)
class NameRule:
    """How one kind's `metadata.name` is validated; `check` returns the problems found."""

    description: str
    check: Callable[[str], list[str]]


def dns1123_label(value: str) -> list[str]:
    problems = []
    if len(value) > LABEL_MAX:
        problems.append(f"must be no more than {LABEL_MAX} characters")
    if not _LABEL_1123_RE.fullmatch(value):
        problems.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
            "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
            f"validation is '{_LABEL_1123}')"
        )
    return problems


def dns1035_label(value: str) -> list[str]:
    problems = []
    if len(value) > LABEL_MAX:
        problems.append(f"must be no more than {LABEL_MAX} characters")
    if not _LABEL_1035_RE.fullmatch(value):
        problems.append(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
            f"regex used for validation is '{_LABEL_1035}')"
        )
    return problems


def dns1123_subdomain(value: str) -> list[str]:
    problems = []
    if len(value) > SUBDOMAIN_MAX:
        problems.append(f"must be no more than {SUBDOMAIN_MAX} characters")
    if not _SUBDOMAIN_1123_RE.fullmatch(value):
        problems.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
            f"validation is '{_SUBDOMAIN_1123}')"
        )
    return problems


SUBDOMAIN_NAMES = NameRule("DNS-1123 subdomain", dns1123_subdomain)
LABEL_NAMES = NameRule("DNS-1123 label", dns1123_label)
DNS1035_NAMES = NameRule("DNS-1035 label", dns1035_label)


def qualified_name(value: str) -> list[str]:
    """Label and annotation keys: an optional DNS subdomain prefix, a slash, and a short name."""
    prefix, slash, name = value.rpartition("/")
    problems = []
    if slash and not prefix:
        return ["prefix part must be non-empty"]
    if prefix:
        problems += [f"prefix part {p}" for p in dns1123_subdomain(prefix)]
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > LABEL_MAX:
        problems.append(f"name part must be no more than {LABEL_MAX} characters")
    elif not _QUALIFIED_NAME_PART_RE.fullmatch(name):
        problems.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            f"validation is '{_QUALIFIED_NAME_PART}')"
        )
    return problems


def label_value(value: str) -> list[str]:
    problems = []
    if len(value) > LABEL_MAX:
        problems.append(f"must be no more than {LABEL_MAX} characters")
    if value and not _QUALIFIED_NAME_PART_RE.fullmatch(value):
        problems.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            f"'12345', regex used for validation is '({_QUALIFIED_NAME_PART})?')"
        )
    return problems


def iana_service_name(value: str) -> list[str]:
    """Named ports (`targetPort: http`)."""
    problems = []
    if len(value) > 15:
        problems.append("must be no more than 15 characters")
    if not re.fullmatch(_IANA_SVC_NAME, value):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
        problems.append("must contain at least one letter (a-z)")
    elif "--" in value:
        problems.append("must not contain consecutive hyphens")
    elif value.startswith("-") or value.endswith("-"):
        problems.append("must not begin or end with a hyphen")
    return problems
