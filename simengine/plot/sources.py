"""Campaign figures: spend, the bookings each campaign sources, and its return, each with a band."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from simengine.fmt import money
from simengine.plot.style import BAND, PALETTE, money_axis, styled

#: The pseudo-campaign that carries the pipeline already open on the first day.
INITIAL = "initial_pipeline"
QUANTS = (0.05, 0.25, 0.5, 0.75, 0.95)


def campaign_table(ds: xr.Dataset) -> pd.DataFrame:
    """Spend, sourced bookings, won deals and return of each campaign, as quantiles over draws.

    Returns
    -------
    pandas.DataFrame
        One row per campaign (sorted by median sourced bookings, the pipeline open at the start
        last); columns ``(measure, quantile)`` with measures ``spend``, ``bookings``, ``won``,
        ``roi`` (bookings per unit of spend; NaN without spend) and ``cost_per_deal``.
    """
    ok = ds.where(ds.failed == 0, drop=True) if "failed" in ds else ds
    cost = ok.campaign_cost
    rev = ok.revenue_by_campaign
    won = ok.won_by_campaign
    with np.errstate(invalid="ignore", divide="ignore"):
        roi = (rev / cost).where(cost > 0)
        cpd = (cost / won).where((won > 0) & (cost > 0))
    names = [str(c) for c in ok.campaign.values]
    parts = {}
    for name, da in (("spend", cost), ("bookings", rev), ("won", won), ("roi", roi),
                     ("cost_per_deal", cpd)):
        vals = da.transpose("draw", "campaign").values
        rows = []
        for j in range(vals.shape[1]):
            x = vals[:, j][np.isfinite(vals[:, j])]  # a campaign without spend has no return
            rows.append(np.quantile(x, QUANTS) if len(x) else np.full(len(QUANTS), np.nan))
        parts[name] = pd.DataFrame(rows, index=names, columns=list(QUANTS))
    table = pd.concat(parts, axis=1)
    order = table[("bookings", 0.5)].sort_values(ascending=False).index.tolist()
    if INITIAL in order:
        order.remove(INITIAL)
        order.append(INITIAL)
    return table.loc[order]


def ratio(x: float, currency: str = "USD") -> str:
    """A return per unit of spend: $0.8, $4.5, $33."""
    if not np.isfinite(x):
        return "–"
    if x == 0:
        return money(0, currency)
    text = money(x, currency)
    return text if abs(x) >= 10 else text.replace(f"{abs(x):.0f}", f"{abs(x):.1f}", 1)


def _intervals(ax, y, t: pd.DataFrame, color: str) -> None:
    ok = t.notna().all(axis=1).to_numpy()
    y, t = y[ok], t[ok]
    ax.hlines(y, t[0.05], t[0.95], color=color, lw=2, alpha=0.35, label="P5–P95")
    ax.hlines(y, t[0.25], t[0.75], color=color, lw=6, alpha=0.65, label="P25–P75")
    ax.plot(t[0.5], y, "o", color=color, ms=7, mec="white", mew=1.2, label="median")


def campaigns(ds: xr.Dataset, axes=None) -> Figure:
    """Spend, sourced bookings and bookings per unit of spend of each campaign (median, P25–P75,
    P5–P95 over draws).

    Parameters
    ----------
    ds
        A result of :func:`simengine.simulate`.
    axes
        Three Axes (spend, bookings, return) to draw on; default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with styled():
        table = campaign_table(ds)
        names = list(table.index)
        if axes is None:
            fig, axes = plt.subplots(1, 3, figsize=(12, 1.4 + 0.5 * len(names)), sharey=True,
                                     gridspec_kw={"width_ratios": [1, 1.3, 1]})
        else:
            fig = axes[0].figure
        cur = ds.attrs.get("currency", "USD")
        unit = money(1, cur)
        y = np.arange(len(names))[::-1].astype(float)
        labels = ["open at start" if n == INITIAL else n for n in names]
        panels = (("spend", "Spend", PALETTE["grey"]),
                  ("bookings", "Sourced bookings", BAND),
                  ("roi", f"Bookings per {unit} spent", PALETTE["green"]))
        for ax, (col, label, color) in zip(axes, panels, strict=True):
            t = table[col].copy()
            if col == "spend" and INITIAL in t.index:
                t.loc[INITIAL] = np.nan  # deals open on day one cost nothing this year
            _intervals(ax, y, t, color)
            ax.xaxis.set_major_locator(plt.MaxNLocator(5))
            ax.set_title(label, fontsize=10)
            ax.set_xlim(left=0)
            ax.grid(axis="y", visible=False)
            if col == "roi":
                ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: ratio(x, cur)))
                for yi, v in zip(y, table[("roi", 0.5)], strict=True):
                    if not np.isfinite(v):
                        ax.annotate("no spend", (0, yi), xytext=(4, 0), textcoords="offset points",
                                    va="center", fontsize=8, color=PALETTE["grey"])
            else:
                money_axis(ax.xaxis, cur)
        axes[0].set_yticks(y, labels)
        axes[0].set_ylim(-0.6, len(names) - 0.4)
        axes[1].legend(loc="lower right", fontsize=8)
        roi = table[("roi", 0.5)].dropna()
        paid = [n for n in names if n != INITIAL]
        spend = float(ds.campaign_cost.sel(campaign=paid).sum("campaign").median())
        sourced = float(ds.revenue_by_campaign.sel(campaign=paid).sum("campaign").median())
        if len(roi):
            best = roi.idxmax()
            fig.suptitle(f"Campaigns source {money(sourced, cur)} of bookings for "
                         f"{money(spend, cur)} of spend (medians); best return: {best}, "
                         f"{ratio(roi[best], cur)} per {unit}", x=0.01, ha="left",
                         fontweight="bold")
        else:
            fig.suptitle(f"Campaigns source {money(sourced, cur)} of bookings (median)",
                         x=0.01, ha="left", fontweight="bold")
        fig.tight_layout()
    return fig
