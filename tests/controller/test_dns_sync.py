"""DNS sync through the controller: Services with hostnames become record sets in the provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import kubernetes.client as k8s

from dnslb_testkit.ports import closed_port as held_closed
from tests.controller.harness import (
    NAMESPACE,
    ControllerProcess,
    apply_pool,
    apply_provider,
    events_for,
    service_body,
    wait_for,
)

Start = Callable[..., ControllerProcess]


def zone_records(path: Path) -> dict[tuple[str, str], list[str]]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {(name, type_): values for name, type_, _ttl, values in data.get("example.test", [])}


def test_hostnames_become_one_record_set_each_with_ownership(
    ns: str, tmp_path: Path, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    zone_file = tmp_path / "zones.json"
    apply_pool(custom, "p", "10.90.0.0/28", "fd00:90::/124")
    apply_provider(
        custom, "mem", {"type": "inmemory", "settings": {"zones": "example.test", "zoneFile": str(zone_file)}}
    )
    proc = controller()
    proc.wait_ready()
    hosts = {"dnslb.io/hostname": "web.example.test,www.example.test"}
    core.create_namespaced_service(ns, service_body("web", annotations=hosts, ipFamilyPolicy="RequireDualStack"))
    core.create_namespaced_service(ns, service_body("outside", annotations={"dnslb.io/hostname": "x.other.test"}))
    records = wait_for(
        lambda: (r := zone_records(zone_file)) and ("www.example.test", "AAAA") in r and r, 15, "records"
    )
    vips = [i.ip for i in core.read_namespaced_service("web", ns).status.load_balancer.ingress]
    assert records[("web.example.test", "A")] == [ip for ip in vips if "." in ip]
    assert records[("web.example.test", "AAAA")] == [ip for ip in vips if ":" in ip]
    assert records[("www.example.test", "A")] == records[("web.example.test", "A")]
    assert records[("_dnslb.web.example.test", "TXT")] == [
        f"heritage=dnslb,dnslb/owner=dnslb,dnslb/resource=service/{ns}/web"
    ]
    skipped = wait_for(lambda: events_for(core, ns, "outside", ["DNSNotPublished"]), 10, "a DNSNotPublished Event")
    assert "x.other.test: no managed zone holds this name" in skipped[0].message
    core.delete_namespaced_service("web", ns)
    wait_for(lambda: ("web.example.test", "A") not in zone_records(zone_file), 10, "records deleted with the Service")
    assert ("_dnslb.web.example.test", "TXT") not in zone_records(zone_file)


def conditions(custom: k8s.CustomObjectsApi, name: str) -> dict[str, dict[str, str]]:
    body = custom.get_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "dnsproviders", name)
    return {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}


def known(found: dict[str, dict[str, str]]) -> dict[str, dict[str, str]] | None:
    """The conditions once Synced is known (True or False), else None."""
    return found if found.get("Synced", {}).get("status") in ("True", "False") else None


def test_a_provider_that_cannot_be_synced_says_so_in_its_synced_condition(
    tmp_path: Path, custom: k8s.CustomObjectsApi, controller: Start
) -> None:
    with held_closed() as closed_port:
        synced_conditions(custom, controller, closed_port)


def synced_conditions(custom: k8s.CustomObjectsApi, controller: Start, closed_port: int) -> None:
    apply_pool(custom, "p", "10.91.0.0/28")
    apply_provider(custom, "mem", {"type": "inmemory", "settings": {"zones": "example.test"}})
    apply_provider(custom, "down", {"type": "route53", "settings": {"endpointURL": f"http://127.0.0.1:{closed_port}"}})
    proc = controller()
    proc.wait_ready()
    down = wait_for(lambda: known(conditions(custom, "down")), 60, "Synced on the failing one")
    assert down["Synced"]["status"] == "False" and down["Synced"]["reason"] in ("ReadFailed", "ProviderFailed")
    assert "Route53" in down["Synced"]["message"] or "failed" in down["Synced"]["message"]
    assert down["Accepted"]["status"] == "True"  # the spec is valid: the two conditions say different things
    mem = wait_for(lambda: known(conditions(custom, "mem")), 30, "Synced on the working one")
    assert mem["Synced"]["status"] == "True" and mem["Accepted"]["status"] == "True"
