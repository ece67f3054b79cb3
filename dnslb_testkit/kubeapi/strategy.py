"""What a kind adds to the generic write path: defaulting, validation, status handling, allocation."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from dnslb_testkit.kubeapi.errors import FieldCause
from dnslb_testkit.kubeapi.kinds import ResourceKind
from dnslb_testkit.kubeapi.names import SUBDOMAIN_NAMES, NameRule
from dnslb_testkit.kubeapi.strategic import PRIMITIVE_SET, PatchSchema, Path
from dnslb_testkit.kubeapi.timestamps import normalize_time

_COMMON_LISTS: Mapping[Path, str] = {
    ("metadata", "ownerReferences"): "uid",
    ("metadata", "finalizers"): PRIMITIVE_SET,
}
_COMMON_FIELDS: Mapping[str, str] = {"metadata.name": "metadata.name", "metadata.namespace": "metadata.namespace"}

CONDITION_STATUSES = ("True", "False", "Unknown")


class Admission:
    """What one write reserved (cluster IPs, node ports): kept on commit, handed back otherwise."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._after_commit: list[Callable[[], None]] = []

    def undo_with(self, action: Callable[[], None]) -> None:
        self._undo.append(action)

    def after_commit(self, action: Callable[[], None]) -> None:
        self._after_commit.append(action)

    def commit(self) -> None:
        for action in self._after_commit:
            action()

    def rollback(self) -> None:
        for action in reversed(self._undo):
            action()


class Strategy:
    """The generic kind: no defaults, no rules beyond metadata; subclasses add theirs."""

    name_rule: NameRule = SUBDOMAIN_NAMES
    list_strategies: Mapping[Path, str] = {}
    selectable_fields: Mapping[str, str] = {}

    def __init__(self, kind: ResourceKind) -> None:
        self.kind = kind
        self.patch_schema = PatchSchema({**_COMMON_LISTS, **self.list_strategies})
        self.field_paths = {**_COMMON_FIELDS, **self.selectable_fields}

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Status is written through /status only, so a create starts without one."""
        if self.kind.status_subresource:
            obj.pop("status", None)

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        """Adjust a main-resource write (its status is already the stored one)."""

    def prepare_status_update(self, obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        """What a /status write may change: here only `status` (custom resources work this way)."""
        candidate = copy.deepcopy(old)
        if "status" in obj:
            candidate["status"] = obj["status"]
        else:
            candidate.pop("status", None)
        return candidate

    def default(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Fill in defaults (and, on update, values the client may omit but the server keeps)."""

    def normalize(self, obj: dict[str, Any]) -> None:
        """Re-encode typed fields (times) the way apiserver stores them; 400 when they do not decode."""

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        return []

    def validate_status(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
        return []

    def admit(self, obj: dict[str, Any], old: dict[str, Any] | None) -> Admission:
        """Reserve what the object needs (after it validated); raises ApiError when it cannot."""
        return Admission()

    def release(self, obj: dict[str, Any]) -> None:
        """Give back what a deleted object held."""


class SpecResettingStatus(Strategy):
    """Core kinds (Services, Nodes, Namespaces): a /status write resets only `spec`, so label and annotation
    changes in it are kept. That is apiserver's behaviour for these kinds, unlike custom resources."""

    def prepare_status_update(self, obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        if "spec" in old:
            obj["spec"] = copy.deepcopy(old["spec"])
        else:
            obj.pop("spec", None)
        return obj


def normalize_condition_times(conditions: Any, path: str, fields: tuple[str, ...]) -> None:
    if not isinstance(conditions, list):
        return
    for index, condition in enumerate(conditions):
        if not isinstance(condition, dict):
            continue
        for field in fields:
            if condition.get(field) is not None:
                condition[field] = normalize_time(condition[field], f"{path}[{index}].{field}")


def validate_meta_conditions(conditions: Any, path: str) -> list[FieldCause]:
    """`metav1.Condition` rules (Service status uses them)."""
    causes: list[FieldCause] = []
    if not isinstance(conditions, list):
        return causes
    seen: set[str] = set()
    for index, condition in enumerate(conditions):
        here = f"{path}[{index}]"
        if not isinstance(condition, dict):
            causes.append(FieldCause.invalid(here, condition, "must be an object"))
            continue
        kind = condition.get("type")
        if not kind:
            causes.append(FieldCause.required(f"{here}.type"))
        elif kind in seen:
            causes.append(FieldCause.duplicate(f"{here}.type", kind))
        else:
            seen.add(kind)
        if condition.get("status") not in CONDITION_STATUSES:
            causes.append(FieldCause.not_supported(f"{here}.status", condition.get("status"), CONDITION_STATUSES))
        if not condition.get("lastTransitionTime"):
            causes.append(FieldCause.required(f"{here}.lastTransitionTime", "must be set"))
        reason = condition.get("reason")
        if not reason:
            causes.append(FieldCause.required(f"{here}.reason"))
        elif not re.fullmatch(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?", str(reason)):
            causes.append(
                FieldCause.invalid(
                    f"{here}.reason",
                    reason,
                    "a condition reason must start with alphabetic character, optionally followed by a string of "
                    "alphanumeric characters or '_,:', and must end with an alphanumeric character or '_'",
                )
            )
    return causes
