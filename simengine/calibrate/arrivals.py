"""Arrivals: the daily rate of new deals, its month-to-month overdispersion and seasonality
(:func:`fit_arrivals`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class ArrivalFit:
    """Arrivals per day, their month-to-month overdispersion and seasonality.

    Monthly counts are modelled as Poisson with a gamma-distributed monthly rate (a negative
    binomial): mean ``rate * days * weight[month]``, relative variance ``phi`` of the rate.
    """

    rate: float  # arrivals per day
    rate_se: float
    phi: float  # relative variance of a month's rate around the mean (0: plain Poisson)
    months: pd.DataFrame  # month, days observed, count, expected
    weights: np.ndarray | None  # 12 month-of-year factors (mean 1), or None
    n: int
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def rel_se(self) -> float:
        return self.rate_se / self.rate if self.rate > 0 else 0.0


def fit_arrivals(entered: pd.Series, start: pd.Timestamp, end: pd.Timestamp,
                 seasonality: bool | None = None) -> ArrivalFit:
    """Arrival rate from entry dates in [start, end] (inclusive), by calendar month."""
    e = pd.to_datetime(entered)
    e = e[(e >= start) & (e <= end)]
    days = pd.date_range(start, end, freq="D")
    by_day = pd.Series(1, index=days).groupby(days.to_period("M")).sum()
    counts = e.groupby(e.dt.to_period("M")).size().reindex(by_day.index, fill_value=0)
    n = int(counts.sum())
    exposure = float(by_day.sum())
    rate = n / exposure
    full = by_day >= 20
    weights = None
    months_seen = by_day[full].index.month.value_counts()
    if seasonality is None:
        seasonality = len(months_seen) == 12 and int(months_seen.min()) >= 2
    mu = rate * by_day
    if seasonality:
        w = np.ones(12)
        for m in range(1, 13):
            sel = by_day.index.month == m
            if sel.any() and mu[sel].sum() > 0:
                w[m - 1] = counts[sel].sum() / mu[sel].sum()
        weights = w / w.mean()
        mu = mu * weights[by_day.index.month - 1]
    c, m = counts[full].to_numpy(float), mu[full].to_numpy(float)
    phi = 0.0
    if len(c) >= 3 and (m ** 2).sum() > 0:
        phi = max(0.0, float(((c - m) ** 2 - m).sum() / (m ** 2).sum()))
    M = max(int(full.sum()), 1)
    rel_var = (1.0 / max(n, 1)) + phi / M
    months = pd.DataFrame({"month": by_day.index.astype(str), "days": by_day.to_numpy(),
                           "count": counts.to_numpy(), "expected": mu.to_numpy()})
    return ArrivalFit(rate=rate, rate_se=rate * math.sqrt(rel_var), phi=phi, months=months,
                      weights=weights, n=n, start=start, end=end)
