"""Drift in calibration: between-cohort variation of the win share and the arrival level and
trend, recovered from synthetic histories with known non-stationarity that simengine generates
itself; tolerances from the estimators' standard errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simengine.calibrate.core import estimate
from simengine.calibrate.level import fit_level
from simengine.calibrate.read import read
from simengine.calibrate.synthetic import drifting_export

P_WON = 0.45
TRUTH = {
    "name": "truth", "horizon": {"start": "2020-01-01", "days": 30},
    "deal_value": 1000,
    "stages": [{"name": "opportunity", "dwell": {"dist": "lognormal", "mean": 20, "cv": 0.5},
                "next": {"won": P_WON}}],
}
MONTHS = [str(p) for p in pd.period_range("2020-01", "2021-06", freq="M")]


def _expit(z):
    return 1 / (1 + np.exp(-z))


@pytest.fixture(scope="module")
def shifted():
    rng = np.random.default_rng(7)
    shift = {m: float(rng.normal(0, 0.5)) for m in MONTHS}
    df = drifting_export(TRUTH, {m: 400 for m in MONTHS}, shift, "2021-06-30", seed=3)
    return shift, estimate(read(df), "2021-06-30")


@pytest.fixture(scope="module")
def steady():
    df = drifting_export(TRUTH, {m: 400 for m in MONTHS}, {}, "2021-06-30", seed=4)
    return estimate(read(df), "2021-06-30")


def test_each_cohort_ratio_recovers_its_true_multiplier(shifted):
    shift, f = shifted
    cf = f.cohorts["opportunity"]
    t = cf.table[cf.table.expected >= 50]
    assert len(t) >= 12
    pbar = np.mean([_expit(math.log(P_WON / (1 - P_WON)) + s) for s in shift.values()])
    total = float(cf.table.observed.sum())
    for r in t.itertuples():
        true_m = _expit(math.log(P_WON / (1 - P_WON)) + shift[str(r.cohort)]) / pbar
        # O ~ Poisson(m E) given the pooled fit: the ratio's s.e. is sqrt(m / E), and the
        # overall ratio it is taken relative to has a relative s.e. of 1 / sqrt(sum O)
        se = math.sqrt(true_m / r.expected + true_m ** 2 / total)
        assert abs(r.ratio - true_m) < 4 * se, (r.cohort, r.ratio, true_m)


def test_between_cohort_variance_is_recovered(shifted):
    shift, f = shifted
    cf = f.cohorts["opportunity"]
    p = np.array([_expit(math.log(P_WON / (1 - P_WON)) + s) for s in shift.values()])
    tau2_true = float(np.var(p / p.mean(), ddof=1))
    use = cf.table[cf.table.expected >= 5]
    C = len(use)
    # method-of-moments variance: s.e. about sqrt(2 / (C - 1)) (tau2 + mean Poisson part)
    se = math.sqrt(2 / (C - 1)) * (tau2_true + float(np.mean(1 / use.expected)))
    assert abs(cf.tau2 - tau2_true) < 4 * se
    assert cf.chi2_df > 3  # far beyond chance


def test_steady_cohorts_show_no_dispersion(steady):
    cf = steady.cohorts["opportunity"]
    df = int((cf.table.expected >= 5).sum()) - 1
    # Pearson chi2 / df of Poisson counts: mean 1, s.d. sqrt(2 / df)
    assert abs(cf.chi2_df - 1) < 4 * math.sqrt(2 / df)


def test_open_cohort_is_forecast_with_its_own_share(shifted):
    shift, f = shifted
    cf = f.cohorts["opportunity"]
    last = cf.table.iloc[-1]  # the youngest cohort: few outcomes, pulled towards 1
    assert abs(last.post_mean - 1) <= abs(last.ratio - 1) + 1e-12


def test_level_recovers_a_known_growth():
    rng = np.random.default_rng(11)
    months = 24
    drift = math.log(4) / 12  # a lead flow that quadruples in a year
    rate = 20 * np.exp(drift * np.arange(months)) * np.exp(rng.normal(0, 0.05, months))
    counts = rng.poisson(rate * 30)
    lf = fit_level(pd.Series(counts / 30), pd.Series(counts))
    assert lf.model == "local level with drift"
    assert abs(lf.drift - drift) < 4 * lf.drift_se


def test_level_of_a_steady_flow_has_no_drift():
    rng = np.random.default_rng(12)
    counts = rng.poisson(600, 14)
    lf = fit_level(pd.Series(counts / 30), pd.Series(counts))
    mean, var = lf.forecast(np.arange(1, 7))
    assert lf.model == "local level"
    # the forecast median stays at the level, within 4 s.e. (the level's own and that of the
    # log of the observed mean count) of the observed mean rate
    se = math.sqrt(lf.level_var + 1 / counts.sum())
    assert np.all(np.abs(mean - math.log(counts.mean() / 30)) < 4 * se)
    assert np.all(np.diff(var) >= -1e-12)


def test_calibrated_arrivals_follow_a_growing_lead_flow():
    months = [str(p) for p in pd.period_range("2020-01", "2020-12", freq="M")]
    counts = {m: int(round(100 * 4 ** (i / 11))) for i, m in enumerate(months)}
    df = drifting_export(TRUTH, counts, {}, "2020-12-31", seed=5)
    f = estimate(read(df), "2020-12-31")
    lf = f.levels["opportunity"]
    assert lf.drift > 0
    assert abs(lf.drift - math.log(4) / 11) < 4 * lf.drift_se
