from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes.client as k8s
import pytest

from dnslb_testkit.bgpbed import BedNode, BGPBed
from dnslb_testkit.kubeapi import KubeAPI
from tests.speaker.harness import SpeakerProcess, setup_cluster


@pytest.fixture
def kube() -> Iterator[KubeAPI]:
    with KubeAPI() as api:
        yield api


@pytest.fixture
def client(kube: KubeAPI) -> Iterator[k8s.ApiClient]:
    client = kube.api_client()
    yield client
    client.close()


@pytest.fixture
def core(client: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(client)


@pytest.fixture
def bed(core: k8s.CoreV1Api, client: k8s.ApiClient) -> Iterator[BGPBed]:
    with BGPBed(nodes=3, ipv6=True, hold_time=3) as bed:
        setup_cluster(core, k8s.CustomObjectsApi(client), bed)
        yield bed


@pytest.fixture
def speakers(kube: KubeAPI, bed: BGPBed, tmp_path: Path) -> Iterator[Callable[..., SpeakerProcess]]:
    started: list[SpeakerProcess] = []

    def start(node: BedNode, *extra: str) -> SpeakerProcess:
        speaker = SpeakerProcess(kube.url, node, tmp_path, *extra)
        started.append(speaker)
        return speaker

    yield start
    for speaker in started:
        speaker.stop()
