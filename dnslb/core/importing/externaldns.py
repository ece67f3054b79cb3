"""external-dns Deployment → DNSProvider: the provider (`externaldns_providers`), domain filters, owner ID and policy,
and a note for each flag that does not carry over and for the ownership records dnslb does not share."""

from __future__ import annotations

from collections.abc import Sequence

from dnslb.core.grammar import show
from dnslb.core.importing.externaldns_flags import ExternalDNS, read_instance
from dnslb.core.importing.externaldns_providers import PROVIDER_PREFIXES, PROVIDERS, Provider, unsupported
from dnslb.core.importing.fields import Collector, Source
from dnslb.core.importing.results import Body
from dnslb.core.manifests import Document
from dnslb.core.sources.read import ROUTE_SOURCES, SOURCES

MIGRATION = "docs/migration.md"
DEFAULT_OWNER_ID = "default"  # external-dns's --txt-owner-id when not given (pkg/apis/externaldns/types.go)


def read_external_dns(documents: Sequence[Document], out: Collector) -> None:
    taken: set[str] = set()

    def read(document: Document) -> None:
        source = Source.of(document)
        name = source.name if source.name not in taken else f"{source.name}-{source.namespace}"
        taken.add(name)
        spec = _provider_spec(read_instance(source, document.body, name, out), out)
        out.add(Source(source.where, source.kind, name), "DNSProvider", spec)

    out.each(documents, read)


# the flags that change when or how external-dns works, never what it publishes
_OPERATIONAL = frozenset(
    {
        *("interval", "min-event-sync-interval", "events", "once", "log-level", "log-format", "metrics-address"),
        *("kube-api-qps", "kube-api-burst", "kube-api-request-timeout", "request-timeout", "server", "kubeconfig"),
        *("txt-cache-interval", "provider-cache-time", "batch-change-interval", "listen-endpoint-events", "version"),
        *("resolve-service-load-balancer-hostname", "prefer-alias", "exclude-unschedulable", "expose-internal-ipv6"),
    }
)
_TARGETS = "dnslb publishes the Services' VIPs, never other targets"
_GENERIC_LOST = {
    "exclude-domains": "dnslb's domainFilters cannot exclude names: Services under them are published",
    "regex-domain-filter": "dnslb filters by domain suffix only: write the domains out in domainFilters",
    "regex-domain-exclusion": "dnslb's domainFilters cannot exclude names",
    "zone-id-filter": "dnslb names zones by name (spec.zones), not by ID",
    "zone-name-filter": "name the zones in spec.zones",
    "namespace": "dnslb publishes Services of every namespace; limit who may use which domain with allowedNamespaces",
    "annotation-filter": "dnslb publishes every LoadBalancer Service with a hostname annotation; no annotation filter",
    "label-filter": "dnslb publishes every LoadBalancer Service with a hostname annotation; no label filter",
    "service-type-filter": "dnslb publishes LoadBalancer Services only",
    "publish-internal-services": "dnslb publishes LoadBalancer Services' VIPs only, never ClusterIPs",
    "publish-host-ip": "dnslb publishes VIPs only, never node or pod addresses",
    "always-publish-not-ready-addresses": "dnslb publishes VIPs only, never pod addresses",
    "fqdn-template": "dnslb takes names from the hostname annotations only: annotate the Services instead",
    "combine-fqdn-annotation": "dnslb takes names from the hostname annotations only",
    "ignore-hostname-annotation": "dnslb always reads the hostname annotations",
    "default-targets": _TARGETS,
    "force-default-targets": _TARGETS,
    "target-template": _TARGETS,
    "fqdn-target-template": _TARGETS,
    "exclude-target-net": _TARGETS,
    "managed-record-types": "dnslb manages A and AAAA record sets (and its own TXT ownership records) only",
    "exclude-record-types": "dnslb manages A and AAAA record sets (and its own TXT ownership records) only",
    "min-ttl": "dnslb uses each Service's TTL annotation, or 300 s; it has no minimum TTL",
    "create-ptr": "dnslb writes no PTR records",
    "dry-run": "dnslb has no dry run: `dnslb plan --live` shows what it would change",
    "compatibility": "dnslb reads dnslb's, external-dns's and MetalLB's annotations only",
}
_OWNERSHIP = frozenset(
    {
        *("registry", "txt-owner-id", "txt-prefix", "txt-suffix", "txt-wildcard-replacement", "txt-encrypt-enabled"),
        *("txt-encrypt-aes-key", "txt-new-format-only", "migrate-from-txt-owner", "dynamodb-region"),
        *("dynamodb-table", "crd-registry-namespace"),
    }
)
_SOURCE_FLAGS = ("ingress-class", "gateway-class")  # the controller's flags of the same names and meaning
_GENERIC_HANDLED = frozenset(
    {"source", "provider", "domain-filter", "policy", "annotation-prefix", *_SOURCE_FLAGS, "ignore-ingress-tls-spec"}
)
_POLICIES = ("sync", "upsert-only", "create-only")
_ANNOTATION_PREFIXES = ("external-dns.alpha.kubernetes.io/", "external-dns.kubernetes.io/")


def _provider_spec(instance: ExternalDNS, out: Collector) -> Body:
    provider_flag = instance.text("provider")
    if not provider_flag:
        raise instance.source.invalid("args", "no --provider: external-dns needs one")
    provider = PROVIDERS.get(provider_flag, unsupported)(instance)
    domains = _domain_filters(instance, out)
    spec: Body = {"type": provider.type}
    if provider.zones and not domains:
        spec["zones"] = list(provider.zones)
    if domains:
        spec["domainFilters"] = _narrowed(instance, domains, provider.zones, out)
    owner = instance.value("txt-owner-id")
    if owner is None or owner.text is not None:  # hidden in a Secret or a ConfigMap: a note says so
        spec["ownerID"] = (owner.text if owner is not None else "") or DEFAULT_OWNER_ID
    spec["policy"] = _policy(instance)
    spec["takeover"] = False  # on only once external-dns has stopped (docs/migration.md)
    if provider.settings:
        spec["settings"] = dict(provider.settings)
    if provider.secret:
        spec["secretRef"] = {"name": provider.secret}
    out.notes += [instance.note(n) for n in (*provider.notes, *_generic_notes(instance, provider))]
    return spec


def _policy(instance: ExternalDNS) -> str:
    policy = instance.text("policy") or "sync"  # external-dns's default before it had to be given
    if policy not in _POLICIES:
        raise instance.source.invalid("--policy", f"{show(policy)} is not one of {', '.join(_POLICIES)}")
    return policy


def _domain_filters(instance: ExternalDNS, out: Collector) -> list[str]:
    domains: list[str] = []
    for text in instance.values("domain-filter"):
        domain = text.lower().rstrip(".")
        if domain.startswith("."):
            domain = domain.lstrip(".")
            message = f"--domain-filter={text}: dnslb's domainFilters take {domain} itself too, not only names below it"
            out.notes.append(instance.note(message))
        if domain and domain not in domains:
            domains.append(domain)
    return domains


def _narrowed(instance: ExternalDNS, domains: list[str], zones: Sequence[str], out: Collector) -> list[str]:
    """The names both the domain filters and the provider's zones admit, as domain filters: external-dns publishes a
    name only when it passes --domain-filter and lies in one of the zones (--rfc2136-zone), where dnslb's zones and
    domainFilters would each admit a name alone."""
    if not zones:
        return domains
    narrowed: list[str] = []
    for domain in domains:
        for zone in zones:
            inner = domain if _within(domain, zone) else zone if _within(zone, domain) else None
            if inner is not None and inner not in narrowed:
                narrowed.append(inner)
    if not narrowed:  # an empty list would admit every name
        message = (
            f"--domain-filter {', '.join(domains)}: no name lies both within it and in the zones "
            f"({', '.join(zones)}), so external-dns published nothing; domainFilters kept, and dnslb publishes "
            "nothing either"
        )
        out.notes.append(instance.note(message))
        return domains
    return narrowed


def _within(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


def _generic_notes(instance: ExternalDNS, provider: Provider) -> list[str]:
    notes = _source_notes(instance)
    for flag, target in (("txt-owner-id", "ownerID"), ("domain-filter", "domainFilters"), ("policy", "policy")):
        hidden = [v.origin for v in instance.flags.get(flag, ()) if v.text is None]
        if hidden:
            notes.append(f"--{flag} is in {hidden[0]}, not seen here: set spec.{target} to it")
    prefix = instance.text("annotation-prefix")
    if prefix and prefix not in _ANNOTATION_PREFIXES:
        notes.append(f"--annotation-prefix={prefix}: dnslb reads {' and '.join(_ANNOTATION_PREFIXES)} only")
    for flag, values in instance.flags.items():
        if flag in _GENERIC_HANDLED or flag in _OPERATIONAL or flag in _OWNERSHIP or flag in provider.handled:
            continue
        if provider.prefix and flag.startswith(provider.prefix):
            reason = "no dnslb equivalent; left out"
        elif flag in _GENERIC_LOST:
            reason = f"{_GENERIC_LOST[flag]}; left out"
        elif any(flag.startswith(p) for p in PROVIDER_PREFIXES):
            continue  # another provider's flag: external-dns ignored it too
        else:
            reason = "no dnslb equivalent; left out"
        if any(v.text not in ("", "false") for v in values):
            notes.append(f"--{flag}: {reason}")
    notes.append(_ownership_note(instance))
    return notes


def _source_notes(instance: ExternalDNS) -> list[str]:
    """external-dns's sources as the controller's --source names them (its `crd` is dnslb's `dnsendpoint`)."""
    sources = instance.values("source")
    notes = []
    kept = []
    for source in sources:
        name = "dnsendpoint" if source == "crd" else source
        if name in SOURCES:
            kept.append(name)
        else:
            notes.append(f"--source={source}: dnslb has no such source; left out")
    if kept:
        wanted = ",".join(dict.fromkeys(kept))
        same = [f"--{flag}={value}" for flag in _SOURCE_FLAGS for value in instance.values(flag)]
        same += ["--ignore-ingress-tls-spec"] if instance.on("ignore-ingress-tls-spec") else []
        notes.append(
            f"sources: run the controller with --source={wanted}{''.join(' ' + f for f in same)} (deploy/ runs "
            "service,ingress; deploy/sources/ adds the Gateway API routes and DNSEndpoints with their grants)"
        )
    if any(name in ("ingress", *ROUTE_SOURCES) for name in kept):
        notes.append(
            "an Ingress or route that loses its status addresses keeps its names for the controller's "
            "--grace-seconds (default 300; external-dns deletes them at once): --grace-seconds=0 for its behaviour"
        )
    notes.append(
        "publishWhen: Announced (dnslb's default) publishes a name once a node announces its VIP; external-dns "
        "publishes once the address is in status: set publishWhen: Allocated for its timing"
    )
    if sources and "service" not in sources:
        notes.append(
            "no --source=service: this external-dns published no Services' names, which dnslb will (every "
            "LoadBalancer Service with a hostname annotation within its domains)"
        )
    return notes


def _ownership_note(instance: ExternalDNS) -> str:
    registry = instance.text("registry") or "txt"
    if registry == "txt":
        prefix, suffix = instance.text("txt-prefix"), instance.text("txt-suffix")
        affix = f" with prefix {prefix!r}" if prefix else f" with suffix {suffix!r}" if suffix else ""
        how = f"external-dns marks the names it owns with TXT records{affix}"
    elif registry == "noop":
        how = "external-dns kept no ownership records (--registry=noop)"
    else:
        how = f"external-dns keeps ownership in its {registry} registry"
    return (
        f"ownership records differ: {how}, which dnslb neither reads nor writes; dnslb writes its own, a TXT record "
        "at _dnslb.<name>. So dnslb leaves the names external-dns made alone (DNSNotPublished) until you stop "
        f"external-dns and set takeover: true on this DNSProvider ({MIGRATION}, 'Hand over DNS'); external-dns's "
        "records stay where they are, for the way back"
    )
