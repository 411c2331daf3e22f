"""The date order of a CRM export: read from the values that only one order explains, the same
visits whatever the order, ambiguous orders refused unless given."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from simengine.calibrate.read import CalibrationError, read

ROWS = [("A1", "Won", dt.date(2017, 1, 3), dt.date(2017, 2, 13), 1000),
        ("A2", "Lost", dt.date(2017, 1, 25), dt.date(2017, 3, 1), 0),
        ("A3", "Won", dt.date(2017, 2, 5), dt.date(2017, 4, 20), 700),
        ("A4", "Engaging", dt.date(2017, 3, 7), None, None)]


def _export(fmt: str, rows=ROWS) -> pd.DataFrame:
    def f(d):
        return d.strftime(fmt) if d else None

    return pd.DataFrame([(i, s, f(e), f(c), v) for i, s, e, c, v in rows],
                        columns=["opportunity_id", "deal_stage", "engage_date", "close_date",
                                 "close_value"])


@pytest.mark.parametrize("fmt,name", [("%m/%d/%Y", "MM/DD/YYYY"), ("%d/%m/%Y", "DD/MM/YYYY"),
                                      ("%d.%m.%Y", "DD/MM/YYYY")])
def test_every_order_reads_the_same_visits(fmt, name):
    iso = read(_export("%Y-%m-%d"))
    other = read(_export(fmt))
    assert iso.date_format == "YYYY-MM-DD" and other.date_format == name
    pd.testing.assert_frame_equal(_ns(iso.visits), _ns(other.visits))


def _ns(visits: pd.DataFrame) -> pd.DataFrame:
    """The same instants in one resolution (pandas picks s or us by how a date was parsed)."""
    return visits.astype({"entered": "datetime64[ns]", "exited": "datetime64[ns]"})


def test_an_ambiguous_order_is_refused_unless_given():
    small = [("A1", "Won", dt.date(2017, 1, 3), dt.date(2017, 2, 12), 1000),
             ("A4", "Engaging", dt.date(2017, 3, 7), None, None)]
    df = _export("%d/%m/%Y", small)
    with pytest.raises(CalibrationError, match=r"every day and month 12 or less; say which "
                       r"order with --date-format mdy \(MM/DD/YYYY\) or dmy"):
        read(df)
    h = read(df, date_format="dmy")
    assert h.visits.entered.min() == pd.Timestamp(2017, 1, 3)
    assert h.date_format == "DD/MM/YYYY"
    # the other order gives other dates: the order is what the caller said, not a guess
    assert read(df, date_format="mdy").visits.entered.min() == pd.Timestamp(2017, 3, 1)


def test_mixed_orders_are_refused():
    df = _export("%m/%d/%Y")
    df.loc[0, "engage_date"] = "25/01/2017"  # day first, next to month-first dates
    with pytest.raises(CalibrationError, match="found both MM/DD/YYYY and DD/MM/YYYY"):
        read(df)


def test_a_date_against_the_given_order_is_reported_with_its_row():
    df = _export("%d/%m/%Y")
    with pytest.raises(CalibrationError, match=r"<DataFrame> row 2: column 'engage_date': "
                       r"expected a date \(MM/DD/YYYY\), found '25/01/2017'"):
        read(df, date_format="mdy")


def test_an_unknown_date_format_is_refused():
    with pytest.raises(CalibrationError, match="date_format: expected one of iso, mdy, dmy"):
        read(_export("%Y-%m-%d"), date_format="ymd")
