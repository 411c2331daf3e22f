"""Per-draw parameter uncertainty: the bands widen exactly as the mixture says they should;
correlations reach the requested rank correlation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import simengine as se
from simengine.errors import ScenarioError
from tests.builders import funnel, scenario

FAST = {"dist": "fixed", "value": 1.0}


def _var_se(x: np.ndarray) -> tuple[float, float]:
    """Sample variance and its standard error sqrt((m4 - s^4) / n)."""
    n = len(x)
    s2 = x.var(ddof=1)
    m4 = np.mean((x - x.mean()) ** 4)
    return s2, np.sqrt((m4 - s2**2) / n)


def test_beta_win_rate_gives_the_beta_binomial_variance():
    n, m, sd = 100, 0.3, 0.1
    nu = m * (1 - m) / sd**2 - 1
    a, b = m * nu, (1 - m) * nu
    rho = 1 / (a + b + 1)
    stages = [{"name": "proposal", "dwell": FAST,
               "next": {"won": {"dist": "beta", "mean": m, "sd": sd}}}]
    ds = se.simulate(scenario(stages, days=30, initial=[{"stage": "proposal", "count": n}]),
                     draws=4000, seed=17, progress=False)
    won = ds.won.sum("period").values
    exact_var = n * m * (1 - m) * (1 + (n - 1) * rho)  # beta-binomial
    var, var_se = _var_se(won)
    assert abs(var - exact_var) < 4 * var_se, (var, exact_var, var_se)
    assert abs(won.mean() - n * m) < 4 * np.sqrt(exact_var / len(won))
    # process noise alone (a fixed win rate) gives the much narrower binomial variance
    fixed = [{"name": "proposal", "dwell": FAST, "next": {"won": m}}]
    ds0 = se.simulate(scenario(fixed, days=30, initial=[{"stage": "proposal", "count": n}]),
                      draws=4000, seed=17, progress=False)
    var0, var0_se = _var_se(ds0.won.sum("period").values)
    assert abs(var0 - n * m * (1 - m)) < 4 * var0_se


def _correlated(rho: float, extra=None):
    stages = [
        {"name": "a", "dwell": FAST, "next": {"b": {"dist": "beta", "mean": 0.5, "sd": 0.1}}},
        {"name": "b", "dwell": {"dist": "lognormal", "mean": {"dist": "gamma", "mean": 10,
                                                              "cv": 0.3}, "cv": 0.5},
         "next": {"won": {"dist": "uniform", "low": 0.1, "high": 0.3}}},
    ]
    corr = [{"between": ["stages.a.next.b", "stages.b.next.won"], "rho": rho},
            {"between": ["stages.a.next.b", "stages.b.dwell.mean"], "rho": -rho / 2}]
    return scenario(stages, days=30, initial=[{"stage": "a", "count": 1}],
                    correlations=corr + (extra or []))


@pytest.mark.parametrize("rho", [0.7, -0.4])
def test_correlations_reach_the_requested_rank_correlation(rho):
    draws = 3000
    ds = se.simulate(_correlated(rho), draws=draws, seed=23, progress=False)
    p = ds.parameters
    for other, target in (("stages.b.next.won", rho), ("stages.b.dwell.mean", -rho / 2)):
        r = stats.spearmanr(p.sel(parameter="stages.a.next.b"), p.sel(parameter=other))[0]
        # Fisher z of Spearman's rho: variance (1 + rho^2 / 2) / (n - 3) (Bonett & Wright 2000)
        z_se = np.sqrt((1 + target**2 / 2) / (draws - 3))
        assert abs(np.arctanh(r) - np.arctanh(target)) < 4 * z_se, (other, r, target)
    # the marginals are untouched by the copula: beta(0.5, 0.1) mean and sd
    x = p.sel(parameter="stages.a.next.b").values
    assert abs(x.mean() - 0.5) < 4 * 0.1 / np.sqrt(draws)


def test_an_invalid_correlation_matrix_is_rejected_with_the_nearest_valid_one():
    stages = [{"name": "a", "dwell": FAST, "next": {
        "b": {"dist": "beta", "mean": 0.5, "sd": 0.1},
        "c": {"dist": "beta", "mean": 0.2, "sd": 0.05}}},
        {"name": "b", "dwell": FAST, "next": {"won": {"dist": "uniform", "low": 0.1, "high": 0.3}}},
        {"name": "c", "dwell": FAST, "next": {"won": 0.5}}]
    corr = [{"between": ["stages.a.next.b", "stages.a.next.c"], "rho": 0.9},
            {"between": ["stages.a.next.b", "stages.b.next.won"], "rho": 0.9},
            {"between": ["stages.a.next.c", "stages.b.next.won"], "rho": -0.9}]
    sc = scenario(stages, days=30, initial=[{"stage": "a", "count": 1}], correlations=corr)
    with pytest.raises(ScenarioError, match=r"valid correlation matrix.*nearest valid one is: "
                       r"stages\.a\.next\.b ~ stages\.a\.next\.c: 0\.\d+"):
        se.simulate(sc, draws=2, seed=0, progress=False)


def test_parameter_uncertainty_widens_the_annual_band():
    def run(next_won):
        stages = [{"name": "a", "dwell": {"dist": "exponential", "mean": 5},
                   "next": {"won": next_won}}]
        camp = [{"name": "c", "enters": "a", "schedule": {"start": "2027-01-01",
                                                          "end": "2027-09-30"},
                 "volume": {"leads": 5000}}]
        return se.simulate(validate_days(stages, camp), draws=1000, seed=1, progress=False)

    narrow = run(0.2).revenue.sum("period").values
    wide = run({"dist": "beta", "mean": 0.2, "sd": 0.04}).revenue.sum("period").values
    # exact variances of won deals: Poisson(5000 p) alone, plus 5000^2 Var(p) with uncertainty
    assert narrow.std() < wide.std()
    v, v_se = _var_se(wide / 1000)
    exact = 5000 * 0.2 + 5000**2 * 0.04**2
    assert abs(v - exact) < 4 * v_se


def validate_days(stages, camp):
    from simengine.scenario import validate

    return validate(funnel(stages, days=365, campaigns=camp))
