"""deploy/ as an operator installs it: every object valid for Kubernetes and for dnslb, the pods shaped as promised.

Composition is tests/deploy/kustomize.py (no kubectl, no network); Kubernetes' schemas come bundled with
kubernetes-validate (strict: an unknown field is an error), ours from deploy/crds.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]  # it ships no type hints
import pytest
import yaml

from dnslb import __version__
from dnslb.adapters.dnssync.plugins import create as create_provider
from dnslb.adapters.exabgp.driver import ExaBGPDriver
from dnslb.app import cli
from dnslb.app.ops import parse_addr
from dnslb.core.config import load_config
from dnslb.core.manifests import Document
from tests.deploy.kustomize import CONFIG, DEPLOY, ROOT, Obj, build, by_kind, object_id, one

# The oldest Kubernetes dnslb supports (Service status ipMode is on by default from 1.30) and the newest whose
# schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
NS = "dnslb-system"


@pytest.fixture(scope="module")
def base() -> list[Obj]:
    return build(DEPLOY)


@pytest.fixture(scope="module")
def config() -> list[Obj]:
    return build(CONFIG)


def crd_schemas(objects: list[Obj]) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the openAPIV3Schema of every served version of the CRDs in `objects`."""
    out = {}
    for crd in by_kind(objects, "CustomResourceDefinition"):
        spec = crd["spec"]
        for version in spec["versions"]:
            if version["served"]:
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                out[key] = version["schema"]["openAPIV3Schema"]
    return out


def describe(obj: Obj) -> str:
    api_version, kind, namespace, name = object_id(obj)
    return f"{kind} {namespace + '/' if namespace else ''}{name} ({api_version})"


# --- composition ------------------------------------------------------------------------------------------------


def test_the_base_installs_the_crds_the_namespace_both_processes_and_nothing_else(base: list[Obj]) -> None:
    kinds = sorted(o["kind"] for o in base)
    assert kinds == sorted(
        ["CustomResourceDefinition"] * 5
        + ["Namespace", "Deployment", "PodDisruptionBudget", "DaemonSet"]
        + ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"] * 2
        + ["Role", "RoleBinding"] * 2  # each account's Secret rule, alone so an overlay can pin its names
    )
    assert {o["metadata"].get("namespace") for o in base if o["kind"] not in _CLUSTER_SCOPED} == {NS}
    assert not [describe(o) for o in base if o["kind"] in _CLUSTER_SCOPED and "namespace" in o["metadata"]]


_CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


def test_every_generated_crd_is_in_the_kustomization() -> None:
    on_disk = {f"crds/{p.name}" for p in (DEPLOY / "crds").glob("*.yaml")}
    listed = {r for r in _resources(DEPLOY) if r.startswith("crds/")}
    assert listed == on_disk, "deploy/kustomization.yaml must list every file `make crds` writes"


def _resources(directory: Path) -> list[str]:
    resources: list[str] = yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]
    return resources


def test_the_config_example_stays_out_of_the_base(base: list[Obj], config: list[Obj]) -> None:
    assert not {object_id(o) for o in base} & {object_id(o) for o in config}
    assert "config" not in _resources(DEPLOY)


# --- schemas ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("which", ["base", "config"])
def test_every_object_validates_against_kubernetes_and_our_crds(
    which: str, version: str, base: list[Obj], config: list[Obj]
) -> None:
    objects = base if which == "base" else config
    ours = crd_schemas(base)
    problems = []
    for obj in objects:
        key = (obj["apiVersion"], obj["kind"])
        try:
            if key in ours:
                jsonschema.Draft7Validator(ours[key]).validate(obj)
            else:
                kubernetes_validate.validate(obj, version, strict=True)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            problems.append(f"{describe(obj)}: {'.'.join(map(str, exc.absolute_path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{describe(obj)}: {exc.message}")
    assert problems == []


def test_the_validation_catches_a_misspelt_field(base: list[Obj]) -> None:
    """Strict means strict: the checks above would see a typo in a pod spec."""
    deployment = one(base, "Deployment", "dnslb-controller")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_config_example_is_what_dnslb_accepts(config: list[Obj]) -> None:
    """The controller's own loader (stricter than the CRDs: overlaps, ASNs, references) finds nothing wrong."""
    documents = [Document(describe(o), 0, None, o) for o in config if o["apiVersion"].startswith("dnslb.io/")]
    loaded, errors = load_config(documents)
    assert [str(e) for e in errors] == []
    assert [len(x) for x in (loaded.pools, loaded.peers, loaded.advertisements, loaded.providers)] == [1, 1, 1, 1]


def test_the_config_example_secrets_hold_what_its_resources_name(config: list[Obj]) -> None:
    secrets = {o["metadata"]["name"]: {**o.get("stringData", {})} for o in by_kind(config, "Secret")}
    assert {o["metadata"]["namespace"] for o in by_kind(config, "Secret")} == {NS}
    (peer,) = by_kind(config, "BGPPeer")
    ref = peer["spec"]["passwordSecret"]
    assert ref.get("key", "password") in secrets[ref["name"]]
    (provider,) = by_kind(config, "DNSProvider")
    secret = secrets[provider["spec"]["secretRef"]["name"]]
    # the provider's own factory accepts these settings and this Secret (it only parses: no request is sent)
    create_provider(provider["spec"]["type"], provider["spec"]["settings"], secret)


# --- the controller Deployment ----------------------------------------------------------------------------------


def container(obj: Obj) -> dict[str, Any]:
    (only,) = obj["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


def parsed_args(obj: Obj) -> Any:
    values = {e["name"]: f"<{e['name']}>" for e in container(obj).get("env", [])}
    args = [re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], a) for a in container(obj)["args"]]
    return cli._parser().parse_args(args)


def env_field(obj: Obj, name: str) -> str:
    (entry,) = [e for e in container(obj)["env"] if e["name"] == name]
    path: str = entry["valueFrom"]["fieldRef"]["fieldPath"]
    return path


def test_the_controller_runs_two_replicas_under_leader_election(base: list[Obj]) -> None:
    deployment = one(base, "Deployment", "dnslb-controller")
    assert deployment["spec"]["replicas"] == 2
    args = parsed_args(deployment)
    assert args.run.__module__ == "dnslb.app.controller_main"
    assert args.leader_elect is True
    assert args.identity == "<POD_NAME>" and env_field(deployment, "POD_NAME") == "metadata.name"
    assert args.namespace == "<POD_NAMESPACE>" and env_field(deployment, "POD_NAMESPACE") == "metadata.namespace"
    (budget,) = by_kind(base, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]


@pytest.mark.parametrize(("kind", "name"), [("Deployment", "dnslb-controller"), ("DaemonSet", "dnslb-speaker")])
def test_probes_hit_the_health_endpoints_on_the_named_metrics_port(base: list[Obj], kind: str, name: str) -> None:
    workload = one(base, kind, name)
    main = container(workload)
    (port,) = main["ports"]
    assert port["name"] == "metrics"
    assert port["containerPort"] == parse_addr(parsed_args(workload).metrics_addr)[1]
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}


@pytest.mark.parametrize(("kind", "name"), [("Deployment", "dnslb-controller"), ("DaemonSet", "dnslb-speaker")])
def test_pods_run_locked_down(base: list[Obj], kind: str, name: str) -> None:
    workload = one(base, kind, name)
    pod = workload["spec"]["template"]["spec"]
    main = container(workload)
    if name == "dnslb-speaker":
        # user 0 holding NET_BIND_SERVICE alone, for ExaBGP's listen port 179 (see speaker.yaml)
        assert pod["securityContext"]["runAsUser"] == 0
        added = ["NET_BIND_SERVICE"]
    else:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == dockerfile_uid()
        added = []
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = main["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security.get("privileged", False) is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["capabilities"].get("add", []) == added, "no other capability is added back (see speaker.yaml)"
    assert {"cpu", "memory"} <= set(main["resources"]["requests"])
    assert "memory" in main["resources"]["limits"]
    assert main["image"] == f"dnslb:{__version__}", "the image `make image` builds"
    assert "command" not in main, "the image's entrypoint is `dnslb`: manifests pass only args"


def test_every_writable_path_is_a_mounted_volume(base: list[Obj]) -> None:
    speaker = one(base, "DaemonSet", "dnslb-speaker")
    mounts = {m["mountPath"]: m["name"] for m in container(speaker)["volumeMounts"]}
    volumes = {v["name"]: v for v in speaker["spec"]["template"]["spec"]["volumes"]}
    workdir = parsed_args(speaker).workdir
    assert workdir in mounts, "ExaBGP's config and relay socket need a writable --workdir on a read-only root"
    assert "emptyDir" in volumes[mounts[workdir]]
    for workload in (speaker, one(base, "Deployment", "dnslb-controller")):
        assert "/tmp" in {m["mountPath"] for m in container(workload)["volumeMounts"]}


# --- the speaker DaemonSet --------------------------------------------------------------------------------------


def test_the_speaker_runs_on_every_node_on_the_host_network(base: list[Obj]) -> None:
    speaker = one(base, "DaemonSet", "dnslb-speaker")
    pod = speaker["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["tolerations"] == [{"operator": "Exists"}], "tolerates every taint"
    args = parsed_args(speaker)
    assert args.run.__module__ == "dnslb.app.speaker_main"
    assert args.node_name == "<NODE_NAME>" and env_field(speaker, "NODE_NAME") == "spec.nodeName"


def test_the_speaker_has_time_to_drain_before_it_is_killed(base: list[Obj]) -> None:
    speaker = one(base, "DaemonSet", "dnslb-speaker")
    grace = speaker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    defaults = inspect.signature(ExaBGPDriver).parameters
    ack, stop = defaults["ack_timeout"].default, defaults["stop_timeout"].default
    drain = parsed_args(speaker).drain_seconds
    # withdraw (at worst an ack timeout), the drain, then ExaBGP and its relay each get stop_timeout
    assert grace >= ack + drain + 2 * stop, f"grace {grace}s < {ack} + {drain} + 2 * {stop}"


# --- the image the manifests name -------------------------------------------------------------------------------


def dockerfile_uid() -> int:
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    return int(users[-1].split(":")[0])
