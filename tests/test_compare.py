"""Scenario comparison on common random numbers.

Exact: a scenario compared with itself differs by exactly 0 in every draw, and campaigns missing
from one scenario are joined with 0 (counts, money) or NaN (everything else). Statistical: the
paired difference of a +10 % budget change has a much smaller variance than the difference of
two independent runs (an F test at a stated level)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import simengine as se  # noqa: E402
from simengine.analysis.compare import (  # noqa: E402
    paired_difference,
    summarize_comparison,
    variance_reduction,
)
from simengine.cli import main  # noqa: E402
from simengine.scenario import to_raw, validate  # noqa: E402

ALL = "tests/scenarios/all_features.yaml"


@pytest.fixture(scope="module")
def base():
    return se.load_scenario(ALL)


def test_self_comparison_differs_by_zero_in_every_draw(base):
    cmp = se.compare({"a": base, "b": base}, draws=40, seed=7)
    assert cmp.revenue.dims == ("scenario", "draw", "period")
    d = paired_difference(cmp).sel(scenario="b").values
    assert np.all(d == 0)
    for name in ("revenue", "arrivals", "entered", "pipeline", "parameters", "campaign_cost"):
        a, b = cmp[name].sel(scenario="a").values, cmp[name].sel(scenario="b").values
        np.testing.assert_array_equal(a, b)
    s = summarize_comparison(cmp)
    row = s.differences.loc["b"]
    assert row["mean"] == 0 and row["P5"] == 0 and row["P95"] == 0 and row["mean_se"] == 0
    assert row["p_goal_diff"] == 0


def test_each_scenario_in_a_comparison_is_its_own_run(base):
    more = se.with_values(base, {"campaigns.paid.volume.budget": 80000})
    cmp = se.compare([base, more], draws=20, seed=5)
    alone = se.simulate(more, draws=20, seed=5, progress=False)
    np.testing.assert_array_equal(cmp.revenue.isel(scenario=1).values, alone.revenue.values)
    assert list(cmp.scenario.values) == ["all-features", "all-features #2"]
    assert cmp.attrs["seed"] == 5 and cmp.attrs["reference"] == "all-features"
    np.testing.assert_array_equal(cmp.goal.values, [2e6, 2e6])


def test_outer_join_of_campaigns_and_windows(base):
    raw = to_raw(base)
    raw["campaigns"].append({"name": "extra", "enters": "b", "schedule": {
        "start": "2027-01-01", "end": "2027-03-31"}, "volume": {"leads": 500},
        "cost": {"fixed": 1000}})
    raw["friction"].append({"name": "late", "stages": ["c"], "start": "2027-06-01",
                            "days": 30, "dwell": 1.2})
    bigger = validate(raw)
    cmp = se.compare({"base": base, "bigger": bigger}, draws=10, seed=1)
    assert "extra" in cmp.campaign.values and "late" in cmp.friction.values
    a = cmp.sel(scenario="base")
    # a campaign that does not run brings no prospects and costs nothing ...
    assert float(a.arrivals.sel(campaign="extra").sum()) == 0
    assert float(a.campaign_cost.sel(campaign="extra").sum()) == 0
    assert float(a.friction_active.sel(friction="late").sum()) == 0
    # ... and has no defined value elsewhere
    b = cmp.sel(scenario="bigger")
    assert float(b.arrivals.sel(campaign="extra").sum()) > 0
    # the campaigns both have keep their own random numbers (common random numbers)
    np.testing.assert_array_equal(a.arrivals.sel(campaign="leads").values,
                                  b.arrivals.sel(campaign="leads").values)


def test_outer_join_of_parameters_is_nan(base):
    other = se.with_values(base, {"stages.b.next.won": {"dist": "beta", "mean": 0.05,
                                                        "sd": 0.01}})
    cmp = se.compare([base, other], draws=5, seed=2)
    p = cmp.parameters.sel(parameter="stages.b.next.won")
    assert np.isnan(p.isel(scenario=0).values).all()
    assert np.isfinite(p.isel(scenario=1).values).all()


def test_crn_difference_is_far_tighter_than_independent_runs(base):
    """F test: with independent runs Var(B - A) / Var(B' - A) would follow F(n-1, n-1) around
    1; common random numbers must push the ratio far beyond its 99.9 % point."""
    more = se.with_values(base, {"campaigns.paid.volume.budget": 55000})  # +10 %
    n = 150
    r = variance_reduction(base, more, draws=n, seed=11)
    f999 = stats.f.ppf(0.999, r["draws"] - 1, r["draws"] - 1)
    assert r["ratio"] > f999, r
    assert r["ratio_marginal"] > f999, r
    assert r["mean_difference"] > 0  # more budget, more bookings on average


def test_summary_words_a_loss(base):
    worse = se.with_values(base, {"stages.c.next.won": {"dist": "beta", "mean": 0.2,
                                                        "sd": 0.05}})
    cmp = se.compare({"plan": base, "weak close": worse}, draws=60, seed=3)
    s = summarize_comparison(cmp)
    row = s.differences.loc["weak close"]
    assert row["mean"] < 0
    text = s.sentences()[0]
    assert text.startswith("weak close costs $") and "P5–P95" in text and "P(goal)" in text
    assert s.scenarios.loc["plan", "P50"] > s.scenarios.loc["weak close", "P50"]


def test_compare_refuses_different_horizons(base):
    other = se.with_values(base, {"horizon.days": 200})
    with pytest.raises(se.SimEngineError, match=r"compare .*: expected the horizon of"):
        se.compare([base, other], draws=5)
    with pytest.raises(se.SimEngineError, match="two or more scenarios"):
        se.compare([base], draws=5)


def test_plot_compare_renders_and_accepts_axes(base):
    worse = se.with_values(base, {"stages.c.next.won.mean": 0.25})
    cmp = se.compare({"plan": base, "weak close": worse}, draws=60, seed=3)
    fig = se.plot.compare(cmp)
    assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
    assert "weak close costs" in fig.axes[1].get_title(loc="left")
    plt.close(fig)
    fig2, axes = plt.subplots(1, 2)
    assert se.plot.compare(cmp, axes=axes) is fig2
    plt.close(fig2)
    with pytest.raises(se.SimEngineError, match="expected a comparison"):
        se.plot.compare(cmp.isel(scenario=0, drop=True))


def test_cli_compare(tmp_path, capsys):
    out = tmp_path / "cmp.nc"
    fig = tmp_path / "cmp.png"
    code = main(["compare", ALL, ALL, "-n", "30", "--seed", "4", "-o", str(out), "--plot",
                 str(fig), "--set", "goal.revenue=1.5e6"])
    text = capsys.readouterr().out
    assert code == 0
    assert "P(goal)" in text and "paired difference" in text and "adds $0" in text
    loaded = se.load(out)
    assert loaded.sizes["scenario"] == 2
    assert fig.stat().st_size > 10_000
    assert main(["compare", ALL, "-n", "5"]) == 2
