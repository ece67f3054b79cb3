"""The lab: the whole of dnslb and its peers in network namespaces on one machine.

    router    the edge router: one BGP session per node, ECMP into its kernel, forwards the client's traffic;
              `--router` picks it (`ROUTERS`): BIRD 2 (ecmp, the default), BIRD 2 exporting into a side table that
              `dnslb_lab.resilient` mirrors into resilient nexthop groups (resilient, an emulation), or FRR (frr)
    node1..N  `dnslb speaker` (ExaBGP beside it), NGINX on :80 in front of the demo app naming the node, and on one
              node the TCP "database" on :5432; the node's VIPs on its loopback (what kube-proxy does for real)
    dns       BIND 9, primary for lab.test, RFC2136 updates signed with TSIG: the DNSProvider
    control   the Kubernetes API double and `dnslb controller`
    client    the load generator, resolving through the lab's BIND (/etc/netns/<client>/resolv.conf)

BIND also serves the old world beside dnslb's: `old.lab.test`, A records listing every node (the DNS of NodePort
days), static and claimed by no Service, so the same failures hit both worlds at the same moments.

Addresses (all inside the lab's namespaces): nodes 10.0.0.11.. on the router's bridge 10.0.0.1/24, client 10.0.1.2,
BIND 10.0.2.53, API 10.0.3.10:6443, VIPs from 10.100.0.0/24. The lab also plays the parts of Kubernetes that are not
there: it marks Nodes NotReady, "reschedules" the database by moving its process and EndpointSlice, and puts VIPs
on the nodes' loopbacks.

The thread that starts the lab stays inside the control namespace until `close()` (its Kubernetes client connects
from there); other namespaces are reached with `ip netns exec` or `entered()`.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_network
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import kubernetes.client as k8s
from kubernetes.client.rest import ApiException

from dnslb.adapters.child import poll_until
from dnslb.adapters.kube.client import api_client
from dnslb_lab import cluster, state
from dnslb_lab.resilient import DEFAULT_BUCKETS, DEFAULT_IDLE_TIMER
from dnslb_testkit.bgpbed import NODE_ASN, ROUTER_ASN, BedNode, BGPBed, host_prefix
from dnslb_testkit.netns import Namespace, NetnsError, Process, entered
from dnslb_testkit.servers.bind import BindServer, TsigKey, ZoneSpec
from dnslb_testkit.waiting import wait_for

DNS_ADDRESS = IPv4Address("10.0.2.53")
API_ADDRESS = IPv4Address("10.0.3.10")
API_PORT = 6443
VIP_POOL = IPv4Network("10.100.0.0/24")
APP_PORT = 8081
NETNS_PREFIX = "dnslblab"

_DNS_LINK = "10.0.2"
_CONTROL_LINK = "10.0.3"
_START_TIMEOUT = 30.0
_POLL = 0.05

RESILIENT_TABLE = 100  # with --router resilient, the kernel table BIRD exports into and the agent mirrors into main
# --router: what each choice runs at the edge, as the report's meta and `--help` say it
ROUTERS: dict[str, str] = {
    "ecmp": "BIRD 2, a multipath route in the router's main table: the kernel's hash-threshold ECMP",
    "resilient": (
        f"emulation: BIRD + Linux resilient nexthop groups, buckets {DEFAULT_BUCKETS}, idle timer "
        f"{DEFAULT_IDLE_TIMER} s"
    ),
    "frr": "FRR from Debian, bgpd + zebra: a multipath route in the router's main table: hash-threshold ECMP",
}


@dataclass(frozen=True)
class LabOptions:
    nodes: int = 3
    hold_time: int = 3
    damping: bool = True
    damping_half_life: float = 30.0
    legacy_records: bool = False  # web's names start in the old world too (A records listing every node), for `migrate`
    logs: Path = Path("lab-logs")
    router: str = "ecmp"  # one of ROUTERS

    def __post_init__(self) -> None:
        if self.router not in ROUTERS:
            raise ValueError(f"the lab's router is one of {', '.join(ROUTERS)}, not {self.router!r}")

    @property
    def router_daemon(self) -> str:
        """What runs the router's BGP: "bird" or "frr" (the test bed's `router`)."""
        return "frr" if self.router == "frr" else "bird"

    def router_summary(self) -> str:
        """The router as the report names it, e.g. "resilient (emulation: BIRD + ...)"."""
        return f"{self.router} ({ROUTERS[self.router]})"


@dataclass
class NodeParts:
    """What runs on one node; the processes change as the scenario stops and starts them."""

    bed: BedNode
    workdir: Path
    speaker: Process | None = None
    nginx: Process | None = None
    app: Process | None = None
    database: Process | None = None
    slow: bool = False
    down: bool = False


@dataclass(frozen=True)
class Measured:
    """How long something took to become true, or None when it did not within the time allowed."""

    seconds: float | None
    detail: str = ""


Say = Callable[[str], None]


@dataclass
class Lab:
    options: LabOptions
    say: Say = field(default=print)
    bed: BGPBed | None = None
    bind: BindServer | None = None
    nodes: dict[str, NodeParts] = field(default_factory=dict)
    vips: dict[str, IPv4Address] = field(default_factory=dict)  # Service name → its VIP
    database_node: str = ""
    api: Process | None = None
    controller: Process | None = None
    resilient: Process | None = None  # the resilient-ECMP agent in the router namespace (--router resilient)
    _control: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _client: k8s.ApiClient | None = None
    _resolv_dir: Path | None = None
    _dns_namespace: Namespace | None = None
    _control_namespace: Namespace | None = None
    _tsig: TsigKey = field(default_factory=lambda: TsigKey.generate("dnslb-lab"))

    # ------------------------------------------------------------------ building and tearing down

    def start(self) -> Lab:
        """Build the namespaces and start every process; returns once BGP sessions are up and the cluster is
        seeded (Services not created yet: `create_services` measures how fast they converge)."""
        self.options.logs.mkdir(parents=True, exist_ok=True)
        for old in self.options.logs.glob("*.log"):  # processes append; a log of an earlier run would mislead
            old.unlink()
        try:
            self._build_network()
            self._start_dns()
            self._start_cluster()
            for parts in self.nodes.values():
                self._start_workloads(parts)
                self.start_speaker(parts.bed.name)
            self._wait_sessions()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop everything the lab started, by PID, delete its namespaces and files (the logs stay)."""
        self._client = None
        self._control.close()
        try:
            if self.bind is not None:
                self.bind.stop()
        finally:
            if self._resolv_dir is not None:
                shutil.rmtree(self._resolv_dir, ignore_errors=True)
            if self.bed is not None:
                self.bed.close()
                state.release(self.bed.network.tag)

    @property
    def testbed(self) -> BGPBed:
        if self.bed is None:
            raise RuntimeError("the lab is not started")
        return self.bed

    @property
    def client_namespace(self) -> Namespace:
        return self.testbed.client

    @property
    def api_url(self) -> str:
        return f"http://{API_ADDRESS}:{API_PORT}"

    def _build_network(self) -> None:
        self.say(
            f"building {self.options.nodes} nodes, router ({self.options.router_summary()}), DNS, control and client "
            "namespaces"
        )
        resilient = self.options.router == "resilient"
        self.bed = BGPBed(
            self.options.nodes,
            ipv6=False,
            hold_time=self.options.hold_time,
            prefix=NETNS_PREFIX,
            router=self.options.router_daemon,
            kernel_table=RESILIENT_TABLE if resilient else None,
        )
        state.claim(self.bed.network.tag)  # `lab down` leaves a lab alone while its owner lives
        self.bed.start()
        if resilient:
            self._start_resilient()
        self._dns_namespace = self._attach("dns", _DNS_LINK, DNS_ADDRESS)
        self._control_namespace = self._attach("control", _CONTROL_LINK, API_ADDRESS)
        # `ip netns exec` bind-mounts /etc/netns/NAME/* over /etc: the client's resolver asks the lab's BIND
        self._resolv_dir = Path("/etc/netns") / self.client_namespace.name
        self._resolv_dir.mkdir(parents=True, exist_ok=True)
        (self._resolv_dir / "resolv.conf").write_text(f"nameserver {DNS_ADDRESS}\noptions timeout:1 attempts:2\n")
        for bed_node in self.bed.nodes:
            workdir = self.bed.directory / bed_node.name
            workdir.mkdir()
            self.nodes[bed_node.name] = NodeParts(bed_node, workdir)

    def _start_resilient(self) -> None:
        """The router's resilient ECMP, emulated: the agent mirrors what BIRD exports into RESILIENT_TABLE into
        resilient nexthop groups in main. Across veths a packet keeps the hash of the client socket that sent it,
        and the router's multipath hash takes that as it is; TCP draws a new one after a retransmission timeout,
        which would move the connection to another bucket. A real router hashes the headers, which stay: so does
        the hash with the client's `net.core.txrehash=0`."""
        bed = self.testbed
        bed.client.sysctl("net.core.txrehash", "0")
        argv = [
            sys.executable, "-m", "dnslb_lab.resilient", "--source-table", str(RESILIENT_TABLE),
            "--buckets", str(DEFAULT_BUCKETS), "--idle-timer", str(DEFAULT_IDLE_TIMER),
        ]  # fmt: skip
        agent = self.resilient = bed.spawn(
            bed.router, argv, log=self.options.logs / "resilient.log", name="the resilient ECMP agent"
        )
        agent.wait_ready(lambda: "emulating a router's resilient ECMP" in agent.read_log(), _START_TIMEOUT, "start")

    def _attach(self, role: str, link: str, address: IPv4Address) -> Namespace:
        """A namespace of its own on a /24 to the router."""
        bed = self.testbed
        namespace = bed.network.namespace(role)
        bed.network.veth(bed.router, role, namespace, "eth0")
        bed.router.add_address(role, IPv4Interface(f"{link}.1/24"))
        namespace.add_address("eth0", IPv4Interface(f"{address}/24"))
        namespace.add_route(ip_network("0.0.0.0/0"), IPv4Address(f"{link}.1"))
        return namespace

    def _start_dns(self) -> None:
        hosts = (cluster.OLD_HOST, *(cluster.WEB_HOSTS if self.options.legacy_records else ()))
        relative = [host.removesuffix(f".{cluster.ZONE}") for host in hosts]
        records = tuple(
            f"{name} {cluster.RECORD_TTL} IN A {n.bed.ipv4}" for name in relative for n in self.nodes.values()
        )
        assert self._dns_namespace is not None
        self.say(f"starting BIND for {cluster.ZONE} on {DNS_ADDRESS}:53")
        self.bind = BindServer(
            [ZoneSpec(cluster.ZONE, records=records)],
            self._tsig,
            address=str(DNS_ADDRESS),
            port=53,
            netns=self._dns_namespace,
        )
        self.bind.start()

    def _start_cluster(self) -> None:
        control = self._control_namespace
        assert control is not None
        self.say(f"starting the Kubernetes API double on {self.api_url} and dnslb controller")
        log = self.options.logs / "kubeapi.log"
        argv = [sys.executable, "-m", "dnslb_testkit.kubeapi", "--host", str(API_ADDRESS), "--port", str(API_PORT)]
        self.api = self.testbed.spawn(control, argv, log=log, name="the API double")
        self.api.wait_ready(lambda: self.api_url in self.api_log(), _START_TIMEOUT, "listen")
        self._control.enter_context(entered(control))
        self._client = api_client(server=self.api_url)
        self._seed()
        self.controller = self.testbed.spawn(
            control,
            [
                *_dnslb(), "controller", "--api-server", self.api_url, "--namespace", cluster.CONFIG_NAMESPACE,
                "--leader-elect=false", "--metrics-addr", f"{API_ADDRESS}:9090", "--resync-seconds", "30",
                "--log-format", "logfmt", "--source", "service,ingress",
            ],
            log=self.options.logs / "controller.log",
            name="dnslb controller",
        )  # fmt: skip
        ready = f"http://{API_ADDRESS}:9090/readyz"
        self.controller.wait_ready(lambda: _http_ok(ready), _START_TIMEOUT, "become ready")

    def api_log(self) -> str:
        return self.api.read_log() if self.api is not None else ""

    def _seed(self) -> None:
        core = self.core
        teams = {i.namespace for i in cluster.INGRESSES}
        for name in (cluster.CONFIG_NAMESPACE, *{s.namespace for s in cluster.SERVICES}, *sorted(teams)):
            core.create_namespace(cluster.namespace(name))
        for parts in self.nodes.values():
            body = cluster.node(parts.bed.name, parts.bed.ipv4)
            created = core.create_node(body)
            body["metadata"]["resourceVersion"] = created.metadata.resource_version
            core.replace_node_status(parts.bed.name, body)
        core.create_namespaced_secret(cluster.CONFIG_NAMESPACE, cluster.tsig_secret(self._tsig.secret))
        custom = k8s.CustomObjectsApi(self.kube)
        resources = cluster.config(
            pool=VIP_POOL,
            router=self.testbed.router_ipv4,
            router_asn=ROUTER_ASN,
            node_asn=NODE_ASN,
            hold_time=self.options.hold_time,
            dns_server=DNS_ADDRESS,
        )
        for resource in resources:
            plural = resource["kind"].lower() + ("es" if resource["kind"].endswith("s") else "s")
            custom.create_namespaced_custom_object("dnslb.io", "v1alpha1", cluster.CONFIG_NAMESPACE, plural, resource)

    @property
    def kube(self) -> k8s.ApiClient:
        if self._client is None:
            raise RuntimeError("the lab's cluster is not started")
        return self._client

    @property
    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.kube)

    # ------------------------------------------------------------------ what runs on the nodes

    def _start_workloads(self, parts: NodeParts) -> None:
        name = parts.bed.name
        (parts.workdir / "delay").write_text("0")
        parts.app = self._spawn_app(parts, "http", "127.0.0.1", APP_PORT)
        conf = parts.workdir / "nginx.conf"
        conf.write_text(_nginx_conf(parts.workdir))
        parts.nginx = self.testbed.spawn(
            parts.bed,
            ["nginx", "-c", str(conf), "-p", str(parts.workdir)],
            log=self.options.logs / f"nginx-{name}.log",
            name=f"NGINX on {name}",
        )
        parts.nginx.wait_ready(
            lambda: _listening(parts.bed.namespace, "127.0.0.1", cluster.HTTP_PORT), _START_TIMEOUT, "listen"
        )
        if not self.database_node:
            self.start_database(name)

    def _spawn_app(self, parts: NodeParts, kind: str, host: str, port: int) -> Process:
        name = parts.bed.name
        argv = [sys.executable, "-m", "dnslb_lab.app", kind, "--name", name, "--host", host, "--port", str(port),
                "--delay-file", str(parts.workdir / "delay")]  # fmt: skip
        log = self.options.logs / f"{kind}-{name}.log"
        process = self.testbed.spawn(parts.bed, argv, log=log, name=f"the {kind} app on {name}")
        process.wait_ready(lambda: "listening" in process.read_log(), _START_TIMEOUT, "listen")
        return process

    def start_database(self, name: str) -> None:
        """Run the database on node `name` (only there) and point its EndpointSlice at it."""
        for parts in self.nodes.values():
            if parts.database is not None:
                self.testbed.stop(parts.database)
                parts.database = None
        parts = self.nodes[name]
        parts.database = self._spawn_app(parts, "db", "0.0.0.0", cluster.DB_PORT)
        self.database_node = name
        if self._client is not None:
            self._apply_endpoints(cluster.DATABASE, [name])

    def _apply_endpoints(self, service: cluster.LabService, nodes: list[str]) -> None:
        discovery = k8s.DiscoveryV1Api(self.kube)
        body = cluster.endpoint_slice(service, nodes)
        try:
            discovery.create_namespaced_endpoint_slice(service.namespace, body)
        except ApiException as error:
            if error.status != 409:
                raise
            discovery.replace_namespaced_endpoint_slice(body["metadata"]["name"], service.namespace, body)

    def start_speaker(self, name: str, *, damping: bool | None = None) -> None:
        parts = self.nodes[name]
        damping = self.options.damping if damping is None else damping
        argv = [
            *_dnslb(), "speaker", "--node-name", name, "--api-server", self.api_url,
            "--namespace", cluster.CONFIG_NAMESPACE, "--workdir", str(parts.workdir / "speaker"),
            "--metrics-addr", "127.0.0.1:9091", "--health-url", "", "--drain-seconds", "2", "--log-format", "logfmt",
            f"--damping={'true' if damping else 'false'}", "--damping-half-life", f"{self.options.damping_half_life:g}",
        ]  # fmt: skip
        parts.speaker = self.testbed.spawn(parts.bed, argv, log=self.options.logs / f"speaker-{name}.log")

    def stop_speaker(self, name: str) -> int:
        """SIGTERM: on a cordoned node the speaker drains (withdraws, waits its drain time, exits); on a node that
        could carry traffic it exits at once and graceful restart keeps its paths at the router."""
        parts = self.nodes[name]
        if parts.speaker is None:
            return 0
        process, parts.speaker = parts.speaker, None
        return self.testbed.network.stop(process, timeout=15.0)

    def _wait_sessions(self) -> None:
        expected = {parts.bed.bird_v4 for parts in self.nodes.values()}
        self.say(f"waiting for {len(expected)} BGP sessions at the router")

        def established() -> bool:
            for parts in self.nodes.values():
                if parts.speaker is not None and not parts.speaker.alive():
                    raise RuntimeError(f"the speaker on {parts.bed.name} exited; see {parts.speaker.log}")
            if self.resilient is not None and not self.resilient.alive():
                raise RuntimeError(f"the resilient ECMP agent exited; see {self.resilient.log}")
            return expected <= self.testbed.routing.established()

        wait_for(established, _START_TIMEOUT, f"BGP sessions {sorted(expected)} at the router", interval=0.1)

    # ------------------------------------------------------------------ Services and convergence

    def create_services(self, *, publish_web: bool = True) -> dict[str, Measured]:
        """Create the example Services; measure Service created → VIP in status → paths at the router (BIRD's or
        FRR's table) → name in BIND
        (`publish_web=False`: the web names belong to the old world and are not expected to change)."""
        measured: dict[str, Measured] = {}
        for service in cluster.SERVICES:
            created = time.monotonic()
            self.core.create_namespaced_service(service.namespace, cluster.service(service))
            if service.local:
                self._apply_endpoints(service, [self.database_node])
            vip = self._wait_vip(service)
            at_status = time.monotonic() - created
            self.vips[service.name] = vip
            for parts in self.nodes.values():  # kube-proxy's part: every node accepts the VIP
                self.testbed.add_vip(parts.bed, vip)
            announcers = {self.database_node} if service.local else set(self.nodes)
            routed = self.wait(self.paths_are(vip, announcers), 30.0)
            label = f"{service.namespace}/{service.name}"
            measured[f"{label} created → VIP in status"] = Measured(at_status, str(vip))
            measured[f"{label} created → {len(announcers)} path(s) in {self.router_name}"] = _since(created, routed)
            if service is cluster.INGRESS:
                measured.update(self._create_ingresses(vip, created, publish_web=publish_web))
            else:
                answered = self.wait(self.answers(service.hostnames[0], (str(vip),)), 30.0)
                measured[f"{label} created → {service.hostnames[0]} answered by BIND"] = _since(created, answered)
            self.say(f"{label}: VIP {vip}, hostnames {', '.join(service.hostnames) or '(none)'}")
        return measured

    def _create_ingresses(self, vip: IPv4Address, created: float, *, publish_web: bool) -> dict[str, Measured]:
        """Each team's Ingress, and its status as ingress-nginx writes it (the lab plays the ingress controller):
        the web names come from these, not from the ingress controller's Service."""
        networking = k8s.NetworkingV1Api(self.kube)
        measured = {}
        for team in cluster.INGRESSES:
            networking.create_namespaced_ingress(team.namespace, cluster.ingress(team))
            networking.patch_namespaced_ingress_status(team.name, team.namespace, cluster.ingress_status(vip))
            self.say(f"Ingress {team.namespace}/{team.name}: {team.host} → {vip} (status, as ingress-nginx writes it)")
        if publish_web:
            team = cluster.INGRESSES[0]
            answered = self.wait(self.answers(team.host, (str(vip),)), 30.0)
            label = f"ingress-nginx/ingress-nginx created → {team.host} (Ingress {team.namespace}/{team.name})"
            measured[f"{label} answered by BIND"] = _since(created, answered)
        return measured

    def _wait_vip(self, service: cluster.LabService) -> IPv4Address:
        def vip() -> IPv4Address | None:
            status = self.core.read_namespaced_service_status(service.name, service.namespace).status
            ingress = status.load_balancer.ingress if status and status.load_balancer else None
            return IPv4Address(ingress[0].ip) if ingress else None

        return wait_for(vip, 30.0, f"a VIP for {service.namespace}/{service.name} (see controller.log)", interval=_POLL)

    @property
    def router_name(self) -> str:
        """Whose routing table `paths` reads, as convergence measurements name it: "BIRD" or "FRR"."""
        return "FRR" if self.options.router_daemon == "frr" else "BIRD"

    def paths(self, vip: IPv4Address) -> set[str]:
        """The nodes the router (BIRD or FRR) has a path from for `vip`. Each daemon names a path by its session
        (BIRD's protocol, FRR's neighbour description: the bed's `node1_v4`); a session the lab does not know keeps
        that name."""
        sessions = {parts.bed.bird_v4: name for name, parts in self.nodes.items()}
        return {sessions.get(route.protocol, route.protocol) for route in self.testbed.routing.routes(host_prefix(vip))}

    def paths_are(self, vip: IPv4Address, nodes: set[str]) -> Callable[[], bool]:
        return lambda: self.paths(vip) == nodes

    def answers(self, hostname: str, expected: tuple[str, ...]) -> Callable[[], bool]:
        return lambda: self.dns_answer(hostname) == expected

    def dns_answer(self, hostname: str) -> tuple[str, ...]:
        return resolve(self.client_namespace, hostname)

    def wait(self, condition: Callable[[], bool], timeout: float) -> float | None:
        """Poll `condition` until true; the monotonic time it became true, or None after `timeout`."""
        return time.monotonic() if poll_until(condition, timeout, interval=_POLL) else None

    # ------------------------------------------------------------------ chaos

    def cut(self, name: str) -> None:
        """The node goes dark: its link to the router goes down (only BGP's hold timer notices)."""
        self.testbed.cut(self.nodes[name].bed)
        self.nodes[name].down = True

    def restore(self, name: str) -> None:
        self.testbed.restore(self.nodes[name].bed)
        self.nodes[name].down = False

    def set_ready(self, name: str, ready: bool) -> None:
        """What the kubelet (or, for a dead node, the node lifecycle controller) writes."""
        self.core.patch_node_status(name, {"status": {"conditions": [cluster.ready_condition(ready)]}})

    def set_cordoned(self, name: str, cordoned: bool) -> None:
        """What `kubectl cordon` / `uncordon` writes."""
        self.core.patch_node(name, {"spec": {"unschedulable": True if cordoned else None}})

    def set_keepalive(self, name: str, keepalive: bool) -> None:
        """Keep-alive on or off at the node's ingress (NGINX reloaded). Off, every response says `Connection: close`
        and idle connections are closed: what an ingress does when it drains, so that its clients reconnect, while
        the node still has its path, instead of being cut when the path goes."""
        parts = self.nodes[name]
        if parts.nginx is None:
            return
        (parts.workdir / "nginx.conf").write_text(_nginx_conf(parts.workdir, keepalive=keepalive))
        parts.nginx.send_signal(signal.SIGHUP)

    def client_connections(self, name: str) -> int:
        """Established TCP connections to the node's ingress (:80), as `ss` counts them in its namespace."""
        result = self.nodes[name].bed.namespace.run(
            ["ss", "-Htn", "state", "established", f"( sport = :{cluster.HTTP_PORT} )"], check=False
        )
        return sum(1 for line in result.stdout.splitlines() if line.strip())

    def set_slow(self, name: str, slow: bool, *, delay: float = 0.2, rate: str = "2mbit") -> None:
        """A heavily loaded node: its uplink rate-limited (tc tbf; these kernels have no netem) and its app slower."""
        parts = self.nodes[name]
        interface = parts.bed.interface
        if slow:
            parts.bed.namespace.run(
                [
                    "tc",
                    "qdisc",
                    "replace",
                    "dev",
                    interface,
                    "root",
                    "tbf",
                    "rate",
                    rate,
                    "burst",
                    "16kb",
                    "latency",
                    "200ms",
                ]
            )
        else:
            parts.bed.namespace.run(["tc", "qdisc", "del", "dev", interface, "root"], check=False)
        (parts.workdir / "delay").write_text(f"{delay if slow else 0:g}")
        parts.slow = slow

    def kubectl_patch_provider(self, spec: dict[str, Any]) -> None:
        custom = k8s.CustomObjectsApi(self.kube)
        custom.patch_namespaced_custom_object(
            "dnslb.io", "v1alpha1", cluster.CONFIG_NAMESPACE, "dnsproviders", cluster.DNS_PROVIDER, {"spec": spec}
        )

    def dnslb(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a `dnslb` command from the control namespace against the lab's API."""
        control = self._control_namespace
        assert control is not None
        return control.run([*_dnslb(), *args, "--api-server", self.api_url], check=False, timeout=120.0)

    def legacy_answer(self) -> tuple[str, ...]:
        return tuple(sorted(str(parts.bed.ipv4) for parts in self.nodes.values()))

    def node_addresses(self) -> dict[str, str]:
        return {str(parts.bed.ipv4): name for name, parts in self.nodes.items()}

    def processes(self) -> Iterator[Process]:
        yield from self.testbed.network.processes


def resolve(client: Namespace, hostname: str) -> tuple[str, ...]:
    """What the lab's BIND answers for `hostname`'s A record, asked from the client namespace (sorted; () when it
    gives no answer)."""
    query = dns.message.make_query(hostname, dns.rdatatype.A)
    try:
        with entered(client):
            response = dns.query.udp(query, str(DNS_ADDRESS), port=53, timeout=1.0)
    except (OSError, dns.exception.DNSException):
        return ()
    return tuple(sorted(r.to_text() for rrset in response.answer for r in rrset))


def _dnslb() -> list[str]:
    return [sys.executable, "-m", "dnslb.app.cli"]


def _since(start: float, at: float | None) -> Measured:
    return Measured(None, "not reached") if at is None else Measured(at - start)


def _listening(namespace: Namespace, host: str, port: int) -> bool:
    try:
        with entered(namespace), socket.create_connection((host, port), timeout=0.5):
            return True
    except (OSError, NetnsError):
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _nginx_conf(workdir: Path, *, keepalive: bool = True) -> str:
    """NGINX as the ingress data plane: every address of the node (VIPs included) on :80, proxying to the app;
    `keepalive=False` is the ingress draining: every response closes its connection."""
    keepalive_timeout = "15s" if keepalive else "0"
    temp = "\n".join(
        f"  {kind}_temp_path {workdir}/nginx-{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
daemon off;
master_process on;
user root root;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  # clients come back through DNS now and then, as with real traffic (nginx's default is 1000 requests, 75 s): a
  # migration or a failover reaches users who keep one connection open only when they reconnect
  keepalive_requests 50;
  keepalive_timeout {keepalive_timeout};
{temp}
  upstream app {{ server 127.0.0.1:{APP_PORT}; keepalive 64; }}
  server {{
    listen {cluster.HTTP_PORT} default_server;
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 1s;
    }}
  }}
}}
"""
