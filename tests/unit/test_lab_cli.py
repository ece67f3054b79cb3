"""`dnslb lab` without root: it says why it cannot run; and the checks on its arguments and options."""

from __future__ import annotations

import pytest

from dnslb.app.cli import main
from dnslb_lab.lab import LabOptions


@pytest.mark.parametrize("command", ["up", "run", "down", "status"])
def test_without_root_it_explains_and_changes_nothing(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["lab", command]) == 2
    message = capsys.readouterr().err
    assert "needs root" in message and "network namespaces" in message and "dnslb plan" in message


def test_help_lists_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lab", "run", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for scenario in ("node-down", "drain", "restart", "flapping", "migrate"):
        assert scenario in text


def test_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lab", "run", "--scenario", "meteor"])
    assert exit_.value.code == 2
    assert "--scenario" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "up"])
def test_help_states_the_routers_and_the_default(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lab", command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--router {ecmp,resilient,frr}" in text and "(default ecmp)" in text
    assert "resilient: an emulation" in text and "frr: FRR from Debian" in text


def test_unknown_router_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lab", "run", "--router", "cisco"])
    assert exit_.value.code == 2
    assert "--router" in capsys.readouterr().err


def test_lab_options_name_the_router_as_the_report_shows_it() -> None:
    assert LabOptions().router == "ecmp" and LabOptions().router_daemon == "bird"
    assert LabOptions(router="frr").router_daemon == "frr"
    resilient = LabOptions(router="resilient")
    assert resilient.router_daemon == "bird"
    assert resilient.router_summary() == (
        "resilient (emulation: BIRD + Linux resilient nexthop groups, buckets 128, idle timer 5 s)"
    )
    with pytest.raises(ValueError, match="ecmp, resilient, frr"):
        LabOptions(router="cisco")
