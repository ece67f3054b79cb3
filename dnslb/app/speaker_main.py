"""Running `dnslb speaker`: client, ExaBGP, logs, metrics and health, signals, drain on SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType

from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi, DiscoveryV1Api
from prometheus_client import CollectorRegistry

from dnslb.adapters.exabgp.sink import ExaBGPSink
from dnslb.adapters.health import HealthProber
from dnslb.adapters.kube.client import ClusterConfigError, api_client
from dnslb.adapters.kube.dnsstate import read_secret
from dnslb.adapters.kube.informer import Informer
from dnslb.adapters.kube.nodestatus import NodeStatusWriter
from dnslb.adapters.kube.writer import SPEAKER, NotLeader, Recorder
from dnslb.app.ops import add_class_arguments, add_cluster_arguments, parse_bool, seconds, serve_ops, setup_logging
from dnslb.app.sources import Parsed
from dnslb.app.speaker import RouteSink, Speaker, SpeakerMetrics, SpeakerSettings
from dnslb.core.bgp.announcements import to_status
from dnslb.core.bgp.damping import DampingConfig
from dnslb.core.config import BGPPeer
from dnslb.core.config.resources import GROUP, KINDS, VERSION
from dnslb.core.diagnostics import INVALID_OBJECT, Diagnostic
from dnslb.core.ipam.request import ClassFilter
from dnslb.core.model import (
    announced_service_fields,
    endpoint_views,
    node_fields,
    node_view,
    service_view,
    slice_fields,
    without_unread_metadata,
)

log = logging.getLogger("dnslb.speaker")
# Small pages: parsing 500 EndpointSlices at once costs tens of megabytes that Python keeps after they are freed.
PAGE = 100


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_format, args.log_level)
    if not args.node_name:
        log.error("--node-name (or NODE_NAME) is required: which node is this?")
        return 2
    try:
        api = api_client(args.kubeconfig, args.api_server)
    except ClusterConfigError as exc:
        log.error("%s", exc)
        return 2
    try:
        workdir = Workdir.make(args.workdir, args.node_name)
    except OSError as exc:
        log.error("cannot make --workdir %s: %s", exc.filename or args.workdir, exc.strerror or exc)
        return 2
    log.info("work directory %s (what the speaker puts there is removed on exit)", workdir.path)
    try:
        return _run(args, api, workdir.path)
    finally:
        workdir.remove()


def _run(args: argparse.Namespace, api: ApiClient, workdir: Path) -> int:
    core = CoreV1Api(api)
    registry = CollectorRegistry()

    def password_for(peer: BGPPeer) -> str | None:
        ref = peer.spec.password_secret
        if ref is None:
            return None
        try:
            return read_secret(core, args.namespace, ref.name)[ref.key]
        except Exception as exc:
            log.error("BGPPeer %s: password Secret %s/%s unreadable: %s", peer.name, args.namespace, ref.name, exc)
            raise ValueError(f"password Secret {ref.name} key {ref.key} unreadable") from exc

    sink = ExaBGPSink(workdir, password_for, netns=args.netns)
    damping = (
        DampingConfig(args.damping_penalty, args.damping_suppress, args.damping_reuse, args.damping_half_life,
                      args.damping_max_suppress)
        if args.damping
        else None
    )  # fmt: skip
    settings = SpeakerSettings(
        node_name=args.node_name,
        namespace=args.namespace,
        withdraw_on_cordon=args.withdraw_on_cordon,
        damping=damping,
        drain_seconds=args.drain_seconds,
        graceful_shutdown_seconds=args.graceful_shutdown_seconds,
        classes=ClassFilter(args.load_balancer_class, args.default_class),
    )
    health = HealthProber(args.health_url or None, args.health_host, interval=args.health_interval)

    def credentials(peers: Sequence[BGPPeer]) -> object:
        refs = sorted({p.spec.password_secret.name for p in peers if p.spec.password_secret is not None})
        return tuple(core.read_namespaced_secret(name, args.namespace).metadata.resource_version for name in refs)

    speaker, informers, recorder, status = assemble(
        api, settings, sink, health, registry, credentials=credentials, status_interval=args.status_interval
    )
    stop = threading.Event()
    try:
        server, _ = serve_ops(
            args.metrics_addr, registry, {"/healthz": lambda: not stop.is_set(), "/readyz": speaker.ready.is_set}
        )
    except OSError as exc:  # the port in use, an address not this machine's
        log.error("cannot serve --metrics-addr %s: %s", args.metrics_addr, exc.strerror or exc)
        return 2
    except ValueError:
        log.error("cannot serve --metrics-addr %s: not [HOST]:PORT", args.metrics_addr)
        return 2
    log.info("dnslb speaker on node %s serving metrics on %s:%d", args.node_name, *server.server_address[:2])

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: draining", signal.Signals(signum).name)
        stop.set()
        speaker.stop()
        for informer in informers:
            informer.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for informer in informers:
        threading.Thread(target=informer.run, name=f"informer-{informer.name}", daemon=True).start()
    threading.Thread(target=health.run, args=(stop,), name="health", daemon=True).start()
    status.start()
    try:
        recorder.seed()
    except Exception as exc:  # without the old Events a few may be said again: not worth failing for
        log.warning("could not read the Events already written: %s", exc)
    speaker.run()
    try:
        speaker.drain()
    finally:
        sink.stop()  # ExaBGP and its relay are gone before the workdir is removed
    speaker.publish_stopped()
    status.stop()
    recorder.close()
    server.shutdown()
    log.info("drained and stopped")
    return 0


# What the ExaBGP driver writes in the workdir: its config, its environment file, the relay's socket.
WORKDIR_FILES = ("exabgp.conf", "exabgp.env", "relay.sock")


@dataclass(frozen=True)
class Workdir:
    """The speaker's work directory, and what of it the speaker made: removed on exit, and only that. `made`: the
    directories it created, outermost first (none when --workdir already existed)."""

    path: Path
    made: tuple[Path, ...]

    @classmethod
    def make(cls, given: str | None, node_name: str) -> Workdir:
        if not given:
            path = Path(tempfile.mkdtemp(prefix=f"dnslb-speaker-{node_name}-"))
            return cls(path, (path,))
        path = Path(given).absolute()
        missing = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(path, tuple(missing[::-1]))

    def remove(self) -> None:
        """Remove the driver's files, then each directory the speaker made if nothing else is left in it."""
        try:
            for name in WORKDIR_FILES:
                (self.path / name).unlink(missing_ok=True)
            for directory in reversed(self.made):
                directory.rmdir()
        except OSError as exc:
            log.warning("could not remove the workdir %s: %s", self.path, exc)


def assemble(
    api: ApiClient,
    settings: SpeakerSettings,
    sink: RouteSink,
    health: HealthProber,
    registry: CollectorRegistry,
    *,
    credentials: Callable[[Sequence[BGPPeer]], object] = lambda peers: None,
    status_interval: float = 5.0,
) -> tuple[Speaker, list[Informer], Recorder, NodeStatusWriter]:
    """The speaker and what it works with: informers on what this node needs, the Event recorder, the writer of
    the node's NodeAnnouncement (started and stopped by the caller)."""
    core, custom, discovery = CoreV1Api(api), CustomObjectsApi(api), DiscoveryV1Api(api)
    metrics = SpeakerMetrics(registry)
    recorder = Recorder(core, component=SPEAKER, instance=settings.node_name)

    def report(diagnostic: Diagnostic, uid: str = "") -> None:
        if diagnostic.reason == INVALID_OBJECT:
            metrics.invalid_objects.labels(diagnostic.subject.kind if diagnostic.subject else "").inc()
        with contextlib.suppress(NotLeader):
            recorder.record(diagnostic, uid=uid)

    informers = [
        Informer("services", core.list_service_for_all_namespaces, transform=announced_service_fields, page_size=PAGE),
        Informer(
            "endpointslices",
            discovery.list_endpoint_slice_for_all_namespaces,
            transform=partial(slice_fields, node=settings.node_name),
            page_size=PAGE,
        ),
        Informer(
            "node",
            partial(core.list_node, field_selector=f"metadata.name={settings.node_name}"),
            transform=node_fields,
        ),
    ]
    config = {
        kind: Informer(
            kind,
            partial(custom.list_namespaced_custom_object, GROUP, VERSION, settings.namespace, KINDS[kind].PLURAL),
            transform=without_unread_metadata,
        )
        for kind in ("AddressPool", "BGPPeer", "BGPAdvertisement")
    }
    node_cache = informers[2]

    def node_uid() -> str:
        metadata = (node_cache.get(("", settings.node_name)) or {}).get("metadata") or {}
        return str(metadata.get("uid") or "")

    status = NodeStatusWriter(
        custom,
        settings.namespace,
        settings.node_name,
        node_uid=node_uid,
        interval=status_interval,
        on_write=metrics.status_writes.inc,
    )
    speaker = Speaker(
        settings,
        services=Parsed(informers[0], "Service", service_view, report),
        slices=Parsed(informers[1], "EndpointSlice", endpoint_views, report),
        node=Parsed(informers[2], "Node", node_view, report),
        config=config,
        sink=sink,
        recorder=recorder,
        health=health,
        metrics=metrics,
        credentials=credentials,
        publish=lambda announcements: status.publish(to_status(announcements)),
    )
    return speaker, [*informers, *config.values()], recorder, status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--node-name", default=os.environ.get("NODE_NAME"), help="this node's name (default: $NODE_NAME)"
    )
    add_cluster_arguments(parser)
    parser.add_argument(
        "--namespace",
        default="dnslb-system",
        help="where the config resources and Secrets live (default dnslb-system)",
    )
    add_class_arguments(parser)
    parser.add_argument(
        "--workdir",
        help="where ExaBGP's config and socket go; what the speaker puts there is removed on exit "
        "(default: a new temporary directory)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=seconds(0.0),
        default=5.0,
        help="on SIGTERM: withdraw, wait this long, stop (default 5)",
    )
    parser.add_argument(
        "--graceful-shutdown-seconds",
        type=seconds(0.0),
        default=0.0,
        help="on SIGTERM, before withdrawing: announce every path with GRACEFUL_SHUTDOWN (65535:0, RFC 8326) and wait "
        "this long, for routers whose import policy lowers such paths (default 0: off)",
    )
    parser.add_argument(
        "--status-interval",
        type=seconds(0.1),
        default=5.0,
        help="write the node's NodeAnnouncement status on change, on average at most once per this many seconds "
        "(up to 3 at once after a quiet spell) (default 5)",
    )
    parser.add_argument("--netns", help="run ExaBGP in this named network namespace (labs and tests; default: ours)")
    parser.add_argument(
        "--health-url",
        default="http://127.0.0.1:10256/healthz",
        help="the node's data-path probe for pools with healthWithdraw (default kube-proxy's "
        "http://127.0.0.1:10256/healthz; '' to disable)",
    )
    parser.add_argument(
        "--health-host", default="127.0.0.1", help="where healthCheckNodePorts answer (default 127.0.0.1)"
    )
    parser.add_argument("--health-interval", type=seconds(0.05), default=2.0, help="seconds between probes (default 2)")
    parser.add_argument(
        "--withdraw-on-cordon",
        action="store_true",
        help="withdraw a cordoned (unschedulable) node's routes; default false: cordon is not a drain signal "
        "(Kubernetes keeps cordoned nodes in load balancers since 1.19), NotReady and the exclusion label withdraw",
    )
    parser.add_argument(
        "--damping", type=parse_bool, nargs="?", const=True, default=True, metavar="BOOL",
        help="withhold a node that keeps losing Ready (default true)",
    )  # fmt: skip
    defaults = DampingConfig()
    parser.add_argument(
        "--damping-penalty", type=float, default=defaults.penalty, help="added per Ready loss (default %(default)g)"
    )
    parser.add_argument(
        "--damping-suppress", type=float, default=defaults.suppress, help="withdraw above (default %(default)g)"
    )
    parser.add_argument(
        "--damping-reuse", type=float, default=defaults.reuse, help="announce again below (default %(default)g)"
    )
    parser.add_argument(
        "--damping-half-life", type=float, default=defaults.half_life, help="seconds (default %(default)g)"
    )
    parser.add_argument(
        "--damping-max-suppress",
        type=float,
        default=defaults.max_suppress,
        help="longest withdrawal, seconds (default %(default)g)",
    )
    parser.add_argument(
        "--metrics-addr", default=":9091", help="serve /metrics, /healthz, /readyz on [HOST]:PORT (default :9091)"
    )
    parser.add_argument(
        "--log-format", choices=("json", "logfmt", "text"), default="json", help="log line format (default json)"
    )
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info", help="log level (default info)"
    )
