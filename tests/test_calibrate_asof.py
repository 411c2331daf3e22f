"""``as_of`` never leaks: what happened after the cut-off cannot change the calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simengine.calibrate.core import calibrate
from simengine.calibrate.read import cut, read
from simengine.calibrate.synthetic import poisson_entries, synthetic_export

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crm_opportunities.csv"
CUT = pd.Timestamp("2017-06-30")

TRUTH = {
    "name": "truth", "horizon": {"start": "2020-01-01", "days": 30},
    "deal_value": {"dist": "gamma", "mean": 2000, "cv": 0.6},
    "stages": [
        {"name": "opportunity", "dwell": 0,
         "next": {"opportunity-won": 0.5, "opportunity-lost": 0.4}, "no_decision": 0.1},
        {"name": "opportunity-won", "dwell": {"dist": "lognormal", "mean": 35, "cv": 0.6},
         "next": {"won": 1}},
        {"name": "opportunity-lost", "dwell": {"dist": "gamma", "mean": 15, "cv": 0.8},
         "next": {}},
    ]}


def rewrite_after(df: pd.DataFrame, t: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Everything that happened after ``t`` replaced by something else: later engagements get
    other dates, stages and values; deals open at ``t`` get other fates, close dates and
    values."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    eng = pd.to_datetime(out.engage_date)
    clo = pd.to_datetime(out.close_date)
    later = (eng > t).to_numpy()
    open_at_t = ((eng <= t) & (clo.isna() | (clo > t))).to_numpy()
    n = len(out)
    new_eng = t + pd.to_timedelta(rng.integers(1, 150, n), unit="D")
    eng = eng.where(~later, new_eng)
    fate = rng.choice(["Won", "Lost", "Engaging"], n)
    touch = later | open_at_t
    out.loc[touch, "deal_stage"] = fate[touch]
    start = eng.where(eng > t, t)
    new_close = start + pd.to_timedelta(rng.integers(1, 120, n), unit="D")
    closed = touch & (fate != "Engaging")
    out["engage_date"] = eng.dt.strftime("%Y-%m-%d")
    out.loc[closed, "close_date"] = new_close[closed].dt.strftime("%Y-%m-%d")
    out.loc[touch & ~closed, "close_date"] = np.nan
    value = np.where(fate == "Won", rng.integers(10, 90000, n).astype(str), "0")
    out.loc[closed, "close_value"] = value[closed]
    out.loc[touch & ~closed, "close_value"] = np.nan
    return out


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample CRM export not present")
def test_rewriting_everything_after_the_cut_off_changes_nothing():
    df = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False, na_values=[""])
    other = rewrite_after(df, CUT, seed=1)
    assert not other.equals(df)
    # the rewrite really is different after the cut-off, and identical before it
    later = pd.to_datetime(df.engage_date) > CUT
    assert (other.close_value[later] != df.close_value[later]).mean() > 0.5
    a = calibrate(df, as_of=CUT, components=1)
    b = calibrate(other, as_of=CUT, components=1)
    assert a.yaml == b.yaml
    assert a.report == b.report
    assert a.scenario == b.scenario


def test_a_later_export_cut_back_equals_the_export_taken_then():
    entries = poisson_entries(5, "2020-01-01", "2021-06-30", seed=21)
    then = synthetic_export(TRUTH, entries, "2020-12-31", seed=22)
    later = synthetic_export(TRUTH, entries, "2021-06-30", seed=22)
    assert len(later) > len(then)
    a = calibrate(then, as_of="2020-12-31", components=1, calendar=False)
    b = calibrate(later, as_of="2020-12-31", components=1, calendar=False)
    assert a.yaml == b.yaml
    assert a.scenario.horizon.start.isoformat() == "2021-01-01"


@pytest.mark.parametrize("as_of", ["2020-02-15", "2020-06-30", "2020-11-03"])
def test_cut_keeps_only_what_was_known(as_of):
    entries = poisson_entries(4, "2020-01-01", "2020-12-31", seed=31)
    h = read(synthetic_export(TRUTH, entries, "2020-12-31", seed=32))
    c, t = cut(h, as_of)
    v = c.visits
    assert t == pd.Timestamp(as_of)
    assert (v.entered <= t).all()
    assert (v.exited.dropna() <= t).all()
    assert v.value.notna().sum() == (v.outcome == "won").sum()
    full = h.visits.set_index("id")
    assert len(v) == int((full.entered <= t).sum())
    # every deal that was closed by then is closed the same way; the rest are open
    known = full[(full.entered <= t) & (full.exited <= t)]
    assert set(v.id[v.outcome != ""]) == set(known.index)
