"""Server-side Tables: a GET of a custom resource that asks for `as=Table` gets what kube-apiserver sends (kubectl's
rendering of them is in tests/deploy/test_printer_columns.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import kubernetes.client as k8s
import pytest

from dnslb_testkit.kubeapi import KubeAPIControl
from dnslb_testkit.kubeapi.tables import Column, cell, human_duration, negotiate

KUBECTL_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
POOLS = "/apis/dnslb.io/v1alpha1/namespaces/default/addresspools"


def pool(name: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "dnslb.io/v1alpha1",
        "kind": "AddressPool",
        "metadata": {"name": name, "namespace": "default", "labels": {"team": "a"}},
        "spec": {"addresses": ["10.0.0.0/28"]},
        **({"status": status} if status else {}),
    }


def get(api: KubeAPIControl, path: str, accept: str = KUBECTL_ACCEPT) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(api.url + path, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_a_list_is_a_table_with_the_crds_columns(api: KubeAPIControl) -> None:
    api.seed([pool("a", inUse=2, total=14), pool("b")])
    status, body = get(api, POOLS)
    assert status == 200
    assert (body["kind"], body["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Addresses", "In Use", "Total", "Ready",
                                                              "Auto Assign", "Avoid Buggy IPs", "Age"]  # fmt: skip
    assert body["columnDefinitions"][0]["format"] == "name"
    assert [c["priority"] for c in body["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 0]
    first, second = body["rows"]
    assert first["cells"] == ["a", '["10.0.0.0/28"]', 2, 14, None, True, False, "0s"]
    assert second["cells"][:4] == ["b", '["10.0.0.0/28"]', None, None]
    assert first["object"]["kind"] == "PartialObjectMetadata"
    assert first["object"]["metadata"]["labels"] == {"team": "a"}
    assert "spec" not in first["object"]
    assert body["metadata"]["resourceVersion"] == get(api, POOLS, "application/json")[1]["metadata"]["resourceVersion"]


def test_include_object_and_a_single_object(api: KubeAPIControl) -> None:
    api.seed([pool("a")])
    _, whole = get(api, POOLS + "?includeObject=Object")
    assert whole["rows"][0]["object"]["spec"] == {"addresses": ["10.0.0.0/28"], "autoAssign": True,
                                                  "avoidBuggyIPs": False, "healthWithdraw": False}  # fmt: skip
    _, bare = get(api, POOLS + "?includeObject=None")
    assert bare["rows"][0]["object"] is None
    status, refused = get(api, POOLS + "?includeObject=Everything")
    assert (status, refused["reason"]) == (400, "BadRequest")
    _, one = get(api, POOLS + "/a")
    assert [row["cells"][0] for row in one["rows"]] == ["a"]
    assert one["metadata"] == {"resourceVersion": one["rows"][0]["object"]["metadata"]["resourceVersion"]}


def test_pages_of_a_table_carry_the_continue_token(api: KubeAPIControl) -> None:
    api.seed([pool(name) for name in "abc"])
    _, page = get(api, POOLS + "?limit=2")
    assert [r["cells"][0] for r in page["rows"]] == ["a", "b"]
    assert page["metadata"]["remainingItemCount"] == 1
    _, rest = get(api, POOLS + f"?limit=2&continue={page['metadata']['continue']}")
    assert [r["cells"][0] for r in rest["rows"]] == ["c"]
    assert "continue" not in rest["metadata"]


def test_without_a_table_in_accept_the_answer_is_the_list(api: KubeAPIControl) -> None:
    api.seed([pool("a")])
    assert get(api, POOLS, "application/json")[1]["kind"] == "AddressPoolList"
    assert get(api, POOLS, "application/json;as=Table;v=v2;g=meta.k8s.io, application/json")[1]["kind"] == (
        "AddressPoolList"
    )
    assert get(api, POOLS, "application/json, application/json;as=Table;v=v1;g=meta.k8s.io")[1]["kind"] == (
        "AddressPoolList"
    )


def test_built_in_kinds_answer_the_object_as_before(api: KubeAPIControl) -> None:
    assert get(api, "/api/v1/namespaces/default/services")[1]["kind"] == "ServiceList"
    assert get(api, "/api/v1/namespaces/default")[1]["kind"] == "Namespace"


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (KUBECTL_ACCEPT, "v1"),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", "v1beta1"),
        ("application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io", "v1"),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io, application/json", None),
        ("application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io", None),
        ("", None),
    ],
)
def test_negotiation_follows_accept_order_and_quality(accept: str, version: str | None) -> None:
    assert negotiate(accept) == version


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (125, "2m5s"), (600, "10m"),
     (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (7 * 3600 + 60, "7h1m"), (47 * 3600, "47h"), (3 * 86400 + 3600, "3d1h"),
     (8 * 86400, "8d"), (2 * 365 * 86400 + 86400, "2y1d"), (9 * 365 * 86400, "9y")],
)  # fmt: skip
def test_ages_read_as_kubectl_users_know_them(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_cells_take_the_columns_type_or_are_null() -> None:
    at = datetime(2025, 1, 2, tzinfo=UTC)
    obj = {
        "metadata": {"creationTimestamp": (at - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        "spec": {"n": 3.0, "flag": True, "list": ["a<b"], "word": "x", "bad": "yesterday"},
        "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]},
    }

    def value(column_type: str, path: str) -> Any:
        return cell(Column("c", column_type, "", "", 0, path), obj, at)

    assert value("date", ".metadata.creationTimestamp") == "5m"
    assert value("date", ".spec.bad") == "<invalid>"
    assert value("integer", ".spec.n") == 3
    assert value("integer", ".spec.flag") is None
    assert value("integer", ".spec.word") is None
    assert value("boolean", ".spec.flag") is True
    assert value("number", ".spec.n") == 3.0
    assert value("string", ".spec.n") == "3"
    assert value("string", ".spec.flag") == "true"
    assert value("string", ".spec.list") == '["a\\u003cb"]'
    assert value("string", ".spec.list[0]") == "a<b"
    assert value("string", ".spec.list[*]") == "a<b"
    assert value("string", '.status.conditions[?(@.type=="Ready")].status') == "True"
    assert value("string", ".status.missing.deeper") is None


def test_a_watch_asking_for_tables_gets_one_per_event_with_headers_first(
    api: KubeAPIControl, custom: k8s.CustomObjectsApi
) -> None:
    api.seed([pool("a")])
    request = urllib.request.Request(
        api.url + POOLS + "?watch=true&timeoutSeconds=10", headers={"Accept": KUBECTL_ACCEPT}
    )
    with urllib.request.urlopen(request, timeout=10) as stream:
        added = json.loads(stream.readline())
        custom.patch_namespaced_custom_object_status(
            "dnslb.io", "v1alpha1", "default", "addresspools", "a", {"status": {"inUse": 4}}
        )
        modified = json.loads(stream.readline())
    assert (added["type"], added["object"]["kind"]) == ("ADDED", "Table")
    assert added["object"]["columnDefinitions"][2]["name"] == "In Use"
    assert added["object"]["rows"][0]["cells"][:3] == ["a", '["10.0.0.0/28"]', None]
    assert modified["type"] == "MODIFIED"
    assert modified["object"]["columnDefinitions"] is None  # as kube-apiserver: headers on the first event only
    assert modified["object"]["rows"][0]["cells"][:3] == ["a", '["10.0.0.0/28"]', 4]
