"""List requests: selectors, `limit`/`continue` paging over a consistent snapshot, `resourceVersion` rules."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dnslb_testkit.kubeapi.errors import ApiError, bad_request, expired
from dnslb_testkit.kubeapi.kinds import ResourceKind
from dnslb_testkit.kubeapi.selectors import FieldSelector, LabelSelector
from dnslb_testkit.kubeapi.store import Key, ListSnapshot, Store, StoredObject, dump

_TOKEN_VERSION = "kubeapi-double/v1"


@dataclass(frozen=True)
class ListQuery:
    label_selector: LabelSelector = field(default_factory=LabelSelector)
    field_selector: FieldSelector = field(default_factory=FieldSelector)
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


@dataclass(frozen=True)
class ListResult:
    kind: ResourceKind
    rv: int
    items: list[StoredObject]
    continue_token: str = ""
    remaining: int | None = None

    def body(self) -> bytes:
        """The `<Kind>List` JSON, joining each item's stored serialization (no re-encoding)."""
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if self.continue_token:
            meta["continue"] = self.continue_token
        if self.remaining is not None:
            meta["remainingItemCount"] = self.remaining
        head = {"kind": self.kind.list_kind, "apiVersion": self.kind.api_version, "metadata": meta}
        return dump(head)[:-1] + b',"items":[' + b",".join(item.raw for item in self.items) + b"]}"


@dataclass(frozen=True)
class ContinueToken:
    """Where a paged list resumes: the snapshot it reads from, its revision, and the last key returned."""

    rv: int
    snapshot: int
    after: Key

    def encode(self) -> str:
        payload = {"v": _TOKEN_VERSION, "rv": self.rv, "snap": self.snapshot, "start": list(self.after)}
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()

    @classmethod
    def decode(cls, token: str) -> ContinueToken:
        try:
            payload = json.loads(base64.urlsafe_b64decode(token.encode()))
            if payload["v"] != _TOKEN_VERSION:
                raise ValueError(payload["v"])
            namespace, name = payload["start"]
            return cls(int(payload["rv"]), int(payload["snap"]), (str(namespace), str(name)))
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise bad_request(f"continue key is not valid: {error}") from None


def parse_limit(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"invalid limit {raw!r}") from None
    return max(0, value)


def parse_resource_version(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"invalid resource version {raw!r}") from None
    if value < 0:
        raise bad_request(f"invalid resource version {raw!r}")
    return value


def list_objects(
    store: Store, kind: ResourceKind, namespace: str | None, query: ListQuery, field_paths: Mapping[str, str]
) -> ListResult:
    """One list request; `namespace` None lists every namespace (or a cluster-scoped kind)."""
    with store.lock:
        if query.continue_token:
            return _continue(store, kind, query)
        rv, candidates = _candidates(store, kind, namespace, query)
        name = query.field_selector.exact("metadata.name")
        matching = [
            stored
            for stored in candidates
            if (name is None or stored.key[1] == name)
            and query.label_selector.matches(stored.labels)
            and query.field_selector.matches(stored.obj, field_paths)
        ]
        filtered = not query.label_selector.empty or bool(query.field_selector.requirements)
        return _page(store, kind, ListSnapshot(rv, matching, filtered), 0, query.limit)


def _candidates(
    store: Store, kind: ResourceKind, namespace: str | None, query: ListQuery
) -> tuple[int, list[StoredObject]]:
    raw_rv, match = query.resource_version, query.resource_version_match
    if match and not raw_rv:
        raise bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
    if match not in ("", "Exact", "NotOlderThan"):
        raise bad_request(f"resourceVersionMatch: Unsupported value: {match!r}")
    if match == "Exact":
        rv = parse_resource_version(raw_rv)
        if rv == 0:
            raise bad_request('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
        _require_not_future(store, rv)
        objects = store.objects_at(kind, rv)
        return rv, [o for o in objects if namespace is None or o.key[0] == namespace]
    if raw_rv and raw_rv != "0":
        _require_not_future(store, parse_resource_version(raw_rv))
    return store.rv, list(store.items(kind, namespace))


def _require_not_future(store: Store, rv: int) -> None:
    if rv > store.rv:
        raise ApiError(
            504,
            "Timeout",
            f"Too large resource version: {rv}, current: {store.rv}",
            details={
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1,
            },
        )


def _continue(store: Store, kind: ResourceKind, query: ListQuery) -> ListResult:
    if query.resource_version and query.resource_version != "0":
        raise bad_request("specifying resource version is not allowed when using continue")
    token = ContinueToken.decode(query.continue_token)
    snapshot = store.snapshot(token.snapshot)
    if token.rv < store.compacted_rv(kind) or snapshot is None:
        raise expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a "
            "new list without the continue parameter."
        )
    start = bisect.bisect_right(snapshot.items, token.after, key=lambda stored: stored.key)
    return _page(store, kind, snapshot, start, query.limit, snapshot_id=token.snapshot)


def _page(
    store: Store, kind: ResourceKind, snapshot: ListSnapshot, start: int, limit: int, *, snapshot_id: int | None = None
) -> ListResult:
    matching = snapshot.items
    if not limit or len(matching) - start <= limit:
        return ListResult(kind, snapshot.rv, matching[start:] if start else matching)
    page = matching[start : start + limit]
    if snapshot_id is None:
        snapshot_id = store.save_snapshot(snapshot)
    token = ContinueToken(snapshot.rv, snapshot_id, page[-1].key).encode()
    remaining = None if snapshot.filtered else len(matching) - start - limit
    return ListResult(kind, snapshot.rv, page, token, remaining)
