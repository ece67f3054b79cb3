"""Each speaker's NodeAnnouncement: what its node announces and why not, as `kubectl get -o yaml` would show it,
against real ExaBGP and BIRD and the API double; and the metrics beside it tell the same story."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import kubernetes.client as k8s
import pytest
from kubernetes.client.rest import ApiException
from prometheus_client.parser import text_string_to_metric_families

from dnslb_testkit.bgpbed import BGPBed
from tests.controller.harness import NAMESPACE, wait_for
from tests.speaker.harness import SpeakerProcess, addresses, lb_service, set_ready, wait_paths

pytestmark = pytest.mark.root
Start = Callable[..., SpeakerProcess]


def node_status(custom: k8s.CustomObjectsApi, node: str) -> dict[str, Any]:
    try:
        obj = custom.get_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "nodeannouncements", node)
    except ApiException as exc:
        if exc.status == 404:
            return {}
        raise
    return dict(obj.get("status") or {})


def metrics(speaker: SpeakerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{speaker.port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_speaker_cut_off_from_its_router_claims_nothing_and_says_why(
    bed: BGPBed, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, speakers: Start
) -> None:
    cut, other = bed.nodes[0], bed.nodes[1]
    bed.cut(cut)
    lonely, fine = speakers(cut, "--status-interval", "0.5"), speakers(other, "--status-interval", "0.5")
    vip = "10.100.0.70"
    lb_service(core, "web", [vip])
    wait_paths(bed, vip, addresses([other]), 30)

    def down_and_said() -> dict[str, Any] | None:
        status = node_status(custom, cut.name)
        sessions = {s["peer"]: s for s in status.get("sessions", [])}
        v4 = sessions.get("edge-v4", {})
        return status if v4.get("state") not in (None, "Established") and v4.get("lastError") else None

    status = wait_for(down_and_said, 30, f"{cut.name}'s status: edge-v4 down, with why")
    assert status["announcedCount"] == 0 and status["announced"] == []
    withheld = {v: g["reason"] for g in status["withheld"] for v in g["vips"]}
    assert withheld[vip] == "PeerDown"
    assert status["sessionsUp"].startswith("0/")
    seen = metrics(lonely)
    assert seen[("dnslb_bgp_sessions_up", (("peer", "edge-v4"),))] == 0
    assert seen[("dnslb_bgp_prefixes_announced", (("peer", "edge-v4"),))] == 0
    assert seen[("dnslb_bgp_vips", (("state", "PeerDown"),))] >= 1

    # the node that reaches its router says so, and the peer's acked prefix is counted
    good = wait_for(lambda: (s := node_status(custom, other.name)) and s.get("announcedCount") and s, 15, "announced")
    assert {v for g in good["announced"] for v in g["vips"]} >= {vip}
    assert ("edge-v4", "Established") in {(s["peer"], s["state"]) for s in good["sessions"]}
    assert metrics(fine)[("dnslb_bgp_prefixes_announced", (("peer", "edge-v4"),))] >= 1

    bed.restore(cut)
    wait_paths(bed, vip, addresses([cut, other]), 30, "the path back once the link is")
    back = wait_for(
        lambda: (s := node_status(custom, cut.name)) and vip in {v for g in s.get("announced", []) for v in g["vips"]}
        and s, 15, "announced in the status once acked",
    )  # fmt: skip
    assert back["withheld"] == [] or vip not in {v for g in back["withheld"] for v in g["vips"]}


def seen_by_speaker(custom: k8s.CustomObjectsApi, node: str, reason: str | None) -> bool:
    """The node's status says NotReady (`reason`), or something else than NotReady (None)."""
    said = (node_status(custom, node).get("ineligible") or {}).get("reason")
    return said == reason if reason else said != "NotReady"


def test_a_damped_node_shows_its_penalty_and_when_it_may_announce_again(
    bed: BGPBed, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, speakers: Start
) -> None:
    node = bed.nodes[0]
    speakers(node, "--status-interval", "0.5", "--damping-half-life", "30", "--damping-max-suppress", "60")
    lb_service(core, "web", ["10.100.0.71"])
    wait_paths(bed, "10.100.0.71", addresses([node]), 30)
    for ready in (False, True, False, True, False, True):  # three Ready losses: suppressed
        set_ready(core, node, ready)
        said = "NotReady" if not ready else None
        wait_for(partial(seen_by_speaker, custom, node.name, said), 15, f"the speaker seeing Ready {ready}")

    def damped() -> dict[str, Any] | None:
        status = node_status(custom, node.name)
        return status if (status.get("damping") or {}).get("suppressed") else None

    status = wait_for(damped, 15, "the damped node's status")
    assert status["ineligible"]["reason"] == "Damped"
    assert status["damping"]["penalty"] > 2500
    reuse = datetime.strptime(status["damping"]["reuseAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 0 < (reuse - datetime.now(UTC)).total_seconds() <= 61
