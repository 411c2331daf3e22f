"""The plan optimizer against exact answers.

With fixed parameters, a fixed deal value, one stage and no pools, the won deals of a plan are
Poisson with mean sum_c w_c * leads_c(B_c), and P(goal) is a Poisson tail. The cheapest plan that
reaches a confidence is then known exactly: with linear campaigns, fill the channel with the most
won deals per dollar up to its bound, then the next; with saturating campaigns, equal marginal won
deals per dollar across channels. The optimizer decides the level of spending on simulated draws,
so its plan's exact P(goal) must be within Monte Carlo error (4 s.e. at the draws used) of the
confidence.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import yaml
from scipy import optimize as sopt
from scipy import stats

import simengine as se
from simengine.analysis.optimize import PlanOutOfReach
from simengine.cli import main
from simengine.compile import compile_scenario
from simengine.engine.prepare import volumes
from simengine.errors import SimEngineError
from tests.builders import scenario

P_WON = 0.2
DEAL = 1000.0
GOAL = 60_000.0  # 60 won deals
DRAWS = 400
A, B = "campaigns.a.volume.budget", "campaigns.b.volume.budget"
# won deals per lead: a 0.2 (quality 1), b 0.1 (quality 0.5); cost per lead a 50, b 40
W = {"a": 0.2, "b": 0.1}
CPL = {"a": 50.0, "b": 40.0}


def _camp(name: str, budget: float, sat: float | None) -> dict:
    v = {"budget": budget, "cost_per_lead": CPL[name]}
    if sat is not None:
        v["saturation"] = sat
    return {"name": name, "enters": "lead", "quality": W[name] / P_WON,
            "schedule": {"start": "2027-01-01", "end": "2027-06-30"}, "volume": v}


def poisson_scenario(sat_a: float | None = None, sat_b: float | None = None,
                     budgets: tuple[float, float] = (10_000.0, 10_000.0), **extra):
    return scenario([{"name": "lead", "dwell": 1.0, "next": {"won": P_WON}}], days=365,
                    deal_value=DEAL, goal={"revenue": GOAL},
                    campaigns=[_camp("a", budgets[0], sat_a), _camp("b", budgets[1], sat_b)],
                    **extra)


def leads(budget: float, name: str, sat: float | None) -> float:
    c = CPL[name]
    return budget / c if sat is None else sat / c * -math.expm1(-budget / sat)


def mu(values: dict, sat_a=None, sat_b=None) -> float:
    return W["a"] * leads(values[A], "a", sat_a) + W["b"] * leads(values[B], "b", sat_b)


def p_exact(m: float) -> float:
    return float(stats.poisson.sf(GOAL / DEAL - 1, m))


def mc_tol(c: float, n: int = DRAWS) -> float:
    return 4 * math.sqrt(c * (1 - c) / n)


# --- saturation ---------------------------------------------------------------------------------
def test_saturating_budget_buys_the_documented_leads():
    sc = poisson_scenario(sat_a=5_000.0, budgets=(8_000.0, 10_000.0))
    cs = compile_scenario(sc)
    th = np.array([[d.mean() for d in cs.params.dists]])
    got = volumes(cs, th)[0]
    assert got[0] == pytest.approx(5_000 / 50 * (1 - math.exp(-8_000 / 5_000)), rel=1e-12)
    assert got[1] == pytest.approx(10_000 / 40, rel=1e-12)
    ds = se.simulate(sc, draws=DRAWS, seed=3, progress=False)
    arr = ds.arrivals.sum("period").sel(campaign="a").values
    # Poisson arrivals: the mean is within 4 s.e. of the formula
    assert abs(arr.mean() - got[0]) <= 4 * math.sqrt(got[0] / DRAWS)


def test_saturation_must_be_positive():
    with pytest.raises(se.ScenarioError, match="saturation"):
        poisson_scenario(sat_a=0.0)


# --- exact answers ------------------------------------------------------------------------------
def test_linear_fills_the_best_channel_first():
    sc = poisson_scenario()
    r = se.optimize(sc, {A: (1_000, 8_000), B: (1_000, 40_000)}, confidence=0.8, draws=DRAWS,
                    seed=0, frontier=0)
    # a buys 0.004 won deals per dollar, b 0.0025: a at its bound, b the rest
    assert r.values[A] == pytest.approx(8_000, rel=1e-9)
    assert 1_000 < r.values[B] < 40_000
    assert abs(p_exact(mu(r.values)) - 0.8) <= mc_tol(0.8)
    # the exact cheapest plan, for scale: b where the Poisson tail equals 0.8
    m_star = sopt.brentq(lambda m: p_exact(m) - 0.8, 30, 150)
    b_star = (m_star - W["a"] * 8_000 / 50) / (W["b"] / 40)
    assert r.cost == pytest.approx(8_000 + r.values[B], rel=1e-9)  # spend = budgets
    assert abs(r.values[B] - b_star) / b_star < 0.1
    assert r.reached


def test_saturating_equalises_marginal_won_deals_per_dollar():
    sa, sb = 5_000.0, 30_000.0
    sc = poisson_scenario(sat_a=sa, sat_b=sb)
    r = se.optimize(sc, {A: (100, 30_000), B: (100, 100_000)}, confidence=0.8, draws=DRAWS,
                    seed=0, frontier=0)
    m_hat = mu(r.values, sa, sb)
    assert abs(p_exact(m_hat) - 0.8) <= mc_tol(0.8)

    # by hand, at the optimizer's level of won deals: the marginal won deals per dollar
    # (w / c) exp(-B / S) are equal, and the expected won deals equal m_hat
    def b_of(ba: float) -> float:
        # (w_a / c_a) exp(-ba / sa) = (w_b / c_b) exp(-bb / sb)
        return sb * math.log((W["b"] / CPL["b"]) / (W["a"] / CPL["a"]) * math.exp(ba / sa))

    def gap(ba: float) -> float:
        return mu({A: ba, B: b_of(ba)}, sa, sb) - m_hat

    lo = sa * math.log((W["a"] / CPL["a"]) / (W["b"] / CPL["b"]))  # b_of(lo) = 0
    ba = sopt.brentq(gap, lo, 30_000)
    bb = b_of(ba)
    assert r.values[A] == pytest.approx(ba, rel=0.01)
    assert r.values[B] == pytest.approx(bb, rel=0.01)


def test_higher_confidence_never_costs_less():
    sc = poisson_scenario()
    levers = {A: (1_000, 8_000), B: (1_000, 40_000)}
    costs = [se.optimize(sc, levers, confidence=c, draws=DRAWS, seed=0, frontier=0).cost
             for c in (0.6, 0.8, 0.9)]
    assert costs[0] <= costs[1] <= costs[2]


def test_never_costlier_than_a_loaded_plan_that_reaches_it():
    sc = poisson_scenario(budgets=(8_000.0, 20_000.0))  # 82 won deals expected: P ~ 0.99
    r = se.optimize(sc, {A: (1_000, 8_000), B: (1_000, 40_000)}, confidence=0.8, draws=DRAWS,
                    seed=0, frontier=0)
    assert r.loaded["probability"] >= 0.8
    assert r.cost <= r.loaded["cost"]


def test_out_of_sample_probability_matches_the_claim():
    sc = poisson_scenario(sat_a=5_000.0, sat_b=30_000.0)
    r = se.optimize(sc, {A: (100, 30_000), B: (100, 100_000)}, confidence=0.8, draws=DRAWS,
                    seed=0, frontier=0)
    ds = se.simulate(r.scenario(), draws=DRAWS, seed=11, progress=False)
    p = se.prob_goal(ds)
    assert abs(p.p - r.probability) <= 4 * math.hypot(p.se, r.probability_se)
    # and both agree with the exact tail
    assert abs(r.probability - p_exact(mu(r.values, 5_000.0, 30_000.0))) <= mc_tol(0.8)


def test_max_probability_spends_within_the_budget():
    sc = poisson_scenario()
    r = se.optimize(sc, {A: (1_000, 8_000), B: (1_000, 40_000)}, objective="max_probability",
                    budget=20_000, draws=DRAWS, seed=0, frontier=0)
    assert r.cost <= 20_000 * (1 + 1e-9)
    # every dollar spent, the best channel full
    assert r.values[A] == pytest.approx(8_000, rel=1e-9)
    assert r.values[B] == pytest.approx(12_000, rel=1e-6)


def test_frontier_rows_and_plan_scenario():
    sc = poisson_scenario()
    r = se.optimize(sc, {A: (1_000, 8_000), B: (1_000, 40_000)}, draws=100, seed=0, frontier=4)
    t = r.frontier
    assert {"cost", "probability", "probability_se", A, B, "role", "efficient"} <= set(t)
    assert (t.role == "chosen").sum() == 1 and (t.role == "loaded").sum() == 1
    assert t.cost.is_monotonic_increasing
    plan = r.scenario()
    assert plan.campaigns[1].volume.budget.value == pytest.approx(r.values[B])


def test_counts_stay_whole_and_hire_dates_move_by_month():
    pools = {"reps": {"headcount": 2, "slots_per_rep": 20,
                      "hires": [{"date": "2027-06-01", "count": 2}],
                      "cost_per_rep_year": 50_000}}
    sc = scenario([{"name": "lead", "dwell": 5.0, "worked_by": "reps",
                    "next": {"won": P_WON}}], days=365, deal_value=DEAL,
                  goal={"revenue": 40_000.0}, campaigns=[_camp("a", 10_000.0, None)],
                  pools=pools)
    r = se.optimize(sc, {"pools.reps.hires[0].count": (1, 6),
                         "pools.reps.hires[0].date": ("2027-02", "2027-10"), A: (1_000, 20_000)},
                    draws=60, seed=0, frontier=2)
    assert isinstance(r.values["pools.reps.hires[0].count"], int)
    d = r.values["pools.reps.hires[0].date"]
    assert isinstance(d, dt.date) and d.day == 1 and dt.date(2027, 2, 1) <= d <= dt.date(
        2027, 10, 1)
    plan = r.scenario()
    assert plan.pools["reps"].hires[0].date == d


# --- refusals -----------------------------------------------------------------------------------
@pytest.mark.parametrize("levers, kw, match", [
    ({A: (8_000, 1_000)}, {}, "expected low < high"),
    ({"campaigns.zz.volume.budget": (1, 10)}, {}, "expected a parameter path"),
    ({"stages.lead": (0, 1)}, {}, "expected a numeric parameter"),
    ({"stages.lead.next.won": (0.1, 1.5)}, {}, "within \\[0, 1\\]"),
    ({A: (0, 1_000)}, {}, "not a valid value"),
    ({A: (1_000, 8_000)}, {"confidence": 1.5}, "confidence"),
    ({A: (1_000, 8_000)}, {"budget": 10.0}, "only the max_probability"),
    ({A: (1_000, 8_000)}, {"objective": "max_probability"}, "budget"),
    ({A: (1_000, 8_000)}, {"objective": "cheapest"}, "objective"),
    ({}, {}, "at least one lever"),
])
def test_refusals(levers, kw, match):
    with pytest.raises(SimEngineError, match=match) as exc:
        se.optimize(poisson_scenario(), levers, draws=20, **kw)
    assert not isinstance(exc.value, PlanOutOfReach)


def test_out_of_reach_gives_the_best_plan():
    sc = poisson_scenario()
    with pytest.raises(PlanOutOfReach, match="no plan within the bounds") as exc:
        se.optimize(sc, {A: (1_000, 8_000), B: (1_000, 4_000)}, draws=100, seed=0, frontier=0)
    r = exc.value.result
    assert not r.reached
    assert r.values[A] == pytest.approx(8_000) and r.values[B] == pytest.approx(4_000)
    assert r.search_probability < 0.8


# --- command line -------------------------------------------------------------------------------
def _write(tmp_path, sc) -> str:
    p = tmp_path / "base.yaml"
    p.write_text(se.to_yaml(sc))
    return str(p)


def test_cli_round_trip(tmp_path, capsys):
    src = _write(tmp_path, poisson_scenario())
    out = tmp_path / "plans" / "plan.yaml"
    rc = main(["optimize", src, "--lever", f"{A}=1000:8000", "--lever", f"{B}=1000:40000",
               "-n", "100", "--frontier", "2", "-o", str(out), "--plot",
               str(tmp_path / "f.png")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "as loaded" in text and "frontier" in text
    raw = yaml.safe_load(out.read_text())
    assert raw["extends"] == "../base.yaml"
    plan = se.load_scenario(out)
    assert plan.campaigns[0].volume.budget.value == pytest.approx(8_000)
    assert (tmp_path / "f.png").stat().st_size > 0


def test_report_shows_the_plan(tmp_path):
    sc = poisson_scenario()
    r = se.optimize(sc, {A: (1_000, 8_000), B: (1_000, 40_000)}, draws=60, seed=0, frontier=1)
    ds = se.simulate(r.scenario(), draws=60, seed=1, progress=False)
    html = se.write_report(ds, tmp_path / "r.html", plan=r).read_text()
    assert "The plan: cheapest mix" in html and A in html and "as loaded" in html


def test_cli_exit_codes(tmp_path, capsys):
    src = _write(tmp_path, poisson_scenario())
    out = tmp_path / "plan.yaml"
    rc = main(["optimize", src, "--lever", f"{A}=8000:1000", "-n", "20", "-o", str(out)])
    assert rc == 2 and not out.exists()
    assert "expected low < high" in capsys.readouterr().err
    rc = main(["optimize", src, "--lever", f"{A}=1000:8000", "--lever", f"{B}=1000:4000",
               "-n", "50", "--frontier", "0"])
    assert rc == 3
    assert "no plan within the bounds" in capsys.readouterr().err
    rc = main(["optimize", src, "--lever", f"{A}=1000", "-n", "20"])
    assert rc == 2


def test_frontier_counts_the_search_and_simulates_no_plan_twice():
    sc = poisson_scenario()
    r = se.optimize(sc, {A: (1_000, 8_000), B: (1_000, 40_000)}, draws=100, seed=0, frontier=6)
    t = r.frontier
    on = t[t.role != "loaded"]
    # plans are added to the search's only until there are six
    assert len(on) == max(6, int((on.role != "frontier").sum()))
    # every simulated plan is a row, once; the fresh-seed check is the one more
    assert r.plans_scored == len(t) + 1
    assert not t[[A, B]].round(6).duplicated().any()
