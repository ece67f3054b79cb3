"""Label selectors (`a=b,c!=d,e in (f,g),!h`) and field selectors (`metadata.name=x`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dnslb_testkit.kubeapi.errors import ApiError, bad_request
from dnslb_testkit.kubeapi.names import label_value, qualified_name

_KEY = r"[A-Za-z0-9_./-]+"
_SET_RE = re.compile(rf"\s*({_KEY})\s+(in|notin)\s*\((.*)\)\s*")
_EQUALITY_RE = re.compile(rf"\s*({_KEY})\s*(==|=|!=)\s*([^\s=!<>(),]*)\s*")
_ORDER_RE = re.compile(rf"\s*({_KEY})\s*([<>])\s*(-?\d+)\s*")
_EXISTS_RE = re.compile(rf"\s*(!?)\s*({_KEY})\s*")


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # in, notin, exists, !, gt, lt
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator == "in":
            return present and labels[self.key] in self.values
        if self.operator == "notin":
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        try:
            actual = int(labels[self.key])
        except ValueError:
            return False
        (bound,) = self.values
        return actual > int(bound) if self.operator == "gt" else actual < int(bound)


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[LabelRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _split_outside_parentheses(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _label_problem(requirement: str, problems: list[str]) -> ApiError:
    return bad_request(f"unable to parse requirement: {requirement!r}: {'; '.join(problems)}")


def _parse_requirement(text: str) -> LabelRequirement:
    requirement: LabelRequirement
    if match := _SET_RE.fullmatch(text):
        key, operator, raw = match.groups()
        values = frozenset(v.strip() for v in raw.split(","))
        requirement = LabelRequirement(key, operator, values)
    elif match := _EQUALITY_RE.fullmatch(text):
        key, operator, value = match.groups()
        requirement = LabelRequirement(key, "notin" if operator == "!=" else "in", frozenset({value}))
    elif match := _ORDER_RE.fullmatch(text):
        key, operator, bound = match.groups()
        requirement = LabelRequirement(key, "gt" if operator == ">" else "lt", frozenset({bound}))
    elif match := _EXISTS_RE.fullmatch(text):
        negated, key = match.groups()
        requirement = LabelRequirement(key, "!" if negated else "exists")
    else:
        raise _label_problem(text, ["found unexpected token"])
    problems = qualified_name(requirement.key)
    if requirement.operator in ("in", "notin"):
        for value in requirement.values:
            problems += label_value(value)
    if problems:
        raise _label_problem(text, problems)
    return requirement


def parse_label_selector(text: str | None) -> LabelSelector:
    if not text or not text.strip():
        return LabelSelector()
    return LabelSelector(tuple(_parse_requirement(part) for part in _split_outside_parentheses(text)))


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    equal: bool


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any], paths: Mapping[str, str]) -> bool:
        return all((field_value(obj, paths[r.field]) == r.value) == r.equal for r in self.requirements)

    def exact(self, field: str) -> str | None:
        """The value `field=value` pins, if the selector does (used to narrow a list cheaply)."""
        for r in self.requirements:
            if r.field == field and r.equal:
                return r.value
        return None


def field_value(obj: Mapping[str, Any], path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    if isinstance(current, bool):
        return "true" if current else "false"
    return "" if current is None else str(current)


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_field_selector(text: str | None, supported: Mapping[str, str]) -> FieldSelector:
    """`supported` maps each selectable field label to the object path it reads."""
    if not text or not text.strip():
        return FieldSelector()
    requirements = []
    for term in _split_unescaped(text, ","):
        match = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)(.*)", term)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, operator, value = match.groups()
        if field not in supported:
            raise bad_request(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, value, operator != "!="))
    return FieldSelector(tuple(requirements))
