"""The daily time grid of a horizon: reporting periods, calendars and campaign schedules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from simengine.scenario.model import Calendar, Horizon, Schedule


@dataclass(frozen=True)
class Grid:
    """Days 0..D-1 of the horizon and the periods they fall in.

    Attributes
    ----------
    days : int
        Length of the horizon, D.
    dates : ndarray of datetime64[D], shape (D,)
        Calendar date of each day.
    day_period : ndarray of int64, shape (D,)
        Period of each day.
    period_start : ndarray of datetime64[D], shape (P,)
        First day of each period (the ``period`` coordinate).
    period_end_day : ndarray of int64, shape (P,)
        Day index at which each period ends (exclusive), the last one is D.
    first_end_after : ndarray of int64, shape (D + 1,)
        For day d, the first period whose end is after d: where a prospect present from a time
        in [d, d + 1) is first counted in an end-of-period snapshot.
    """

    start: dt.date
    days: int
    dates: np.ndarray
    day_period: np.ndarray
    period_start: np.ndarray
    period_end_day: np.ndarray
    first_end_after: np.ndarray

    @property
    def periods(self) -> int:
        return len(self.period_start)

    def day_of(self, date: dt.date) -> int:
        return (date - self.start).days


def build_grid(h: Horizon) -> Grid:
    start = np.datetime64(h.start, "D")
    dates = start + np.arange(h.days)
    months = dates.astype("datetime64[M]")
    if h.period == "week":
        key = np.arange(h.days) // 7
    elif h.period == "month":
        key = months.astype(np.int64)
    else:  # fiscal quarters: months counted from the fiscal year's first month
        key = (months.astype(np.int64) - fiscal_offset(h)) // 3
    change = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [h.days]])
    day_period = np.repeat(np.arange(len(starts)), np.diff(np.concatenate([starts, [h.days]])))
    first_end_after = np.searchsorted(ends, np.arange(h.days + 1), side="right")
    return Grid(
        start=h.start, days=h.days, dates=dates,
        day_period=day_period.astype(np.int64),
        period_start=dates[starts],
        period_end_day=ends.astype(np.int64),
        first_end_after=first_end_after.astype(np.int64),
    )


def fiscal_offset(h: Horizon) -> int:
    """Months from January to the first month of the fiscal year (0 for a calendar year)."""
    return (h.fiscal_year_start or 1) - 1


def calendar_speed(cal: Calendar | None, grid: Grid, fiscal: int = 0) -> np.ndarray:
    """Clock speed of a stage on each day (product of the calendar factors, each of mean 1).

    ``fiscal``: months from January to the fiscal year's start; ``month_of_quarter`` counts
    months of the fiscal quarter, ``month`` stays calendar months (January first).
    """
    speed = np.ones(grid.days)
    if cal is None:
        return speed
    month = grid.dates.astype("datetime64[M]").astype(np.int64) % 12  # 0 = January
    if cal.month_of_quarter is not None:
        f = np.asarray(cal.month_of_quarter) / np.mean(cal.month_of_quarter)
        speed *= f[(month - fiscal) % 3]
    if cal.month is not None:
        f = np.asarray(cal.month) / np.mean(cal.month)
        speed *= f[month]
    if cal.weekday is not None:
        f = np.asarray(cal.weekday) / np.mean(cal.weekday)
        weekday = (grid.dates.astype(np.int64) - 4) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        speed *= f[weekday]
    return speed


def schedule_shape(sch: Schedule, grid: Grid) -> np.ndarray:
    """Share of a campaign's volume that arrives on each day of the horizon.

    The base shape (uniform, or relative daily intensity by calendar month) spreads
    ``1 - sum(spike shares)`` over [start, end]; each spike spreads its share evenly over its
    days. Days outside the horizon keep their share, so the result sums to the part of the
    volume that falls inside the horizon.
    """
    shape = np.zeros(grid.days)
    spike_total = sum(s.share for s in sch.spikes)
    if sch.start is not None:
        span = np.datetime64(sch.start, "D") + np.arange((sch.end - sch.start).days + 1)
        if sch.shape == "monthly":
            w = np.asarray(sch.weights, dtype=float)[span.astype("datetime64[M]")
                                                     .astype(np.int64) % 12]
        else:
            w = np.ones(len(span))
        if w.sum() > 0:
            w = w / w.sum() * (1.0 - spike_total)
        _add(shape, grid, grid.day_of(sch.start), w)
    for s in sch.spikes:
        _add(shape, grid, grid.day_of(s.date), np.full(s.days, s.share / s.days))
    return shape


def _add(shape: np.ndarray, grid: Grid, first_day: int, w: np.ndarray) -> None:
    lo, hi = max(first_day, 0), min(first_day + len(w), grid.days)
    if hi > lo:
        shape[lo:hi] += w[lo - first_day:hi - first_day]
