"""Reading an input object's fields strictly: each reader raises InvalidInput naming the document and the field.
Also the object a note is about (`Source`) and what a translation has made so far (`Collector`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dnslb.core.config.resources import API_VERSION, LabelSelector
from dnslb.core.grammar import parse_go_duration, parse_ip, show
from dnslb.core.importing.results import Body, InvalidInput, Note, Resource
from dnslb.core.manifests import Document


def namespace_of(document: Document) -> str:
    metadata = document.body.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace if isinstance(namespace, str) else ""


def name_or(document: Document, default: str) -> str:
    metadata = document.body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else default


@dataclass(frozen=True)
class Source:
    """The input object a note or an error is about."""

    where: str
    kind: str
    name: str
    namespace: str = ""

    @staticmethod
    def of(document: Document) -> Source:
        name = name_or(document, "")
        if not name:
            raise InvalidInput(f"{document.where}: {document.kind}: metadata.name is missing")
        return Source(document.where, document.kind, name, namespace_of(document))

    @property
    def subject(self) -> str:
        return f"{self.kind}/{self.name}"

    def note(self, message: str) -> Note:
        return Note(self.where, self.subject, message)

    def invalid(self, path: str, message: str) -> InvalidInput:
        return InvalidInput(f"{self.where}: {self.subject} {path}: {message}")


class Collector:
    """What one translation has made so far."""

    def __init__(self, namespace: str, errors: list[str]) -> None:
        self.namespace = namespace
        self.resources: list[Resource] = []
        self.notes: list[Note] = []
        self.errors = errors

    def each(self, documents: Iterable[Document], handle: Callable[[Document], object]) -> None:
        """`handle` each document; an invalid one is recorded as an error, and the others go on."""
        for document in documents:
            try:
                handle(document)
            except InvalidInput as exc:
                self.errors.append(str(exc))

    def add(self, source: Source, kind: str, spec: Body, labels: Mapping[str, str] | None = None) -> None:
        metadata: Body = {"name": source.name, "namespace": self.namespace}
        if labels:
            metadata["labels"] = dict(labels)
        body = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
        self.resources.append(Resource(source.where, body))


def read_spec(source: Source, body: Body) -> Body:
    return read_mapping(source, body, "spec", "spec")


def read_mapping(source: Source, parent: Body, key: str, path: str) -> Body:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise source.invalid(path, f"expected a mapping, got {show(value)}")
    return value


def read_text(source: Source, parent: Body, key: str, path: str) -> str:
    value = parent.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise source.invalid(path, f"expected a string, got {show(value)}")
    return value


def read_texts(source: Source, parent: Body, key: str, path: str) -> list[str]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise source.invalid(path, f"expected a list of strings, got {show(value)}")
    return list(value)


def read_bool(source: Source, parent: Body, key: str, path: str, default: bool) -> bool:
    value = parent.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise source.invalid(path, f"expected true or false, got {show(value)}")
    return value


def read_int(source: Source, parent: Body, key: str, path: str) -> int:
    value = parent.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise source.invalid(path, f"expected a whole number, got {show(value)}")
    return value


def read_labels(source: Source, body: Body) -> dict[str, str]:
    labels = read_mapping(source, read_mapping(source, body, "metadata", "metadata"), "labels", "metadata.labels")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise source.invalid("metadata.labels", "expected string keys and values")
    return labels


def read_selector(source: Source, value: Any, path: str) -> LabelSelector:
    try:
        return LabelSelector.model_validate(value)
    except ValidationError as exc:
        raise source.invalid(path, f"not a label selector ({exc.errors()[0]['msg']})") from None


def empty(value: Any) -> bool:
    return value is None or value is False or value in (0, "", [], {})


def leftovers(source: Source, spec: Body, handled: Iterable[str], reasons: Mapping[str, str]) -> list[Note]:
    """A note for each field of `spec` with a value that nothing above carried over."""
    done = set(handled)
    return [
        source.note(f"spec.{key}: {reasons.get(key, 'not a field dnslb import knows; left out')}")
        for key, value in spec.items()
        if key not in done and not empty(value)
    ]


def read_duration(source: Source, spec: Body, key: str) -> float | None:
    """A Go duration (metav1.Duration, as MetalLB's timers are) in seconds, or None when it is not set."""
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise source.invalid(f"spec.{key}", f"expected a string (a duration like 90s), got {show(value)}")
    try:
        return parse_go_duration(value)
    except ValueError as exc:
        raise source.invalid(f"spec.{key}", str(exc)) from None


def family(address: str) -> int | None:
    try:
        return parse_ip(address).version
    except ValueError:
        return None
