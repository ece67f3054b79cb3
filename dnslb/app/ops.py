"""What every dnslb process offers an operator: structured logs, Prometheus metrics, /healthz and /readyz."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from dnslb.core.sources.read import SOURCES, SourceSettings, parse_sources

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": logging.Formatter().formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    fields.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
    if record.exc_info:
        fields["error"] = logging.Formatter().formatException(record.exc_info)
    return fields


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n\t'):
        return json.dumps(text)
    return text


def setup_logging(log_format: str, level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatters: dict[str, logging.Formatter] = {
        "json": JSONFormatter(),
        "logfmt": LogfmtFormatter(),
        "text": logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"),
    }
    handler.setFormatter(formatters[log_format])
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "kubernetes", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds would flood the log
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def parse_addr(addr: str) -> tuple[str, int]:
    """':9090' → ('0.0.0.0', 9090); '127.0.0.1:0' → ('127.0.0.1', 0)."""
    host, _, port = addr.rpartition(":")
    return (host.strip("[]") or "0.0.0.0", int(port))


def serve_ops(
    addr: str, registry: CollectorRegistry, checks: dict[str, Callable[[], bool]]
) -> tuple[WSGIServer, threading.Thread]:
    """Serve /metrics and one path per check ("/healthz", "/readyz": 200 ok or 503) on `addr`, in a thread."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        check = checks.get(path)
        if check is not None:
            ok = check()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ok\n" if ok else b"not ready\n"]
        if path == "/metrics":
            result: Iterable[bytes] = metrics(environ, start_response)
            return result
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    host, port = parse_addr(addr)
    server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="ops-http", daemon=True)
    thread.start()
    return server, thread


def seconds(minimum: float) -> Callable[[str], float]:
    """An argparse type: a number of seconds, at least `minimum`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
        if not value >= minimum:  # NaN too
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, got {text}")
        return value

    return parse


def parse_bool(text: str) -> bool:
    """For flags written `--flag=false` the way Kubernetes components take them."""
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """How a process finds its cluster: --kubeconfig and --api-server (see adapters/kube/client.api_client)."""
    parser.add_argument(
        "--kubeconfig",
        help="kubeconfig file (default: the service account in a pod, else $KUBECONFIG, else ~/.kube/config)",
    )
    parser.add_argument(
        "--api-server",
        metavar="URL",
        help="talk to this API server URL without credentials, instead of a kubeconfig (default: none)",
    )


def add_class_arguments(parser: argparse.ArgumentParser) -> None:
    """Which Services a process serves, the same flags for the controller, the speaker and plan."""
    parser.add_argument(
        "--load-balancer-class",
        metavar="CLASS",
        help="serve Services of this spec.loadBalancerClass (default: only Services without a class)",
    )
    parser.add_argument(
        "--default-class", type=parse_bool, nargs="?", const=True, default=False, metavar="BOOL",
        help="with --load-balancer-class, also serve Services without a class, as the default (default false)",
    )  # fmt: skip


def add_source_arguments(parser: argparse.ArgumentParser, *, default: str) -> None:
    """Which objects name hostnames (the controller and plan): --source and the sources' filters."""
    parser.add_argument(
        "--source", type=_sources, action="append", metavar="LIST",
        help=f"comma-separated, repeatable (external-dns's spelling): {', '.join(SOURCES)} (default {default})",
    )  # fmt: skip
    parser.set_defaults(default_sources=_sources(default))
    parser.add_argument(
        "--ingress-class", action="append", default=[], metavar="NAME",
        help="publish only Ingresses of this class; repeat for more (default: every class)",
    )  # fmt: skip
    parser.add_argument(
        "--gateway-class", action="append", default=[], metavar="NAME",
        help="publish only routes through Gateways of this class; repeat for more (default: every class)",
    )  # fmt: skip
    parser.add_argument(
        "--ignore-ingress-tls-spec", type=parse_bool, nargs="?", const=True, default=False, metavar="BOOL",
        help="do not publish an Ingress's spec.tls hosts that no rule names (default false, as external-dns)",
    )  # fmt: skip


def source_settings(args: argparse.Namespace) -> SourceSettings:
    return SourceSettings(
        enabled=frozenset().union(*args.source) if args.source else args.default_sources,
        ingress_classes=frozenset(args.ingress_class),
        gateway_classes=frozenset(args.gateway_class),
        tls_hosts=not args.ignore_ingress_tls_spec,
    )


def _sources(text: str) -> frozenset[str]:
    try:
        return parse_sources(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
