"""How apiserver decodes a built-in kind's JSON into its Go structs and encodes it back: a value of the wrong JSON
type is a 400 (`json: cannot unmarshal string into Go struct field IngressSpec.spec.rules of type
[]v1.IngressRule`), unknown fields are dropped, `omitempty` fields holding their zero value are left out, and a
struct-valued field that is not a pointer is always there (as `{}` at least).

A shape is a small dict: `{"type": "struct", "go": "v1.IngressSpec", "fields": {...}}`, `{"type": "slice",
"go": "[]v1.IngressRule", "items": {...}}`, `{"type": "map", "go": "map[string]string"}`, `{"type": "string"}`,
`{"type": "int32"}`; a field's shape may add `"omitempty": True` or `"always": True` (a non-pointer struct).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dnslb_testkit.kubeapi.errors import bad_request

Shape = Mapping[str, Any]

_INT32 = (-(2**31), 2**31 - 1)


def struct(go: str, **fields: Shape) -> dict[str, Any]:
    return {"type": "struct", "go": go, "fields": fields}


def slice_of(items: Shape, go: str) -> dict[str, Any]:
    return {"type": "slice", "go": go, "items": items, "omitempty": True}


def string(*, omitempty: bool = True) -> dict[str, Any]:
    """A `string` field (`omitempty` unless said otherwise); a `*string` is `string(omitempty=False)`."""
    return {"type": "string", "go": "string", "omitempty": omitempty}


def int32(*, omitempty: bool = True) -> dict[str, Any]:
    return {"type": "int32", "go": "int32", "omitempty": omitempty}


def string_map() -> dict[str, Any]:
    return {"type": "map", "go": "map[string]string", "omitempty": True}


def always(shape: Shape) -> dict[str, Any]:
    """A non-pointer struct field: encoded even when empty."""
    return {**shape, "always": True}


def pointer(shape: Shape) -> dict[str, Any]:
    """A pointer field: left out only when absent, never for its zero value."""
    return {**shape, "omitempty": False}


def decode(value: Any, shape: Shape, path: str, owner: str) -> Any:
    """`value` as apiserver would store it after decoding it into `shape` (at `path`, a field of struct `owner`)."""
    kind = shape["type"]
    if kind == "struct":
        if not isinstance(value, dict):
            raise _mismatch(value, shape, path, owner)
        name = str(shape["go"]).rsplit(".", 1)[-1]
        result: dict[str, Any] = {}
        fields: Mapping[str, Shape] = shape["fields"]
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                continue  # an unknown field: dropped
            decoded = decode(item, field, f"{path}.{key}" if path else key, name)
            if field.get("omitempty") and _is_zero(decoded, field):
                continue
            result[key] = decoded
        for key, field in fields.items():
            if field.get("always") and key not in result:
                result[key] = decode({}, field, f"{path}.{key}" if path else key, name)
        return result
    if kind == "slice":
        if not isinstance(value, list):
            raise _mismatch(value, shape, path, owner)
        return [decode(item, shape["items"], path, owner) for item in value]
    if kind == "map":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _mismatch(value, shape, path, owner)
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise _mismatch(value, shape, path, owner)
        return value
    if kind == "int32":
        if isinstance(value, bool) or not isinstance(value, int) or not _INT32[0] <= value <= _INT32[1]:
            raise _mismatch(value, shape, path, owner)
        return value
    raise ValueError(f"unknown shape type {kind!r}")


def _is_zero(value: Any, shape: Shape) -> bool:
    if shape["type"] == "struct":
        return False  # encoding/json never leaves out a struct for omitempty
    return value in ("", 0, [], {}) and not isinstance(value, bool)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _mismatch(value: Any, shape: Shape, path: str, owner: str) -> Exception:
    go_path = re.sub(r"\[\d+\]", "", path)
    return bad_request(
        f"json: cannot unmarshal {_json_kind(value)} into Go struct field {owner}.{go_path} of type {shape['go']}"
    )
