"""DNS state kept in Kubernetes: provider credentials from Secrets, taken-over record sets in ConfigMaps."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from kubernetes.client import CoreV1Api
from kubernetes.client.rest import ApiException

from dnslb.provider import RecordSet


def read_secret(core: CoreV1Api, namespace: str, name: str) -> dict[str, str]:
    secret = core.read_namespaced_secret(name, namespace)
    data = {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}
    data.update(secret.string_data or {})
    return data


class TakeoverStore:
    """`ConfigMap <namespace>/dnslb-takeover-<provider>`: per zone, the record sets takeover replaced, as they were.

    The first save of a record set wins: a later save at the same name would only capture dnslb's own records.
    """

    def __init__(self, core: CoreV1Api, namespace: str) -> None:
        self._core = core
        self._namespace = namespace

    @staticmethod
    def name(provider: str) -> str:
        return f"dnslb-takeover-{provider}"

    def load(self, provider: str) -> dict[str, list[RecordSet]]:
        config_map = self._read(provider)
        if config_map is None:
            return {}
        return {zone: _decode(text) for zone, text in (config_map.data or {}).items()}

    def save(self, provider: str, zone: str, records: Sequence[RecordSet]) -> None:
        saved = self.load(provider)
        known = {r.key for r in saved.get(zone, [])}
        merged = saved.get(zone, []) + [r for r in records if r.key not in known]
        self._write(provider, {**{z: _encode(rs) for z, rs in saved.items()}, zone: _encode(merged)})

    def forget(self, provider: str, zone: str, records: Sequence[RecordSet]) -> None:
        saved = self.load(provider)
        gone = {r.key for r in records}
        saved[zone] = [r for r in saved.get(zone, []) if r.key not in gone]
        self._write(provider, {z: _encode(rs) for z, rs in saved.items() if rs})

    def _read(self, provider: str) -> Any:
        try:
            return self._core.read_namespaced_config_map(self.name(provider), self._namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _write(self, provider: str, data: dict[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": self.name(provider), "namespace": self._namespace,
                         "labels": {"app.kubernetes.io/managed-by": "dnslb"}},
            "data": data,
        }  # fmt: skip
        if self._read(provider) is None:
            self._core.create_namespaced_config_map(self._namespace, body)
        else:
            self._core.replace_namespaced_config_map(self.name(provider), self._namespace, body)


def _encode(records: Sequence[RecordSet]) -> str:
    return json.dumps([[r.name, r.type, r.ttl, list(r.values)] for r in records], indent=0)


def _decode(text: str) -> list[RecordSet]:
    return [RecordSet(name, type_, ttl, tuple(values)) for name, type_, ttl, values in json.loads(text)]
