"""Figures for the report: embedding as SVG data URIs, and the comparison figure.

The comparison figure draws a result with a ``scenario`` dimension. It follows the style of
:mod:`simengine.plot` (takes optional Axes, returns the Figure) and can move there when the
comparison feature owns its figures.
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
from simengine.fmt import money
from simengine.plot.style import BAND, GOAL, PALETTE, money_axis, styled


def svg_uri(fig: Figure) -> str:
    """The figure as a ``data:image/svg+xml;base64`` URI (no date, stable ids), then closed.

    An ``<img>`` of a data URI keeps each figure's SVG ids to itself and needs no network.
    """
    buf = io.BytesIO()
    with mpl.rc_context({"svg.hashsalt": "simengine", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _intervals(ax, y, q: np.ndarray, color: str, label: bool = True) -> None:
    """Median dot with P25–P75 and P5–P95 bars; ``q`` has rows P5, P25, P50, P75, P95."""
    ax.hlines(y, q[0], q[4], color=color, lw=2, alpha=0.35, label="P5–P95" if label else None)
    ax.hlines(y, q[1], q[3], color=color, lw=6, alpha=0.65, label="P25–P75" if label else None)
    ax.plot(q[2], y, "o", color=color, ms=7, mec="white", mew=1.2,
            label="median" if label else None)


Q5 = [0.05, 0.25, 0.5, 0.75, 0.95]


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
