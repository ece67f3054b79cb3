"""`dnslb import`: MetalLB (v0.13+ CRDs) and external-dns manifests in, the dnslb resources that do the same out, and
a note for everything that cannot carry over, saying why. Pure: documents in, resource dicts and notes out.

`translate` runs the modules here in turn: `inputs` sorts the documents; `pools` (IPAddressPool → AddressPool);
`bgp` (Community aliases, BGPPeer, BGPAdvertisement, and what dnslb will not announce); `externaldns` (Deployment →
DNSProvider, reading the flags with `externaldns_flags` and each provider's with `externaldns_providers`). All read
fields strictly through `fields`; the MetalLB rules kept are listed in `pools` and `bgp`. The result is checked as
`dnslb plan` checks it.

Secret values are never copied into the output (it is meant for git): a BGP password or a DNS credential becomes a
reference to a Secret in dnslb's namespace, with a note saying which key to put there and where the value is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dnslb.core.config.load import load_config
from dnslb.core.importing.bgp import BGPContext, check_announcing, read_advertisements, read_aliases, read_peers
from dnslb.core.importing.externaldns import read_external_dns
from dnslb.core.importing.fields import Collector
from dnslb.core.importing.inputs import Inputs, other_metallb_note
from dnslb.core.importing.pools import read_pools
from dnslb.core.importing.results import DEFAULT_NAMESPACE, Imported, InvalidInput, Note, Resource
from dnslb.core.manifests import Document

__all__ = ["DEFAULT_NAMESPACE", "Imported", "InvalidInput", "Note", "Resource", "translate"]


def translate(documents: Iterable[Document], namespace: str = DEFAULT_NAMESPACE) -> Imported:
    """The dnslb resources (in `namespace`) for the MetalLB and external-dns objects among `documents`; other
    objects (Services, Namespaces, RBAC, ...) are passed over. With errors, the resources are not to be used."""
    documents = list(documents)
    inputs = Inputs.of(documents)
    out = Collector(namespace, list(inputs.errors))
    aliases: dict[str, str] = {}
    out.each(inputs.of_kind("Community"), lambda document: aliases.update(read_aliases(document, aliases)))
    pools = read_pools(inputs.of_kind("IPAddressPool"), out)
    peers = read_peers(inputs.of_kind("BGPPeer"), out)
    context = BGPContext(pools, frozenset(p.source.name for p in peers if p.body), aliases, namespace)
    read_advertisements(inputs.of_kind("BGPAdvertisement"), context, out)
    check_announcing(inputs, pools, peers, out)
    for document in inputs.other_metallb:
        out.notes.append(other_metallb_note(document))
    read_external_dns(inputs.external_dns, out)
    errors = out.errors or _validate(out.resources)
    position = {d.where: i for i, d in enumerate(documents)}
    notes = sorted(out.notes, key=lambda n: position.get(n.where, len(position)))  # in the order of the input
    return Imported(tuple(out.resources), tuple(notes), tuple(errors), inputs.count)


def _validate(resources: Sequence[Resource]) -> list[str]:
    """dnslb's own validation of the output; an error here names the input document it was made from."""
    _, errors = load_config(Document(r.where, 0, None, r.body) for r in resources)
    return [str(e) for e in errors]
