"""An ApiClient for the cluster: in-cluster service account, a kubeconfig, or a plain URL (the test double).

No call can hang: every request gets a connect and a read timeout unless it brings its own (a watch brings a
longer read timeout, the bound on a silent stream), and the sockets use TCP keepalive, so a peer that vanished
without a FIN is noticed even while nothing is being read.
"""

from __future__ import annotations

import os
from typing import Any

from kubernetes import config
from kubernetes.client import ApiClient, Configuration
from kubernetes.utils.keepalive import tcp_keepalive_socket_options

CONNECT_SECONDS = 5.0
READ_SECONDS = 30.0  # one request's answer; a list page of 500 objects arrives well within this
KEEPALIVE = {"idle": 15, "interval": 5, "count": 3}  # a dead peer is noticed within ~30 s


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
    configuration = Configuration()
    if server:
        configuration.host = server
    elif kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    # one connection per informer thread plus the writers, so watches never starve writes
    configuration.connection_pool_maxsize = 16
    configuration.socket_options = tcp_keepalive_socket_options(**KEEPALIVE)
    return TimedApiClient(configuration, timeout)
