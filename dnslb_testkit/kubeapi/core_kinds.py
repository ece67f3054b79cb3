"""Rules of the simple kinds: Namespaces, Nodes, Events, ConfigMaps, Secrets, EndpointSlices, Leases and the
custom resources. Services and the networking.k8s.io kinds have their own modules."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from dnslb_testkit.kubeapi import schemas
from dnslb_testkit.kubeapi.errors import FieldCause, bad_request
from dnslb_testkit.kubeapi.names import LABEL_NAMES, dns1123_subdomain
from dnslb_testkit.kubeapi.strategic import PRIMITIVE_SET, Path
from dnslb_testkit.kubeapi.strategy import SpecResettingStatus, Strategy, normalize_condition_times
from dnslb_testkit.kubeapi.timestamps import normalize_micro_time, normalize_time

_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")


class NamespaceStrategy(SpecResettingStatus):
    name_rule = LABEL_NAMES
    selectable_fields: Mapping[str, str] = {"status.phase": "status.phase"}

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("finalizers", ["kubernetes"])

    def default(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        meta = obj["metadata"]
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]


class NodeStrategy(SpecResettingStatus):
    list_strategies: Mapping[Path, str] = {
        ("status", "conditions"): "type",
        ("status", "addresses"): "type",
        ("spec", "podCIDRs"): PRIMITIVE_SET,
    }
    selectable_fields: Mapping[str, str] = {"spec.unschedulable": "spec.unschedulable"}

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """The kubelet registers its Node with a status, and apiserver keeps it."""

    def normalize(self, obj: dict[str, Any]) -> None:
        status = obj.get("status")
        if isinstance(status, dict):
            normalize_condition_times(
                status.get("conditions"), "status.conditions", ("lastHeartbeatTime", "lastTransitionTime")
            )

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        causes = []
        spec = obj.get("spec") or {}
        for index, taint in enumerate(spec.get("taints") or []):
            effect = taint.get("effect") if isinstance(taint, dict) else None
            if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                causes.append(
                    FieldCause.not_supported(
                        f"spec.taints[{index}].effect", effect, ("NoExecute", "NoSchedule", "PreferNoSchedule")
                    )
                )
        for index, cidr in enumerate(spec.get("podCIDRs") or []):
            try:
                ipaddress.ip_network(cidr)
            except (TypeError, ValueError):
                causes.append(FieldCause.invalid(f"spec.podCIDRs[{index}]", cidr, "must be a valid CIDR"))
        return causes

    def validate_status(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
        causes = []
        for index, condition in enumerate((obj.get("status") or {}).get("conditions") or []):
            if isinstance(condition, dict) and not condition.get("type"):
                causes.append(FieldCause.required(f"status.conditions[{index}].type"))
        return causes


class EventStrategy(Strategy):
    selectable_fields: Mapping[str, str] = {
        **{
            f"involvedObject.{f}": f"involvedObject.{f}"
            for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        },
        "reason": "reason",
        "type": "type",
        "source": "source.component",
        "reportingComponent": "reportingComponent",
    }

    def normalize(self, obj: dict[str, Any]) -> None:
        for field in ("firstTimestamp", "lastTimestamp"):
            if obj.get(field) is not None:
                obj[field] = normalize_time(obj[field], field)
        if obj.get("eventTime") is not None:
            obj["eventTime"] = normalize_micro_time(obj["eventTime"], "eventTime")
        series = obj.get("series")
        if isinstance(series, dict) and series.get("lastObservedTime") is not None:
            series["lastObservedTime"] = normalize_micro_time(series["lastObservedTime"], "series.lastObservedTime")

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        causes = []
        involved = obj.get("involvedObject")
        if not isinstance(involved, dict):
            raise bad_request("json: cannot unmarshal into Go struct field Event.involvedObject")
        namespace = obj["metadata"].get("namespace")
        if involved.get("namespace") and involved["namespace"] != namespace:
            causes.append(
                FieldCause.invalid("involvedObject.namespace", involved["namespace"], "does not match event.namespace")
            )
        if obj.get("type") not in (None, "", "Normal", "Warning"):
            causes.append(FieldCause.not_supported("type", obj.get("type"), ("Normal", "Warning")))
        if obj.get("eventTime") and not obj.get("reportingComponent"):
            causes.append(FieldCause.required("reportingController", "needs to be set when eventTime is set"))
        return causes


def _validate_immutable_data(
    obj: dict[str, Any], old: dict[str, Any] | None, fields: tuple[str, ...]
) -> list[FieldCause]:
    if not old or not old.get("immutable"):
        return []
    causes = []
    if obj.get("immutable") is not True:
        causes.append(FieldCause.forbidden("immutable", "field is immutable when `immutable` is set"))
    for field in fields:
        if obj.get(field) != old.get(field):
            causes.append(FieldCause.forbidden(field, "field is immutable when `immutable` is set"))
    return causes


def _string_map(obj: dict[str, Any], field: str) -> dict[str, str]:
    value = obj.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise bad_request(f"json: cannot unmarshal into Go struct field .{field} of type map[string]string")
    return value


def _validate_config_keys(keys: Mapping[str, Any], field: str) -> list[FieldCause]:
    causes = []
    for key in keys:
        if not _CONFIG_KEY.fullmatch(key) or key in (".", ".."):
            causes.append(
                FieldCause.invalid(
                    field, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
                )
            )
    return causes


MAX_CONFIG_MAP_BYTES = 1024 * 1024


class ConfigMapStrategy(Strategy):
    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        data = _string_map(obj, "data")
        binary = _string_map(obj, "binaryData")
        causes = _validate_config_keys(data, "data") + _validate_config_keys(binary, "binaryData")
        for key in set(data) & set(binary):
            causes.append(FieldCause.invalid("data", key, "duplicate of key present in binaryData"))
        size = sum(len(k) + len(v.encode()) for k, v in data.items()) + sum(len(k) + len(v) for k, v in binary.items())
        if size > MAX_CONFIG_MAP_BYTES:  # kube-apiserver: the data of a ConfigMap fits in 1 MiB
            causes.append(
                FieldCause("FieldValueTooLong", "", f"Too long: must have at most {MAX_CONFIG_MAP_BYTES} bytes")
            )
        return causes + _validate_immutable_data(obj, old, ("data", "binaryData"))


class SecretStrategy(Strategy):
    selectable_fields: Mapping[str, str] = {"type": "type"}

    def default(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        obj.setdefault("type", "Opaque")
        string_data = _string_map(obj, "stringData")
        if string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(value.encode()).decode()
        obj.pop("stringData", None)

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        data = _string_map(obj, "data")
        for value in data.values():
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                raise bad_request("illegal base64 data in Secret.data") from None
        causes = _validate_config_keys(data, "data")
        if old and old.get("type") != obj.get("type"):
            causes.append(FieldCause.immutable("type", obj.get("type")))
        return causes + _validate_immutable_data(obj, old, ("data",))


class EndpointSliceStrategy(Strategy):
    _ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")

    def default(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for port in obj.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        causes = []
        address_type = obj.get("addressType")
        if not address_type:
            causes.append(FieldCause.required("addressType"))
        elif address_type not in self._ADDRESS_TYPES:
            causes.append(FieldCause.not_supported("addressType", address_type, self._ADDRESS_TYPES))
        elif old and old.get("addressType") != address_type:
            causes.append(FieldCause.immutable("addressType", address_type))
        for index, endpoint in enumerate(obj.get("endpoints") or []):
            addresses = endpoint.get("addresses") if isinstance(endpoint, dict) else None
            if not addresses:
                causes.append(FieldCause.required(f"endpoints[{index}].addresses", "must contain at least 1 address"))
                continue
            for position, address in enumerate(addresses):
                causes += _endpoint_address_causes(f"endpoints[{index}].addresses[{position}]", address, address_type)
        for index, port in enumerate(obj.get("ports") or []):
            number = port.get("port") if isinstance(port, dict) else None
            if number is not None and not (isinstance(number, int) and 1 <= number <= 65535):
                causes.append(
                    FieldCause.invalid(f"ports[{index}].port", number, "must be between 1 and 65535, inclusive")
                )
        return causes


def _endpoint_address_causes(field: str, address: Any, address_type: Any) -> list[FieldCause]:
    if address_type == "FQDN":
        return [FieldCause.invalid(field, address, p) for p in dns1123_subdomain(str(address))]
    try:
        parsed = ipaddress.ip_address(address)
    except (TypeError, ValueError):
        return [FieldCause.invalid(field, address, "must be a valid IP address")]
    if address_type == "IPv4" and parsed.version != 4:
        return [FieldCause.invalid(field, address, "must be an IPv4 address")]
    if address_type == "IPv6" and parsed.version != 6:
        return [FieldCause.invalid(field, address, "must be an IPv6 address")]
    return []


class LeaseStrategy(Strategy):
    def normalize(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for field in ("acquireTime", "renewTime"):
                if spec.get(field) is not None:
                    spec[field] = normalize_micro_time(spec[field], f"spec.{field}")

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        spec = obj.get("spec") or {}
        causes = []
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            causes.append(FieldCause.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
            causes.append(
                FieldCause.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
            )
        return causes


class CustomResourceStrategy(Strategy):
    """Custom resources (dnslb.io's, the Gateway API's, external-dns's DNSEndpoint), held to their CRDs' structural
    schemas as kube-apiserver holds them: pruned, defaulted, validated (dnslb's schemas come from the same models as
    deploy/crds, the others from dnslb_testkit/crds)."""

    _schemas: dict[str, dict[str, Any]] = {}

    def _schema(self) -> dict[str, Any]:
        if not CustomResourceStrategy._schemas:
            CustomResourceStrategy._schemas = schemas.schemas()
        return CustomResourceStrategy._schemas[self.kind.kind]

    def default(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Every field but type meta and metadata is pruned to the schema and defaulted, the root's own defaults
        included: a Gateway's `status` default shows on a Gateway no controller has written to yet, as it does
        on a real server (which defaults what it reads from storage)."""
        schema = self._schema()
        properties = {k: v for k, v in (schema.get("properties") or {}).items() if k not in _TYPE_AND_METADATA}
        for field in [f for f in obj if f not in _TYPE_AND_METADATA]:
            if field in properties:
                obj[field] = schemas.prune(obj[field], properties[field])
            elif not schema.get(schemas.PRESERVE_UNKNOWN_FIELDS):
                del obj[field]
        schemas.default(obj, {"properties": properties})

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        spec = obj.get("spec")
        if spec is not None and not isinstance(spec, dict):
            return [FieldCause.invalid("spec", spec, "must be of type object")]
        return schemas.validate(_without_metadata(obj), self._schema(), None if old is None else _without_metadata(old))

    def validate_status(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
        return self.validate(obj, old)


_TYPE_AND_METADATA = ("apiVersion", "kind", "metadata")


def _without_metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "metadata"}
