"""Strategic merge patch: JSON merge patch plus per-field list strategies and `$patch` directives.

Only the list strategies the served kinds declare are known (see `PatchSchema`); every other list is
replaced whole, as apiserver does for lists without a patch strategy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dnslb_testkit.kubeapi.errors import bad_request

Path = tuple[str, ...]

# A merge-strategy list of scalars (e.g. `metadata.finalizers`): a patch adds values, never replaces.
PRIMITIVE_SET = ""


@dataclass(frozen=True)
class PatchSchema:
    """List strategies by field path: a merge key (`"type"`), or PRIMITIVE_SET for scalar sets."""

    lists: Mapping[Path, str] = field(default_factory=dict)

    def strategy(self, path: Path) -> str | None:
        return self.lists.get(path)


class _Deleted:
    """Marks a map that a `$patch: delete` directive removed."""


_DELETED = _Deleted()

_ELEMENT_ORDER = "$setElementOrder/"
_DELETE_FROM_PRIMITIVE = "$deleteFromPrimitiveList/"


def strategic_merge(original: dict[str, Any], patch: Any, schema: PatchSchema) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    merged = _merge_map(original, patch, schema, ())
    return {} if isinstance(merged, _Deleted) else merged


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], schema: PatchSchema, path: Path
) -> dict[str, Any] | _Deleted:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETED
    if directive == "replace":
        return _merge_map({}, {k: v for k, v in patch.items() if k != "$patch"}, schema, path)
    if directive not in (None, "merge"):
        raise bad_request(f"Unknown patch type: {directive}")
    result = dict(original)
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith(_ELEMENT_ORDER):
            orders[key[len(_ELEMENT_ORDER) :]] = value if isinstance(value, list) else []
            continue
        if key.startswith(_DELETE_FROM_PRIMITIVE):
            target = key[len(_DELETE_FROM_PRIMITIVE) :]
            if isinstance(result.get(target), list) and isinstance(value, list):
                result[target] = [item for item in result[target] if item not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        if isinstance(value, dict):
            merged = _merge_map(current if isinstance(current, dict) else {}, value, schema, (*path, key))
            if isinstance(merged, _Deleted):
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(current if isinstance(current, list) else [], value, schema, (*path, key))
        else:
            result[key] = value
    for key, order in orders.items():
        if isinstance(result.get(key), list):
            result[key] = _reorder(result[key], order, schema.strategy((*path, key)))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _fresh(value: Any, schema: PatchSchema, path: Path) -> Any:
    """A patch value that lands where nothing was: nulls dropped, directives applied."""
    if isinstance(value, dict):
        merged = _merge_map({}, value, schema, path)
        return {} if isinstance(merged, _Deleted) else merged
    return value


def _merge_list(original: list[Any], patch: list[Any], schema: PatchSchema, path: Path) -> list[Any]:
    strategy = schema.strategy(path)
    if strategy is None:
        return [_fresh(item, schema, path) for item in patch]
    if strategy == PRIMITIVE_SET:
        result = list(original)
        for item in patch:
            if item not in result:
                result.append(item)
        return result
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        kept = [item for item in patch if not (isinstance(item, dict) and item.get("$patch") == "replace")]
        return [_fresh(item, schema, path) for item in kept]
    result = list(original)
    for item in patch:
        if not isinstance(item, dict) or strategy not in item:
            raise bad_request(f"map: {item} does not contain declared merge key: {strategy}")
        position = next(
            (i for i, old in enumerate(result) if isinstance(old, dict) and old.get(strategy) == item[strategy]),
            None,
        )
        if item.get("$patch") == "delete":
            result = [old for old in result if not (isinstance(old, dict) and old.get(strategy) == item[strategy])]
            continue
        if position is None:
            result.append(_fresh(item, schema, path))
        else:
            merged = _merge_map(result[position], item, schema, path)
            if isinstance(merged, _Deleted):
                del result[position]
            else:
                result[position] = merged
    return result


def _reorder(items: list[Any], order: list[Any], strategy: str | None) -> list[Any]:
    def identity(item: Any) -> Any:
        if strategy and isinstance(item, dict):
            return item.get(strategy)
        return item

    wanted = [identity(entry) for entry in order]
    ranked = [item for key in wanted for item in items if identity(item) == key]
    return ranked + [item for item in items if identity(item) not in wanted]
