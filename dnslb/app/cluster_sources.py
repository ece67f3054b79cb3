"""The controller's sources other than Services: one informer per enabled kind (Ingress, Gateway API routes and
their Gateways, DNSEndpoint), read by `dnslb.core.sources.read` into records for the DNS loop."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from kubernetes.client import ApiClient, CustomObjectsApi, NetworkingV1Api

from dnslb.adapters.kube.informer import Informer
from dnslb.adapters.kube.writer import NotLeader, StatusWriter
from dnslb.app.sources import namespace_labels
from dnslb.core.model import without_unread_metadata
from dnslb.core.objects import ObjectKey
from dnslb.core.sources.gateway import RouteKind
from dnslb.core.sources.read import (
    DNSENDPOINT,
    INGRESS,
    ROUTE_SOURCES,
    Memo,
    SourceObjects,
    SourceSettings,
    SourcesRead,
    read_sources,
)

log = logging.getLogger(__name__)

GATEWAY_GROUP = "gateway.networking.k8s.io"
# the Gateway API version each route kind is served at (the experimental kinds are still v1alpha2)
ROUTE_VERSIONS: dict[RouteKind, str] = {
    "HTTPRoute": "v1", "GRPCRoute": "v1", "TLSRoute": "v1alpha2", "TCPRoute": "v1alpha2", "UDPRoute": "v1alpha2",
}  # fmt: skip
DNSENDPOINT_API = ("externaldns.k8s.io", "v1alpha1", "dnsendpoints")
RETRY_SECONDS = 60.0  # a refused status write is tried again after this long, not at every DNS pass


class ClusterSources:
    """The informers of the enabled sources, and what they want now."""

    def __init__(
        self,
        api: ApiClient,
        settings: SourceSettings,
        namespaces: Informer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        custom = CustomObjectsApi(api)
        self._settings = settings
        self._namespaces = namespaces
        self.informers: dict[str, Informer] = {}
        if INGRESS in settings.enabled:
            lister = NetworkingV1Api(api).list_ingress_for_all_namespaces
            self.informers["Ingress"] = Informer("ingresses", lister, transform=without_unread_metadata)
        routes = [kind for source, kind in ROUTE_SOURCES.items() if source in settings.enabled]
        for kind in routes:
            plural = kind.lower() + "s"
            lister = partial(custom.list_cluster_custom_object, GATEWAY_GROUP, ROUTE_VERSIONS[kind], plural)
            self.informers[kind] = Informer(plural, lister, transform=without_unread_metadata)
        if routes:
            lister = partial(custom.list_cluster_custom_object, GATEWAY_GROUP, "v1", "gateways")
            self.informers["Gateway"] = Informer("gateways", lister, transform=without_unread_metadata)
        if DNSENDPOINT in settings.enabled:
            lister = partial(custom.list_cluster_custom_object, *DNSENDPOINT_API)
            self.informers["DNSEndpoint"] = Informer("dnsendpoints", lister, transform=without_unread_metadata)
        self._observed: dict[ObjectKey, int] = {}  # DNSEndpoint generations said in their status
        self._memo: Memo = {}  # what each Ingress and DNSEndpoint was read into, by resourceVersion
        self._failed: dict[tuple[ObjectKey, int], float] = {}  # status writes refused, and when
        self._clock = clock
        self._lock = threading.Lock()

    def incomplete(self) -> frozenset[str]:
        """The kinds whose objects are not all known: their cache (or, for routes, the Gateways') has not synced.
        A kind whose list keeps failing (its CRD not installed) stays here, and only its names wait: the other
        sources, and VIPs, go on."""
        waiting = {kind for kind, informer in self.informers.items() if not informer.synced.is_set()}
        if "Gateway" in waiting:
            waiting |= set(ROUTE_SOURCES.values()) & set(self.informers)
        return frozenset(waiting - {"Gateway"})

    def subscribe(self, call: Callable[[], None]) -> None:
        for informer in self.informers.values():
            informer.subscribe(lambda key, old, new: call())

    def read(self) -> SourcesRead:
        def items(kind: str) -> list[dict[str, Any]]:
            informer = self.informers.get(kind)
            return informer.items() if informer is not None else []

        gateways: Mapping[ObjectKey, Mapping[str, Any]] = {_key(g): g for g in items("Gateway")}
        objects = SourceObjects(
            ingresses=items("Ingress"),
            routes={kind: items(kind) for kind in ROUTE_SOURCES.values()},
            gateways=gateways,
            dnsendpoints=items("DNSEndpoint"),
            namespace_labels=namespace_labels(self._namespaces),
        )
        return replace(read_sources(objects, self._settings, self._memo), incomplete=self.incomplete())

    def observe(self, writer: StatusWriter) -> None:
        """Write each DNSEndpoint's status.observedGeneration where it lags its generation, as external-dns does."""
        informer = self.informers.get("DNSEndpoint")
        if informer is None:
            return
        with self._lock:
            for obj in informer.items():
                metadata, status = obj.get("metadata"), obj.get("status")
                generation = metadata.get("generation") if isinstance(metadata, dict) else None
                observed = status.get("observedGeneration") if isinstance(status, dict) else None
                key = _key(obj)
                if type(generation) is not int or observed == generation or self._observed.get(key) == generation:
                    continue
                if self._failed.get((key, generation), -RETRY_SECONDS) > self._clock() - RETRY_SECONDS:
                    continue  # refused a moment ago (RBAC, a webhook): not again at every pass
                with contextlib.suppress(NotLeader):
                    if writer.observed_generation(*DNSENDPOINT_API[:2], DNSENDPOINT_API[2], key, generation):
                        self._observed[key] = generation
                    else:
                        self._failed[(key, generation)] = self._clock()
            present = {_key(o) for o in informer.items()}
            for key in set(self._observed) - present:
                del self._observed[key]
            self._failed = {k: t for k, t in self._failed.items() if k[0] in present}


def _key(obj: Mapping[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return ObjectKey(str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
