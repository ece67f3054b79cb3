"""An ApiClient for the cluster: in-cluster service account, a kubeconfig, or a plain URL (the test double)."""

from __future__ import annotations

import os

from kubernetes import config
from kubernetes.client import ApiClient, Configuration


def api_client(kubeconfig: str | None = None, server: str | None = None) -> ApiClient:
    if server:
        configuration = Configuration()
        configuration.host = server
    else:
        configuration = Configuration()
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    # one connection per informer thread plus the writer, so watches never starve writes
    configuration.connection_pool_maxsize = 16
    return ApiClient(configuration)
