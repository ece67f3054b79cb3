"""`dnslb lab` without root: it says why it cannot run; and the checks on its arguments."""

from __future__ import annotations

import pytest

from dnslb.app.cli import main


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
    for scenario in ("node-down", "drain", "flapping", "migrate"):
        assert scenario in text


def test_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lab", "run", "--scenario", "meteor"])
    assert exit_.value.code == 2
    assert "--scenario" in capsys.readouterr().err
