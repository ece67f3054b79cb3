"""The DNS engine, pure: claims from Services, the zone plan, ownership, takeover and rollback, batching."""

from __future__ import annotations

from typing import Any

import pytest

from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.dns import gate
from dnslb.core.dns.batch import Group, group_cost, minimum_requests, pack
from dnslb.core.dns.changes import rollback_changes, zone_changes
from dnslb.core.dns.desired import Claim, claims, for_provider, granted
from dnslb.core.dns.hostnames import service_hostnames
from dnslb.core.dns.registry import hostname_of, ownership_name, ownership_record
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.objects import ObjectKey, ObjectRef, service_ref
from dnslb.core.sources import SourceRecord
from dnslb.provider import Change, Limits, RecordSet, Zone, default_cost
from dnslb_inmemory import InMemoryProvider
from tests.builders import make_service

ZONE = Zone("example.test", "example.test")
WEB = ObjectKey("default", "web")


def claim(hostname: str = "web.example.test", *ips: str, service: ObjectKey = WEB, ttl: int = 300) -> Claim:
    v4 = [i for i in ips or ("10.0.0.1",) if ":" not in i]
    v6 = [i for i in ips if ":" in i]
    records = []
    if v4:
        records.append(RecordSet.of(hostname, "A", ttl, v4))
    if v6:
        records.append(RecordSet.of(hostname, "AAAA", ttl, v6))
    return Claim(hostname, service_ref(service), "2026-01-01T00:00:00Z", ttl, tuple(records))


def zone_with(*records: RecordSet) -> InMemoryProvider:
    provider = InMemoryProvider(["example.test"])
    if records:
        provider.apply(ZONE, [Change("create", r) for r in records])
    return provider


def converge(provider: InMemoryProvider, wanted: list[Claim], **options: Any) -> list[Change]:
    plan = zone_changes(wanted, provider.records(ZONE), "cluster-a", **options)
    if plan.changes:
        provider.apply(ZONE, plan.changes)
    return list(plan.changes)


def test_a_new_name_gets_its_records_and_ownership_in_one_group() -> None:
    plan = zone_changes([claim()], [], "cluster-a")
    assert [[str(c) for c in g.changes] for g in plan.groups] == [
        [
            "create web.example.test 300 A 10.0.0.1",
            "create _dnslb.web.example.test 300 TXT "
            "heritage=dnslb,dnslb/owner=cluster-a,dnslb/resource=service/default/web",
        ]
    ]


def test_converges_and_then_plans_nothing() -> None:
    provider = zone_with()
    converge(provider, [claim("web.example.test", "10.0.0.1", "fd00::1")])
    assert converge(provider, [claim("web.example.test", "10.0.0.1", "fd00::1")]) == []
    changes = converge(provider, [claim("web.example.test", "10.0.0.2")])
    # the ownership record is required to stand as read: the change fails if another owner took the name meanwhile
    assert [c.action + " " + c.record.type for c in changes] == ["update A", "delete AAAA", "require TXT"]


def test_deletes_only_ours_only_under_sync_and_only_after_a_complete_read() -> None:
    foreign = RecordSet.of("legacy.example.test", "A", 60, ["192.0.2.1"])
    provider = zone_with(foreign)
    converge(provider, [claim()])
    assert converge(provider, [], policy="upsert-only") == []
    assert converge(provider, [], may_delete=False) == []
    deleted = converge(provider, [])
    assert sorted(c.record.type for c in deleted) == ["A", "TXT"] and all(c.action == "delete" for c in deleted)
    assert provider.records(ZONE) == [foreign]


def test_create_only_never_changes_what_exists() -> None:
    provider = zone_with()
    converge(provider, [claim("web.example.test", "10.0.0.1")])
    assert converge(provider, [claim("web.example.test", "10.0.0.9")], policy="create-only") == []


def test_foreign_records_are_left_alone_without_takeover() -> None:
    nodes = RecordSet.of("web.example.test", "A", 60, [f"192.0.2.{i}" for i in range(1, 101)])
    plan = zone_changes([claim()], [nodes], "cluster-a")
    assert plan.groups == ()
    assert "set takeover on the DNSProvider" in plan.refused[0].message


def test_another_owner_is_never_touched() -> None:
    theirs = ownership_record("web.example.test", "cluster-b", "service/x/y", 300)
    plan = zone_changes([claim()], [theirs], "cluster-a", takeover=True)
    assert plan.groups == () and plan.refused[0].message == "owned by another dnslb (owner cluster-b)"


def test_takeover_replaces_the_all_nodes_record_and_rollback_restores_it_exactly() -> None:
    nodes = RecordSet.of("web.example.test", "A", 60, [f"192.0.2.{i}" for i in range(1, 201)])
    alias = RecordSet.of("www.example.test", "CNAME", 60, ["web.example.test"])
    other = RecordSet.of("mail.example.test", "A", 60, ["192.0.2.250"])
    provider = zone_with(nodes, alias, other)
    before = provider.records(ZONE)
    plan = zone_changes([claim(), claim("www.example.test")], before, "cluster-a", takeover=True)
    assert sorted(plan.replaced) == sorted([nodes, alias])
    provider.apply(ZONE, plan.changes)
    after = {r.key: r for r in provider.records(ZONE)}
    assert after[("web.example.test", "A")].values == ("10.0.0.1",)
    assert ("www.example.test", "CNAME") not in after and after[("www.example.test", "A")].values == ("10.0.0.1",)
    rollback = rollback_changes(plan.replaced, provider.records(ZONE), "cluster-a")
    provider.apply(ZONE, [c for g in rollback for c in g.changes])
    assert provider.records(ZONE) == before


def test_claims_from_services() -> None:
    ann = {"dnslb.io/hostname": "web.example.test, Api.Example.Test."}
    services = [
        make_service("web", created="2026-01-01T00:00:00Z", annotations=ann, ingress=("10.0.0.1", "fd00::1")),
        make_service("late", created="2026-02-01T00:00:00Z", annotations={"dnslb.io/hostname": "web.example.test"},
                     ingress=("10.0.0.2",)),
        make_service("novip", annotations={"dnslb.io/hostname": "novip.example.test"}),
        make_service("badttl", annotations={"dnslb.io/hostname": "t.example.test", "dnslb.io/ttl": "-5"},
                     ingress=("10.0.0.3",)),
        make_service("external", annotations={"external-dns.alpha.kubernetes.io/hostname": "ext.example.test",
                                              "external-dns.alpha.kubernetes.io/ttl": "60"}, ingress=("10.0.0.4",)),
        make_service("bad", annotations={"dnslb.io/hostname": "-bad-.example.test"}, ingress=("10.0.0.5",)),
        make_service("internal", type="ClusterIP", annotations={"dnslb.io/hostname": "in.example.test"}),
    ]  # fmt: skip
    found, skipped = claims(services, ClassFilter())
    assert sorted((c.hostname, str(c.owner.key), c.ttl) for c in found) == [
        ("api.example.test", "default/web", 300),
        ("ext.example.test", "default/external", 60),
        ("t.example.test", "default/badttl", 300),  # a TTL dnslb cannot use costs the TTL, not the name
        ("web.example.test", "default/web", 300),
    ]
    web = next(c for c in found if c.hostname == "web.example.test")
    assert [str(r) for r in web.records] == ["web.example.test 300 A 10.0.0.1", "web.example.test 300 AAAA fd00::1"]
    reasons = sorted(s.describe() for s in skipped)
    assert reasons == [
        "metadata.annotations[dnslb.io/hostname]: "
        "'-bad-.example.test' has an invalid label '-bad-' (letters, digits and inner '-' only)",
        "metadata.annotations[dnslb.io/hostname]: "
        "web.example.test: hostname is already claimed by the earlier Service default/web",
        "metadata.annotations[dnslb.io/ttl]: "
        "TTL '-5' is neither whole seconds nor a duration like 1m30s; the default applies",
    ]
    assert {s.reason for s in skipped if "ttl" not in s.field} == {"DNSNotPublished"}


def test_zones_filters_and_namespace_grants() -> None:
    spec = DNSProviderSpec.model_validate(
        {"type": "inmemory", "domainFilters": ["example.test"],
         "allowedNamespaces": [{"domain": "db.example.test", "namespaces": ["data"]}]}
    )  # fmt: skip
    zones = [Zone("example.test"), Zone("db.example.test"), Zone("other.test")]
    wanted = [
        claim("web.example.test"),
        claim("pg.db.example.test", service=ObjectKey("data", "pg")),
        claim("sneaky.db.example.test", service=ObjectKey("web", "x")),
        claim("x.other.test"),
        claim("*.apps.example.test"),
    ]
    by_zone, outside = for_provider(wanted, spec, zones)
    assert {z: sorted(c.hostname for c in cs) for z, cs in by_zone.items()} == {
        "example.test": ["*.apps.example.test", "web.example.test"],
        "db.example.test": ["pg.db.example.test", "sneaky.db.example.test"],
    }
    assert [c.hostname for c in outside] == ["x.other.test"]
    assert granted(wanted[1], spec) is None
    assert granted(wanted[2], spec) == "namespace web may not publish names under db.example.test"


def test_wildcard_ownership_names() -> None:
    assert ownership_name("*.apps.example.test") == "_dnslb._wildcard.apps.example.test"
    assert hostname_of("_dnslb._wildcard.apps.example.test") == "*.apps.example.test"
    assert hostname_of("_dnslb.web.example.test") == "web.example.test"
    assert hostname_of("web.example.test") is None


def two_change_groups(count: int, values: int = 1) -> list[Group]:
    out = []
    for i in range(count):
        name = f"h{i}.example.test"
        ips = [f"10.{i // 250}.{i % 250}.{v}" for v in range(values)]
        out.append(Group(name, (Change("create", RecordSet.of(name, "A", 300, ips)),
                                Change("create", ownership_record(name, "o", f"service/d/s{i}", 300)))))  # fmt: skip
    return out


def test_packing_keeps_groups_whole_and_fills_requests() -> None:
    limits = Limits(max_values=100)
    groups = two_change_groups(1000)
    batches, oversized = pack(groups, limits, default_cost)
    assert oversized == []
    assert len(batches) == minimum_requests(groups, limits, default_cost) == 20
    assert all(b.cost.values <= 100 for b in batches)
    names = [g.name for b in batches for g in b.groups]
    assert sorted(names) == sorted(g.name for g in groups)


@pytest.mark.parametrize("values", [1, 3, 7, 40])
def test_packing_is_within_one_of_the_minimum(values: int) -> None:
    limits = Limits(max_values=1000, max_bytes=32000)
    groups = two_change_groups(3000 // values, values)
    batches, _ = pack(groups, limits, default_cost)
    assert len(batches) <= minimum_requests(groups, limits, default_cost) + 1
    assert all(limits.fits(b.cost) for b in batches)


def test_a_group_over_the_limits_is_reported_not_sent() -> None:
    big = two_change_groups(1, values=150)
    batches, oversized = pack(big + two_change_groups(2), Limits(max_values=100), default_cost)
    assert [g.name for b in batches for g in b.groups] == ["h0.example.test", "h1.example.test"]
    assert oversized[0].about == "h0.example.test"
    assert oversized[0].message == "exceeds one request: 151 record values > 100"
    assert group_cost(big[0], default_cost).changes == 2


def test_a_hostname_is_checked_before_it_is_lowercased_and_an_address_is_no_hostname() -> None:
    kelvin = "\u212a.example.test"  # KELVIN SIGN: lowercases to an ASCII "k"
    service = make_service("web", annotations={"dnslb.io/hostname": f"{kelvin},10.0.0.1,ok.example.test"})
    names, problems = service_hostnames(service)
    assert names == ("ok.example.test",)
    assert [p.message.split(" ", 1)[1] for p in problems] == [
        "is not ASCII (write an internationalized name in its xn-- form)",
        "is an address, not a hostname (no top-level domain is all digits)",
    ]


def test_sourced_claims_earliest_wins_across_kinds_and_only_vip_targets_are_gated() -> None:
    ingress = ObjectRef("Ingress", ObjectKey("team-a", "shop"))
    route = ObjectRef("HTTPRoute", ObjectKey("team-b", "api"))
    endpoint = ObjectRef("DNSEndpoint", ObjectKey("team-b", "db"))
    service = make_service("web", created="2026-01-03T00:00:00Z", annotations={"dnslb.io/hostname": "api.example.test"},
                           ingress=("10.0.0.1",))  # fmt: skip
    sourced = [
        SourceRecord(ingress, "2026-01-02T00:00:00Z", "www.example.test", ("10.0.0.1",), None),
        SourceRecord(route, "2026-01-04T00:00:00Z", "api.example.test", ("10.0.0.1",), 60),
        SourceRecord(endpoint, "2026-01-01T00:00:00Z", "db.example.test", ("192.0.2.7",), 60),
    ]
    found, skipped = claims([service], ClassFilter(), sourced)
    owners = {c.hostname: (c.owner, c.ttl, c.gated) for c in found}
    assert owners == {
        "www.example.test": (ingress, 300, True),  # the Service's VIP: waits for an announcement like the Service
        "api.example.test": (service_ref(service.key), 300, True),  # the Service was created first
        "db.example.test": (endpoint, 60, False),  # not a dnslb VIP: nothing to wait for
    }
    assert [d.describe() for d in skipped] == [
        "api.example.test: hostname is already claimed by the earlier Service default/web"
    ]
    assert skipped[0].subject == route
    ready, _ = gate.split(found, announced=frozenset())
    assert {c.hostname for c in ready} == {"db.example.test"}
    assert gate.publications(found, [], set(), frozenset()).keys() == {service.key}  # conditions only on Services
