"""Reading CRM exports: the sample file, both layouts, column mappings, and errors that name the
row and column (exit code 2 through the CLI, nothing written)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simengine.calibrate.core import calibrate
from simengine.calibrate.read import CalibrationError, cut, read
from simengine.cli import main

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crm_opportunities.csv"
needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason="sample CRM export not present")

HEADER = "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value"
GOOD = [
    "A1,Ann,GTX,Acme,Won,2017-01-03,2017-02-10,1000",
    "A2,Ann,GTX,Acme,Lost,2017-01-05,2017-01-20,0",
    "A3,Bob,MG,Beta,Engaging,2017-01-09,,",
    "A4,Bob,MG,Beta,Prospecting,,,",
]


def _csv(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    p = tmp_path / "crm.csv"
    p.write_text("\n".join([header, *rows]) + "\n")
    return p


def _replace(i: int, field: str, value: str) -> list[str]:
    cols = HEADER.split(",")
    rows = [r.split(",") for r in GOOD]
    rows[i][cols.index(field)] = value
    return [",".join(r) for r in rows]


# (rows, header, extra CLI args, expected message regex)
ERRORS = [
    pytest.param(GOOD, HEADER.replace("close_date", "closing"), [],
                 r"crm\.csv: expected a column with the close date .* found none among the "
                 r"columns .*closing", id="missing-column"),
    pytest.param(_replace(1, "engage_date", "2017-13-45"), HEADER, [],
                 r"crm\.csv:3 \(row 2\): column 'engage_date': expected a date \(YYYY-MM-DD\), "
                 r"found '2017-13-45'", id="bad-date"),
    pytest.param(_replace(0, "close_date", "2016-12-01"), HEADER, [],
                 r"crm\.csv:2 \(row 1\): column 'close_date': expected a date on or after "
                 r"engage_date \(2017-01-03\), found 2016-12-01", id="close-before-engage"),
    pytest.param(_replace(0, "close_value", "-50"), HEADER, [],
                 r"crm\.csv:2 \(row 1\): column 'close_value': expected a non-negative close "
                 r"value, found '-50'", id="negative-value"),
    pytest.param(_replace(0, "close_value", "lots"), HEADER, [],
                 r"crm\.csv:2 \(row 1\): column 'close_value': expected a number \(the close "
                 r"value\), found 'lots'", id="non-numeric-value"),
    pytest.param(_replace(0, "close_date", ""), HEADER, [],
                 r"crm\.csv:2 \(row 1\): column 'close_date': expected a close date for a Won "
                 r"deal, found nothing", id="won-without-close"),
    pytest.param(_replace(0, "close_value", ""), HEADER, [],
                 r"crm\.csv:2 \(row 1\): column 'close_value': expected the close value of a "
                 r"won deal, found nothing", id="won-without-value"),
    pytest.param(_replace(2, "close_date", "2017-03-01"), HEADER, [],
                 r"crm\.csv:4 \(row 3\): column 'close_date': expected no close date for an "
                 r"open deal \(status Engaging\)", id="open-with-close"),
    pytest.param(GOOD, HEADER, ["--map", "entered=created"],
                 r"mapping entered=created: expected a column of the file, found no column "
                 r"'created'", id="mapping-to-missing-column"),
    pytest.param(GOOD, HEADER, ["--as-of", "2016-01-01"],
                 r"as_of: expected a date on or after the first entry in .*crm\.csv "
                 r"\(2017-01-03\), found 2016-01-01", id="as-of-too-early"),
    pytest.param(GOOD, HEADER, ["--as-of", "someday"],
                 r"as_of: expected a date \(YYYY-MM-DD\), found 'someday'", id="as-of-not-a-date"),
    pytest.param([], HEADER, [], r"crm\.csv: expected at least one data row, found none",
                 id="no-rows"),
]


@pytest.mark.parametrize(("rows", "header", "args", "pattern"), ERRORS)
def test_malformed_csv_exits_2_naming_row_and_column(tmp_path, capsys, rows, header, args,
                                                     pattern):
    out = tmp_path / "out.yaml"
    code = main(["calibrate", str(_csv(tmp_path, rows, header)), "-o", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert any(__import__("re").search(pattern, line) for line in err.splitlines()), err
    assert not out.exists()


def test_every_bad_row_is_reported_up_to_a_limit(tmp_path):
    rows = [f"B{i},Ann,GTX,Acme,Won,2017-01-03,2016-12-{i + 1:02d},10" for i in range(14)]
    with pytest.raises(CalibrationError) as exc:
        read(_csv(tmp_path, rows))
    lines = exc.value.problems
    assert len(lines) == 11
    assert lines[0].startswith(f"{tmp_path / 'crm.csv'}:2 (row 1): column 'close_date'")
    assert lines[-1].endswith("... and 4 more problem(s) of the same kinds")


def test_missing_file_and_empty_file(tmp_path, capsys):
    assert main(["calibrate", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.yaml")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
    (tmp_path / "empty.csv").write_text("")
    assert main(["calibrate", str(tmp_path / "empty.csv"), "-o", str(tmp_path / "o.yaml")]) == 2
    assert "expected a CSV file with a header row, found an empty file" in capsys.readouterr().err


def test_dataframe_errors_name_the_row():
    df = pd.DataFrame({"id": ["a", "b"], "status": ["Won", "Lost"],
                       "created_date": ["2017-01-01", "2017-01-02"],
                       "close_date": ["2017-02-01", "2017-01-01"], "amount": [5.0, 0.0]})
    with pytest.raises(CalibrationError, match=r"<DataFrame> row 2: column 'close_date': "
                       r"expected a date on or after created_date \(2017-01-02\)"):
        read(df)


def test_other_column_names_are_recognised_or_mapped():
    df = pd.DataFrame({"Deal": ["a", "b", "c"], "Status": ["Closed Won", "closed lost", "Open"],
                       "Created": ["2017-01-01", "2017-01-02", "2017-01-05"],
                       "Closed": ["2017-02-01", "2017-01-20", None], "Amount": ["$1,200", "0",
                                                                               None]})
    h = read(df, {"id": "Deal", "entered": "Created", "closed": "Closed"})
    v = h.visits.set_index("id")
    assert list(v.outcome) == ["won", "lost", ""]
    assert v.loc["a", "value"] == 1200.0
    assert np.isnan(v.loc["b", "value"])  # a lost deal's value is not a deal value
    assert h.columns["stage"] == "Status" and h.columns["value"] == "Amount"


def test_stage_history_layout():
    df = pd.DataFrame({
        "id": ["x", "x", "x", "y", "y", "z", "z"],
        "stage": ["Qualify", "Propose", "Won", "Qualify", "Lost", "Qualify", "Propose"],
        "entered_at": ["2017-01-01", "2017-01-11", "2017-02-01", "2017-01-03", "2017-01-09",
                       "2017-01-04", "2017-01-20"],
        "amount": [None, None, 900, None, None, None, None],
    })
    h = read(df)
    assert h.layout == "stages" and h.stages == ["qualify", "propose"]
    v = h.visits.set_index(["id", "stage"])
    assert v.loc[("x", "qualify"), "outcome"] == "propose"
    assert (v.loc[("x", "qualify"), "exited"] - v.loc[("x", "qualify"), "entered"]).days == 10
    assert v.loc[("x", "propose"), "outcome"] == "won"
    assert v.loc[("x", "propose"), "value"] == 900
    assert v.loc[("y", "qualify"), "outcome"] == "lost"
    assert v.loc[("z", "propose"), "outcome"] == ""  # still open
    # as of 2017-01-15 z is still in qualify and x is in propose
    c, _ = cut(h, "2017-01-15")
    cv = c.visits.set_index(["id", "stage"])
    assert cv.loc[("z", "qualify"), "outcome"] == "" and ("z", "propose") not in cv.index
    assert cv.loc[("x", "propose"), "outcome"] == ""


def test_stage_history_exit_before_entry_is_an_error():
    df = pd.DataFrame({"id": ["x", "x"], "stage": ["Qualify", "Propose"],
                       "entered_at": ["2017-01-05", "2017-01-10"],
                       "exited_at": ["2017-01-02", None]})
    with pytest.raises(CalibrationError, match=r"row 1: column 'exited_at': expected a date on "
                       r"or after entered_at \(2017-01-05\), found 2017-01-02"):
        read(df)


def test_calibration_option_errors():
    df = pd.DataFrame({"id": ["a"], "status": ["Won"], "created_date": ["2017-01-01"],
                       "close_date": ["2017-02-01"], "amount": [5.0]})
    with pytest.raises(CalibrationError, match="horizon_days: expected a number of days"):
        calibrate(df, horizon_days=0)
    with pytest.raises(CalibrationError, match="mapping: expected keys among"):
        read(df, {"closing": "close_date"})
    with pytest.raises(CalibrationError, match="families: expected names among"):
        calibrate(df, families=("normal",))


@needs_sample
def test_sample_export_reads_as_expected():
    h = read(SAMPLE)
    assert h.rows == 8800 and h.layout == "opportunities"
    assert h.undated == 500 and h.undated_labels == {"Prospecting": 500}
    v = h.visits
    assert len(v) == 8300
    assert (v.outcome == "won").sum() == 4238 and (v.outcome == "lost").sum() == 2473
    assert (v.outcome == "").sum() == 1589
    closed = v[v.outcome != ""]
    assert (closed.exited - closed.entered).dt.days.max() == 138
    assert closed.exited.min() == pd.Timestamp("2017-03-01")


def test_stage_history_with_exit_and_outcome_columns():
    df = pd.DataFrame({"id": ["x", "x", "y", "y"],
                       "stage": ["Qualify", "Propose", "Qualify", "Propose"],
                       "entered_at": ["2017-01-01", "2017-01-10", "2017-01-02", "2017-01-05"],
                       "exited_at": [None, "2017-02-01", None, None],
                       "outcome": [None, "Won", None, None], "amount": [None, 500, None, None]})
    v = read(df).visits.set_index(["id", "stage"])
    assert v.loc[("x", "propose"), "outcome"] == "won"
    assert v.loc[("x", "propose"), "exited"] == pd.Timestamp("2017-02-01")
    assert v.loc[("x", "propose"), "value"] == 500
    assert v.loc[("y", "propose"), "outcome"] == ""
    bad = df.copy()
    bad.loc[3, "outcome"] = "Lost"
    with pytest.raises(CalibrationError, match=r"row 4: column 'exited_at': expected the date "
                       r"the deal was lost, found nothing"):
        read(bad)
    bad = df.copy()
    bad.loc[1, "outcome"] = "Maybe"
    with pytest.raises(CalibrationError, match=r"row 2: column 'outcome': expected won, lost, "
                       r"no decision or an empty cell, found 'Maybe'"):
        read(bad)
