"""Back-test: CRPS, actuals and the naive baseline by hand; the whole loop on a synthetic
history from simengine; the CLI table with its ``coverage`` line; the figure."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simengine.calibrate import backtest, crps_sample, read
from simengine.calibrate.backtest import actuals, naive
from simengine.calibrate.synthetic import poisson_entries, synthetic_export
from simengine.cli import main

TRUTH = {
    "name": "truth", "horizon": {"start": "2020-01-01", "days": 30},
    "deal_value": {"dist": "gamma", "mean": 2000, "cv": 0.6},
    "stages": [
        {"name": "opportunity", "dwell": 0,
         "next": {"opportunity-won": 0.5, "opportunity-lost": 0.4}, "no_decision": 0.1},
        {"name": "opportunity-won", "dwell": {"dist": "lognormal", "mean": 35, "cv": 0.6},
         "next": {"won": 1}},
        {"name": "opportunity-lost", "dwell": {"dist": "gamma", "mean": 15, "cv": 0.8},
         "next": {}},
    ]}


@pytest.fixture(scope="module")
def export() -> pd.DataFrame:
    entries = poisson_entries(6, "2020-01-01", "2020-12-31", seed=41)
    return synthetic_export(TRUTH, entries, "2020-12-31", seed=42)


# --- scores by hand -----------------------------------------------------------------------------
def test_crps_of_a_sample_is_the_energy_form():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 3.0, 300)
    y = 5.5
    brute = np.mean(np.abs(x - y)) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :]))
    assert crps_sample(x, y) == pytest.approx(brute, rel=1e-12)
    assert crps_sample(np.full(10, 3.0), 7.0) == pytest.approx(4.0)  # a point: absolute error


def test_crps_of_a_normal_sample_matches_the_closed_form():
    # Gneiting & Raftery (2007), eq. 5: sigma * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))
    rng = np.random.default_rng(1)
    mu, sd, y, m = 10.0, 2.0, 12.5, 40_000
    x = rng.normal(mu, sd, m)
    z = (y - mu) / sd
    exact = sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))
    se = np.std(np.abs(x - y)) / math.sqrt(m) + np.std(x) / math.sqrt(m)
    assert abs(crps_sample(x, y) - exact) < 4 * se


def test_actuals_and_naive_by_hand():
    df = pd.DataFrame({"id": list("abcde"), "status": ["Won", "Won", "Lost", "Won", "Won"],
                       "created_date": ["2020-01-02"] * 5,
                       "close_date": ["2020-01-10", "2020-02-03", "2020-02-04", "2020-03-15",
                                      "2020-04-02"],
                       "amount": [100.0, 200.0, 0.0, 300.0, 50.0]})
    h = read(df)
    a = actuals(h, pd.Timestamp("2020-01-16"), pd.Timestamp("2020-04-30"))
    assert a.revenue.tolist() == [0.0, 200.0, 300.0, 50.0]
    assert a.won.tolist() == [0, 1, 1, 1]
    assert a.days.tolist() == [16, 29, 31, 30]
    # as of 2020-03-31: the last two complete months are February and March
    base = naive(h, pd.Timestamp("2020-03-31"), 2, pd.Timestamp("2020-01-01"))
    assert base["revenue"] == pytest.approx(500.0 / 60)
    assert base["won"] == pytest.approx(2 / 60)


# --- the whole loop -----------------------------------------------------------------------------
def test_backtest_scores_each_cut_off_and_month(export):
    res = backtest(export, as_of=["2020-08-31", "2020-10-15"], until="2020-12-31", draws=200,
                   seed=3, components=1)
    t = res.table
    assert len(t) == 2 * (4 + 3)  # (Sep..Dec) + (half Oct, Nov, Dec), for two variables
    assert set(t.variable) == {"revenue", "won"}
    first = t[(t.as_of == pd.Timestamp("2020-10-15").date()) & (t.variable == "won")].iloc[0]
    assert first.period == pd.Timestamp("2020-10-16").date() and first.days == 16
    assert (t.p5 <= t.p25).all() and (t.p25 <= t.p50).all() and (t.p75 <= t.p95).all()
    assert (t.in90 == ((t.p5 <= t.actual) & (t.actual <= t.p95))).all()
    line = res.coverage_line()
    assert line.startswith("coverage")
    n90 = int(t.in90.sum())
    assert f"P5-P95 {n90}/{len(t)}" in line
    s = res.summary
    assert set(s.as_of) == {"2020-08-31", "2020-10-15", "all"}
    row = s[(s.as_of == "all") & (s.variable == "won")].iloc[0]
    assert row.crps == pytest.approx(t[t.variable == "won"].crps.mean())


def test_cli_backtest_prints_the_coverage_line_and_draws_the_plot(export, tmp_path, capsys):
    csv = tmp_path / "crm.csv"
    export.to_csv(csv, index=False)
    fig = tmp_path / "bt.png"
    table = tmp_path / "bt.csv"
    code = main(["backtest", str(csv), "--as-of", "2020-09-30", "--until", "2020-12-31",
                 "-n", "100", "--components", "1", "--plot", str(fig), "--table", str(table)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert any(line.startswith("coverage") for line in out.splitlines()), out
    assert re.search(r"coverage\s+P5-P95 \d+/6 \(\d+%, nominal 90%\)\s+P25-P75 \d+/6", out)
    assert fig.exists() and fig.stat().st_size > 10_000
    assert len(pd.read_csv(table)) == 6


def test_cli_backtest_errors_exit_2(export, tmp_path, capsys):
    csv = tmp_path / "crm.csv"
    export.to_csv(csv, index=False)
    assert main(["backtest", str(csv), "--as-of", "2021-01-31", "--until", "2020-12-31"]) == 2
    assert "expected a date before --until (2020-12-31)" in capsys.readouterr().err
    assert main(["backtest", str(csv), "--as-of", "2020-06-30", "--until", "2022-01-01"]) == 2
    assert "expected a date on or before the end of the export" in capsys.readouterr().err


def test_plot_backtest_draws_both_variables(export):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simengine import plot

    res = backtest(export, as_of="2020-10-31", until="2020-12-31", draws=100, seed=1,
                   components=1)
    fig = plot.backtest(res)
    ax1, ax2 = fig.axes[:2]
    t1, t2 = ax1.get_title(loc="left"), ax2.get_title(loc="left")
    assert "bookings" in t1 and "won deals" in t2
    assert "inside P5–P95" in t1
    plt.close(fig)


@pytest.mark.slow
def test_bands_of_a_correct_model_cover_about_as_stated():
    """On a stationary history from simengine, the calibrated forecasts' bands should hold the
    actuals about as often as stated: P5-P95 in 90 % of months. With 24 scored months per
    variable (correlated), a coverage below 70 % would be a 4-sigma event for a calibrated
    forecast (binomial sd of 6 % at n = 24)."""
    entries = poisson_entries(10, "2020-01-01", "2021-06-30", seed=51)
    df = synthetic_export(TRUTH, entries, "2021-06-30", seed=52)
    res = backtest(df, as_of=["2020-06-30", "2020-09-30", "2020-12-31", "2021-03-31"],
                   until="2021-06-30", draws=300, seed=5)
    t = res.table
    for var in ("revenue", "won"):
        g = t[t.variable == var]
        assert g.in90.mean() >= 0.70, res.summary
    assert res.summary[res.summary.as_of == "all"].skill.min() > -0.5
