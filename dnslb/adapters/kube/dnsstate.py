"""DNS state kept in Kubernetes: provider credentials from Secrets, taken-over record sets in ConfigMaps."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from kubernetes.client import CoreV1Api
from kubernetes.client.rest import ApiException

from dnslb.provider import RecordSet


def read_secret(core: CoreV1Api, namespace: str, name: str) -> dict[str, str]:
    secret = core.read_namespaced_secret(name, namespace)
    data = {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}
    data.update(secret.string_data or {})
    return data


SHARD_BYTES = 900_000  # a ConfigMap holds at most 1 MiB, metadata included
_ATTEMPTS = 5


class Conflict(Exception):
    """Someone else changed the store between our read and our write, _ATTEMPTS times in a row."""


class TakeoverStore:
    """`ConfigMap <namespace>/dnslb-takeover-<provider>` (then `…-1`, `…-2` when one is full): per zone, the record
    sets takeover replaced, exactly as they were.

    The first save of a record set wins: a later save at the same name would only capture dnslb's own records. Every
    write carries the resourceVersion it read, so a concurrent `dns rollback` (or another controller) is never
    overwritten: a conflict reads again and retries.
    """

    def __init__(self, core: CoreV1Api, namespace: str) -> None:
        self._core = core
        self._namespace = namespace

    @staticmethod
    def name(provider: str, shard: int = 0) -> str:
        return f"dnslb-takeover-{provider}" + (f"-{shard}" if shard else "")

    def load(self, provider: str) -> dict[str, list[RecordSet]]:
        merged: dict[str, list[RecordSet]] = {}
        for _, config_map in self._shards(provider):
            for zone, text in (config_map.data or {}).items():
                merged.setdefault(zone, []).extend(_decode(text))
        return merged

    def save(self, provider: str, zone: str, records: Sequence[RecordSet]) -> None:
        def change(shards: list[tuple[int, Any]]) -> dict[int, dict[str, str]]:
            known = {r.key for _, cm in shards for r in _decode((cm.data or {}).get(zone, "[]"))}
            new = [r for r in records if r.key not in known]
            if not new:
                return {}
            index, config_map = shards[-1] if shards else (0, None)
            data = dict(config_map.data or {}) if config_map is not None else {}
            data[zone] = _encode(_decode(data.get(zone, "[]")) + new)
            if len(json.dumps(data)) > SHARD_BYTES and config_map is not None:
                index, data = index + 1, {zone: _encode(new)}  # this one is full: start the next
            return {index: data}

        self._update(provider, change)

    def forget(self, provider: str, zone: str, records: Sequence[RecordSet]) -> None:
        gone = {r.key for r in records}

        def change(shards: list[tuple[int, Any]]) -> dict[int, dict[str, str]]:
            changed = {}
            for index, config_map in shards:
                data = dict(config_map.data or {})
                saved = _decode(data.get(zone, "[]"))
                kept = [r for r in saved if r.key not in gone]
                if len(kept) != len(saved):
                    if kept:
                        data[zone] = _encode(kept)
                    else:
                        data.pop(zone, None)
                    changed[index] = data
            return changed

        self._update(provider, change)

    def _update(self, provider: str, change: Callable[[list[tuple[int, Any]]], dict[int, dict[str, str]]]) -> None:
        """Read every shard, let `change` say the new data of the shards it changes, write them with the
        resourceVersions read; on a conflict, all over again."""
        for _ in range(_ATTEMPTS):
            shards = list(self._shards(provider))
            versions = {index: cm.metadata.resource_version for index, cm in shards}
            try:
                for index, data in sorted(change(shards).items()):
                    self._write(provider, index, data, versions.get(index))
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise
        raise Conflict(f"ConfigMap {self.name(provider)}: changed by someone else {_ATTEMPTS} times in a row")

    def _shards(self, provider: str) -> Iterator[tuple[int, Any]]:
        index = 0
        while (config_map := self._read(self.name(provider, index))) is not None:
            yield index, config_map
            index += 1

    def _read(self, name: str) -> Any:
        try:
            return self._core.read_namespaced_config_map(name, self._namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _write(self, provider: str, index: int, data: dict[str, str], version: str | None) -> None:
        name = self.name(provider, index)
        metadata = {"name": name, "namespace": self._namespace, "labels": {"app.kubernetes.io/managed-by": "dnslb"}}
        if version:
            metadata["resourceVersion"] = version
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        if version is None:
            self._core.create_namespaced_config_map(self._namespace, body)  # 409 if someone created it meanwhile
        else:
            self._core.replace_namespaced_config_map(name, self._namespace, body)  # 409 if it changed meanwhile


def _encode(records: Sequence[RecordSet]) -> str:
    """Each record set as [name, type, ttl, values, exact]: `exact` (the provider's own text) is what rollback
    sends back, so what was there returns byte for byte."""
    return json.dumps([[r.name, r.type, r.ttl, list(r.values), list(r.exact)] for r in records], indent=0)


def _decode(text: str) -> list[RecordSet]:
    """Also reads the four-field entries saved before `exact` was kept."""
    return [
        RecordSet(name, type_, ttl, tuple(values), tuple(exact[0] if exact else ()))
        for name, type_, ttl, values, *exact in json.loads(text)
    ]
