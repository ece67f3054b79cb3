"""Builders for the pure-core tests: Services and pools from the same dicts the API and YAML files give."""

from __future__ import annotations

from typing import Any

from dnslb.core.config import AddressPool
from dnslb.core.model import ServiceView, service_view


def make_service(
    name: str,
    namespace: str = "default",
    *,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    created: str = "",
    ingress: tuple[str, ...] = (),
    ports: tuple[int | tuple[int, str], ...] = (80,),
    **spec: Any,
) -> ServiceView:
    port_list = [
        {"port": p, "protocol": "TCP"} if isinstance(p, int) else {"port": p[0], "protocol": p[1]} for p in ports
    ]
    return service_view(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": annotations or {},
                "labels": labels or {},
                "creationTimestamp": created,
            },
            "spec": {"type": "LoadBalancer", "ports": port_list, **spec},
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}},
        }
    )


def make_pool(name: str, *addresses: str, **spec: Any) -> AddressPool:
    return AddressPool.model_validate(
        {
            "apiVersion": "dnslb.io/v1alpha1",
            "kind": "AddressPool",
            "metadata": {"name": name},
            "spec": {"addresses": list(addresses), **spec},
        }
    )
