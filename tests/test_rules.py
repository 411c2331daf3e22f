"""Model rules that say what they do: where a stage's no decision comes from, and multipliers of
every stage against their overall effect on the lead-to-win rate, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

import simengine as se
from simengine.compile import compile_scenario
from simengine.errors import ScenarioError, SimEngineError
from simengine.scenario import rules, validate
from simengine.scenario.loader import to_yaml
from tests.builders import funnel, scenario

FAST = {"dist": "fixed", "value": 1.0}


def _three(nd_from: str | None = None, **c_extra) -> list[dict]:
    c = {"name": "c", "dwell": FAST, "next": {"won": 0.3}, "no_decision": 0.2, **c_extra}
    if nd_from is not None:
        c["no_decision_from"] = nd_from
    return [{"name": "a", "dwell": FAST, "next": {"b": 0.5}},
            {"name": "b", "dwell": FAST, "next": {"c": 0.4}}, c]


def _exits(ds, var: str, stage: str | None = None) -> np.ndarray:
    x = ds[var] if stage is None else ds[var].sel(stage=stage)
    return x.sum([d for d in x.dims if d != "draw"]).values


@pytest.mark.parametrize("nd_from, p_won", [(None, 0.3), ("lost", 0.3), ("advance", 0.1)])
def test_no_decision_source_changes_wins_as_written(nd_from, p_won):
    # 1,000 prospects at a: 0.5 x 0.4 = 0.2 reach c. At c, no decision 0.2 either comes out of
    # lost (won 0.3) or out of the 0.3 won (won 0.1); no decision is 0.2 of those at c both ways.
    n, draws = 1000, 400
    sc = scenario(_three(nd_from), days=60, initial=[{"stage": "a", "count": n}])
    ds = se.simulate(sc, draws=draws, seed=5, progress=False)
    for var, p in (("won", 0.2 * p_won), ("exited_no_decision", 0.2 * 0.2)):
        x = _exits(ds, var)
        exact = n * p
        se_ = np.sqrt(n * p * (1 - p) / draws)  # binomial per draw
        assert abs(x.mean() - exact) < 4 * se_, (var, x.mean(), exact)
    # the expected-value model (goal seek's worksheet) routes the same way
    from simengine.analysis.expected import expected_funnel

    src = expected_funnel(compile_scenario(sc))
    assert sum(f.won for f in src) == pytest.approx(n * 0.2 * p_won, rel=1e-12)
    assert rules.routing(sc).lead_to_win(0, np.ones(3)) == pytest.approx(0.2 * p_won)


def test_default_rule_is_todays_rule_bit_for_bit():
    camp = [{"name": "w", "enters": "a", "schedule": {"start": "2027-01-01", "end": "2027-03-31"},
             "volume": {"leads": 800}}]
    a = se.simulate(scenario(_three(None), days=120, campaigns=camp), draws=20, seed=2,
                    progress=False)
    b = se.simulate(scenario(_three("lost"), days=120, campaigns=camp), draws=20, seed=2,
                    progress=False)
    for v in a.data_vars:
        assert a[v].values.tobytes() == b[v].values.tobytes(), v
    assert "no_decision_from" not in to_yaml(scenario(_three("lost")))


def test_no_decision_above_advance_is_refused():
    with pytest.raises(ScenarioError, match=r"stages\[2\].no_decision: expected a no-decision "
                       r"rate at most the sum of next \(0.3\)"):
        scenario(_three("advance", no_decision=0.35))
    # taken from advance, next + no decision may exceed 1: next + recycle.p is what sums
    scenario([{"name": "a", "dwell": FAST, "next": {"won": 0.9}, "no_decision": 0.3,
               "no_decision_from": "advance"}])


def test_drift_on_a_stage_taking_no_decision_from_advance_is_refused():
    raw = funnel(_three("advance"), drift=[{"param": "stages.c.no_decision", "model": "ar1",
                                             "sd": 0.1, "phi": 0.5}])
    with pytest.raises(ScenarioError, match="no_decision_from: advance"):
        validate(raw)


def test_overall_advance_is_solved_against_a_hand_computation():
    # a -> b (0.5), b -> c (0.4) or nurture back to a (0.2), c -> won (0.3). With every advance
    # multiplied by m (nurture is not advance):
    # W_a = m p1 W_b, W_b = m p2 W_c + r W_a, W_c = m p3  =>  W_a = m^3 p1 p2 p3 / (1 - m p1 r)
    p1, p2, p3, r = 0.5, 0.4, 0.3, 0.2
    stages = [{"name": "a", "dwell": FAST, "next": {"b": p1}},
              {"name": "b", "dwell": FAST, "next": {"c": p2},
               "recycle": {"p": r, "to": "a"}},
              {"name": "c", "dwell": FAST, "next": {"won": p3}}]

    def w(m):
        return m ** 3 * p1 * p2 * p3 / (1 - m * p1 * r)

    for factor in (0.9, 1.25):
        sc = scenario(stages, segments={"s": {"advance": {"overall": factor}}})
        cs = compile_scenario(sc)
        m = float(cs.params.dists[cs.params.col("segments.s.advance")].mean())
        assert w(m) == pytest.approx(factor * w(1.0), rel=1e-10)
        assert m != pytest.approx(factor ** (1 / 3), rel=1e-4)  # the recycle matters
    # the plain multiplier is stated in the overall form it amounts to: 0.9^3 without recycle
    flat = [{k: v for k, v in s.items() if k != "recycle"} for s in stages]
    sc = scenario(flat, segments={"s": {"advance": 0.9}})
    assert rules.statements(sc) == [
        f"segment s: advance 0.9 at each of 3 stages = {0.9 ** 3:.2f}x lead-to-win"]


def test_overall_quality_moves_simulated_wins_by_the_factor():
    # a campaign entering b (two stages to won) with quality {overall: 1.2}: no clipping, so
    # q = sqrt(1.2) and the simulated wins are 1.2 times the plain campaign's
    stages = _three(None)[:2] + [{"name": "c", "dwell": FAST, "next": {"won": 0.3}}]
    n, draws = 3000, 300

    def camp(quality):
        return [{"name": "w", "enters": "b", "quality": quality,
                 "schedule": {"start": "2027-01-01", "end": "2027-01-01"},
                 "volume": {"leads": n}}]

    sc = scenario(stages, days=30, campaigns=camp({"overall": 1.2}))
    cs = compile_scenario(sc)
    q = float(cs.params.dists[cs.params.col("campaigns.w.quality")].mean())
    assert q == pytest.approx(np.sqrt(1.2), rel=1e-10)
    won = _exits(se.simulate(sc, draws=draws, seed=4, progress=False), "won")
    p = 0.4 * 0.3 * 1.2  # per lead; leads are Poisson(n): wins Poisson(n p)
    assert abs(won.mean() - n * p) < 4 * np.sqrt(n * p / draws)
    assert "campaign w: quality {overall: 1.2} = 1.095 at each of 2 stages = 1.20x" \
        in rules.statements(sc)[0]


def test_overall_factor_beyond_clipping_is_refused_with_the_reachable_maximum():
    stages = [{"name": "a", "dwell": FAST, "next": {"won": 0.7}, "no_decision": 0.2}]
    with pytest.raises(ScenarioError, match=r"segments.s.advance.overall: expected an overall "
                       r"factor of at most 1.14 \(clipping"):
        scenario(stages, segments={"s": {"advance": {"overall": 1.5}}})


def test_overall_is_ambiguous_with_a_stage_named_overall():
    stages = [{"name": "overall", "dwell": FAST, "next": {"won": 0.5}}]
    with pytest.raises(ScenarioError, match="ambiguous"):
        scenario(stages, segments={"s": {"advance": {"overall": 0.9}}})


def test_levers_that_cannot_move_bookings_are_named():
    sc = scenario(_three(None), goal={"revenue": 1000.0},
                  initial=[{"stage": "a", "count": 100}])
    assert "from lost" in rules.note(sc, "stages.c.no_decision")
    assert rules.inert(sc, "stages.c.no_decision")
    assert rules.inert(sc, "stages.c.next.won") is None
    with pytest.raises(SimEngineError, match="cannot: stages.c.no_decision comes out of lost"):
        se.goal_seek(sc, "stages.c.no_decision", draws=10)
    from simengine.analysis.optimize import plan_levers

    with pytest.raises(SimEngineError, match="cannot: stages.c.no_decision comes out of lost"):
        plan_levers(sc, compile_scenario(sc), {"stages.c.no_decision": (0.0, 0.5)})
    from simengine.explore.levers import spec

    assert spec(sc, compile_scenario(sc), "stages.c.no_decision").label == \
        "c no decision (from lost: bookings unaffected)"
    sc2 = scenario(_three("advance"))
    assert rules.inert(sc2, "stages.c.no_decision") is None
    assert plan_levers(sc2, compile_scenario(sc2), {"stages.c.no_decision": (0.0, 0.3)})
    assert rules.note(sc2, "stages.c.no_decision") == " (taken from advance)"


def test_validate_states_the_overall_effect(tmp_path, capsys):
    from simengine.cli import main

    assert main(["validate", "scenarios/baseline.yaml"]) == 0
    text = capsys.readouterr().out
    assert "segment enterprise: advance 0.9 at each of 5 stages = 0.59x lead-to-win" in text
    assert "stage proposal: no decision 0.2 comes out of lost (bookings unaffected)" in text


@pytest.mark.parametrize("nd_from", ["lost", "advance"])
def test_tornado_on_a_stage_no_decision_says_what_it_moves(nd_from):
    import matplotlib

    matplotlib.use("Agg")
    from simengine.plot.decision import tornado

    stages = _three(nd_from, no_decision={"dist": "uniform", "low": 0.1, "high": 0.3})
    sc = scenario(stages, days=60, goal={"revenue": 10_000.0},
                  initial=[{"stage": "a", "count": 400}])
    r = se.sensitivity(sc, "tornado", ["stages.c.no_decision"], draws=40, seed=1)
    swing = float(r.table.p50_swing.iloc[0])
    labels = [t.get_text() for t in tornado(r).axes[0].get_yticklabels()]
    if nd_from == "lost":  # the same draws win the same deals: no swing at all, and it says so
        assert swing == 0.0 and r.inert == ("stages.c.no_decision",)
        assert "comes out of lost" in r.notes[0] and "(from lost: no effect)" in labels[0]
    else:
        assert swing < 0.0 and r.inert == () and r.notes == ()
        assert "from lost" not in labels[0]
