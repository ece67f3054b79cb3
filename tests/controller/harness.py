"""Running `dnslb controller` as the operator would: its own process, against the API double in another process."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import kubernetes.client as k8s
from kubernetes.client.rest import ApiException

from dnslb.adapters.child import Child
from dnslb_testkit.ports import free_port
from dnslb_testkit.servers.bind import BindServer
from dnslb_testkit.waiting import wait_for as typed_wait_for

NAMESPACE = "dnslb-system"

# The test kit's wait_for, as the controller and speaker tests import it: they were written against one returning Any.
wait_for: Callable[..., Any] = typed_wait_for


class ControllerProcess:
    def __init__(self, where: tuple[str, str], log_dir: Path, *extra: str, name: str = "controller") -> None:
        """`where` is ("--api-server", URL) or ("--kubeconfig", PATH)."""
        self.port = free_port()
        self.log_path = log_dir / f"{name}-{self.port}.log"
        command = [
            sys.executable, "-m", "dnslb.app.cli", "controller", *where, "--namespace", NAMESPACE,
            "--metrics-addr", f"127.0.0.1:{self.port}", "--log-format", "logfmt", *extra,
        ]  # fmt: skip
        if not any(a.startswith("--leader-elect") for a in extra):
            command.append("--leader-elect=false")
        self.process = Child.start(command, name=name, log=self.log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def probe(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            text: str = response.read().decode()
            return text

    def wait_ready(self, timeout: float = 30.0) -> None:
        self.process.wait_ready(lambda: self.probe("/readyz") == 200, timeout, "become ready")

    def kill(self) -> None:
        self.process.kill()

    def stop(self) -> int:
        return self.process.stop(15)


def with_retries(call: Callable[[], Any], attempts: int = 10) -> Any:
    """For a test's own calls while the double injects failures."""
    for attempt in range(attempts):
        try:
            return call()
        except ApiException as exc:
            if exc.status < 500 or attempt == attempts - 1:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


def ensure_namespace(core: k8s.CoreV1Api, name: str) -> None:
    try:
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except ApiException as exc:
        if exc.status != 409:
            raise


def apply_pool(custom: k8s.CustomObjectsApi, name: str, *addresses: str, **spec: Any) -> None:
    body: dict[str, Any] = {
        "apiVersion": "dnslb.io/v1alpha1",
        "kind": "AddressPool",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"dnslb.io/test": "controller"}},
        "spec": {"addresses": list(addresses), **spec},
    }
    try:
        custom.create_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "addresspools", body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        current = custom.get_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "addresspools", name)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        custom.replace_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "addresspools", name, body)


def service_body(
    name: str, *, port: int = 80, annotations: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": port}], **spec},
    }


def vips(core: k8s.CoreV1Api, namespace: str | None = None) -> dict[str, tuple[str, ...]]:
    """Service name → VIPs in its status, for every LoadBalancer Service (no VIP: empty tuple)."""
    listing = core.list_namespaced_service(namespace) if namespace else core.list_service_for_all_namespaces()
    out = {}
    for service in listing.items:
        if service.spec.type != "LoadBalancer":
            continue
        ingress = (
            service.status.load_balancer.ingress if service.status and service.status.load_balancer else None
        ) or []
        out[f"{service.metadata.namespace}/{service.metadata.name}"] = tuple(i.ip for i in ingress)
    return out


def duplicates(assigned: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    holders: dict[str, list[str]] = {}
    for service, ips in assigned.items():
        for ip in ips:
            holders.setdefault(ip, []).append(service)
    return {ip: names for ip, names in holders.items() if len(names) > 1}


def events_for(core: k8s.CoreV1Api, namespace: str, name: str, reasons: Iterable[str] | None = None) -> list[Any]:
    wanted = set(reasons) if reasons else None
    return [
        e
        for e in core.list_namespaced_event(namespace).items
        if e.involved_object.name == name and (wanted is None or e.reason in wanted)
    ]


def apply_provider(custom: k8s.CustomObjectsApi, name: str, spec: dict[str, Any]) -> None:
    """A DNSProvider; publishing once the VIP is allocated unless `spec` says: these tests run no speakers."""
    spec = {"publishWhen": "Allocated", **spec}
    body: dict[str, Any] = {
        "apiVersion": "dnslb.io/v1alpha1",
        "kind": "DNSProvider",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"dnslb.io/test": "controller"}},
        "spec": spec,
    }
    custom.create_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "dnsproviders", body)


def answer(bind: BindServer, name: str, rdtype: str = "A") -> tuple[int, list[str]]:
    """(rcode, values) as BIND answers a query for `name`, over TCP."""
    response = dns.query.tcp(dns.message.make_query(name, rdtype), bind.address, port=bind.port, timeout=3)
    return response.rcode(), sorted(r.to_text() for rrset in response.answer for r in rrset)
