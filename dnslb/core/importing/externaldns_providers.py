"""Each external-dns provider's flags → dnslb's provider type, its settings, the Secret it needs and notes; a
provider dnslb lacks becomes a webhook provider."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from dnslb.core.grammar import parse_go_duration
from dnslb.core.importing.externaldns_flags import ExternalDNS, Value
from dnslb.core.importing.fields import family


@dataclass(frozen=True)
class Provider:
    """What one external-dns provider becomes: dnslb's provider type, its settings and notes."""

    type: str
    settings: Mapping[str, str] = field(default_factory=dict)
    secret: str | None = None  # the Secret in dnslb's namespace it needs
    zones: tuple[str, ...] = ()  # the zones the provider serves, when external-dns names them
    notes: tuple[str, ...] = ()
    prefix: str = ""  # its flags start with this; those not handled are noted
    handled: frozenset[str] = frozenset()


def _secret_note(instance: ExternalDNS, what: str, value: Value, secret: str, key: str) -> str:
    return (
        f"{what} (now in {value.origin}) is not copied into the output: put it in Secret "
        f"{instance.namespace}/{secret}, key {key}"
    )


_TSIG_ALGORITHMS = ("hmac-md5", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512")
_RFC2136_LOST = {
    "rfc2136-min-ttl": "dnslb has no minimum TTL",
    "rfc2136-gss-tsig": "dnslb signs updates with TSIG only, not GSS-TSIG (Kerberos)",
    "rfc2136-use-tls": "dnslb sends RFC 2136 updates over plain TCP only",
    "rfc2136-skip-tls-verify": "dnslb sends RFC 2136 updates over plain TCP only",
}


def _rfc2136(instance: ExternalDNS) -> Provider:
    settings, notes = {}, []
    hosts = instance.values("rfc2136-host")
    if hosts:
        settings["server"] = hosts[0]
        if len(hosts) > 1:
            notes.append(f"--rfc2136-host: dnslb updates one server; {hosts[0]} kept, {', '.join(hosts[1:])} left out")
        if family(hosts[0]) is None:
            notes.append(f"--rfc2136-host={hosts[0]}: dnslb's settings.server must be the server's IP address")
    else:
        notes.append("no --rfc2136-host: set settings.server to the DNS server's IP address")
    port = instance.text("rfc2136-port")
    if port not in ("", "0", "53"):
        settings["port"] = port
    zones = tuple(dict.fromkeys(z.lower().rstrip(".") for z in instance.values("rfc2136-zone")))
    if zones:
        settings["zones"] = ",".join(zones)
    else:
        notes.append("no --rfc2136-zone: set settings.zones to the zones the server serves (RFC 2136 cannot list them)")
    settings |= _tsig_settings(instance, notes)
    secret = _tsig_secret(instance, notes)
    if not instance.on("rfc2136-axfr") and not instance.on("rfc2136-tsig-axfr"):
        notes.append("no --rfc2136-axfr: dnslb reads each zone by zone transfer (AXFR); let the server allow it")
    for flag, reason in _RFC2136_LOST.items():
        if _set(instance.text(flag)):
            notes.append(f"--{flag}: {reason}; left out")
    handled = {"host", "port", "zone", "tsig-keyname", "tsig-secret", "tsig-secret-alg", "axfr", "tsig-axfr"}
    handled |= {"insecure", "batch-change-size", "load-balancing-strategy", "kerberos-username"}
    handled |= {"kerberos-password", "kerberos-realm", *(f.removeprefix("rfc2136-") for f in _RFC2136_LOST)}
    return Provider("rfc2136", settings, secret, zones, tuple(notes), "rfc2136-", _prefixed("rfc2136-", handled))


def _set(text: str) -> bool:
    """A flag's value that asks for something: not empty, false, or a zero duration (--rfc2136-min-ttl=0s)."""
    if text in ("", "0", "f", "F", "false", "FALSE", "False"):  # Go's strconv.ParseBool false, or unset
        return False
    try:
        return parse_go_duration(text) != 0
    except ValueError:
        return True


def _tsig_settings(instance: ExternalDNS, notes: list[str]) -> dict[str, str]:
    settings = {}
    keyname = instance.value("rfc2136-tsig-keyname")
    if keyname is not None and keyname.text is None:
        notes.append(f"--rfc2136-tsig-keyname is in {keyname.origin}: set settings.tsigKeyName to it")
    elif keyname is not None and keyname.text:
        settings["tsigKeyName"] = keyname.text
    algorithm = instance.text("rfc2136-tsig-secret-alg").lower().rstrip(".")
    if algorithm == "hmac-md5.sig-alg.reg.int":
        algorithm = "hmac-md5"
    if algorithm in _TSIG_ALGORITHMS:
        settings["tsigAlgorithm"] = algorithm
    elif algorithm:
        notes.append(f"--rfc2136-tsig-secret-alg={algorithm}: dnslb signs with {', '.join(_TSIG_ALGORITHMS)} only")
    return settings


def _tsig_secret(instance: ExternalDNS, notes: list[str]) -> str | None:
    value = instance.value("rfc2136-tsig-secret")
    if value is None or instance.on("rfc2136-insecure"):
        return None
    secret = f"{instance.name}-tsig"
    notes.append(_secret_note(instance, "the TSIG secret", value, secret, "tsigSecret"))
    return secret


def _route53(instance: ExternalDNS) -> Provider:
    settings, notes = {}, []
    region = next((v.text for k in ("AWS_REGION", "AWS_DEFAULT_REGION") if (v := instance.env.get(k)) and v.text), "")
    if region:
        settings["region"] = region
    zone_type = instance.text("aws-zone-type")
    if zone_type:
        notes.append(
            f"--aws-zone-type={zone_type}: dnslb's route53 provider has no zone-type filter; it manages every hosted "
            f"zone of the account within domainFilters: list the {zone_type} zones in settings.zones to keep to them"
        )
    for flag, why in (("aws-zone-tags", "zone-tag filter"), ("aws-zone-match-parent", "parent-zone matching")):
        if instance.text(flag) not in ("", "false"):
            notes.append(f"--{flag}: dnslb's route53 provider has no {why}; left out")
    if instance.text("aws-assume-role"):
        notes.append("--aws-assume-role: dnslb's route53 provider assumes no role; give its own credentials access")
    secret, credentials = _aws_credentials(instance)
    notes.append(credentials)
    handled = {"zone-type", "zone-tags", "zone-match-parent", "assume-role", "assume-role-external-id"}
    handled |= {"prefer-cname", "evaluate-target-health", "batch-change-size", "batch-change-size-bytes"}
    handled |= {"batch-change-size-values", "batch-change-interval", "zones-cache-duration", "api-retries"}
    return Provider("route53", settings, secret, (), tuple(notes), "aws-", _prefixed("aws-", handled))


def _aws_credentials(instance: ExternalDNS) -> tuple[str | None, str]:
    key = instance.env.get("AWS_ACCESS_KEY_ID")
    if key is None:
        return None, (
            "no AWS keys in the Deployment (an IAM role for its ServiceAccount, an instance profile, a credentials "
            "file): dnslb's route53 provider then uses the default credential chain of the dnslb-controller pod; "
            f"give its ServiceAccount {instance.namespace}/dnslb-controller the same IAM role"
        )
    secret = f"{instance.name}-aws"
    keys = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if k in instance.env]
    origins = "; ".join(f"{k}: {instance.env[k].origin}" for k in keys)
    message = f"the AWS credentials ({origins}) are not copied into the output: put them in Secret"
    return secret, f"{message} {instance.namespace}/{secret}, keys {', '.join(keys)}"


def _powerdns(instance: ExternalDNS) -> Provider:
    settings = {"url": instance.text("pdns-server") or "http://localhost:8081"}  # external-dns's default
    notes = []
    server_id = instance.text("pdns-server-id")
    if server_id and server_id != "localhost":
        settings["serverID"] = server_id
    secret = None
    key = instance.value("pdns-api-key")
    if key is not None:
        secret = f"{instance.name}-pdns"
        notes.append(_secret_note(instance, "the PowerDNS API key", key, secret, "apiKey"))
    if instance.on("pdns-skip-tls-verify"):
        notes.append("--pdns-skip-tls-verify: dnslb always verifies the server's certificate; left out")
    handled = _prefixed("pdns-", {"server", "server-id", "api-key", "skip-tls-verify"})
    return Provider("powerdns", settings, secret, (), tuple(notes), "pdns-", handled)


def _webhook(instance: ExternalDNS) -> Provider:
    url = instance.text("webhook-provider-url") or "http://localhost:8888"  # external-dns's default
    server = f"container {', '.join(instance.sidecars)} of external-dns's pod" if instance.sidecars else url
    note = (
        f"the webhook server ({server}) must run as a sidecar of the dnslb-controller pod, listening on {url}: add "
        "that container in your overlay"
    )
    handled = _prefixed("webhook-provider-", {"url", "read-timeout", "write-timeout", "read-header-timeout"})
    handled |= _prefixed("webhook-provider-", {"idle-timeout", "max-body-size"})
    return Provider("webhook", {"url": url}, None, (), (note,), "webhook-provider-", handled)


def _inmemory(instance: ExternalDNS) -> Provider:
    return Provider("inmemory", prefix="inmemory-")


def unsupported(instance: ExternalDNS) -> Provider:
    name = instance.text("provider")
    note = (
        f"--provider={name}: dnslb has no {name} provider, so this DNSProvider has type webhook: run an external-dns "
        f"webhook server for {name} as a sidecar of the dnslb-controller pod at settings.url (its --{name}-* flags "
        "and credentials go to that server), or install a dnslb provider plugin for it and change spec.type "
        "(providers/README.md)"
    )
    handled = frozenset(f for f in instance.flags if f.startswith(f"{name}-"))
    return Provider("webhook", {"url": "http://localhost:8888"}, None, (), (note,), f"{name}-", handled)


def _prefixed(prefix: str, names: Iterable[str]) -> frozenset[str]:
    return frozenset(f"{prefix}{n}" for n in names)


PROVIDERS: dict[str, Callable[[ExternalDNS], Provider]] = {
    "rfc2136": _rfc2136,
    "aws": _route53,
    "pdns": _powerdns,
    "webhook": _webhook,
    "inmemory": _inmemory,
}
PROVIDER_PREFIXES = (
    *("rfc2136-", "aws-", "pdns-", "webhook-", "inmemory-", "azure-", "cloudflare-", "google-", "ovh-", "ns1-"),
    *("godaddy-", "pihole-", "oci-", "alibaba-cloud-", "exoscale-", "linode-", "civo-", "coredns-", "dnsimple-"),
    *("scaleway-", "tencent-cloud-", "akamai-", "transip-", "digitalocean-"),
)
