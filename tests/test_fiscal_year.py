"""horizon.fiscal_year_start: quarters, month-of-quarter calendars and the report's checkpoints
follow the fiscal year; without it nothing changes (not even the scenario's fingerprint)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import simengine as se
from simengine.compile import compile_scenario
from simengine.compile.grid import build_grid
from simengine.report.sections import checkpoints
from simengine.scenario import canonical_json, load_scenario, scenario_sha256

FISCAL = {"horizon.fiscal_year_start": 2, "horizon.period": "quarter",
          "horizon.start": "2027-02-01"}


def test_quarters_start_in_the_fiscal_year_s_months():
    sc = load_scenario("scenarios/baseline.yaml", FISCAL)
    g = build_grid(sc.horizon)
    assert [str(d) for d in g.period_start] == ["2027-02-01", "2027-05-01", "2027-08-01",
                                                "2027-11-01"]
    # a horizon that starts inside a fiscal quarter has a short first period
    sc = load_scenario("scenarios/baseline.yaml", {**FISCAL, "horizon.start": "2027-01-01"})
    g = build_grid(sc.horizon)
    assert [str(d) for d in g.period_start][:2] == ["2027-01-01", "2027-02-01"]
    assert g.period_end_day[0] == 31


def test_month_of_quarter_calendar_follows_the_fiscal_quarter():
    cal = "{month_of_quarter: [0.5, 1.0, 1.5]}"
    plain = compile_scenario(load_scenario("scenarios/baseline.yaml",
                                           [f"stages.proposal.calendar={cal}"]))
    fiscal = compile_scenario(load_scenario(
        "scenarios/baseline.yaml", [f"stages.proposal.calendar={cal}",
                                    "horizon.fiscal_year_start=2"]))
    k = plain.stage_names.index("proposal")
    start = dt.date(2027, 1, 1)

    def speed(cs, month):
        return cs.calendar[k, (dt.date(2027, month, 15) - start).days]

    # calendar quarters: January is a first month, March a last; fiscal (from February):
    # February is a first month, January and April last months
    assert (speed(plain, 1), speed(plain, 3)) == pytest.approx((0.5, 1.5))
    assert (speed(fiscal, 2), speed(fiscal, 3), speed(fiscal, 4), speed(fiscal, 1)) == \
        pytest.approx((0.5, 1.0, 1.5, 1.5))


def test_no_fiscal_year_leaves_the_fingerprint_unchanged():
    a = load_scenario("scenarios/baseline.yaml")
    b = load_scenario("scenarios/baseline.yaml", {"horizon.fiscal_year_start": 1})
    assert "fiscal_year_start" not in canonical_json(a)  # what the fingerprint hashes
    assert scenario_sha256(a) != scenario_sha256(b)  # written explicitly, it is recorded
    assert build_grid(a.horizon).period_start.tolist() == \
        build_grid(b.horizon).period_start.tolist()


@pytest.mark.parametrize("fys,expected", [(1, [2, 5, 8, 11]), (2, [0, 3, 6, 9, 11]),
                                          (4, [2, 5, 8, 11]), (11, [0, 3, 6, 9, 11])])
def test_report_checkpoints_are_fiscal_quarter_ends(fys, expected):
    # monthly periods of calendar 2027; the day after each period's end
    ends = np.array([f"{2027 + (m == 12)}-{m % 12 + 1:02d}-01" for m in range(1, 13)],
                    dtype="datetime64[ns]")
    assert checkpoints(ends, "month", fys) == expected


def test_fiscal_year_must_be_a_month(tmp_path):
    with pytest.raises(se.ScenarioError, match=r"horizon\.fiscal_year_start: expected a "
                       r"number <= 12, found 13"):
        load_scenario("scenarios/baseline.yaml", {"horizon.fiscal_year_start": 13})


def test_report_of_a_fiscal_year_shows_its_quarter_ends(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    sc = load_scenario("scenarios/baseline.yaml", {"horizon.fiscal_year_start": 2,
                                                   "horizon.start": "2027-02-01"})
    ds = se.simulate(sc, draws=20, seed=1, progress=False)
    text = se.report(ds, tmp_path / "r.html").read_text()
    table = text[text.index("Checkpoints"):]
    for day in ("30 Apr 2027", "31 Jul 2027", "31 Oct 2027", "31 Jan 2028"):
        assert day in table[:3000], day
