"""Kubernetes `Status` errors: every failure the double returns is one of these."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def format_value(value: object) -> str:
    """Render a value the way apiserver field errors do (strings quoted, numbers bare)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class FieldCause:
    """One field error, as it appears in `Status.details.causes[]`."""

    reason: str
    field: str
    message: str

    @classmethod
    def invalid(cls, field: str, value: object, detail: str) -> FieldCause:
        return cls("FieldValueInvalid", field, f"Invalid value: {format_value(value)}: {detail}")

    @classmethod
    def required(cls, field: str, detail: str = "") -> FieldCause:
        return cls("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))

    @classmethod
    def not_supported(cls, field: str, value: object, supported: Iterable[str]) -> FieldCause:
        values = ", ".join(json.dumps(s) for s in sorted(supported))
        return cls(
            "FieldValueNotSupported",
            field,
            f"Unsupported value: {format_value(value)}: supported values: {values}",
        )

    @classmethod
    def duplicate(cls, field: str, value: object) -> FieldCause:
        return cls("FieldValueDuplicate", field, f"Duplicate value: {format_value(value)}")

    @classmethod
    def forbidden(cls, field: str, detail: str) -> FieldCause:
        return cls("FieldValueForbidden", field, f"Forbidden: {detail}")

    @classmethod
    def too_long(cls, field: str, limit: int) -> FieldCause:
        return cls("FieldValueTooLong", field, f"Too long: may not be more than {limit} bytes")

    @classmethod
    def immutable(cls, field: str, value: object) -> FieldCause:
        return cls.invalid(field, value, "field is immutable")

    def describe(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_json(self) -> dict[str, str]:
        cause = {"reason": self.reason, "message": self.message}
        if self.field:
            cause["field"] = self.field
        return cause


@dataclass(frozen=True)
class GroupResource:
    """`services`, `leases.coordination.k8s.io`: how errors name a resource."""

    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


class ApiError(Exception):
    """An error the server answers with a `Status` body and the matching HTTP code."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(resource: GroupResource, name: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": resource.resource}
    if resource.group:
        details["group"] = resource.group
    details.update(extra)
    return details


def not_found(resource: GroupResource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource} "{name}" not found', details=_details(resource, name))


def already_exists(resource: GroupResource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{resource} "{name}" already exists', details=_details(resource, name))


def conflict(resource: GroupResource, name: str, detail: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource} "{name}": {detail}',
        details=_details(resource, name),
    )


STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(kind: str, group: str, name: str, causes: Sequence[FieldCause]) -> ApiError:
    described = [cause.describe() for cause in causes]
    summary = described[0] if len(described) == 1 else "[" + ", ".join(described) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": [c.to_json() for c in causes]}
    if group:
        details["group"] = group
    qualified_kind = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unprocessable(message: str) -> ApiError:
    """A 422 without field causes (what apiserver answers when a JSON patch cannot be applied)."""
    return ApiError(422, "Invalid", message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def unsupported_media_type(content_type: str, accepted: Iterable[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format ({content_type or 'none'}) - accepted media types "
        f"include: {', '.join(accepted)}",
    )


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def resource_not_served() -> ApiError:
    return ApiError(
        404,
        "NotFound",
        "the server could not find the requested resource",
        details={"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]},
    )


def internal(message: str) -> ApiError:
    return ApiError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        details={"causes": [{"message": message}]},
    )


def injected(code: int) -> ApiError:
    """The failure `fail_next` asks for, shaped as the real server shapes that code."""
    if code == 429:
        return ApiError(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
            details={"retryAfterSeconds": 1},
            headers={"Retry-After": "1"},
        )
    if code == 500:
        return internal("injected failure")
    if code == 503:
        return ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
    if code == 504:
        return ApiError(504, "Timeout", "the server was unable to return a response in the time allotted")
    if code == 409:
        return ApiError(409, "Conflict", f"injected conflict ({STALE_OBJECT})")
    return ApiError(code, "InternalError" if code >= 500 else "BadRequest", f"injected failure ({code})")
