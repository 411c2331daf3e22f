"""Figures render; the CLI runs end to end in process and as an installed command."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import simengine as se  # noqa: E402
from simengine.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def ds():
    return se.simulate("scenarios/baseline.yaml", draws=60, seed=2, progress=False)


@pytest.mark.parametrize("kind", ["fan", "goal", "funnel", "pipeline", "capacity"])
def test_each_plot_returns_a_figure_and_accepts_axes(ds, kind):
    fn = se.plot.KINDS[kind]
    fig = fn(ds)
    assert fig.axes and all(ax.has_data() for ax in fig.axes if ax.get_visible())
    plt.close(fig)
    if kind in ("goal", "funnel"):
        fig2, ax = plt.subplots()
        assert fn(ds, ax=ax) is fig2
        plt.close(fig2)


def test_money_format():
    assert se.plot.money(1_234_567) == "$1.2M"
    assert se.plot.money(350_000) == "$350k"
    assert se.plot.money(900, "EUR") == "€900"


def test_run_writes_result_and_plots(tmp_path, capsys):
    out = tmp_path / "r.nc"
    code = main(["run", "scenarios/baseline.yaml", "-n", "40", "--seed", "3", "-o", str(out),
                 "--plots", str(tmp_path / "plots"), "--set", "goal.revenue=2.5e7"])
    text = capsys.readouterr().out
    assert code == 0
    assert "bookings" in text and "P(goal $25.0M)" in text
    assert out.exists()
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "capacity.png", "fan.png", "funnel.png", "goal.png", "pipeline.png"]
    assert main(["plot", str(out), "--kind", "goal", "-o", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 10_000


def test_installed_command_smoke(tmp_path):
    exe = [sys.executable, "-m", "simengine.cli"]
    r = subprocess.run(exe + ["validate", "scenarios/baseline.yaml"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    r = subprocess.run(exe + ["run", str(bad), "-o", str(tmp_path / "o.nc")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "horizon" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.nc").exists()
