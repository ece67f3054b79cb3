"""Service validation, with apiserver's field paths and reasons."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from dnslb_testkit.kubeapi.allocators import ip_family
from dnslb_testkit.kubeapi.errors import FieldCause, bad_request
from dnslb_testkit.kubeapi.names import dns1123_label, dns1123_subdomain, iana_service_name, qualified_name
from dnslb_testkit.kubeapi.service_spec import (
    IP_FAMILIES,
    IP_FAMILY_POLICIES,
    IP_MODES,
    PROTOCOLS,
    SESSION_AFFINITIES,
    TRAFFIC_POLICIES,
    externally_accessible,
    is_headless,
    is_int,
    needs_health_check_port,
    service_ports,
)


def validate_external_name(spec: Mapping[str, Any]) -> list[FieldCause]:
    causes = []
    name = spec.get("externalName")
    if not name:
        causes.append(FieldCause.required("spec.externalName"))
    else:
        causes += [FieldCause.invalid("spec.externalName", name, p) for p in dns1123_subdomain(str(name).rstrip("."))]
    if spec.get("clusterIP") or spec.get("clusterIPs"):
        causes.append(FieldCause.forbidden("spec.clusterIPs", "may not be set when `type` is 'ExternalName'"))
    if spec.get("ipFamilyPolicy") or spec.get("ipFamilies"):
        causes.append(FieldCause.forbidden("spec.ipFamilyPolicy", "may not be set when `type` is 'ExternalName'"))
    return causes


def validate_ports(spec: Mapping[str, Any]) -> list[FieldCause]:
    causes: list[FieldCause] = []
    ports = service_ports(spec)
    seen_names: set[str] = set()
    seen_ports: set[tuple[Any, Any]] = set()
    node_ports_allowed = spec.get("type") in ("NodePort", "LoadBalancer")
    for index, port in enumerate(ports):
        here = f"spec.ports[{index}]"
        name = port.get("name") or ""
        if not name:
            if len(ports) > 1:
                causes.append(FieldCause.required(f"{here}.name"))
        else:
            causes += [FieldCause.invalid(f"{here}.name", name, p) for p in dns1123_label(name)]
            if name in seen_names:
                causes.append(FieldCause.duplicate(f"{here}.name", name))
            seen_names.add(name)
        number = port.get("port")
        if not is_int(number) or not 1 <= number <= 65535:
            causes.append(FieldCause.invalid(f"{here}.port", number, "must be between 1 and 65535, inclusive"))
        protocol = port.get("protocol")
        if protocol not in PROTOCOLS:
            causes.append(FieldCause.not_supported(f"{here}.protocol", protocol, PROTOCOLS))
        if (number, protocol) in seen_ports:
            causes.append(FieldCause.duplicate(here, {"port": number, "protocol": protocol}))
        seen_ports.add((number, protocol))
        target = port.get("targetPort")
        if is_int(target):
            if not 1 <= target <= 65535:
                causes.append(
                    FieldCause.invalid(f"{here}.targetPort", target, "must be between 1 and 65535, inclusive")
                )
        elif isinstance(target, str):
            causes += [FieldCause.invalid(f"{here}.targetPort", target, p) for p in iana_service_name(target)]
        node_port = port.get("nodePort")
        if node_port and not node_ports_allowed:
            causes.append(
                FieldCause.forbidden(f"{here}.nodePort", f"may not be used when `type` is '{spec.get('type')}'")
            )
    return causes


def validate_policies(spec: Mapping[str, Any]) -> list[FieldCause]:
    causes = []
    affinity = spec.get("sessionAffinity")
    if affinity not in SESSION_AFFINITIES:
        causes.append(FieldCause.not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    elif affinity == "ClientIP":
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        if not is_int(timeout) or not 0 < timeout <= 86400:
            causes.append(
                FieldCause.invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    timeout,
                    "must be greater than 0 and less than 86400",
                )
            )
    for field in ("internalTrafficPolicy", "externalTrafficPolicy"):
        value = spec.get(field)
        if value is not None and value not in TRAFFIC_POLICIES:
            causes.append(FieldCause.not_supported(f"spec.{field}", value, TRAFFIC_POLICIES))
    if spec.get("externalTrafficPolicy") and not externally_accessible(spec):
        causes.append(
            FieldCause.invalid(
                "spec.externalTrafficPolicy",
                spec["externalTrafficPolicy"],
                "may only be set for externally-accessible services",
            )
        )
    if spec.get("healthCheckNodePort") and not needs_health_check_port(spec):
        causes.append(
            FieldCause.invalid(
                "spec.healthCheckNodePort",
                spec["healthCheckNodePort"],
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            )
        )
    return causes


def validate_ip_families(spec: Mapping[str, Any]) -> list[FieldCause]:
    if spec.get("type") == "ExternalName":
        return []
    causes = []
    policy = spec.get("ipFamilyPolicy")
    if policy not in IP_FAMILY_POLICIES:
        causes.append(FieldCause.not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    families = spec.get("ipFamilies") or []
    for index, family in enumerate(families):
        if family not in IP_FAMILIES:
            causes.append(FieldCause.not_supported(f"spec.ipFamilies[{index}]", family, IP_FAMILIES))
        elif family in families[:index]:
            causes.append(FieldCause.duplicate(f"spec.ipFamilies[{index}]", family))
    if len(families) > 2:
        causes.append(FieldCause.invalid("spec.ipFamilies", families, "may not have more than 2 families"))
    if policy == "SingleStack" and len(families) > 1:
        causes.append(
            FieldCause.invalid(
                "spec.ipFamilies", families, "when ipFamilyPolicy is SingleStack only one IP family may be specified"
            )
        )
    addresses = spec.get("clusterIPs") or []
    if spec.get("clusterIP") and addresses and spec["clusterIP"] != addresses[0]:
        causes.append(FieldCause.invalid("spec.clusterIPs", addresses, "first value must match `clusterIP`"))
    if is_headless(spec):
        return causes
    for index, address in enumerate(addresses):
        family = ip_family(address)
        if family is None:
            causes.append(
                FieldCause.invalid(
                    f"spec.clusterIPs[{index}]",
                    address,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
        elif index < len(families) and family != families[index]:
            causes.append(
                FieldCause.invalid(
                    f"spec.clusterIPs[{index}]",
                    address,
                    f"expected an {families[index]} value as indicated by `ipFamilies[{index}]`",
                )
            )
        elif index >= len(families):
            causes.append(
                FieldCause.invalid(
                    f"spec.clusterIPs[{index}]", address, "may specify no more than one IP for each IP family"
                )
            )
    return causes


def validate_load_balancer_fields(spec: Mapping[str, Any], old_spec: Mapping[str, Any] | None) -> list[FieldCause]:
    causes = []
    is_lb = spec.get("type") == "LoadBalancer"
    if "allocateLoadBalancerNodePorts" in spec and not is_lb:
        causes.append(
            FieldCause.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
        )
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        if not is_lb:
            causes.append(
                FieldCause.forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")
            )
        elif not isinstance(lb_class, str):
            causes.append(FieldCause.invalid("spec.loadBalancerClass", lb_class, "must be a string"))
        else:
            causes += [FieldCause.invalid("spec.loadBalancerClass", lb_class, p) for p in qualified_name(lb_class)]
    stays_lb = old_spec is not None and is_lb and old_spec.get("type") == "LoadBalancer"
    if stays_lb and old_spec is not None and old_spec.get("loadBalancerClass") != lb_class:
        if old_spec.get("loadBalancerClass") is None:
            causes.append(FieldCause.invalid("spec.loadBalancerClass", lb_class, "may not change once set"))
        else:
            causes.append(FieldCause.immutable("spec.loadBalancerClass", lb_class))
    if spec.get("loadBalancerIP"):
        try:
            ipaddress.ip_address(spec["loadBalancerIP"])
        except ValueError:
            causes.append(
                FieldCause.invalid("spec.loadBalancerIP", spec["loadBalancerIP"], "must be a valid IP address")
            )
    for index, address in enumerate(spec.get("externalIPs") or []):
        if ip_family(address) is None:
            causes.append(FieldCause.invalid(f"spec.externalIPs[{index}]", address, "must be a valid IP address"))
    ranges = spec.get("loadBalancerSourceRanges") or []
    if ranges and not is_lb:
        causes.append(
            FieldCause.forbidden("spec.loadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
        )
    for index, cidr in enumerate(ranges):
        try:
            ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            causes.append(FieldCause.invalid(f"spec.loadBalancerSourceRanges[{index}]", cidr, "must be a valid CIDR"))
    return causes


def validate_immutable_ips(spec: Mapping[str, Any], old_spec: Mapping[str, Any]) -> list[FieldCause]:
    if spec.get("type") == "ExternalName" or old_spec.get("type") == "ExternalName":
        return []
    causes = []
    old_ips = old_spec.get("clusterIPs") or []
    new_ips = spec.get("clusterIPs") or []
    if old_ips and (not new_ips or new_ips[0] != old_ips[0]):
        causes.append(FieldCause.immutable("spec.clusterIP", spec.get("clusterIP", "")))
        causes.append(FieldCause.invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    elif len(old_ips) > 1 and len(new_ips) > 1 and new_ips[1] != old_ips[1]:
        causes.append(FieldCause.invalid("spec.clusterIPs[1]", new_ips, "may not change once set"))
    old_families = old_spec.get("ipFamilies") or []
    new_families = spec.get("ipFamilies") or []
    if old_families and new_families and old_families[0] != new_families[0]:
        causes.append(FieldCause.invalid("spec.ipFamilies[0]", new_families[0], "may not change once set"))
    return causes


def validate_ingress(path: str, ingress: Any) -> list[FieldCause]:
    if not isinstance(ingress, dict):
        raise bad_request(f"json: cannot unmarshal into Go struct field {path} of type v1.LoadBalancerIngress")
    causes = []
    address = ingress.get("ip")
    if address and ip_family(address) is None:
        causes.append(FieldCause.invalid(f"{path}.ip", address, "must be a valid IP address"))
    hostname = ingress.get("hostname")
    if hostname:
        causes += [FieldCause.invalid(f"{path}.hostname", hostname, p) for p in dns1123_subdomain(hostname)]
        if ip_family(hostname):
            causes.append(FieldCause.invalid(f"{path}.hostname", hostname, "must be a DNS name, not an IP address"))
    mode = ingress.get("ipMode")
    if mode is not None:
        if not address:
            causes.append(FieldCause.forbidden(f"{path}.ipMode", "may not be specified when `ip` is not"))
        elif mode not in IP_MODES:
            causes.append(FieldCause.not_supported(f"{path}.ipMode", mode, IP_MODES))
    for index, port in enumerate(ingress.get("ports") or []):
        if not isinstance(port, dict) or not is_int(port.get("port")):
            causes.append(FieldCause.required(f"{path}.ports[{index}].port"))
        elif port.get("protocol") not in PROTOCOLS:
            causes.append(FieldCause.not_supported(f"{path}.ports[{index}].protocol", port.get("protocol"), PROTOCOLS))
    return causes
