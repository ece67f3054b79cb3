"""Config resources from manifest documents: per-resource validation, then checks across resources."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from dnslb.core.config.addresses import AddressRange
from dnslb.core.config.resources import (
    API_VERSION,
    GROUP,
    KINDS,
    AddressPool,
    BGPAdvertisement,
    BGPPeer,
    DNSProvider,
    Resource,
)
from dnslb.core.diagnostics import INVALID_CONFIG, Diagnostic
from dnslb.core.manifests import Document
from dnslb.core.objects import ObjectKey, ObjectRef


@dataclass(frozen=True)
class Config:
    pools: tuple[AddressPool, ...] = ()
    peers: tuple[BGPPeer, ...] = ()
    advertisements: tuple[BGPAdvertisement, ...] = ()
    providers: tuple[DNSProvider, ...] = ()


def is_config(document: Document) -> bool:
    return document.api_version.partition("/")[0] == GROUP


def load_config(documents: Iterable[Document]) -> tuple[Config, list[Diagnostic]]:
    """Validate every dnslb.io document; a resource with any error is left out of the Config and reported."""
    errors: list[Diagnostic] = []
    resources: list[tuple[Document, Resource]] = []
    for document in documents:
        parsed = _parse(document, errors)
        if parsed is not None:
            resources.append((document, parsed))
    errors += _check_duplicates(resources)
    valid = [(d, r) for d, r in resources if not any(e.where == d.where for e in errors)]
    errors += _check_overlaps([(d, r) for d, r in valid if isinstance(r, AddressPool)])
    pools = {r.name for _, r in valid if isinstance(r, AddressPool)}
    peers = {r.name for _, r in valid if isinstance(r, BGPPeer)}
    errors += _check_references([(d, r) for d, r in valid if isinstance(r, BGPAdvertisement)], pools, peers)
    failed = {e.where for e in errors}
    kept = [r for d, r in resources if d.where not in failed]
    config = Config(
        pools=tuple(r for r in kept if isinstance(r, AddressPool)),
        peers=tuple(r for r in kept if isinstance(r, BGPPeer)),
        advertisements=tuple(r for r in kept if isinstance(r, BGPAdvertisement)),
        providers=tuple(r for r in kept if isinstance(r, DNSProvider)),
    )
    return config, errors


def _parse(document: Document, errors: list[Diagnostic]) -> Resource | None:
    body = document.body
    if not isinstance(body, dict):
        errors.append(_invalid(document, None, "", "expected a mapping with apiVersion, kind, metadata, spec"))
        return None
    kind = document.kind
    resource = ObjectRef(kind or "?", ObjectKey(_namespace_of(body), _name_of(body)))
    if document.api_version != API_VERSION:
        message = f"apiVersion '{document.api_version}' is not served; use {API_VERSION}"
        errors.append(_invalid(document, resource, "apiVersion", message))
        return None
    model = KINDS.get(kind)
    if model is None:
        message = f"unknown kind '{kind}' (known: {', '.join(KINDS)})"
        errors.append(_invalid(document, resource, "kind", message))
        return None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors += [_invalid(document, resource, field_path(e["loc"]), describe(e)) for e in exc.errors()]
        return None


def _invalid(document: Document, subject: ObjectRef | None, field: str, message: str) -> Diagnostic:
    return Diagnostic(subject, INVALID_CONFIG, message, field=field, where=document.where)


def _namespace_of(body: dict[str, Any]) -> str:
    metadata = body.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace if isinstance(namespace, str) else ""


def _name_of(body: dict[str, Any]) -> str:
    metadata = body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else "?"


def field_path(loc: tuple[int | str, ...]) -> str:
    """('spec', 'addresses', 2) → 'spec.addresses[2]'."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def describe(error: ErrorDetails) -> str:
    """Pydantic's error in an operator's words."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "greater_than_equal":
        return f"{value!r} is below the minimum {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"{value!r} is above the maximum {ctx.get('le')}"
    if kind == "literal_error":
        return f"{value!r} is not one of {ctx.get('expected')}"
    if kind.endswith("_type"):
        expected = kind.removesuffix("_type").replace("_", " ")
        return f"expected {expected}, got {type(value).__name__} {value!r}"
    return error["msg"]


def _check_duplicates(resources: list[tuple[Document, Resource]]) -> list[Diagnostic]:
    errors, seen = [], dict[tuple[str, str | None, str], Document]()
    for document, resource in resources:
        key = (resource.KIND, resource.metadata.namespace, resource.name)
        if key in seen:
            message = f"duplicate {resource.KIND} '{resource.name}' (first in {seen[key].where})"
            errors.append(_invalid(document, resource.ref, "metadata.name", message))
        else:
            seen[key] = document
    return errors


def _check_overlaps(pools: list[tuple[Document, Resource]]) -> list[Diagnostic]:
    """Sweep all ranges by start; each range that overlaps an earlier one is reported once, on the later pool."""
    entries: list[tuple[AddressRange, Document, AddressPool, int]] = []
    for document, pool in pools:
        assert isinstance(pool, AddressPool)
        entries += [(r, document, pool, i) for i, r in enumerate(pool.spec.ranges())]
    entries.sort(key=lambda e: (e[0].version, e[0].first, e[0].last))
    errors: list[Diagnostic] = []
    reach: tuple[AddressRange, AddressPool, int] | None = None
    for entry, document, pool, index in entries:
        if reach is not None and reach[0].overlaps(entry):
            _, other_pool, other_index = reach
            message = (
                f"'{pool.spec.addresses[index]}' overlaps {other_pool.ref} spec.addresses[{other_index}] "
                f"('{other_pool.spec.addresses[other_index]}')"
            )
            errors.append(_invalid(document, pool.ref, f"spec.addresses[{index}]", message))
        if reach is None or reach[0].version != entry.version or entry.last > reach[0].last:
            reach = (entry, pool, index)
    return errors


def _check_references(
    advertisements: list[tuple[Document, Resource]], pools: set[str], peers: set[str]
) -> list[Diagnostic]:
    errors = []
    for document, ad in advertisements:
        assert isinstance(ad, BGPAdvertisement)
        for i, name in enumerate(ad.spec.address_pools):
            if name not in pools:
                errors.append(_invalid(document, ad.ref, f"spec.addressPools[{i}]", f"no AddressPool '{name}'"))
        for i, name in enumerate(ad.spec.peers):
            if name not in peers:
                errors.append(_invalid(document, ad.ref, f"spec.peers[{i}]", f"no BGPPeer '{name}'"))
    return errors
