"""Property tests: generated scenarios validate and conserve prospects in
every draw, or are rejected with a ScenarioError; they never crash. Runs are deterministic and
more budget never lowers expected arrivals."""

from __future__ import annotations

import numpy as np
from hypothesis import given

import simengine as se
from simengine.errors import SimEngineError
from simengine.scenario import validate
from tests.strategies import scenarios
from tests.test_invariants import conservation_gap


@given(scenarios())
def test_generated_scenarios_conserve_or_are_rejected(raw):
    try:
        sc = validate(raw)
    except SimEngineError:
        return
    try:
        ds = se.simulate(sc, draws=3, seed=1, progress=False)
    except SimEngineError:
        return
    ok = ds.failed.values == 0
    assert np.all(conservation_gap(ds)[ok] == 0)
    assert np.all(ds.won.values[ok] >= 0) and np.all(ds.pipeline.values[ok] >= 0)
    again = se.simulate(sc, draws=3, seed=1, progress=False)
    np.testing.assert_array_equal(ds.revenue.values, again.revenue.values)


@given(scenarios())
def test_more_budget_never_lowers_arrivals(raw):
    try:
        sc = validate(raw)
    except SimEngineError:
        return
    if not sc.campaigns:
        return
    path = f"campaigns.{sc.campaigns[0].name}.volume"
    v = sc.campaigns[0].volume
    key = next(k for k in ("leads", "budget", "audience") if hasattr(v, k))
    more = se.with_values(sc, {f"{path}.{key}": float(getattr(v, key).mean()) * 1.5})
    a = se.simulate(sc, draws=3, seed=2, progress=False)
    b = se.simulate(more, draws=3, seed=2, progress=False)
    camp = sc.campaigns[0].name
    assert np.all(b.arrivals.sel(campaign=camp).sum("period")
                  >= a.arrivals.sel(campaign=camp).sum("period"))
