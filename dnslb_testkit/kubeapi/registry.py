"""apiserver's generic registry over the store: get, list, create, update, patch, delete with the rules
every kind shares (type meta, system fields, preconditions, no-op writes, /status, finalizers)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dnslb_testkit.kubeapi import kinds
from dnslb_testkit.kubeapi.allocators import ServiceAllocations
from dnslb_testkit.kubeapi.core_kinds import (
    ConfigMapStrategy,
    CustomResourceStrategy,
    EndpointSliceStrategy,
    EventStrategy,
    LeaseStrategy,
    NamespaceStrategy,
    NodeStrategy,
    SecretStrategy,
)
from dnslb_testkit.kubeapi.errors import (
    STALE_OBJECT,
    ApiError,
    FieldCause,
    GroupResource,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    unsupported_media_type,
)
from dnslb_testkit.kubeapi.kinds import ResourceKind
from dnslb_testkit.kubeapi.lists import ListQuery, ListResult, list_objects
from dnslb_testkit.kubeapi.meta import (
    SYSTEM_FIELDS,
    check_shape,
    drop_nulls,
    generate_name,
    metadata_of,
    new_uid,
    require_object,
    validate_metadata,
)
from dnslb_testkit.kubeapi.networking import DEFAULT_CLASS_ANNOTATION, IngressClassStrategy, IngressStrategy
from dnslb_testkit.kubeapi.patches import apply_json_patch, json_equal, merge_patch
from dnslb_testkit.kubeapi.services import ServiceStrategy
from dnslb_testkit.kubeapi.store import ADDED, DELETED, MODIFIED, Store, StoredObject, dump
from dnslb_testkit.kubeapi.strategic import strategic_merge
from dnslb_testkit.kubeapi.strategy import Strategy
from dnslb_testkit.kubeapi.timestamps import format_time, now

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
_FAKE_CA = "-----BEGIN CERTIFICATE-----\nMIIBkubeapidoublefakecertificate\n-----END CERTIFICATE-----\n"
_NAMESPACES_RESOURCE = GroupResource("", "namespaces")


@dataclass(frozen=True)
class DeleteResult:
    stored: StoredObject
    finished: bool  # False while finalizers hold the object (it only got a deletionTimestamp)


@dataclass(frozen=True)
class UpdateResult:
    stored: StoredObject
    created: bool  # the PUT created the object (kinds that allow create on update)


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False
    subresource: str = ""


def _default_ingress_classes(store: Store) -> list[str]:
    """The IngressClasses marked as the default (the caller holds the store's lock)."""
    return [
        stored.obj["metadata"]["name"]
        for stored in store.items(kinds.INGRESS_CLASSES)
        if (stored.obj["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"
    ]


def _strategies(allocations: ServiceAllocations, single_stack: bool, store: Store) -> dict[ResourceKind, Strategy]:
    table: dict[ResourceKind, Strategy] = {
        kinds.NAMESPACES: NamespaceStrategy(kinds.NAMESPACES),
        kinds.SERVICES: ServiceStrategy(kinds.SERVICES, allocations, single_stack=single_stack),
        kinds.NODES: NodeStrategy(kinds.NODES),
        kinds.EVENTS: EventStrategy(kinds.EVENTS),
        kinds.CONFIG_MAPS: ConfigMapStrategy(kinds.CONFIG_MAPS),
        kinds.SECRETS: SecretStrategy(kinds.SECRETS),
        kinds.ENDPOINT_SLICES: EndpointSliceStrategy(kinds.ENDPOINT_SLICES),
        kinds.LEASES: LeaseStrategy(kinds.LEASES),
        kinds.INGRESSES: IngressStrategy(kinds.INGRESSES, lambda: _default_ingress_classes(store)),
        kinds.INGRESS_CLASSES: IngressClassStrategy(kinds.INGRESS_CLASSES),
    }
    for kind in kinds.ALL_KINDS:
        if kind.custom:
            table[kind] = CustomResourceStrategy(kind)
    return table


def accepted_patch_types(kind: ResourceKind) -> tuple[str, ...]:
    if kind.custom:
        return (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)
    return (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


def _without(obj: Mapping[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in fields}


class Registry:
    def __init__(self, store: Store, *, single_stack: bool = False) -> None:
        self.store = store
        self._strategies = _strategies(ServiceAllocations(), single_stack, store)
        self._bootstrap()

    def strategy(self, kind: ResourceKind) -> Strategy:
        return self._strategies[kind]

    def _bootstrap(self) -> None:
        """What a fresh cluster has: the standard namespaces and the `kubernetes` Service."""
        for name in BOOTSTRAP_NAMESPACES:
            self.create(kinds.NAMESPACES, "", {"metadata": {"name": name}})
        self.create(
            kinds.SERVICES,
            "default",
            {
                "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {
                    "clusterIP": "10.96.0.1",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                },
            },
        )

    # reads

    @staticmethod
    def _key(kind: ResourceKind, namespace: str, name: str) -> tuple[str, str]:
        return (namespace if kind.namespaced else "", name)

    def _existing(self, kind: ResourceKind, namespace: str, name: str) -> StoredObject:
        stored = self.store.get(kind, self._key(kind, namespace, name))
        if stored is None:
            raise not_found(kind.group_resource, name)
        return stored

    def get(self, kind: ResourceKind, namespace: str, name: str) -> StoredObject:
        with self.store.lock:
            return self._existing(kind, namespace, name)

    def list_objects(self, kind: ResourceKind, namespace: str | None, query: ListQuery) -> ListResult:
        return list_objects(self.store, kind, namespace, query, self._strategies[kind].field_paths)

    # writes

    def create(
        self, kind: ResourceKind, namespace: str, body: Any, options: WriteOptions = WriteOptions()
    ) -> StoredObject:
        obj = drop_nulls(require_object(body))
        meta = self._prepare_body(kind, namespace, obj)
        if meta.get("resourceVersion"):
            # apiserver's storage layer raises a plain error here, which reaches the client as a 500 "Unknown".
            raise ApiError(500, "Unknown", "resourceVersion should not be set on objects to be created")
        strategy = self._strategies[kind]
        # Re-entrant for create-on-update, which already holds the lock.
        with self.store.lock:
            if kind.namespaced and self.store.get(kinds.NAMESPACES, ("", namespace)) is None:
                raise not_found(_NAMESPACES_RESOURCE, namespace)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = self._unused_name(kind, namespace, meta["generateName"])
            for field in SYSTEM_FIELDS:
                meta.pop(field, None)
            meta.pop("managedFields", None)
            strategy.prepare_for_create(obj)
            strategy.normalize(obj)
            strategy.default(obj, None)
            causes = validate_metadata(meta, strategy.name_rule, namespaced=kind.namespaced)
            causes += strategy.validate(obj, None)
            if causes:
                raise invalid(kind.kind, kind.group, meta.get("name") or meta.get("generateName") or "", causes)
            if self.store.get(kind, self._key(kind, namespace, meta["name"])) is not None:
                raise already_exists(kind.group_resource, meta["name"])
            admission = strategy.admit(obj, None)
            meta["uid"] = new_uid()
            meta["creationTimestamp"] = format_time(now())
            meta["managedFields"] = managed_fields(obj, options.subresource)
            if kind.tracks_generation:
                meta["generation"] = 1
            if options.dry_run:
                admission.rollback()
                return StoredObject(kind, obj, dump(obj), 0)
            stored = self.store.commit(kind, obj, ADDED)
            admission.commit()
            if kind is kinds.NAMESPACES:
                self._publish_root_ca(meta["name"])
            return stored

    def _publish_root_ca(self, namespace: str) -> None:
        """What kube-controller-manager's root-ca-cert-publisher puts in every namespace (here at once)."""
        self.create(
            kinds.CONFIG_MAPS,
            namespace,
            {
                "metadata": {
                    "name": ROOT_CA_CONFIG_MAP,
                    "annotations": {
                        "kubernetes.io/description": "Contains a CA bundle that can be used to verify the "
                        "kube-apiserver when using internal endpoints such as the internal service IP or "
                        "kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
                        "clusters."
                    },
                },
                "data": {"ca.crt": _FAKE_CA},
            },
        )

    def _unused_name(self, kind: ResourceKind, namespace: str, prefix: str) -> str:
        while True:
            name = generate_name(prefix)
            if self.store.get(kind, self._key(kind, namespace, name)) is None:
                return name

    @staticmethod
    def _prepare_body(kind: ResourceKind, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Type meta and namespace checks shared by create and update; returns the object's metadata."""
        for field, expected in (("apiVersion", kind.api_version), ("kind", kind.kind)):
            given = obj.get(field)
            if given is None or given == "":
                if kind.custom:
                    raise bad_request(f"Object '{field[0].upper() + field[1:]}' is missing in the request body")
                obj[field] = expected
            elif given != expected:
                label = "API version" if field == "apiVersion" else "kind"
                raise bad_request(f"the {label} in the data ({given}) does not match the expected {label} ({expected})")
        meta = metadata_of(obj)
        check_shape(meta)
        if kind.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return meta

    def update(
        self, kind: ResourceKind, namespace: str, name: str, body: Any, options: WriteOptions = WriteOptions()
    ) -> UpdateResult:
        obj = drop_nulls(require_object(body))
        meta = self._prepare_body(kind, namespace, obj)
        if meta.get("name") != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        with self.store.lock:
            old = self.store.get(kind, self._key(kind, namespace, name))
            if old is None:
                if not kind.create_on_update or meta.get("resourceVersion") or options.subresource:
                    raise not_found(kind.group_resource, name)
                return UpdateResult(self.create(kind, namespace, obj, options), created=True)
            return UpdateResult(self._update_locked(kind, old, obj, options), created=False)

    def patch(
        self,
        kind: ResourceKind,
        *,
        namespace: str,
        name: str,
        body: bytes,
        content_type: str,
        options: WriteOptions = WriteOptions(),
    ) -> StoredObject:
        media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
        accepted = accepted_patch_types(kind)
        if media_type not in accepted or media_type == APPLY_PATCH:
            raise unsupported_media_type(media_type, [t for t in accepted if t != APPLY_PATCH])
        try:
            patch = json.loads(body)
        except ValueError as error:
            raise bad_request(f"error decoding patch: {error}") from None
        strategy = self._strategies[kind]
        with self.store.lock:
            old = self._existing(kind, namespace, name)
            current = old.copy()
            if media_type == JSON_PATCH:
                patched = apply_json_patch(current, patch)
            elif media_type == MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
                patched = merge_patch(current, patch)
            else:
                patched = strategic_merge(current, patch, strategy.patch_schema)
            obj = drop_nulls(require_object(patched, "the patched object"))
            meta = self._prepare_body(kind, namespace, obj)
            if meta.get("name") != name:
                raise bad_request(
                    f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
                )
            return self._update_locked(kind, old, obj, options)

    def _update_locked(
        self, kind: ResourceKind, old: StoredObject, obj: dict[str, Any], options: WriteOptions
    ) -> StoredObject:
        strategy = self._strategies[kind]
        meta = obj["metadata"]
        old_meta = old.obj["metadata"]
        given_rv = meta.get("resourceVersion")
        if not given_rv and not kind.unconditional_update:
            cause = FieldCause.invalid("metadata.resourceVersion", 0, "must be specified for an update")
            raise invalid(kind.kind, kind.group, old_meta["name"], [cause])
        if given_rv and given_rv != old_meta["resourceVersion"]:
            raise conflict(kind.group_resource, old_meta["name"], STALE_OBJECT)
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            raise conflict(
                kind.group_resource,
                old_meta["name"],
                f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: {old_meta['uid']}",
            )
        for field in SYSTEM_FIELDS:
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        meta.pop("managedFields", None)
        status_write = options.subresource == "status"
        if status_write:
            obj = strategy.prepare_status_update(obj, old.copy())
        else:
            if kind.status_subresource:
                if "status" in old.obj:
                    obj["status"] = old.copy()["status"]
                else:
                    obj.pop("status", None)
            strategy.prepare_for_update(obj, old.obj)
        strategy.normalize(obj)
        strategy.default(obj, old.obj)
        causes = validate_metadata(obj["metadata"], strategy.name_rule, namespaced=kind.namespaced)
        causes += _finalizer_causes(obj["metadata"], old_meta)
        causes += strategy.validate_status(obj, old.obj) if status_write else strategy.validate(obj, old.obj)
        if causes:
            raise invalid(kind.kind, kind.group, old_meta["name"], causes)
        if "managedFields" in old_meta:
            obj["metadata"]["managedFields"] = old_meta["managedFields"]
        if json_equal(obj, old.obj):
            return old
        obj["metadata"]["managedFields"] = managed_fields(obj, options.subresource)
        if kind.tracks_generation and not json_equal(
            _without(obj, "metadata", "status"), _without(old.obj, "metadata", "status")
        ):
            obj["metadata"]["generation"] = old_meta.get("generation", 1) + 1
        admission = strategy.admit(obj, old.obj)
        if options.dry_run:
            admission.rollback()
            return StoredObject(kind, obj, dump(obj), old.rv)
        finishing = bool(obj["metadata"].get("deletionTimestamp")) and not obj["metadata"].get("finalizers")
        stored = self.store.commit(kind, obj, DELETED if finishing else MODIFIED)
        admission.commit()
        if finishing:
            strategy.release(obj)
        return stored

    def delete(
        self,
        kind: ResourceKind,
        namespace: str,
        name: str,
        preconditions: Mapping[str, Any] | None = None,
        options: WriteOptions = WriteOptions(),
    ) -> DeleteResult:
        with self.store.lock:
            old = self._existing(kind, namespace, name)
            return self._delete_locked(kind, old, preconditions or {}, options)

    def _delete_locked(
        self, kind: ResourceKind, old: StoredObject, preconditions: Mapping[str, Any], options: WriteOptions
    ) -> DeleteResult:
        meta = old.obj["metadata"]
        for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            wanted = preconditions.get(field)
            if wanted and wanted != meta[field]:
                raise conflict(
                    kind.group_resource,
                    meta["name"],
                    f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {meta[field]}",
                )
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return DeleteResult(old, finished=False)
            marked = old.copy()
            marked["metadata"]["deletionTimestamp"] = format_time(now())
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            if options.dry_run:
                return DeleteResult(StoredObject(kind, marked, dump(marked), old.rv), finished=False)
            return DeleteResult(self.store.commit(kind, marked, MODIFIED), finished=False)
        if options.dry_run:
            return DeleteResult(old, finished=True)
        if kind is kinds.NAMESPACES:
            self._empty_namespace(meta["name"])
        stored = self.store.commit(kind, old.copy(), DELETED)
        self._strategies[kind].release(old.obj)
        return DeleteResult(stored, finished=True)

    def _empty_namespace(self, namespace: str) -> None:
        """Namespace deletion here is immediate: its objects go at once (finalizers still hold theirs)."""
        for kind, stored in list(self.store.objects_in_namespace(namespace)):
            self._delete_locked(kind, stored, {}, WriteOptions())

    def delete_collection(
        self, kind: ResourceKind, namespace: str | None, query: ListQuery, options: WriteOptions = WriteOptions()
    ) -> list[StoredObject]:
        listed = self.list_objects(kind, namespace, ListQuery(query.label_selector, query.field_selector))
        deleted = []
        with self.store.lock:
            for item in listed.items:
                current = self.store.get(kind, item.key)
                if current is not None:
                    deleted.append(self._delete_locked(kind, current, {}, options).stored)
        return deleted


def managed_fields(obj: Mapping[str, Any], subresource: str | None) -> list[dict[str, Any]]:
    """What a real server keeps in metadata.managedFields after a write: the fields the writer set, as a tree. It
    is often larger than the rest of the object, which is why clients must not cache it."""

    def tree(value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return {".": {}, **{f"f:{k}": tree(v) for k, v in value.items()}}
        if isinstance(value, list):
            return {".": {}, **{f"k:{json.dumps(item, sort_keys=True)[:200]}": tree(item)
                                for item in value if isinstance(item, dict)}}  # fmt: skip
        return {}

    meta = obj.get("metadata") or {}
    fields = {
        **({"f:metadata": tree({k: meta[k] for k in ("labels", "annotations", "finalizers") if k in meta})}),
        **{f"f:{k}": tree(v) for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")},
    }
    entry = {
        "manager": "kube-client",
        "operation": "Update",
        "apiVersion": obj.get("apiVersion"),
        "time": format_time(now()),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    return [{**entry, **({"subresource": subresource} if subresource else {})}]


def _finalizer_causes(meta: Mapping[str, Any], old_meta: Mapping[str, Any]) -> list[FieldCause]:
    if not old_meta.get("deletionTimestamp"):
        return []
    added = [f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
    if not added:
        return []
    return [
        FieldCause.forbidden(
            "metadata.finalizers",
            f"no new finalizers can be added if the object is being deleted, found new finalizers {added}",
        )
    ]
