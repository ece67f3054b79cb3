"""`metadata` rules every kind shares: shape, names, labels, annotations, owner references, finalizers."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from dnslb_testkit.kubeapi.errors import FieldCause, bad_request
from dnslb_testkit.kubeapi.names import NameRule, label_value, qualified_name

ANNOTATIONS_MAX_BYTES = 256 * 1024
_GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATE_NAME_SUFFIX = 5

# Fields apiserver owns: a client cannot set or change them.
SYSTEM_FIELDS = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")


def require_object(body: Any, what: str = "the request body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"{what} must be a JSON object")
    return body


def drop_nulls(value: Any) -> Any:
    """JSON nulls decode to zero values that apiserver then omits; drop them so `{"labels": null}` is no field."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


def metadata_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise bad_request("json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta")
    return meta


def _check_string_map(meta: Mapping[str, Any], field: str) -> Mapping[str, str]:
    value = meta.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise bad_request(
            f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{field} of type map[string]string"
        )
    return value


def check_shape(meta: Mapping[str, Any]) -> None:
    """Type errors are decode failures (400) in apiserver, before any validation runs."""
    _check_string_map(meta, "labels")
    _check_string_map(meta, "annotations")
    for field in ("name", "generateName", "namespace", "uid", "resourceVersion"):
        if field in meta and meta[field] is not None and not isinstance(meta[field], str):
            raise bad_request(f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{field} of type string")
    for field in ("finalizers", "ownerReferences"):
        if field in meta and meta[field] is not None and not isinstance(meta[field], list):
            raise bad_request(f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{field}")
    if not all(isinstance(f, str) for f in meta.get("finalizers") or []):
        raise bad_request("json: cannot unmarshal into Go struct field ObjectMeta.metadata.finalizers of type string")


def generate_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_GENERATE_NAME_ALPHABET) for _ in range(_GENERATE_NAME_SUFFIX))


def new_uid() -> str:
    return str(uuid.uuid4())


def validate_metadata(meta: Mapping[str, Any], rule: NameRule, *, namespaced: bool) -> list[FieldCause]:
    causes: list[FieldCause] = []
    name = meta.get("name") or ""
    if not name:
        causes.append(FieldCause.required("metadata.name", "name or generateName is required"))
    else:
        causes += [FieldCause.invalid("metadata.name", name, p) for p in rule.check(name)]
    if namespaced and not meta.get("namespace"):
        causes.append(FieldCause.required("metadata.namespace"))
    causes += _validate_labels(_check_string_map(meta, "labels"))
    causes += _validate_annotations(_check_string_map(meta, "annotations"))
    causes += _validate_owner_references(meta.get("ownerReferences") or [])
    for index, finalizer in enumerate(meta.get("finalizers") or []):
        causes += [FieldCause.invalid(f"metadata.finalizers[{index}]", finalizer, p) for p in qualified_name(finalizer)]
    return causes


def _validate_labels(labels: Mapping[str, str]) -> list[FieldCause]:
    causes = []
    for key, value in labels.items():
        causes += [FieldCause.invalid("metadata.labels", key, p) for p in qualified_name(key)]
        causes += [FieldCause.invalid(f"metadata.labels[{key}]", value, p) for p in label_value(value)]
    return causes


def _validate_annotations(annotations: Mapping[str, str]) -> list[FieldCause]:
    causes = []
    for key in annotations:
        causes += [FieldCause.invalid("metadata.annotations", key, p) for p in qualified_name(key.lower())]
    size = sum(len(k) + len(v) for k, v in annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        causes.append(FieldCause.too_long("metadata.annotations", ANNOTATIONS_MAX_BYTES))
    return causes


def _validate_owner_references(references: list[Any]) -> list[FieldCause]:
    causes = []
    controllers = 0
    for index, reference in enumerate(references):
        path = f"metadata.ownerReferences[{index}]"
        if not isinstance(reference, dict):
            raise bad_request(f"json: cannot unmarshal into Go struct field {path} of type v1.OwnerReference")
        for field in ("apiVersion", "kind", "name", "uid"):
            if not reference.get(field):
                causes.append(FieldCause.required(f"{path}.{field}"))
        if reference.get("controller"):
            controllers += 1
    if controllers > 1:
        causes.append(
            FieldCause.invalid(
                "metadata.ownerReferences", references, "Only one reference can have Controller set to true"
            )
        )
    return causes
