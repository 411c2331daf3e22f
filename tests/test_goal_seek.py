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
from simengine.analysis.goal_seek import GoalOutOfReach, reverse_waterfall  # noqa: E402
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
    # an out-of-reach goal is an answer, with its own exit code, not bad input (2)
    assert code == 3 and "reverse waterfall" in text.out and "out of reach" in text.err
    assert "widen --bounds" in " ".join(text.err.split()) and "bounds=" not in text.err


# --- the CLI: exit codes and flags ---------------------------------------------------------------
def test_cli_names_flags_and_documents_the_out_of_reach_code(sc, tmp_path, capsys):
    from simengine.analysis.levers import OUT_OF_REACH_EXIT
    from simengine.analysis.optimize import OUT_OF_REACH_EXIT as OPTIMIZE_EXIT
    from simengine.cli_analysis import _OUT_OF_REACH

    assert OUT_OF_REACH_EXIT == OPTIMIZE_EXIT == _OUT_OF_REACH == 3
    path = tmp_path / "scenario.yaml"
    path.write_text(se.to_yaml(sc))
    for argv, flag in ((["--bounds", "10", "5"], "--bounds: expected low < high"),
                       (["--confidence", "1.5"], "--confidence: expected a probability"),
                       (["--target", "-5"], "--target: expected bookings > 0")):
        code = main(["goal-seek", str(path), "--lever", "campaigns.leads.volume.leads", "-n",
                     "20", *argv])
        err = " ".join(capsys.readouterr().err.split())
        assert code == 2 and flag in err, err
    code = main(["goal-seek", str(path), "--lever", "campaigns.nope.volume.leads", "-n", "20"])
    assert code == 2 and "--lever campaigns.nope" in capsys.readouterr().err
    assert main(["goal-seek", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "3 the goal is out of reach within the bounds" in help_text


# --- the worksheet against a hand computation ----------------------------------------------------
def _capacity_funnel(**over) -> dict:
    """One stage worked by a pool: 2 reps x 10 slots x 365 days = 7,300 slot-days; each visit
    holds a slot for 20 days; 100 open opportunities on day 0 and two campaigns (a, the lever;
    b) all entering the stage in the first half of the year; half of the visits are won, a deal
    is worth 1,000."""
    raw = {"name": "hand", "horizon": {"start": "2027-01-01", "days": 365, "period": "quarter"},
           "deal_value": 1000.0, "goal": {"revenue": 1e6},
           "stages": [{"name": "opp", "dwell": 20.0, "worked_by": "reps",
                       "next": {"won": 0.5}}],
           "pools": {"reps": {"headcount": 2, "slots_per_rep": 10, "selling_time": 1.0,
                              "attrition": 0.0}},
           "campaigns": [{"name": n, "enters": "opp", "volume": {"leads": v},
                          "schedule": {"start": "2027-01-01", "end": "2027-06-30"}}
                         for n, v in (("a", 300), ("b", 200))],
           "initial_pipeline": [{"stage": "opp", "count": 100}]}
    raw.update(over)
    return raw


def test_worksheet_other_sources_by_hand():
    """At the lever's bound (a: 400 leads; the goal is out of reach) the campaigns ask for
    (400 + 200) x 20 = 12,000 slot-days. The open pipeline is first in line: 100 x 20 = 2,000
    slot-days, all served; 7,300 - 2,000 = 5,300 are left for 12,000 asked, a share of 0.441667.
    Other sources than a: the open pipeline 100 x 0.5 x 1,000 = 50,000 and b 200 x 0.441667 x
    0.5 x 1,000 = 44,166.67, every win inside the horizon (20 days after a first-half entry).
    Cutting every source alike, as before, gave 7,300 / 14,000 of each: 78,214."""
    sc = validate(_capacity_funnel())
    cs = compile_scenario(sc)
    table, x = reverse_waterfall(cs, lever(cs, "campaigns.a.volume.leads", (100, 400)), 1e6)
    assert math.isnan(x)
    w = table.set_index("step")
    share = (7300 - 2000) / ((400 + 200) * 20)
    assert w.loc["expected from other sources", "expected"] == pytest.approx(
        100 * 0.5 * 1000 + 200 * share * 0.5 * 1000, rel=1e-9)
    assert w.loc["gap for a", "expected"] == pytest.approx(400 * share * 0.5 * 1000, rel=1e-9)
    note = w.loc["expected from other sources", "note"]
    assert "reps serves 44%" in note and "open pipeline first" in note


def test_worksheet_other_sources_without_capacity_limits_by_hand():
    """A pool that is never short: b books 200 x 0.5 x 1,000 and the open pipeline 50,000,
    and the note says nothing about capacity."""
    raw = _capacity_funnel()
    raw["pools"]["reps"]["headcount"] = 20
    sc = validate(raw)
    cs = compile_scenario(sc)
    table, _ = reverse_waterfall(cs, lever(cs, "campaigns.a.volume.leads", (100, 400)), 1e6)
    w = table.set_index("step")
    assert w.loc["expected from other sources", "expected"] == pytest.approx(150_000, rel=1e-9)
    assert "capacity" not in w.loc["expected from other sources", "note"]


# --- a lever that cannot buy confidence: the bottleneck ---------------------------------------
def test_bottleneck_in_words():
    from simengine.analysis.goal_seek import bottleneck

    def fmt(v):
        return f"{v:,.0f}"

    seen = {100.0: np.array([[0.01, 0.2], [0.0, 0.3]]),
            900.0: np.array([[0.30, 0.7], [0.0, 0.35]])}
    text = bottleneck(("sdr", "ae"), seen, fmt)
    assert text.startswith("pool sdr is the bottleneck") and "1% at 100 to 30% at 900" in text
    waits = {100.0: np.array([[0.0, 0.1]]), 900.0: np.array([[0.0, 0.8]])}
    assert "waited for a rep rises from 10% at 100 to 80% at 900" in bottleneck(
        ("ae",), waits, fmt)
    calm = {100.0: np.array([[0.0, 0.1]]), 900.0: np.array([[0.01, 0.15]])}
    assert bottleneck(("ae",), calm, fmt) == ""
    assert bottleneck(("ae",), {100.0: calm[100.0]}, fmt) == ""


def test_out_of_reach_names_the_saturated_pool():
    """One rep with 5 slots works visits of 10 days and prospects go cold after 2 days on
    average: more leads mostly go cold, and the goal (far above what 5 slots can close) is out
    of reach; the refusal says the pool is the bottleneck."""
    raw = _capacity_funnel(initial_pipeline=[])
    raw["stages"][0].update(dwell=10.0, patience={"dist": "exponential", "mean": 2})
    raw["pools"]["reps"].update(headcount=1, slots_per_rep=5)
    raw["campaigns"] = raw["campaigns"][:1]
    sc = validate(raw)
    with pytest.raises(GoalOutOfReach) as exc:
        se.goal_seek(sc, "campaigns.a.volume.leads", confidence=0.8, target=200_000, draws=50,
                     seed=1, bounds=(100, 2000))
    assert "pool reps is the bottleneck" in exc.value.bottleneck
    assert "pool reps is the bottleneck" in str(exc.value)


def test_worksheet_says_it_leaves_out_the_warm_start():
    raw = _capacity_funnel(initial_pipeline=[])
    raw["horizon"]["warm_start"] = True
    raw["pools"]["reps"]["headcount"] = 20
    sc = validate(raw)
    cs = compile_scenario(sc)
    table, _ = reverse_waterfall(cs, lever(cs, "campaigns.a.volume.leads", (100, 400)), 1e6)
    note = table.set_index("step").loc["expected from other sources", "note"]
    assert "warm start's pipeline on day 0 is left out" in note
    # without the warm start the worksheet has nothing to leave out
    cold = compile_scenario(validate(_capacity_funnel(initial_pipeline=[])))
    table, _ = reverse_waterfall(cold, lever(cold, "campaigns.a.volume.leads", (100, 400)), 1e6)
    assert "warm start" not in table.set_index("step").loc["expected from other sources",
                                                             "note"]
