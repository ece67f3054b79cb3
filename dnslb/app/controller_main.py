"""Running `dnslb controller`: client, logs, metrics and health, leader election, signals, exit codes."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from functools import partial
from types import FrameType
from typing import Any

from kubernetes.client import ApiClient, CoordinationV1Api, CoreV1Api, CustomObjectsApi
from prometheus_client import CollectorRegistry

from dnslb.adapters.dnssync.loop import DNSLoop, Fields, Hooks
from dnslb.adapters.dnssync.plugins import create as create_provider
from dnslb.adapters.dnssync.sync import Fenced, Health
from dnslb.adapters.kube.client import ClusterConfigError, api_client
from dnslb.adapters.kube.dnsstate import TakeoverStore, read_secret
from dnslb.adapters.kube.informer import Informer
from dnslb.adapters.kube.leader import LeaderElector
from dnslb.adapters.kube.writer import CONTROLLER, NotLeader, Recorder, StatusWriter
from dnslb.app.cluster_sources import ClusterSources
from dnslb.app.controller import Controller, Metrics, Settings
from dnslb.app.ops import (
    add_class_arguments,
    add_cluster_arguments,
    add_source_arguments,
    parse_bool,
    seconds,
    serve_ops,
    setup_logging,
    source_settings,
)
from dnslb.app.sources import Parsed
from dnslb.core.bgp.announcements import from_status
from dnslb.core.bgp.status import NodeAnnouncements
from dnslb.core.config.resources import GROUP, KINDS, VERSION, NodeAnnouncement
from dnslb.core.config.resources import DNSProvider as DNSProviderResource
from dnslb.core.diagnostics import INVALID_OBJECT, VIP_UNANNOUNCED, Diagnostic
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.model import DNS_PUBLISHED_CONDITION, service_fields, service_view, without_unread_metadata
from dnslb.core.objects import ObjectKey, ObjectRef
from dnslb.core.sources.read import SourcesRead
from dnslb.provider import Provider, RecordSet, Zone

log = logging.getLogger("dnslb.controller")


def run(args: argparse.Namespace) -> int:
    """Exit codes: 0 stopped by a signal; 1 leadership lost; 2 nothing to run with (no cluster configured, a
    --metrics-addr that cannot be served), said in one line.

    An API server that does not answer is not a reason to exit: as any controller, this one keeps trying (each
    informer backs off from 0.8 s to 30 s, the election retries every --lease-seconds/7), one warning line per
    failure, and it is not ready (/readyz 503) until its caches have synced; /healthz stays 200, as a restart would not
    bring the API server back, and dnslb_leader stays 0 until it leads."""
    setup_logging(args.log_format, args.log_level)
    try:
        api = api_client(args.kubeconfig, args.api_server)
    except ClusterConfigError as exc:
        log.error("%s", exc)
        return 2
    registry = CollectorRegistry()
    identity = args.identity or f"{socket.gethostname()}-{os.getpid()}"
    elector = (
        LeaderElector(
            CoordinationV1Api(api), args.namespace, args.lease_name, identity, lease_seconds=args.lease_seconds,
            renew_deadline=args.lease_seconds * 2 / 3, retry_period=max(0.2, args.lease_seconds / 7),
        )
        if args.leader_elect
        else None
    )  # fmt: skip
    classes = ClassFilter(args.load_balancer_class, args.default_class)
    settings = Settings(
        args.namespace, classes, args.resync_seconds, args.owner_id, source_settings(args), args.grace_seconds
    )
    controller, informers, recorder = assemble(
        api, settings, registry, may_write=elector.is_leader if elector else lambda: True
    )
    leading = threading.Event()
    lost = threading.Event()
    stop = threading.Event()

    def ready() -> bool:
        synced = controller.services.cache.synced.is_set()
        return synced and (controller.ready.is_set() or not leading.is_set())

    try:
        server, _ = serve_ops(args.metrics_addr, registry, {"/healthz": lambda: not lost.is_set(), "/readyz": ready})
    except OSError as exc:  # the port in use, an address not this machine's
        log.error("cannot serve --metrics-addr %s: %s", args.metrics_addr, exc.strerror or exc)
        return 2
    except ValueError:
        log.error("cannot serve --metrics-addr %s: not [HOST]:PORT", args.metrics_addr)
        return 2
    log.info("dnslb controller %s serving metrics on %s:%d", identity, *server.server_address[:2])

    def shut_down() -> None:
        controller.stop()
        recorder.close()
        for informer in informers:
            informer.stop()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()
        shut_down()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def on_lead() -> None:
        controller.metrics.leader.set(1)
        leading.set()

    def on_lose() -> None:
        controller.metrics.leader.set(0)
        lost.set()
        shut_down()

    if elector is None:  # the one replica leads, from the start: never ready as a follower before the restore
        controller.metrics.leader.set(1)
        leading.set()
    for informer in informers:
        threading.Thread(target=informer.run, name=f"informer-{informer.name}", daemon=True).start()
    if elector is not None:
        threading.Thread(target=elector.run, args=(stop, on_lead, on_lose), name="leader", daemon=True).start()
        log.info("waiting to lead on lease %s/%s", args.namespace, args.lease_name)
        while not leading.wait(0.2):
            if stop.is_set():
                return 0
    try:
        recorder.seed()
    except Exception as exc:  # without the old Events a few may be said again: not worth failing for
        log.warning("could not read the Events already written: %s", exc)
    try:
        controller.run()
    except NotLeader:
        lost.set()
    server.shutdown()
    if lost.is_set():
        log.error("leadership lost: exiting so a fresh process can rejoin the election")
        return 1
    if elector is not None:
        elector.release()
    return 0


def assemble(
    api: ApiClient, settings: Settings, registry: CollectorRegistry, *, may_write: Callable[[], bool]
) -> tuple[Controller, list[Informer], Recorder]:
    """The controller and what it works with: informers, status writer, Event recorder, DNS loop."""
    core, custom = CoreV1Api(api), CustomObjectsApi(api)
    metrics = Metrics(registry)

    def api_error(call: str, exc: Exception) -> None:
        metrics.api_errors.labels(call).inc()

    recorder = Recorder(core, component=CONTROLLER, may_write=may_write, on_api_error=api_error)

    def report(diagnostic: Diagnostic, uid: str = "") -> None:
        if diagnostic.reason == INVALID_OBJECT:
            metrics.invalid_objects.labels(diagnostic.subject.kind if diagnostic.subject else "").inc()
        with contextlib.suppress(NotLeader):
            recorder.record(diagnostic, uid=uid)

    service_informer = Informer("services", core.list_service_for_all_namespaces, transform=service_fields)
    services = Parsed(service_informer, "Service", service_view, report)
    namespaces = Informer("namespaces", core.list_namespace, transform=_namespace_fields)
    config = {
        kind: Informer(kind, partial(custom.list_namespaced_custom_object, GROUP, VERSION, settings.namespace,
                                     model.PLURAL), transform=without_unread_metadata)
        for kind, model in KINDS.items()
    }  # fmt: skip
    takeover = TakeoverStore(core, settings.namespace)

    def make_provider(resource: DNSProviderResource) -> Provider:
        ref = resource.spec.secret_ref
        secret = read_secret(core, settings.namespace, ref.name) if ref is not None else {}
        return create_provider(resource.spec.type, resource.spec.settings, secret)

    def credentials(resource: DNSProviderResource) -> str:
        ref = resource.spec.secret_ref
        if ref is None:
            return ""
        return str(core.read_namespaced_secret(ref.name, settings.namespace).metadata.resource_version or "")

    def save_replaced(provider: str, zone: Zone, records: Sequence[RecordSet]) -> None:
        if not may_write():
            raise Fenced(f"{provider}: not the leader; the takeover save for {zone.name} not written")
        takeover.save(provider, zone.name, records)

    writer = StatusWriter(core, custom, may_write=may_write, on_api_error=api_error)
    node_informer = Informer("nodes", core.list_node, transform=_node_readiness)
    announcement_informer = Informer(
        "nodeannouncements",
        partial(custom.list_namespaced_custom_object, GROUP, VERSION, settings.namespace, NodeAnnouncement.PLURAL),
        transform=_announcement_fields,
    )
    cluster = ClusterAnnouncements(node_informer, announcement_informer)
    sources = ClusterSources(api, settings.sources, namespaces)

    def sources_read() -> SourcesRead:
        if may_write():
            sources.observe(writer)
        return sources.read()

    def publication(key: ObjectKey, found: Fields | None, want: Fields | None, moves: Sequence[Diagnostic]) -> bool:
        try:
            landed = writer.service_condition(key, DNS_PUBLISHED_CONDITION, found, want)
            for move in moves:  # one slot per hostname: lost, back, lost again are each said
                recorder.record(move, slot=(move.subject, VIP_UNANNOUNCED, move.about))
        except NotLeader:
            return False
        return landed

    def synced(ref: ObjectRef, health: Health) -> None:
        with contextlib.suppress(NotLeader):
            writer.condition(DNSProviderResource.PLURAL, ref.key, None, health.ok, health.message, type_="Synced",
                             reason=health.reason)  # fmt: skip
            log.info("DNSProvider %s: Synced %s (%s): %s", ref.key.name, health.ok, health.reason, health.message)

    dns = DNSLoop(
        Hooks(
            services=services.values,
            source_complete=lambda: services.cache.synced.is_set() and bool(services.cache.items()),
            sources=sources_read,
            make_provider=make_provider,
            save_replaced=save_replaced,
            report=report,
            may_write=may_write,
            credentials=credentials,
            synced=synced,
            announced=cluster.vips,
            publication=publication,
        ),
        owner=settings.owner_id,
        classes=settings.classes,
        registry=registry,
        resync_seconds=settings.resync_seconds,
        grace_seconds=settings.grace_seconds,
    )
    cluster.on_change(dns.trigger, "vips")
    sources.subscribe(dns.trigger)
    controller = Controller(
        settings,
        services=services,
        namespaces=namespaces,
        config=config,
        writer=writer,
        recorder=recorder,
        dns=dns,
        metrics=metrics,
        gate=(node_informer, announcement_informer),
        announcements=cluster,
    )
    informers = [
        service_informer, namespaces, *config.values(), node_informer, announcement_informer,
        *sources.informers.values(),
    ]  # fmt: skip
    return controller, informers, recorder


class ClusterAnnouncements:
    """What Ready nodes announce, from their NodeAnnouncements: the VIPs some peer acked (the DNS gate) and each
    node's sessions (BGPPeer status). A NotReady node's status is stale (its speaker may be dead): it does not count."""

    def __init__(self, nodes: Informer, announcements: Informer) -> None:
        self._nodes = nodes
        self._announcements = announcements

    def _ready(self) -> list[dict[str, Any]] | None:
        if not (self._nodes.synced.is_set() and self._announcements.synced.is_set()):
            return None
        ready = {_name(n) for n in self._nodes.items() if n.get("ready")}
        return [a for a in self._announcements.items() if _name(a) in ready]

    def vips(self) -> frozenset[str]:
        """Empty until both caches have synced: nothing passes the gate on an incomplete view."""
        return frozenset(v for a in self._ready() or () for v in a["vips"])

    def sessions(self) -> list[NodeAnnouncements] | None:
        """Each Ready node's sessions (None until the caches have synced)."""
        ready = self._ready()
        return None if ready is None else [from_status(_name(a), {"sessions": a["sessions"]}) for a in ready]

    def on_change(self, call: Callable[[], None], *fields: str) -> None:
        """Call `call` when a node's readiness, or one of these fields of a node's announcements, changes."""

        def changed(watched: tuple[str, ...], key: Any, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
            if any((old or {}).get(f) != (new or {}).get(f) for f in watched):
                call()

        self._nodes.subscribe(partial(changed, ("ready",)))
        self._announcements.subscribe(partial(changed, fields))


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _node_readiness(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    conditions = (obj.get("status") or {}).get("conditions")
    ready = any(
        isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in (conditions if isinstance(conditions, list) else ())
    )
    return {"metadata": {k: metadata[k] for k in ("name", "resourceVersion") if k in metadata}, "ready": ready}


def _announcement_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """What the controller reads of a NodeAnnouncement: the VIPs a peer acked, and the sessions."""
    metadata = obj.get("metadata") or {}
    status = obj.get("status")
    sessions = status.get("sessions") if isinstance(status, dict) else None
    vips = sorted(from_status(str(metadata.get("name") or ""), status).announced_vips())
    kept = {k: metadata[k] for k in ("name", "namespace", "resourceVersion") if k in metadata}
    return {"metadata": kept, "vips": vips, "sessions": sessions if isinstance(sessions, list) else []}


def _namespace_fields(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    return {"metadata": {k: metadata[k] for k in ("name", "resourceVersion", "labels") if k in metadata}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_cluster_arguments(parser)
    parser.add_argument(
        "--namespace",
        default="dnslb-system",
        help="where the config resources and the Lease live (default dnslb-system)",
    )
    add_class_arguments(parser)
    add_source_arguments(parser, default="service")
    parser.add_argument(
        "--grace-seconds", type=seconds(0.0), default=300.0,
        help="keep the names of an Ingress or route that lost its addresses this long before deleting them "
        "(default 300)",
    )  # fmt: skip
    parser.add_argument(
        "--leader-elect", type=parse_bool, nargs="?", const=True, default=True, metavar="BOOL",
        help="elect a leader on a Lease before writing (default true; --leader-elect=false for one replica)",
    )  # fmt: skip
    parser.add_argument(
        "--lease-name", default="dnslb-controller", help="the Lease of the election (default dnslb-controller)"
    )
    parser.add_argument(
        "--lease-seconds", type=seconds(1.0), default=15.0, help="lease duration, at least 1 (default 15)"
    )
    parser.add_argument("--identity", help="this replica's name in the Lease (default: hostname-pid)")
    parser.add_argument(
        "--resync-seconds",
        type=seconds(0.1),
        default=300.0,
        help="full reconcile and DNS re-read period (default 300)",
    )
    parser.add_argument(
        "--owner-id",
        default="dnslb",
        help="names this cluster in DNS ownership records (default dnslb; DNSProvider.ownerID wins)",
    )
    parser.add_argument(
        "--metrics-addr", default=":9090", help="serve /metrics, /healthz, /readyz on [HOST]:PORT (default :9090)"
    )
    parser.add_argument(
        "--log-format", choices=("json", "logfmt", "text"), default="json", help="log line format (default json)"
    )
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info", help="log level (default info)"
    )
