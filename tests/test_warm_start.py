"""Warm start: stages without an open pipeline start at the steady state of the arrivals.

For Poisson arrivals into stages without capacity limits the steady state is known exactly
(M/G/inf): the open count of a stage is Poisson with mean (rate of visits) x (mean dwell), and
the departures are Poisson at the arrival rate from the first day on.
"""

from __future__ import annotations

import numpy as np

import simengine as se
from tests.builders import scenario

LAM = 20.0  # leads per day
DWELL_A = {"dist": "lognormal", "mean": 10.0, "cv": 1.0}
DWELL_B = {"dist": "gamma", "mean": 30.0, "cv": 0.6}
P_AB, P_BW = 0.5, 0.4


def _two(warm: bool | None, segments=None, **kw):
    stages = [{"name": "a", "dwell": DWELL_A, "next": {"b": P_AB}},
              {"name": "b", "dwell": DWELL_B, "next": {"won": P_BW}}]
    camp = [{"name": "w", "enters": "a",
             "schedule": {"start": "2027-01-01", "end": "2027-12-31"},
             "volume": {"leads": LAM * 365}}]
    horizon = {"start": "2027-01-01", "days": 365, "period": "month"}
    if warm is not None:
        horizon["warm_start"] = warm
    extra = {"segments": segments} if segments else {}
    return scenario(stages, days=365, campaigns=camp, horizon=horizon, **extra, **kw)


def _close(x: np.ndarray, exact: float, var: float) -> None:
    se_ = np.sqrt(var / len(x))
    assert abs(x.mean() - exact) < 4 * se_, (x.mean(), exact, se_)


def test_open_count_at_day_0_is_rate_times_mean_dwell_and_first_month_is_steady():
    draws = 400
    ds = se.simulate(_two(True), draws=draws, seed=1, progress=False)
    open_a = ds.initial_pipeline.sel(stage="a").values
    open_b = ds.initial_pipeline.sel(stage="b").values
    _close(open_a, LAM * 10.0, LAM * 10.0)  # Poisson: variance = mean
    _close(open_b, LAM * P_AB * 30.0, LAM * P_AB * 30.0)
    # in the steady state, departures are Poisson at the arrival rate from day 0 on: January's
    # entries to b and wins are those of any month of 31 days
    m0 = {"period": 0}
    _close(ds.entered.sel(stage="b").isel(m0).values, LAM * P_AB * 31, LAM * P_AB * 31)
    _close(ds.won.isel(m0).values, LAM * P_AB * P_BW * 31, LAM * P_AB * P_BW * 31)
    # a cold start is well short of it in January
    cold = se.simulate(_two(None), draws=draws, seed=1, progress=False)
    assert cold.won.isel(m0).values.mean() < 0.5 * LAM * P_AB * P_BW * 31


def test_warm_start_leaves_the_other_random_numbers_alone_and_is_chunk_free():
    a = se.simulate(_two(True), draws=24, seed=7, threads=1, chunk_draws=24, progress=False)
    b = se.simulate(_two(True), draws=24, seed=7, threads=2, chunk_draws=5, progress=False)
    for v in a.data_vars:
        assert a[v].values.tobytes() == b[v].values.tobytes(), v
    cold = se.simulate(_two(False), draws=24, seed=7, progress=False)
    assert cold.arrivals.values.tobytes() == a.arrivals.values.tobytes()
    assert float(cold.initial_pipeline.sum()) == 0 < float(a.initial_pipeline.sum())


def test_segments_keep_their_own_advance_and_dwell_in_the_warm_pipeline():
    # segment slow (half the leads): dwell x2 at every stage, advance x0.5. At a it holds
    # 0.5 LAM x 20 days; at b 0.5 LAM x (P_AB x 0.5) visits x 60 days
    segs = {"fast": {"share": 0.5}, "slow": {"share": 0.5, "advance": 0.5, "dwell": 2.0}}
    draws = 300
    ds = se.simulate(_two(True, segments=segs), draws=draws, seed=3, progress=False)
    m_a = LAM * 10.0 * (0.5 + 0.5 * 2.0)
    m_b = LAM * P_AB * 30.0 * (0.5 + 0.5 * 0.5 * 2.0)
    _close(ds.initial_pipeline.sel(stage="a").values, m_a, m_a)
    _close(ds.initial_pipeline.sel(stage="b").values, m_b, m_b)


def test_stages_with_an_open_pipeline_are_left_to_it():
    ds = se.simulate(_two(True, initial=[{"stage": "b", "count": 7}]), draws=20, seed=2,
                     progress=False)
    assert (ds.initial_pipeline.sel(stage="b").values == 7).all()
    assert ds.initial_pipeline.sel(stage="a").values.mean() > 100


def test_validate_warns_about_stages_that_start_empty(tmp_path, capsys):
    from simengine.cli import main
    from simengine.scenario.loader import to_yaml

    cold = tmp_path / "cold.yaml"
    cold.write_text(to_yaml(_two(None)))
    assert main(["validate", str(cold)]) == 0
    msg = " ".join(capsys.readouterr().err.split())  # rich wraps at the terminal width
    assert "stage(s) a, b start empty on day 0" in msg
    assert "hold about 200, 300 prospects" in msg  # LAM x 10 and LAM x 0.5 x 30
    assert "about 10, 40 days to fill" in msg
    warm = tmp_path / "warm.yaml"
    warm.write_text(to_yaml(_two(True)))
    assert main(["validate", str(warm)]) == 0
    assert "start empty" not in capsys.readouterr().err


def test_warm_start_on_the_capacity_path_conserves_prospects_and_is_chunk_free():
    # the baseline: pools work sal, opportunity and proposal; a warm start fills inquiry, mql
    # and sal (opportunity and proposal keep the file's open pipeline)
    sc = se.load_scenario("scenarios/baseline.yaml", {"horizon.warm_start": True})
    a = se.simulate(sc, draws=6, seed=4, threads=1, chunk_draws=6, progress=False)
    b = se.simulate(sc, draws=6, seed=4, threads=2, chunk_draws=4, progress=False)
    for v in a.data_vars:
        assert a[v].values.tobytes() == b[v].values.tobytes(), v
    lhs = a.initial_pipeline.sum("stage") + a.arrivals.sum(("period", "campaign"))
    rhs = (a.won.sum("period") + a.exited_lost.sum(("period", "stage"))
           + a.exited_no_decision.sum(("period", "stage")) + a.open_at_end.sum("stage"))
    assert (lhs == rhs).all()
    init = a.initial_pipeline.mean("draw")
    assert (init.sel(stage=["inquiry", "mql", "sal"]) > 20).all()
    assert float(init.sel(stage="opportunity")) == 150  # the file's entry, left alone
