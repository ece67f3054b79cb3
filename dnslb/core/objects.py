"""Which object: `ObjectKey` (namespace, name) for any object, `ObjectRef` with its kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Namespace and name; namespace "" for cluster-scoped objects."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class ObjectRef:
    """An object of the API (or of a manifest): its kind and key."""

    kind: str
    key: ObjectKey

    def __str__(self) -> str:
        namespace = f"{self.key.namespace}/" if self.key.namespace else ""
        return f"{self.kind}/{namespace}{self.key.name}"


def service_ref(key: ObjectKey) -> ObjectRef:
    return ObjectRef("Service", key)
