"""Fixtures for the speaker suite: the BGP bed and the speakers in it; the Kubernetes fixtures (`api`, `client`,
`core`, ...) are the shared ones (`dnslb_testkit.kubeapi.fixtures`), the double in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes.client as k8s
import pytest

from dnslb_testkit.bgpbed import BedNode, BGPBed
from dnslb_testkit.kubeapi import KubeAPIControl
from tests.speaker.harness import SpeakerProcess, setup_cluster


@pytest.fixture
def bed(core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi) -> Iterator[BGPBed]:
    with BGPBed(nodes=3, ipv6=True, hold_time=3) as bed:
        setup_cluster(core, custom, bed)
        yield bed


@pytest.fixture
def speakers(api: KubeAPIControl, bed: BGPBed, tmp_path: Path) -> Iterator[Callable[..., SpeakerProcess]]:
    started: list[SpeakerProcess] = []

    def start(node: BedNode, *extra: str) -> SpeakerProcess:
        speaker = SpeakerProcess(api.url, node, tmp_path, *extra)
        started.append(speaker)
        return speaker

    yield start
    for speaker in started:
        speaker.stop()
