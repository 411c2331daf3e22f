"""Degenerate and textbook funnels with exact answers."""

from __future__ import annotations

import numpy as np

import simengine as se
from simengine.scenario import validate
from tests.builders import funnel, scenario

FAST = {"dist": "fixed", "value": 1.0}


def test_seed_funnel_one_deal_per_667_targets():
    # 2 % respond -> 60 % accepted -> 50 % opportunity -> 25 % close: 1 deal per 666.7 targets.
    # Arrivals are Poisson and routing thins them, so won deals are Poisson with mean 1500.
    stages = [
        {"name": "lead", "dwell": FAST, "next": {"sal": 0.6}},
        {"name": "sal", "dwell": FAST, "next": {"opportunity": 0.5}},
        {"name": "opportunity", "dwell": FAST, "next": {"won": 0.25}},
    ]
    camp = [{"name": "targets", "enters": "lead",
             "schedule": {"start": "2027-01-01", "end": "2027-06-30"},
             "volume": {"audience": 1_000_000, "response_rate": 0.02}}]
    ds = se.simulate(scenario(stages, days=365, campaigns=camp), draws=300, seed=3,
                     progress=False)
    won = ds.won.sum("period").values
    exact = 1_000_000 / 666.666666
    assert abs(won.mean() - exact) < 4 * np.sqrt(exact / len(won))
    # Poisson: variance equals the mean (se of a sample variance ~ var * sqrt(2 / n))
    assert abs(won.var(ddof=1) - exact) < 4 * exact * np.sqrt(2 / (len(won) - 1))


def test_fifty_prospects_at_twenty_percent_give_ten_customers():
    stages = [{"name": "proposal", "dwell": FAST, "next": {"won": 0.2}}]
    ds = se.simulate(scenario(stages, days=30, initial=[{"stage": "proposal", "count": 50}]),
                     draws=2000, seed=9, progress=False)
    won = ds.won.sum("period").values
    assert abs(won.mean() - 10) < 4 * np.sqrt(8 / len(won))  # binomial(50, 0.2): var 8


def test_probability_one_and_zero_are_exact():
    stages = [{"name": "a", "dwell": FAST, "next": {"b": 1.0}},
              {"name": "b", "dwell": FAST, "next": {"won": 0.0}, "no_decision": 1.0}]
    ds = se.simulate(scenario(stages, days=30, initial=[{"stage": "a", "count": 37}]),
                     draws=5, seed=1, progress=False)
    assert (ds.exited_no_decision.sel(stage="b").sum("period") == 37).all()
    assert float(ds.won.sum()) == 0


def test_fixed_dwell_exits_on_time_and_friction_slows_the_clock():
    # One prospect with a fixed 10-day dwell, starting day 0: leaves on day 10, in January.
    stages = [{"name": "a", "dwell": {"dist": "fixed", "value": 10.0}, "next": {"won": 1.0}}]
    base = dict(days=365, initial=[{"stage": "a", "count": 1}], horizon=None)
    base.pop("horizon")
    ds = se.simulate(scenario(stages, **base), draws=1, seed=0, progress=False)
    assert ds.time_in_stage.sel(stage="a").item() == 10.0
    # a friction window doubling dwell from day 5 to day 25: 5 days at speed 1, then 5 clock
    # units at speed 1/2 take 10 days -> the prospect leaves on day 15
    fr = [{"name": "slow", "stages": ["a"], "start": "2027-01-06", "days": 20, "dwell": 2.0}]
    ds = se.simulate(scenario(stages, friction=fr, **base), draws=1, seed=0, progress=False)
    assert abs(ds.time_in_stage.sel(stage="a").item() - 15.0) < 1e-9


def test_recycled_prospects_come_back_after_their_delay():
    stages = [{"name": "a", "dwell": {"dist": "fixed", "value": 1.0},
               "recycle": {"p": 1.0, "to": "b", "delay": {"dist": "fixed", "value": 50.0}}},
              {"name": "b", "dwell": {"dist": "fixed", "value": 1.0}, "next": {"won": 1.0}}]
    ds = se.simulate(scenario(stages, days=365, initial=[{"stage": "a", "count": 3}]), draws=2,
                     seed=0, progress=False)
    assert (ds.won.sum("period") == 3).all()
    assert (ds.recycled.sel(stage="a").sum("period") == 3).all()
    # in nurture at the end of the first quarter? it left a on day 1 and is back on day 51
    assert float(ds.nurture.isel(period=0).max()) == 0


def test_initial_pipeline_age_gives_the_residual_dwell():
    # uniform(0, 30) dwell, aged 20 days: the remaining dwell is uniform(0, 10), mean 5
    stages = [{"name": "a", "dwell": {"dist": "uniform", "low": 0.0, "high": 30.0},
               "next": {"won": 1.0}}]
    ini = [{"stage": "a", "count": 200, "age": {"dist": "fixed", "value": 20.0}}]
    ds = se.simulate(scenario(stages, days=60, initial=ini), draws=50, seed=2, progress=False)
    t = ds.time_in_stage.sel(stage="a").values
    # per-draw mean of 200 uniform(0, 10): sd 10/sqrt(12)/sqrt(200)
    assert abs(t.mean() - 5.0) < 4 * (10 / np.sqrt(12)) / np.sqrt(200 * len(t))


def test_campaign_volume_forms_give_their_expected_arrivals():
    stages = [{"name": "a", "dwell": FAST}]
    half = {"start": "2026-12-01", "end": "2027-01-30"}  # 61 days, 30 inside the horizon
    camps = [
        {"name": "leads", "enters": "a", "schedule": half, "volume": {"leads": 6100}},
        {"name": "budget", "enters": "a", "schedule": half,
         "volume": {"budget": 61000, "cost_per_lead": 20}},
        {"name": "audience", "enters": "a", "schedule": half,
         "volume": {"audience": 100000, "response_rate": 0.061}},
    ]
    ds = se.simulate(scenario(stages, days=365, campaigns=camps), draws=200, seed=4,
                     progress=False)
    arr = ds.arrivals.sum("period")
    for name, total in (("leads", 6100), ("budget", 3050), ("audience", 6100)):
        exact = total * 30 / 61
        x = arr.sel(campaign=name).values
        assert abs(x.mean() - exact) < 4 * np.sqrt(exact / len(x)), name
    # the budget form spends the budget share inside the horizon
    cost = float(ds.campaign_cost.sel(campaign="budget").isel(draw=0))
    assert abs(cost - 61000 * 30 / 61) < 1e-6


def test_monthly_weights_and_spikes_shape_arrivals():
    stages = [{"name": "a", "dwell": FAST}]
    camps = [{"name": "m", "enters": "a",
              "schedule": {"start": "2027-01-01", "end": "2027-06-30", "shape": "monthly",
                           "weights": [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                           "spikes": [{"date": "2027-05-10", "share": 0.25, "days": 2}]},
              "volume": {"leads": 40000}}]
    raw = funnel(stages, days=181, campaigns=camps)
    raw["horizon"]["period"] = "month"
    draws = 100
    ds = se.simulate(validate(raw), draws=draws, seed=8, progress=False)
    by_month = ds.arrivals.sel(campaign="m").mean("draw").values
    # 75 % spread by daily intensity 1 in January (31 days) and 2 in February (28 days);
    # 25 % on 10-11 May; nothing else
    exact = np.zeros(6)
    exact[0] = 0.75 * 40000 * 31 / (31 + 56)
    exact[1] = 0.75 * 40000 * 56 / (31 + 56)
    exact[4] = 0.25 * 40000
    se_ = np.sqrt(np.maximum(exact, 1e-9) / draws)  # Poisson counts
    assert np.all(np.abs(by_month - exact) < 4 * se_), (by_month, exact)
