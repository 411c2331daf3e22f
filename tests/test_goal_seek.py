"""Goal seek against an answer known exactly.

The reference funnel has no pools, zero dwells and one campaign of L expected leads; each lead is
won with probability p = 0.5 x 0.2 and is worth v, so the won-deal count is Poisson(p L) and the
smallest L with P(bookings >= k v) >= c solves P(Poisson(p L) >= k) = c, i.e.
p L = gammaincinv(k, c) (the Poisson-gamma relation; its normal approximation with continuity
correction is p L = ((z + sqrt(z^2 + 4 (k - 1/2))) / 2)^2). The answer must lie in the interval
the search reports (at a 4-sigma level), and re-simulating at it must give the confidence back
within its Monte Carlo error."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import special, stats  # noqa: E402

import simengine as se  # noqa: E402
from simengine.analysis.goal_seek import reverse_waterfall  # noqa: E402
from simengine.analysis.levers import lever  # noqa: E402
from simengine.cli import main  # noqa: E402
from simengine.compile import compile_scenario  # noqa: E402
from simengine.scenario import validate  # noqa: E402

P_A, P_B, VALUE, K = 0.5, 0.2, 1000.0, 400
P = P_A * P_B
LEVEL = 2 * stats.norm.cdf(4) - 1  # a 4-sigma interval: the test fails 1 time in 16,000


def funnel(volume=None, goal=K * VALUE) -> dict:
    return {
        "name": "analytic",
        "horizon": {"start": "2027-01-01", "days": 365, "period": "quarter"},
        "deal_value": VALUE,
        "goal": {"revenue": goal},
        "stages": [{"name": "a", "dwell": 0.0, "next": {"b": P_A}},
                   {"name": "b", "dwell": 0.0, "next": {"won": P_B}}],
        "campaigns": [{"name": "leads", "enters": "a",
                       "schedule": {"start": "2027-01-01", "end": "2027-10-31"},
                       "volume": volume or {"leads": 4000}}],
    }


def exact_leads(k: int, c: float) -> float:
    return special.gammaincinv(k, c) / P


def normal_leads(k: int, c: float) -> float:
    z = stats.norm.ppf(c)
    return ((z + math.sqrt(z * z + 4 * (k - 0.5))) / 2) ** 2 / P


@pytest.fixture(scope="module")
def sc():
    return validate(funnel())


@pytest.fixture(scope="module")
def leads_result(sc):
    return se.goal_seek(sc, "campaigns.leads.volume.leads", confidence=0.8, draws=400, seed=3,
                        level=LEVEL)


def test_matches_the_analytic_answer_within_its_interval(leads_result):
    r = leads_result
    truth = exact_leads(K, 0.8)
    assert abs(normal_leads(K, 0.8) - truth) < 2  # the two analytic answers agree
    lo, hi = r.interval
    assert lo <= truth <= hi, (lo, truth, hi)
    assert lo <= r.value <= hi
    assert r.converged and r.precision <= 0.005 * r.value + 1e-9
    assert r.direction == 1 and r.draws == 400
    # the interval is the Monte Carlo error of the quantile: about 1.5 % of the value here
    assert (hi - lo) / truth < 0.05


def test_probability_at_the_answer(sc, leads_result):
    r = leads_result
    # on the same draws the answer reaches the confidence (the k-th smallest threshold) ...
    assert r.probability >= 0.8
    assert r.probability_se == pytest.approx(math.sqrt(r.probability * (1 - r.probability)
                                                       / r.draws))
    same = se.simulate(r.scenario(sc), draws=400, seed=3, progress=False)
    assert se.prob_goal(same).p == pytest.approx(r.probability)
    # ... and on new draws it gives the confidence back within the Monte Carlo error of both
    n = 1000
    fresh = se.prob_goal(se.simulate(r.scenario(sc), draws=n, seed=77, progress=False))
    tol = 4 * math.sqrt(0.8 * 0.2 * (1 / n + 1 / r.draws))
    assert abs(fresh.p - 0.8) < tol, (fresh.p, tol)


def test_reverse_waterfall_of_the_funnel(sc, leads_result):
    w = leads_result.waterfall.set_index("step")
    assert w.loc["bookings goal", "expected"] == K * VALUE
    assert w.loc["won deals closing in the horizon", "expected"] == pytest.approx(K)
    assert w.loc["reach b", "expected"] == pytest.approx(K / P_B)
    assert w.loc["reach b", "conversion"] == pytest.approx(P_B)
    assert w.loc["leads entering a", "expected"] == pytest.approx(K / P)
    assert w.loc["leads entering a", "conversion"] == pytest.approx(P_A)
    # expected values ignore the spread: the deterministic answer is the mean, below the 80 %
    assert leads_result.deterministic_value == pytest.approx(K / P)
    assert leads_result.deterministic_value < leads_result.value


def test_budget_and_cost_per_lead_levers_agree_with_the_lead_lever(leads_result):
    """Leads = budget / cost per lead, with the same random numbers: per draw the budget
    threshold is 10 x the lead threshold and the cost-per-lead threshold 40,000 / it."""
    sc = validate(funnel({"budget": 40000, "cost_per_lead": 10.0}))
    b = se.goal_seek(sc, "campaigns.leads.volume.budget", confidence=0.8, draws=400, seed=3,
                     verify=False)
    assert abs(b.value - 10 * leads_result.value) <= b.precision + 10 * leads_result.precision
    w = b.waterfall.set_index("step")
    assert w.loc["campaigns.leads.volume.budget", "expected"] == pytest.approx(10 * K / P)
    c = se.goal_seek(sc, "campaigns.leads.volume.cost_per_lead", confidence=0.8, draws=400,
                     seed=3, verify=False)
    assert c.direction == -1  # a dearer lead lowers bookings: the answer is the largest value
    expected = 40000 / leads_result.value
    slack = c.precision + expected * leads_result.precision / leads_result.value
    assert abs(c.value - expected) <= slack + 1e-9, (c.value, expected, slack)


def test_a_higher_target_never_needs_a_smaller_budget():
    sc = validate(funnel({"budget": 40000, "cost_per_lead": 10.0}))
    values = []
    for target in (300_000, 340_000, 341_000, 380_000, 450_000):
        r = se.goal_seek(sc, "campaigns.leads.volume.budget", confidence=0.8, target=target,
                         draws=200, seed=5, verify=False)
        values.append((r.value, r.precision))
    for (v1, p1), (v2, p2) in zip(values, values[1:], strict=False):
        assert v2 >= v1 - (p1 + p2), values


@pytest.mark.slow
def test_uncertain_lever_keeps_its_spread_and_moves_its_centre():
    """Leads ~ normal(m, 400): P(goal | m) = E[P(Poisson(p (m + 400 Z)) >= k)], computed by
    Gauss-Hermite quadrature; the centre found must be the m that gives 0.8."""
    sd = 400.0
    sc = validate(funnel({"leads": {"dist": "normal", "mean": 4000, "sd": sd, "low": 0}}))
    z, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()

    def p_goal(m: float) -> float:
        lam = np.maximum(P * (m + sd * z), 1e-9)
        return float(np.sum(w * special.gammainc(K, lam)))

    from scipy.optimize import brentq

    truth = brentq(lambda m: p_goal(m) - 0.8, 2000, 8000)
    r = se.goal_seek(sc, "campaigns.leads.volume.leads", confidence=0.8, draws=400, seed=9,
                     level=LEVEL)
    lo, hi = r.interval
    assert lo <= truth <= hi, (lo, truth, hi)
    moved = compile_scenario(r.scenario(sc)).params
    d = moved.dists[moved.col("campaigns.leads.volume.leads")]
    assert float(d.sd) == sd and float(d.mean_) == pytest.approx(r.value)


def test_waterfall_of_a_rate_lever_and_a_goal_met_at_the_lower_bound():
    sc = validate(funnel(goal=50_000))
    cs = compile_scenario(sc)
    table, x = reverse_waterfall(cs, lever(cs, "stages.b.next.won"), 50_000)
    assert x == pytest.approx(50 / (4000 * P_A))  # 50 deals from 2,000 prospects at b
    assert table.step.iloc[-1] == "stages.b.next.won"
    r = se.goal_seek(sc, "campaigns.leads.volume.leads", confidence=0.5, target=1000,
                     draws=50, seed=1, bounds=(100, 5000))
    assert r.value == 100 and "already at the lever's lower bound" in r.note


ERRORS = [
    ({"lever": "campaigns.nope.volume.leads"},
     r"lever campaigns.nope.volume.leads: expected a parameter path of the scenario, found "
     r"none \(campaigns.nope: expected one of leads"),
    ({"lever": "deal_value"},
     r"lever deal_value: expected a numeric parameter, found 1000, a per-prospect quantity .*"
     r"deal_value.value"),
    ({"lever": "campaigns.leads.volume"},
     r"expected a numeric parameter, found a section, not a number: "
     r"campaigns.leads.volume.leads"),
    ({"lever": "campaigns.leads.volume.leads", "bounds": (0, 1000)},
     r"the goal is out of reach within the lever's bounds: at 1,000 P\(bookings >= "
     r"\$400k\) is 0.0% ± 0.0% on 50 draws, below the required 80%"),
    ({"lever": "campaigns.leads.volume.leads", "bounds": (10, 5)},
     r"bounds: expected low < high, found 10 and 5"),
    ({"lever": "campaigns.leads.volume.leads", "confidence": 1.2},
     r"confidence: expected a probability in \(0, 1\), found 1.2"),
    ({"lever": "campaigns.leads.volume.leads", "target": -5},
     r"target: expected bookings > 0, found -5"),
    ({"lever": "campaigns.leads.quality", "bounds": (1, 1.0001), "target": 1e9},
     r"out of reach"),
]


@pytest.mark.parametrize("kw,message", ERRORS)
def test_refuses_clearly(sc, kw, message):
    with pytest.raises(se.SimEngineError, match=message):
        se.goal_seek(sc, draws=50, seed=1, **kw)


def test_refuses_without_a_goal():
    raw = funnel()
    raw.pop("goal")
    with pytest.raises(se.SimEngineError, match=r"target: expected a target \(or goal.revenue"):
        se.goal_seek(validate(raw), "campaigns.leads.volume.leads", draws=20)


def test_plot_and_cli(sc, leads_result, tmp_path, capsys):
    from simengine.plot.decision import goal_seek as goal_seek_plot

    fig = goal_seek_plot(leads_result)
    assert fig.axes[0].has_data()
    plt.close(fig)
    path = tmp_path / "scenario.yaml"
    path.write_text(se.to_yaml(sc))
    code = main(["goal-seek", str(path), "--lever", "campaigns.leads.volume.leads", "-n", "100",
                 "--seed", "2", "--plot", str(tmp_path / "g.png")])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "reverse waterfall" in text and "leads entering a" in text
    flat = " ".join(text.split())  # rich wraps long lines
    assert "is the smallest value with P(bookings >= $400k) >= 80%" in flat
    assert (tmp_path / "g.png").stat().st_size > 10_000
    assert main(["goal-seek", str(path), "--lever", "nope.x", "-n", "10"]) == 2
    capsys.readouterr()
    code = main(["goal-seek", str(path), "--lever", "campaigns.leads.volume.leads", "-n", "20",
                 "--bounds", "10", "100"])
    text = capsys.readouterr()
    assert code == 2 and "reverse waterfall" in text.out and "out of reach" in text.err
