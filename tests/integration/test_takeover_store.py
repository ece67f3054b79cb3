"""The takeover store against the API double: it fits ConfigMaps' 1 MiB limit by sharding, and a write never
overwrites what someone else changed since it read (a concurrent `dns rollback`)."""

from __future__ import annotations

from typing import Any

import kubernetes.client as k8s

from dnslb.adapters.kube.dnsstate import TakeoverStore
from dnslb.provider import RecordSet
from dnslb_testkit.kubeapi import KubeAPIControl

NS = "default"


def records(count: int, prefix: str = "h") -> list[RecordSet]:
    values = [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in range(count)]
    return [
        RecordSet.of(f"{prefix}{i}.example.test", "A", 300, [v, "192.0.2.1", "192.0.2.2"]) for i, v in enumerate(values)
    ]


def test_a_large_save_is_sharded_within_the_configmap_limit(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    store = TakeoverStore(core, NS)
    saved = records(30_000)  # about 2 MB as JSON: more than one ConfigMap may hold
    for start in range(0, len(saved), 5_000):
        store.save("big", "example.test", saved[start : start + 5_000])
    names = {cm.metadata.name for cm in core.list_namespaced_config_map(NS).items}
    assert {"dnslb-takeover-big", "dnslb-takeover-big-1"} <= names
    assert sorted(store.load("big")["example.test"]) == sorted(saved)
    store.forget("big", "example.test", saved[:100])
    assert len(store.load("big")["example.test"]) == len(saved) - 100


class Racing(TakeoverStore):
    """Another writer changes the ConfigMap between this store's read and its write, once."""

    def __init__(self, core: k8s.CoreV1Api, other: TakeoverStore, change: list[RecordSet]) -> None:
        super().__init__(core, NS)
        self._other, self._change = other, change

    def _shards(self, provider: str) -> Any:
        shards = list(super()._shards(provider))
        if self._change:
            change, self._change = self._change, []
            self._other.save(provider, "example.test", change)
        return iter(shards)


def test_a_write_that_lost_a_race_reads_again_and_overwrites_nothing(api: KubeAPIControl, core: k8s.CoreV1Api) -> None:
    plain = TakeoverStore(core, NS)
    plain.save("p", "example.test", records(1, "first"))
    racing = Racing(core, plain, records(1, "concurrent"))
    racing.save("p", "example.test", records(1, "mine"))
    kept = {r.name for r in plain.load("p")["example.test"]}
    assert kept == {"first0.example.test", "concurrent0.example.test", "mine0.example.test"}
    assert api.count_requests("configmaps", "update") >= 2  # the first write was refused (409) and tried again


def test_the_providers_exact_values_are_kept_and_entries_saved_before_them_still_load(
    api: KubeAPIControl, core: k8s.CoreV1Api
) -> None:
    store = TakeoverStore(core, NS)
    odd = [
        RecordSet.of("v6.example.test", "AAAA", 300, ["fd00::1"], exact=["FD00:0:0:0::1"]),
        RecordSet.of("c.example.test", "CNAME", 300, ["target.example.test"], exact=["Target.Example.Test."]),
        RecordSet.of("t.example.test", "TXT", 300, ['say "hi"'], exact=['"say " "\\"hi\\""']),
    ]
    store.save("exact", "example.test", odd)
    loaded = store.load("exact")["example.test"]
    assert sorted((r.key, r.exact) for r in loaded) == sorted((r.key, r.exact) for r in odd)
    # a four-field entry, as saved before the exact values were kept: loads, with no exact values
    entry = '[["a.example.test", "A", 60, ["10.0.0.1"]]]'
    core.create_namespaced_config_map(
        NS, {"metadata": {"name": TakeoverStore.name("old")}, "data": {"example.test": entry}}
    )
    assert [(r.name, r.values, r.exact) for r in store.load("old")["example.test"]] == [
        ("a.example.test", ("10.0.0.1",), ())
    ]
