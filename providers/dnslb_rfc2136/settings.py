"""The provider's settings and secret, parsed and checked once, with messages that name the offending field."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.tsig

from dnslb.provider import ProviderError

DEFAULT_PORT = 53
DEFAULT_TIMEOUT = 5.0
DEFAULT_ALGORITHM = "hmac-sha256"

# the names operators write (as in named.conf) → the algorithm names TSIG puts on the wire
ALGORITHMS: dict[str, dns.name.Name] = {
    "hmac-md5": dns.tsig.HMAC_MD5,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}


@dataclass(frozen=True)
class Rfc2136Settings:
    server: str
    port: int
    zones: tuple[str, ...]
    timeout: float
    key: dns.tsig.Key | None  # None: updates and transfers go unsigned

    @property
    def endpoint(self) -> str:
        return f"[{self.server}]:{self.port}" if ":" in self.server else f"{self.server}:{self.port}"

    @property
    def key_name(self) -> str:
        return self.key.name.to_text(omit_final_dot=True) if self.key else "(none)"


def parse(settings: Mapping[str, str], secret: Mapping[str, str]) -> Rfc2136Settings:
    return Rfc2136Settings(
        server=_server(settings.get("server", "")),
        port=_port(settings.get("port", str(DEFAULT_PORT))),
        zones=_zones(settings.get("zones", "")),
        timeout=_timeout(settings.get("timeout", str(DEFAULT_TIMEOUT))),
        key=_key(settings, secret),
    )


def _server(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ProviderError(f"rfc2136: settings.server must be the server's IP address, got {text!r}") from None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ProviderError(f"rfc2136: settings.port must be a port number (1-65535), got {text!r}")
    return port


def _zones(text: str) -> tuple[str, ...]:
    zones = tuple(dict.fromkeys(z.strip().lower().rstrip(".") for z in text.split(",") if z.strip()))
    if not zones:
        raise ProviderError("rfc2136: settings.zones must list the zones this server serves (comma-separated)")
    for zone in zones:
        try:
            dns.name.from_text(zone)
        except dns.exception.DNSException as invalid:
            raise ProviderError(f"rfc2136: settings.zones has an invalid zone name {zone!r}: {invalid}") from None
    return zones


def _timeout(text: str) -> float:
    try:
        timeout = float(text)
    except ValueError:
        timeout = 0.0
    if not timeout > 0:
        raise ProviderError(f"rfc2136: settings.timeout must be a positive number of seconds, got {text!r}")
    return timeout


def _key(settings: Mapping[str, str], secret: Mapping[str, str]) -> dns.tsig.Key | None:
    name = settings.get("tsigKeyName", "").strip()
    encoded = secret.get("tsigSecret", "").strip()
    if not name and not encoded:
        return None
    if not name:
        raise ProviderError("rfc2136: the secret has tsigSecret but settings.tsigKeyName is not set")
    if not encoded:
        raise ProviderError(f"rfc2136: settings.tsigKeyName is {name!r} but the secret has no tsigSecret")
    algorithm_text = settings.get("tsigAlgorithm", DEFAULT_ALGORITHM).strip().lower().rstrip(".")
    if algorithm_text == "hmac-md5.sig-alg.reg.int":
        algorithm_text = "hmac-md5"
    if algorithm_text not in ALGORITHMS:
        raise ProviderError(
            f"rfc2136: settings.tsigAlgorithm {algorithm_text!r} is not supported; use one of {', '.join(ALGORITHMS)}"
        )
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ProviderError(f"rfc2136: tsigSecret for key {name!r} is not valid base64") from None
    try:
        return dns.tsig.Key(name, decoded, ALGORITHMS[algorithm_text])
    except dns.exception.DNSException as invalid:
        raise ProviderError(f"rfc2136: settings.tsigKeyName {name!r} is not a valid key name: {invalid}") from None
