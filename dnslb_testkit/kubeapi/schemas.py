"""What kube-apiserver does with a custom resource and its CRD's structural schema, in the order it does it:
unknown fields are pruned, defaults are applied, then the object is validated (422 with one cause per field)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft7Validator

from dnslb.core.config.crds import crd
from dnslb.core.config.resources import CRD_KINDS
from dnslb_testkit.kubeapi.errors import FieldCause

_PRESERVE = "x-kubernetes-preserve-unknown-fields"


def schemas() -> dict[str, dict[str, Any]]:
    """Kind → the openAPIV3Schema of its CRD, as deploy/crds has it (both come from the models)."""
    return {kind: crd(model)["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for kind, model in CRD_KINDS.items()}


def prune(value: Any, schema: Mapping[str, Any]) -> Any:
    """Drop the fields the schema does not know (a real server drops them silently)."""
    if isinstance(value, dict) and schema.get("type") == "object" and not schema.get(_PRESERVE):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        if properties is not None:
            return {k: prune(v, properties[k]) for k, v in value.items() if k in properties}
        if isinstance(additional, Mapping):
            return {k: prune(v, additional) for k, v in value.items()}
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [prune(v, schema["items"]) for v in value]
    return value


def default(value: Any, schema: Mapping[str, Any]) -> Any:
    """Fill in the schema's defaults for the fields that are absent."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name, sub in properties.items():
            if name not in value and "default" in sub:
                value[name] = sub["default"]
            if name in value:
                value[name] = default(value[name], sub)
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [default(v, schema["items"]) for v in value]
    return value


def validate(value: Any, schema: Mapping[str, Any]) -> list[FieldCause]:
    """One cause per violation, named by field path as the API server names it (`spec.addresses[0]`)."""
    causes = []
    for error in sorted(Draft7Validator(schema).iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ""
        for part in error.absolute_path:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        if error.validator == "required" and isinstance(error.instance, dict):
            causes += [
                FieldCause.required(f"{path}.{name}" if path else name)
                for name in error.validator_value
                if name not in error.instance
            ]
        else:
            causes.append(FieldCause.invalid(path or "<root>", error.instance, error.message))
    return causes
