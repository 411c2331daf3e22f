"""Forecast figures: the fan chart against the goal trajectory, and the distribution of bookings."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from simengine.analysis.summary import annual, prob_goal
from simengine.fmt import money, pct
from simengine.plot.style import BAND, GOAL, PALETTE, date_axis, money_axis, styled

_EVERY = {"week": "Weekly", "month": "Monthly", "quarter": "Quarterly"}


def _date(t, fmt: str) -> str:
    return np.datetime64(t, "D").astype(object).strftime(fmt)


def _bands(ax, x, da: xr.DataArray, color: str, label: str) -> None:
    q = da.quantile([0.05, 0.25, 0.5, 0.75, 0.95], dim="draw").values
    ax.fill_between(x, q[0], q[4], color=color, alpha=0.18, lw=0, label="P5–P95")
    ax.fill_between(x, q[1], q[3], color=color, alpha=0.35, lw=0, label="P25–P75")
    ax.plot(x, q[2], color=color, lw=2, label=label)


def fan(ds: xr.Dataset, axes=None) -> Figure:
    """Monthly and cumulative bookings with P5–P95 and P25–P75 bands and the goal trajectory.

    Parameters
    ----------
    axes
        Two Axes (monthly, cumulative) to draw on; default a new figure.
    """
    with styled():
        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
        else:
            fig = axes[0].figure
        cur = ds.attrs.get("currency", "USD")
        ok = ds.where(ds.failed == 0, drop=True) if "failed" in ds else ds
        ends = ok.period_end.values if "period_end" in ok.coords else ok.period.values
        starts = ok.period.values
        mids = starts + (ends - starts) / 2
        ax1, ax2 = axes
        _bands(ax1, mids, ok.revenue, BAND, "median")
        med = ok.revenue.median("draw").values
        full = np.flatnonzero(ends - starts >= np.median(ends - starts))  # not a part-period
        hi, lo = int(full[np.argmax(med[full])]), int(full[np.argmin(med[full])])
        per = ds.attrs.get("period", "")
        when = "%b" if per in ("month", "quarter") else "%d %b"
        ax1.set_title(f"{_EVERY.get(per, 'Period')} bookings: median {money(med[lo], cur)} "
                      f"({_date(starts[lo], when)}) to {money(med[hi], cur)} "
                      f"({_date(starts[hi], when)})")
        ax1.set_ylabel(f"bookings ({cur})")
        money_axis(ax1.yaxis, cur)
        date_axis(ax1.xaxis)
        ax1.set_ylim(bottom=0)
        ax1.legend(loc="upper left")

        cum = ok.revenue.cumsum("period")
        x = np.concatenate([[starts[0]], ends])
        zero = xr.zeros_like(cum.isel(period=0)).expand_dims(period=[starts[0]])
        cum0 = xr.concat([zero, cum.assign_coords(period=ends)], dim="period")
        _bands(ax2, x, cum0, BAND, "median")
        goal = ds.attrs.get("goal", np.nan)
        title = "Cumulative bookings"
        if np.isfinite(goal):
            share = np.concatenate([[0.0], ok.goal_share.values]) if "goal_share" in ok.coords \
                else np.linspace(0, 1, len(x))
            ax2.plot(x, goal * share, color=GOAL, lw=1.8, ls="--", label="goal trajectory")
            pg = prob_goal(ds)
            med = float(np.median(annual(ds)))
            title = (f"{pct(pg.p)} chance of reaching {money(goal, cur)}; median "
                     f"{money(med, cur)}")
        ax2.set_title(title)
        ax2.set_ylabel(f"cumulative bookings ({cur})")
        money_axis(ax2.yaxis, cur)
        date_axis(ax2.xaxis)
        ax2.set_ylim(bottom=0)
        ax2.legend(loc="upper left")
        fig.suptitle(f"{ds.attrs.get('scenario', '')} — {int(ok.sizes['draw']):,} draws",
                     x=0.01, ha="left", fontsize=10, color=PALETTE["grey"])
        fig.tight_layout()
    return fig


def goal(ds: xr.Dataset, ax=None) -> Figure:
    """Distribution of bookings over the horizon, the goal line and P(goal) in the title."""
    with styled():
        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 4.6))
        else:
            fig = ax.figure
        cur = ds.attrs.get("currency", "USD")
        x = np.asarray(annual(ds))
        g = ds.attrs.get("goal", np.nan)
        bins = np.histogram_bin_edges(x, bins=min(60, max(10, len(x) // 25)))
        if np.isfinite(g):
            below, above = x[x < g], x[x >= g]
            ax.hist(below, bins=bins, color=PALETTE["grey"], alpha=0.6, label="misses the goal")
            ax.hist(above, bins=bins, color=BAND, alpha=0.85, label="reaches the goal")
            ax.axvline(g, color=GOAL, lw=2, ls="--")
            above_median = g >= np.median(x)
            ax.annotate(f"goal {money(g, cur)}", (g, 0.82), xycoords=("data", "axes fraction"),
                        xytext=(4 if above_median else -4, 0), textcoords="offset points",
                        va="top", ha="left" if above_median else "right", color=GOAL)
            pg = prob_goal(ds)
            prec = f"± {100 * pg.se:.1f} points" if 0 < pg.p < 1 else \
                f"95 % CI {pct(pg.low)}–{pct(pg.high)}"
            ax.set_title(f"{pct(pg.p)} chance of reaching the {money(g, cur)} goal ({prec})")
        else:
            ax.hist(x, bins=bins, color=BAND, alpha=0.85)
            ax.set_title(f"Bookings over the horizon: median {money(np.median(x), cur)}")
        q5, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
        for q, lab in ((q5, "P5"), (q50, "P50"), (q95, "P95")):
            ax.axvline(q, color=PALETTE["black"], lw=0.8, alpha=0.6)
            # labels sit on the side of their line away from the goal line, so they never cross it
            left = lab == "P5" or (lab == "P50" and np.isfinite(g) and q < g)
            ax.annotate(f"{lab} {money(q, cur)}", (q, 0.97 if lab != "P50" else 0.9),
                        xycoords=("data", "axes fraction"), xytext=(-3 if left else 3, 0),
                        textcoords="offset points", fontsize=8, va="top",
                        ha="right" if left else "left")
        money_axis(ax.xaxis, cur)
        ax.set_xlabel(f"bookings over the horizon ({cur})")
        ax.set_ylabel("draws")
        if np.isfinite(g):
            ax.legend(loc="upper right", bbox_to_anchor=(1, 0.8))
        fig.tight_layout()
    return fig
