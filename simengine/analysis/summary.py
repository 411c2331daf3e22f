"""Summaries of a result: quantile bands, P(goal) with its Monte Carlo error, key figures."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from simengine.errors import SimEngineError
from simengine.stats import GoalProbability, goal_probability

QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)


def annual(ds: xr.Dataset, var: str = "revenue") -> xr.DataArray:
    """Total over the horizon per draw (failed draws dropped)."""
    total = ds[var].sum("period", skipna=False)
    return total.where(ds["failed"] == 0, drop=True) if "failed" in ds else total


def prob_goal(ds: xr.Dataset, target: float | None = None) -> GoalProbability:
    """P(bookings over the horizon >= target) with its Monte Carlo standard error.

    Parameters
    ----------
    target
        Target bookings; default the scenario's ``goal.revenue``.
    """
    target = ds.attrs.get("goal") if target is None else target
    if target is None or not np.isfinite(target):
        raise SimEngineError("goal: expected goal.revenue in the scenario (or a target "
                             "argument), found none")
    x = np.asarray(annual(ds))
    if len(x) == 0:
        raise SimEngineError("prob_goal: expected at least one successful draw, found none")
    return goal_probability(x, target)


@dataclass(frozen=True)
class Summary:
    """What ``simengine run`` prints: bookings quantiles, P(goal), won deals, cycle time."""

    scenario: str
    draws: int
    currency: str
    bookings: pd.Series  # quantiles, mean, se
    won: pd.Series
    cycle_time: pd.Series
    goal: GoalProbability | None
    monthly: xr.Dataset  # quantile bands of revenue per period and cumulative
    kpis: pd.DataFrame

    def table(self) -> pd.DataFrame:
        """One row per figure, one column per statistic."""
        return self.kpis


def summarize(ds: xr.Dataset, quantiles: tuple[float, ...] = QUANTILES) -> Summary:
    """Quantile bands, P(goal) and key figures of a result.

    Returns
    -------
    Summary
        ``.bookings`` / ``.won`` / ``.cycle_time``: quantiles over draws with the mean and its
        standard error; ``.goal``: :class:`GoalProbability` (None without a goal);
        ``.monthly``: per-period and cumulative revenue bands; ``.kpis``: a table of all of it.
    """
    ok = ds["failed"] == 0 if "failed" in ds else xr.ones_like(ds.draw, dtype=bool)
    good = ds.where(ok, drop=True) if not bool(ok.all()) else ds
    n = int(good.sizes["draw"])
    if n == 0:
        raise SimEngineError("summarize: expected at least one successful draw, found none")

    def describe(x: np.ndarray) -> pd.Series:
        x = np.asarray(x, dtype=float)
        x = x[np.isfinite(x)]
        s = {f"P{round(q * 100)}": float(np.quantile(x, q)) if len(x) else np.nan
             for q in quantiles}
        s["mean"] = float(x.mean()) if len(x) else np.nan
        s["se"] = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else np.nan
        return pd.Series(s)

    bookings = describe(good.revenue.sum("period"))
    won = describe(good.won.sum("period"))
    cycle = describe(good.cycle_time)
    goal = None
    if np.isfinite(ds.attrs.get("goal", np.nan)):
        goal = prob_goal(ds)
    q = xr.DataArray(list(quantiles), dims="quantile")
    monthly = xr.Dataset({
        "revenue": good.revenue.quantile(q, dim="draw"),
        "cumulative": good.revenue.cumsum("period").quantile(q, dim="draw"),
        "revenue_mean": good.revenue.mean("draw"),
    })
    rows = {"bookings": bookings, "won deals": won, "cycle time (days)": cycle}
    spend = describe(good.campaign_cost.sum("campaign"))
    rows["campaign spend"] = spend
    pipe_end = describe(good.pipeline_value.isel(period=-1))
    rows["pipeline value at end"] = pipe_end
    # each figure's units, as the result's variables declare them
    units = {"bookings": ds.revenue, "won deals": ds.won, "cycle time (days)": ds.cycle_time,
             "pipeline value at end": ds.pipeline_value, "campaign spend": ds.campaign_cost}
    if "pool" in good.dims:
        for pool in good.pool.values:
            busy = (good.utilization.sel(pool=pool) * good.capacity.sel(pool=pool)).sum("period")
            util = busy / good.capacity.sel(pool=pool).sum("period")
            rows[f"{pool} utilisation"] = describe(util)
            rows[f"{pool} queue wait (days)"] = describe(good.queue_wait.sel(pool=pool))
            rows[f"{pool} gone cold"] = describe(good.abandoned.sel(pool=pool).sum("period"))
            rows[f"{pool} cost"] = describe(good.pool_cost.sel(pool=pool))
            units.update({f"{pool} utilisation": ds.utilization,
                          f"{pool} queue wait (days)": ds.queue_wait,
                          f"{pool} gone cold": ds.abandoned, f"{pool} cost": ds.pool_cost})
    direct, all_in = campaign_return(good)
    if direct is not None:
        rows["campaign return (per 1 spent)"] = describe(direct)
    if all_in is not None:
        rows["campaign return all-in (with reps)"] = describe(all_in)
    kpis = pd.DataFrame(rows).T
    cur = ds.attrs.get("currency", "")
    kpis["unit"] = [units[k].attrs.get("units", "") if k in units else f"{cur} per {cur}"
                    for k in kpis.index]  # the campaign returns: bookings per unit spent
    return Summary(ds.attrs.get("scenario", ""), n, ds.attrs.get("currency", ""), bookings, won,
                   cycle, goal, monthly, kpis)


def campaign_return(ds: xr.Dataset) -> tuple[xr.DataArray | None, xr.DataArray | None]:
    """Per draw: bookings sourced by the campaigns per unit of campaign spend, and the same per
    unit of campaign spend plus the reps' cost (``None`` without spend, or without pools).

    The pipeline open at the start is not a campaign: its bookings are left out of both.
    """
    if "campaign_cost" not in ds or "revenue_by_campaign" not in ds:
        return None, None
    paid = [c for c in ds.campaign.values if str(c) != "initial_pipeline"]
    sourced = ds.revenue_by_campaign.sel(campaign=paid).sum("campaign")
    spend = ds.campaign_cost.sel(campaign=paid).sum("campaign")
    if not bool((spend > 0).any()):
        return None, None
    direct = sourced / spend.where(spend > 0)
    if "pool_cost" not in ds:
        return direct, None
    total = spend + ds.pool_cost.sum("pool")
    return direct, sourced / total.where(total > 0)


def pipeline_coverage(ds: xr.Dataset, goal: float | None = None) -> xr.DataArray:
    """Per draw and period end: open pipeline value / what is left of the goal (infinite once
    the goal is booked). The figure a sales leader reads at each checkpoint: 3x means three
    dollars of open deals for each dollar still to book."""
    goal = ds.attrs.get("goal") if goal is None else goal
    left = goal - ds.revenue.cumsum("period")
    with np.errstate(divide="ignore", invalid="ignore"):
        return (ds.pipeline_value / left.where(left > 0)).fillna(np.inf)
