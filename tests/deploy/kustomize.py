"""The part of kustomize that deploy/ uses, in Python, so the manifest tests run where kubectl is not installed.

`build(directory)` reads `kustomization.yaml` and returns every object its `resources` name, in order, following
directories recursively, the way `kubectl kustomize` composes a base, then applies its `patches` of the one form
the README shows (a JSON 6902 patch with a `target` of kind and name, applied by the `jsonpatch` library). Anything
else in a kustomization (other patch forms, namespace, images, generators, remote bases, ...) is refused rather
than half-done: a test that relies on it would otherwise pass on objects kustomize never produces.
`tests/deploy/test_kubectl.py` checks that this composition equals `kubectl kustomize`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

Obj = dict[str, Any]
ObjectId = tuple[str, str, str, str]  # apiVersion, kind, namespace ("" when cluster-scoped), name

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
CONFIG = DEPLOY / "config"

_KNOWN_FIELDS = {"apiVersion", "kind", "resources", "patches"}
_TARGET_FIELDS = {"kind", "name"}
_KINDS = {"Kustomization"}


class UnsupportedKustomization(Exception):
    """The kustomization uses a feature this composer does not implement."""


def object_id(obj: Obj) -> ObjectId:
    metadata = obj.get("metadata") or {}
    return (obj.get("apiVersion", ""), obj.get("kind", ""), metadata.get("namespace") or "", metadata.get("name", ""))


def build(directory: Path) -> list[Obj]:
    """Every object of the kustomization in `directory`, in resource order; a duplicate object is an error, as in
    kustomize."""
    objects = list(_build(directory.resolve(), ()))
    seen: dict[ObjectId, int] = {}
    for index, obj in enumerate(objects):
        key = object_id(obj)
        if key in seen:
            raise UnsupportedKustomization(f"{directory}: {key} appears twice (kustomize refuses duplicate ids)")
        seen[key] = index
    return objects


def _build(directory: Path, stack: tuple[Path, ...]) -> Iterable[Obj]:
    if directory in stack:
        raise UnsupportedKustomization(f"{directory}: kustomization cycle through {' -> '.join(map(str, stack))}")
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise UnsupportedKustomization(f"{directory}: no kustomization.yaml")
    kustomization = yaml.safe_load(path.read_text()) or {}
    unknown = set(kustomization) - _KNOWN_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{path}: fields {sorted(unknown)} are not implemented by tests/deploy")
    if kustomization.get("kind", "Kustomization") not in _KINDS:
        raise UnsupportedKustomization(f"{path}: kind {kustomization.get('kind')!r}")
    objects = list(_resources(directory, path, kustomization, stack))
    for patch in kustomization.get("patches") or []:
        _apply_patch(path, patch, objects)
    yield from objects


def _apply_patch(path: Path, patch: Obj, objects: list[Obj]) -> None:
    target = patch.get("target") or {}
    if set(patch) != {"target", "patch"} or set(target) - _TARGET_FIELDS or not isinstance(patch["patch"], str):
        raise UnsupportedKustomization(f"{path}: only inline JSON 6902 patches with a kind/name target are implemented")
    operations = yaml.safe_load(patch["patch"])
    matched = [index for index, obj in enumerate(objects) if _targeted(obj, target)]
    if not matched:
        raise UnsupportedKustomization(f"{path}: patch target {target} matches no object")  # kustomize errors too
    for index in matched:
        objects[index] = jsonpatch.apply_patch(objects[index], operations)


def _targeted(obj: Obj, target: Obj) -> bool:
    name = (obj.get("metadata") or {}).get("name")
    return target.get("kind", obj.get("kind")) == obj.get("kind") and target.get("name", name) == name


def _resources(directory: Path, path: Path, kustomization: Obj, stack: tuple[Path, ...]) -> Iterable[Obj]:
    for entry in kustomization.get("resources") or []:
        if "://" in entry or entry.startswith(("github.com/", "git@")):
            raise UnsupportedKustomization(f"{path}: remote resource {entry!r} (these tests run without network)")
        target = (directory / entry).resolve()
        if target.is_dir():
            yield from _build(target, (*stack, directory))
        elif target.is_file():
            for document in yaml.safe_load_all(target.read_text()):
                if document is not None:
                    yield document
        else:
            raise UnsupportedKustomization(f"{path}: resource {entry!r} does not exist")


def by_kind(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o.get("kind") == kind]


def one(objects: Iterable[Obj], kind: str, name: str) -> Obj:
    found = [o for o in by_kind(objects, kind) if (o.get("metadata") or {}).get("name") == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]
