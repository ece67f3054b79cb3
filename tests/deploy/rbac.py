"""Kubernetes RBAC, evaluated the way the API server's authorizer does, for the objects in deploy/.

A `Grant` is one (scope, apiGroup, resource, verb, resourceNames) that a ServiceAccount holds through a binding:
scope "*" for a ClusterRoleBinding (every namespace and the cluster-scoped kinds), a namespace for a RoleBinding.
A `Request` is one API call as the authorizer sees it (verb, group, resource with subresource, namespace, name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

Obj = dict[str, Any]
CLUSTER_WIDE = "*"


@dataclass(frozen=True, order=True)
class Grant:
    scope: str  # CLUSTER_WIDE or a namespace
    group: str
    resource: str  # "services", "services/status"
    verb: str
    names: tuple[str, ...] = ()  # resourceNames; empty: any name

    def allows(self, request: Request) -> bool:
        if self.scope not in (CLUSTER_WIDE, request.namespace):
            return False
        if (self.group, self.resource, self.verb) != (request.group, request.resource, request.verb):
            return False
        # resourceNames never match create (the name is in the body) nor a list or watch without a name
        return not self.names or (request.name is not None and request.name in self.names)


@dataclass(frozen=True, order=True)
class Request:
    verb: str
    group: str
    resource: str
    namespace: str | None  # None: cluster-scoped, or a list/watch across all namespaces
    name: str | None

    def __str__(self) -> str:
        """`patch dnslb.io/addresspools/vips/status in dnslb-system`, `list services (cluster-wide)`."""
        plural, _, subresource = self.resource.partition("/")
        path = "/".join(p for p in (self.group, plural, self.name, subresource) if p)
        return f"{self.verb} {path}{f' in {self.namespace}' if self.namespace else ' (cluster-wide)'}"


def grants(objects: Sequence[Obj], namespace: str, account: str) -> set[Grant]:
    """Everything ServiceAccount `namespace/account` may do, from the (Cluster)Roles and their bindings."""
    roles = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects if o["kind"] == "Role"}
    cluster_roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ClusterRole"}
    out: set[Grant] = set()
    for binding in objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(_is_account(s, namespace, account) for s in binding.get("subjects") or []):
            continue
        ref = binding["roleRef"]
        binding_namespace = binding["metadata"].get("namespace", "")
        if ref["kind"] == "ClusterRole":
            role = cluster_roles.get(ref["name"])
        else:
            role = roles.get((binding_namespace, ref["name"]))
        if role is None:
            raise AssertionError(f"{binding['kind']} {binding['metadata']['name']} refers to missing {ref}")
        scope = CLUSTER_WIDE if binding["kind"] == "ClusterRoleBinding" else binding_namespace
        out |= set(_expand(role.get("rules") or [], scope))
    return out


def _is_account(subject: Mapping[str, Any], namespace: str, account: str) -> bool:
    return bool(
        subject.get("kind") == "ServiceAccount"
        and subject.get("name") == account
        and subject.get("namespace") == namespace
    )


def _expand(rules: Iterable[Mapping[str, Any]], scope: str) -> Iterable[Grant]:
    for rule in rules:
        names = tuple(sorted(rule.get("resourceNames") or ()))
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    yield Grant(scope, group, resource, verb, names)


def wildcards(objects: Sequence[Obj]) -> list[str]:
    """Every `*` in any rule, and any nonResourceURLs, as "Role/name rules[i].field"."""
    found = []
    for obj in objects:
        if obj["kind"] not in ("Role", "ClusterRole"):
            continue
        for i, rule in enumerate(obj.get("rules") or []):
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                if any("*" in value for value in rule.get(field) or []):
                    found.append(f"{obj['kind']}/{obj['metadata']['name']} rules[{i}].{field}")
            if rule.get("nonResourceURLs"):
                found.append(f"{obj['kind']}/{obj['metadata']['name']} rules[{i}].nonResourceURLs")
    return found


def request_from_http(method: str, url: str) -> Request | None:
    """The authorizer's view of one HTTP request to the API; None for discovery and other non-resource paths."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 2 and segments[0] == "api":
        group, rest = "", segments[2:]
    elif len(segments) >= 3 and segments[0] == "apis":
        group, rest = segments[1], segments[3:]
    else:
        return None
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    watch = parse_qs(parts.query).get("watch", ["false"])[-1].lower() in ("true", "1")
    verb = {
        "GET": "get" if name else ("watch" if watch else "list"),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }[method.upper()]
    return Request(verb, group, resource, namespace, name)
