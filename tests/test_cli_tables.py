"""What the commands print is readable at 80 columns: names wrap at spaces instead of being cut,
and values carry their unit (%, $, days) instead of scientific notation."""

from __future__ import annotations

import re

import pytest

from simengine.cli import main
from simengine.scenario.paths import kind, label


@pytest.mark.parametrize("path,text,unit", [
    ("stages.proposal.next.won", "proposal → won", "probability"),
    ("stages.mql.no_decision", "mql no decision", "probability"),
    ("stages.mql.recycle.p", "mql recycle rate", "probability"),
    ("stages.opportunity.dwell.mean", "opportunity dwell (mean)", "days"),
    ("segments.midmarket.deal_value.mean", "midmarket deal value (mean)", "money"),
    ("deal_value.cv", "deal value (cv)", "number"),
    ("campaigns.paid-search.volume.cost_per_lead", "paid-search cost per lead", "money"),
    ("campaigns.partner-referrals.volume.leads", "partner-referrals leads", "count"),
    ("campaigns.q3.volume.response_rate", "q3 response rate", "probability"),
    ("friction.recession.occurs", "recession (risk event)", "event"),
    ("friction.recession.days", "recession length", "days"),
    ("pools.ae.headcount", "ae headcount", "count"),
    ("goal.revenue", "goal", "money"),
    ("a group name", "a group name", "number"),
    ("stages.mql.next.sal + stages.sal.next.opportunity", "mql → sal + sal → opportunity",
     "probability"),
])
def test_parameter_paths_have_friendly_labels_and_units(path, text, unit):
    assert label(path) == text
    assert kind(path) == unit


def _lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def _check_readable(lines: list[str]) -> None:
    assert lines
    too_wide = [ln for ln in lines if len(ln) > 80]
    assert not too_wide, too_wide
    assert not [ln for ln in lines if re.search(r"\d\.\d+e[+-]\d", ln)], lines
    assert not [ln for ln in lines if re.search(r"\w…", ln)], lines  # nothing cut mid-word


def test_tornado_fits_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code = main(["sensitivity", "scenarios/baseline.yaml", "-n", "20", "--params",
                 "stages.proposal.next.won", "segments.midmarket.deal_value.mean",
                 "campaigns.paid-search.volume.cost_per_lead", "friction.recession.occurs"])
    assert code == 0
    lines = _lines(capsys)
    _check_readable(lines)
    text = "\n".join(lines)
    assert "proposal → won" in text and "stages.proposal" not in text
    assert re.search(r"\d+% → \d+%", text)  # a probability's low and high in percent
    assert re.search(r"\$\d+k → \$\d+k", text)  # a deal value in money


def test_run_and_compare_fit_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["run", "scenarios/baseline.yaml", "-n", "20"]) == 0
    _check_readable(_lines(capsys))
    assert main(["compare", "scenarios/baseline.yaml", "scenarios/hiring_freeze.yaml",
                 "-n", "20"]) == 0
    lines = _lines(capsys)
    _check_readable(lines)
    assert any("fy2027-hiring-freeze" in ln for ln in lines)  # the whole name, not cut
