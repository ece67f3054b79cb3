"""What kube-apiserver does with a custom resource and its CRD's structural schema, in the order it does it:
unknown fields are pruned, defaults are applied, then the object is validated (422 with one cause per field,
worded and typed as apiextensions-apiserver words them: Required, Unsupported value, Too long, Too many, Duplicate
value, Invalid value). Besides the OpenAPI keywords, the list types (`x-kubernetes-list-type: map` and `set`: no
two items alike), the formats apiserver checks (`date-time`, `ipv4`, `ipv6`) and the CEL transition rule
`self == oldSelf` (immutable fields) are enforced; other CEL rules (`x-kubernetes-validations`) are not.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from dnslb_testkit.kubeapi import kinds
from dnslb_testkit.kubeapi.errors import FieldCause, format_value
from dnslb_testkit.kubeapi.patches import json_equal

PRESERVE_UNKNOWN_FIELDS = "x-kubernetes-preserve-unknown-fields"
_LIST_TYPE = "x-kubernetes-list-type"
_LIST_MAP_KEYS = "x-kubernetes-list-map-keys"
_RULES = "x-kubernetes-validations"
_IMMUTABLE_RULE = "self == oldSelf"
# strfmt's date-time: a date, a `T`, a time with a zone (the fraction's separator is any character there).
_DATE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        date(year, month, day)
    except ValueError:
        return False
    return hour < 24 and minute < 60 and second < 60


def _is_ipv4(value: object) -> bool:
    return not isinstance(value, str) or _parses_as(value, ipaddress.IPv4Address)


def _is_ipv6(value: object) -> bool:
    return not isinstance(value, str) or _parses_as(value, ipaddress.IPv6Address)


def _parses_as(value: str, parser: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> bool:
    try:
        parser(value)
    except ValueError:
        return False
    return True


_FORMATS = FormatChecker(formats=())
_FORMATS.checkers.update({"date-time": (_is_date_time, ()), "ipv4": (_is_ipv4, ()), "ipv6": (_is_ipv6, ())})


def storage_schema(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The openAPIV3Schema of a CRD's storage version (the version the double serves)."""
    version = next(v for v in definition["spec"]["versions"] if v.get("storage"))
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def schemas() -> dict[str, dict[str, Any]]:
    """Kind → the openAPIV3Schema of its CRD: dnslb's as deploy/crds has it (both come from the models), the
    others as dnslb_testkit/crds has them."""
    return {kind: storage_schema(definition) for kind, definition in kinds.CRDS.items()}


def prune(value: Any, schema: Mapping[str, Any]) -> Any:
    """Drop the fields the schema does not know (a real server drops them silently)."""
    if isinstance(value, dict) and schema.get("type") == "object" and not schema.get(PRESERVE_UNKNOWN_FIELDS):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        if properties is not None:
            return {k: prune(v, properties[k]) for k, v in value.items() if k in properties}
        if isinstance(additional, Mapping):
            return {k: prune(v, additional) for k, v in value.items()}
        return value
    if isinstance(value, dict) and isinstance(schema.get("properties"), Mapping):  # preserved: known fields still
        properties = schema["properties"]
        return {k: prune(v, properties[k]) if k in properties else v for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [prune(v, schema["items"]) for v in value]
    return value


def default(value: Any, schema: Mapping[str, Any]) -> Any:
    """Fill in the schema's defaults for the fields that are absent (each a copy: the schema is shared)."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name, sub in properties.items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = default(value[name], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            for name in value:
                value[name] = default(value[name], additional)
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [default(v, schema["items"]) for v in value]
    return value


def validate(value: Any, schema: Mapping[str, Any], old: Any = None) -> list[FieldCause]:
    """One cause per violation, named by field path as the API server names it (`spec.addresses[0]`); `old` is
    the stored object on an update, for the transition rules."""
    found: list[tuple[str, FieldCause]] = []
    for error in Draft7Validator(schema, format_checker=_FORMATS).iter_errors(value):
        path = _path(error.absolute_path)
        found += [(path, cause) for cause in _causes(error, path)]
    found += [(cause.field, cause) for cause in _list_type_causes(value, schema, "")]
    if old is not None:
        found += [(cause.field, cause) for cause in _transition_causes(value, old, schema, "")]
    return [cause for _, cause in sorted(found, key=lambda pair: pair[0])]


def _path(parts: Any) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for python, name in _JSON_TYPES if isinstance(value, python)), "object")


def _causes(error: ValidationError, path: str) -> list[FieldCause]:
    """apiextensions' wording (kube-openapi's messages, converted to field errors) for one schema violation."""
    where = path or "<root>"
    kind, limit, instance = error.validator, error.validator_value, error.instance
    if kind == "required" and isinstance(instance, dict):
        return [FieldCause.required(f"{path}.{name}" if path else name) for name in limit if name not in instance]
    if kind == "enum":
        return [FieldCause.not_supported(where, instance, [str(v) for v in limit])]
    if kind == "maxLength":
        return [FieldCause.too_long(where, int(limit))]
    if kind in ("maxItems", "maxProperties"):
        count = len(instance) if isinstance(instance, list | dict) else 0
        noun = "item" if limit == 1 else "items"
        return [FieldCause("FieldValueTooMany", where, f"Too many: {count}: must have at most {limit} {noun}")]
    if kind == "type":
        detail = f"{where} in body must be of type {limit}: {_json_type(instance)!r}".replace("'", '"')
        return [FieldCause("FieldValueTypeInvalid", where, f"Invalid value: {format_value(instance)}: {detail}")]
    messages = {
        "minimum": f"should be greater than or equal to {limit}",
        "exclusiveMinimum": f"should be greater than {limit}",
        "maximum": f"should be less than or equal to {limit}",
        "exclusiveMaximum": f"should be less than {limit}",
        "pattern": f"should match '{limit}'",
        "minLength": f"should be at least {limit} chars long",
        "minItems": f"should have at least {limit} items",
        "minProperties": f"should have at least {limit} properties",
        "uniqueItems": "shouldn't contain duplicates",
        "format": f"must be of type {limit}: {format_value(instance)}",
    }
    detail = f"{where} in body {messages[kind]}" if kind in messages else error.message
    return [FieldCause.invalid(where, instance, detail)]


def _children(
    value: Any, schema: Mapping[str, Any], path: str
) -> Iterator[tuple[str | int, Any, Mapping[str, Any], str]]:
    """The values under `value` the schema describes: key or index, value, schema, path."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for name, child in value.items():
            sub = properties.get(name, additional if isinstance(additional, Mapping) else None)
            if isinstance(sub, Mapping):
                yield name, child, sub, f"{path}.{name}" if path else name
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            yield index, item, schema["items"], f"{path}[{index}]"


def _list_type_causes(value: Any, schema: Mapping[str, Any], path: str) -> list[FieldCause]:
    """`x-kubernetes-list-type`: a map list holds one item per key, a set one of each value."""
    causes: list[FieldCause] = []
    list_type = schema.get(_LIST_TYPE)
    if isinstance(value, list) and list_type in ("map", "set"):
        seen: list[Any] = []
        for index, item in enumerate(value):
            if list_type == "map":
                if not isinstance(item, dict):
                    continue
                key = {name: item[name] for name in schema.get(_LIST_MAP_KEYS, ()) if name in item}
                if any(json_equal(key, other) for other in seen):
                    shown = f"map[string]interface {{}}{format_value(key)}"
                    causes.append(FieldCause("FieldValueDuplicate", f"{path}[{index}]", f"Duplicate value: {shown}"))
                seen.append(key)
            else:
                if any(json_equal(item, other) for other in seen):
                    causes.append(FieldCause.duplicate(f"{path}[{index}]", item))
                seen.append(item)
    for _, child, sub, child_path in _children(value, schema, path):
        causes += _list_type_causes(child, sub, child_path)
    return causes


def _transition_causes(value: Any, old: Any, schema: Mapping[str, Any], path: str) -> list[FieldCause]:
    """The `self == oldSelf` rules, where the old object has the field (through object fields, as CEL correlates)."""
    causes: list[FieldCause] = []
    for rule in schema.get(_RULES) or ():
        immutable = isinstance(rule, Mapping) and str(rule.get("rule", "")).strip() == _IMMUTABLE_RULE
        if immutable and not json_equal(value, old):
            message = str(rule.get("message") or f"failed rule: {_IMMUTABLE_RULE}")
            causes.append(FieldCause.invalid(path or "<root>", str(schema.get("type", "object")), message))
    if isinstance(value, dict) and isinstance(old, dict):
        for name, child, sub, child_path in _children(value, schema, path):
            if name in old:
                causes += _transition_causes(child, old[name], sub, child_path)
    return causes
