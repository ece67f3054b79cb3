"""The installed DNS provider plugins (entry points in group `dnslb.providers`), loaded one at a time."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points

from dnslb.provider import ENTRY_POINT_GROUP, Provider, ProviderError, ProviderFactory


def installed() -> list[str]:
    """Names of every installed provider (entry points in group dnslb.providers)."""
    return sorted(e.name for e in entry_points(group=ENTRY_POINT_GROUP))


def create(type_: str, settings: Mapping[str, str], secret: Mapping[str, str]) -> Provider:
    """Load only the provider asked for, so one broken plugin cannot break the others."""
    found = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == type_]
    if not found:
        raise ProviderError(f"no DNS provider '{type_}' is installed (installed: {', '.join(installed()) or 'none'})")
    factory: ProviderFactory = found[0].load()
    return factory(settings, secret)
