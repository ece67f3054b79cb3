"""The Dockerfile and `make image`, checked without a container engine (none runs on the machines these tests run
on): hadolint finds nothing, the image is what deploy/ expects (non-root numeric user, `dnslb` entrypoint, the
project installed from a build context that holds everything `pip install .` reads), and `make image` without an
engine says so and succeeds after the lint."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

from dnslb import __version__
from tests.deploy.kustomize import ROOT

DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = ROOT / ".venv/bin/hadolint"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    logical = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        word, _, rest = logical.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        logical = ""
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_hadolint_finds_nothing() -> None:
    hadolint = HADOLINT if HADOLINT.exists() else Path("hadolint")
    result = subprocess.run([str(hadolint), "-f", "json", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_the_image_runs_dnslb_as_a_numeric_non_root_user_on_slim_python() -> None:
    stage = final_stage()
    base = stage[0][1]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base), base
    users = [args for word, args in stage if word == "USER"]
    uid = int(users[-1].split(":")[0])  # numeric, so the kubelet can check runAsNonRoot
    assert uid != 0
    assert re.search(rf"useradd .*--uid {uid}\b", " ".join(a for w, a in stage if w == "RUN")), (
        "the user needs a passwd entry: the speaker looks its own name up for ExaBGP"
    )
    (entrypoint,) = [json.loads(args) for word, args in stage if word == "ENTRYPOINT"]
    assert entrypoint == ["dnslb"]


def test_the_build_installs_the_project_with_exabgp_and_checks_both() -> None:
    runs = " ".join(args for word, args in instructions() if word == "RUN")
    assert re.search(r"pip install [^&]*\s\.(\s|$)", runs), "installs the project (ExaBGP is one of its dependencies)"
    assert "dnslb --version" in runs and "exabgp version" in runs
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("exabgp") for d in dependencies)


def context_files() -> set[Path]:
    """The files `docker build .` sends, under .dockerignore (Go filepath.Match patterns; `!` re-includes)."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").rstrip("/")))

    def included(relative: str) -> bool:
        parents = [relative] + ["/".join(relative.split("/")[:i]) for i in range(1, relative.count("/") + 1)]
        verdict = True
        for negate, pattern in rules:
            if any(_match(pattern, p) for p in parents):
                verdict = negate
        return verdict

    sent = set()
    for directory, subdirectories, files in os.walk(ROOT):
        here = Path(directory).relative_to(ROOT).as_posix()
        prefix = "" if here == "." else f"{here}/"
        # skip a directory that is left out unless a `!` pattern could bring back something inside it
        subdirectories[:] = [
            d for d in subdirectories
            if included(prefix + d) or any(negate and p.startswith(prefix + d + "/") for negate, p in rules)
        ]  # fmt: skip
        sent |= {Path(prefix + name) for name in files if included(prefix + name)}
    return sent


def _match(pattern: str, path: str) -> bool:
    if pattern.startswith("**/"):
        return any(fnmatch.fnmatchcase(part, pattern[3:]) for part in path.split("/"))
    return fnmatch.fnmatchcase(path, pattern) and path.count("/") == pattern.count("/")


TEST_ONLY = ("dnslb_testkit", "dnslb_lab")  # in the repository's distribution, never in the runtime image


def test_the_build_context_holds_what_pip_install_reads() -> None:
    sent = context_files()
    assert not any(p.parts[0] in (".venv", ".git") for p in sent)
    copied = [shlex.split(args)[:-1] for word, args in instructions() if word == "COPY" and "--from" not in args]
    for sources in copied:
        for source in sources:
            assert any(p == Path(source) or Path(source) in p.parents for p in sent), f"COPY {source}: not in context"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert Path(project["project"]["readme"]) in sent
    for where in project["tool"]["setuptools"]["packages"]["find"]["where"]:
        for init in (ROOT / where).glob("dnslb*/__init__.py"):
            if init.parent.name in TEST_ONLY:
                assert init.relative_to(ROOT) not in sent, f"{init.parent.name} is for tests and the lab, not the image"
            else:
                assert init.relative_to(ROOT) in sent, f"package {init.parent.name} would be missing from the image"
    assert not [p for p in sent if p.parts[0] == "tests"], "tests stay out of the image"


def test_make_image_without_an_engine_lints_says_so_and_succeeds(tmp_path: Path) -> None:
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    # -o venv: use the venv as it is (the one running these tests), never rebuild it from here
    result = subprocess.run(
        ["make", "-s", "-o", "venv", "image"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no container engine answers here ('docker info' fails), so dnslb:{__version__} was not built" in (
        result.stdout
    )
    assert "the Dockerfile passed hadolint" in result.stdout
