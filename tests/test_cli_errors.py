"""What a user can get wrong ends in one line on stderr and an exit code, never a traceback; every flag's help says its
default. Run as a user runs it: the installed `dnslb` console script, in its own process."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnslb.app import cli
from dnslb_lab import main as lab_main
from dnslb_testkit.bgpbed import BGPBed
from dnslb_testkit.kubeapi import KubeTarget
from dnslb_testkit.ports import closed_port, free_port
from dnslb_testkit.waiting import wait_for
from tests.controller.harness import ControllerProcess
from tests.speaker.harness import SpeakerProcess, setup_cluster

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
DNSLB = str(Path(sys.executable).with_name("dnslb"))  # the console script installed beside this interpreter
HOW = ("--kubeconfig", "--api-server", "KUBECONFIG")  # how every "no cluster" message says to point at one


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A user's environment with no cluster: not in a pod, no KUBECONFIG, a home without ~/.kube/config."""
    home = tmp_path / "home"
    home.mkdir()
    kept = {k: v for k, v in os.environ.items() if k != "KUBECONFIG" and not k.startswith("KUBERNETES_")}
    return {**kept, "HOME": str(home), "COLUMNS": "120"}


def run(env: dict[str, str], *args: str, stdin: str = "", **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DNSLB, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False, env=env, **kwargs
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line on stderr; fails on a traceback or on more (or fewer) lines."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def log_message(line: str) -> str:
    """The message of one JSON log line (the processes' default --log-format)."""
    record = json.loads(line)
    assert record["level"] == "error", record
    message: str = record["msg"]
    return message


# ---- --help on every command: exit 0, and every option says its default --------------------------------------------


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command line of this parser that takes --help, nested subcommands included (`lab` is its own parser)."""
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if (*prefix, name) == ("lab",):
                    lab = argparse.ArgumentParser(prog="dnslb lab")
                    lab_main.add_arguments(lab)
                    yield from _commands(lab, ("lab",))
                else:
                    yield from _commands(sub, (*prefix, name))


COMMANDS = sorted(_commands(cli._parser()))


def test_the_walk_reaches_every_command() -> None:
    walked = {" ".join(c) for c in COMMANDS}
    expected = {"", "plan", "controller", "speaker", "dns", "dns rollback", "status", "import", "lab"}
    expected |= {"lab up", "lab run", "lab down", "lab status"}
    assert expected <= walked, sorted(expected - walked)


def _required(usage: str) -> set[str]:
    """The options the usage shows outside brackets: required ones."""
    required, depth = set(), 0
    for token in re.findall(r"[\[\]]|[^\s\[\]]+", usage):
        if token == "[":
            depth += 1
        elif token == "]":
            depth -= 1
        elif depth == 0 and token.startswith("-"):
            required.add(token)
    return required


def _option_entries(text: str) -> list[tuple[set[str], str]]:
    """Each option's entry in the body of a help text: its flags (from the invocation) and its whole text (wrapped
    lines joined)."""
    entries: list[tuple[set[str], list[str]]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("  -"):  # an option's invocation, its help after two spaces or on the next lines
            invocation = line.strip().split("  ")[0]
            entries.append((set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", invocation)), [line.strip()]))
            inside = True
        elif inside and line.startswith("   "):  # its help, wrapped
            entries[-1][1].append(line.strip())
        else:  # a section title, a positional, a blank line
            inside = False
    return [(flags, " ".join(" ".join(lines).split())) for flags, lines in entries]


def without_default(help_text: str) -> list[str]:
    """The entries of options, neither required nor -h/--help/--version, whose help does not say "default"."""
    usage, _, body = help_text.partition("\n\n")
    exempt = _required(usage) | {"-h", "--help", "--version"}
    return [text for flags, text in _option_entries(body) if not flags & exempt and "default" not in text.lower()]


def test_help_of_the_installed_command_exits_zero(env: dict[str, str]) -> None:
    result = run(env, "--help")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and result.stdout.startswith("usage:")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "dnslb")
def test_help_exits_zero_and_every_option_shows_its_default(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process (the installed command's --help is run once above): a dozen interpreters cost a minute."""
    with pytest.raises(SystemExit) as exited:
        cli.main([*command, "--help"])
    out, err = capsys.readouterr()
    assert exited.value.code == 0, err
    assert out.startswith("usage:")
    assert without_default(out) == []


def test_the_default_check_finds_an_option_without_one() -> None:
    parser = argparse.ArgumentParser(prog="x", formatter_class=lambda prog: argparse.HelpFormatter(prog, width=60))
    parser.add_argument("-f", "--file", required=True, help="a file, required: no need to say more")
    parser.add_argument("name", nargs="?", help="a positional")
    parser.add_argument("--quiet", action="store_true", help="say less; and this help wraps onto a second line")
    parser.add_argument("--a-very-long-option-name", metavar="VALUE", help="on the next line (default 1)")
    parser.add_argument("--level", default="info", help="how much (default info)")
    assert without_default(parser.format_help()) == ["--quiet say less; and this help wraps onto a second line"]


# ---- no cluster configured ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [("controller",), ("speaker", "--node-name", "node-1"), ("dns", "rollback", "--provider", "corp-dns")],
    ids=" ".join,
)
def test_no_cluster_is_one_line_naming_what_is_missing_and_how(command: tuple[str, ...], env: dict[str, str]) -> None:
    result = run(env, *command)
    assert result.returncode == 2
    line = one_line(result)
    message = log_message(line) if command[0] in ("controller", "speaker") else line
    if command[0] == "dns":
        assert message.startswith("dnslb dns rollback: ")
    assert "not in a pod" in message and "~/.kube/config does not exist" in message
    assert all(how in message for how in HOW), message


def test_a_missing_kubeconfig_is_named(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config"
    result = run(env, "plan", "-f", str(EXAMPLES / "config.yaml"), "--live", "--kubeconfig", str(missing))
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith(f"dnslb plan: --kubeconfig {missing}: no such file;")
    assert all(how in line for how in HOW), line
    result = run({**env, "KUBECONFIG": str(missing)}, "dns", "rollback", "--provider", "corp-dns")
    assert result.returncode == 2
    assert one_line(result).startswith(f"dnslb dns rollback: KUBECONFIG={missing}: no such file;")


def test_a_kubeconfig_that_is_not_one_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("clusters: [\n")
    result = run(env, "controller", "--kubeconfig", str(broken))
    assert result.returncode == 2
    assert log_message(one_line(result)).startswith(f"--kubeconfig {broken} cannot be used: ")
    broken.write_text("apiVersion: v1\nkind: Config\n")  # YAML, but no context
    result = run(env, "dns", "rollback", "--provider", "corp-dns", "--kubeconfig", str(broken))
    assert result.returncode == 2
    assert "current-context" in one_line(result)


def test_an_api_server_that_is_not_a_url_is_one_line(env: dict[str, str]) -> None:
    result = run(env, "speaker", "--node-name", "node-1", "--api-server", "127.0.0.1:6443")
    assert result.returncode == 2
    assert log_message(one_line(result)) == "--api-server '127.0.0.1:6443' is not a URL: give http(s)://HOST[:PORT]"


# ---- an API server that does not answer -----------------------------------------------------------------------------


def test_rollback_against_a_closed_port_is_one_line(env: dict[str, str]) -> None:
    with closed_port() as port:
        result = run(env, "dns", "rollback", "--provider", "corp-dns", "--api-server", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith(f"dnslb dns rollback: cannot reach the API server at http://127.0.0.1:{port}: "), line
    assert "Connection refused" in line


def test_live_plan_against_a_closed_port_says_which_provider_it_could_not_read(env: dict[str, str]) -> None:
    with closed_port() as port:
        result = run(
            env, "plan", "-f", str(EXAMPLES / "config.yaml"), "--live", "--api-server", f"http://127.0.0.1:{port}"
        )
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: DNSProvider corp-dns cannot be read: "), result.stderr


def _probe(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_controller_keeps_trying_a_closed_port_one_line_per_failure_never_ready(
    env: dict[str, str], tmp_path: Path
) -> None:
    """It does not exit (in a cluster the API server comes back; a restart would not help it), it is alive
    (/healthz 200) and not ready (/readyz 503), not the leader, and says each failure in one JSON line."""
    metrics = free_port()
    log = tmp_path / "controller.log"
    with closed_port() as port, log.open("w") as out:
        process = subprocess.Popen(
            [DNSLB, "controller", "--api-server", f"http://127.0.0.1:{port}", "--metrics-addr",
             f"127.0.0.1:{metrics}", "--lease-seconds", "2"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:

            def failures() -> list[dict[str, Any]] | None:
                records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
                warned = [r for r in records if r["level"] == "warning"]
                informers = {r["msg"].split(":")[0] for r in warned if "list/watch failed" in r["msg"]}
                lease = [r for r in warned if r["msg"].startswith("reading lease failed")]
                # every informer has failed at least twice (it retried), the election too
                again = all(sum(r["msg"].startswith(f"{i}:") for r in warned) >= 2 for i in informers)
                return warned if len(informers) >= 8 and again and len(lease) >= 2 else None

            warned = wait_for(failures, 60, "each informer and the election to fail twice")
            assert process.poll() is None, "it must keep trying, not exit"
            assert _probe(metrics, "/healthz") == 200
            assert _probe(metrics, "/readyz") == 503
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5) as response:
                assert "\ndnslb_leader 0.0\n" in response.read().decode()
            assert all("Retrying (" not in r["msg"] for r in warned)  # urllib3's own retries are not failures
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log.read_text()
    assert "Traceback" not in text
    for line in text.splitlines():  # one line per record: each is a whole JSON object
        json.loads(line)


def test_a_metrics_address_in_use_is_one_line(env: dict[str, str]) -> None:
    with socket.socket() as taken, closed_port() as api:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            env, "controller", "--api-server", f"http://127.0.0.1:{api}", "--metrics-addr", f"127.0.0.1:{port}"
        )
    assert result.returncode == 2
    assert log_message(one_line(result)) == f"cannot serve --metrics-addr 127.0.0.1:{port}: Address already in use"


# ---- output and input -----------------------------------------------------------------------------------------------


def test_a_reader_that_went_away_ends_it_quietly(env: dict[str, str]) -> None:
    """`dnslb plan ... | head`: the reader is gone before plan writes; no traceback, 141 as for SIGPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [DNSLB, "plan", "-f", str(EXAMPLES / "config.yaml"), "-f", str(EXAMPLES / "services.yaml")],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, check=False, env=env,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == cli.EXIT_BROKEN_PIPE == 141
    assert result.stderr == ""


def _pool(name: str, addresses: str) -> dict[str, Any]:
    return {"apiVersion": "dnslb.io/v1alpha1", "kind": "AddressPool", "metadata": {"name": name,
            "namespace": "dnslb-system"}, "spec": {"addresses": [addresses]}}  # fmt: skip


def test_a_directory_is_read_as_kubectl_reads_it(env: dict[str, str], tmp_path: Path) -> None:
    """Its *.yaml, *.yml and *.json files, sorted by name; not other files, not its subdirectories."""
    manifests = tmp_path / "manifests"
    (manifests / "sub").mkdir(parents=True)
    (manifests / "b.yml").write_text(yaml.safe_dump(_pool("second", "10.0.1.9-10.0.1.1")))
    (manifests / "c.json").write_text(json.dumps(_pool("third", "10.0.2.9-10.0.2.1")))
    (manifests / "a.yaml").write_text(yaml.safe_dump(_pool("first", "10.0.0.9-10.0.0.1")))
    (manifests / "notes.txt").write_text("not: [yaml\n")
    (manifests / "sub" / "d.yaml").write_text("not: [yaml\n")
    (manifests / "x.yaml.orig").write_text("not: [yaml\n")
    result = run(env, "plan", "-f", str(manifests))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert [e.split(" document")[0] for e in errors] == [
        f"error: {manifests / name}" for name in ("a.yaml", "b.yml", "c.json")
    ], result.stderr
    assert "reversed" in errors[0]


def test_no_documents_is_exit_two(env: dict[str, str], tmp_path: Path) -> None:
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    (empty_dir / "README.md").write_text("nothing to plan\n")
    comments = tmp_path / "comments.yaml"
    comments.write_text("# only a comment\n---\n---\n")
    result = run(env, "plan", "-f", str(empty_dir), "-f", str(comments))
    assert result.returncode == 2
    assert one_line(result) == f"dnslb plan: no documents in {empty_dir}, {comments}"
    result = run(env, "plan", "-f", "-", stdin="")
    assert result.returncode == 2
    assert one_line(result) == "dnslb plan: no documents in <stdin>"


def test_unreadable_input_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"kind: \xff\xfe\n")
    result = run(env, "plan", "-f", str(binary))
    assert result.returncode == 2
    assert one_line(result) == f"dnslb plan: {binary}: not UTF-8 text (byte 6)"
    missing = tmp_path / "missing.yaml"
    result = run(env, "plan", "-f", str(missing))
    assert result.returncode == 2
    assert one_line(result) == f"dnslb plan: {missing}: No such file or directory"


# ---- dnslb_leader without an election -------------------------------------------------------------------------------


@pytest.fixture
def kube_in_child_process() -> bool:
    return True  # the controller's API double in a process of its own, as in the controller suite


def test_a_controller_without_election_is_the_leader(target: KubeTarget, tmp_path: Path) -> None:
    controller = ControllerProcess(("--api-server", target.configuration.host), tmp_path, "--leader-elect=false")
    try:
        controller.wait_ready(60)
        assert re.search(r"^dnslb_leader 1\.0$", controller.metrics(), re.MULTILINE), controller.metrics()
    finally:
        assert controller.stop() == 0


# ---- the speaker's work directory -----------------------------------------------------------------------------------


@pytest.fixture
def bed(target: KubeTarget) -> Iterator[BGPBed]:
    import kubernetes.client as k8s

    client = target.api_client()
    try:
        with BGPBed(nodes=1, ipv6=False, hold_time=3) as bed:
            setup_cluster(k8s.CoreV1Api(client), k8s.CustomObjectsApi(client), bed)
            yield bed
    finally:
        client.close()


def _speaker_ran_exabgp(speaker: SpeakerProcess) -> bool:
    return bool(re.search(r"ExaBGP \d+ started", speaker.process.read_log()))


@pytest.mark.root
def test_the_speaker_removes_what_it_put_in_its_workdir_and_only_that(
    bed: BGPBed, target: KubeTarget, tmp_path: Path
) -> None:
    given = tmp_path / bed.nodes[0].name  # SpeakerProcess's --workdir, made before the speaker starts
    given.mkdir()
    (given / "keep.txt").write_text("not the speaker's\n")
    made = tmp_path / "made" / "deeper"  # the speaker makes both
    url = target.configuration.host
    speakers = [SpeakerProcess(url, bed.nodes[0], tmp_path)]
    try:
        wait_for(lambda: _speaker_ran_exabgp(speakers[0]), 60, "ExaBGP to start in the given workdir")
        assert {p.name for p in given.iterdir()} >= {"exabgp.conf", "exabgp.env", "keep.txt"}
        assert speakers[0].stop() == 0
        assert sorted(p.name for p in given.iterdir()) == ["keep.txt"]

        speakers.append(SpeakerProcess(url, bed.nodes[0], tmp_path, "--workdir", str(made)))
        wait_for(lambda: _speaker_ran_exabgp(speakers[1]), 60, "ExaBGP to start in the workdir it made")
        assert (made / "exabgp.conf").exists()
        assert speakers[1].stop() == 0
        assert not (tmp_path / "made").exists()

        speakers.append(SpeakerProcess(url, bed.nodes[0], tmp_path, "--workdir", ""))  # a temporary directory
        wait_for(lambda: _speaker_ran_exabgp(speakers[2]), 60, "ExaBGP to start in a temporary workdir")
        found = re.search(r"work directory (\S+)", speakers[2].process.read_log())
        assert found is not None
        temporary = Path(found.group(1).strip('"'))
        assert (temporary / "exabgp.conf").exists()
        assert speakers[2].stop() == 0
        assert not temporary.exists()
    finally:
        for speaker in speakers:
            if speaker.process.alive():
                speaker.stop()
