"""The standard forecasting benchmarks a back-test scores the engine against.

Each works on the monthly series known at the cut-off (complete months from the start of the
export), as rates per day so that a partial month is scaled by its days:

- trailing mean: the average of the last few complete months (the back-test's ``naive``);
- seasonal naive: the same month of the last quarter (season of 3 months, the quarter cycle of
  B2B closes), with a lognormal band from its own past errors, widening by season;
- drift: the last month plus the average monthly change so far (Hyndman & Athanasopoulos,
  *Forecasting: Principles and Practice*, 5.2);
- ETS: exponential smoothing state-space models (statsmodels' ``ETSModel``: additive errors,
  no trend or a damped additive trend, chosen by AIC) with their Gaussian prediction band, when
  there are at least ``ETS_MIN_MONTHS`` complete months.

A forecast is a point (CRPS = absolute error) or a distribution given by its quantile
function (CRPS from quantiles) or a normal (closed-form CRPS).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

SEASON = 3
ETS_MIN_MONTHS = 8
_Q = (np.arange(1000) + 0.5) / 1000  # quantile levels for the CRPS of a parametric band


@dataclass
class Forecast:
    """A benchmark's forecast of one month: a point, and optionally a band (log-normal or
    normal); ``None`` fields mean "not available" (too little history)."""

    point: float | None
    log_sd: float | None = None  # lognormal band around the point (its median)
    sd: float | None = None  # normal band around the point (its mean)

    def crps(self, y: float) -> float:
        if self.point is None or not math.isfinite(self.point):
            return float("nan")
        if self.sd is not None and self.sd > 0:
            z = (y - self.point) / self.sd
            return float(self.sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z)
                                    - 1 / math.sqrt(math.pi)))
        if self.log_sd is not None and self.log_sd > 0 and self.point > 0:
            x = self.point * np.exp(self.log_sd * stats.norm.ppf(_Q))
            return crps_quantiles(x, y)
        return abs(self.point - y)


def crps_quantiles(x: np.ndarray, y: float) -> float:
    """CRPS of a distribution given by equally spaced quantiles ``x`` (sorted sample form,
    Gneiting & Raftery 2007, eq. 21)."""
    x = np.sort(np.asarray(x, float))
    m = len(x)
    i = np.arange(1, m + 1)
    pair = 2.0 / (m * m) * float(np.sum((2 * i - m - 1) * x))
    return float(np.mean(np.abs(x - y)) - 0.5 * pair)


def seasonal_naive(rates: np.ndarray, h: int, season: int = SEASON) -> Forecast:
    """The same month of the last season, ``h`` months ahead (1 = the next month)."""
    n = len(rates)
    if n < season:
        return Forecast(None)
    k = math.ceil(h / season)
    point = float(rates[n - season * k + (h - 1)])
    past = rates[season:] / np.maximum(rates[:-season], 1e-12)
    errs = np.log(past[(past > 0) & np.isfinite(past)])
    log_sd = math.sqrt(float(np.mean(errs ** 2)) * k) if len(errs) >= 2 else None
    return Forecast(point, log_sd=log_sd)


def drift(rates: np.ndarray, h: int) -> Forecast:
    n = len(rates)
    if n < 2:
        return Forecast(None)
    return Forecast(float(max(rates[-1] + h * (rates[-1] - rates[0]) / (n - 1), 0.0)))


def ets(rates: np.ndarray, horizon: int) -> list[Forecast] | None:
    """ETS forecasts of the next ``horizon`` months, or None with too few months."""
    if len(rates) < ETS_MIN_MONTHS:
        return None
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    best = None
    for trend in (None, "add"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on short series
            try:
                # a Series: statsmodels' prediction summary needs an index
                res = ETSModel(pd.Series(np.asarray(rates, float)), error="add", trend=trend,
                               damped_trend=trend is not None).fit(disp=False)
            except (ValueError, np.linalg.LinAlgError):
                continue
        if best is None or res.aic < best.aic:
            best = res
    if best is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = best.get_prediction(start=len(rates), end=len(rates) + horizon - 1)
        frame = pred.summary_frame(alpha=0.1)
    mean = frame["mean"].to_numpy(float)
    sd = (frame["pi_upper"].to_numpy(float) - mean) / stats.norm.ppf(0.95)
    return [Forecast(float(m), sd=float(s)) for m, s in zip(mean, sd, strict=True)]


def month_index(period: pd.Timestamp, last_full: pd.Period) -> int:
    """Months from the last complete month to ``period`` (1 = the next month)."""
    return (pd.Timestamp(period).to_period("M") - last_full).n
