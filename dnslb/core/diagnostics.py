"""What an operator should read about one object: what was done, or why something was not, and the field at fault.

One type for every "why not" in the core — a refused VIP, a hostname not published, a bad BGP attribute, an invalid
config resource, a change too big for one request — so the controller, the speaker and `dnslb plan` report them alike:
an Event on `subject` (its `reason` and `severity` become the Event's), a log line, a row of `dnslb plan`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from dnslb.core.objects import ObjectRef

Severity = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class Diagnostic:
    """`subject` is None while the producer does not know the object (a packer sees only names), until
    `about_object` fills it in; `about` names the item inside the object (a hostname, an address); `field` is the
    field path at fault (`spec.loadBalancerIP`, `metadata.annotations[dnslb.io/ttl]`); `where` the manifest a
    document came from, when it did not come from the API."""

    subject: ObjectRef | None
    reason: str  # CamelCase, as an Event's reason: AllocationFailed, DNSNotPublished, InvalidConfig, …
    message: str
    field: str = ""
    about: str = ""
    severity: Severity = "Warning"
    where: str = ""

    def describe(self) -> str:
        """The text for an Event or a row about the subject: `field: about: message`, whichever are set."""
        return ": ".join(part for part in (self.field, self.about, self.message) if part)

    def about_object(self, subject: ObjectRef) -> Diagnostic:
        return replace(self, subject=subject)

    def __str__(self) -> str:
        head = " ".join(part for part in (str(self.subject) if self.subject else "", self.field) if part)
        text = f"{self.about}: {self.message}" if self.about else self.message
        body = f"{head}: {text}" if head else text
        return f"{self.where}: {body}" if self.where else body


# Every reason the core gives, as Events show them.
IP_ALLOCATED = "IPAllocated"
IP_RELEASED = "IPReleased"
ALLOCATION_FAILED = "AllocationFailed"
IP_CONFLICT = "IPConflict"
IP_NOT_IN_POOL = "IPNotInPool"
DNS_NOT_PUBLISHED = "DNSNotPublished"
DNS_PENDING = "DNSPending"  # held back by the gate until a node announces the VIP
VIP_UNANNOUNCED = "VIPUnannounced"  # published, and no node announces the VIP any more
VIP_ANNOUNCED = "VIPAnnounced"  # announced again
ANNOTATION_IGNORED = "AnnotationIgnored"  # an annotation dnslb reads elsewhere but does not use here
DNS_SHARED = "DNSShared"  # a hostname two objects opted in to share: published with both's addresses
DNS_RECORDS_KEPT = "DNSRecordsKept"  # a source object wants no name it owns: kept for the grace period
DNS_PROVIDER_FAILED = "DNSProviderFailed"
INVALID_CONFIG = "InvalidConfig"
INVALID_BGP_ATTRIBUTE = "InvalidBGPAttribute"
INVALID_OBJECT = "InvalidObject"
PROCESSING_FAILED = "ProcessingFailed"


def failed(subject: ObjectRef, exc: Exception) -> Diagnostic:
    """An object that could not be handled at all (a bug meeting it): it is skipped, the others go on."""
    message = f"could not be handled ({type(exc).__name__}: {exc}); skipped, everything else goes on"
    return Diagnostic(subject, PROCESSING_FAILED, message)
