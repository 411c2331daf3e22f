"""Parameters that move over time (``drift:``): paths, their effect on counts, exact answers.

Exact values come from the models' definitions (variance formulas) and from Gauss-Hermite
quadrature of expit(normal), computed here independently of the engine; tolerances are 4 Monte
Carlo standard errors computed from the run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import simengine as se
from simengine.analysis import levers as alv
from simengine.compile import compile_scenario
from simengine.engine.prepare import drift_z
from simengine.engine.sampling import sample_params
from simengine.errors import ScenarioError
from simengine.scenario import load_scenario, scenario_sha256, to_yaml, validate
from tests.builders import funnel, scenario

FAST = {"dist": "fixed", "value": 1.0}
BASELINE = "scenarios/baseline.yaml"


def _paths(drift: list[dict], draws: int = 4000, seed: int = 5, days: int = 3650) -> np.ndarray:
    """(draws, entries, periods) drift paths of a small funnel (quarters over ``days``)."""
    stages = [{"name": "a", "dwell": FAST, "next": {"won": 0.3}, "no_decision": 0.1}]
    cs = compile_scenario(scenario(stages, days=days, drift=drift))
    ids = np.arange(draws, dtype=np.int64)
    return drift_z(cs, sample_params(cs.params, seed, ids), seed, ids)


def _var_se(x: np.ndarray) -> tuple[float, float]:
    """Sample variance and its standard error (from the sample's fourth central moment)."""
    n = len(x)
    d = x - x.mean()
    v = d.var(ddof=1)
    return v, float(np.sqrt(max((d ** 4).mean() - v * v, 0.0) / n))


# --- the paths themselves ----------------------------------------------------------------------
def test_random_walk_variance_grows_by_sd_squared_per_period():
    sd = 0.3
    z = _paths([{"param": "stages.a.next.won", "model": "random_walk", "sd": sd}])[:, 0]
    assert z.shape[1] == 40
    for t in (0, 9, 39):
        v, se_v = _var_se(z[:, t])
        assert abs(v - (t + 1) * sd ** 2) < 4 * se_v, t
        assert abs(z[:, t].mean()) < 4 * np.sqrt((t + 1) * sd ** 2 / len(z))


def test_ar1_is_stationary_with_lag_one_autocorrelation_phi():
    sd, phi = 0.4, 0.6
    z = _paths([{"param": "stages.a.no_decision", "model": "ar1", "sd": sd, "phi": phi}])[:, 0]
    n = len(z)
    stationary = sd ** 2 / (1 - phi ** 2)
    for t in (0, 5, 39):
        v, se_v = _var_se(z[:, t])
        assert abs(v - stationary) < 4 * se_v, t
    for t in (0, 20):
        r = np.corrcoef(z[:, t], z[:, t + 1])[0, 1]
        assert abs(r - phi) < 4 * (1 - phi ** 2) / np.sqrt(n), t  # s.e. of r, normal data


def test_local_trend_mean_and_variance():
    sd, trend = 0.1, 0.05
    z = _paths([{"param": "stages.a.next.won", "model": "local_trend", "sd": sd,
                 "trend": trend}])[:, 0]
    for t in (0, 10, 39):  # trend_sd = 0: E z[t] = (t + 1) trend, Var z[t] = (t + 1) sd^2
        assert abs(z[:, t].mean() - (t + 1) * trend) < 4 * np.sqrt((t + 1) * sd ** 2 / len(z))
        v, se_v = _var_se(z[:, t])
        assert abs(v - (t + 1) * sd ** 2) < 4 * se_v
    # with a moving drift: Var z[t] = (t + 1) sd^2 + trend_sd^2 (1^2 + ... + t^2)
    tsd = 0.02
    z = _paths([{"param": "stages.a.next.won", "model": "local_trend", "sd": sd,
                 "trend": trend, "trend_sd": tsd}])[:, 0]
    for t in (0, 10, 39):
        v, se_v = _var_se(z[:, t])
        exact = (t + 1) * sd ** 2 + tsd ** 2 * t * (t + 1) * (2 * t + 1) / 6
        assert abs(v - exact) < 4 * se_v, t


def test_paths_keep_their_numbers_when_other_entries_are_added():
    one = {"param": "stages.a.next.won", "model": "random_walk", "sd": 0.3}
    other = {"name": "nd", "param": "stages.a.no_decision", "model": "ar1", "sd": 0.2, "phi": 0.5}
    a = _paths([one], draws=50)[:, 0]
    b = _paths([other, one], draws=50)[:, 1]
    assert np.array_equal(a, b)


# --- an AR(1)-modulated binomial count ------------------------------------------------------------
def _expit_moments(mu: float, s: float) -> tuple[float, float, float]:
    """E[p], Var[p] and E[p(1 - p)] of p = expit(mu + s Z), Z ~ N(0, 1), by Gauss-Hermite."""
    x, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    p = 1.0 / (1.0 + np.exp(-(mu + s * x)))
    m = float(w @ p)
    return m, float(w @ (p - m) ** 2), float(w @ (p * (1 - p)))


P0, SD, PHI = 0.3, 0.5, 0.6
S_Z = SD / np.sqrt(1 - PHI ** 2)  # stationary s.d. of the AR(1)
WON_DRIFT = [{"name": "won-share", "param": "stages.deal.next.won", "model": "ar1", "by": "cohort",
              "sd": SD, "phi": PHI}]


def _one_stage(pooled: bool) -> list[dict]:
    st = {"name": "deal", "dwell": FAST, "next": {"won": P0}}
    if pooled:
        st["worked_by"] = "reps"
    return [st]


def _pools(pooled: bool) -> dict:
    return {"pools": {"reps": {"headcount": 1000, "slots_per_rep": 10}}} if pooled else {}


@pytest.mark.parametrize("pooled", [False, True], ids=["fast", "capacity"])
def test_ar1_cohort_binomial_poisson_count(pooled):
    # leads arriving in the third quarter share z[2]; Poisson arrivals with mean lam thinned by
    # p: won | p ~ Poisson(lam p), so E won = lam E[p], Var won = lam E[p] + lam^2 Var[p]
    lam = 300.0
    camp = [{"name": "q3", "enters": "deal", "schedule": {"start": "2027-07-01",
                                                            "end": "2027-09-20"},
             "volume": {"leads": lam}}]
    sc = scenario(_one_stage(pooled), days=730, campaigns=camp, drift=WON_DRIFT,
                  **_pools(pooled))
    ds = se.simulate(sc, draws=3000, seed=21, progress=False)
    won = ds.won.sum("period").values
    m, v, _ = _expit_moments(np.log(P0 / (1 - P0)), S_Z)
    mean, var = lam * m, lam * m + lam ** 2 * v
    assert abs(won.mean() - mean) < 4 * np.sqrt(var / len(won))
    got, se_v = _var_se(won)
    assert abs(got - var) < 4 * se_v
    # without drift the same count is Poisson (a check that the drift is what widens it)
    assert var > 3 * mean


@pytest.mark.parametrize("pooled", [False, True], ids=["fast", "capacity"])
def test_ar1_period_binomial_count_of_a_fixed_cohort(pooled):
    # N open prospects all leave in the first quarter: by period they share z[0], so
    # won ~ Binomial(N, expit(logit p0 + z[0])): E = N E[p], Var = N E[p(1-p)] + N^2 Var[p]
    N = 200
    drift = [dict(WON_DRIFT[0], by="period")]
    sc = scenario(_one_stage(pooled), days=365, initial=[{"stage": "deal", "count": N}],
                  drift=drift, **_pools(pooled))
    ds = se.simulate(sc, draws=3000, seed=22, progress=False)
    won = ds.won.sum("period").values
    m, v, pq = _expit_moments(np.log(P0 / (1 - P0)), S_Z)
    mean, var = N * m, N * pq + N ** 2 * v
    assert abs(won.mean() - mean) < 4 * np.sqrt(var / len(won))
    got, se_v = _var_se(won)
    assert abs(got - var) < 4 * se_v


def test_cohort_drift_leaves_the_open_pipeline_at_its_base_share():
    # by cohort, the open pipeline has no cohort: Binomial(N, p0) exactly
    N = 200
    sc = scenario(_one_stage(False), days=365, initial=[{"stage": "deal", "count": N}],
                  drift=WON_DRIFT)
    won = se.simulate(sc, draws=2000, seed=23, progress=False).won.sum("period").values
    var = N * P0 * (1 - P0)
    assert abs(won.mean() - N * P0) < 4 * np.sqrt(var / len(won))
    got, se_v = _var_se(won)
    assert abs(got - var) < 4 * se_v


def test_capacity_path_with_ample_capacity_gives_the_fast_paths_counts():
    camp = [{"name": "all", "enters": "deal", "schedule": {"start": "2027-01-01",
                                                             "end": "2027-12-31"},
             "volume": {"leads": 800}}]
    stages = [{"name": "deal", "dwell": {"dist": "lognormal", "mean": 20, "cv": 0.5},
               "next": {"won": 0.3}, "no_decision": 0.2}]
    drift = [{"param": "stages.deal.next.won", "model": "random_walk", "sd": 0.2},
             {"param": "stages.deal.no_decision", "model": "ar1", "sd": 0.3, "phi": 0.5},
             {"param": "stages.deal.dwell", "model": "ar1", "sd": 0.3, "phi": 0.5,
              "by": "period"},
             {"param": "campaigns.all.volume.leads", "model": "local_trend", "sd": 0.1,
              "trend": 0.05}]
    fast = se.simulate(scenario(stages, days=730, campaigns=camp, drift=drift), draws=20,
                       seed=3, progress=False)
    pooled = [dict(stages[0], worked_by="reps")]
    cap = se.simulate(scenario(pooled, days=730, campaigns=camp, drift=drift,
                               **_pools(True)), draws=20, seed=3, progress=False)
    for v in ("won", "arrivals", "entered", "exited_lost", "exited_no_decision"):
        assert np.array_equal(fast[v].values, cap[v].values), v


# --- volumes ---------------------------------------------------------------------------------
def test_random_walk_on_leads_by_period_scales_expected_arrivals():
    # arrivals in quarter t: Poisson(base_t exp(z[t])), E = base_t exp((t + 1) sd^2 / 2)
    sd, leads = 0.25, 4000.0
    camp = [{"name": "web", "enters": "a", "schedule": {"start": "2027-01-01",
                                                          "end": "2028-12-30"},
             "volume": {"leads": leads}}]
    stages = [{"name": "a", "dwell": FAST}]
    drift = [{"param": "campaigns.web.volume.leads", "model": "random_walk", "sd": sd,
              "by": "period"}]
    ds = se.simulate(scenario(stages, days=730, campaigns=camp, drift=drift), draws=3000,
                     seed=8, progress=False)
    arr = ds.arrivals.sel(campaign="web").values  # (draw, quarter)
    start = dt.date(2027, 1, 1)
    bounds = [dt.date(2027 + q // 4, 1 + 3 * (q % 4), 1) for q in range(9)]
    bounds[-1] = start + dt.timedelta(days=730)
    for t in range(8):
        days = (bounds[t + 1] - bounds[t]).days
        base = leads * days / 730
        exact = base * np.exp((t + 1) * sd ** 2 / 2)
        assert abs(arr[:, t].mean() - exact) < 4 * arr[:, t].std(ddof=1) / np.sqrt(len(arr)), t


@pytest.mark.parametrize("pooled", [False, True], ids=["fast", "capacity"])
def test_dwell_scale_by_cohort_multiplies_every_visit_of_the_cohort(pooled):
    # a fixed 10-day dwell, leads arriving in the first quarter: every visit lasts 10 exp(z[0]),
    # so log(time in stage / 10) is N(0, sd^2) across draws (a random walk's first step)
    sd = 0.3
    st = {"name": "a", "dwell": {"dist": "fixed", "value": 10.0}, "next": {"won": 0.5}}
    if pooled:
        st["worked_by"] = "reps"
    camp = [{"name": "q1", "enters": "a", "schedule": {"start": "2027-01-01",
                                                         "end": "2027-03-01"},
             "volume": {"leads": 50}}]
    drift = [{"param": "stages.a.dwell.mean", "model": "random_walk", "sd": sd}]
    ds = se.simulate(scenario([st], days=365, campaigns=camp, drift=drift, **_pools(pooled)),
                     draws=1500, seed=12, progress=False)
    x = np.log(ds.time_in_stage.sel(stage="a").values / 10.0)
    assert abs(x.mean()) < 4 * sd / np.sqrt(len(x))
    v, se_v = _var_se(x)
    assert abs(v - sd ** 2) < 4 * se_v


# --- the open pipeline's own quality and pace ------------------------------------------------
def test_initial_entry_quality_multiplies_its_win_share():
    N, q = 300, 1.5
    stages = [{"name": "deal", "dwell": FAST, "next": {"won": 0.3}}]
    ini = [{"stage": "deal", "count": N, "quality": q}, {"stage": "deal", "count": N}]
    ds = se.simulate(scenario(stages, days=365, initial=ini), draws=2000, seed=4,
                     progress=False)
    won = ds.won.sum("period").values
    # two independent binomials: N q p and N p
    p1, p2 = q * 0.3, 0.3
    mean = N * (p1 + p2)
    var = N * (p1 * (1 - p1) + p2 * (1 - p2))
    assert abs(won.mean() - mean) < 4 * np.sqrt(var / len(won))
    got, se_v = _var_se(won)
    assert abs(got - var) < 4 * se_v


def test_initial_entry_dwell_multiplies_its_residual_dwell():
    stages = [{"name": "a", "dwell": {"dist": "fixed", "value": 10.0}, "next": {"won": 1.0}}]
    ini = [{"stage": "a", "count": 3, "dwell": 2.5}]
    ds = se.simulate(scenario(stages, days=365, initial=ini), draws=2, seed=0, progress=False)
    assert np.allclose(ds.time_in_stage.sel(stage="a").values, 25.0)


# --- no drift: the same bits as before -------------------------------------------------------
def test_empty_drift_and_zero_sd_drifts_give_identical_results():
    plain = load_scenario(BASELINE)
    empty = load_scenario(BASELINE, ["drift=[]"])
    assert scenario_sha256(plain) == scenario_sha256(empty)
    # sd 0 on a multiplier: exp(0) = 1, so the drift code paths of both kernels (time-slotted
    # routing and dwell tables, arrival multipliers) must reproduce the plain run bit for bit
    zero = load_scenario(BASELINE, [
        "drift=[{param: campaigns.webinar-series.quality, model: random_walk, sd: 0},"
        " {param: segments.smb.dwell, model: ar1, sd: 0, phi: 0.5, by: period},"
        " {param: campaigns.paid-search.volume.budget, model: random_walk, sd: 0}]"])
    a = se.simulate(plain, draws=24, seed=5, progress=False)
    for sc in (empty, zero):
        b = se.simulate(sc, draws=24, seed=5, progress=False)
        for v in ("won", "revenue", "arrivals", "entered", "exited_lost", "exited_no_decision",
                  "pipeline", "open_at_end", "time_in_stage"):
            assert np.array_equal(a[v].values, b[v].values), v


def test_same_seed_same_bits_across_threads_and_chunks_with_drift():
    sc = load_scenario(BASELINE, [
        "drift=[{name: won, param: stages.proposal.next.won, model: ar1, sd: 0.3, phi: 0.6},"
        " {param: stages.opportunity.no_decision, model: random_walk, sd: 0.1, by: period},"
        " {param: campaigns.webinar-series.volume.budget, model: local_trend, sd: 0.1,"
        " trend: 0.02, trend_sd: 0.01}]"])
    a = se.simulate(sc, draws=16, seed=9, threads=1, chunk_draws=16, progress=False)
    b = se.simulate(sc, draws=16, seed=9, threads=2, chunk_draws=5, progress=False)
    for v in a.data_vars:
        assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v


# --- parameter paths: --set, levers, factors, YAML --------------------------------------------
def test_drift_numbers_are_parameters():
    sets = ["drift=[{name: won-share, param: stages.proposal.next.won, model: ar1,"
            " sd: {dist: uniform, low: 0.1, high: 0.3}, phi: 0.6}, "
            "{param: stages.opportunity.dwell.mean, model: random_walk, sd: 0.1}]"]
    sc = load_scenario(BASELINE, sets + ["drift.won-share.phi=0.4", "drift[1].sd=0.2"])
    assert float(sc.drift[0].phi.value) == 0.4 and float(sc.drift[1].sd.value) == 0.2
    cs = compile_scenario(sc)
    assert {"drift.won-share.sd", "drift.won-share.phi", "drift[1].sd"} <= set(cs.params.paths)
    lv = alv.lever(cs, "drift.won-share.phi")
    assert lv.bounds[1] < 1.0
    assert float(lv.apply(sc, 0.5).drift[0].phi.value) == 0.5
    names = [f.name for f in alv.factors(cs)]
    assert "drift.won-share.sd" in names  # an uncertain drift number is a factor
    again = validate(__import__("yaml").safe_load(to_yaml(sc)))
    assert again.drift == sc.drift
    assert scenario_sha256(again) == scenario_sha256(sc) != scenario_sha256(load_scenario(BASELINE))


def test_drift_numbers_can_be_correlated():
    sc = load_scenario(BASELINE, [
        "drift=[{name: w, param: stages.proposal.next.won, model: random_walk,"
        " sd: {dist: uniform, low: 0.1, high: 0.3}}]",
        "correlations=[{between: [drift.w.sd, stages.mql.next.sal], rho: 0.8}]"])
    cs = compile_scenario(sc)
    th = sample_params(cs.params, 1, np.arange(2000, dtype=np.int64))
    a = th[:, cs.params.col("drift.w.sd")]
    b = th[:, cs.params.col("stages.mql.next.sal")]
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    assert abs(np.corrcoef(ra, rb)[0, 1] - 0.8) < 0.05


# --- validation ----------------------------------------------------------------------------------
_STAGES = [{"name": "a", "dwell": FAST, "next": {"b": 0.5}},
           {"name": "b", "dwell": FAST, "next": {"won": 0.4}}]
_CAMP = [{"name": "web", "enters": "a", "schedule": {"start": "2027-01-01", "end": "2027-03-01"},
          "volume": {"leads": 10}}]


@pytest.mark.parametrize("drift, pattern", [
    ([{"param": "stages.b.next.wonn", "model": "ar1", "sd": 0.1, "phi": 0.5}],
     r"drift\[0\]\.param: expected the path of a parameter .*did you mean stages\.b\.next\.won"),
    ([{"param": "stages.b.next.won", "model": "ar2", "sd": 0.1}],
     r"drift\[0\]\.model: expected one of 'ar1', 'random_walk' or 'local_trend', found 'ar2'"),
    ([{"param": "deal_value", "model": "random_walk", "sd": 0.1}],
     r"drift\[0\]\.param: expected a parameter that can drift \(stages\.NAME\.next.*found "
     r"'deal_value', which cannot drift"),
    ([{"param": "stages.b.next.won", "model": "ar1", "sd": 0.1, "phi": 1.0}],
     r"drift\[0\]\.phi: expected a persistence phi in \[0, 1\), found 1"),
    ([{"param": "stages.b.next.won", "model": "ar1", "sd": 0.1, "phi": -0.2}],
     r"drift\[0\]\.phi: expected a persistence phi in \[0, 1\), found -0\.2"),
    ([{"param": "stages.b.next.won", "model": "ar1", "sd": 0.1}],
     r"drift\[0\]\.phi: expected a persistence phi in \[0, 1\) for model ar1, found nothing"),
    ([{"param": "stages.b.next.won", "model": "random_walk", "sd": -0.1}],
     r"drift\[0\]\.sd: expected a number >= 0, found -0\.1"),
    ([{"param": "stages.b.next.won", "model": "random_walk", "sd": 0.1, "trend": 0.1}],
     r"drift\[0\]\.trend: expected trend only with model local_trend, found model random_walk"),
    ([{"param": "stages.b.next.won", "model": "random_walk", "sd": 0.1},
      {"param": "stages[1].next.won", "model": "ar1", "sd": 0.1, "phi": 0.3}],
     r"drift\[1\]\.param: expected one drift entry per parameter \(drift\[0\] already moves "
     r"stages\.b\.next\.won\)"),
    ([{"param": "campaigns.web.quality", "model": "random_walk", "sd": 0.1},
      {"param": "stages.a.next.b", "model": "random_walk", "sd": 0.1, "by": "period"}],
     r"drift\[1\]\.by: expected by: cohort like drift\[0\], which also moves the routing of "
     r"stage 'a'"),
    ([{"name": "x", "param": "stages.a.dwell", "model": "random_walk", "sd": 0.1},
      {"name": "x", "param": "stages.b.dwell", "model": "random_walk", "sd": 0.1}],
     r"drift\[1\]\.name: expected a name not used before"),
    ([{"param": "campaigns.web.volume.budget", "model": "random_walk", "sd": 0.1}],
     r"drift\[0\]\.param: expected the path of a parameter of the scenario that can drift.*"
     r"found 'campaigns\.web\.volume\.budget', which does not exist"),
])
def test_validation_errors(drift, pattern):
    with pytest.raises(ScenarioError, match=pattern):
        validate(funnel(_STAGES, days=365, campaigns=_CAMP, drift=drift))


def test_cli_reports_a_bad_drift_in_one_line_with_exit_code_2(tmp_path, capsys):
    from simengine.cli import main

    bad = tmp_path / "bad.yaml"
    text = Path(BASELINE).read_text() + ("\ndrift:\n  - param: stages.proposal.next.won\n"
                                    "    model: ar1\n    sd: 0.2\n    phi: 1.5\n")
    bad.write_text(text)
    assert main(["run", str(bad), "-n", "10", "-o", str(tmp_path / "out.nc")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "drift[0].phi: expected a persistence phi in [0, 1)" in err
    assert "Traceback" not in err and not (tmp_path / "out.nc").exists()
