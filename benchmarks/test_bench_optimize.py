"""The plan optimizer on the shipped baseline with saturating budgets: a benchmark, not a test.

Six levers (the four campaign budgets of ``scenarios/baseline_plan.yaml``, the AE hires of
April and the SDR headcount), the cheapest plan with P(goal) >= 80 % plus a frontier of 8 plans
(the search's plans among them), at 1,000 draws per plan. The issue's target: under 3 minutes
on this machine (2 shared cores); compare CPU seconds, since wall time depends on the load.
It prints the CPU seconds, the wall time, the plans simulated and the evaluations of the
expected-value model, and checks what it computed: the plan's fresh-seed P(goal) is within 4
s.e. of the confidence or above it when the goal is reached, and every frontier row was
simulated. Run with ``pytest benchmarks/test_bench_optimize.py --benchmark-only -s``.
"""

from __future__ import annotations

import time

import pytest
from bench_common import ROOT

import simengine as se
from simengine.analysis.optimize import PlanOutOfReach

SCENARIO = ROOT / "scenarios" / "baseline_plan.yaml"
DRAWS = 1000
LEVERS = {
    "campaigns.webinar-series.volume.budget": (50_000, 800_000),
    "campaigns.paid-search.volume.budget": (100_000, 1_500_000),
    "campaigns.trade-show.volume.budget": (20_000, 400_000),
    "campaigns.partner-referrals.volume.budget": (20_000, 400_000),
    "pools.ae.hires[0].count": (1, 30),
    "pools.sdr.headcount": (3, 14),
}


@pytest.fixture(scope="module")
def plan_scenario():
    sc = se.load_scenario(SCENARIO)
    se.simulate(sc, draws=4, seed=0, progress=False)  # JIT compile outside the timed region
    return sc


@pytest.mark.benchmark(group="optimize")
def test_optimize_six_levers(benchmark, plan_scenario):
    def go():
        c0 = time.process_time()
        try:
            r = se.optimize(plan_scenario, LEVERS, confidence=0.8, draws=DRAWS, seed=0,
                            frontier=8)
        except PlanOutOfReach as exc:
            r = exc.result
        return r, time.process_time() - c0

    r, cpu = benchmark.pedantic(go, rounds=1, iterations=1, warmup_rounds=0)
    print(f"\noptimize: {r.sentence()}")
    print(r.frontier.to_string())
    print(f"{r.plans_scored} plans simulated at {DRAWS:,} draws, {r.model_evaluations:,} "
          f"model evaluations; {cpu:.1f} CPU s, {r.elapsed:.1f} s wall")
    benchmark.extra_info.update(cpu_seconds=cpu, plans=r.plans_scored,
                                model_evaluations=r.model_evaluations, cost=r.cost,
                                probability=r.probability, reached=r.reached)
    assert len(r.frontier) >= 8
    if r.reached:
        assert r.probability >= 0.8 - 4 * r.probability_se
