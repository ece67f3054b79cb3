"""Put objects into the double without HTTP, through the same write path a client's requests take."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dnslb_testkit.kubeapi import kinds
from dnslb_testkit.kubeapi.errors import bad_request
from dnslb_testkit.kubeapi.meta import metadata_of, require_object
from dnslb_testkit.kubeapi.registry import Registry, WriteOptions


def seed(registry: Registry, objects: Iterable[Any]) -> list[dict[str, Any]]:
    """Create objects as if through the API (same defaulting, validation and watch events), then write any
    `status` they carry through /status, the way a cluster that already ran for a while would hold them."""
    created = []
    for item in objects:
        obj = require_object(item, "a seeded object")
        kind = kinds.kind_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if kind is None:
            raise bad_request(f"no served kind for apiVersion={obj.get('apiVersion')!r} kind={obj.get('kind')!r}")
        status = obj.get("status")
        meta = metadata_of(obj)
        namespace = str(meta.get("namespace") or ("default" if kind.namespaced else ""))
        stored = registry.create(kind, namespace, obj)
        if status is not None and kind.status_subresource:
            with_status = stored.copy()
            with_status["status"] = status
            name = with_status["metadata"]["name"]
            stored = registry.update(kind, namespace, name, with_status, WriteOptions(subresource="status")).stored
        created.append(stored.copy())
    return created
