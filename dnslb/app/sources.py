"""What the processes read: caches of API objects (informers, or anything shaped like one) and the values the core
takes from them — Service views, Namespace labels, the config resources as documents."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from dnslb.core.config.resources import API_VERSION
from dnslb.core.diagnostics import INVALID_OBJECT, Diagnostic
from dnslb.core.manifests import Document
from dnslb.core.model import ShapeError
from dnslb.core.objects import ObjectKey, ObjectRef

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
OnChange = Callable[[Key, Obj | None, Obj | None], None]
T = TypeVar("T")


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


class Parsed(Generic[T]):
    """The objects of a cache read into values (`parse`), once per resourceVersion.

    One object that cannot be read never stops the others: it is reported once per version (`report`, an Event on
    it, with the object's uid so that `kubectl describe` finds it), and it keeps the last value it was read into, so
    nothing already allocated, announced or published for it is lost while it is broken. Any exception counts, not
    only the reader's own: a bug meets one object, not all.
    """

    def __init__(
        self, cache: Cache, kind: str, parse: Callable[[Obj], T], report: Callable[[Diagnostic, str], None]
    ) -> None:
        self._cache = cache
        self._kind = kind
        self._parse = parse
        self._report = report
        self._lock = threading.Lock()
        self._read: dict[Key, tuple[str, T | None]] = {}  # key → (resourceVersion read, last good value)

    @property
    def cache(self) -> Cache:
        return self._cache

    def get(self, key: Key) -> T | None:
        """The value of the object at `key`; None when there is none, or it has never been readable."""
        obj = self._cache.get(key)
        if obj is None:
            return None
        with self._lock:
            return self._value(key, obj)

    def values(self) -> list[T]:
        with self._lock:
            read: dict[Key, tuple[str, T | None]] = {}
            out = []
            for obj in self._cache.items():
                key = _key(obj)
                value = self._value(key, obj)
                read[key] = self._read[key]
                if value is not None:
                    out.append(value)
            self._read = read  # forget deleted objects
            return out

    def _value(self, key: Key, obj: Obj) -> T | None:
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        seen = self._read.get(key)
        if seen is not None and seen[0] == version and version:
            return seen[1]
        last = seen[1] if seen is not None else None
        ref = ObjectRef(self._kind, ObjectKey(*key))
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        value: T | None
        try:
            value = self._parse(obj)
        except ShapeError as exc:
            self._problem(ref, uid, exc.field, exc.message, last)
            value = last
        except Exception as exc:  # a bug in a reader must cost this object, not the others
            log.exception("%s cannot be read", ref)
            self._problem(ref, uid, "", f"cannot be read: {type(exc).__name__}: {exc}", last)
            value = last
        else:
            for problem in getattr(value, "problems", ()):
                self._report(problem, uid)
        self._read[key] = (version, value)
        return value

    def _problem(self, ref: ObjectRef, uid: str, field: str, message: str, last: T | None) -> None:
        kept = "; its last readable version stays in force" if last is not None else "; it is left out"
        self._report(Diagnostic(ref, INVALID_OBJECT, message + kept, field=field), uid)


def _key(obj: Obj) -> Key:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


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
