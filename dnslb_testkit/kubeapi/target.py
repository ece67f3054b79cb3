"""Where Kubernetes-facing tests run: the double (default), or a real cluster when KUBECONFIG is set."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import kubernetes.client
import kubernetes.config

from dnslb_testkit.kubeapi.api import KubeAPI
from dnslb_testkit.kubeapi.process import KubeAPIProcess


class KubeAPIControl(Protocol):
    """The double's test handle, whether it runs in this process (`KubeAPI`) or a child (`KubeAPIProcess`)."""

    @property
    def url(self) -> str: ...

    def client_configuration(self) -> kubernetes.client.Configuration: ...

    def api_client(self) -> kubernetes.client.ApiClient: ...

    def seed(self, objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]: ...

    def drop_watches(self) -> None: ...

    def compact(self) -> None: ...

    def fail_next(self, n: int, status: int = 500) -> None: ...

    def set_latency(self, seconds: float) -> None: ...

    def silence(self, verbs: Iterable[str] = (), resources: Iterable[str] = ()) -> None: ...

    def speak(self) -> None: ...

    def request_counts(self) -> dict[str, int]: ...

    def count_requests(self, resource: str, *verbs: str) -> int: ...

    def reset_request_counts(self) -> None: ...


@contextmanager
def running_kubeapi(
    *, separate_process: bool = False, history_limit: int = 10000, bookmark_interval: float = 60.0
) -> Iterator[KubeAPIControl]:
    """Start the double on a free 127.0.0.1 port for the `with` block; stop it (and its process) after."""
    double: KubeAPI | KubeAPIProcess
    if separate_process:
        double = KubeAPIProcess(history_limit=history_limit, bookmark_interval=bookmark_interval)
    else:
        double = KubeAPI(history_limit=history_limit, bookmark_interval=bookmark_interval)
    double.start()
    try:
        yield double
    finally:
        double.stop()


@dataclass(frozen=True)
class KubeTarget:
    """A Kubernetes API to test against; `double` is None on a real cluster (no fault hooks there)."""

    configuration: kubernetes.client.Configuration
    double: KubeAPIControl | None

    @property
    def real_cluster(self) -> bool:
        return self.double is None

    def api_client(self) -> kubernetes.client.ApiClient:
        return kubernetes.client.ApiClient(self.configuration)


def real_cluster_requested(environ: Mapping[str, str] = os.environ) -> bool:
    return bool(environ.get("KUBECONFIG"))


@contextmanager
def kube_target(
    *, separate_process: bool = False, environ: Mapping[str, str] = os.environ, bookmark_interval: float = 60.0
) -> Iterator[KubeTarget]:
    """The real cluster KUBECONFIG names, if set; otherwise a freshly started double."""
    kubeconfig = environ.get("KUBECONFIG")
    if kubeconfig:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        yield KubeTarget(configuration, None)
        return
    with running_kubeapi(separate_process=separate_process, bookmark_interval=bookmark_interval) as double:
        yield KubeTarget(double.client_configuration(), double)
