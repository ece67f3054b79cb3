"""A Kubernetes API double: an HTTP server the real `kubernetes` client drives unmodified.

Serves core/v1 Services, Nodes, Events, ConfigMaps, Secrets and Namespaces, discovery.k8s.io/v1 EndpointSlices,
coordination.k8s.io/v1 Leases, networking.k8s.io/v1 Ingresses and IngressClasses, the dnslb.io/v1alpha1 kinds, and
the kinds DNS sources read as custom resources (CRDs in dnslb_testkit/crds: the Gateway API's GatewayClass, Gateway,
HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute; external-dns's DNSEndpoint), with apiserver's semantics for lists,
watches, patches, optimistic concurrency, /status subresources and Service and Ingress defaulting and validation,
server-side Tables of the custom kinds and Ingresses (for the real `kubectl get`: `kubectl.Kubectl`), plus fault
hooks for tests.

In a test::

    with running_kubeapi() as api:                       # or running_kubeapi(separate_process=True)
        client = kubernetes.client.ApiClient(api.client_configuration())
        ...
        api.fail_next(3, status=429); api.drop_watches(); api.compact()
        assert api.count_requests("services/status", "patch", "update") == 1

`kube_target()` yields the real cluster instead when KUBECONFIG is set (its `double` is then None).
As its own process: `python -m dnslb_testkit.kubeapi --port 0` prints its URL, and `/_test/...` endpoints
drive the same hooks (see `--help`).
"""

from dnslb_testkit.kubeapi.api import KubeAPI
from dnslb_testkit.kubeapi.errors import ApiError
from dnslb_testkit.kubeapi.process import KubeAPIProcess
from dnslb_testkit.kubeapi.recorder import RecordedEvent, WatchRecorder
from dnslb_testkit.kubeapi.target import (
    KubeAPIControl,
    KubeTarget,
    kube_target,
    real_cluster_requested,
    running_kubeapi,
)

__all__ = [
    "ApiError",
    "KubeAPI",
    "KubeAPIControl",
    "KubeAPIProcess",
    "KubeTarget",
    "RecordedEvent",
    "WatchRecorder",
    "kube_target",
    "real_cluster_requested",
    "running_kubeapi",
]
