"""The back-test figure: forecasts made at past cut-offs against what happened."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from simengine.plot.style import CYCLE, PALETTE, count_axis, date_axis, money, money_axis, styled

LABELS = {"revenue": "bookings", "won": "won deals"}


def _mid(start, days) -> np.ndarray:
    start = pd.to_datetime(pd.Series(start)).to_numpy()
    return start + (np.asarray(days, float) * 86400e9 / 2).astype("timedelta64[ns]")


def backtest(res, axes=None) -> Figure:
    """Monthly bookings and won deals: actuals, the P5–P95 / P25–P75 bands and P50 of each
    cut-off's forecast, and the naive trailing-average forecast; below, the PIT histogram and
    the reliability of the central bands (is each band's coverage its nominal rate?).

    Parameters
    ----------
    res
        A :class:`simengine.calibrate.BacktestResult`.
    axes
        Two Axes (bookings, won deals) to draw on, without the calibration panels; default a
        new figure with all four.
    """
    with styled():
        if axes is None:
            fig = plt.figure(figsize=(11, 10.5))
            grid = fig.add_gridspec(3, 2, height_ratios=(1, 1, 0.85))
            axes = [fig.add_subplot(grid[0, :])]
            axes.append(fig.add_subplot(grid[1, :], sharex=axes[0]))
            _calibration(res, fig.add_subplot(grid[2, 0]), fig.add_subplot(grid[2, 1]))
        else:
            fig = axes[0].figure
        t = res.table
        hist = res.history
        cuts = sorted(t.as_of.unique())
        colors = {a: CYCLE[(i + 1) % len(CYCLE)] for i, a in enumerate(cuts)}
        for ax, var in zip(axes, ("revenue", "won"), strict=True):
            x_hist = _mid(hist.period, hist.days)
            ax.plot(x_hist, hist[var], color=PALETTE["black"], lw=1.4, marker="o", ms=4,
                    zorder=5, label="actual")
            for a in cuts:
                g = t[(t.as_of == a) & (t.variable == var)].sort_values("period")
                x = _mid(g.period, g.days)
                c = colors[a]
                ax.fill_between(x, g.p5, g.p95, color=c, alpha=0.15, lw=0)
                ax.fill_between(x, g.p25, g.p75, color=c, alpha=0.32, lw=0)
                ax.plot(x, g.p50, color=c, lw=2)
                ax.plot(x, g.naive, color=c, lw=1.2, ls="--")
                miss = ~g.in90.to_numpy()
                ax.scatter(x[miss], g.actual.to_numpy()[miss], s=70 + 55 * cuts.index(a),
                           facecolors="none", edgecolors=c, lw=1.5, zorder=6)
                ax.axvline(pd.Timestamp(a) + pd.Timedelta(days=1), color=c, lw=0.9, ls=":")
            s = res.summary[(res.summary.as_of == "all") & (res.summary.variable == var)].iloc[0]
            crps = (money(s.crps), money(s.crps_naive)) if var == "revenue" else \
                (f"{s.crps:,.0f}", f"{s.crps_naive:,.0f}")
            ax.set_title(f"Monthly {LABELS[var]}: {s.cover90:.0%} of months inside P5–P95, "
                         f"{s.cover50:.0%} inside P25–P75; CRPS {crps[0]} vs naive {crps[1]}",
                         fontsize=11)
            if var == "revenue":
                money_axis(ax.yaxis)
                ax.set_ylabel("bookings (USD)")
            else:
                count_axis(ax.yaxis)
                ax.set_ylabel("won deals")
            ax.set_ylim(bottom=0)
            date_axis(ax.xaxis)
        handles = [Line2D([], [], color=PALETTE["black"], marker="o", ms=4, label="actual"),
                   Line2D([], [], marker="o", ls="", ms=9, markerfacecolor="none",
                          markeredgecolor=PALETTE["grey"],
                          label="outside P5–P95 (ring in the colour of the cut-off)")]
        for a in cuts:
            c = colors[a]
            handles += [Patch(color=c, alpha=0.4, label=f"forecast from {a}: P5–P95, P25–P75"),
                        Line2D([], [], color=c, lw=2, label="   P50"),
                        Line2D([], [], color=c, lw=1.2, ls="--", label="   naive (trailing "
                               f"{res.naive_months}-month average)")]
        axes[0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.suptitle(f"Back-test: calibrated at each cut-off (dotted line), {res.draws:,} draws",
                     x=0.01, ha="left", fontsize=10, color=PALETTE["grey"])
        fig.tight_layout()
    return fig


def _calibration(res, ax_pit, ax_rel) -> None:
    """PIT histogram and reliability of central bands, both variables pooled."""
    t = res.table
    pit = t.pit.to_numpy(float)
    n = len(pit)
    bins = np.linspace(0, 1, 11)
    ax_pit.hist(pit, bins=bins, color=CYCLE[1], alpha=0.75, edgecolor="white")
    ax_pit.axhline(n / 10, color=PALETTE["black"], lw=1, ls="--", label="honest (uniform)")
    ax_pit.set_xlabel("PIT: share of draws below the actual")
    ax_pit.set_ylabel("months")
    ax_pit.set_title(f"PIT histogram, {n} months", fontsize=11)
    ax_pit.legend(loc="upper center", frameon=False)
    levels = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    observed = np.array([np.mean(np.abs(pit - 0.5) <= lv / 2) for lv in levels])
    se = np.sqrt(levels * (1 - levels) / max(n, 1))
    ax_rel.fill_between(levels, levels - 2 * se, levels + 2 * se, color=PALETTE["grey"],
                        alpha=0.2, lw=0, label="±2 s.e. of an honest band")
    ax_rel.plot([0, 1], [0, 1], color=PALETTE["black"], lw=1, ls="--")
    ax_rel.plot(levels, observed, color=CYCLE[2], marker="o", lw=2, label="engine")
    ax_rel.set_xlim(0, 1)
    ax_rel.set_ylim(0, 1)
    ax_rel.set_xlabel("nominal coverage of the central band")
    ax_rel.set_ylabel("months inside")
    ax_rel.set_title("Reliability of the central bands", fontsize=11)
    ax_rel.legend(loc="upper left", frameon=False)
