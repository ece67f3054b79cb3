"""A DNSProvider's settings and secret for PowerDNS, checked once when the provider is created."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from dnslb.provider import ProviderError, Unauthorized

from .content import canonical_name

DEFAULT_SERVER_ID = "localhost"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class PowerDNSSettings:
    url: str
    api_key: str
    server_id: str = DEFAULT_SERVER_ID
    zones: frozenset[str] | None = None  # None: every zone the server has
    timeout: float = DEFAULT_TIMEOUT

    @staticmethod
    def parse(settings: Mapping[str, str], secret: Mapping[str, str]) -> PowerDNSSettings:
        url = settings.get("url", "").strip().rstrip("/")
        if not url:
            raise ProviderError("powerdns provider needs settings.url (e.g. http://pdns.example:8081)")
        try:
            scheme = httpx.URL(url).scheme
        except httpx.InvalidURL as error:
            raise ProviderError(f"powerdns settings.url {url!r} is not a URL: {error}") from error
        if scheme not in ("http", "https"):
            raise ProviderError(f"powerdns settings.url {url!r} must be http:// or https://")
        api_key = secret.get("apiKey", "")
        if not api_key:
            raise Unauthorized("powerdns provider needs apiKey in its secret")
        zones = frozenset(canonical_name(z.strip()) for z in settings.get("zones", "").split(",") if z.strip())
        return PowerDNSSettings(
            url=url,
            api_key=api_key,
            server_id=settings.get("serverID", "").strip() or DEFAULT_SERVER_ID,
            zones=zones or None,
            timeout=_seconds(settings.get("timeout", "")),
        )


def _seconds(text: str) -> float:
    text = text.strip().removesuffix("s")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        raise ProviderError(f"powerdns settings.timeout {text!r} is not a number of seconds") from None
    if not seconds > 0:
        raise ProviderError(f"powerdns settings.timeout must be positive, not {text!r}")
    return seconds
