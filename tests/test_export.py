"""`simengine export` and `--format`: the tables hold the result's own numbers, recomputed here
from the dataset's variables (not from the code under test)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import simengine as se
from simengine.cli import main

DRAWS = 40


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "base.nc"
    ds = se.simulate("scenarios/baseline.yaml", draws=DRAWS, seed=3, progress=False)
    se.save(ds, path)
    return path, se.load(path)


def test_csv_and_xlsx_hold_the_same_tables(result, tmp_path, capsys):
    path, ds = result
    assert main(["export", str(path), "--csv", str(tmp_path / "csv"),
                 "--xlsx", str(tmp_path / "r.xlsx")]) == 0
    names = {"about", "summary", "periods", "draws", "campaigns", "pools"}
    assert {p.stem for p in (tmp_path / "csv").glob("*.csv")} == names
    book = pd.read_excel(tmp_path / "r.xlsx", sheet_name=None)
    assert set(book) == names
    for name in ("summary", "draws", "pools"):
        csv = pd.read_csv(tmp_path / "csv" / f"{name}.csv")
        pd.testing.assert_frame_equal(csv, book[name], check_dtype=False, rtol=1e-12)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_draws_sheet_is_the_annual_figures_draw_by_draw(result, tmp_path):
    path, ds = result
    main(["export", str(path), "--csv", str(tmp_path)])
    d = pd.read_csv(tmp_path / "draws.csv")
    assert len(d) == DRAWS
    np.testing.assert_allclose(d["bookings"], ds.revenue.values.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(d["rep cost"], ds.pool_cost.values.sum(axis=1), rtol=1e-12)
    for p in ds.parameter.values:
        np.testing.assert_allclose(d[str(p)], ds.parameters.sel(parameter=p).values)


def test_summary_quantiles_and_all_in_return(result, tmp_path):
    path, ds = result
    main(["export", str(path), "--csv", str(tmp_path)])
    s = pd.read_csv(tmp_path / "summary.csv").set_index("figure")
    annual = ds.revenue.values.sum(axis=1)
    assert s.loc["bookings", "P50"] == pytest.approx(np.median(annual), rel=1e-12)
    assert s.loc["bookings", "P95"] == pytest.approx(np.quantile(annual, 0.95), rel=1e-12)
    goal = ds.attrs["goal"]
    assert s.loc["P(bookings >= goal)", "P50"] == pytest.approx(np.mean(annual >= goal))
    # all-in: bookings sourced by the paid campaigns over their spend plus every rep's cost
    paid = [c for c in ds.campaign.values if c != "initial_pipeline"]
    sourced = ds.revenue_by_campaign.sel(campaign=paid).values.sum(axis=1)
    spend = ds.campaign_cost.sel(campaign=paid).values.sum(axis=1)
    reps = ds.pool_cost.values.sum(axis=1)
    assert s.loc["campaign return all-in (with reps)", "P50"] == pytest.approx(
        np.median(sourced / (spend + reps)), rel=1e-12)
    assert s.loc["campaign return (per 1 spent)", "P50"] == pytest.approx(
        np.median(sourced / spend), rel=1e-12)
    assert s.loc["campaign return all-in (with reps)", "P50"] < \
        s.loc["campaign return (per 1 spent)", "P50"]


def test_periods_carry_bands_and_pipeline_coverage(result, tmp_path):
    path, ds = result
    main(["export", str(path), "--csv", str(tmp_path)])
    p = pd.read_csv(tmp_path / "periods.csv")
    assert len(p) == ds.sizes["period"]
    rev = ds.revenue.values  # (draw, period)
    np.testing.assert_allclose(p["bookings P50"], np.median(rev, axis=0), rtol=1e-12)
    cum = np.cumsum(rev, axis=1)
    np.testing.assert_allclose(p["cumulative bookings P5"], np.quantile(cum, 0.05, axis=0), rtol=1e-12)
    left = ds.attrs["goal"] - cum
    cover = np.where(left > 0, ds.pipeline_value.values / np.where(left > 0, left, 1), np.inf)
    np.testing.assert_allclose(p["pipeline coverage P50"], np.median(cover, axis=0),
                               rtol=1e-12)
    assert p["period_end"].iloc[0] == "2027-01-31"


def test_a_comparison_exports_its_tables(tmp_path):
    cmp = se.compare(["scenarios/baseline.yaml", "scenarios/hiring_freeze.yaml"], draws=20,
                     seed=1)
    se.save(cmp, tmp_path / "cmp.nc")
    assert main(["export", str(tmp_path / "cmp.nc"), "--csv", str(tmp_path / "out")]) == 0
    names = {p.stem for p in (tmp_path / "out").glob("*.csv")}
    assert names == {"about", "scenarios", "differences", "draws"}
    d = pd.read_csv(tmp_path / "out" / "draws.csv")
    base = str(cmp.scenario.values[0])
    np.testing.assert_allclose(d[base], cmp.revenue.sel(scenario=base).values.sum(axis=-1))


def test_format_json_and_csv_write_only_the_table_to_stdout(capsys):
    sc = "scenarios/baseline.yaml"
    assert main(["run", sc, "-n", "20", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["figure"] == "bookings" and {"P5", "P50", "P95", "mean", "se"} <= set(rows[0])
    assert main(["run", sc, "-n", "20", "--format", "csv"]) == 0
    captured = capsys.readouterr()
    table = pd.read_csv(__import__("io").StringIO(captured.out))
    assert table.columns[0] == "figure" and "bookings" in set(table.figure)
    assert "simulated" in captured.err  # the rest of the talk goes to stderr
