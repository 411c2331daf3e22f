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
    assert ((t.in90 == ((t.p5 <= t.actual) & (t.actual <= t.p95)))).all()
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


# --- benchmarks by hand -------------------------------------------------------------------------
def test_seasonal_naive_takes_the_same_month_of_the_last_quarter():
    from simengine.calibrate import benchmarks as B

    r = np.array([5.0, 1.0, 2.0, 3.0, 4.0, 6.0])  # months 1..6: the last quarter is 3, 4, 6
    assert [B.seasonal_naive(r, h).point for h in range(1, 7)] == [3.0, 4.0, 6.0] * 2
    # band from its own past log errors (3/5, 4/1, 6/2), widening with the seasons ahead
    e = np.log([3 / 5, 4 / 1, 6 / 2])
    sd1 = math.sqrt(np.mean(e ** 2))
    assert B.seasonal_naive(r, 2).log_sd == pytest.approx(sd1)
    assert B.seasonal_naive(r, 5).log_sd == pytest.approx(sd1 * math.sqrt(2))
    assert B.seasonal_naive(r[:2], 1).point is None  # less than a quarter of history


def test_drift_method_extends_the_average_change():
    from simengine.calibrate import benchmarks as B

    r = np.array([10.0, 14.0, 12.0, 16.0])  # average change (16 - 10) / 3 = 2
    assert B.drift(r, 1).point == pytest.approx(18.0)
    assert B.drift(r, 3).point == pytest.approx(22.0)


def test_ets_needs_enough_months_and_gives_a_normal_band():
    from simengine.calibrate import benchmarks as B

    assert B.ets(np.ones(B.ETS_MIN_MONTHS - 1), 3) is None
    rng = np.random.default_rng(3)
    r = 20 + rng.normal(0, 1, 24)
    fc = B.ets(r, 2)
    assert len(fc) == 2 and all(f.sd > 0 for f in fc)
    # a level with white noise: the forecast is near the mean, within 4 s.e. of it
    assert abs(fc[0].point - r.mean()) < 4 * r.std() / math.sqrt(6)
    y = 21.0
    z = (y - fc[0].point) / fc[0].sd
    exact = fc[0].sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z)
                        - 1 / math.sqrt(math.pi))
    assert fc[0].crps(y) == pytest.approx(exact)


def test_crps_of_a_lognormal_band_from_its_quantiles():
    from simengine.calibrate import benchmarks as B

    fc = B.Forecast(100.0, log_sd=0.3)
    rng = np.random.default_rng(4)
    x = 100 * np.exp(0.3 * rng.standard_normal(200_000))
    y = 130.0
    se = (np.std(np.abs(x - y)) + np.std(x)) / math.sqrt(len(x))
    assert abs(fc.crps(y) - crps_sample(x, y)) < 4 * se + 0.05


def test_backtest_table_has_pit_and_benchmark_columns(export):
    res = backtest(export, as_of="2020-09-30", until="2020-12-31", draws=100, seed=2,
                   components=1)
    t = res.table
    head = ["as_of", "variable", "period", "days", "actual", "p5", "p25", "p50", "p75", "p95",
            "mean", "naive", "in90", "in50", "crps", "crps_naive"]
    assert list(t.columns[:len(head)]) == head
    for col in ("pit", "snaive", "drift", "ets", "crps_snaive", "crps_drift", "crps_ets"):
        assert col in t.columns
    assert ((t.pit >= 0) & (t.pit <= 1)).all()
    # the PIT is inside the central 90 % exactly when the actual is inside P5-P95 (up to ties)
    inside = (t.pit >= 0.05) & (t.pit <= 0.95)
    assert (inside | ~t.in90).mean() >= 0.9
    b = res.benchmark_crps()
    assert set(b.variable) == {"revenue", "won"}
    assert b.engine.tolist() == [t[t.variable == v].crps.mean() for v in b.variable]


@pytest.mark.slow
def test_bands_cover_on_drifting_histories():
    """Three histories whose lead flow doubles over 18 months (Poisson counts) and whose monthly
    cohorts' win share moves (AR(1) on the logit, s.d. 0.4, persistence 0.3): the back-test must
    cover at about the nominal rates. 23 months after the four cut-offs × 2 variables × 3
    histories = 138 scored months; binomial s.d. of the coverage 2.6 % (P5-P95) and 4.3 %
    (P25-P75) at that n, so the limits are 4 s.d. (months of one history are correlated, which
    makes the real s.d. larger: the limits are if anything strict)."""
    from simengine.calibrate.synthetic import drifting_export

    months = [str(p) for p in pd.period_range("2020-01", "2021-06", freq="M")]
    truth = {**TRUTH, "deal_value": 1000, "stages": [
        {"name": "opportunity", "dwell": {"dist": "lognormal", "mean": 30, "cv": 0.6},
         "next": {"won": 0.5}}]}
    tables = []
    for seed in (71, 72, 73):
        rng = np.random.default_rng(seed)
        z, shift = 0.0, {}
        for m in months:
            z = 0.3 * z + 0.4 * math.sqrt(1 - 0.09) * rng.standard_normal()
            shift[m] = z
        counts = {m: int(rng.poisson(150 * 2 ** (i / 17))) for i, m in enumerate(months)}
        df = drifting_export(truth, counts, shift, "2021-06-30", seed=seed + 1)
        res = backtest(df, as_of=["2020-09-30", "2020-12-31", "2021-01-31", "2021-03-31"],
                       until="2021-06-30", draws=300, seed=6, components=1)
        tables.append(res.table)
    t = pd.concat(tables)
    n = len(t)
    assert n == 138
    assert t.in90.mean() >= 0.9 - 4 * math.sqrt(0.9 * 0.1 / n)
    assert abs(t.in50.mean() - 0.5) <= 4 * math.sqrt(0.25 / n)
