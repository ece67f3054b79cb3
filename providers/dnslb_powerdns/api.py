"""The few PowerDNS HTTP API calls dnslb makes, over one httpx client, with failures mapped to provider errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from dnslb.provider import Transient

from .errors import error_for_response, error_for_transport


class PowerDNSAPI:
    def __init__(self, client: httpx.Client, server_id: str) -> None:
        self._client = client
        self._server = f"/api/v1/servers/{quote(server_id, safe='')}"

    def list_zones(self) -> list[dict[str, Any]]:
        zones = self._get_json(f"{self._server}/zones", "listing zones")
        if not isinstance(zones, list):
            raise Transient(f"PowerDNS listing zones: expected a JSON list, got {type(zones).__name__}")
        return [zone for zone in zones if isinstance(zone, dict)]

    def zone(self, zone_id: str, rrset_name: str | None = None) -> dict[str, Any]:
        """The zone with its rrsets; with `rrset_name` (an FQDN) only those at that name, where the server filters
        (4.7 does; an older one answers every rrset, so callers filter again)."""
        path = self._zone_path(zone_id)
        doing = f"reading zone {zone_id}"
        if rrset_name is not None:
            path = f"{path}?rrset_name={quote(rrset_name, safe='')}"
            doing = f"reading {rrset_name} in zone {zone_id}"
        zone = self._get_json(path, doing)
        if not isinstance(zone, dict):
            raise Transient(f"PowerDNS reading zone {zone_id}: expected a JSON object, got {type(zone).__name__}")
        return zone

    def patch_zone(self, zone_id: str, body: bytes) -> None:
        doing = f"changing zone {zone_id}"
        response = self._send("PATCH", self._zone_path(zone_id), doing, body)
        if not response.is_success:
            raise error_for_response(response, doing)

    def close(self) -> None:
        self._client.close()

    def _zone_path(self, zone_id: str) -> str:
        # zone ids are URL-safe by PowerDNS's promise ("=2F" stands for "/"); quoting guards against a hand-made id
        return f"{self._server}/zones/{quote(zone_id, safe='=')}"

    def _get_json(self, path: str, doing: str) -> object:
        response = self._send("GET", path, doing)
        if not response.is_success:
            raise error_for_response(response, doing)
        try:
            return response.json()
        except ValueError as error:
            raise Transient(f"PowerDNS {doing}: the answer is not JSON: {response.text[:200]!r}") from error

    def _send(self, method: str, path: str, doing: str, body: bytes | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            return self._client.request(method, path, content=body, headers=headers)
        except httpx.RequestError as error:
            raise error_for_transport(error, doing) from error
