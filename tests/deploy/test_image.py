"""The image: the Dockerfile (hadolint, what it installs, its build context) and the image `make image` builds with
no container engine (image/build.sh: mmdebstrap and umoci, an OCI archive), checked to describe the same image (base,
user, entrypoint, command, environment, ports, labels); then that image run with podman: `dnslb --help`, `dnslb
speaker --help`, ExaBGP, bytecode for every module, and a speaker that reads the Kubernetes API double and announces
a VIP over BGP to a router on loopback. Building the image takes about a minute (more on a busy machine); it is built
once per session. Without root, or if the image cannot be built or run, these tests fail: they never skip."""

from __future__ import annotations

import fnmatch
import io
import ipaddress
import json
import os
import platform
import re
import resource
import shlex
import shutil
import socket
import subprocess
import tarfile
import threading
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
from kubernetes.client.rest import ApiException

from dnslb import __version__
from dnslb_testkit.kubeapi import KubeAPIControl
from dnslb_testkit.ports import free_port
from dnslb_testkit.waiting import wait_for
from tests.controller.harness import NAMESPACE, ensure_namespace
from tests.deploy.kustomize import ROOT
from tests.speaker.harness import custom_object, lb_service

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


def test_the_image_runs_dnslb_as_a_numeric_non_root_user_on_debian_bookworms_python() -> None:
    stage = final_stage()
    # Debian's own python3 (3.11 in bookworm) in both stages: the venv's interpreter is /usr/bin/python3 in each, as
    # in the rootfs image/build.sh makes
    assert [args for word, args in instructions() if word == "FROM"] == [
        "debian:bookworm-slim AS build",
        "debian:bookworm-slim",
    ]
    for runs in (
        " ".join(a for w, a in instructions()[: -len(stage)] if w == "RUN"),
        " ".join(a for w, a in stage if w == "RUN"),
    ):
        assert re.search(r"apt-get install -y --no-install-recommends python3\b", runs), runs
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
    installs = r"pip --python /opt/dnslb/bin/python install [^&]*\s\.(\s|$)"
    assert re.search(installs, runs), "installs the project (ExaBGP is one of its dependencies) into the venv"
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


# --- the image `make image` builds, and the Dockerfile describing the same one ----------------------------------------


@dataclass(frozen=True)
class OCIImage:
    """`make image`'s OCI archive: its index, the image config, and from its one layer the file names, the passwd and
    group entries and the few small files the tests read."""

    archive: Path
    index: dict[str, Any]
    config: dict[str, Any]
    names: frozenset[str]
    files: dict[str, str]


SMALL_FILES = ("etc/passwd", "etc/group", "usr/lib/os-release", "opt/dnslb/pyvenv.cfg")


def _blob(archive: tarfile.TarFile, digest: str) -> bytes:
    member = archive.extractfile("blobs/" + digest.replace(":", "/"))
    assert member is not None, digest
    return member.read()


def read_oci_archive(path: Path) -> OCIImage:
    with tarfile.open(path) as archive:
        index = json.loads(_blob_at(archive, "index.json"))
        (descriptor,) = index["manifests"]
        manifest = json.loads(_blob(archive, descriptor["digest"]))
        config = json.loads(_blob(archive, manifest["config"]["digest"]))
        (layer,) = manifest["layers"]
        names: set[str] = set()
        files: dict[str, str] = {}
        with tarfile.open(fileobj=io.BytesIO(_blob(archive, layer["digest"])), mode="r:gz") as rootfs:
            for member in rootfs:
                name = member.name.removeprefix("./")
                names.add(name + "/" if member.isdir() else name)
                if name in SMALL_FILES and member.isfile():
                    extracted = rootfs.extractfile(member)
                    assert extracted is not None
                    files[name] = extracted.read().decode()
    return OCIImage(path, index, config, frozenset(names), files)


def _blob_at(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.extractfile(name)
    assert member is not None, name
    return member.read()


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OCIImage]:
    """`make image`, once per session, into a temp dir: the build (about a minute) is part of what is tested."""
    if os.geteuid() != 0:
        pytest.fail("make image needs root (mmdebstrap builds the rootfs in a chroot); run `make test` as root")
    out = tmp_path_factory.mktemp("image")
    # -o venv: use the venv as it is (the one running these tests), never rebuild it from here
    result = subprocess.run(
        ["make", "-s", "-o", "venv", "image", f"IMAGE_DIR={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"make image failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    archive = out / f"dnslb-{__version__}.oci.tar"
    assert archive.is_file(), result.stdout
    assert f"wrote {archive} (dnslb:{__version__}," in result.stdout, result.stdout
    yield read_oci_archive(archive)
    archive.unlink()  # 75 MB; pytest keeps the temp dirs of the last sessions


BASE_PATH = {"debian:bookworm-slim": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def dockerfile_config() -> dict[str, Any]:
    """The image config `docker build` makes from the Dockerfile's final stage, as the OCI config spells it."""
    stage = final_stage()
    base = stage[0][1]
    env = {"PATH": BASE_PATH[base]}
    labels: dict[str, str] = {}
    ports: dict[str, dict[str, Any]] = {}
    config: dict[str, Any] = {}
    for word, args in stage[1:]:
        if word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], value)
        elif word == "LABEL":
            labels |= dict(pair.partition("=")[::2] for pair in shlex.split(args))
        elif word == "EXPOSE":
            ports |= {(p if "/" in p else f"{p}/tcp"): {} for p in args.split()}
        elif word == "USER":
            config["User"] = args
        elif word in ("ENTRYPOINT", "CMD"):
            config[word.title()] = json.loads(args)
        elif word == "WORKDIR":
            config["WorkingDir"] = args
    return {**config, "Env": env, "Labels": labels, "ExposedPorts": ports}


@pytest.mark.root
def test_make_image_tags_the_oci_archive_with_the_version_deploy_runs(image: OCIImage) -> None:
    (descriptor,) = image.index["manifests"]
    assert descriptor["annotations"]["org.opencontainers.image.ref.name"] == f"dnslb:{__version__}"
    assert descriptor["annotations"]["io.containerd.image.name"] == f"docker.io/library/dnslb:{__version__}"
    architecture = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    assert (image.config["os"], image.config["architecture"]) == ("linux", architecture)  # mmdebstrap's: the host's


@pytest.mark.root
def test_the_oci_image_and_the_dockerfile_describe_the_same_image(image: OCIImage) -> None:
    built = image.config["config"]
    expected = dockerfile_config()
    assert built["User"] == expected["User"] == "65532:65532"
    assert built["Entrypoint"] == expected["Entrypoint"] == ["dnslb"]
    assert built["Cmd"] == expected["Cmd"] == ["--help"]
    assert dict(e.split("=", 1) for e in built["Env"]) == expected["Env"]
    assert expected["Env"]["PATH"].startswith("/opt/dnslb/bin:")
    assert built["ExposedPorts"] == expected["ExposedPorts"] == {"9090/tcp": {}, "9091/tcp": {}}
    assert built.get("Labels", {}) == expected["Labels"]
    assert built.get("WorkingDir", "") == expected.get("WorkingDir", "")
    # the same Debian release and the same Debian Python under the venv
    assert final_stage()[0][1] == "debian:bookworm-slim"
    assert "VERSION_CODENAME=bookworm" in image.files["usr/lib/os-release"].splitlines()
    assert "home = /usr/bin" in image.files["opt/dnslb/pyvenv.cfg"].splitlines()
    assert "usr/bin/python3.11" in image.names
    assert re.search(r"apt-get install [^&]*\bpython3\b", " ".join(a for w, a in final_stage() if w == "RUN"))


def _useradd(flag: str) -> str:
    runs = " ".join(args for word, args in final_stage() if word == "RUN")
    found = re.search(rf"useradd .*{flag} (\S+)", runs)
    assert found, f"useradd {flag}"
    return found.group(1)


@pytest.mark.root
def test_the_image_user_is_the_dockerfiles_dnslb_65532_without_a_home(image: OCIImage) -> None:
    passwd = {line.split(":")[0]: line.split(":") for line in image.files["etc/passwd"].splitlines()}
    group = {line.split(":")[0]: line.split(":") for line in image.files["etc/group"].splitlines()}
    _, _, uid, gid, _, home, shell = passwd["dnslb"]
    assert (uid, gid) == ("65532", "65532") == (_useradd("--uid"), group[_useradd("--gid")][2])
    assert (home, shell) == (_useradd("--home-dir"), _useradd("--shell")) == ("/nonexistent", "/usr/sbin/nologin")
    assert home.lstrip("/") + "/" not in image.names and home.lstrip("/") not in image.names
    assert group["dnslb"][2] == "65532"


@pytest.mark.root
def test_the_venv_holds_dnslb_exabgp_and_their_bytecode_and_no_pip_or_test_code(image: OCIImage) -> None:
    site = "opt/dnslb/lib/python3.11/site-packages/"
    assert {"opt/dnslb/bin/dnslb", "opt/dnslb/bin/exabgp", f"{site}exabgp/__init__.py"} <= image.names
    packages = {n[len(site) :].split("/")[0] for n in image.names if n.startswith(site)}
    assert not {"pip", *TEST_ONLY} & packages, "no pip, no test kit or lab in the image"
    assert {"dnslb", "dnslb_inmemory", "dnslb_route53", "dnslb_rfc2136", "dnslb_powerdns", "dnslb_webhook"} <= packages
    # read-only root filesystem: every module compiled at build time, the standard library's by Debian
    sources = [n for n in image.names if n.endswith(".py") and n.startswith((site, "usr/lib/python3.11/"))]
    assert len(sources) > 1000
    missing = [s for s in sources if _cached(s) not in image.names]
    assert not missing, f"{len(missing)} modules without bytecode, e.g. {missing[:5]}"


def _cached(source: str) -> str:
    directory, _, name = source.rpartition("/")
    return f"{directory}/__pycache__/{name[:-3]}.cpython-311.pyc"


# --- running it -------------------------------------------------------------------------------------------------------

# podman with runc: crun refuses the hybrid cgroup v1/v2 setup of some hosts (this one's among them)
RUNNER_DEBS = "podman runc"


class Podman:
    """podman with its own storage under a temp dir (nothing shared with the machine's), runc, no cgroup manager
    daemon and no events log; the image loaded from the OCI archive."""

    def __init__(self, directory: Path) -> None:
        self.command = [
            "podman", "--root", str(directory / "root"), "--runroot", str(directory / "run"),
            "--tmpdir", str(directory / "tmp"), "--storage-driver", "overlay", "--runtime", "runc",
            "--cgroup-manager", "cgroupfs", "--events-backend", "none",
        ]  # fmt: skip
        # podman's default limits (open files 1048576, processes as many as the host allows) are more than a sandbox
        # may let a container set (this one's refuses both): a few thousand each, within our own hard limits
        self.limits = [f"--ulimit={name}={_limit(kind)}:{_limit(kind)}" for name, kind in LIMITS]
        self.image = f"docker.io/library/dnslb:{__version__}"

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.command, *args], capture_output=True, text=True, timeout=timeout, check=False)

    def run(self, *args: str, options: Sequence[str] = (), timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`podman run` as deploy/ runs the image (read-only root, every capability dropped, no new privileges), with
        no network."""
        command = ["run", "--rm", "--network=none", *RESTRICTED, *self.limits, *options, self.image, *args]
        return self(*command, timeout=timeout)


RESTRICTED = ("--read-only", "--cap-drop=all", "--security-opt=no-new-privileges")


LIMITS = (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC))


def _limit(kind: int) -> int:
    hard = resource.getrlimit(kind)[1]
    return 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)


@pytest.fixture(scope="session")
def podman(image: OCIImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    installed = subprocess.run(
        ["make", "-s", "install-debs", f"PACKAGES={RUNNER_DEBS}"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if installed.returncode != 0:
        pytest.fail(f"cannot install {RUNNER_DEBS} to run the image:\n{installed.stdout}{installed.stderr}")
    directory = tmp_path_factory.mktemp("podman")
    engine = Podman(directory)
    loaded = engine("load", "--input", str(image.archive), timeout=300)
    assert loaded.returncode == 0, f"podman load: {loaded.stderr}"
    assert f"Loaded image: {engine.image}" in loaded.stdout, loaded.stdout
    yield engine
    engine("rm", "--all", "--force")
    engine("rmi", "--all", "--force")
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.root
def test_dnslb_its_speaker_and_exabgp_answer_in_the_image(podman: Podman) -> None:
    default = podman.run()  # no arguments: the image's command, --help
    assert default.returncode == 0, default.stderr
    assert default.stdout.startswith("usage: dnslb "), default.stdout
    version = podman.run("--version")
    assert version.stdout.strip() == f"dnslb {__version__}", version.stdout + version.stderr
    speaker = podman.run("speaker", "--help")
    assert speaker.returncode == 0 and speaker.stdout.startswith("usage: dnslb speaker "), speaker.stderr
    exabgp = podman.run("version", options=["--entrypoint=exabgp"])
    assert exabgp.returncode == 0, exabgp.stderr
    assert re.search(r"^ExaBGP : 5\.", exabgp.stdout, re.MULTILINE), exabgp.stdout
    assert re.search(r"^Python : 3\.11\.", exabgp.stdout, re.MULTILINE), exabgp.stdout
    assert "/opt/dnslb/lib/python3.11/site-packages/exabgp" in exabgp.stdout


IMPORT_EVERYTHING = """
import importlib, pkgutil
import dnslb, exabgp
names = ["dnslb_inmemory", "dnslb_route53", "dnslb_rfc2136", "dnslb_powerdns", "dnslb_webhook", "kubernetes",
         "boto3", "botocore.session", "httpx", "apscheduler.schedulers.background", "pydantic", "yaml", "dns.update"]
for package in (dnslb, exabgp):
    found = pkgutil.walk_packages(package.__path__, package.__name__ + ".", onerror=lambda name: None)
    names += [m.name for m in found if not m.name.endswith("__main__")]
for name in names:
    try:
        importlib.import_module(name)
    except ImportError:  # ExaBGP's CLI and YANG tools want what it does not depend on (prompt_toolkit, ...)
        if not name.startswith("exabgp."):
            raise
print(len(names), "modules imported")
"""
# what podman itself puts into every container
PODMAN_FILES = {"/etc", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run", "/run/.containerenv"}


@pytest.mark.root
def test_the_image_writes_nothing_when_python_may_write_bytecode(podman: Podman) -> None:
    """With PYTHONDONTWRITEBYTECODE unset, a writable root and user 0 (who may write anywhere, as 65532 may not),
    importing every module of dnslb and ExaBGP writes no file: all their bytecode is there and up to date (else
    Python would write it here, and on the read-only root compile the module again at every start)."""
    name = f"dnslb-bytecode-{os.getpid()}"
    ran = podman(
        "run", f"--name={name}", "--network=none", "--user=0", "--env=PYTHONDONTWRITEBYTECODE=", *podman.limits,
        "--entrypoint=python3", podman.image, "-c", IMPORT_EVERYTHING,
    )  # fmt: skip
    try:
        assert ran.returncode == 0, ran.stderr
        imported = int(ran.stdout.split()[0])
        assert imported > 300, ran.stdout
        changed = podman("diff", name)
        assert changed.returncode == 0, changed.stderr
        written = [line for line in changed.stdout.splitlines() if line.split()[-1] not in PODMAN_FILES]
        assert written == [], f"files the run wrote into the image: {written[:20]}"
    finally:
        podman("rm", "--force", name)


# --- the speaker in the image, against the API double and a BGP router on loopback ------------------------------------

BGP_OPEN, BGP_UPDATE, BGP_NOTIFICATION, BGP_KEEPALIVE = 1, 2, 3, 4
ROUTER_ASN, NODE_ASN = 64500, 64512


class LoopbackRouter:
    """The least BGP router the image's ExaBGP can make a session with, on 127.0.0.1: it answers an OPEN with its
    own (IPv4 unicast, 4-octet ASNs) and a KEEPALIVE, keeps the session alive, and records the IPv4 prefixes
    announced and withdrawn (the UPDATE's own NLRI and withdrawn-routes fields, where IPv4 unicast goes)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.announced: set[str] = set()  # now: announced and not withdrawn since
        self.withdrawn: set[str] = set()  # ever withdrawn
        self.peer_opens: list[bytes] = []
        self._closed = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, name="loopback-router", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self.listener.close()

    def __enter__(self) -> LoopbackRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def state(self) -> tuple[frozenset[str], frozenset[str]]:
        with self._lock:
            return frozenset(self.announced), frozenset(self.withdrawn)

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:  # one session at a time; ExaBGP connects again after one ends
                try:
                    self._session(connection)
                except (OSError, ValueError):
                    continue

    def _session(self, connection: socket.socket) -> None:
        connection.settimeout(30)
        kind, body = _read_message(connection)
        if kind != BGP_OPEN:
            return
        with self._lock:
            self.peer_opens.append(body)
        hold_time = int.from_bytes(body[3:5], "big")
        capabilities = bytes([1, 4, 0, 1, 0, 1]) + bytes([65, 4]) + ROUTER_ASN.to_bytes(4, "big")
        parameters = bytes([2, len(capabilities)]) + capabilities
        own = bytes([4]) + ROUTER_ASN.to_bytes(2, "big") + hold_time.to_bytes(2, "big") + bytes([192, 0, 2, 1])
        connection.sendall(_message(BGP_OPEN, own + bytes([len(parameters)]) + parameters) + _message(BGP_KEEPALIVE))
        ended = threading.Event()
        threading.Thread(target=self._keepalives, args=(connection, max(hold_time // 3, 1), ended), daemon=True).start()
        try:
            while not self._closed.is_set():
                kind, body = _read_message(connection)
                if kind == BGP_UPDATE:
                    self._update(body)
                elif kind == BGP_NOTIFICATION:  # the session ends
                    return
        finally:
            ended.set()

    def _keepalives(self, connection: socket.socket, interval: int, ended: threading.Event) -> None:
        while not ended.wait(interval):
            try:
                connection.sendall(_message(BGP_KEEPALIVE))
            except OSError:
                return

    def _update(self, body: bytes) -> None:
        withdrawn_length = int.from_bytes(body[:2], "big")
        withdrawn = _prefixes(body[2 : 2 + withdrawn_length])
        attributes_length = int.from_bytes(body[2 + withdrawn_length : 4 + withdrawn_length], "big")
        announced = _prefixes(body[4 + withdrawn_length + attributes_length :])
        with self._lock:
            self.announced = (self.announced - withdrawn) | announced
            self.withdrawn |= withdrawn


def _message(kind: int, body: bytes = b"") -> bytes:
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + bytes([kind]) + body


def _read_message(connection: socket.socket) -> tuple[int, bytes]:
    header = connection.recv(19, socket.MSG_WAITALL)
    if len(header) < 19 or header[:16] != b"\xff" * 16:
        raise ValueError(f"not a BGP message header: {header!r}")
    length = int.from_bytes(header[16:18], "big")
    body = connection.recv(length - 19, socket.MSG_WAITALL) if length > 19 else b""
    return header[18], body


def _prefixes(data: bytes) -> set[str]:
    found, offset = set(), 0
    while offset < len(data):
        bits = data[offset]
        size = (bits + 7) // 8
        address = data[offset + 1 : offset + 1 + size].ljust(4, b"\0")
        found.add(f"{ipaddress.IPv4Address(address)}/{bits}")
        offset += 1 + size
    return found


NODE = "image-node"
NODE_ADDRESS = "127.0.0.2"  # the speaker's BGP source address and router ID: the node's InternalIP
VIP = "10.100.0.70"  # a VIP only ever sent to the loopback router in a BGP UPDATE: no route or address is made


def announcement(custom: k8s.CustomObjectsApi) -> dict[str, Any]:
    try:
        obj = custom.get_namespaced_custom_object("dnslb.io", "v1alpha1", NAMESPACE, "nodeannouncements", NODE)
    except ApiException as exc:
        if exc.status == 404:
            return {}
        raise
    return dict(obj.get("status") or {})


def one_node_cluster(core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, router_port: int) -> None:
    """The node (Ready, its InternalIP on loopback), a BGPPeer to the loopback router, a pool, an advertisement and
    a LoadBalancer Service with the VIP in its status (what the controller would have written)."""
    ensure_namespace(core, NAMESPACE)
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": NODE_ADDRESS}],
        },
    }
    created = core.create_node(node)
    version = created.metadata.resource_version
    core.replace_node_status(NODE, {**node, "metadata": {**node["metadata"], "resourceVersion": version}})
    peer = {"myASN": NODE_ASN, "peerASN": ROUTER_ASN, "peerAddress": "127.0.0.1", "peerPort": router_port,
            "listenPort": 0, "holdTime": 9}  # fmt: skip
    custom_object(custom, "BGPPeer", "bgppeers", "loopback", peer)
    custom_object(custom, "AddressPool", "addresspools", "vips", {"addresses": ["10.100.0.0/24"]})
    custom_object(custom, "BGPAdvertisement", "bgpadvertisements", "all", {})
    lb_service(core, "web", [VIP])


def start_speaker(podman: Podman, api_url: str, name: str, workdir: Path, scratch: Path) -> None:
    """The speaker as deploy/speaker.yaml runs it (host network, read-only root, no capability, /run/dnslb and
    /tmp mounted), but as the image's user 65532: with listenPort 0 a speaker needs no capability at all."""
    for directory in (workdir, scratch):
        directory.mkdir()
        os.chown(directory, 65532, 65532)
    started = podman(
        "run", "--detach", f"--name={name}", "--network=host", "--log-driver=k8s-file", *RESTRICTED, *podman.limits,
        f"--volume={workdir}:/run/dnslb", f"--volume={scratch}:/tmp", podman.image,
        "speaker", f"--node-name={NODE}", f"--api-server={api_url}", f"--namespace={NAMESPACE}",
        "--workdir=/run/dnslb", f"--metrics-addr=127.0.0.1:{free_port()}", "--health-url=", "--status-interval=0.5",
        "--drain-seconds=1", "--log-format=logfmt",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr


def established_and_announced(custom: k8s.CustomObjectsApi) -> dict[str, Any] | None:
    status = announcement(custom)
    sessions = {s["peer"]: s["state"] for s in status.get("sessions", [])}
    vips = {v for group in status.get("announced", []) for v in group["vips"]}
    return status if sessions.get("loopback") == "Established" and VIP in vips else None


@pytest.mark.root
def test_the_speaker_in_the_image_announces_a_vip_over_bgp_and_writes_its_node_announcement(
    podman: Podman, api: KubeAPIControl, core: k8s.CoreV1Api, custom: k8s.CustomObjectsApi, tmp_path: Path
) -> None:
    """It reads the API double over loopback, starts ExaBGP from the image's venv, which makes a session with the
    loopback router and announces the VIP; it writes its NodeAnnouncement; and on SIGTERM (it is PID 1 of its
    container) it withdraws the VIP and exits 0."""
    name = f"dnslb-speaker-{os.getpid()}"
    workdir = tmp_path / "run-dnslb"  # the pod's emptyDir volumes
    with LoopbackRouter() as router:
        one_node_cluster(core, custom, router.port)
        start_speaker(podman, api.url, name, workdir, tmp_path / "tmp")
        try:
            try:
                wait_for(lambda: f"{VIP}/32" in router.state()[0], 60, f"{VIP}/32 announced to the loopback router")
                status = wait_for(partial(established_and_announced, custom), 30, "the NodeAnnouncement saying so")
            except TimeoutError as exc:
                logs = podman("logs", name)
                pytest.fail(f"{exc}\nthe speaker said:\n{logs.stdout[-4000:]}{logs.stderr[-4000:]}")
            assert status["sessionsUp"] == "1/1" and status["announcedCount"] == 1

            # ExaBGP from the image's venv, as the image's user, whose name the speaker looked up and gave ExaBGP
            processes = podman("top", name, "user", "args")
            assert processes.returncode == 0, processes.stderr
            exabgp = [line for line in processes.stdout.splitlines() if "exabgp server" in line]
            assert exabgp and all(line.split()[0] == "dnslb" for line in exabgp), processes.stdout
            assert any("/opt/dnslb/bin/exabgp server /run/dnslb/exabgp.conf" in line for line in exabgp), exabgp
            assert "user = dnslb" in (workdir / "exabgp.env").read_text().splitlines()
            opened = router.peer_opens[0]
            assert int.from_bytes(opened[1:3], "big") == NODE_ASN and opened[5:9] == socket.inet_aton(NODE_ADDRESS)
        finally:
            stopped = podman("stop", "--time=20", name, timeout=60)
            exited = podman("inspect", "--format={{.State.ExitCode}}", name)
            logs = podman("logs", name)
            podman("rm", "--force", name)
        assert stopped.returncode == 0, stopped.stderr
        said = f"the speaker said:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
        assert exited.stdout.strip() == "0", f"exit status {exited.stdout.strip()}; {said}"
        wait_for(lambda: f"{VIP}/32" in router.state()[1], 5, f"the VIP withdrawn as the speaker stopped; {said}")
