"""CustomResourceDefinitions for the config kinds, generated from the models in resources.py. Pure: the CRDs as
values; `dnslb.app.crds` writes them to files (`make crds`), and the API double enforces their schemas."""

from __future__ import annotations

from typing import Any

import yaml

from dnslb.core.config.resources import CRD_KINDS, GROUP, VERSION, PrinterColumn, Resource

_CONDITION = {
    "type": "object",
    "required": ["type", "status", "lastTransitionTime", "reason", "message"],
    "properties": {
        "type": {"type": "string", "maxLength": 316},
        "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
        "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
        "lastTransitionTime": {"type": "string", "format": "date-time"},
        "reason": {"type": "string", "maxLength": 1024},
        "message": {"type": "string", "maxLength": 32768},
    },
}

_STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "observedGeneration": {"type": "integer", "format": "int64"},
        "conditions": {
            "type": "array",
            "items": _CONDITION,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    },
}


def structural(schema: dict[str, Any]) -> dict[str, Any]:
    """Turn pydantic's JSON schema into a Kubernetes structural schema: refs inlined, no nulls, no titles."""
    definitions = schema.get("$defs", {})

    def convert(node: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            merged = {**definitions[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
            return convert(merged)
        if "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            if len(options) == 1:
                return convert({**options[0], **rest})
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("title", "$defs"):
                continue
            if key == "default" and value in (None, [], {}):
                continue
            if key == "additionalProperties" and value is False:
                continue
            if key == "properties":
                out[key] = {name: convert(sub) for name, sub in value.items()}
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                out[key] = convert(value)
            else:
                out[key] = value
        return out

    return convert(schema)


def names(model: type[Resource]) -> dict[str, Any]:
    kind = model.KIND
    out: dict[str, Any] = {"kind": kind, "listKind": f"{kind}List", "plural": model.PLURAL, "singular": kind.lower()}
    if model.SHORT_NAMES:
        out["shortNames"] = list(model.SHORT_NAMES)
    if model.CATEGORIES:
        out["categories"] = list(model.CATEGORIES)
    return out


def printer_column(column: PrinterColumn) -> dict[str, Any]:
    out: dict[str, Any] = {"name": column.name, "type": column.type, "jsonPath": column.json_path}
    if column.description:
        out["description"] = column.description
    if column.priority:
        out["priority"] = column.priority
    return out


def status_schema(model: type[Resource]) -> dict[str, Any]:
    """`observedGeneration` and `conditions`, which every kind has, and the fields of the kind's status model."""
    own = structural(model.STATUS.model_json_schema(by_alias=True, mode="validation")).get("properties", {})
    return {**_STATUS, "properties": {**_STATUS["properties"], **own}}


def crd(model: type[Resource]) -> dict[str, Any]:
    kind, plural = model.KIND, model.PLURAL
    spec = structural(model.SPEC.model_json_schema(by_alias=True, mode="validation"))
    spec.pop("description", None)
    columns = {"additionalPrinterColumns": [printer_column(c) for c in model.PRINTER_COLUMNS]}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": names(model),
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    **(columns if model.PRINTER_COLUMNS else {}),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": f"{kind} of dnslb (generated from dnslb/core/config/resources.py).",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status_schema(model),
                            },
                        }
                    },
                }
            ],
        },
    }


def rendered() -> dict[str, str]:
    """File name → YAML text for every CRD."""
    header = "# Generated by `make crds` from dnslb/core/config/resources.py; do not edit.\n"
    return {
        f"{GROUP}_{model.PLURAL}.yaml": header + yaml.safe_dump(crd(model), sort_keys=False, width=110)
        for model in CRD_KINDS.values()
    }
