"""`dnslb status`: what dnslb made of each LoadBalancer Service, and of the cluster, read from the Kubernetes API.

Read-only. The reading is thin (`read`: raw JSON objects into a `Snapshot`); the report is pure (`build_report`) and
so is its rendering (`render`): a Service's VIPs, pool and hostnames with their DNS state (the controller's
`dnslb.io/DNSPublished` condition), and for each VIP the nodes that announce it — with the peers that acked — and
every other node with its reason (its speaker's NodeAnnouncement); then the AddressPools, BGPPeers and DNSProviders.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi, NetworkingV1Api
from kubernetes.client.rest import ApiException

from dnslb.adapters.kube.client import ClusterConfigError, api_client
from dnslb.app.cluster_sources import DNSENDPOINT_API, GATEWAY_GROUP, ROUTE_VERSIONS
from dnslb.core.annotations import ALLOCATED_FROM_POOL
from dnslb.core.bgp.announcements import from_status
from dnslb.core.bgp.status import DAMPED, NodeAnnouncements
from dnslb.core.config.resources import GROUP, VERSION, AddressPool, BGPPeer, DNSProvider, NodeAnnouncement
from dnslb.core.dns import gate
from dnslb.core.dns.hostnames import service_hostnames
from dnslb.core.model import ShapeError, service_view
from dnslb.core.objects import ObjectKey
from dnslb.core.sources.read import SERVICE, SOURCES, SourceObjects, SourceSettings, read_sources

EXIT_OK = 0
EXIT_API = 1  # the API could not be reached or read
EXIT_USAGE = 2  # bad arguments, a kubeconfig that cannot be used, or the named Service not found
TIMEOUT = (5.0, 15.0)  # (connect, read) seconds of each request (urllib3 tries a request up to 4 times)
PAGE = 500  # objects per list request
CRDS_HINT = " (are the dnslb CRDs installed?)"

UNKNOWN = gate.UNKNOWN
NOT_REPORTED = "the controller has not reported"
NO_STATUS, NO_STATUS_MESSAGE = "NoStatus", "no status from its speaker"
NOT_KNOWN, NOT_KNOWN_MESSAGE = "NotKnown", "knows nothing of this VIP"


# ---- what was read ----------------------------------------------------------------------------------------------


NO_OBJECTS = SourceObjects()


@dataclass(frozen=True)
class Snapshot:
    """The objects read, as the API returned them. The cluster-wide kinds are None when one Service was named."""

    services: tuple[Mapping[str, Any], ...]
    nodes: tuple[str, ...]
    announcements: tuple[Mapping[str, Any], ...]  # NodeAnnouncement objects
    pools: tuple[Mapping[str, Any], ...] | None = None
    peers: tuple[Mapping[str, Any], ...] | None = None
    providers: tuple[Mapping[str, Any], ...] | None = None
    sources: SourceObjects = NO_OBJECTS  # Ingresses, routes with their Gateways, DNSEndpoints: those readable


# ---- the report -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostname:
    name: str
    state: str
    why: str = ""


@dataclass(frozen=True)
class Announcing:
    node: str
    peers: tuple[str, ...]


@dataclass(frozen=True)
class NotAnnouncing:
    node: str
    reason: str
    message: str


@dataclass(frozen=True)
class VIPNodes:
    vip: str
    announcing: tuple[Announcing, ...]
    not_announcing: tuple[NotAnnouncing, ...]


@dataclass(frozen=True)
class ServiceReport:
    namespace: str
    name: str
    vips: tuple[str, ...]
    pool: str | None
    hostnames: tuple[Hostname, ...]
    nodes: tuple[VIPNodes, ...]
    notes: tuple[str, ...] = ()  # what could not be read, or is not as expected
    # names other objects point at its VIPs: "www.example.test (Ingress team-a/shop)"
    through: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    status: str
    reason: str
    message: str
    last_transition: str


@dataclass(frozen=True)
class PoolReport:
    name: str
    in_use: int | None
    total: int | None
    ready: Condition | None


@dataclass(frozen=True)
class NodeSession:
    node: str
    state: str
    since: str  # "" when the speaker saw no change yet
    last_error: str


@dataclass(frozen=True)
class PeerReport:
    name: str
    sessions: str | None  # "2/3": nodes Established of the nodes that peer, as the controller counted
    nodes: tuple[NodeSession, ...]


@dataclass(frozen=True)
class ProviderReport:
    name: str
    synced: Condition | None
    publish_when: str = (
        "Announced"  # the DNS gate: Announced (a name waits for a node to announce its VIP) or Allocated
    )


@dataclass(frozen=True)
class Report:
    services: tuple[ServiceReport, ...]
    pools: tuple[PoolReport, ...] | None = None
    peers: tuple[PeerReport, ...] | None = None
    providers: tuple[ProviderReport, ...] | None = None


def build_report(snapshot: Snapshot) -> Report:
    parsed = announcements_by_node(snapshot.announcements)
    nodes = tuple(sorted(set(snapshot.nodes) | set(parsed)))
    through = names_through(snapshot.sources)
    services = tuple(sorted((service_report(s, nodes, parsed, through) for s in snapshot.services), key=_service_order))
    return Report(
        services,
        None if snapshot.pools is None else tuple(pool_report(p) for p in _by_name(snapshot.pools)),
        None if snapshot.peers is None else tuple(peer_report(p, parsed) for p in _by_name(snapshot.peers)),
        None if snapshot.providers is None else tuple(provider_report(p) for p in _by_name(snapshot.providers)),
    )


def announcements_by_node(objects: Iterable[Mapping[str, Any]]) -> dict[str, NodeAnnouncements]:
    """Each NodeAnnouncement's status, by node (the object is named after its node)."""
    found = {}
    for obj in objects:
        node = _name_of(obj)
        if node:
            found[node] = from_status(node, obj.get("status"))
    return found


def names_through(objects: SourceObjects) -> dict[str, list[str]]:
    """By address: the hostnames the source objects want there, each with its object, as the controller reads them
    with every source on."""
    read = read_sources(objects, SourceSettings(enabled=frozenset(SOURCES) - {SERVICE}))
    found: dict[str, list[str]] = {}
    for record in read.records:
        for address in record.addresses:
            found.setdefault(address, []).append(f"{record.hostname} ({record.owner})")
    return found


def service_report(
    obj: Mapping[str, Any],
    nodes: Sequence[str],
    announcements: Mapping[str, NodeAnnouncements],
    through: Mapping[str, Sequence[str]] | None = None,
) -> ServiceReport:
    metadata = _dict(obj.get("metadata"))
    namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
    annotations = _dict(metadata.get("annotations"))
    pool = annotations.get(ALLOCATED_FROM_POOL)
    pool = pool if isinstance(pool, str) and pool else None
    try:
        view = service_view(obj)
    except ShapeError as exc:
        return ServiceReport(namespace, name, (), pool, (), (), (f"cannot be read: {exc}",))
    valid, problems = service_hostnames(view)
    notes = [f"hostname annotation: {p.message}" for p in problems]
    if view.type != "LoadBalancer":
        notes.insert(0, f"type {view.type}, not LoadBalancer: dnslb gives it nothing")
    hostnames = hostname_states(valid, _condition(_dict(obj.get("status")).get("conditions"), gate.CONDITION))
    vips = tuple(vip_nodes(vip, nodes, announcements) for vip in view.ingress_ips)
    names = tuple(sorted({n for vip in view.ingress_ips for n in (through or {}).get(vip, ())}))
    return ServiceReport(namespace, name, view.ingress_ips, pool, hostnames, vips, tuple(notes), names)


def hostname_states(annotated: Sequence[str], published: Mapping[str, Any] | None) -> tuple[Hostname, ...]:
    """What the controller reported of each hostname, then the annotated ones it did not report (yet) as unknown."""
    message = published.get("message") if published is not None else None
    reported = parse_dns_published(message) if isinstance(message, str) else ()
    seen = {h.name for h in reported}
    return reported + tuple(Hostname(n, UNKNOWN, NOT_REPORTED) for n in annotated if n not in seen)


def parse_dns_published(message: str) -> tuple[Hostname, ...]:
    """The DNSPublished condition's message (see `gate.read_message`): a line that does not parse is kept whole, as
    the `why` of an unknown state."""
    return tuple(Hostname(h.hostname, h.state, h.why) for h in gate.read_message(message))


def vip_nodes(vip: str, nodes: Sequence[str], announcements: Mapping[str, NodeAnnouncements]) -> VIPNodes:
    """The nodes that announce `vip` (with the peers that acked it) and every other node with why not."""
    announcing: list[Announcing] = []
    not_announcing: list[NotAnnouncing] = []
    for node in nodes:
        node_status = announcements.get(node)
        if node_status is None:
            not_announcing.append(NotAnnouncing(node, NO_STATUS, NO_STATUS_MESSAGE))
        elif vip in node_status.announced_vips():
            announcing.append(Announcing(node, _acked_by(node_status, vip)))
        else:
            reason, message = node_status.why_not(vip) or (NOT_KNOWN, NOT_KNOWN_MESSAGE)
            not_announcing.append(NotAnnouncing(node, reason, _with_damping(node_status, reason, message)))
    return VIPNodes(vip, tuple(announcing), tuple(not_announcing))


def _acked_by(node_status: NodeAnnouncements, vip: str) -> tuple[str, ...]:
    return tuple(sorted({p for group in node_status.announced if vip in group.vips for p in group.peers}))


def _with_damping(node_status: NodeAnnouncements, reason: str, message: str) -> str:
    damping = node_status.damping
    if reason != DAMPED or damping is None:
        return message
    until = f", may announce again at {_time(damping.reuse_at)}" if damping.reuse_at is not None else ""
    return f"{message} (penalty {round(damping.penalty)}{until})"


def pool_report(obj: Mapping[str, Any]) -> PoolReport:
    status = _dict(obj.get("status"))
    return PoolReport(
        _name_of(obj), _count(status.get("inUse")), _count(status.get("total")), _read_condition(status, "Ready")
    )


def peer_report(obj: Mapping[str, Any], announcements: Mapping[str, NodeAnnouncements]) -> PeerReport:
    name = _name_of(obj)
    sessions = _dict(obj.get("status")).get("sessions")
    found = tuple(
        NodeSession(node, s.state, _time(s.since) if s.since is not None else "", s.last_error)
        for node, node_status in sorted(announcements.items())
        for s in node_status.sessions
        if s.peer == name
    )
    return PeerReport(name, sessions if isinstance(sessions, str) else None, found)


def provider_report(obj: Mapping[str, Any]) -> ProviderReport:
    when = _dict(obj.get("spec")).get("publishWhen")
    gate_setting = when if when in ("Announced", "Allocated") else "Announced"
    return ProviderReport(_name_of(obj), _read_condition(_dict(obj.get("status")), "Synced"), gate_setting)


def _read_condition(status: Mapping[str, Any], type_: str) -> Condition | None:
    found = _condition(status.get("conditions"), type_)
    if found is None:
        return None
    text = [found.get(k) for k in ("status", "reason", "message", "lastTransitionTime")]
    return Condition(*(t if isinstance(t, str) else "" for t in text))


def _condition(conditions: object, type_: str) -> Mapping[str, Any] | None:
    for entry in conditions if isinstance(conditions, list) else ():
        if isinstance(entry, dict) and entry.get("type") == type_:
            return entry
    return None


def _service_order(service: ServiceReport) -> tuple[str, str]:
    return service.namespace, service.name


def _by_name(objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(objects, key=_name_of)


def _name_of(obj: Mapping[str, Any]) -> str:
    name = _dict(obj.get("metadata")).get("name")
    return name if isinstance(name, str) else ""


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- rendering --------------------------------------------------------------------------------------------------


def render(report: Report, output: str) -> str:
    return json.dumps(to_json(report), indent=2) if output == "json" else render_table(report)


def to_json(report: Report) -> dict[str, Any]:
    """The report as a JSON document; the cluster-wide sections are null when one Service was asked for."""
    return {
        "services": [_service_json(s) for s in report.services],
        "pools": None if report.pools is None else [_pool_json(p) for p in report.pools],
        "peers": None if report.peers is None else [_peer_json(p) for p in report.peers],
        "providers": None if report.providers is None else [_provider_json(p) for p in report.providers],
    }


def _service_json(s: ServiceReport) -> dict[str, Any]:
    return {
        "namespace": s.namespace,
        "name": s.name,
        "vips": list(s.vips),
        "pool": s.pool,
        "hostnames": [{"name": h.name, "state": h.state, "why": h.why} for h in s.hostnames],
        "nodes": [
            {
                "vip": v.vip,
                "announcing": [{"node": a.node, "peers": list(a.peers)} for a in v.announcing],
                "notAnnouncing": [{"node": n.node, "reason": n.reason, "message": n.message} for n in v.not_announcing],
            }
            for v in s.nodes
        ],
        "notes": list(s.notes),
        "through": list(s.through),
    }


def _condition_json(c: Condition | None) -> dict[str, str] | None:
    if c is None:
        return None
    return {"status": c.status, "reason": c.reason, "message": c.message, "lastTransitionTime": c.last_transition}


def _pool_json(p: PoolReport) -> dict[str, Any]:
    return {"name": p.name, "inUse": p.in_use, "total": p.total, "ready": _condition_json(p.ready)}


def _peer_json(p: PeerReport) -> dict[str, Any]:
    nodes = [{"node": n.node, "state": n.state, "since": n.since, "lastError": n.last_error} for n in p.nodes]
    return {"name": p.name, "sessions": p.sessions, "nodes": nodes}


def _provider_json(p: ProviderReport) -> dict[str, Any]:
    return {"name": p.name, "publishWhen": p.publish_when, "synced": _condition_json(p.synced)}


def render_table(report: Report) -> str:
    blocks = [_service_table(s) for s in report.services] or ["No LoadBalancer Services."]
    if report.pools is not None:
        blocks.append(_section("AddressPools", [_pool_line(p) for p in report.pools]))
    if report.peers is not None:
        blocks.append(_section("BGPPeers", [line for p in report.peers for line in _peer_lines(p)]))
    if report.providers is not None:
        blocks.append(_section("DNSProviders", [_provider_line(p) for p in report.providers]))
    return "\n\n".join(blocks)


def _section(title: str, lines: list[str]) -> str:
    return "\n".join([title + ":", *(lines or ["  none"])])


def _service_table(s: ServiceReport) -> str:
    lines = [f"Service {s.namespace}/{s.name}"]
    lines += _field("VIPs", [", ".join(s.vips) or "none"])
    lines += _field("Pool", [s.pool or "none"])
    lines += _field("Hostnames", [_hostname_line(h) for h in s.hostnames] or ["none"])
    lines += _field("Through", list(s.through)) if s.through else []
    for v in s.nodes:
        lines += _field(v.vip, _vip_lines(v))
    lines += _field("Notes", list(s.notes)) if s.notes else []
    return "\n".join(lines)


def _field(label: str, values: Sequence[str]) -> list[str]:
    """`  Label:  first` and the rest aligned under it, as `kubectl describe` does."""
    head = f"  {label + ':':<11} "
    return [(head if i == 0 else " " * len(head)) + value for i, value in enumerate(values)]


def _hostname_line(h: Hostname) -> str:
    text = f"{h.name}  {h.state}" if h.name else h.state
    return f"{text}: {h.why}" if h.why else text


def _vip_lines(v: VIPNodes) -> list[str]:
    announced = ", ".join(f"{a.node} ({', '.join(a.peers) or 'no peer'})" for a in v.announcing)
    lines = [f"announced by {announced}" if announced else "announced by no node"]
    groups: dict[tuple[str, str], list[str]] = {}
    for n in v.not_announcing:  # nodes with the same reason and message share a line
        groups.setdefault((n.reason, n.message), []).append(n.node)
    lines += [f"not by {', '.join(nodes)}: {reason}: {message}" for (reason, message), nodes in groups.items()]
    return lines


def _condition_text(c: Condition | None, label: str) -> str:
    if c is None:
        return f"{label} not reported"
    why = f" {c.reason}" if c.reason else ""
    since = f" since {c.last_transition}" if c.last_transition else ""
    message = f": {c.message}" if c.message else ""
    return f"{label} {c.status}{why}{since}{message}"


def _pool_line(p: PoolReport) -> str:
    used = "?" if p.in_use is None else str(p.in_use)
    total = "?" if p.total is None else str(p.total)
    return f"  {p.name}  {used}/{total} in use  {_condition_text(p.ready, 'Ready')}"


def _peer_lines(p: PeerReport) -> list[str]:
    lines = [f"  {p.name}  sessions {p.sessions or 'not reported'}"]
    for n in p.nodes:
        since = f" since {n.since}" if n.since else ""
        error = f": {n.last_error}" if n.last_error else ""
        lines.append(f"    {n.node}  {n.state}{since}{error}")
    return lines


def _provider_line(p: ProviderReport) -> str:
    return f"  {p.name}  publishWhen {p.publish_when}  {_condition_text(p.synced, 'Synced')}"


# ---- reading ----------------------------------------------------------------------------------------------------


class Unreadable(Exception):
    """The API could not be reached or read; the message is one line."""


class NotFound(Exception):
    """The Service asked for does not exist."""


class Reader:
    """The few reads `dnslb status` makes: every list paged, every request with a timeout, raw JSON back."""

    def __init__(self, api: ApiClient, namespace: str) -> None:
        self._core, self._custom = CoreV1Api(api), CustomObjectsApi(api)
        self._namespace = namespace
        self._where = api.configuration.host

    def service(self, namespace: str, name: str) -> Mapping[str, Any]:
        what = f"read Service {namespace}/{name}"
        try:
            return self._call(what, self._core.read_namespaced_service, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise NotFound(f"Service {namespace}/{name} not found") from None
            raise self._unreadable(what, exc) from None

    def services(self) -> list[Mapping[str, Any]]:
        return self._list("list Services", self._core.list_service_for_all_namespaces)

    def node_names(self) -> list[str]:
        return [_name_of(n) for n in self._list("list Nodes", self._core.list_node)]

    def sources(self) -> SourceObjects:
        """The source objects this user may list; a kind not installed (404) or not allowed (403) is left out."""
        networking = NetworkingV1Api(self._core.api_client)
        ingresses = self._optional("list Ingresses", networking.list_ingress_for_all_namespaces)
        lister = self._custom.list_cluster_custom_object
        routes = {
            kind: self._optional(f"list {kind}s", lister, GATEWAY_GROUP, version, kind.lower() + "s")
            for kind, version in ROUTE_VERSIONS.items()
        }
        gateways = (
            self._optional("list Gateways", lister, GATEWAY_GROUP, "v1", "gateways") if any(routes.values()) else []
        )
        endpoints = self._optional("list DNSEndpoints", lister, *DNSENDPOINT_API)
        return SourceObjects(
            ingresses=ingresses,
            routes=routes,
            gateways={
                ObjectKey(str(_dict(g.get("metadata")).get("namespace") or ""), _name_of(g)): g for g in gateways
            },
            dnsendpoints=endpoints,
        )

    def _optional(self, what: str, lister: Callable[..., Any], *args: str) -> list[Mapping[str, Any]]:
        return self._list(what, lister, *args, optional=True)

    def custom(self, kind: str, plural: str) -> list[Mapping[str, Any]]:
        """The objects of one dnslb kind in our namespace; a 404 here is most likely a cluster without our CRDs."""
        lister = self._custom.list_namespaced_custom_object
        what = f"list {kind}s in {self._namespace}"
        return self._list(what, lister, GROUP, VERSION, self._namespace, plural, hint=CRDS_HINT)

    def _list(
        self, what: str, lister: Callable[..., Any], *args: str, hint: str = "", optional: bool = False
    ) -> list[Mapping[str, Any]]:
        """Every page; `optional`: a kind not installed (404) or not allowed (403) reads as none."""
        items: list[Mapping[str, Any]] = []
        token = ""
        while True:
            more = {"_continue": token} if token else {}
            try:
                page = self._call(what, lister, *args, limit=PAGE, **more)
            except ApiException as exc:
                if optional and exc.status in (403, 404):
                    return []
                raise self._unreadable(what, exc, hint if exc.status == 404 else "") from None
            items += [i for i in page.get("items") or [] if isinstance(i, dict)]
            token = _dict(page.get("metadata")).get("continue") or ""
            if not token:
                return items

    def _call(self, what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Mapping[str, Any]:
        """One request's JSON body; ApiException passes (the caller knows which statuses it expects)."""
        try:
            response = call(*args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs)
            body = json.loads(response.data)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise self._unreadable(what, exc) from None
        if not isinstance(body, dict):
            raise Unreadable(f"cannot {what} at {self._where}: the answer is not a JSON object")
        return body

    def _unreadable(self, what: str, exc: Exception, hint: str = "") -> Unreadable:
        return Unreadable(f"cannot {what} at {self._where}: {describe(exc)}{hint}")


def describe(exc: BaseException) -> str:
    """An API or connection error in one line, without urllib3's wrapping."""
    if isinstance(exc, ApiException):
        message = _api_message(exc.body)
        return f"HTTP {exc.status} {exc.reason}" + (f": {message}" if message else "")
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    text = re.sub(r"^\w+\(host=[^)]*\): ", "", str(exc)) or type(exc).__name__
    return " ".join(text.split())


def _api_message(body: object) -> str:
    try:
        message = json.loads(body).get("message") if isinstance(body, str | bytes) else None
    except (ValueError, AttributeError):
        return ""
    return " ".join(message.split()) if isinstance(message, str) else ""


def read(reader: Reader, service: tuple[str, str] | None) -> Snapshot:
    """The Service asked for (or every LoadBalancer Service), the nodes and what their speakers report; and with
    no Service named, the cluster-wide config."""
    if service is not None:
        services = [reader.service(*service)]
    else:
        services = [s for s in reader.services() if _dict(s.get("spec")).get("type") == "LoadBalancer"]
    snapshot = Snapshot(
        tuple(services),
        tuple(reader.node_names()),
        tuple(reader.custom(NodeAnnouncement.KIND, NodeAnnouncement.PLURAL)),
        sources=reader.sources(),
    )
    if service is not None:
        return snapshot
    return replace(
        snapshot,
        pools=tuple(reader.custom(AddressPool.KIND, AddressPool.PLURAL)),
        peers=tuple(reader.custom(BGPPeer.KIND, BGPPeer.PLURAL)),
        providers=tuple(reader.custom(DNSProvider.KIND, DNSProvider.PLURAL)),
    )


# ---- the command ------------------------------------------------------------------------------------------------

DESCRIPTION = (
    "Show what dnslb made of each LoadBalancer Service: its VIPs, pool and hostnames with their DNS state (as the "
    "controller reported it), the names Ingresses, routes and DNSEndpoints point at its VIPs, and for each VIP the "
    "nodes that announce it, with the BGP peers that acked, and every "
    "other node with why not (as its speaker reported it). With no Service named, then the AddressPools (addresses "
    "in use), the BGPPeers (each node's session) and the DNSProviders (their Synced condition). Reads the "
    "Kubernetes API only. Exit code: 0 shown; 1 the API could not be reached or read; 2 invalid arguments, a "
    "kubeconfig that cannot be used, or the Service named does not exist."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "service",
        nargs="?",
        metavar="NAMESPACE/SERVICE",
        help="only this Service, without the cluster-wide sections (default: every LoadBalancer Service, then them)",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then ~/.kube/config)")
    parser.add_argument(
        "--api-server", metavar="URL", help="talk to this API server URL without credentials (default: none)"
    )
    parser.add_argument(
        "--namespace",
        default="dnslb-system",
        help="where the dnslb config resources and NodeAnnouncements live (default dnslb-system)",
    )
    parser.add_argument(
        "-o", "--output", choices=("table", "json"), default="table", help="output format (default table)"
    )


def run(args: argparse.Namespace) -> int:
    if not args.namespace:
        return _fail("--namespace must not be empty", EXIT_USAGE)
    try:
        service = parse_service(args.service)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        api = api_client(args.kubeconfig, args.api_server, timeout=TIMEOUT)
    except ClusterConfigError as exc:  # no cluster configured, or a kubeconfig that cannot be used: says which
        return _fail(str(exc), EXIT_USAGE)
    try:
        snapshot = read(Reader(api, args.namespace), service)
    except NotFound as exc:
        return _fail(str(exc), EXIT_USAGE)
    except Unreadable as exc:
        return _fail(str(exc), EXIT_API)
    finally:
        api.close()
    print(render(build_report(snapshot), args.output))
    return EXIT_OK


def parse_service(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    namespace, slash, name = text.partition("/")
    if not (slash and namespace and name) or "/" in name:
        raise ValueError(f"'{text}' is not NAMESPACE/SERVICE")
    return namespace, name


def _fail(message: str, code: int) -> int:
    print(f"dnslb status: {' '.join(message.split())}", file=sys.stderr)
    return code
