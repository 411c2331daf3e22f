"""The Dataset explains itself and survives a round trip to netCDF and zarr."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import simengine as se
from simengine.scenario import scenario_sha256

MONEY = ("revenue", "pipeline_value", "revenue_by_campaign", "campaign_cost",
         "revenue_by_segment", "friction_cost")
DESIGN_VARIABLES = ("revenue", "won", "arrivals", "entered", "exited_lost", "exited_no_decision",
                    "pipeline", "pipeline_value", "reached", "revenue_by_campaign",
                    "won_by_campaign", "campaign_cost", "revenue_by_segment", "time_in_stage",
                    "open_at_end")


@pytest.fixture(scope="module")
def ds():
    return se.simulate("tests/scenarios/all_features.yaml", draws=12, seed=4, progress=False)


def test_dims_coords_units_and_attrs(ds):
    for name in DESIGN_VARIABLES:
        assert name in ds, name
    for dim in ds.dims:
        assert dim in ds.coords, dim
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units") and var.attrs.get("long_name"), name
    for name in MONEY:
        assert ds[name].attrs["units"] == "USD"
    assert ds.period.dtype.kind == "M"
    assert list(ds.stage.values) == ["a", "b", "c"]
    assert list(ds.campaign.values) == ["leads", "paid", "outbound", "initial_pipeline"]
    sc = se.load_scenario("tests/scenarios/all_features.yaml")
    attrs = ds.attrs
    assert attrs["scenario"] == "all-features" and attrs["seed"] == 4 and attrs["draws"] == 12
    assert attrs["scenario_sha256"] == scenario_sha256(sc)
    assert attrs["simengine_version"] == se.__version__
    assert attrs["prospects"] == float(ds.arrivals.sum() + ds.initial_pipeline.sum())
    assert "created" in attrs and "scenario_json" in attrs


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_round_trip_is_identical(ds, tmp_path, suffix):
    path = se.save(ds, tmp_path / f"result{suffix}")
    back = se.load(path)
    expected = ds.copy()
    for c in ("stage", "campaign", "segment", "friction", "parameter"):
        expected.coords[c] = expected.coords[c].astype(str)
    xr.testing.assert_identical(expected, back.load())
    # atomic: no temporary left beside the result
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"result{suffix}"]


def test_overwrite_replaces_the_old_result(ds, tmp_path):
    se.save(ds.isel(draw=slice(0, 3)), tmp_path / "r.zarr")
    se.save(ds, tmp_path / "r.zarr")
    assert se.load(tmp_path / "r.zarr").sizes["draw"] == 12


def test_summary_and_goal_probability(ds):
    s = se.summarize(ds)
    annual = ds.revenue.sum("period").values
    assert s.bookings["P50"] == np.quantile(annual, 0.5)
    g = se.prob_goal(ds, target=float(np.median(annual)))
    assert g.p == np.mean(annual >= np.median(annual))
    assert g.se == pytest.approx(np.sqrt(g.p * (1 - g.p) / 12))
    assert g.low <= g.p <= g.high
    assert g.draws_for(0.01) == int(np.ceil(g.p * (1 - g.p) / 1e-4))


def test_a_failed_draw_does_not_corrupt_the_others(tmp_path):
    # a per-draw mean that can go negative makes a gamma impossible in some draws
    text = Path("tests/scenarios/all_features.yaml").read_text().replace(
        "dwell: {dist: gamma, mean: 15, cv: 0.6}",
        "dwell: {dist: gamma, mean: {dist: uniform, low: 0, high: 30}, cv: 0.6}")
    p = tmp_path / "s.yaml"
    p.write_text(text)
    sc = se.load_scenario(p)
    ds = se.simulate(sc, draws=10, seed=1, progress=False)
    assert ds.attrs["failed_draws"] == 0  # uniform(0, 30) is > 0 almost surely
    ref = se.simulate("tests/scenarios/all_features.yaml", draws=10, seed=1, progress=False)
    bad = se.simulate(sc, draws=10, seed=1, progress=False,
                      param_values={"stages.c.dwell.mean": [15, -1, 15, 15, 15, 15, 15, 15, 15,
                                                             15]})
    assert bad.attrs["failed_draws"] == 1 and int(bad.failed[1]) == 1
    assert np.isnan(bad.revenue[1]).all()
    good = [i for i in range(10) if i != 1]
    ref15 = se.simulate(sc, draws=10, seed=1, progress=False,
                        param_values={"stages.c.dwell.mean": 15})
    np.testing.assert_array_equal(bad.revenue[good], ref15.revenue[good])
    assert ref.sizes["draw"] == 10


def test_every_variable_is_declared_once_in_the_outputs_table():
    from simengine.kernels.outputs import CURRENCY, DERIVED, FUNNEL, POOLS

    pooled = se.simulate("scenarios/baseline.yaml", draws=4, seed=2, progress=False, trace=2)
    assert "pool" in pooled.dims
    declared = {o.variable: (o.dims, o.units, o.long_name) for o in FUNNEL + POOLS
                if o.units is not None}
    declared.update({k: (d.dims, d.units, d.long_name) for k, d in DERIVED.items()})
    assert set(pooled.data_vars) == set(declared)
    for name, (dims, units, long_name) in declared.items():
        var = pooled[name]
        assert var.dims == ("draw", *dims), name
        assert var.attrs["units"] == (pooled.attrs["currency"] if units == CURRENCY else units)
        assert var.attrs["long_name"] == long_name, name
