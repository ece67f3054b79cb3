"""Map request paths to resources: `/api/v1/namespaces/ns/services/name/status` and friends."""

from __future__ import annotations

from dataclasses import dataclass

from dnslb_testkit.kubeapi.kinds import ResourceKind, kind_at

SUBRESOURCES = ("status",)


@dataclass(frozen=True)
class ResourcePath:
    kind: ResourceKind
    namespace: str | None  # None for cluster-scoped kinds and for lists across all namespaces
    name: str | None  # None for the collection
    subresource: str = ""

    @property
    def resource(self) -> str:
        """What request counters call it: `services`, `services/status`."""
        return f"{self.kind.plural}/{self.subresource}" if self.subresource else self.kind.plural


@dataclass(frozen=True)
class GroupVersionPath:
    group: str
    version: str
    rest: tuple[str, ...]


def split_group_version(path: str) -> GroupVersionPath | None:
    parts = tuple(p for p in path.split("/") if p)
    if len(parts) >= 2 and parts[0] == "api":
        return GroupVersionPath("", parts[1], parts[2:])
    if len(parts) >= 3 and parts[0] == "apis":
        return GroupVersionPath(parts[1], parts[2], parts[3:])
    return None


def parse_resource_path(path: str) -> ResourcePath | None:
    """The resource a path addresses, or None when it addresses none (discovery or an unknown path)."""
    located = split_group_version(path)
    if located is None or not located.rest:
        return None
    group, version, rest = located.group, located.version, located.rest
    if (rest[0] == "namespaces" and len(rest) >= 3 and group == "" and rest[2] not in SUBRESOURCES) or (
        rest[0] == "namespaces" and len(rest) >= 3 and group != ""
    ):
        kind = kind_at(group, version, rest[2])
        namespace = rest[1]
        tail = rest[3:]
    else:
        kind = kind_at(group, version, rest[0])
        namespace = None
        tail = rest[1:]
        if kind is not None and kind.namespaced and tail:
            return None
    if kind is None or (namespace is not None and not kind.namespaced) or len(tail) > 2:
        return None
    name = tail[0] if tail else None
    subresource = tail[1] if len(tail) == 2 else ""
    if subresource and (subresource not in SUBRESOURCES or not kind.status_subresource):
        return None
    return ResourcePath(kind, namespace, name, subresource)
