"""What a translation gives: dnslb resources, notes on what does not carry over, and the error for bad input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_NAMESPACE = "dnslb-system"


Body = dict[str, Any]


class InvalidInput(ValueError):
    """A manifest that MetalLB or external-dns would refuse too; the message names the document and the field."""


@dataclass(frozen=True)
class Note:
    """Something that does not carry over, and why."""

    where: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.subject}: {self.message}"


@dataclass(frozen=True)
class Resource:
    """One dnslb resource, and the input document it was made from."""

    where: str
    body: Body


@dataclass(frozen=True)
class Imported:
    resources: tuple[Resource, ...] = ()
    notes: tuple[Note, ...] = ()
    errors: tuple[str, ...] = ()
    read: int = 0  # MetalLB and external-dns objects found in the input
