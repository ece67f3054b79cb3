"""Sorting the input: the MetalLB objects this reads, the MetalLB configuration it cannot read, external-dns
Deployments; everything else is passed over."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dnslb.core.importing.externaldns_flags import external_dns_container
from dnslb.core.importing.fields import name_or, namespace_of
from dnslb.core.importing.results import Note
from dnslb.core.manifests import Document

METALLB_GROUP = "metallb.io"


_METALLB_KINDS = ("IPAddressPool", "BGPPeer", "BGPAdvertisement", "Community", "L2Advertisement", "BFDProfile")
_METALLB_STATUS_KINDS = ("ServiceL2Status", "ServiceBGPStatus", "ConfigurationState")


@dataclass(frozen=True)
class Inputs:
    metallb: tuple[Document, ...]
    other_metallb: tuple[Document, ...]  # MetalLB configuration this cannot read (legacy ConfigMap, FRR-K8s, ...)
    external_dns: tuple[Document, ...]
    errors: tuple[str, ...]

    @staticmethod
    def of(documents: Iterable[Document]) -> Inputs:
        metallb, other, external_dns, errors = [], [], [], []
        for document in documents:
            if not isinstance(document.body, dict):
                errors.append(f"{document.where}: expected an object with apiVersion and kind")
            elif _group(document) == METALLB_GROUP and document.kind in _METALLB_KINDS:
                metallb.append(document)
            elif _group(document) == METALLB_GROUP and document.kind in _METALLB_STATUS_KINDS:
                continue
            elif _group(document).endswith(METALLB_GROUP) or _is_legacy_metallb_config(document):
                other.append(document)
            elif document.kind == "Deployment" and external_dns_container(document.body) is not None:
                external_dns.append(document)
        return Inputs(tuple(metallb), tuple(other), tuple(external_dns), tuple(errors))

    def of_kind(self, kind: str) -> list[Document]:
        return [d for d in self.metallb if d.kind == kind]

    @property
    def count(self) -> int:
        return len(self.metallb) + len(self.other_metallb) + len(self.external_dns)


def _group(document: Document) -> str:
    return document.api_version.partition("/")[0] if "/" in document.api_version else ""


def _is_legacy_metallb_config(document: Document) -> bool:
    data = document.body.get("data")
    in_metallb = namespace_of(document) in ("metallb-system", "metallb")
    return document.kind == "ConfigMap" and isinstance(data, dict) and "config" in data and in_metallb


def other_metallb_note(document: Document) -> Note:
    subject = f"{document.kind}/{name_or(document, '?')}"
    if document.kind == "ConfigMap":
        message = (
            "MetalLB's ConfigMap configuration (before v0.13) is not read: convert it to CRs first with MetalLB's "
            "configmaptocrs, then import those"
        )
    elif document.kind == "AddressPool":
        message = (
            "MetalLB's deprecated AddressPool (gone in v0.14) is not read: write it as an IPAddressPool and a "
            "BGPAdvertisement, as MetalLB's docs say, then import those"
        )
    else:
        message = f"{document.api_version} {document.kind} has no dnslb equivalent; left out"
    return Note(document.where, subject, message)
