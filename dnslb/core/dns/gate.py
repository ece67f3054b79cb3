"""The DNS gate, and what each hostname of a Service has come to. Pure.

Gate: with `publishWhen: Announced` (a DNSProvider's default) a hostname is published only once a node announces
one of its Service's VIPs (the nodes' NodeAnnouncements, see `dnslb.core.bgp.status`): before that the name would
answer with a black hole. Once published, a name is not withdrawn when announcements stop — a name answering an
unreachable VIP is no worse than no name, and DNS that flaps with BGP is worse — it is reported instead.

Publication: per Service, one line per hostname — published, pending, refused (and why), or unannounced (published,
and no node announces its VIP now) — which the controller writes as the Service's `dnslb.io/DNSPublished`
condition, and `dnslb status` reads back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from dnslb.core.diagnostics import (
    DNS_NOT_PUBLISHED,
    DNS_PENDING,
    DNS_SHARED,
    VIP_ANNOUNCED,
    VIP_UNANNOUNCED,
    Diagnostic,
)
from dnslb.core.dns.desired import Claim
from dnslb.core.dns.hostnames import hostname_problem
from dnslb.core.model import DNS_PUBLISHED_CONDITION
from dnslb.core.objects import ObjectKey, ObjectRef, service_ref

CONDITION = DNS_PUBLISHED_CONDITION
PublishWhen = Literal["Announced", "Allocated"]
State = Literal["published", "pending", "refused", "unannounced", "unknown"]
PUBLISHED: State = "published"
PENDING: State = "pending"
REFUSED: State = "refused"
UNANNOUNCED: State = "unannounced"
UNKNOWN: State = "unknown"  # only when reading a condition back: a line that does not parse
_STATES: tuple[State, ...] = (PUBLISHED, PENDING, REFUSED, UNANNOUNCED)
UNSERVED = "no managed zone holds this name"


def vips(claim: Claim) -> frozenset[str]:
    return frozenset(v for record in claim.records if record.type in ("A", "AAAA") for v in record.values)


def is_announced(claim: Claim, announced: Collection[str] | None) -> bool:
    """Whether a node announces one of the claim's VIPs; None (no gate), or a claim that points at no dnslb VIP:
    taken as announced."""
    return announced is None or not claim.gated or any(v in announced for v in vips(claim))


def split(claims: Iterable[Claim], announced: Collection[str] | None) -> tuple[list[Claim], list[Claim]]:
    """(ready, waiting): the claims whose VIPs some node announces, and the others. `announced` None: all ready."""
    ready: list[Claim] = []
    waiting: list[Claim] = []
    for claim in claims:
        (ready if is_announced(claim, announced) else waiting).append(claim)
    return ready, waiting


def pending(claim: Claim) -> Diagnostic:
    message = f"{_unannounced(claim)} yet; published once one does"
    return Diagnostic(claim.owner, DNS_PENDING, message, about=claim.hostname, severity="Normal")


@dataclass(frozen=True)
class HostnameState:
    hostname: str
    state: State
    why: str = ""

    def line(self) -> str:
        return f"{self.hostname}: {self.state}: {self.why}" if self.why else f"{self.hostname}: {self.state}"


@dataclass(frozen=True)
class Publication:
    """What a Service's `dnslb.io/DNSPublished` condition says."""

    hostnames: tuple[HostnameState, ...]

    @property
    def ok(self) -> bool:
        return all(h.state == PUBLISHED for h in self.hostnames)

    @property
    def reason(self) -> str:
        states = {h.state for h in self.hostnames}
        if REFUSED in states:
            return "NotPublished"
        if UNANNOUNCED in states:
            return "VIPUnannounced"
        if PENDING in states:
            return "Pending"
        return "Published"

    @property
    def message(self) -> str:
        return "\n".join(h.line() for h in self.hostnames)


def read_message(message: str) -> tuple[HostnameState, ...]:
    """A condition's message read back; a line that is not `hostname: state[: why]` comes back as UNKNOWN."""
    found = []
    for line in message.split("\n"):
        hostname, _, rest = line.partition(": ")
        state, _, why = rest.partition(": ")
        if hostname_problem(hostname) is None and state in _STATES:
            found.append(HostnameState(hostname, state, why))
        elif line.strip():
            found.append(HostnameState("", UNKNOWN, line))
    return tuple(found)


def publications(
    claims: Sequence[Claim],
    diagnostics: Iterable[Diagnostic],
    published: Collection[tuple[str, ObjectRef]],
    announced: Collection[str] | None,
) -> dict[ObjectKey, Publication]:
    """Per Service (the only kind with a condition for it), each hostname's state across the providers: published
    at one is published (the name answers); else refused (the first reason other than `UNSERVED` that some
    provider gave, else `UNSERVED`), else pending.
    `published`: (hostname, owner) pairs whose ownership record names that owner in some provider's view;
    `diagnostics`: what every provider said (DNSNotPublished, DNSPending and DNSShared about a hostname are read)."""
    refusals: dict[tuple[ObjectRef, str], str] = {}
    waits: dict[tuple[ObjectRef, str], str] = {}
    shared: dict[tuple[ObjectKey, str], str] = {}  # a Service's hostname that an earlier object's claim holds too
    for d in diagnostics:
        if d.subject is None or not d.about:
            continue
        slot = (d.subject, d.about)
        if d.reason == DNS_NOT_PUBLISHED and (refusals.get(slot) in (None, UNSERVED)):
            refusals[slot] = d.message
        elif d.reason == DNS_PENDING:
            waits.setdefault(slot, d.message)
        elif d.reason == DNS_SHARED and d.subject.kind == "Service":
            shared[(d.subject.key, d.about)] = d.message.partition(":")[0]
    states: dict[ObjectKey, dict[str, HostnameState]] = {}
    by_hostname: dict[str, HostnameState] = {}
    for claim in claims:
        slot = (claim.owner, claim.hostname)
        if (claim.hostname, claim.owner) in published:
            state = (
                HostnameState(claim.hostname, PUBLISHED)
                if is_announced(claim, announced)
                else HostnameState(claim.hostname, UNANNOUNCED, f"{_unannounced(claim)}; the record is kept")
            )
        elif slot in refusals:
            state = HostnameState(claim.hostname, REFUSED, refusals[slot])
        else:
            gated = not is_announced(claim, announced)
            why = waits.get(slot) or (pending(claim).message if gated else "not written yet")
            state = HostnameState(claim.hostname, PENDING, why)
        by_hostname[claim.hostname] = state
        if claim.owner.kind == "Service":
            states.setdefault(claim.owner.key, {})[claim.hostname] = state
    for (service, hostname), how in shared.items():  # the name is the earlier object's claim, and answers for both
        held = by_hostname.get(hostname)
        if held is not None:
            why = f"{how}; {held.why}" if held.why else how
            states.setdefault(service, {})[hostname] = HostnameState(hostname, held.state, why)
    for (owner, hostname), why in refusals.items():  # hostnames that never became claims (conflicts, bad TTLs)
        if owner.kind == "Service":
            states.setdefault(owner.key, {}).setdefault(hostname, HostnameState(hostname, REFUSED, why))
    return {service: Publication(tuple(v for _, v in sorted(by.items()))) for service, by in states.items()}


def transitions(service: ObjectKey, before: Sequence[HostnameState], after: Publication) -> list[Diagnostic]:
    """The Events a change of publication calls for: a published name whose VIP no node announces any more (a
    Warning: the name answers with an unreachable address), and its VIP announced again."""
    was = {h.hostname: h.state for h in before}
    found = []
    for h in after.hostnames:
        if h.state == UNANNOUNCED and was.get(h.hostname) != UNANNOUNCED:
            found.append(Diagnostic(service_ref(service), VIP_UNANNOUNCED, h.why, about=h.hostname))
        elif h.state == PUBLISHED and was.get(h.hostname) == UNANNOUNCED:
            message = "a node announces its VIP again"
            found.append(Diagnostic(service_ref(service), VIP_ANNOUNCED, message, about=h.hostname, severity="Normal"))
    return found


def _unannounced(claim: Claim) -> str:
    return f"no node announces {', '.join(sorted(vips(claim)))}"
