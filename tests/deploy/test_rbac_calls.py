"""The shipped RBAC against what the processes really call: every request allowed, every grant used.

`dnslb controller` and `dnslb speaker` run here with the arguments their manifests give them (plus `--api-server`
pointing at the Kubernetes API double), through their real `run` functions, until they have done every kind of
work: the controller allocates a VIP, writes status, conditions and Events, takes a DNS name over (saving the
old record set in a ConfigMap) under its Lease; `dnslb dns rollback` then restores it, as an operator runs it in
the controller's pod. The speaker reads its peer's password and announces. Each HTTP request their clients send is
recorded and checked against the grants of their ServiceAccount in deploy/; a grant no request used fails too,
so RBAC cannot grow beyond what the code calls. Only ExaBGP is left out (a stand-in sink takes the routes): it
does not talk to Kubernetes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest

from dnslb.adapters.kube.client import api_client as real_api_client
from dnslb.app import cli, controller_main, speaker_main
from dnslb.app import rollback as dns_main
from dnslb.core.bgp.routes import Route
from dnslb.core.bgp.status import ESTABLISHED, PeerSession
from dnslb.core.config import BGPPeer
from dnslb.core.model import NodeView
from dnslb_testkit.kubeapi import KubeAPI
from tests.deploy.kustomize import DEPLOY, Obj, build, one
from tests.deploy.rbac import Grant, Request, grants, request_from_http

NS = "dnslb-system"
APP_NS = "web"
HOSTNAME = "web.example.test"
OLD_RECORD = ["192.0.2.99"]  # the record set at the name before dnslb: what takeover saves and rollback restores
POOL = "198.51.100.0/28"
BGP_PASSWORD = "s3cret-md5"
TIMEOUT = 60.0


class Recorder:
    """The requests one process's API clients send, as the authorizer sees them."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def attach(self, client: k8s.ApiClient) -> k8s.ApiClient:
        send = client.rest_client.request

        def recording(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            request = request_from_http(method, url)
            if request is not None:
                with self._lock:
                    self.requests.append(request)
            return send(method, url, *args, **kwargs)

        client.rest_client.request = recording
        return client

    def patch_api_client(self, monkeypatch: pytest.MonkeyPatch, module: Any) -> None:
        monkeypatch.setattr(module, "api_client", lambda *a, **kw: self.attach(real_api_client(*a, **kw)))


def check(objects: list[Obj], account: str, requests: list[Request]) -> None:
    held = grants(objects, NS, account)
    denied = sorted({str(r) for r in requests if not any(g.allows(r) for g in held)})
    assert not denied, f"deploy/ RBAC would forbid {account} these requests: {denied}"
    unused = sorted(g for g in held if not any(g.allows(r) for r in requests))
    assert not unused, f"{account} holds grants no code path used: {[_show(g) for g in unused]}"


def _show(grant: Grant) -> str:
    names = f" {list(grant.names)}" if grant.names else ""
    return f"{grant.verb} {grant.group or 'core'}/{grant.resource}{names} in {grant.scope}"


def manifest_args(objects: list[Obj], kind: str, name: str, values: Mapping[str, str], **override: str) -> list[str]:
    """The container's args from the manifest, $(VAR) filled in, `--flag=...` replaced where `override` says."""
    container = one(objects, kind, name)["spec"]["template"]["spec"]["containers"][0]
    args = [re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], a) for a in container["args"]]
    flags = {f"--{k.replace('_', '-')}": v for k, v in override.items()}
    kept = [a for a in args if a.split("=", 1)[0] not in flags]
    return kept + [f"{flag}={value}" for flag, value in flags.items()]


def steps(*pairs: tuple[Callable[[], object], Callable[[], object] | None]) -> Callable[[], bool]:
    """A `done` for run_until that walks through (condition, then-do) pairs in order; done after the last one."""
    remaining = list(pairs)

    def done() -> bool:
        while remaining and remaining[0][0]():
            _, then = remaining.pop(0)
            if then is not None:
                then()
        return not remaining

    return done


def event_counts(core: k8s.CoreV1Api, namespace: str, name: str) -> dict[str, int]:
    events = core.list_namespaced_event(namespace).items
    return {e.reason: e.count or 1 for e in events if e.involved_object.name == name}


def run_until(argv: list[str], done: Callable[[], bool], what: str) -> int:
    """Run `dnslb ARGV` in this thread as its process would run; SIGTERM it once `done()` (or after TIMEOUT)."""
    args = cli._parser().parse_args(argv)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    finished = threading.Event()
    guard = threading.Lock()
    outcome: list[bool] = []

    def watch() -> None:
        deadline = time.monotonic() + TIMEOUT
        while not finished.is_set() and time.monotonic() < deadline:
            try:
                if done():
                    outcome.append(True)
                    break
            except Exception:  # the double may not have the object yet
                pass
            time.sleep(0.1)
        with guard:
            if not finished.is_set():
                os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        code: int = args.run(args)
    finally:
        with guard:
            finished.set()
        watcher.join(5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        root.handlers[:], root.level = handlers, level
    assert outcome == [True], f"dnslb {argv[0]} did not get to {what} within {TIMEOUT:g}s"
    return code


@pytest.fixture
def kube() -> Iterator[KubeAPI]:
    with KubeAPI() as api:
        yield api


@pytest.fixture(scope="module")
def objects() -> list[Obj]:
    return build(DEPLOY)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def seed_cluster(kube: KubeAPI, zone_file: Path, *, vip: str | None = None) -> None:
    zone_file.write_text(json.dumps({"example.test": [[HOSTNAME, "A", 300, OLD_RECORD]]}))
    config = [
        ("AddressPool", "addresspools", "vips", {"addresses": [POOL]}),
        ("BGPPeer", "bgppeers", "edge", {"myASN": 64512, "peerASN": 64500, "peerAddress": "192.0.2.1",
                                         "passwordSecret": {"name": "edge-bgp"}}),
        ("BGPAdvertisement", "bgpadvertisements", "all", {"peers": ["edge"]}),
        ("DNSProvider", "dnsproviders", "mem", {"type": "inmemory", "takeover": True, "secretRef": {"name": "dns"},
                                                "publishWhen": "Allocated",  # no speakers here
                                                "settings": {"zones": "example.test", "zoneFile": str(zone_file)}}),
    ]  # fmt: skip
    service: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": APP_NS, "annotations": {"dnslb.io/hostname": HOSTNAME}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    if vip is not None:
        service["status"] = {"loadBalancer": {"ingress": [{"ip": vip, "ipMode": "VIP"}]}}
    kube.seed(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP_NS}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dns", "namespace": NS},
             "data": {"token": _b64("unused by inmemory")}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "edge-bgp", "namespace": NS},
             "data": {"password": _b64(BGP_PASSWORD)}},
            *({"apiVersion": "dnslb.io/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": NS},
               "spec": spec} for kind, _, name, spec in config),
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}, "spec": {},
             "status": {"conditions": [{"type": "Ready", "status": "True"}],
                        "addresses": [{"type": "InternalIP", "address": "192.0.2.11"}]}},
            service,
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "web-1", "namespace": APP_NS, "labels": {"kubernetes.io/service-name": "web"}},
             "addressType": "IPv4", "ports": [{"port": 80, "protocol": "TCP"}],
             "endpoints": [{"addresses": ["10.244.1.5"], "nodeName": "node-1", "conditions": {"ready": True}}]},
        ]
    )  # fmt: skip


def zone(zone_file: Path) -> dict[str, list[str]]:
    data = json.loads(zone_file.read_text())
    return {f"{name} {type_}": values for name, type_, _, values in data["example.test"]}


def test_controller_and_rollback_requests_match_the_controller_rbac(
    kube: KubeAPI,
    objects: list[Obj],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    zone_file = tmp_path / "zone.json"
    seed_cluster(kube, zone_file)
    client = kube.api_client()  # the test's own client: not recorded
    core, custom = k8s.CoreV1Api(client), k8s.CustomObjectsApi(client)
    recorder = Recorder()
    recorder.patch_api_client(monkeypatch, controller_main)
    recorder.patch_api_client(monkeypatch, dns_main)

    def vip() -> str:
        ingress = core.read_namespaced_service_status("web", APP_NS).status.load_balancer.ingress
        return str(ingress[0].ip) if ingress else ""

    def all_done() -> bool:
        accepted = all(
            custom.get_namespaced_custom_object("dnslb.io", "v1alpha1", NS, plural, name).get("status")
            for plural, name in (("addresspools", "vips"), ("bgppeers", "edge"),
                                 ("bgpadvertisements", "all"), ("dnsproviders", "mem"))
        )  # fmt: skip
        events = {e.reason for e in core.list_namespaced_event(APP_NS).items}
        saved = core.read_namespaced_config_map("dnslb-takeover-mem", NS)
        return bool(
            vip() and accepted and "IPAllocated" in events and saved and zone(zone_file).get(f"{HOSTNAME} A") == [vip()]
        )

    def advertise_to(peer: str) -> None:
        custom.patch_namespaced_custom_object("dnslb.io", "v1alpha1", NS, "bgpadvertisements", "all",
                                              {"spec": {"peers": [peer]}})  # fmt: skip

    def accepted() -> bool:
        ad = custom.get_namespaced_custom_object("dnslb.io", "v1alpha1", NS, "bgpadvertisements", "all")
        return any(c["status"] == "True" for c in ad.get("status", {}).get("conditions", []))

    # the same invalid config twice, with a valid one between: one Event, its count 2 (aggregation: patch)
    done = steps(
        (all_done, lambda: advertise_to("nope")),
        (lambda: event_counts(core, NS, "all").get("InvalidConfig") == 1, lambda: advertise_to("edge")),
        (accepted, lambda: advertise_to("nope")),
        (lambda: event_counts(core, NS, "all").get("InvalidConfig") == 2, None),
    )
    argv = manifest_args(
        objects, "Deployment", "dnslb-controller", {"POD_NAME": "dnslb-controller-0", "POD_NAMESPACE": NS},
        api_server=kube.url, metrics_addr="127.0.0.1:0", log_format="text",
    )  # fmt: skip
    assert run_until(argv, done, "allocate, publish, take over and count a repeated Event") == 0

    takeover_off = {"spec": {"takeover": False}}
    custom.patch_namespaced_custom_object("dnslb.io", "v1alpha1", NS, "dnsproviders", "mem", takeover_off)
    assert cli.main(["dns", "rollback", "--provider", "mem", "--api-server", kube.url, "--namespace", NS]) == 0
    assert "restored 1 record set(s)" in capsys.readouterr().out
    assert zone(zone_file)[f"{HOSTNAME} A"] == OLD_RECORD

    check(objects, "dnslb-controller", recorder.requests)


class StandInSink:
    """Takes the speaker's routes instead of ExaBGP, and asks for each peer's password as ExaBGPSink does."""

    instances: list[StandInSink] = []

    def __init__(self, workdir: Path, password_for: Callable[[BGPPeer], str | None], netns: str | None = None) -> None:
        self.password_for = password_for
        self.passwords: dict[str, str | None] = {}
        self.routes: dict[str, frozenset[Route]] = {}
        StandInSink.instances.append(self)

    def configure(self, peers: list[BGPPeer], node: NodeView) -> None:
        self.passwords = {peer.name: self.password_for(peer) for peer in peers}

    def set_desired(self, routes: Mapping[str, frozenset[Route]]) -> None:
        self.routes = dict(routes)

    def drain(self, seconds: float, graceful_shutdown: float = 0.0) -> None:
        pass

    def stop(self) -> None:
        pass

    def status(self) -> Mapping[str, PeerSession]:
        """Every route taken counts as acked over an Established session."""
        return {
            peer: PeerSession(peer, "192.0.2.1", ESTABLISHED, prefixes=frozenset(r.prefix for r in routes))
            for peer, routes in self.routes.items()
        }

    def on_session(self, listener: Callable[[str, bool], None]) -> None:
        pass


def test_speaker_requests_match_the_speaker_rbac(
    kube: KubeAPI, objects: list[Obj], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_cluster(kube, tmp_path / "zone.json", vip="198.51.100.3")
    core = k8s.CoreV1Api(kube.api_client())
    recorder = Recorder()
    recorder.patch_api_client(monkeypatch, speaker_main)
    StandInSink.instances.clear()
    monkeypatch.setattr(speaker_main, "ExaBGPSink", StandInSink)

    def announced() -> bool:
        sink = StandInSink.instances[-1]
        prefixes = {str(route.prefix) for route in sink.routes.get("edge", ())}
        return sink.passwords == {"edge": BGP_PASSWORD} and "198.51.100.3/32" in prefixes

    def ready(status: str) -> None:
        core.patch_node_status("node-1", {"status": {"conditions": [{"type": "Ready", "status": status}]}})

    def counted(reason: str, count: int) -> Callable[[], bool]:
        return lambda: event_counts(core, APP_NS, "web").get(reason) == count

    # a start is no change (no Event); withdrawn, announced, withdrawn again: the repeat counts on its Event
    done = steps(
        (announced, lambda: ready("False")),
        (counted("WithdrawnFromNode", 1), lambda: ready("True")),
        (counted("AnnouncedFromNode", 1), lambda: ready("False")),
        (counted("WithdrawnFromNode", 2), None),
    )

    argv = manifest_args(
        objects, "DaemonSet", "dnslb-speaker", {"NODE_NAME": "node-1", "POD_NAMESPACE": NS},
        api_server=kube.url, metrics_addr="127.0.0.1:0", workdir=str(tmp_path / "run"), health_url="",
        drain_seconds="0", log_format="text",
    )  # fmt: skip
    assert run_until(argv, done, "read its BGP password, announce the VIP and count a repeated Event") == 0

    check(objects, "dnslb-speaker", recorder.requests)
