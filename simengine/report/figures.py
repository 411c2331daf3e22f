"""Figures for the report: embedding as SVG data URIs, and the capacity and comparison figures.

The capacity and comparison figures draw variables that only some results carry (a ``pool`` or a
``scenario`` dimension). They follow the style of :mod:`simengine.plot` (take optional Axes,
return the Figure) and can move there when those features own their figures.
"""

from __future__ import annotations

import base64
import io

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from simengine.analysis.summary import annual
from simengine.plot.style import (BAND, CYCLE, GOAL, PALETTE, date_axis, money, money_axis,
                                  period_mid, styled)
from simengine.report.words import days, pct


def svg_uri(fig: Figure) -> str:
    """The figure as a ``data:image/svg+xml;base64`` URI (no date, stable ids), then closed.

    An ``<img>`` of a data URI keeps each figure's SVG ids to itself and needs no network.
    """
    buf = io.BytesIO()
    with mpl.rc_context({"svg.hashsalt": "simengine", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _ok(ds: xr.Dataset) -> xr.Dataset:
    return ds.where(ds.failed == 0, drop=True) if "failed" in ds else ds


def _intervals(ax, y, q: np.ndarray, color: str, label: bool = True) -> None:
    """Median dot with P25–P75 and P5–P95 bars; ``q`` has rows P5, P25, P50, P75, P95."""
    ax.hlines(y, q[0], q[4], color=color, lw=2, alpha=0.35, label="P5–P95" if label else None)
    ax.hlines(y, q[1], q[3], color=color, lw=6, alpha=0.65, label="P25–P75" if label else None)
    ax.plot(q[2], y, "o", color=color, ms=7, mec="white", mew=1.2,
            label="median" if label else None)


Q5 = [0.05, 0.25, 0.5, 0.75, 0.95]


def capacity(ds: xr.Dataset, axes=None) -> Figure:
    """Utilisation of each pool per period (median, P5–P95) and the days prospects wait for it.

    Parameters
    ----------
    ds
        A result with a ``pool`` dimension and ``utilization`` (draw, period, pool); the right
        panel needs ``queue_wait`` (draw, pool) and is left out without it.
    axes
        One or two Axes to draw on; default a new figure.
    """
    with styled():
        ok = _ok(ds)
        pools = [str(p) for p in ok.pool.values]
        has_wait = "queue_wait" in ok
        if axes is None:
            if has_wait:
                fig, axes = plt.subplots(1, 2, figsize=(12, 4.2),
                                         gridspec_kw={"width_ratios": [1.8, 1]})
            else:
                fig, ax = plt.subplots(figsize=(8, 4.2))
                axes = [ax]
        else:
            axes = list(np.ravel(axes))
            fig = axes[0].figure
        ax = axes[0]
        x = period_mid(ok)
        util = ok.utilization
        mean_util = util.mean("period").median("draw")
        for k, p in enumerate(pools):
            q = util.sel(pool=p).quantile([0.05, 0.5, 0.95], dim="draw").values
            c = CYCLE[k % len(CYCLE)]
            ax.fill_between(x, q[0], q[2], color=c, alpha=0.18, lw=0)
            ax.plot(x, q[1], color=c, lw=2, label=p)
        ax.axhline(1.0, color=GOAL, lw=1.2, ls="--")
        ax.annotate("full", (1, 1.0), xycoords=("axes fraction", "data"), xytext=(-2, 3),
                    textcoords="offset points", ha="right", color=GOAL, fontsize=8)
        ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        ax.set_ylim(0, max(1.1, float(util.quantile(0.95)) * 1.05))
        date_axis(ax.xaxis)
        ax.set_ylabel("busy share of selling capacity")
        ax.legend(loc="lower left", ncols=min(4, len(pools)))
        busiest = pools[int(np.argmax(mean_util.values))]
        ax.set_title(f"Utilisation: '{busiest}' busiest, {pct(float(mean_util.max()))} on "
                     "average (median, P5–P95)")
        if has_wait and len(axes) > 1:
            ax2 = axes[1]
            qw = ok.queue_wait.quantile(Q5, dim="draw").transpose("quantile", "pool").values
            y = np.arange(len(pools))[::-1].astype(float)
            _intervals(ax2, y, qw, PALETTE["vermillion"])
            ax2.set_yticks(y, pools)
            ax2.set_ylim(-0.6, len(pools) - 0.4)
            ax2.set_xlim(left=0)
            ax2.grid(axis="y", visible=False)
            ax2.set_xlabel("days")
            worst = int(np.argmax(qw[2]))
            ax2.set_title(f"Wait for a rep: {days(qw[2][worst])} at '{pools[worst]}'")
            ax2.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
    return fig


def compare(ds: xr.Dataset, axes=None) -> Figure:
    """Bookings of each scenario and the paired difference to the first (common random numbers).

    Parameters
    ----------
    ds
        A result with a ``scenario`` dimension (from :func:`simengine.compare`).
    axes
        Two Axes (bookings, difference) to draw on; default a new figure.
    """
    with styled():
        names = [str(s) for s in ds.scenario.values]
        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(12, 1.6 + 0.55 * len(names)), sharey=True)
        else:
            fig = axes[0].figure
        cur = ds.attrs.get("currency", "USD")
        tot = {s: annual(ds.sel(scenario=s)) for s in names}
        base = names[0]
        y = np.arange(len(names))[::-1].astype(float)
        ax1, ax2 = axes
        for yi, s in zip(y, names, strict=True):
            _intervals(ax1, yi, np.quantile(np.asarray(tot[s]), Q5), BAND, label=yi == y[0])
        g = ds.attrs.get("goal", np.nan)
        if np.isfinite(g):
            ax1.axvline(g, color=GOAL, lw=1.5, ls="--")
            ax1.annotate(f"goal {money(g, cur)}", (g, 1), xycoords=("data", "axes fraction"),
                         xytext=(3, -2), textcoords="offset points", va="top", color=GOAL,
                         fontsize=8)
        money_axis(ax1.xaxis, cur)
        ax1.set_yticks(y, names)
        ax1.set_ylim(-0.6, len(names) - 0.4)
        ax1.grid(axis="y", visible=False)
        ax1.set_title("Bookings over the horizon")
        ax1.legend(loc="lower right", fontsize=8)
        diffs = {}
        for yi, s in zip(y, names, strict=True):
            if s == base:
                continue
            d = _paired(tot[s], tot[base])
            diffs[s] = np.quantile(d, Q5)
            _intervals(ax2, yi, diffs[s], PALETTE["green"] if diffs[s][2] >= 0
                       else PALETTE["vermillion"], label=False)
        ax2.axvline(0, color=PALETTE["black"], lw=1)
        money_axis(ax2.xaxis, cur)
        ax2.grid(axis="y", visible=False)
        if diffs:
            s = max(diffs, key=lambda k: abs(diffs[k][2]))
            q = diffs[s]
            word = "more" if q[2] >= 0 else "less"
            ax2.set_title(f"'{s}' books {money(abs(q[2]), cur)} {word} than '{base}' "
                          f"(P5–P95 {money(q[0], cur)} to {money(q[4], cur)})")
        else:
            ax2.set_title(f"Difference to '{base}'")
        fig.tight_layout()
    return fig


def _paired(a: xr.DataArray, b: xr.DataArray) -> np.ndarray:
    """Per-draw difference a − b over the draws both scenarios simulated (same draw index =
    same random numbers)."""
    a, b = xr.align(a, b, join="inner")
    return np.asarray(a - b)
