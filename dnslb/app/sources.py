"""What the processes read: caches of API objects (informers, or anything shaped like one) and the values the core
takes from them — Service views, Namespace labels, the config resources as documents."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from dnslb.core.config.resources import API_VERSION
from dnslb.core.diagnostics import ObjectRef
from dnslb.core.manifests import Document
from dnslb.core.model import ObjectKey, ServiceShapeError, ServiceView, service_view

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
OnChange = Callable[[Key, Obj | None, Obj | None], None]


class Cache(Protocol):
    """A synced copy of one kind of API object (`dnslb.adapters.kube.informer.Informer` is one)."""

    @property
    def synced(self) -> threading.Event: ...

    @property
    def relists(self) -> int: ...

    def get(self, key: Key) -> Obj | None: ...

    def items(self) -> list[Obj]: ...

    def subscribe(self, on_change: OnChange) -> None: ...

    def resync(self) -> None: ...


def key_of(key: ObjectKey) -> Key:
    return (key.namespace, key.name)


def view_of(cache: Cache, key: ObjectKey) -> ServiceView | None:
    obj = cache.get(key_of(key))
    if obj is None:
        return None
    try:
        return service_view(obj)
    except ServiceShapeError as exc:
        log.error("Service %s cannot be read: %s", key, exc)
        return None


def service_views(cache: Cache) -> list[ServiceView]:
    views = []
    for obj in cache.items():
        try:
            views.append(service_view(obj))
        except ServiceShapeError as exc:
            log.error("a Service cannot be read: %s", exc)
    return views


def namespace_labels(cache: Cache) -> Callable[[str], Mapping[str, str]]:
    """Labels of a Namespace by name, from a cache of Namespaces ({} for one not (yet) seen)."""

    def labels(namespace: str) -> Mapping[str, str]:
        obj = cache.get(("", namespace)) or {}
        found = (obj.get("metadata") or {}).get("labels") or {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}

    return labels


def config_objects(caches: Mapping[str, Cache]) -> dict[ObjectRef, Obj]:
    """Every config resource in the caches (kind → cache), by reference, as a document body."""
    objects: dict[ObjectRef, Obj] = {}
    for kind, cache in caches.items():
        for obj in cache.items():
            meta = obj.get("metadata") or {}
            ref = ObjectRef(kind, ObjectKey(str(meta.get("namespace") or ""), str(meta.get("name") or "")))
            objects[ref] = {**obj, "apiVersion": API_VERSION, "kind": kind}
    return objects


def documents(objects: Mapping[ObjectRef, Obj]) -> list[Document]:
    """Documents whose `where` is the reference, so a config Diagnostic names its resource."""
    return [Document(str(ref), 0, None, obj) for ref, obj in objects.items()]
