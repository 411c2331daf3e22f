"""One CLI vocabulary: the commands that simulate take the same options, with the same
meaning; a figure kind outside the choices is refused before anything runs."""

from __future__ import annotations

import pytest

from simengine.cli import build_parser, main


def _options(command: str) -> dict[str, object]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {s: a for a in sub.choices[command]._actions for s in a.option_strings}


@pytest.mark.parametrize("command, threads, progress, overrides", [
    ("run", True, True, True), ("compare", True, True, True), ("goal-seek", True, False, True),
    ("optimize", True, False, True), ("sensitivity", True, False, True),
    ("explore", True, False, False), ("backtest", False, False, False),
])
def test_commands_that_simulate_share_their_options(command, threads, progress, overrides):
    opts = _options(command)
    assert {"-n", "--draws", "--seed"} <= set(opts)
    assert opts["-n"] is opts["--draws"]
    assert opts["--seed"].type is int and opts["--draws"].type is int
    assert ("--threads" in opts) == threads
    assert ("--no-progress" in opts) == progress
    assert ("--set" in opts) == overrides
    assert opts["--seed"].help.startswith("random seed")
    if threads:
        assert opts["--threads"].help == "threads (default: all cores)"


def test_plot_kind_lists_its_choices_and_refuses_others(tmp_path, capsys):
    from simengine.plot import KINDS

    assert list(_options("plot")["--kind"].choices) == list(KINDS)
    assert main(["plot", str(tmp_path / "r.nc"), "--kind", "fann", "-o",
                 str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: simengine plot: --kind: expected one of fan, goal")
    assert not list(tmp_path.iterdir())
