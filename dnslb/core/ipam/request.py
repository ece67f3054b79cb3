"""What a Service asks of IPAM, read from its spec and annotations. Bad input becomes a Diagnostic, never an
exception."""

from __future__ import annotations

from dataclasses import dataclass

from dnslb.core import annotations as ann
from dnslb.core.diagnostics import ALLOCATION_FAILED, Diagnostic
from dnslb.core.grammar import IPAddress, parse_ip, trim
from dnslb.core.model import Port, ServiceView
from dnslb.core.objects import ObjectKey, service_ref

FAMILY = {"IPv4": 4, "IPv6": 6}
FAMILY_NAME = {4: "IPv4", 6: "IPv6"}


@dataclass(frozen=True)
class Request:
    key: ObjectKey
    service_labels: tuple[tuple[str, str], ...]
    families: tuple[int, ...]
    policy: str
    pool: str | None = None
    pool_field: str | None = None
    requested: tuple[IPAddress, ...] = ()
    requested_field: str | None = None
    sharing_key: str = ""
    backend: str = ""
    ports: frozenset[Port] = frozenset()
    problems: tuple[Diagnostic, ...] = ()

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.service_labels)


@dataclass(frozen=True)
class ClassFilter:
    """Which LoadBalancer Services this dnslb serves, by `spec.loadBalancerClass`: those of class `name` (None: those
    without a class); with `default`, also those without a class, as the cluster's default load balancer."""

    name: str | None = None
    default: bool = False


CLASSLESS = ClassFilter()  # the default: Services without a loadBalancerClass


def not_handled_because(service: ServiceView, classes: ClassFilter) -> str | None:
    """Why dnslb leaves this Service alone, or None when it is ours to serve."""
    if service.type != "LoadBalancer":
        return f"type is {service.type}"
    if service.load_balancer_class == classes.name:
        return None
    if service.load_balancer_class is None:
        if classes.default:
            return None
        return f"no loadBalancerClass; this dnslb serves class {classes.name}"
    return f"loadBalancerClass {service.load_balancer_class} belongs to another load balancer"


def request_for(service: ServiceView) -> Request:
    problems: list[Diagnostic] = []
    families = _families(service)
    pool = _set(ann.lookup(service.annotations, ann.ADDRESS_POOL))
    sharing = ann.lookup(service.annotations, ann.ALLOW_SHARED_IP)
    requested, requested_field = _requested(service, families, problems)
    backend = ""
    if service.external_traffic_policy == "Local":
        # Local traffic only reaches pods on the announcing node, so sharers must select the same pods.
        backend = ",".join(f"{k}={v}" for k, v in sorted(service.selector.items())) or "<no selector>"
    return Request(
        key=service.key,
        service_labels=tuple(sorted(service.labels.items())),
        families=families,
        policy=service.ip_family_policy,
        pool=trim(pool[1]) if pool and trim(pool[1]) else None,
        pool_field=ann.field(pool[0]) if pool else None,
        requested=requested,
        requested_field=requested_field,
        sharing_key=trim(sharing[1]) if sharing else "",
        backend=backend,
        ports=frozenset(service.ports),
        problems=tuple(problems),
    )


def _families(service: ServiceView) -> tuple[int, ...]:
    families = tuple(FAMILY[f] for f in service.ip_families if f in FAMILY) or (4,)
    # PreferDualStack lists one family on a single-stack cluster: a VIP of the other family would not be served.
    return families[:1] if service.ip_family_policy == "SingleStack" else families


def _requested(
    service: ServiceView, families: tuple[int, ...], problems: list[Diagnostic]
) -> tuple[tuple[IPAddress, ...], str | None]:
    found = _set(ann.lookup(service.annotations, ann.LOAD_BALANCER_IPS))
    spec_ip = service.load_balancer_ip
    if found is None and spec_ip is None:
        return (), None
    if found is not None:
        field, text = ann.field(found[0]), found[1]
        if spec_ip is not None:  # as MetalLB: refused even when the two agree
            message = (
                f"'{spec_ip}' is set together with {field} '{text}'; keep one (both are refused, even when they agree)"
            )
            problems.append(_refused(service, "spec.loadBalancerIP", message))
            return (), field
    else:
        field, text = "spec.loadBalancerIP", spec_ip or ""
    ips: list[IPAddress] = []
    for part in (trim(p) for p in text.split(",")):
        try:
            ips.append(parse_ip(part))
        except ValueError:
            problems.append(_refused(service, field, f"'{part}' is not an IP address"))
            return (), field
    versions = [ip.version for ip in ips]
    if len(set(versions)) != len(versions):
        problems.append(
            _refused(service, field, f"'{text}' asks for two {FAMILY_NAME[versions[0]]} addresses; one per family")
        )
    elif any(v not in families for v in versions):
        allowed = ", ".join(FAMILY_NAME[f] for f in families)
        problems.append(_refused(service, field, f"'{text}' is not of the Service's IP families ({allowed})"))
    elif service.ip_family_policy == "RequireDualStack" and len(ips) == 1:
        problems.append(_refused(service, field, f"'{text}': RequireDualStack needs one IPv4 and one IPv6 address"))
    return tuple(ips), field


def _set(found: tuple[str, str] | None) -> tuple[str, str] | None:
    """An annotation present but empty is not set, as MetalLB reads it (and it still hides a later spelling)."""
    return found if found is not None and trim(found[1]) else None


def _refused(service: ServiceView, field: str, message: str) -> Diagnostic:
    return Diagnostic(service_ref(service.key), ALLOCATION_FAILED, message, field=field)
