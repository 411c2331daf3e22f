"""Distributions given by percentiles: the fitted distribution has exactly those percentiles,
checked with scipy's own parametrisations (written out here, not the engine's)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simengine.errors import ScenarioError
from simengine.scenario import load_scenario
from simengine.scenario.distributions import DIST_CLASSES, from_percentiles


def _scipy(spec: dict) -> object:
    """The fitted distribution, built from its natural parameters with scipy directly."""
    d = spec["dist"]
    if d == "normal":
        m, s = spec["mean"], spec["sd"]
        lo, hi = spec.get("low", -np.inf), spec.get("high", np.inf)
        return stats.truncnorm((lo - m) / s, (hi - m) / s, loc=m, scale=s)
    if d == "lognormal":
        sigma = math.sqrt(math.log1p(spec["cv"] ** 2))
        return stats.lognorm(sigma, scale=spec["mean"] * math.exp(-sigma**2 / 2))
    if d == "gamma":
        k = spec["cv"] ** -2
        return stats.gamma(k, scale=spec["mean"] / k)
    if d == "weibull":
        return stats.weibull_min(spec["shape"], scale=spec["scale"])
    if d == "exponential":
        return stats.expon(scale=spec["mean"])
    if d == "uniform":
        return stats.uniform(spec["low"], spec["high"] - spec["low"])
    if d == "beta":
        m, s = spec["mean"], spec["sd"]
        nu = m * (1 - m) / s**2 - 1
        return stats.beta(m * nu, (1 - m) * nu)
    lo, mo, hi = spec["low"], spec["mode"], spec["high"]
    if d == "triangular":
        return stats.triang((mo - lo) / (hi - lo), loc=lo, scale=hi - lo)
    return stats.beta(1 + 4 * (mo - lo) / (hi - lo), 1 + 4 * (hi - mo) / (hi - lo), loc=lo,
                      scale=hi - lo)


CASES = [
    {"dist": "lognormal", "p10": 30, "p90": 60},
    {"dist": "lognormal", "p5": 1000, "p95": 250000},
    {"dist": "normal", "p10": 30, "p90": 60},
    {"dist": "normal", "p10": 30, "p90": 60, "low": 0},
    {"dist": "normal", "p5": 0.05, "p95": 0.3, "low": 0, "high": 1},
    {"dist": "gamma", "p10": 30, "p90": 60},
    {"dist": "gamma", "p25": 2, "p75": 90},
    {"dist": "weibull", "p10": 5, "p90": 60},
    {"dist": "exponential", "p50": 20},
    {"dist": "uniform", "p10": 30, "p90": 60},
    {"dist": "beta", "p10": 0.2, "p90": 0.35},
    {"dist": "beta", "p10": 0.001, "p90": 0.01},
    {"dist": "pert", "p5": 10, "p50": 20, "p95": 40},
    {"dist": "pert", "p5": 0.1, "p50": 0.3, "p95": 0.4},
]


@pytest.mark.parametrize("spec", CASES, ids=[str(c) for c in CASES])
def test_fitted_distribution_has_the_given_percentiles(spec):
    fitted = from_percentiles(dict(spec))
    levels = {k: v for k, v in spec.items() if k.startswith("p")}
    assert not set(levels) & set(fitted)
    q = np.array([float(k[1:]) / 100 for k in levels])
    np.testing.assert_allclose(_scipy(fitted).ppf(q), list(levels.values()), rtol=1e-8)
    DIST_CLASSES[spec["dist"]].model_validate(fitted)  # a valid distribution of the format


def test_a_triangular_from_its_own_percentiles_is_found_again():
    lo, mo, hi = 2.0, 5.0, 20.0
    true = stats.triang((mo - lo) / (hi - lo), loc=lo, scale=hi - lo)
    x = true.ppf([0.05, 0.5, 0.95])
    fitted = from_percentiles({"dist": "triangular", "p5": x[0], "p50": x[1], "p95": x[2]})
    assert (fitted["low"], fitted["mode"], fitted["high"]) == pytest.approx((lo, mo, hi),
                                                                              rel=1e-7)


def test_a_lognormal_by_percentiles_matches_the_closed_form():
    # ln X ~ N(mu, s): s = (ln 60 - ln 30) / (z90 - z10), mean = exp(mu + s^2 / 2)
    z = stats.norm.ppf(0.9)
    s = math.log(2) / (2 * z)
    mu = math.log(30) + s * z
    fitted = from_percentiles({"dist": "lognormal", "p10": 30, "p90": 60})
    assert fitted["mean"] == pytest.approx(math.exp(mu + s * s / 2), rel=1e-12)
    assert fitted["cv"] == pytest.approx(math.sqrt(math.expm1(s * s)), rel=1e-12)


def _scenario(tmp_path, dwell: str, won: str = "0.3"):
    p = tmp_path / "s.yaml"
    p.write_text(f"""\
name: t
horizon: {{start: 2027-01-01, days: 365}}
deal_value: 1000
stages:
  - name: a
    dwell: {dwell}
    next: {{won: {won}}}
campaigns:
  - {{name: c, enters: a, schedule: {{start: 2027-01-01, end: 2027-06-30}}, volume: {{leads: 100}}}}
""")
    return p


def test_percentiles_in_a_scenario_file(tmp_path):
    sc = load_scenario(_scenario(tmp_path, "{dist: gamma, p10: 30, p90: 60}",
                                 "{dist: beta, p10: 0.2, p90: 0.35}"))
    dwell = sc.stages[0].dwell
    assert dwell.dist == "gamma"
    k = float(dwell.cv) ** -2
    np.testing.assert_allclose(stats.gamma(k, scale=float(dwell.mean_) / k).ppf([0.1, 0.9]),
                               [30, 60], rtol=1e-8)


@pytest.mark.parametrize("dwell,won,message", [
    ("{dist: lognormal, p10: 60, p90: 30}", "0.3",
     r"s\.yaml:6: stages\[0\]\.dwell\.p90: expected a value above p10 \(60\), found 30"),
    ("{dist: lognormal, p10: 30, p90: 60, cv: 0.5}", "0.3",
     r"stages\[0\]\.dwell\.cv: expected either mean, cv or percentiles for a lognormal"),
    ("{dist: gamma, p50: 30}", "0.3",
     r"stages\[0\]\.dwell\.p50: expected 2 percentiles for a gamma \(e\.g\. p10, p90\), found 1"),
    ("{dist: lognormal, p10: -1, p90: 60}", "0.3",
     r"stages\[0\]\.dwell\.p10: expected a value in \(0, inf\) for a lognormal, found -1"),
    ("4", "{dist: beta, p10: 0.2, p90: 1.5}",
     r"s\.yaml:7: stages\[0\]\.next\.won\.p90: expected a value in \(0, 1\) for a beta"),
    ("{dist: triangular, p5: 10, p50: 20, p95: 40}", "0.3",
     r"expected percentiles that a triangular can have \(no triangular has these percentiles: "
     r"one side is too long for its shape; try pert"),
    ("{dist: empirical, p10: 1, p90: 3}", "0.3",
     r"stages\[0\]\.dwell\.dist: expected a distribution given by percentiles, one of normal"),
])
def test_bad_percentiles_are_reported_precisely(tmp_path, dwell, won, message):
    import re

    with pytest.raises(ScenarioError) as exc:
        load_scenario(_scenario(tmp_path, dwell, won))
    assert re.search(message, str(exc.value)), str(exc.value)
