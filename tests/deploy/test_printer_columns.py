"""What `kubectl get` shows for dnslb's kinds: the real kubectl against the API double, which answers with server-side
Tables built from the CRDs' printer columns as kube-apiserver does. The statuses here are seeded as the controller
(and, for BGPPeer sessions, the speakers) write them; tests/controller/test_pool_status.py has the controller's own.
The NodeAnnouncements are written as a speaker writes them: created, then their status merge-patched.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest

from dnslb.core.bgp import status as bgp
from dnslb.core.bgp.announcements import to_status
from dnslb.core.bgp.status import NodeAnnouncements, PeerSession, VIPGroup
from dnslb.core.config.crds import crd
from dnslb.core.config.resources import CRD_KINDS, GROUP, VERSION, NodeAnnouncement
from dnslb_testkit.kubeapi import KubeAPIControl
from dnslb_testkit.kubeapi import tables as double_tables
from dnslb_testkit.kubeapi.kubectl import Kubectl, parse_tables
from dnslb_testkit.kubeapi.tables import Column

NS = "dnslb-system"
AGE = re.compile(r"\d+s")
ALL_KINDS = "addresspools,bgppeers,bgpadvertisements,dnsproviders,nodeannouncements"


def condition(type_: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message or reason,
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }


def resource(kind: str, name: str, spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"apiVersion": "dnslb.io/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": NS}, "spec": spec}
    return {**body, "status": status} if status is not None else body


OBJECTS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    resource(
        "AddressPool",
        "web",
        {"addresses": ["10.0.0.0/26", "10.0.1.10-10.0.1.19"], "avoidBuggyIPs": True},
        {"inUse": 3, "total": 73, "conditions": [condition("Ready", "True", "Available", "3 of 73 addresses in use")]},
    ),
    resource("AddressPool", "spare", {"addresses": ["fd00::/120"], "autoAssign": False}),
    resource(
        "BGPPeer",
        "edge",
        {"myASN": 64512, "peerASN": 64513, "peerAddress": "10.1.0.1"},
        {"sessions": "2/3", "nodes": 3, "up": 2},
    ),
    resource("BGPAdvertisement", "all", {"addressPools": ["web", "spare"], "communities": ["64512:100"]}),
    resource(
        "DNSProvider",
        "corp",
        {"type": "rfc2136", "policy": "upsert-only"},
        {"conditions": [condition("Synced", "False", "ProviderFailed", "REFUSED")]},
    ),
]


ANNOUNCEMENTS = [
    NodeAnnouncements(
        "n1",
        (
            PeerSession(
                "edge",
                "10.1.0.1",
                bgp.ESTABLISHED,
                1_700_000_000.0,
                "",
                frozenset({ipaddress.ip_network("10.0.0.5/32"), ipaddress.ip_network("10.0.0.6/32")}),
            ),
        ),
        announced=(VIPGroup(("10.0.0.5", "10.0.0.6"), peers=("edge",)),),
        withheld=(VIPGroup(("10.0.0.7",), reason=bgp.NO_LOCAL_ENDPOINT, message="no ready endpoint on this node"),),
    ),
    NodeAnnouncements(
        "n2",
        (PeerSession("edge", "10.1.0.1", bgp.IDLE, last_error="hold timer expired"),),
        ineligible_reason=bgp.NOT_READY,
        ineligible="the Node is not Ready",
    ),
]


def write_announcements(custom: k8s.CustomObjectsApi) -> None:
    for announcements in ANNOUNCEMENTS:
        name = announcements.node
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": NodeAnnouncement.KIND,
            "metadata": {"name": name},
            "spec": {},
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, NS, NodeAnnouncement.PLURAL, body)
        status = {"status": to_status(announcements)}
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, NS, NodeAnnouncement.PLURAL, name, status)


@pytest.fixture
def kubectl(api: KubeAPIControl, custom: k8s.CustomObjectsApi, tmp_path: Path) -> Kubectl:
    api.seed(OBJECTS)
    write_announcements(custom)
    return Kubectl(api.url, tmp_path)


def headers(table: list[dict[str, str]]) -> list[str]:
    return list(table[0])


def test_get_all_kinds_shows_their_columns(kubectl: Kubectl) -> None:
    pools, peers, advertisements, providers, announcements = parse_tables(kubectl("get", ALL_KINDS, "-n", NS))

    assert headers(pools) == ["NAME", "ADDRESSES", "IN USE", "TOTAL", "READY", "AGE"]
    spare, web = pools
    assert web["NAME"] == "addresspool.dnslb.io/web"
    assert web["ADDRESSES"] == '["10.0.0.0/26","10.0.1.10-10.0.1.19"]'
    assert (web["IN USE"], web["TOTAL"], web["READY"]) == ("3", "73", "True")
    assert AGE.fullmatch(web["AGE"])
    assert (spare["IN USE"], spare["TOTAL"], spare["READY"]) == ("", "", ""), "no status yet: blank cells"

    assert headers(peers) == ["NAME", "ADDRESS", "ASN", "HOLD TIME", "SESSIONS", "AGE"]
    assert [peers[0][h] for h in ("NAME", "ADDRESS", "ASN", "HOLD TIME", "SESSIONS")] == [
        "bgppeer.dnslb.io/edge", "10.1.0.1", "64513", "9", "2/3",
    ]  # fmt: skip

    assert headers(advertisements) == ["NAME", "POOLS", "AGE"]
    assert advertisements[0]["POOLS"] == '["web","spare"]'

    assert headers(providers) == ["NAME", "TYPE", "POLICY", "SYNCED", "AGE"]
    assert [providers[0][h] for h in ("NAME", "TYPE", "POLICY", "SYNCED")] == [
        "dnsprovider.dnslb.io/corp", "rfc2136", "upsert-only", "False",
    ]  # fmt: skip

    assert headers(announcements) == ["NAME", "SESSIONS", "ANNOUNCED", "WITHHELD", "REASON", "AGE"]
    cells = [[row[h] for h in ("NAME", "SESSIONS", "ANNOUNCED", "WITHHELD", "REASON")] for row in announcements]
    assert cells == [
        ["nodeannouncement.dnslb.io/n1", "1/1", "2", "1", ""],
        ["nodeannouncement.dnslb.io/n2", "0/1", "0", "0", "NotReady"],
    ]
    assert all(AGE.fullmatch(row["AGE"]) for row in announcements)


def test_short_names_and_the_dnslb_category(kubectl: Kubectl) -> None:
    (pools,) = parse_tables(kubectl("get", "pool", "-n", NS))
    assert [row["NAME"] for row in pools] == ["spare", "web"]
    peers, advertisements, providers, announcements = parse_tables(kubectl("get", "peer,adv,dnsp,nodeann", "-n", NS))
    assert [t[0]["NAME"] for t in (peers, advertisements, providers, announcements)] == [
        "bgppeer.dnslb.io/edge", "bgpadvertisement.dnslb.io/all", "dnsprovider.dnslb.io/corp",
        "nodeannouncement.dnslb.io/n1",
    ]  # fmt: skip
    names = {row["NAME"] for table in parse_tables(kubectl("get", "dnslb", "-n", NS)) for row in table}
    assert names == {
        "addresspool.dnslb.io/spare", "addresspool.dnslb.io/web", "bgppeer.dnslb.io/edge",
        "bgpadvertisement.dnslb.io/all", "dnsprovider.dnslb.io/corp",
        "nodeannouncement.dnslb.io/n1", "nodeannouncement.dnslb.io/n2",
    }  # fmt: skip


def test_wide_adds_the_priority_one_columns(kubectl: Kubectl) -> None:
    pools, peers, advertisements, providers, _ = parse_tables(kubectl("get", ALL_KINDS, "-n", NS, "-o", "wide"))
    assert headers(pools) == ["NAME", "ADDRESSES", "IN USE", "TOTAL", "READY", "AUTO ASSIGN", "AVOID BUGGY IPS", "AGE"]
    assert [(p["AUTO ASSIGN"], p["AVOID BUGGY IPS"]) for p in pools] == [("false", "false"), ("true", "true")]
    assert peers[0]["MY ASN"] == "64512"
    assert (advertisements[0]["PEERS"], advertisements[0]["COMMUNITIES"]) == ("", '["64512:100"]')
    assert providers[0]["REASON"] == "ProviderFailed"


def test_one_object_all_namespaces_and_sorting(kubectl: Kubectl) -> None:
    (one,) = parse_tables(kubectl("get", "addresspool", "web", "-n", NS))
    assert [(r["NAME"], r["TOTAL"]) for r in one] == [("web", "73")]
    (everywhere,) = parse_tables(kubectl("get", "pool", "-A"))
    assert [(r["NAMESPACE"], r["NAME"]) for r in everywhere] == [(NS, "spare"), (NS, "web")]
    # --sort-by makes kubectl ask for whole objects in the rows (includeObject=Object)
    (by_total,) = parse_tables(kubectl("get", "pool", "-n", NS, "--sort-by=.metadata.name"))
    assert [r["NAME"] for r in by_total] == ["spare", "web"]


def test_built_in_kinds_print_as_before(kubectl: Kubectl) -> None:
    """The double has no printers of built-in kinds: kubectl prints what it gets with its own NAME and AGE."""
    (services,) = parse_tables(kubectl("get", "svc", "-n", "default"))
    assert headers(services) == ["NAME", "AGE"]
    assert [s["NAME"] for s in services] == ["kubernetes"]
    (namespaces,) = parse_tables(kubectl("get", "ns", NS))
    assert [n["NAME"] for n in namespaces] == [NS]


@pytest.fixture
def no_printer_columns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The double serving CRDs without additionalPrinterColumns."""
    monkeypatch.setattr(double_tables, "crd_printer_columns", lambda kind: [] if kind.custom else None)
    yield


def test_a_crd_without_printer_columns_shows_name_and_age(no_printer_columns: None, kubectl: Kubectl) -> None:
    pools, peers, _, _, announcements = parse_tables(kubectl("get", ALL_KINDS, "-n", NS))
    assert headers(pools) == headers(peers) == headers(announcements) == ["NAME", "AGE"]
    assert [p["NAME"] for p in pools] == ["addresspool.dnslb.io/spare", "addresspool.dnslb.io/web"]
    assert all(AGE.fullmatch(p["AGE"]) for p in pools)


def test_every_crd_column_is_one_the_double_can_evaluate() -> None:
    """A real server refuses a CRD whose column has an unknown type or a path its JSONPath cannot parse."""
    for model in CRD_KINDS.values():
        (version,) = crd(model)["spec"]["versions"]
        for column in double_tables.columns(version["additionalPrinterColumns"])[1:]:
            assert isinstance(column, Column)
            assert column.type in ("integer", "number", "string", "boolean", "date"), column
            assert column.priority in (0, 1) and column.json_path.startswith("."), column
            double_tables.compiled(column.json_path)
