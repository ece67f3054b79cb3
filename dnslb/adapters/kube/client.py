"""An ApiClient for the cluster: in-cluster service account, a kubeconfig, or a plain URL (the test double).

No call can hang: every request gets a connect and a read timeout unless it brings its own (a watch brings a
longer read timeout, the bound on a silent stream), and the sockets use TCP keepalive, so a peer that vanished
without a FIN is noticed even while nothing is being read.

Nothing the user can get wrong ends in a traceback: no cluster to talk to, a kubeconfig that is missing or cannot be
used, an --api-server that is not a URL all raise `ClusterConfigError`, whose message is one line naming what is
missing and how to point at a cluster; `describe` puts an API or connection error in one line.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any
from urllib.parse import urlsplit

import urllib3
import yaml
from kubernetes import config
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.rest import ApiException
from kubernetes.utils.keepalive import tcp_keepalive_socket_options

CONNECT_SECONDS = 5.0
READ_SECONDS = 30.0  # one request's answer; a list page of 500 objects arrives well within this
KEEPALIVE = {"idle": 15, "interval": 5, "count": 3}  # a dead peer is noticed within ~30 s
DEFAULT_KUBECONFIG = "~/.kube/config"
HOW = "point at a cluster with --kubeconfig FILE, --api-server URL or the KUBECONFIG environment variable"


class ClusterConfigError(Exception):
    """No cluster to talk to, or a way to it that cannot be used; the message is one line and says what to do."""


class TimedApiClient(ApiClient):  # type: ignore[misc]  # the client's classes are untyped
    """An ApiClient whose every request has (connect, read) timeouts unless the call sets `_request_timeout`."""

    def __init__(self, configuration: Configuration, timeout: tuple[float, float]) -> None:
        super().__init__(configuration)
        self.timeout = timeout

    def call_api(self, *args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        return super().call_api(*args, _request_timeout=_request_timeout or self.timeout, **kwargs)


def api_client(
    kubeconfig: str | None = None,
    server: str | None = None,
    *,
    timeout: tuple[float, float] = (CONNECT_SECONDS, READ_SECONDS),
) -> ApiClient:
    """A client for the cluster `server` (a URL, no credentials), `kubeconfig`, the service account when in a pod, or
    else $KUBECONFIG or ~/.kube/config, in that order. Raises ClusterConfigError when none of them can be used."""
    configuration = Configuration()
    if server:
        configuration.host = _checked_url(server)
    elif kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            config.load_incluster_config(client_configuration=configuration)
        except (config.ConfigException, OSError) as exc:
            raise ClusterConfigError(
                f"in a pod (KUBERNETES_SERVICE_HOST is set) but its service account cannot be used: {_line(exc)}; "
                "point at a cluster with --kubeconfig FILE or --api-server URL"
            ) from None
    else:
        _load_kubeconfig(kubeconfig, configuration)
    # one connection per informer thread plus the writers, so watches never starve writes
    configuration.connection_pool_maxsize = 16
    configuration.socket_options = tcp_keepalive_socket_options(**KEEPALIVE)
    _quiet_retries()
    return TimedApiClient(configuration, timeout)


def _checked_url(server: str) -> str:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClusterConfigError(f"--api-server {server!r} is not a URL: give http(s)://HOST[:PORT]")
    try:
        parts.port  # noqa: B018  # raises on a port that is not a number
    except ValueError:
        raise ClusterConfigError(f"--api-server {server!r}: the port is not a number") from None
    return server


def _load_kubeconfig(kubeconfig: str | None, configuration: Configuration) -> None:
    """Load `kubeconfig`, else $KUBECONFIG (a list of files, as kubectl takes it), else ~/.kube/config."""
    if kubeconfig is not None:
        paths, named = kubeconfig, f"--kubeconfig {kubeconfig}"
    elif os.environ.get("KUBECONFIG"):
        paths, named = os.environ["KUBECONFIG"], f"KUBECONFIG={os.environ['KUBECONFIG']}"
    else:
        paths, named = DEFAULT_KUBECONFIG, DEFAULT_KUBECONFIG
    files = [os.path.expanduser(p) for p in paths.split(os.pathsep) if p]
    if not any(os.path.exists(f) for f in files):
        if kubeconfig is None and not os.environ.get("KUBECONFIG"):
            raise ClusterConfigError(
                f"no cluster to talk to: not in a pod (KUBERNETES_SERVICE_HOST is not set), KUBECONFIG is not set "
                f"and {DEFAULT_KUBECONFIG} does not exist; {HOW}"
            )
        raise ClusterConfigError(f"{named}: no such file; {HOW}")
    try:
        config.load_kube_config(config_file=paths, client_configuration=configuration)
    except (config.ConfigException, OSError, yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # the client reads the file with few checks: a file that is not a kubeconfig fails in many ways
        raise ClusterConfigError(f"{named} cannot be used: {_line(exc)}; {HOW}") from None


def describe(exc: BaseException) -> str:
    """An API or connection error in one line, without urllib3's wrapping."""
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    text = re.sub(r"^\w+\(host=[^)]*\): ", "", str(exc))
    return " ".join(text.split()) or type(exc).__name__


def _line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.filename is None else f"{exc.filename}: {exc.strerror.lower()}"
    return " ".join(str(exc).split()).rstrip(".") or type(exc).__name__


class _DropRetries(logging.Filter):
    """urllib3 logs each of its retries of a request as a warning; when the last one fails too, the caller says so in
    one line of its own, so these are only noise: three lines for each failure while the API server is away."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Retrying (")


_RETRIES = _DropRetries()


def _quiet_retries() -> None:
    pool_log = logging.getLogger("urllib3.connectionpool")
    if _RETRIES not in pool_log.filters:
        pool_log.addFilter(_RETRIES)
