"""One bad object never stops the others: random objects and random annotation values go into the readers and the
per-object paths of the controller (VIP decisions), the speaker (announcement policy) and the DNS engine; a poisoned
object is reported and the healthy ones come out exactly as they would alone."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnslb.adapters.kube.informer import Informer
from dnslb.core.bgp.policy import NodeState, decide
from dnslb.core.config import load_config
from dnslb.core.diagnostics import Diagnostic
from dnslb.core.dns.desired import claims, held
from dnslb.core.ipam.decisions import VIPDecisions, WriteStatus
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.manifests import read_documents
from dnslb.core.model import (
    NodeView,
    ShapeError,
    announced_service_fields,
    endpoint_views,
    node_view,
    service_fields,
    service_view,
    slice_fields,
)
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources.read import SourceObjects, SourceSettings, read_sources
from tests.builders import make_service

CONFIG = """
apiVersion: dnslb.io/v1alpha1
kind: AddressPool
metadata: {name: public}
spec: {addresses: [10.0.0.0/24, "fd00::/120"]}
---
apiVersion: dnslb.io/v1alpha1
kind: BGPPeer
metadata: {name: edge}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 192.168.0.1}
---
apiVersion: dnslb.io/v1alpha1
kind: BGPAdvertisement
metadata: {name: all}
spec: {communities: ["64512:100"]}
"""
config, errors = load_config(read_documents("c", CONFIG))
assert errors == [], errors

# text a user may put anywhere: Unicode digits and spaces, zone ids, control characters, huge numbers
HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\u00b2", "\u0663", "\uff11\uff10", "1_000", "+5", "-1", "99999999999999999999999", "fe80::1%eth0",
                     "10.0.0.1\n", "\u2003300", "0x10", "1e3", "", " ", "10.0.0.300", "::ffff:10.0.0.1",
                     "large:1:2:3:4"]),
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE, inner, max_size=4),
    max_leaves=12,
)
ANNOTATIONS = [
    "dnslb.io/hostname", "dnslb.io/ttl", "dnslb.io/load-balancer-ips", "dnslb.io/address-pool",
    "dnslb.io/allow-shared-ip", "dnslb.io/bgp-communities", "dnslb.io/bgp-local-pref",
    "external-dns.alpha.kubernetes.io/ttl", "metallb.universe.tf/loadBalancerIPs",
]  # fmt: skip


def service_object(overrides: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "s", "namespace": "default", "uid": "u-1", "resourceVersion": "1"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}},
    }
    for path, value in overrides.items():
        *parents, last = path.split(".")
        target = obj
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                return obj
        target[last] = value
    return obj


FIELDS = st.sampled_from([
    "metadata.name", "metadata.namespace", "metadata.uid", "metadata.creationTimestamp", "metadata.labels",
    "metadata.annotations", "spec.type", "spec.ports", "spec.ipFamilies", "spec.ipFamilyPolicy", "spec.selector",
    "spec.externalTrafficPolicy", "spec.loadBalancerClass", "spec.loadBalancerIP", "spec.healthCheckNodePort",
    "status.loadBalancer", "status.loadBalancer.ingress", "status",
])  # fmt: skip


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(FIELDS, JSON, min_size=1, max_size=3))
def test_reading_any_service_object_either_succeeds_or_names_the_field(overrides: dict[str, Any]) -> None:
    try:
        view = service_view(service_object(overrides))
    except ShapeError as exc:
        assert exc.field and exc.field.split(".")[0] in ("metadata", "spec", "status")
        return
    assert view.key.name.isascii() and view.key.namespace.isascii()
    assert all(ip.isascii() and "%" not in ip for ip in view.ingress_ips)
    assert all(1 <= p.port <= 65535 for p in view.ports)


@settings(max_examples=300)
@given(JSON, JSON)
def test_reading_any_node_or_endpoint_slice_either_succeeds_or_names_the_field(status: Any, endpoints: Any) -> None:
    node = {"metadata": {"name": "n1"}, "status": status}
    try:
        view = node_view(node)
        assert all(a.isascii() and "%" not in a for a in view.addresses)
    except ShapeError as exc:
        assert exc.field
    slice_ = {"metadata": {"namespace": "d", "labels": {"kubernetes.io/service-name": "s"}}, "endpoints": endpoints}
    try:
        endpoint_views(slice_)
    except ShapeError as exc:
        assert exc.field


def read(reader: Any, obj: Any) -> Any:
    try:
        return reader(obj)
    except ShapeError as exc:
        return exc.field


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(FIELDS, JSON, min_size=1, max_size=3))
def test_trimming_a_service_never_raises_nor_changes_what_is_read(overrides: dict[str, Any]) -> None:
    obj = service_object(overrides)
    whole = read(service_view, obj)
    assert read(service_view, service_fields(obj)) == whole
    speaker = read(service_view, announced_service_fields(obj))
    if isinstance(whole, str):  # the same field is named, unless the speaker does not keep it
        assert speaker == whole or whole.startswith(("metadata.labels", "metadata.creationTimestamp", "spec.ports",
                                                     "spec.selector")), (speaker, whole)  # fmt: skip
    else:
        assert not isinstance(speaker, str), speaker
        for field in ("key", "uid", "type", "load_balancer_class", "external_traffic_policy", "annotations",
                      "ingress_ips", "health_check_node_port", "problems"):  # fmt: skip
            assert getattr(speaker, field) == getattr(whole, field), field


ENDPOINT = st.fixed_dictionaries(
    {"nodeName": st.sampled_from(["n1", "n2", "", None, "N²"])},
    optional={"conditions": st.one_of(JSON, st.fixed_dictionaries({"ready": st.sampled_from([True, False, None])})),
              "addresses": JSON},
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, st.lists(st.one_of(ENDPOINT, JSON), max_size=5)))
def test_a_speaker_keeps_exactly_what_it_reads_of_its_own_nodes_endpoints(endpoints: Any) -> None:
    obj = {"metadata": {"name": "s-1", "namespace": "d", "uid": "u", "labels": {"kubernetes.io/service-name": "s"}},
           "endpoints": endpoints}  # fmt: skip
    kept = slice_fields(obj, "n1")
    whole = read(endpoint_views, obj)
    if kept is None:  # nothing on n1 there
        assert isinstance(whole, str) or not [v for v in whole if v.node == "n1"]
        return
    assert kept["metadata"]["uid"] == "u"  # for an Event on it
    mine = read(endpoint_views, kept)
    if isinstance(whole, str):
        assert isinstance(mine, str) or all(v.node == "n1" for v in mine)  # what is wrong elsewhere is not n1's
    else:
        assert mine == [v for v in whole if v.node == "n1"]


HEALTHY = [
    make_service(f"ok{i}", created=f"2026-01-0{i + 1}T00:00:00Z", ingress=(f"10.0.0.{i + 1}",),
                 annotations={"dnslb.io/hostname": f"ok{i}.example.test"})
    for i in range(3)
]  # fmt: skip


def poisoned(annotations: dict[str, str]) -> Any:
    return make_service("bad", created="2026-01-01T12:00:00Z", ingress=("10.0.0.200",), annotations=annotations)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(ANNOTATIONS), HOSTILE, min_size=1, max_size=4))
def test_a_poisoned_service_never_changes_what_the_healthy_ones_get(annotations: dict[str, str]) -> None:
    bad = poisoned(annotations)
    # the speaker: the healthy VIPs are announced exactly as without the poisoned Service
    state = NodeState(NodeView("n1", ready=True, addresses=("192.168.0.10",)))
    alone = decide(state, HEALTHY, [], config)
    together = decide(state, [*HEALTHY, bad], [], config)
    healthy_prefixes = {r.prefix for routes in alone.routes.values() for r in routes}
    assert {r for r in together.routes["edge"] if r.prefix in healthy_prefixes} == set(alone.routes["edge"])
    assert all(isinstance(p, Diagnostic) and p.subject and p.subject.key == bad.key for p in together.problems)
    # the controller: every healthy Service keeps its VIP and gets no other action
    decided = VIPDecisions(config.pools).start([*HEALTHY, bad])
    for service in HEALTHY:
        mine = [a for a in decided if getattr(a, "service", None) == service.key]
        assert all(isinstance(a, WriteStatus) and a.ips == service.ingress_ips for a in mine)
        assert not [a for a in decided if isinstance(a, Diagnostic) and a.subject and a.subject.key == service.key]
    # DNS: every healthy name is claimed as without the poisoned Service
    found, skipped = claims([*HEALTHY, bad], ClassFilter())
    assert {c.hostname for c in found if c.owner.key != bad.key} == {f"ok{i}.example.test" for i in range(3)}
    assert all(d.subject and d.subject.key == bad.key for d in skipped)


def test_a_bug_meeting_one_service_is_reported_on_it_and_the_others_go_on() -> None:
    class Exploding(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("boom")

        def __contains__(self, key: object) -> bool:
            raise RuntimeError("boom")

    bad = dataclasses.replace(poisoned({}), annotations=Exploding())
    state = NodeState(NodeView("n1", ready=True, addresses=("192.168.0.10",)))
    decision = decide(state, [*HEALTHY, bad], [], config)
    assert len(decision.routes["edge"]) == 3
    assert [(p.reason, p.subject.key.name if p.subject else "") for p in decision.problems] == [
        ("ProcessingFailed", "bad")
    ]
    found, skipped = claims([*HEALTHY, bad], ClassFilter())
    assert len(found) == 3 and [d.reason for d in skipped] == ["ProcessingFailed"]
    actions = VIPDecisions(config.pools).service_changed(bad)
    assert [getattr(a, "reason", None) for a in actions] == ["ProcessingFailed"]


class _Page:
    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body).encode()


@settings(max_examples=100)
@given(st.lists(JSON, max_size=4))
def test_a_list_with_unreadable_items_still_fills_the_cache_with_the_readable_ones(junk: list[Any]) -> None:
    """No real server sends an item without a name, so no peer can: the list is handed to the informer as the client
    would return it. Before, one such item failed every relist of its kind, forever."""
    good = [{"metadata": {"name": f"ok{i}", "namespace": "d", "resourceVersion": "1"}} for i in range(3)]
    body = {"metadata": {"resourceVersion": "7"}, "items": [*junk, *good]}
    informer = Informer("things", lambda **_: _Page(body))
    assert informer._relist() == "7"
    names = {o["metadata"]["name"] for o in informer.items()}
    assert {"ok0", "ok1", "ok2"} <= names
    assert all(isinstance(o.get("metadata"), dict) for o in informer.items())


def test_a_bug_meeting_one_source_object_is_reported_on_it_and_holds_its_names() -> None:
    class Exploding(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            if key == "spec":
                raise RuntimeError("boom")
            return super().get(key, default)

    def ingress(name: str, host: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "namespace": "web", "resourceVersion": "1"},
            "spec": {"rules": [{"host": host}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
        }

    bad = Exploding(ingress("bad", "bad.example.test"))
    read = read_sources(
        SourceObjects(ingresses=[ingress("ok", "ok.example.test"), bad]),
        SourceSettings(enabled=frozenset({"ingress"})),
        memo={},
    )
    assert [r.hostname for r in read.records] == ["ok.example.test"]
    broken = ObjectRef("Ingress", ObjectKey("web", "bad"))
    assert [(d.reason, d.subject) for d in read.problems] == [("ProcessingFailed", broken)]
    assert held(read.problems) == {broken}  # its names are held, not deleted, this pass
