"""Server-side printing, as apiextensions-apiserver does it for custom resources: a GET that asks for
`application/json;as=Table;v=v1;g=meta.k8s.io` (what `kubectl get` sends, with fallbacks) gets a meta.k8s.io
Table: a Name column, then the CRD's additionalPrinterColumns (an Age column alone when it has none), one row per
object with its cells evaluated by JSONPath, and the object as PartialObjectMetadata unless `includeObject` says
otherwise. Date cells are ages ("5m"), computed here as the server computes them. A watch that asks for Tables
(`kubectl get -w`) gets one per event, the column definitions in the first only. Of the built-in kinds, Ingresses
and IngressClasses get the Tables of kube-apiserver's own printers (NAME CLASS HOSTS ADDRESS PORTS AGE; NAME
CONTROLLER PARAMETERS AGE); the others get none: their GETs answer the object, and kubectl prints it with its own
NAME and AGE columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as parse_jsonpath

from dnslb_testkit.kubeapi import kinds
from dnslb_testkit.kubeapi.errors import ApiError, bad_request
from dnslb_testkit.kubeapi.kinds import CRDS, ResourceKind
from dnslb_testkit.kubeapi.store import StoredObject
from dnslb_testkit.kubeapi.timestamps import now, parse

GROUP = "meta.k8s.io"
VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT = ("", "None", "Metadata", "Object")

# metav1.ObjectMeta's field docs: what the API server puts in the descriptions of Name and of the default Age.
_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow "
    "a client to request the generation of an appropriate name automatically. Name is primarily intended for "
    "creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_CREATION_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It "
    "is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More "
    "info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_DEFAULT_COLUMNS: tuple[Mapping[str, Any], ...] = (
    {"name": "Age", "type": "date", "description": _CREATION_DOC, "jsonPath": ".metadata.creationTimestamp"},
)


@dataclass(frozen=True)
class Column:
    """A Table column: its definition as served, and the JSONPath its cells come from ("" for Name)."""

    name: str
    type: str
    format: str
    description: str
    priority: int
    json_path: str = ""
    # A built-in kind's printer: the cell computed from the object (and the time of the request).
    compute: Callable[[Mapping[str, Any], datetime], Any] | None = None

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME = Column("Name", "string", "name", _NAME_DOC, 0)


@dataclass(frozen=True)
class TableRequest:
    version: str  # of meta.k8s.io: v1 or v1beta1
    include_object: str  # None, Metadata (the default, also ""), Object
    columns: tuple[Column, ...]


def crd_printer_columns(kind: ResourceKind) -> Sequence[Mapping[str, Any]] | None:
    """The additionalPrinterColumns of the CRD serving `kind`, or None for a built-in kind."""
    definition = CRDS.get(kind.kind) if kind.custom else None
    if definition is None:
        return None
    version = next(v for v in definition["spec"]["versions"] if v["name"] == kind.version)
    columns: list[Mapping[str, Any]] = version.get("additionalPrinterColumns", [])
    return columns


def columns(printer_columns: Sequence[Mapping[str, Any]]) -> tuple[Column, ...]:
    """Name, then the printer columns; a CRD without any gets Age (apiextensions' serveDefaultColumnsIfEmpty)."""
    declared = printer_columns or _DEFAULT_COLUMNS
    return (
        NAME,
        *(
            Column(
                c["name"],
                c["type"],
                c.get("format", ""),
                c.get("description") or f"Custom resource definition column (in JSONPath format): {c['jsonPath']}",
                c.get("priority", 0),
                c["jsonPath"],
            )
            for c in declared
        ),
    )


def negotiate(accept: str | None) -> str | None:
    """The meta.k8s.io version of Table the Accept header prefers, or None when it prefers the object itself
    (or names nothing the double serves as a Table: a real server would answer 406 only if nothing else fits)."""
    for media_type, params in _media_ranges(accept or ""):
        if media_type not in ("application/json", "application/*", "*/*"):
            return None  # YAML or protobuf first: the double answers JSON, as before
        transform = params.get("as")
        if transform is None:
            return None
        if transform == "Table" and params.get("g") == GROUP and params.get("v") in VERSIONS:
            return params["v"]
    return None


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    """Accept's media ranges, highest quality first, in the order given among equals."""
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for index, clause in enumerate(accept.split(",")):
        media_type, *raw_params = (part.strip() for part in clause.split(";"))
        params: dict[str, str] = {}
        for raw in raw_params:
            key, _, value = raw.partition("=")
            params[key.strip()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 0.0
        if media_type and quality > 0:
            ranges.append((-quality, index, media_type.lower(), params))
    return [(media_type, params) for _, _, media_type, params in sorted(ranges, key=lambda r: (r[0], r[1]))]


def table_request(kind: ResourceKind, accept: str | None, include_object: str | None) -> TableRequest | None:
    """What a GET should answer as a Table, or None for the object (or list) itself."""
    version = negotiate(accept)
    if version is None:
        return None
    declared = crd_printer_columns(kind)
    printed = columns(declared) if declared is not None else BUILT_IN_COLUMNS.get(kind)
    if printed is None:
        return None
    include = include_object or ""
    if include not in INCLUDE_OBJECT:
        raise bad_request(f'unrecognized includeObject value: "{include}"')
    return TableRequest(version, include, printed)


def table(
    request: TableRequest,
    items: Sequence[StoredObject],
    *,
    resource_version: str,
    continue_token: str = "",
    remaining: int | None = None,
    headers: bool = True,
    moment: datetime | None = None,
) -> dict[str, Any]:
    """The Table of these objects (one for a GET of a single object, or a watch event: only the first event of a
    watch has `headers`, the column definitions)."""
    at = moment or now()
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": f"{GROUP}/{request.version}",
        "metadata": metadata,
        "columnDefinitions": [c.definition() for c in request.columns] if headers else None,
        "rows": [_row(request, stored.obj, at) for stored in items],
    }


def _row(request: TableRequest, obj: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    cells = [obj["metadata"]["name"], *(cell(c, obj, at) for c in request.columns[1:])]
    return {"cells": cells, "object": _row_object(request, obj)}


def _row_object(request: TableRequest, obj: Mapping[str, Any]) -> dict[str, Any] | None:
    if request.include_object == "None":
        return None
    if request.include_object == "Object":
        return dict(obj)
    return {"kind": "PartialObjectMetadata", "apiVersion": f"{GROUP}/{request.version}", "metadata": obj["metadata"]}


def cell(column: Column, obj: Mapping[str, Any], at: datetime) -> Any:
    """One cell: the first value the column's JSONPath finds (none: null), typed as the column says; a value of the
    wrong type is null, as in apiextensions' tableconvertor."""
    if column.compute is not None:
        return column.compute(obj, at)
    found = compiled(column.json_path).find(obj)
    if not found or found[0].value is None:
        return None
    value = found[0].value
    if column.type == "string":
        return _text(value)
    return _typed(column.type, value, at)


def _typed(column_type: str, value: Any, at: datetime) -> Any:
    if isinstance(value, bool):
        return value if column_type == "boolean" else None
    if column_type == "integer" and isinstance(value, int | float):
        return int(value)
    if column_type == "number" and isinstance(value, int | float):
        return float(value)
    if column_type == "date" and isinstance(value, str):
        return _age(value, at)
    return None


def _text(value: Any) -> str:
    """Go's JSONPath printing: lists and maps as compact JSON, scalars as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, int):
        return str(value)
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    # encoding/json escapes these in strings, and so does the API server's output
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _age(timestamp: str, at: datetime) -> str:
    if timestamp in ("", "null", None):
        return "<unknown>"
    try:
        created = parse(timestamp, "")
    except ApiError:
        return "<invalid>"
    return human_duration((at - created).total_seconds())


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration: ~2-3 significant figures, "0s" within two seconds into the future."""
    whole = math.trunc(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m{whole % 60}s" if whole % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, hours // 24 % 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


@cache
def compiled(json_path: str) -> JSONPath:
    """A printer column's path (`.status.conditions[?(@.type=="Ready")].status`, the Kubernetes subset: fields,
    indexes, `[*]`, filters) as jsonpath-ng reads it, rooted at the object."""
    rooted = "$" + json_path if json_path.startswith((".", "[")) else json_path
    try:
        path: JSONPath = parse_jsonpath(rooted)
    except JSONPathError as error:  # a CRD with such a column is refused by a real server
        raise ValueError(f"unrecognized column definition {json_path!r}: {error}") from None
    return path


# kube-apiserver's printers for the built-in kinds the double prints (pkg/printers/internalversion).


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _ingress_hosts(obj: Mapping[str, Any], at: datetime) -> str:
    """The first three hosts of the rules, then `+ N more...`; `*` when no rule names one."""
    rules = _spec(obj).get("rules") or []
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    shown = ",".join(hosts)
    return f"{shown} + {len(rules) - 3} more..." if more else shown


def _ingress_address(obj: Mapping[str, Any], at: datetime) -> str:
    """The load balancer's IPs (else hostnames), sorted and without repeats."""
    status = obj.get("status") if isinstance(obj.get("status"), Mapping) else {}
    ingress = ((status or {}).get("loadBalancer") or {}).get("ingress") or []
    found = {entry.get("ip") or entry.get("hostname") for entry in ingress}
    return ",".join(sorted(a for a in found if a))


def _ingress_class_parameters(obj: Mapping[str, Any], at: datetime) -> str:
    parameters = _spec(obj).get("parameters")
    if not parameters:
        return "<none>"
    group = f".{parameters['apiGroup']}" if "apiGroup" in parameters else ""
    return f"{parameters.get('kind', '')}{group}/{parameters.get('name', '')}"


def _built_in(name: str, description: str, compute: Callable[[Mapping[str, Any], datetime], Any]) -> Column:
    return Column(name, "string", "", description, 0, compute=compute)


_BUILT_IN_AGE = _built_in(
    "Age", _CREATION_DOC, lambda obj, at: _age(obj.get("metadata", {}).get("creationTimestamp"), at)
)
BUILT_IN_COLUMNS: Mapping[ResourceKind, tuple[Column, ...]] = {
    kinds.INGRESSES: (
        NAME,
        _built_in(
            "Class",
            "The name of the IngressClass resource that should be used for additional configuration",
            lambda obj, at: _spec(obj).get("ingressClassName", "<none>"),
        ),
        _built_in("Hosts", "Hosts that incoming requests are matched against before the ingress rule", _ingress_hosts),
        _built_in("Address", "Address is a list containing ingress points for the load-balancer", _ingress_address),
        _built_in(
            "Ports",
            "Ports of TLS configurations that open",
            lambda obj, at: "80, 443" if _spec(obj).get("tls") else "80",
        ),
        _BUILT_IN_AGE,
    ),
    kinds.INGRESS_CLASSES: (
        NAME,
        _built_in(
            "Controller",
            "Controller that is responsible for handling this class",
            lambda obj, at: _spec(obj).get("controller", ""),
        ),
        _built_in("Parameters", "A reference to a resource with additional parameters", _ingress_class_parameters),
        _BUILT_IN_AGE,
    ),
}
