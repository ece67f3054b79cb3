"""The kinds DNS sources read: networking.k8s.io/v1 Ingresses and IngressClasses, the Gateway API's GatewayClass,
Gateway, HTTPRoute, GRPCRoute (v1), TLSRoute, TCPRoute and UDPRoute (v1alpha2), and external-dns's DNSEndpoint,
through the real client and the real kubectl: create, get, paged lists, watches (with bookmarks), the /status
subresource, metadata.generation, the three patch flavours, and what a real server rejects.

The Ingress tests marked `cluster` hold for a real cluster too; the others need the double (its fault hooks, its
bookmark interval) or the CRDs of dnslb_testkit/crds, which a real cluster may not have.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import kubernetes_validate  # type: ignore[import-untyped]  # it ships no type hints
import pytest
from kubernetes.client import ApiException

from dnslb_testkit.kubeapi import KubeAPIControl, schemas
from dnslb_testkit.kubeapi.kinds import SOURCE_CRD_DIRECTORY, load_crds
from dnslb_testkit.kubeapi.kubectl import Kubectl, parse_tables
from dnslb_testkit.kubeapi.recorder import RecordedEvent, WatchRecorder

GATEWAY_API = "gateway.networking.k8s.io"
NETWORKING = "networking.k8s.io"
EXTERNAL_DNS = "externaldns.k8s.io"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
WHEN = "2025-01-01T00:00:00Z"


def condition(type_: str, status: str = "True", reason: str = "", generation: int = 1) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason or type_,
        "message": "",
        "lastTransitionTime": WHEN,
        "observedGeneration": generation,
    }


def backend(name: str = "web", port: int = 80) -> dict[str, Any]:
    return {"service": {"name": name, "port": {"number": port}}}


def ingress_rule(host: str, path: str = "/", path_type: str = "Prefix") -> dict[str, Any]:
    return {"host": host, "http": {"paths": [{"path": path, "pathType": path_type, "backend": backend()}]}}


def route_status(parent: str = "gw") -> dict[str, Any]:
    return {
        "parents": [
            {
                "parentRef": {"group": GATEWAY_API, "kind": "Gateway", "name": parent},
                "controllerName": "example.net/gateway-controller",
                "conditions": [condition("Accepted")],
            }
        ]
    }


L4_RULES = [{"backendRefs": [{"name": "backend", "port": 443}]}]


@dataclass(frozen=True)
class Case:
    """One served kind, with a valid spec, a valid change to it, a valid status (None: no /status), and a spec the
    server must refuse with the field it must name."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    spec: dict[str, Any]
    changed: dict[str, Any]
    status: dict[str, Any] | None
    invalid: dict[str, Any]
    invalid_field: str
    invalid_reason: str = "FieldValueInvalid"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def body(self, name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": {"name": name, **metadata},
            "spec": json.loads(json.dumps(self.spec if spec is None else spec)),
        }


CASES = {
    "Ingress": Case(
        "Ingress", NETWORKING, "v1", "ingresses", True,
        spec={"rules": [ingress_rule("www.example.com")]},
        changed={"rules": [ingress_rule("www.example.com"), ingress_rule("*.apps.example.com")]},
        status={"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}, {"hostname": "lb.example.net"}]}},
        invalid={"rules": [ingress_rule("192.0.2.1")]},
        invalid_field="spec.rules[0].host",
    ),
    "IngressClass": Case(
        "IngressClass", NETWORKING, "v1", "ingressclasses", False,
        spec={"controller": "example.net/ingress-controller"},
        changed={"controller": "example.net/ingress-controller", "parameters": {"kind": "Params", "name": "p"}},
        status=None,
        invalid={"controller": "no-domain-prefix"},
        invalid_field="spec.controller",
    ),
    "GatewayClass": Case(
        "GatewayClass", GATEWAY_API, "v1", "gatewayclasses", False,
        spec={"controllerName": "example.net/gateway-controller"},
        changed={"controllerName": "example.net/gateway-controller", "description": "the edge"},
        status={"conditions": [condition("Accepted")]},
        invalid={"controllerName": "not a controller name"},
        invalid_field="spec.controllerName",
    ),
    "Gateway": Case(
        "Gateway", GATEWAY_API, "v1", "gateways", True,
        spec={"gatewayClassName": "edge", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
        changed={
            "gatewayClassName": "edge",
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example.com"}],
        },
        status={
            "addresses": [{"type": "IPAddress", "value": "192.0.2.20"}],
            "conditions": [condition("Accepted"), condition("Programmed")],
            "listeners": [{"name": "http", "attachedRoutes": 1, "conditions": [condition("Programmed")]}],
        },
        invalid={"gatewayClassName": "edge", "listeners": [{"name": "http", "port": 0, "protocol": "HTTP"}]},
        invalid_field="spec.listeners[0].port",
    ),
    "HTTPRoute": Case(
        "HTTPRoute", GATEWAY_API, "v1", "httproutes", True,
        spec={"parentRefs": [{"name": "gw"}], "hostnames": ["app.example.com"]},
        changed={"parentRefs": [{"name": "gw", "sectionName": "http"}], "hostnames": ["app.example.com"]},
        status=route_status(),
        invalid={"parentRefs": [{"name": "gw"}], "hostnames": ["App_Example.com"]},
        invalid_field="spec.hostnames[0]",
    ),
    "GRPCRoute": Case(
        "GRPCRoute", GATEWAY_API, "v1", "grpcroutes", True,
        spec={"parentRefs": [{"name": "gw"}], "hostnames": ["grpc.example.com"]},
        changed={"parentRefs": [{"name": "gw"}], "hostnames": ["grpc.example.com", "rpc.example.com"]},
        status=route_status(),
        invalid={"parentRefs": [{"name": "gw"}], "hostnames": ["*.*.example.com"]},
        invalid_field="spec.hostnames[0]",
    ),
    "TLSRoute": Case(
        "TLSRoute", GATEWAY_API, "v1alpha2", "tlsroutes", True,
        spec={"parentRefs": [{"name": "gw"}], "hostnames": ["tls.example.com"], "rules": L4_RULES},
        changed={"parentRefs": [{"name": "gw"}], "hostnames": ["*.tls.example.com"], "rules": L4_RULES},
        status=route_status(),
        invalid={"parentRefs": [{"name": "gw"}], "hostnames": ["tls.example.com"]},
        invalid_field="spec.rules",
        invalid_reason="FieldValueRequired",
    ),
    "TCPRoute": Case(
        "TCPRoute", GATEWAY_API, "v1alpha2", "tcproutes", True,
        spec={"parentRefs": [{"name": "gw", "sectionName": "tcp"}], "rules": L4_RULES},
        changed={"parentRefs": [{"name": "gw", "port": 5432}], "rules": L4_RULES},
        status=route_status(),
        invalid={"rules": [{"backendRefs": [{"name": "backend", "port": 70000}]}]},
        invalid_field="spec.rules[0].backendRefs[0].port",
    ),
    "UDPRoute": Case(
        "UDPRoute", GATEWAY_API, "v1alpha2", "udproutes", True,
        spec={"parentRefs": [{"name": "gw", "sectionName": "dns"}], "rules": L4_RULES},
        changed={"parentRefs": [{"name": "gw", "port": 53}], "rules": L4_RULES},
        status=route_status(),
        invalid={"rules": [{"backendRefs": [{"name": "backend", "port": 0}]}]},
        invalid_field="spec.rules[0].backendRefs[0].port",
    ),
    "DNSEndpoint": Case(
        "DNSEndpoint", EXTERNAL_DNS, "v1alpha1", "dnsendpoints", True,
        spec={"endpoints": [{"dnsName": "a.example.com", "recordType": "A", "targets": ["192.0.2.30"]}]},
        changed={"endpoints": [{"dnsName": "a.example.com", "recordType": "A", "targets": ["192.0.2.31"]}]},
        status={"observedGeneration": 1},
        invalid={"endpoints": [{"dnsName": "a.example.com", "recordType": "A", "recordTTL": "300"}]},
        invalid_field="spec.endpoints[0].recordTTL",
        invalid_reason="FieldValueTypeInvalid",
    ),
}  # fmt: skip

# Ingresses are built in, so those tests hold for any real cluster as well.
PARAMS = [
    pytest.param(case, id=name, marks=[pytest.mark.cluster] if name == "Ingress" else [])
    for name, case in CASES.items()
]
STATUS_PARAMS = [p for p, case in zip(PARAMS, CASES.values(), strict=True) if case.status is not None]


class Objects:
    """One kind through CustomObjectsApi (which reaches built-in kinds too, and sends bodies as written); what it
    creates is deleted afterwards (cluster-scoped objects outlive a test's namespace)."""

    def __init__(self, custom: k8s.CustomObjectsApi, case: Case, namespace: str) -> None:
        self.custom = custom
        self.case = case
        self.namespace = namespace
        self.created: list[str] = []

    def _where(self) -> tuple[Any, ...]:
        case = self.case
        if case.namespaced:
            return (case.group, case.version, self.namespace, case.plural)
        return (case.group, case.version, case.plural)

    def _call(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        scope = "namespaced" if self.case.namespaced else "cluster"
        method = getattr(self.custom, verb.format(scope=scope))
        return method(*self._where(), *args, **kwargs)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self._call("create_{scope}_custom_object", body)
        self.created.append(created["metadata"]["name"])
        return created

    def get(self, name: str) -> dict[str, Any]:
        got: dict[str, Any] = self._call("get_{scope}_custom_object", name)
        return got

    def list(self, **kwargs: Any) -> dict[str, Any]:
        listed: dict[str, Any] = self._call("list_{scope}_custom_object", **kwargs)
        return listed

    def list_function(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        scope = "namespaced" if self.case.namespaced else "cluster"
        return getattr(self.custom, f"list_{scope}_custom_object"), self._where()

    def patch(self, name: str, body: Any, content_type: str = MERGE_PATCH) -> dict[str, Any]:
        patched: dict[str, Any] = self._call("patch_{scope}_custom_object", name, body, _content_type=content_type)
        return patched

    def patch_status(self, name: str, body: Any) -> dict[str, Any]:
        patched: dict[str, Any] = self._call(
            "patch_{scope}_custom_object_status", name, body, _content_type=MERGE_PATCH
        )
        return patched

    def replace(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        replaced: dict[str, Any] = self._call("replace_{scope}_custom_object", name, body)
        return replaced

    def delete(self, name: str) -> Any:
        return self._call("delete_{scope}_custom_object", name)

    def cleanup(self) -> None:
        for name in self.created:
            with contextlib.suppress(ApiException):
                self.delete(name)


@pytest.fixture
def objects(request: pytest.FixtureRequest, custom: k8s.CustomObjectsApi, namespace: str) -> Iterator[Objects]:
    made = Objects(custom, request.getfixturevalue("case"), namespace)
    yield made
    made.cleanup()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def status_of(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


def rejected(call: Callable[[], Any], code: int = 422) -> dict[str, Any]:
    """The Status a call fails with, after checking its code."""
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == code, caught.value.body
    return status_of(caught.value)


def causes(status: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.get("field", ""), c["reason"]) for c in status["details"]["causes"]]


def contains(actual: Any, expected: Any) -> bool:
    """`actual` holds all of `expected` (and maybe defaults besides)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def names(events: list[RecordedEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.name) for e in events if e.type != "BOOKMARK"]


# every kind


@pytest.mark.parametrize("case", PARAMS)
def test_create_get_and_list_in_pages(case: Case, objects: Objects) -> None:
    run = uuid.uuid4().hex[:8]
    wanted = sorted(f"{case.plural[:5]}-{run}-{i}" for i in range(5))
    for name in wanted:
        created = objects.create(case.body(name, labels={"kt-run": run}))
        assert created["kind"] == case.kind and created["apiVersion"] == case.api_version
        assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
        assert contains(created["spec"], case.spec)  # as given, plus the server's defaults
    assert objects.get(wanted[0])["spec"] == created["spec"]
    pages: list[list[str]] = []
    token = ""
    while True:
        page = objects.list(label_selector=f"kt-run={run}", limit=2, _continue=token or None)
        assert page["kind"] == f"{case.kind}List" and page["metadata"]["resourceVersion"]
        pages.append([item["metadata"]["name"] for item in page["items"]])
        token = page["metadata"].get("continue") or ""
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(n for p in pages for n in p) == wanted


@pytest.mark.parametrize("case", PARAMS)
def test_watch_sees_added_modified_deleted(case: Case, objects: Objects) -> None:
    name = unique(case.plural[:5])
    rv = objects.list()["metadata"]["resourceVersion"]
    function, where = objects.list_function()
    with WatchRecorder(function, *where, resource_version=rv) as recorder:
        objects.create(case.body(name))
        objects.patch(name, {"spec": case.changed})
        objects.delete(name)
        events = recorder.wait_for(lambda seen: len(names(seen)) >= 3)
    assert names(events) == [("ADDED", name), ("MODIFIED", name), ("DELETED", name)]
    assert events[1].raw["metadata"]["generation"] == 2
    versions = [int(e.resource_version) for e in events]
    assert versions == sorted(versions) and versions[0] > int(rv)


@pytest.mark.parametrize("bookmark_interval", [0.5])
@pytest.mark.parametrize("case", PARAMS)
def test_watch_bookmarks(case: Case, objects: Objects, api: KubeAPIControl, bookmark_interval: float) -> None:
    objects.create(case.body(unique(case.plural[:5])))
    rv = objects.list()["metadata"]["resourceVersion"]
    function, where = objects.list_function()
    with WatchRecorder(function, *where, resource_version=rv, allow_watch_bookmarks=True) as recorder:
        events = recorder.wait_for(lambda seen: any(e.type == "BOOKMARK" for e in seen), timeout=5)
    bookmark = next(e for e in events if e.type == "BOOKMARK")
    assert bookmark.raw["kind"] == case.kind and bookmark.raw["apiVersion"] == case.api_version
    assert int(bookmark.resource_version) >= int(rv)


@pytest.mark.parametrize("case", STATUS_PARAMS)
def test_status_is_written_only_through_status(case: Case, objects: Objects) -> None:
    assert case.status is not None
    name = unique(case.plural[:5])
    created = objects.create({**case.body(name), "status": case.status})
    assert created.get("status", {}) != case.status  # a create drops the status it is given
    # Through the main resource, a status change is ignored: nothing changes at all.
    ignored = objects.patch(name, {"status": case.status})
    assert ignored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert ignored.get("status") == created.get("status")
    # Through /status it lands, and the spec riding along does not: no new generation.
    written = objects.patch_status(name, {"spec": case.changed, "status": case.status})
    for key, value in case.status.items():
        assert written["status"][key] == value
    assert written["spec"] == created["spec"]
    assert written["metadata"]["generation"] == 1
    assert int(written["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert objects.get(name)["status"] == written["status"]


@pytest.mark.parametrize("case", PARAMS)
def test_spec_changes_bump_generation_metadata_changes_do_not(case: Case, objects: Objects) -> None:
    name = unique(case.plural[:5])
    objects.create(case.body(name))
    changed = objects.patch(name, {"spec": case.changed})
    assert changed["metadata"]["generation"] == 2
    labelled = objects.patch(name, {"metadata": {"labels": {"team": "dns"}}})
    assert labelled["metadata"]["generation"] == 2 and labelled["metadata"]["labels"] == {"team": "dns"}
    current = objects.get(name)
    current["spec"] = case.spec
    replaced = objects.replace(name, current)
    assert replaced["metadata"]["generation"] == 3
    with_json_patch = objects.patch(name, [{"op": "replace", "path": "/spec", "value": case.changed}], JSON_PATCH)
    assert with_json_patch["metadata"]["generation"] == 4


@pytest.mark.parametrize("case", PARAMS)
def test_invalid_spec_is_422_naming_the_field(case: Case, objects: Objects) -> None:
    status = rejected(lambda: objects.create(case.body(unique("bad"), case.invalid)))
    assert status["reason"] == "Invalid"
    assert status["details"]["kind"] == case.kind and status["details"]["group"] == case.group
    assert (case.invalid_field, case.invalid_reason) in causes(status), status
    # An update to the same spec is refused as well, and leaves the object as it was.
    name = unique(case.plural[:5])
    objects.create(case.body(name))
    rejected(lambda: objects.patch(name, [{"op": "replace", "path": "/spec", "value": case.invalid}], JSON_PATCH))
    assert objects.get(name)["metadata"]["generation"] == 1


def structural_problems(schema: dict[str, Any], path: str) -> Iterator[str]:
    """What makes a CRD schema non-structural, or its defaults and list-map keys unusable, for kube-apiserver."""
    if "type" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        yield f"{path}: no type"
    if schema.get("type") == "array" and "items" not in schema:
        yield f"{path}: an array without items"
    if "default" in schema:
        yield from (f"{path}: default: {c.describe()}" for c in schemas.validate(schema["default"], schema))
    if schema.get("x-kubernetes-list-type") == "map":
        item = schema["items"]
        for key in schema["x-kubernetes-list-map-keys"]:
            if key not in item.get("required", []) and "default" not in item["properties"][key]:
                yield f"{path}: list-map key {key} is neither required nor defaulted"
    for name, sub in (schema.get("properties") or {}).items():
        yield from structural_problems(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from structural_problems(schema[key], f"{path}[{key}]")


def test_source_crds_are_valid_structural_definitions() -> None:
    definitions = load_crds(SOURCE_CRD_DIRECTORY)
    assert sorted(definitions) == sorted(c.kind for c in CASES.values() if c.group != NETWORKING)
    for kind, definition in definitions.items():
        kubernetes_validate.validate(definition, "1.31", strict=True)
        (version,) = definition["spec"]["versions"]
        assert version["subresources"] == {"status": {}}, kind
        schema = schemas.storage_schema(definition)
        assert schema["properties"]["metadata"] == {"type": "object"}, kind
        assert not list(structural_problems(schema, kind))


def test_discovery_lists_the_source_kinds(client: k8s.ApiClient) -> None:
    groups = {g.name: g for g in k8s.ApisApi(client).get_api_versions().groups}
    assert {NETWORKING, GATEWAY_API, EXTERNAL_DNS} <= set(groups)
    assert [v.version for v in groups[GATEWAY_API].versions] == ["v1", "v1alpha2"]
    assert groups[GATEWAY_API].preferred_version.version == "v1"
    custom = k8s.CustomObjectsApi(client)
    for case in CASES.values():
        resources = {r.name: r for r in custom.get_api_resources(case.group, case.version).resources}
        assert resources[case.plural].kind == case.kind
        assert resources[case.plural].namespaced == case.namespaced
        assert (f"{case.plural}/status" in resources) == (case.status is not None)
    networking = {r.name: r for r in custom.get_api_resources(NETWORKING, "v1").resources}
    assert networking["ingresses"].short_names == ["ing"]
    gateway = {r.name: r for r in custom.get_api_resources(GATEWAY_API, "v1").resources}
    assert gateway["gateways"].short_names == ["gtw"] and gateway["gateways"].categories == ["gateway-api"]


# Ingress


@pytest.fixture
def networking(client: k8s.ApiClient) -> k8s.NetworkingV1Api:
    return k8s.NetworkingV1Api(client)


def ingress(name: str, *rules: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body_spec = {"rules": list(rules), **spec} if rules else spec
    return {"apiVersion": f"{NETWORKING}/v1", "kind": "Ingress", "metadata": {"name": name}, "spec": body_spec}


@pytest.mark.cluster
def test_ingress_through_the_typed_client(networking: k8s.NetworkingV1Api, namespace: str) -> None:
    body = k8s.V1Ingress(
        metadata=k8s.V1ObjectMeta(name="web"),
        spec=k8s.V1IngressSpec(
            tls=[k8s.V1IngressTLS(hosts=["www.example.com"], secret_name="web-tls")],
            rules=[
                k8s.V1IngressRule(
                    host="www.example.com",
                    http=k8s.V1HTTPIngressRuleValue(
                        paths=[
                            k8s.V1HTTPIngressPath(
                                path="/",
                                path_type="Prefix",
                                backend=k8s.V1IngressBackend(
                                    service=k8s.V1IngressServiceBackend(
                                        name="web", port=k8s.V1ServiceBackendPort(name="http")
                                    )
                                ),
                            )
                        ]
                    ),
                )
            ],
        ),
    )
    created = networking.create_namespaced_ingress(namespace, body)
    assert created.metadata.generation == 1
    assert created.status.load_balancer is not None and not created.status.load_balancer.ingress
    # A dict body is a strategic merge patch; rules are an atomic list, replaced whole.
    patched = networking.patch_namespaced_ingress(
        "web", namespace, {"spec": {"rules": [ingress_rule("api.example.com")]}}
    )
    assert [r.host for r in patched.spec.rules] == ["api.example.com"]
    assert patched.spec.tls[0].secret_name == "web-tls" and patched.metadata.generation == 2
    written = networking.patch_namespaced_ingress_status(
        "web", namespace, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}
    )
    assert written.status.load_balancer.ingress[0].ip == "192.0.2.10" and written.metadata.generation == 2
    listed = networking.list_ingress_for_all_namespaces(label_selector="")
    assert any(i.metadata.name == "web" and i.metadata.namespace == namespace for i in listed.items)


@pytest.mark.cluster
def test_ingress_wildcard_hosts_and_paths_that_a_real_server_accepts(
    custom: k8s.CustomObjectsApi, namespace: str
) -> None:
    body = ingress(
        "ok",
        ingress_rule("*.apps.example.com"),
        ingress_rule("www.example.com", "/exact", "Exact"),
        {"host": "any.example.com", "http": {"paths": [{"pathType": "ImplementationSpecific", "backend": backend()}]}},
    )
    created = custom.create_namespaced_custom_object(NETWORKING, "v1", namespace, "ingresses", body)
    assert [r["host"] for r in created["spec"]["rules"]] == ["*.apps.example.com", "www.example.com", "any.example.com"]
    default_only = ingress("default-only", defaultBackend=backend())
    custom.create_namespaced_custom_object(NETWORKING, "v1", namespace, "ingresses", default_only)


INGRESS_REJECTIONS = {
    "ip-host": (ingress("x", ingress_rule("192.0.2.1")), "spec.rules[0].host", "FieldValueInvalid"),
    "ipv6-host": (ingress("x", ingress_rule("2001:db8::1")), "spec.rules[0].host", "FieldValueInvalid"),
    "uppercase-host": (ingress("x", ingress_rule("WWW.example.com")), "spec.rules[0].host", "FieldValueInvalid"),
    "inner-wildcard": (ingress("x", ingress_rule("www.*.example.com")), "spec.rules[0].host", "FieldValueInvalid"),
    "no-path-type": (
        ingress("x", {"host": "a.example.com", "http": {"paths": [{"path": "/", "backend": backend()}]}}),
        "spec.rules[0].http.paths[0].pathType",
        "FieldValueRequired",
    ),
    "unknown-path-type": (
        ingress("x", ingress_rule("a.example.com", "/", "Regex")),
        "spec.rules[0].http.paths[0].pathType",
        "FieldValueNotSupported",
    ),
    "relative-path": (
        ingress("x", ingress_rule("a.example.com", "relative")),
        "spec.rules[0].http.paths[0].path",
        "FieldValueInvalid",
    ),
    "no-paths": (ingress("x", {"host": "a.example.com", "http": {}}), "spec.rules[0].http.paths", "FieldValueRequired"),
    "bad-class-name": (
        ingress("x", ingress_rule("a.example.com"), ingressClassName="Not_A_Class"),
        "spec.ingressClassName",
        "FieldValueInvalid",
    ),
    "no-rules-no-default": (ingress("x"), "spec", "FieldValueInvalid"),
    "no-backend-port": (
        ingress("x", defaultBackend={"service": {"name": "web", "port": {}}}),
        "spec.defaultBackend",
        "FieldValueRequired",
    ),
    "bad-service-name": (
        ingress("x", defaultBackend=backend("9web")),
        "spec.defaultBackend.service.name",
        "FieldValueInvalid",
    ),
    "bad-tls-host": (
        ingress("x", ingress_rule("a.example.com"), tls=[{"hosts": ["bad_host"]}]),
        "spec.tls[0].hosts[0]",
        "FieldValueInvalid",
    ),
}


@pytest.mark.cluster
@pytest.mark.parametrize("body,field,reason", INGRESS_REJECTIONS.values(), ids=INGRESS_REJECTIONS.keys())
def test_ingress_rejections_match_apiserver(
    custom: k8s.CustomObjectsApi, namespace: str, body: dict[str, Any], field: str, reason: str
) -> None:
    # CustomObjectsApi sends the body as written; the typed client would refuse some of these itself.
    status = rejected(lambda: custom.create_namespaced_custom_object(NETWORKING, "v1", namespace, "ingresses", body))
    assert status["details"]["kind"] == "Ingress" and status["details"]["group"] == NETWORKING
    assert (field, reason) in causes(status), status


def test_ingress_host_that_is_an_ip_address_is_refused_with_apiservers_words(
    networking: k8s.NetworkingV1Api, namespace: str
) -> None:
    status = rejected(lambda: networking.create_namespaced_ingress(namespace, ingress("x", ingress_rule("10.0.0.1"))))
    assert status["message"] == (
        'Ingress.networking.k8s.io "x" is invalid: spec.rules[0].host: Invalid value: "10.0.0.1": '
        "must be a DNS name, not an IP address"
    )


@pytest.mark.cluster
def test_ingress_status_addresses_are_checked(networking: k8s.NetworkingV1Api, namespace: str) -> None:
    networking.create_namespaced_ingress(namespace, ingress("web", ingress_rule("www.example.com")))

    def write(entry: dict[str, str]) -> Callable[[], Any]:
        body = {"status": {"loadBalancer": {"ingress": [entry]}}}
        return lambda: networking.patch_namespaced_ingress_status("web", namespace, body)

    status = rejected(write({"ip": "not-an-ip"}))
    assert ("status.loadBalancer.ingress[0].ip", "FieldValueInvalid") in causes(status)
    status = rejected(write({"hostname": "192.0.2.1"}))
    assert ("status.loadBalancer.ingress[0].hostname", "FieldValueInvalid") in causes(status)
    assert not networking.read_namespaced_ingress("web", namespace).status.load_balancer.ingress


def test_ingress_is_decoded_like_a_go_struct(api: KubeAPIControl, custom: k8s.CustomObjectsApi, namespace: str) -> None:
    body = ingress("web", ingress_rule("www.example.com"))
    body["spec"]["rules"][0]["color"] = "blue"
    body["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"] = ""
    body["extra"] = {"dropped": True}
    created = custom.create_namespaced_custom_object(NETWORKING, "v1", namespace, "ingresses", body)
    assert "color" not in created["spec"]["rules"][0] and "extra" not in created
    assert created["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {"number": 80}
    assert created["status"] == {"loadBalancer": {}}
    wrong = ingress("wrong")
    wrong["spec"]["rules"] = "www.example.com"
    status = rejected(
        lambda: custom.create_namespaced_custom_object(NETWORKING, "v1", namespace, "ingresses", wrong), 400
    )
    assert "cannot unmarshal string into Go struct field" in status["message"] and "spec.rules" in status["message"]


@pytest.mark.cluster
def test_ingress_takes_all_three_patch_types(custom: k8s.CustomObjectsApi, namespace: str) -> None:
    custom.create_namespaced_custom_object(
        NETWORKING, "v1", namespace, "ingresses", ingress("web", ingress_rule("a.example.com"))
    )
    for content_type, patch, host in (
        (STRATEGIC_MERGE_PATCH, {"spec": {"rules": [ingress_rule("b.example.com")]}}, "b.example.com"),
        (MERGE_PATCH, {"spec": {"rules": [ingress_rule("c.example.com")]}}, "c.example.com"),
        (JSON_PATCH, [{"op": "replace", "path": "/spec/rules/0/host", "value": "d.example.com"}], "d.example.com"),
    ):
        patched = custom.patch_namespaced_custom_object(
            NETWORKING, "v1", namespace, "ingresses", "web", patch, _content_type=content_type
        )
        assert [r["host"] for r in patched["spec"]["rules"]] == [host]


@pytest.fixture
def ingress_classes(custom: k8s.CustomObjectsApi) -> Iterator[Callable[..., dict[str, Any]]]:
    made: list[str] = []

    def create(name: str, controller: str = "example.net/ingress", default: bool = False) -> dict[str, Any]:
        annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
        body = {
            "apiVersion": f"{NETWORKING}/v1",
            "kind": "IngressClass",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"controller": controller},
        }
        created: dict[str, Any] = custom.create_cluster_custom_object(NETWORKING, "v1", "ingressclasses", body)
        made.append(name)
        return created

    yield create
    for name in made:
        with contextlib.suppress(ApiException):
            custom.delete_cluster_custom_object(NETWORKING, "v1", "ingressclasses", name)


def test_default_ingress_class_is_filled_in_on_create(
    api: KubeAPIControl,
    networking: k8s.NetworkingV1Api,
    ingress_classes: Callable[..., dict[str, Any]],
    namespace: str,
) -> None:
    ingress_classes("nginx", default=True)
    created = networking.create_namespaced_ingress(namespace, ingress("a", ingress_rule("a.example.com")))
    assert created.spec.ingress_class_name == "nginx"
    explicit = ingress("b", ingress_rule("b.example.com"))
    explicit["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "legacy"}
    assert networking.create_namespaced_ingress(namespace, explicit).spec.ingress_class_name is None
    ingress_classes("traefik", default=True)
    status = rejected(
        lambda: networking.create_namespaced_ingress(namespace, ingress("c", ingress_rule("c.example.com"))), 403
    )
    assert status["reason"] == "Forbidden"
    assert "2 default IngressClasses were found, only 1 allowed" in status["message"]


def test_ingress_class_controller_is_immutable_and_parameters_default_to_cluster_scope(
    api: KubeAPIControl, custom: k8s.CustomObjectsApi, ingress_classes: Callable[..., dict[str, Any]]
) -> None:
    ingress_classes("nginx")
    patched = custom.patch_cluster_custom_object(
        NETWORKING, "v1", "ingressclasses", "nginx", {"spec": {"parameters": {"kind": "Params", "name": "p"}}}
    )
    assert patched["spec"]["parameters"] == {"kind": "Params", "name": "p", "scope": "Cluster"}
    status = rejected(
        lambda: custom.patch_cluster_custom_object(
            NETWORKING, "v1", "ingressclasses", "nginx", {"spec": {"controller": "example.net/other"}}
        )
    )
    assert ("spec.controller", "FieldValueInvalid") in causes(status)
    assert "field is immutable" in status["message"]


# Gateway API


@pytest.fixture
def gateways(custom: k8s.CustomObjectsApi, namespace: str) -> Objects:
    return Objects(custom, CASES["Gateway"], namespace)


@pytest.fixture
def http_routes(custom: k8s.CustomObjectsApi, namespace: str) -> Objects:
    return Objects(custom, CASES["HTTPRoute"], namespace)


def test_gateway_shows_pending_conditions_until_a_controller_writes_status(gateways: Objects) -> None:
    case = CASES["Gateway"]
    created = gateways.create(case.body("gw"))
    assert [(c["type"], c["status"], c["reason"]) for c in created["status"]["conditions"]] == [
        ("Accepted", "Unknown", "Pending"),
        ("Programmed", "Unknown", "Pending"),
    ]
    assert created["spec"]["listeners"][0]["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    assert case.status is not None
    written = gateways.patch_status("gw", {"status": case.status})
    assert written["status"]["addresses"] == [{"type": "IPAddress", "value": "192.0.2.20"}]
    assert {c["type"]: c["status"] for c in written["status"]["conditions"]} == {
        "Accepted": "True",
        "Programmed": "True",
    }


def test_gateway_listener_names_are_unique_and_status_conditions_checked(gateways: Objects) -> None:
    case = CASES["Gateway"]
    listeners = [{"name": "web", "port": 80, "protocol": "HTTP"}, {"name": "web", "port": 443, "protocol": "HTTPS"}]
    status = rejected(lambda: gateways.create(case.body("dup", {"gatewayClassName": "edge", "listeners": listeners})))
    assert ("spec.listeners[1]", "FieldValueDuplicate") in causes(status)
    gateways.create(case.body("gw"))
    bad_conditions = [
        {**condition("Programmed"), "status": "Maybe"},
        {**condition("Accepted"), "lastTransitionTime": "yesterday"},
        condition("Accepted"),
    ]
    status = rejected(lambda: gateways.patch_status("gw", {"status": {"conditions": bad_conditions}}))
    assert {
        ("status.conditions[0].status", "FieldValueNotSupported"),
        ("status.conditions[1].lastTransitionTime", "FieldValueInvalid"),
        ("status.conditions[2]", "FieldValueDuplicate"),
    } <= set(causes(status))


def test_route_parent_refs_are_defaulted_and_route_status_is_checked(http_routes: Objects) -> None:
    case = CASES["HTTPRoute"]
    created = http_routes.create(case.body("app"))
    assert created["spec"]["parentRefs"] == [{"group": GATEWAY_API, "kind": "Gateway", "name": "gw"}]
    assert created["spec"]["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]
    assert "status" not in created
    written = http_routes.patch_status("app", {"status": route_status()})
    (parent,) = written["status"]["parents"]
    assert parent["parentRef"]["name"] == "gw" and parent["conditions"][0]["type"] == "Accepted"
    missing = {"parents": [{"parentRef": {"name": "gw"}, "conditions": [condition("Accepted")]}]}
    status = rejected(lambda: http_routes.patch_status("app", {"status": missing}))
    assert ("status.parents[0].controllerName", "FieldValueRequired") in causes(status)
    no_conditions = route_status()
    no_conditions["parents"][0]["conditions"] = []
    status = rejected(lambda: http_routes.patch_status("app", {"status": no_conditions}))
    assert ("status.parents[0].conditions", "FieldValueInvalid") in causes(status)


def test_gateway_api_objects_are_pruned_to_their_schema(http_routes: Objects) -> None:
    body = CASES["HTTPRoute"].body("app")
    body["spec"]["hostnamez"] = ["typo.example.com"]
    body["spec"]["parentRefs"][0]["colour"] = "red"
    body["extra"] = 1
    created = http_routes.create(body)
    assert "hostnamez" not in created["spec"] and "colour" not in created["spec"]["parentRefs"][0]
    assert "extra" not in created


def test_gateway_class_controller_name_is_immutable(api: KubeAPIControl, custom: k8s.CustomObjectsApi) -> None:
    objects = Objects(custom, CASES["GatewayClass"], "")
    objects.create(CASES["GatewayClass"].body("edge"))
    status = rejected(lambda: objects.patch("edge", {"spec": {"controllerName": "example.net/other"}}))
    assert ("spec.controllerName", "FieldValueInvalid") in causes(status) and "immutable" in status["message"]
    described = objects.patch("edge", {"spec": {"description": "the edge"}})
    assert described["spec"]["description"] == "the edge" and described["metadata"]["generation"] == 2


@pytest.mark.parametrize("plural", ["gateways", "httproutes", "dnsendpoints"])
def test_custom_kinds_refuse_strategic_merge(custom: k8s.CustomObjectsApi, namespace: str, plural: str) -> None:
    case = next(c for c in CASES.values() if c.plural == plural)
    objects = Objects(custom, case, namespace)
    objects.create(case.body("x"))
    rejected(lambda: objects.patch("x", {"spec": case.changed}, STRATEGIC_MERGE_PATCH), 415)


# DNSEndpoint


def test_dns_endpoint_round_trip(custom: k8s.CustomObjectsApi, namespace: str) -> None:
    case = CASES["DNSEndpoint"]
    objects = Objects(custom, case, namespace)
    endpoint = {
        "dnsName": "_sip._tcp.example.com",
        "recordType": "SRV",
        "targets": ["10 5 5060 sip.example.com"],
        "recordTTL": 300,
        "setIdentifier": "eu",
        "labels": {"owner": "dnslb"},
        "providerSpecific": [{"name": "aws/weight", "value": "10"}],
    }
    created = objects.create(case.body("sip", {"endpoints": [endpoint]}))
    assert created["spec"]["endpoints"] == [endpoint]
    assert "status" not in created
    written = objects.patch_status("sip", {"status": {"observedGeneration": 1}})
    assert written["status"] == {"observedGeneration": 1} and written["metadata"]["generation"] == 1
    status = rejected(lambda: objects.patch_status("sip", {"status": {"observedGeneration": "one"}}))
    assert ("status.observedGeneration", "FieldValueTypeInvalid") in causes(status)


# kubectl


SEEDED = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}},
    {
        "apiVersion": f"{NETWORKING}/v1",
        "kind": "IngressClass",
        "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
        "spec": {"controller": "k8s.io/ingress-nginx"},
    },
    {
        **ingress("shop", ingress_rule("shop.example.com"), ingress_rule("*.shop.example.com"), tls=[{"hosts": []}]),
        "metadata": {"name": "shop", "namespace": "web"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}},
    },
    {**CASES["GatewayClass"].body("edge")},
    {
        **CASES["Gateway"].body("edge", namespace="web"),
        "status": {
            "addresses": [{"value": "192.0.2.20"}],
            "conditions": [condition("Accepted"), condition("Programmed")],
        },
    },
    {**CASES["HTTPRoute"].body("app", namespace="web"), "status": route_status("edge")},
    {**CASES["DNSEndpoint"].body("records", namespace="web")},
]


def test_kubectl_gets_the_source_kinds(api: KubeAPIControl, tmp_path: Path) -> None:
    api.seed(SEEDED)
    kubectl = Kubectl(api.url, tmp_path)
    ingresses, gateways, routes, endpoints = parse_tables(
        kubectl("get", "ingress,gateways,httproutes,dnsendpoints", "-A")
    )
    assert [{k: v for k, v in row.items() if k != "AGE"} for row in ingresses] == [
        {
            "NAMESPACE": "web",
            "NAME": "ingress.networking.k8s.io/shop",
            "CLASS": "nginx",  # filled in by the DefaultIngressClass admission plugin
            "HOSTS": "shop.example.com,*.shop.example.com",
            "ADDRESS": "192.0.2.10",
            "PORTS": "80, 443",
        }
    ]
    assert [(r["NAME"], r["CLASS"], r["ADDRESS"], r["PROGRAMMED"]) for r in gateways] == [
        ("gateway.gateway.networking.k8s.io/edge", "edge", "192.0.2.20", "True")
    ]
    assert [(r["NAME"], r["HOSTNAMES"]) for r in routes] == [
        ("httproute.gateway.networking.k8s.io/app", '["app.example.com"]')
    ]
    assert [(r["NAMESPACE"], r["NAME"]) for r in endpoints] == [("web", "dnsendpoint.externaldns.k8s.io/records")]
    assert all(row["AGE"] for table in (ingresses, gateways, routes, endpoints) for row in table)
    (classes,) = parse_tables(kubectl("get", "gatewayclasses"))
    assert [(r["NAME"], r["CONTROLLER"], r["ACCEPTED"]) for r in classes] == [
        ("edge", "example.net/gateway-controller", "Unknown")
    ]
    (ingress_classes,) = parse_tables(kubectl("get", "ingressclass"))
    assert [(r["NAME"], r["CONTROLLER"], r["PARAMETERS"]) for r in ingress_classes] == [
        ("nginx", "k8s.io/ingress-nginx", "<none>")
    ]
    assert set(kubectl("get", "gateway-api", "-A", "-o", "name").split()) == {
        "gatewayclass.gateway.networking.k8s.io/edge",
        "gateway.gateway.networking.k8s.io/edge",
        "httproute.gateway.networking.k8s.io/app",
    }
    shown = json.loads(kubectl("get", "gateway", "edge", "-n", "web", "-o", "json"))
    assert shown["status"]["addresses"] == [{"type": "IPAddress", "value": "192.0.2.20"}]
