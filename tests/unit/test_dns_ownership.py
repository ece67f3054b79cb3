"""What makes a name dnslb's to write: its ownership record, read strictly, and a name short enough to carry one."""

from __future__ import annotations

import pytest

from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import Claim
from dnslb.core.dns.registry import ownership_name, ownership_record
from dnslb.core.objects import ObjectKey, service_ref
from dnslb.provider import Change, RecordSet

WEB = ObjectKey("default", "web")
OURS = "heritage=dnslb,dnslb/owner=cluster-a,dnslb/resource=service/default/web"


def claim(hostname: str = "web.example.test", ip: str = "10.0.0.1") -> Claim:
    return Claim(hostname, service_ref(WEB), "2026-01-01T00:00:00Z", 300, (RecordSet.of(hostname, "A", 300, [ip]),))


@pytest.mark.parametrize(
    "stray",
    [
        RecordSet.of("_dnslb.web.example.test", "TXT", 300, ["v=spf1 -all"]),
        RecordSet.of("_dnslb.web.example.test", "TXT", 300, [OURS, "something else"]),
        RecordSet.of("_dnslb.web.example.test", "A", 300, ["192.0.2.1"]),
        RecordSet.of("_dnslb.web.example.test", "CNAME", 300, ["elsewhere.example.test"]),
    ],
)
def test_anything_dnslb_did_not_write_at_the_ownership_name_makes_the_name_foreign(stray: RecordSet) -> None:
    plan = zone_changes([claim()], [stray], "cluster-a", takeover=True)
    assert plan.groups == ()  # no request at all, so nothing is retried every sync
    assert plan.foreign == ("web.example.test",)
    assert len(plan.refused) == 1
    assert f"_dnslb.web.example.test holds a {stray.type} record dnslb did not write" in plan.refused[0].message
    assert plan.refused[0].about == "web.example.test"


def test_a_foreign_ownership_name_beside_our_own_ownership_record_is_still_foreign() -> None:
    ours = ownership_record("web.example.test", "cluster-a", "service/default/web", 300)
    stray = RecordSet.of("_dnslb.web.example.test", "A", 300, ["192.0.2.1"])
    plan = zone_changes([claim(ip="10.0.0.2")], [ours, stray, *claim().records], "cluster-a")
    assert plan.groups == () and "did not write" in plan.refused[0].message


def name_of_length(length: int, first: str = "a") -> str:
    """A valid hostname of exactly `length` characters in example.test (labels of at most 60)."""
    suffix = ".example.test"
    labels, left = [], length - len(suffix)
    while left > 0:
        size = min(60, left)
        if left - size == 1:  # no room for a dot and a label after it
            size -= 1
        labels.append(first * size)
        left -= size + 1
    name = ".".join(labels) + suffix
    assert len(name) == length, (len(name), length)
    return name


def test_a_name_whose_ownership_name_is_too_long_is_refused_wildcards_included() -> None:
    fits = claim(name_of_length(253 - len("_dnslb.")))
    too_long = claim(name_of_length(254 - len("_dnslb."), "b"))
    wildcard = claim("*." + name_of_length(254 - len("_dnslb._wildcard."), "c"))  # its ownership name is 254 long
    assert len(ownership_name(fits.hostname)) == 253 and len(ownership_name(wildcard.hostname)) == 254
    plan = zone_changes([fits, too_long, wildcard], [], "cluster-a")
    assert [g.name for g in plan.groups] == [fits.hostname]
    assert sorted(d.about for d in plan.refused) == sorted([too_long.hostname, wildcard.hostname])
    assert all("is 254 characters long; the provider takes at most 253" in d.message for d in plan.refused)
    lower = zone_changes([fits], [], "cluster-a", max_name=200)
    assert lower.groups == () and "at most 200" in lower.refused[0].message


def test_a_change_to_a_name_we_own_requires_its_ownership_record_as_read() -> None:
    txt = ownership_record("web.example.test", "cluster-a", "service/default/web", 300)
    old = RecordSet.of("web.example.test", "A", 300, ["10.0.0.1"])
    plan = zone_changes([claim(ip="10.0.0.2")], [old, txt], "cluster-a")
    assert [(c.action, c.record, c.previous) for g in plan.groups for c in g.changes] == [
        ("update", RecordSet.of("web.example.test", "A", 300, ["10.0.0.2"]), old),
        ("require", txt, None),
    ]
    assert zone_changes([claim()], [old, txt], "cluster-a").groups == ()  # nothing to change: nothing to guard


def test_a_delete_names_both_record_sets_exactly_as_read() -> None:
    txt = ownership_record("web.example.test", "cluster-a", "service/default/web", 300)
    old = RecordSet.of("web.example.test", "A", 300, ["10.0.0.1"], exact=["010.000.000.001"])
    plan = zone_changes([], [old, txt], "cluster-a")
    deletes = [c for g in plan.groups for c in g.changes]
    assert deletes == [Change("delete", old), Change("delete", txt)]
    assert deletes[0].record.exact == ("010.000.000.001",)
