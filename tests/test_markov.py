"""The funnel without pools is an absorbing semi-Markov chain: absorption probabilities
B = (I - Q)^-1 R and expected time to absorption t = (I - Q)^-1 m are exact."""

from __future__ import annotations

import numpy as np
import pytest

import simengine as se
from tests.builders import scenario

# s0 -> s1 0.5, s3 0.2 (a skip), no decision 0.1, lost 0.2
# s1 -> s2 0.6, recycle to s0 0.1, no decision 0.1, lost 0.2
# s2 -> s3 0.5, won 0.2, no decision 0.1, lost 0.2
# s3 -> won 0.4, no decision 0.2, lost 0.4
STAGES = [
    {"name": "s0", "dwell": {"dist": "exponential", "mean": 2.0},
     "next": {"s1": 0.5, "s3": 0.2}, "no_decision": 0.1},
    {"name": "s1", "dwell": {"dist": "gamma", "mean": 5.0, "cv": 0.5}, "next": {"s2": 0.6},
     "no_decision": 0.1, "recycle": {"p": 0.1, "to": "s0"}},
    {"name": "s2", "dwell": {"dist": "lognormal", "mean": 3.0, "cv": 0.8},
     "next": {"s3": 0.5, "won": 0.2}, "no_decision": 0.1},
    {"name": "s3", "dwell": {"dist": "uniform", "low": 1.0, "high": 9.0}, "next": {"won": 0.4},
     "no_decision": 0.2},
]
MEAN_DWELL = np.array([2.0, 5.0, 3.0, 5.0])
Q = np.array([[0, .5, 0, .2], [.1, 0, .6, 0], [0, 0, 0, .5], [0, 0, 0, 0]])
R = np.array([[0, .2, .1], [0, .2, .1], [.2, .2, .1], [.4, .4, .2]])  # won, lost, no decision
N = np.linalg.inv(np.eye(4) - Q)
B = N @ R
T = N @ MEAN_DWELL


def _run(start: int, count: int, draws: int, seed: int):
    sc = scenario(STAGES, initial=[{"stage": f"s{start}", "count": count}])
    return se.simulate(sc, draws=draws, seed=seed, progress=False)


@pytest.mark.parametrize("start", [0, 2])
def test_absorption_probabilities(start):
    count, draws = 500, 200
    ds = _run(start, count, draws, seed=11)
    n = count * draws
    won = float(ds.won.sum())
    lost = float(ds.exited_lost.sum())
    nd = float(ds.exited_no_decision.sum())
    assert float(ds.open_at_end.sum()) == 0  # the ten-year horizon absorbs everyone
    for observed, exact in zip((won, lost, nd), B[start], strict=True):
        se_ = np.sqrt(exact * (1 - exact) / n)
        assert abs(observed / n - exact) < 4 * se_, (observed / n, exact, se_)


@pytest.mark.parametrize("start", [0, 1])
def test_expected_visits_and_time_to_absorption(start):
    count, draws = 400, 200
    ds = _run(start, count, draws, seed=5)
    visits = (ds.entered.sum("period") + ds.initial_pipeline - ds.open_at_end)  # (draw, stage)
    # expected visits to each stage: row `start` of the fundamental matrix
    per_draw = visits.values / count
    mean, se_ = per_draw.mean(0), per_draw.std(0, ddof=1) / np.sqrt(draws)
    assert np.all(np.abs(mean - N[start]) < 4 * se_ + 1e-12), (mean, N[start], se_)
    # time to absorption = total time in stages / prospects (no recycle delay here)
    time = (ds.time_in_stage.fillna(0) * visits).sum("stage").values / count
    assert abs(time.mean() - T[start]) < 4 * time.std(ddof=1) / np.sqrt(draws)
