"""Kubernetes-style YAML: multi-document files and `List` objects, each document kept with where it came from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Document:
    """One object from a manifest file; `where` names it for error messages (`file.yaml document 3 items[1]`)."""

    source: str
    index: int
    item: int | None
    body: Any

    @property
    def where(self) -> str:
        if self.index == 0:  # an object read from the API, not from a file: its source names it
            return self.source
        place = f"{self.source} document {self.index}"
        return place if self.item is None else f"{place} items[{self.item}]"

    @property
    def api_version(self) -> str:
        value = self.body.get("apiVersion") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def kind(self) -> str:
        value = self.body.get("kind") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else ""


class ManifestError(ValueError):
    """A file that is not YAML at all, or cannot be read, or input without a single document; the message is one
    line and names the file (and line)."""


# What kubectl reads of a directory given to -f: these files, by name, not those of its subdirectories.
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def manifest_names(names: Iterable[str]) -> list[str]:
    """Of a directory's file names, those kubectl would read, in the order it reads them (sorted)."""
    return sorted(name for name in names if name.endswith(MANIFEST_SUFFIXES))


def read_documents(source: str, text: str) -> list[Document]:
    """Split a YAML stream into objects, expanding `kind: List` (and `*List`) into their items; skip empty documents."""
    try:
        bodies = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(f"{source}{line}: not valid YAML: {problem}") from None
    return list(_expand(source, bodies))


def _expand(source: str, bodies: list[Any]) -> Iterator[Document]:
    for index, body in enumerate(bodies, start=1):
        if body is None:
            continue
        kind = body.get("kind") if isinstance(body, dict) else None
        if isinstance(kind, str) and kind.endswith("List") and isinstance(body.get("items"), list):
            for item, element in enumerate(body["items"]):
                yield Document(source, index, item, element)
        else:
            yield Document(source, index, None, body)
