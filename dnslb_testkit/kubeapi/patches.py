"""JSON patch (RFC 6902) and JSON merge patch (RFC 7386), applied to plain JSON values."""

from __future__ import annotations

import copy
from typing import Any

from dnslb_testkit.kubeapi.errors import ApiError, bad_request, unprocessable


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python's ==, `true` is not `1`."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise unprocessable(f"invalid JSON pointer: {path!r}")
    if not path:
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


class _PatchFailedError(Exception):
    pass


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise _PatchFailedError(f"invalid array index: {token}")
    index = int(token)
    if index > len(container) or (not allow_end and index == len(container)):
        raise _PatchFailedError(f"array index out of bounds: {index}")
    return index


def _parent(document: Any, tokens: list[str]) -> Any:
    current = document
    for token in tokens[:-1]:
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(current, token, allow_end=False)]
        else:
            raise _PatchFailedError("doc is missing path")
    return current


def _get(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        return document
    parent = _parent(document, tokens)
    token = tokens[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise _PatchFailedError("doc is missing key")
        return parent[token]
    if isinstance(parent, list):
        return parent[_index(parent, token, allow_end=False)]
    raise _PatchFailedError("doc is missing path")


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(document, tokens)
    token = tokens[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, allow_end=True), value)
    else:
        raise _PatchFailedError("doc is missing path")
    return document


def _remove(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise _PatchFailedError("cannot remove the whole document")
    parent = _parent(document, tokens)
    token = tokens[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise _PatchFailedError("doc is missing key")
        del parent[token]
    elif isinstance(parent, list):
        del parent[_index(parent, token, allow_end=False)]
    else:
        raise _PatchFailedError("doc is missing path")
    return document


def _replace(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    _get(document, tokens)
    parent = _parent(document, tokens)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent[_index(parent, tokens[-1], allow_end=False)] = value
    return document


def _apply_operation(document: Any, operation: dict[str, Any]) -> Any:
    op = operation.get("op")
    path = operation.get("path")
    tokens = _pointer(path)
    if op in ("add", "replace", "test") and "value" not in operation:
        raise _PatchFailedError("missing value")
    try:
        if op == "add":
            return _add(document, tokens, copy.deepcopy(operation["value"]))
        if op == "remove":
            return _remove(document, tokens)
        if op == "replace":
            return _replace(document, tokens, copy.deepcopy(operation["value"]))
        if op == "test":
            if not json_equal(_get(document, tokens), operation["value"]):
                raise _PatchFailedError("test failed")
            return document
        if op in ("move", "copy"):
            source = _pointer(operation.get("from"))
            value = copy.deepcopy(_get(document, source))
            if op == "move":
                if tokens[: len(source)] == source and len(tokens) > len(source):
                    raise _PatchFailedError("cannot move a value into one of its children")
                document = _remove(document, source)
            return _add(document, tokens, value)
    except _PatchFailedError as failure:
        verb = "testing value" if op == "test" else f"{op} operation does not apply:"
        raise _PatchFailedError(f"{verb} {path}: {failure}") from None
    raise _PatchFailedError(f"Unexpected kind: {op}")


def apply_json_patch(document: Any, operations: Any) -> Any:
    """Apply RFC 6902 operations; a malformed patch is a 400, one that cannot apply is a 422."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    result = copy.deepcopy(document)
    for operation in operations:
        try:
            result = _apply_operation(result, operation)
        except _PatchFailedError as failure:
            raise unprocessable(str(failure)) from None
        except ApiError:
            raise
    return result
