"""Decision analyses on the baseline: a benchmark, not a test.

- goal seek of the proposal win rate to P(goal) >= 80 % at 1,000 draws per evaluation (no
  budget or headcount lever alone reaches 80 % on the baseline: see docs/decisions.md);
- a 10-factor tornado at 1,000 draws per run (21 runs);
- Sobol indices of 10 parameters plus the process noise, 1,024 base rows (12,288 draws: the
  MQL-acceptance and win rates are correlated in the baseline, so they are one factor);
- the variance reduction of common random numbers on a +10 % budget change (both campaign
  budgets), against independent seeds, at 1,000 draws.

The targets on this machine (2 shared cores): goal seek and tornado under 60 s each,
Sobol under 5 minutes. Each benchmark also checks what it computed. Run with
``pytest benchmarks/test_bench_analysis.py --benchmark-only -s`` to see the figures.
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_common import ROOT

import simengine as se
from simengine.analysis.compare import variance_reduction

BASELINE = ROOT / "scenarios" / "baseline.yaml"
DRAWS = 1000
TEN = ["stages.mql.next.sal", "stages.sal.next.opportunity", "stages.proposal.next.won",
       "stages.opportunity.dwell.mean", "segments.midmarket.deal_value.mean",
       "campaigns.webinar-series.volume.cost_per_lead",
       "campaigns.paid-search.volume.cost_per_lead", "campaigns.trade-show.volume.leads",
       "pools.ae.headcount", "friction.recession.occurs"]


@pytest.fixture(scope="module")
def baseline():
    sc = se.load_scenario(BASELINE)
    se.simulate(sc, draws=4, seed=0, progress=False)  # JIT compile outside the timed region
    return sc


def _once(benchmark, fn):
    return benchmark.pedantic(fn, rounds=1, iterations=1, warmup_rounds=0)


@pytest.mark.benchmark(group="goal seek")
def test_goal_seek_win_rate(benchmark, baseline):
    r = _once(benchmark, lambda: se.goal_seek(baseline, "stages.proposal.next.won",
                                              confidence=0.8, draws=DRAWS, seed=1))
    print(f"\ngoal seek: {r.sentence()} [{r.runs} runs of {DRAWS} draws, {r.elapsed:.1f} s]")
    benchmark.extra_info.update(runs=r.runs, value=r.value, probability=r.probability)
    assert r.probability >= 0.8 - 4 * r.probability_se
    lo, hi = r.interval
    assert lo <= r.value <= hi


@pytest.mark.benchmark(group="tornado")
def test_tornado_ten_factors(benchmark, baseline):
    r = _once(benchmark, lambda: se.sensitivity(baseline, "tornado", TEN, draws=DRAWS, seed=1))
    print(f"\ntornado: {r.simulated:,} draws in {r.elapsed:.1f} s")
    print(r.table[["factor", "low", "high", "p50_low", "p50_high", "p_goal_low",
                   "p_goal_high"]].to_string())
    benchmark.extra_info.update(simulated=r.simulated, first=r.table.factor.iloc[0])
    assert len(r.table) == 10
    # every swing straddles (or touches) the base P50 up to its Monte Carlo error
    t = r.table
    lo = np.minimum(t.p50_low, t.p50_high) - 4 * t.p50_swing_se
    hi = np.maximum(t.p50_low, t.p50_high) + 4 * t.p50_swing_se
    assert ((lo <= r.base["p50"] * 1.02) & (hi >= r.base["p50"] * 0.98)).all()


@pytest.mark.benchmark(group="sobol")
def test_sobol_ten_factors(benchmark, baseline):
    r = _once(benchmark, lambda: se.sensitivity(baseline, "sobol", TEN, draws=1024, seed=1,
                                                level="parameter"))
    print(f"\nsobol: {r.simulated:,} draws in {r.elapsed:.1f} s")
    print(r.table[["factor", "S1", "S1_conf", "ST", "ST_conf"]].to_string())
    benchmark.extra_info.update(simulated=r.simulated)
    t = r.table
    assert len(t) == 10  # nine factors (two correlated parameters are one) and the noise
    assert t.factor.iloc[0] == "stages.mql.next.sal + stages.proposal.next.won"
    # indices are shares of one variance: within [0, 1] up to their intervals, first order
    # below total
    assert ((t.ST + t.ST_conf >= 0) & (t.ST - t.ST_conf <= 1)).all()
    assert (t.S1 - t.S1_conf <= t.ST + t.ST_conf).all()


@pytest.mark.benchmark(group="common random numbers")
def test_crn_variance_reduction_of_a_budget_change(benchmark, baseline):
    more = se.with_values(baseline, {
        "campaigns.webinar-series.volume.budget": 240000 * 1.1,
        "campaigns.paid-search.volume.budget": 480000 * 1.1})
    r = _once(benchmark, lambda: variance_reduction(baseline, more, draws=DRAWS, seed=7))
    print(f"\ncommon random numbers, +10 % budgets: variance of the paired difference "
          f"{r['var_crn']:.3g}, independent seeds {r['var_independent']:.3g} "
          f"(from the marginals {r['var_independent_marginal']:.3g}): ratio {r['ratio']:.0f}x "
          f"({r['ratio_marginal']:.0f}x); mean difference {r['mean_difference']:,.0f}")
    benchmark.extra_info.update(ratio=r["ratio"], ratio_marginal=r["ratio_marginal"])
    assert r["ratio"] > 10
