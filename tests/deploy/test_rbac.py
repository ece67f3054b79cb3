"""The RBAC in deploy/: exactly these grants, no wildcards, Secrets only in dnslb-system and only by name.

Each grant is what one code path calls (the comments in deploy/controller.yaml and deploy/speaker.yaml name them);
tests/deploy/test_rbac_calls.py runs the processes and checks the same grants against their actual requests.
"""

from __future__ import annotations

import pytest

from tests.deploy.kustomize import DEPLOY, Obj, build, by_kind
from tests.deploy.rbac import CLUSTER_WIDE, Grant, grants, wildcards

NS = "dnslb-system"
CONFIG_KINDS = ("addresspools", "bgppeers", "bgpadvertisements", "dnsproviders")
EVERY = CLUSTER_WIDE


def g(scope: str, group: str, resource: str, verbs: str, names: tuple[str, ...] = ()) -> set[Grant]:
    return {Grant(scope, group, resource, verb, names) for verb in verbs.split()}


CONTROLLER = (
    g(EVERY, "", "services", "list watch")
    | g(EVERY, "", "namespaces", "list watch")
    | g(EVERY, "", "nodes", "list watch")
    | g(EVERY, "networking.k8s.io", "ingresses", "list watch")
    | g(EVERY, "", "services/status", "patch")
    | g(EVERY, "", "events", "create patch list")
    | {grant for kind in CONFIG_KINDS for grant in g(NS, "dnslb.io", kind, "list watch")}
    | {grant for kind in CONFIG_KINDS for grant in g(NS, "dnslb.io", f"{kind}/status", "patch")}
    | g(NS, "dnslb.io", "dnsproviders", "get")
    | g(NS, "dnslb.io", "nodeannouncements", "list watch")
    | g(NS, "", "secrets", "get")
    | g(NS, "", "configmaps", "get create update")
    | g(NS, "coordination.k8s.io", "leases", "create")
    | g(NS, "coordination.k8s.io", "leases", "get update", ("dnslb-controller",))
)

SPEAKER = (
    g(EVERY, "", "services", "list watch")
    | g(EVERY, "discovery.k8s.io", "endpointslices", "list watch")
    | g(EVERY, "", "nodes", "list watch")
    | g(EVERY, "", "events", "create patch list")
    | {grant for kind in CONFIG_KINDS[:3] for grant in g(NS, "dnslb.io", kind, "list watch")}
    | g(NS, "", "secrets", "get")
    | g(NS, "dnslb.io", "nodeannouncements", "create")
    | g(NS, "dnslb.io", "nodeannouncements/status", "patch")
)


@pytest.fixture(scope="module")
def objects() -> list[Obj]:
    return build(DEPLOY)


def test_the_controller_holds_exactly_its_grants(objects: list[Obj]) -> None:
    held = grants(objects, NS, "dnslb-controller")
    assert sorted(held - CONTROLLER) == [], "grants the controller's code does not need"
    assert sorted(CONTROLLER - held) == [], "grants the controller's code needs but does not have"


ROUTES = ("gateways", "httproutes", "grpcroutes", "tlsroutes", "tcproutes", "udproutes")
SOURCE_GRANTS = {
    "gateway-api": {grant for r in ROUTES for grant in g(EVERY, "gateway.networking.k8s.io", r, "list watch")},
    "dnsendpoint": g(EVERY, "externaldns.k8s.io", "dnsendpoints", "list watch")
    | g(EVERY, "externaldns.k8s.io", "dnsendpoints/status", "patch"),
}


@pytest.mark.parametrize("source", sorted(SOURCE_GRANTS))
def test_each_source_overlay_adds_exactly_its_grants_and_flag(source: str) -> None:
    objects = build(DEPLOY / "sources" / source)
    held = grants(objects, NS, "dnslb-controller")
    assert sorted(held - CONTROLLER - SOURCE_GRANTS[source]) == []
    assert sorted((CONTROLLER | SOURCE_GRANTS[source]) - held) == []
    (deployment,) = by_kind(objects, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-2] == "--source=service,ingress" and args[-1].startswith("--source=")
    assert wildcards(objects) == []


def test_the_speaker_holds_exactly_its_grants(objects: list[Obj]) -> None:
    held = grants(objects, NS, "dnslb-speaker")
    assert sorted(held - SPEAKER) == [], "grants the speaker's code does not need"
    assert sorted(SPEAKER - held) == [], "grants the speaker's code needs but does not have"


def test_the_speaker_writes_nothing_but_events_and_its_node_status(objects: list[Obj]) -> None:
    writes = {grant for grant in grants(objects, NS, "dnslb-speaker") if grant.verb not in ("get", "list", "watch")}
    assert {(grant.resource, grant.verb) for grant in writes} == {
        ("events", "create"),
        ("events", "patch"),
        ("nodeannouncements", "create"),
        ("nodeannouncements/status", "patch"),
    }


def test_no_rule_uses_a_wildcard_or_a_non_resource_url(objects: list[Obj]) -> None:
    assert wildcards(objects) == []


@pytest.mark.parametrize("account", ["dnslb-controller", "dnslb-speaker"])
def test_secrets_are_read_only_by_name_and_only_in_dnslb_system(objects: list[Obj], account: str) -> None:
    secret_grants = {grant for grant in grants(objects, NS, account) if grant.resource == "secrets"}
    assert secret_grants == {Grant(NS, "", "secrets", "get")}
    # and no ClusterRole mentions Secrets at all, so no future binding can widen this by accident
    for role in by_kind(objects, "ClusterRole"):
        for rule in role["rules"]:
            assert "secrets" not in rule["resources"], role["metadata"]["name"]


def test_every_binding_names_a_role_that_exists_and_an_account_of_ours(objects: list[Obj]) -> None:
    accounts = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in by_kind(objects, "ServiceAccount")}
    assert accounts == {(NS, "dnslb-controller"), (NS, "dnslb-speaker")}
    for binding in by_kind(objects, "RoleBinding") + by_kind(objects, "ClusterRoleBinding"):
        subjects = {(s["namespace"], s["name"]) for s in binding["subjects"] if s["kind"] == "ServiceAccount"}
        assert subjects and subjects <= accounts, binding["metadata"]["name"]
        assert len(binding["subjects"]) == len(subjects), "only our ServiceAccounts are bound"
    for workload, account in (("Deployment", "dnslb-controller"), ("DaemonSet", "dnslb-speaker")):
        (obj,) = by_kind(objects, workload)
        assert obj["spec"]["template"]["spec"]["serviceAccountName"] == account
