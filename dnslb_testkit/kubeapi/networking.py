"""networking.k8s.io/v1 Ingresses and IngressClasses: apiserver's decoding, defaulting, validation (of Kubernetes
1.31, the version the double reports) and the DefaultIngressClass admission plugin.

What an Ingress source meets is checked as a real server checks it: `spec.rules[].host` must be a DNS-1123
subdomain (a leading `*.` label allowed) and not an IP address, `pathType` is required (Exact, Prefix or
ImplementationSpecific) and paths absolute, backends name a Service (DNS-1035 label, a port name or number) or a
resource, `ingressClassName` is a DNS subdomain, TLS hosts and secret names are checked, and a status's
`loadBalancer.ingress[].ip` must be an IP address and `.hostname` a DNS name. Spec changes bump
`metadata.generation`; status is written through /status only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from dnslb_testkit.kubeapi import go_structs as go
from dnslb_testkit.kubeapi.errors import ApiError, FieldCause
from dnslb_testkit.kubeapi.kinds import ResourceKind
from dnslb_testkit.kubeapi.names import (
    SUBDOMAIN_MAX,
    dns1035_label,
    dns1123_label,
    dns1123_subdomain,
    iana_service_name,
)
from dnslb_testkit.kubeapi.strategy import SpecResettingStatus, Strategy

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
PARAMETER_SCOPES = ("Cluster", "Namespace")
MAX_CONTROLLER_LENGTH = 250

_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_WILDCARD_SUBDOMAIN = r"\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_HTTP_PATH = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
_DOTTED_QUAD = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_NOT_AN_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"

# The Go structs of networking/v1, as far as the double decodes them (go_structs).
_TYPED_REFERENCE = go.struct(
    "core.TypedLocalObjectReference", apiGroup=go.pointer(go.string()), kind=go.string(), name=go.string()
)
_BACKEND = go.struct(
    "v1.IngressBackend",
    service=go.struct(
        "v1.IngressServiceBackend",
        name=go.string(),
        port=go.always(go.struct("v1.ServiceBackendPort", name=go.string(), number=go.int32())),
    ),
    resource=_TYPED_REFERENCE,
)
_INGRESS_SPEC = go.struct(
    "v1.IngressSpec",
    ingressClassName=go.pointer(go.string()),
    defaultBackend=_BACKEND,
    tls=go.slice_of(
        go.struct("v1.IngressTLS", hosts=go.slice_of(go.string(omitempty=False), "[]string"), secretName=go.string()),
        "[]v1.IngressTLS",
    ),
    rules=go.slice_of(
        go.struct(
            "v1.IngressRule",
            host=go.string(),
            http=go.struct(
                "v1.HTTPIngressRuleValue",
                paths={
                    **go.slice_of(
                        go.struct(
                            "v1.HTTPIngressPath",
                            path=go.string(),
                            pathType=go.pointer(go.string()),
                            backend=go.always(_BACKEND),
                        ),
                        "[]v1.HTTPIngressPath",
                    ),
                    "omitempty": False,
                },
            ),
        ),
        "[]v1.IngressRule",
    ),
)
_INGRESS_STATUS = go.struct(
    "v1.IngressStatus",
    loadBalancer=go.always(
        go.struct(
            "v1.IngressLoadBalancerStatus",
            ingress=go.slice_of(
                go.struct(
                    "v1.IngressLoadBalancerIngress",
                    ip=go.string(),
                    hostname=go.string(),
                    ports=go.slice_of(
                        go.struct(
                            "v1.IngressPortStatus",
                            port=go.int32(omitempty=False),
                            protocol=go.string(omitempty=False),
                            error=go.pointer(go.string()),
                        ),
                        "[]v1.IngressPortStatus",
                    ),
                ),
                "[]v1.IngressLoadBalancerIngress",
            ),
        )
    ),
)
_INGRESS_CLASS_SPEC = go.struct(
    "v1.IngressClassSpec",
    controller=go.string(),
    parameters=go.struct(
        "v1.IngressClassParametersReference",
        apiGroup=go.pointer(go.string()),
        kind=go.string(),
        name=go.string(),
        scope=go.pointer(go.string()),
        namespace=go.pointer(go.string()),
    ),
)


def is_ip(value: str) -> bool:
    """netutils.ParseIPSloppy: an IPv4 or IPv6 address, IPv4 parts with leading zeros included, no zone."""
    if "%" in value:
        return False
    if _DOTTED_QUAD.fullmatch(value):
        return all(int(part) <= 255 for part in value.split("."))
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def wildcard_dns1123_subdomain(value: str) -> list[str]:
    problems = []
    if len(value) > SUBDOMAIN_MAX:
        problems.append(f"must be no more than {SUBDOMAIN_MAX} characters")
    if not re.fullmatch(_WILDCARD_SUBDOMAIN, value):
        problems.append(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
            "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
            f"(e.g. '*.example.com', regex used for validation is '{_WILDCARD_SUBDOMAIN}')"
        )
    return problems


def _host_causes(field: str, host: str) -> list[FieldCause]:
    check = wildcard_dns1123_subdomain if "*" in host else dns1123_subdomain
    return [FieldCause.invalid(field, host, problem) for problem in check(host)]


def _path_segment(value: str) -> list[str]:
    """IsPathSegmentName: what may name an object in a URL path."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def _typed_reference_causes(reference: Mapping[str, Any], field: str) -> list[FieldCause]:
    causes: list[FieldCause] = []
    if "apiGroup" in reference:
        causes += [FieldCause.invalid(f"{field}.apiGroup", reference["apiGroup"], p)
                   for p in dns1123_subdomain(reference["apiGroup"])]  # fmt: skip
    for name in ("kind", "name"):
        value = reference.get(name, "")
        if not value:
            causes.append(FieldCause.required(f"{field}.{name}"))
        else:
            causes += [FieldCause.invalid(f"{field}.{name}", value, p) for p in _path_segment(value)]
    return causes


def _backend_causes(backend: Mapping[str, Any], field: str) -> list[FieldCause]:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [FieldCause.invalid(field, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_reference_causes(resource, f"{field}.resource")
    if service is None:
        return [FieldCause.invalid(field, "", "resource or service backend is required")]
    causes: list[FieldCause] = []
    name = service.get("name", "")
    if not name:
        causes.append(FieldCause.required(f"{field}.service.name"))
    else:
        causes += [FieldCause.invalid(f"{field}.service.name", name, p) for p in dns1035_label(name)]
    port = service.get("port") or {}
    port_name, number = port.get("name", ""), port.get("number", 0)
    if port_name and number:
        causes.append(FieldCause.invalid(field, "", "cannot set both port name & port number"))
    elif port_name:
        causes += [FieldCause.invalid(f"{field}.service.port.name", port_name, p) for p in iana_service_name(port_name)]
    elif number:
        if not 1 <= number <= 65535:
            causes.append(
                FieldCause.invalid(f"{field}.service.port.number", number, "must be between 1 and 65535, inclusive")
            )
    else:
        causes.append(FieldCause.required(field, "port name or number is required"))
    return causes


def _http_path_causes(path: Mapping[str, Any], field: str) -> list[FieldCause]:
    if "pathType" not in path:
        return [FieldCause.required(f"{field}.pathType", "pathType must be specified")]
    path_type, value = path["pathType"], path.get("path", "")
    causes: list[FieldCause] = []
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            causes.append(FieldCause.invalid(f"{field}.path", value, "must be an absolute path"))
        if value:
            causes += [FieldCause.invalid(f"{field}.path", value, f"must not contain '{sequence}'")
                       for sequence in _INVALID_PATH_SEQUENCES if sequence in value]  # fmt: skip
            causes += [FieldCause.invalid(f"{field}.path", value, f"cannot end with '{suffix}'")
                       for suffix in _INVALID_PATH_SUFFIXES if value.endswith(suffix)]  # fmt: skip
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            causes.append(FieldCause.invalid(f"{field}.path", value, "must be an absolute path"))
    else:
        causes.append(FieldCause.not_supported(f"{field}.pathType", path_type, PATH_TYPES))
    return causes + _backend_causes(path.get("backend") or {}, f"{field}.backend")


def _rule_value_causes(rule: Mapping[str, Any], field: str) -> list[FieldCause]:
    http = rule.get("http")
    if http is None:
        return []
    paths = http.get("paths") or []
    causes = [] if paths else [FieldCause.required(f"{field}.http.paths")]
    for index, path in enumerate(paths):
        causes += _http_path_causes(path, f"{field}.http.paths[{index}]")
    return causes


def _allow_invalid_wildcard_rules(old: Mapping[str, Any] | None) -> bool:
    """Backwards compatibility: a stored Ingress with an invalid rule under a wildcard host may keep it."""
    rules = ((old or {}).get("spec") or {}).get("rules") or []
    return any("*" in rule.get("host", "") and _rule_value_causes(rule, "") for rule in rules)


def _allow_invalid_secret_names(old: Mapping[str, Any] | None) -> bool:
    tls = ((old or {}).get("spec") or {}).get("tls") or []
    return any(entry.get("secretName") and dns1123_subdomain(entry["secretName"]) for entry in tls)


def validate_ingress_spec(spec: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldCause]:
    causes: list[FieldCause] = []
    rules = spec.get("rules") or []
    if not rules and "defaultBackend" not in spec:
        causes.append(
            FieldCause(
                "FieldValueInvalid",
                "spec",
                "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
            )
        )
    if "defaultBackend" in spec:
        causes += _backend_causes(spec["defaultBackend"], "spec.defaultBackend")
    lenient_wildcards = _allow_invalid_wildcard_rules(old)
    for index, rule in enumerate(rules):
        field = f"spec.rules[{index}]"
        host = rule.get("host", "")
        if host:
            if is_ip(host):
                causes.append(FieldCause.invalid(f"{field}.host", host, "must be a DNS name, not an IP address"))
            causes += _host_causes(f"{field}.host", host)
        if "*" not in host or not lenient_wildcards:
            causes += _rule_value_causes(rule, field)
    lenient_secrets = _allow_invalid_secret_names(old)
    for index, entry in enumerate(spec.get("tls") or []):
        for position, host in enumerate(entry.get("hosts") or []):
            causes += _host_causes(f"spec.tls[{index}].hosts[{position}]", host)
        secret = entry.get("secretName", "")
        if secret and not lenient_secrets:
            field = f"spec.tls[{index}].secretName"
            causes += [FieldCause.invalid(field, secret, p) for p in dns1123_subdomain(secret)]
    if "ingressClassName" in spec:
        name = spec["ingressClassName"]
        causes += [FieldCause.invalid("spec.ingressClassName", name, p) for p in dns1123_subdomain(name)]
    return causes


def validate_load_balancer(status: Mapping[str, Any]) -> list[FieldCause]:
    causes: list[FieldCause] = []
    for index, ingress in enumerate((status.get("loadBalancer") or {}).get("ingress") or []):
        field = f"status.loadBalancer.ingress[{index}]"
        address, hostname = ingress.get("ip", ""), ingress.get("hostname", "")
        if address and not is_ip(address):
            causes.append(FieldCause.invalid(f"{field}.ip", address, _NOT_AN_IP))
        if hostname:
            causes += [FieldCause.invalid(f"{field}.hostname", hostname, p) for p in dns1123_subdomain(hostname)]
            if is_ip(hostname):
                causes.append(
                    FieldCause.invalid(f"{field}.hostname", hostname, "must be a DNS name, not an IP address")
                )
    return causes


class IngressStrategy(SpecResettingStatus):
    """`default_classes` names the IngressClasses annotated as the default (for the DefaultIngressClass
    admission plugin, which kube-apiserver enables by default)."""

    def __init__(self, kind: ResourceKind, default_classes: Callable[[], list[str]]) -> None:
        super().__init__(kind)
        self._default_classes = default_classes

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {}

    def normalize(self, obj: dict[str, Any]) -> None:
        _drop_unknown_fields(obj, ("spec", "status"))
        obj["spec"] = go.decode(obj.get("spec", {}), _INGRESS_SPEC, "spec", "Ingress")
        obj["status"] = go.decode(obj.get("status", {}), _INGRESS_STATUS, "status", "Ingress")

    def default(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if old is None:
            self._admit_default_class(obj)

    def _admit_default_class(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if "ingressClassName" in obj["spec"] or INGRESS_CLASS_ANNOTATION in (meta.get("annotations") or {}):
            return
        defaults = self._default_classes()
        if len(defaults) > 1:
            name = meta.get("name") or meta.get("generateName") or ""
            raise ApiError(
                403,
                "Forbidden",
                f'ingresses.networking.k8s.io "{name}" is forbidden: Internal error occurred: '
                f"{len(defaults)} default IngressClasses were found, only 1 allowed",
                details={"name": name, "group": "networking.k8s.io", "kind": "ingresses"},
            )
        if defaults:
            obj["spec"]["ingressClassName"] = defaults[0]

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        causes = validate_ingress_spec(obj["spec"], old)
        annotation = (obj["metadata"].get("annotations") or {}).get(INGRESS_CLASS_ANNOTATION)
        class_name = obj["spec"].get("ingressClassName")
        if old is None and annotation is not None and class_name is not None and annotation != class_name:
            causes.append(
                FieldCause.invalid(
                    f"annotations.{INGRESS_CLASS_ANNOTATION}",
                    annotation,
                    "must match `ingressClassName` when both are specified",
                )
            )
        return causes

    def validate_status(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
        return validate_load_balancer(obj["status"])


class IngressClassStrategy(Strategy):
    def normalize(self, obj: dict[str, Any]) -> None:
        _drop_unknown_fields(obj, ("spec",))
        obj["spec"] = go.decode(obj.get("spec", {}), _INGRESS_CLASS_SPEC, "spec", "IngressClass")

    def default(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        parameters = obj["spec"].get("parameters")
        if parameters is not None:
            parameters.setdefault("scope", "Cluster")

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        spec = obj["spec"]
        controller = spec.get("controller", "")
        causes: list[FieldCause] = []
        if old is not None and controller != (old.get("spec") or {}).get("controller", ""):
            causes.append(FieldCause.immutable("spec.controller", controller))
        if len(controller) > MAX_CONTROLLER_LENGTH:
            causes.append(FieldCause.too_long("spec.controller", MAX_CONTROLLER_LENGTH))
        causes += _domain_prefixed_path("spec.controller", controller)
        if "parameters" in spec:
            causes += _parameters_causes(spec["parameters"], "spec.parameters")
        return causes


def _drop_unknown_fields(obj: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Decoding into the kind's Go struct drops every top-level field it does not have."""
    for field in [f for f in obj if f not in ("apiVersion", "kind", "metadata", *fields)]:
        del obj[field]


def _domain_prefixed_path(field: str, value: str) -> list[FieldCause]:
    if not value:
        return [FieldCause.required(field)]
    host, slash, path = value.partition("/")
    if not slash or not host or not path:
        return [FieldCause.invalid(field, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    causes = [FieldCause.invalid(field, host, p) for p in dns1123_subdomain(host)]
    if not re.fullmatch(_HTTP_PATH, path):
        causes.append(FieldCause.invalid(field, path, f"Invalid path (regex used for validation is '{_HTTP_PATH}')"))
    return causes


def _parameters_causes(parameters: Mapping[str, Any], field: str) -> list[FieldCause]:
    causes = _typed_reference_causes(parameters, field)
    scope = parameters.get("scope")
    if scope is None:
        return [*causes, FieldCause.required(f"{field}.scope")]
    if scope not in PARAMETER_SCOPES:
        return [*causes, FieldCause.not_supported(f"{field}.scope", scope, PARAMETER_SCOPES)]
    namespace = parameters.get("namespace")
    if scope == "Namespace":
        if namespace is None:
            causes.append(FieldCause.required(f"{field}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            causes += [FieldCause.invalid(f"{field}.namespace", namespace, p) for p in dns1123_label(namespace)]
    elif namespace is not None:
        causes.append(FieldCause.forbidden(f"{field}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return causes
