"""Back-test: calibrate as of past dates, forecast to a later date, score against what happened.

For each cut-off the scenario is calibrated from what was known then, simulated, and each month's
bookings and won deals are compared with the export: is the actual inside the P5–P95 and
P25–P75 bands, how far is the P50, the continuous ranked probability score (CRPS, lower is
better; for a point forecast it is the absolute error) and the probability integral transform
(PIT: the share of draws below the actual; uniform when the bands are honest). The standard
benchmarks are scored on the same months from the same history (see
:mod:`simengine.calibrate.benchmarks`): the trailing mean of the last complete months
(``naive``), the seasonal naive (same month of the last quarter), the drift method and ETS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simengine.calibrate import benchmarks as B
from simengine.calibrate.core import CalibrationResult, calibrate
from simengine.calibrate.read import CalibrationError, History, read

VARIABLES = {"revenue": "bookings", "won": "won deals"}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def crps_sample(samples: np.ndarray, y: float) -> float:
    """CRPS of the empirical distribution of ``samples`` at the outcome ``y``.

    CRPS = E|X - y| - E|X - X'| / 2 (Gneiting & Raftery 2007, eq. 21), with the pair term from
    the sorted sample: E|X - X'| = 2 / m^2 * sum_i (2 i - m - 1) x_(i).
    """
    x = np.sort(np.asarray(samples, float))
    x = x[np.isfinite(x)]
    m = len(x)
    if m == 0:
        return float("nan")
    i = np.arange(1, m + 1)
    pair = 2.0 / (m * m) * float(np.sum((2 * i - m - 1) * x))
    return float(np.mean(np.abs(x - y)) - 0.5 * pair)


def actuals(h: History, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Monthly bookings and won deals recorded in the export, for months from ``start`` to
    ``end`` (inclusive; partial months keep their own days)."""
    v = h.visits
    won = v[v.outcome == "won"]
    rows = []
    for m in pd.period_range(start, end, freq="M"):
        a = max(m.start_time.normalize(), start)
        b = min(m.end_time.normalize(), end)
        sel = won[(won.exited >= a) & (won.exited <= b)]
        rows.append({"period": a, "period_end": b + pd.Timedelta(days=1),
                     "days": (b - a).days + 1, "revenue": float(sel.value.sum()),
                     "won": float(len(sel))})
    return pd.DataFrame(rows)


def known_months(h: History, as_of: pd.Timestamp, observed_from: pd.Timestamp) -> pd.DataFrame:
    """Complete calendar months known at ``as_of`` (from the month the export covers fully),
    with bookings and won deals per day."""
    last_full = (as_of + pd.Timedelta(days=1)).to_period("M") - 1
    first = observed_from.to_period("M")
    if observed_from > first.start_time.normalize():
        first += 1
    if last_full < first:
        return pd.DataFrame(columns=["period", "days", *VARIABLES])
    got = actuals(h, first.start_time.normalize(), last_full.end_time.normalize())
    for k in VARIABLES:
        got[k] = got[k] / got.days
    return got


def naive(h: History, as_of: pd.Timestamp, months: int, observed_from: pd.Timestamp
          ) -> dict[str, float]:
    """Per-day average of the last ``months`` complete calendar months known at ``as_of``."""
    last_full = (as_of + pd.Timedelta(days=1)).to_period("M") - 1
    span = pd.period_range(last_full - months + 1, last_full, freq="M")
    span = [p for p in span if p.start_time >= observed_from.to_period("M").start_time]
    if not span:
        raise CalibrationError(f"naive baseline: expected at least one complete month between "
                               f"{observed_from.date()} and {as_of.date()}, found none")
    a, b = span[0].start_time.normalize(), span[-1].end_time.normalize()
    got = actuals(h, a, b)
    days = float(got.days.sum())
    return {k: float(got[k].sum()) / days for k in VARIABLES}


@dataclass
class BacktestResult:
    """Forecast against actual, per cut-off, month and variable.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (as_of, variable, period): ``actual``, ``p5`` .. ``p95``, ``naive``,
        ``in90``, ``in50``, ``crps``, ``crps_naive``, then ``pit`` and each benchmark's point
        forecast and CRPS (``snaive``, ``drift``, ``ets``; ``crps_snaive`` ...; NaN where the
        history was too short for it).
    summary : pandas.DataFrame
        One row per (as_of, variable) and an ``all`` row per variable: coverage of both bands,
        mean absolute P50 error (and in percent of the actual), mean CRPS of the simulation and
        of the naive forecast, and the skill 1 - CRPS / CRPS_naive.
    history : pandas.DataFrame
        Monthly actuals of the whole export (for context in plots).
    calibrations : list of CalibrationResult
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    history: pd.DataFrame
    calibrations: list[CalibrationResult] = field(default_factory=list)
    draws: int = 0
    seed: int = 0
    naive_months: int = 3
    until: dt.date | None = None

    def coverage(self) -> dict[str, tuple[int, int]]:
        """(hits, months) for each band, over every cut-off and both variables."""
        t = self.table
        return {"P5-P95": (int(t.in90.sum()), len(t)), "P25-P75": (int(t.in50.sum()), len(t))}

    def benchmark_crps(self) -> pd.DataFrame:
        """Mean CRPS of the engine and of each benchmark per variable, over the months every
        method forecast (a method with a missing month is left out: NaN)."""
        rows = []
        for var, g in self.table.groupby("variable", sort=False):
            row = {"variable": var, "engine": g.crps.mean()}
            for k in BENCHMARKS:
                col = g[f"crps_{k}"]
                row[k] = float(col.mean()) if col.notna().all() else np.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def coverage_line(self) -> str:
        c = self.coverage()
        parts = [f"{name} {hit}/{n} ({hit / n:.0%}, nominal {nom})"
                 for (name, (hit, n)), nom in zip(c.items(), ("90%", "50%"), strict=True)]
        return "coverage  " + "   ".join(parts)


def backtest(data: str | Path | pd.DataFrame | History, as_of: Sequence, until, *,
             draws: int = 500, seed: int = 0, naive_months: int = 3,
             mapping: Mapping[str, str] | None = None, layout: str = "auto",
             segment_by: str | None = None, date_format: str | None = None,
             **calibrate_kw) -> BacktestResult:
    """Calibrate at each cut-off, forecast to ``until`` and score against the export.

    Parameters
    ----------
    data
        The CRM export (path, DataFrame or :class:`History`).
    as_of
        One or more cut-off dates.
    until
        Last day forecast and scored (inclusive).
    draws, seed
        Simulation size and seed (the same seed for every cut-off).
    naive_months
        Complete months averaged by the naive baseline.
    calibrate_kw
        Passed on to :func:`simengine.calibrate` (``split``, ``calendar``, ...).

    Returns
    -------
    BacktestResult

    Raises
    ------
    CalibrationError
        A cut-off is not before ``until``, or the export cannot be calibrated at it.
    """
    from simengine.api import simulate

    h = data if isinstance(data, History) else read(data, mapping, layout=layout,
                                                    segment_by=segment_by,
                                                    date_format=date_format)
    try:
        end = pd.Timestamp(until).normalize()
    except (ValueError, TypeError):
        raise CalibrationError(f"--until: expected a date (YYYY-MM-DD), found {until!r}") from None
    cuts = []
    for a in ([as_of] if isinstance(as_of, (str, dt.date, pd.Timestamp)) else list(as_of)):
        try:
            cuts.append(pd.Timestamp(a).normalize())
        except (ValueError, TypeError):
            raise CalibrationError(f"--as-of: expected a date (YYYY-MM-DD), found {a!r}") \
                from None
    if not cuts:
        raise CalibrationError("--as-of: expected at least one cut-off date, found none")
    if naive_months < 1:
        raise CalibrationError(f"naive_months: expected at least 1, found {naive_months}")
    for t in cuts:
        if t >= end:
            raise CalibrationError(f"--as-of {t.date()}: expected a date before --until "
                                   f"({end.date()}), found one on or after it")
    if end > h.last_date:
        raise CalibrationError(f"--until {end.date()}: expected a date on or before the end of "
                               f"the export ({h.last_date.date()}), found a later one")
    rows, cals = [], []
    for t in sorted(cuts):
        days = (end - t).days
        res = calibrate(h, as_of=t, horizon_days=days, **calibrate_kw)
        cals.append(res)
        ds = simulate(res.scenario, draws=draws, seed=seed, progress=False)
        ok = ds.failed.values == 0
        act = actuals(h, t + pd.Timedelta(days=1), end)
        base = naive(h, t, naive_months, res.fitted.observed_from)
        if len(act) != ds.sizes["period"]:
            raise RuntimeError("periods of the forecast and the actuals differ")
        known = known_months(h, t, res.fitted.observed_from)
        last_full = (t + pd.Timedelta(days=1)).to_period("M") - 1
        for var in VARIABLES:
            sims = ds[var].values[ok]
            rates = known[var].to_numpy(float)
            ets_fc = B.ets(rates, len(act) + 1)
            for p, r in act.iterrows():
                x = sims[:, p]
                q = np.quantile(x, QUANTILES)
                y = float(r[var])
                nv = base[var] * r.days
                hh = B.month_index(r.period, last_full)
                bench = {"snaive": B.seasonal_naive(rates, hh), "drift": B.drift(rates, hh),
                         "ets": ets_fc[hh - 1] if ets_fc is not None else B.Forecast(None)}
                rows.append({
                    "as_of": t.date(), "variable": var, "period": r.period.date(),
                    "days": int(r.days), "actual": y,
                    **{f"p{int(round(qq * 100))}": float(v) for qq, v in zip(QUANTILES, q,
                                                                               strict=True)},
                    "mean": float(x.mean()), "naive": nv,
                    "in90": bool(q[0] <= y <= q[4]), "in50": bool(q[1] <= y <= q[3]),
                    "crps": crps_sample(x, y), "crps_naive": abs(nv - y),
                    "pit": float((np.sum(x < y) + 0.5 * np.sum(x == y)) / len(x)),
                    **{k: (fc.point * r.days if fc.point is not None else np.nan)
                       for k, fc in bench.items()},
                    **{f"crps_{k}": _scaled(fc, r.days).crps(y) for k, fc in bench.items()},
                })
    table = pd.DataFrame(rows)
    first = min(c.fitted.observed_from for c in cals)
    history = actuals(h, first, end)
    return BacktestResult(table=table, summary=summarize(table), history=history,
                          calibrations=cals, draws=draws, seed=seed, naive_months=naive_months,
                          until=end.date())


def _scaled(fc: B.Forecast, days: int) -> B.Forecast:
    """A per-day forecast as a forecast of ``days`` days."""
    if fc.point is None:
        return fc
    return B.Forecast(fc.point * days, log_sd=fc.log_sd,
                      sd=fc.sd * days if fc.sd is not None else None)


BENCHMARKS = {"naive": "trailing mean", "snaive": "seasonal naive", "drift": "drift",
              "ets": "ETS"}


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    def one(g: pd.DataFrame) -> dict:
        err = (g.p50 - g.actual).abs()
        out = {"months": len(g), "cover90": g.in90.mean(), "cover50": g.in50.mean(),
               "p50_abs_error": err.mean(),
               "p50_pct_error": float((err / g.actual.where(g.actual > 0)).mean()),
               "naive_abs_error": (g.naive - g.actual).abs().mean(),
               "crps": g.crps.mean(), "crps_naive": g.crps_naive.mean(),
               "skill": 1 - g.crps.mean() / g.crps_naive.mean()
               if g.crps_naive.mean() > 0 else np.nan}
        for k in ("snaive", "drift", "ets"):
            col = g.get(f"crps_{k}")
            # a benchmark is compared only when it forecast every month of the group
            out[f"crps_{k}"] = float(col.mean()) if col is not None and col.notna().all() \
                else np.nan
        out["skill_snaive"] = (1 - out["crps"] / out["crps_snaive"]
                               if out["crps_snaive"] and np.isfinite(out["crps_snaive"])
                               else np.nan)
        return out

    rows = []
    for (a, var), g in table.groupby(["as_of", "variable"], sort=False):
        rows.append({"as_of": str(a), "variable": var, **one(g)})
    for var, g in table.groupby("variable", sort=False):
        rows.append({"as_of": "all", "variable": var, **one(g)})
    return pd.DataFrame(rows)
