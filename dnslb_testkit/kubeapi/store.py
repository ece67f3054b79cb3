"""The versioned object store: current objects, the change history watches replay, and watch subscribers.

Every method expects the caller to hold `Store.lock`; `registry` takes it around whole operations so each
write is atomic, and every committed change gets the next value of one cluster-wide revision counter.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from dnslb_testkit.kubeapi.errors import expired
from dnslb_testkit.kubeapi.history import KindHistory
from dnslb_testkit.kubeapi.kinds import ResourceKind

Key = tuple[str, str]  # (namespace or "", name)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


def dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class StoredObject:
    """One committed version of an object. `obj` is shared and must never be mutated; `copy()` it."""

    kind: ResourceKind
    obj: dict[str, Any]
    raw: bytes
    rv: int

    @property
    def key(self) -> Key:
        meta = self.obj["metadata"]
        return (meta.get("namespace", ""), meta["name"])

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.obj["metadata"].get("labels") or {}
        return labels

    def copy(self) -> dict[str, Any]:
        copied: dict[str, Any] = json.loads(self.raw)
        return copied


@dataclass(frozen=True)
class Change:
    """A committed write as watchers see it; `previous` lets selector-filtered watches translate types."""

    rv: int
    type: str
    current: StoredObject
    previous: StoredObject | None

    @property
    def kind(self) -> ResourceKind:
        return self.current.kind

    @cached_property
    def line(self) -> bytes:
        return event_line(self.type, self.current.raw)


def event_line(event_type: str, raw_object: bytes) -> bytes:
    return b'{"type":"' + event_type.encode() + b'","object":' + raw_object + b"}\n"


@dataclass(frozen=True)
class ListSnapshot:
    """A paged list's full result, kept so its continue tokens read one consistent revision."""

    rv: int
    items: list[StoredObject]
    filtered: bool  # selectors applied: apiserver then does not report remainingItemCount


class Subscriber(Protocol):
    def notify(self) -> None:
        """Called under the store lock after a change of the subscribed kind: must not block."""


_SNAPSHOTS_KEPT = 64


class Store:
    def __init__(self, history_limit: int) -> None:
        self.lock = threading.RLock()
        self.rv = 0
        self._compacted_rv = 0  # compact() forgot every change at or below this revision
        self._history_limit = history_limit
        self._histories: dict[ResourceKind, KindHistory] = {}
        self._objects: dict[ResourceKind, dict[Key, StoredObject]] = {}
        self._sorted_keys: dict[ResourceKind, list[Key]] = {}
        self._subscribers: dict[ResourceKind, set[Subscriber]] = {}
        self._snapshots: OrderedDict[int, ListSnapshot] = OrderedDict()
        self._next_snapshot = 1

    # reads

    def get(self, kind: ResourceKind, key: Key) -> StoredObject | None:
        return self._objects.get(kind, {}).get(key)

    def items(self, kind: ResourceKind, namespace: str | None = None) -> Iterator[StoredObject]:
        """Objects in (namespace, name) order, optionally of one namespace only."""
        keys = self._sorted_keys.get(kind, [])
        objects = self._objects.get(kind, {})
        start = 0 if namespace is None else bisect.bisect_left(keys, (namespace, ""))
        for index in range(start, len(keys)):
            key = keys[index]
            if namespace is not None and key[0] != namespace:
                break
            yield objects[key]

    def objects_in_namespace(self, namespace: str) -> Iterator[tuple[ResourceKind, StoredObject]]:
        for kind in list(self._objects):
            if kind.namespaced:
                for stored in list(self.items(kind, namespace)):
                    yield kind, stored

    # writes

    def commit(self, kind: ResourceKind, obj: dict[str, Any], event_type: str) -> StoredObject:
        """Store a new version (or, for DELETED, the object's last state) at the next revision."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        stored = StoredObject(kind, obj, dump(obj), self.rv)
        key = stored.key
        objects = self._objects.setdefault(kind, {})
        previous = objects.get(key)
        keys = self._sorted_keys.setdefault(kind, [])
        if event_type == DELETED:
            del objects[key]
            del keys[bisect.bisect_left(keys, key)]
        else:
            if previous is None:
                bisect.insort(keys, key)
            objects[key] = stored
        self._history(kind).append(Change(self.rv, event_type, stored, previous))
        for subscriber in self._subscribers.get(kind, ()):
            subscriber.notify()
        return stored

    def _history(self, kind: ResourceKind) -> KindHistory:
        history = self._histories.get(kind)
        if history is None:
            history = self._histories[kind] = KindHistory(self._history_limit, self._compacted_rv)
        return history

    def compact(self) -> None:
        """Forget every change so far: watches and exact-version lists from older revisions expire."""
        self._compacted_rv = self.rv
        for history in self._histories.values():
            history.forget(self.rv)
        self._snapshots.clear()

    # history

    def compacted_rv(self, kind: ResourceKind) -> int:
        return self._history(kind).compacted_rv

    def check_not_expired(self, kind: ResourceKind, rv: int) -> None:
        self._history(kind).check_not_expired(rv)

    def changes_after(self, kind: ResourceKind, rv: int) -> list[Change]:
        """The kind's retained changes after `rv`, oldest first; 410 Expired if some were forgotten."""
        return self._history(kind).after(rv)

    def objects_at(self, kind: ResourceKind, rv: int) -> list[StoredObject]:
        """The kind's objects as they were at revision `rv`, by undoing later changes."""
        if rv < self.compacted_rv(kind):
            raise expired("The resourceVersion for the provided list is too old.")
        state = dict(self._objects.get(kind, {}))
        for change in reversed(self.changes_after(kind, rv)):
            key = change.current.key
            if change.previous is None:
                state.pop(key, None)
            else:
                state[key] = change.previous
        return [state[key] for key in sorted(state)]

    # subscribers

    def subscribe(self, kind: ResourceKind, subscriber: Subscriber) -> None:
        self._subscribers.setdefault(kind, set()).add(subscriber)

    def unsubscribe(self, kind: ResourceKind, subscriber: Subscriber) -> None:
        self._subscribers.get(kind, set()).discard(subscriber)

    # list snapshots, so that continue tokens page through one consistent result

    def save_snapshot(self, snapshot: ListSnapshot) -> int:
        snapshot_id = self._next_snapshot
        self._next_snapshot += 1
        self._snapshots[snapshot_id] = snapshot
        while len(self._snapshots) > _SNAPSHOTS_KEPT:
            self._snapshots.popitem(last=False)
        return snapshot_id

    def snapshot(self, snapshot_id: int) -> ListSnapshot | None:
        return self._snapshots.get(snapshot_id)
