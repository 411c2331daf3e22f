"""Funnel figures: stage volumes, conversion and where prospects get stuck; open pipeline."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from simengine.fmt import money
from simengine.plot.style import BAND, CYCLE, PALETTE, count_axis, date_axis, period_mid, styled


def funnel(ds: xr.Dataset, ax=None) -> Figure:
    """Median prospects per stage, split by how their visits ended, with stage conversion."""
    ds = ds.load() if ds.chunks else ds  # a lazily read zarr result: medians need data
    with styled():
        if ax is None:
            fig, ax = plt.subplots(figsize=(10, 0.9 + 0.75 * ds.sizes["stage"]))
        else:
            fig = ax.figure
        ok = ds.where(ds.failed == 0, drop=True) if "failed" in ds else ds
        stages = [str(s) for s in ok.stage.values]
        entered = (ok.entered.sum("period") + ok.initial_pipeline).median("draw").values
        lost = ok.exited_lost.sum("period").median("draw").values
        nd = ok.exited_no_decision.sum("period").median("draw").values
        rec = ok.recycled.sum("period").median("draw").values
        open_ = ok.open_at_end.median("draw").values
        advanced = np.maximum(entered - lost - nd - rec - open_, 0)
        won = float(ok.won.sum("period").median("draw"))
        y = np.arange(len(stages))[::-1]
        parts = [("advanced / won", advanced, PALETTE["blue"]), ("lost", lost, PALETTE["grey"]),
                 ("no decision", nd, PALETTE["orange"]), ("recycled", rec, PALETTE["purple"]),
                 ("still open at end", open_, PALETTE["sky"])]
        left = np.zeros(len(stages))
        for label, val, color in parts:
            if np.any(val > 0):
                ax.barh(y, val, left=left, color=color, label=label, height=0.62)
            left += val
        xmax = max(left.max(), 1)
        for yi, e, a in zip(y, entered, advanced, strict=True):
            conv = a / e if e > 0 else 0
            ax.annotate(f"{e:,.0f} in · {conv:.0%} advance", (e, yi), xytext=(5, 0),
                        textcoords="offset points", va="center", fontsize=9)
        ax.set_yticks(y, stages)
        ax.set_xlim(0, xmax * 1.3)
        count_axis(ax.xaxis)
        ax.set_xlabel("prospects (median over draws; a recycled prospect counts each visit)")
        worst = int(np.argmax(lost + nd))
        ax.set_title(f"Funnel: {won:,.0f} deals won; most exits at '{stages[worst]}' "
                     f"({(lost + nd)[worst]:,.0f} lost or no decision)")
        ax.legend(loc="lower right", ncols=2)
        ax.grid(axis="y", visible=False)
        fig.tight_layout()
    return fig


def pipeline(ds: xr.Dataset, axes=None) -> Figure:
    """Open pipeline per stage at each period end (median and P5–P95), one panel per stage."""
    ds = ds.load() if ds.chunks else ds  # a lazily read zarr result: medians need data
    with styled():
        stages = [str(s) for s in ds.stage.values]
        n = len(stages)
        cols = min(3, n)
        rows = int(np.ceil(n / cols))
        if axes is None:
            fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), sharex=True,
                                     squeeze=False)
            axes = axes.ravel()
        else:
            axes = np.ravel(axes)
            fig = axes[0].figure
        ok = ds.where(ds.failed == 0, drop=True) if "failed" in ds else ds
        x = period_mid(ok)  # a snapshot at the end of a period is shown in that period
        for k, (ax, st) in enumerate(zip(axes, stages, strict=False)):
            q = ok.pipeline.sel(stage=st).quantile([0.05, 0.5, 0.95], dim="draw").values
            color = CYCLE[k % len(CYCLE)] if k else BAND
            ax.fill_between(x, q[0], q[2], color=color, alpha=0.2, lw=0)
            ax.plot(x, q[1], color=color, lw=2, marker="o", ms=3)
            ax.set_title(st, fontsize=10)
            ax.set_ylim(bottom=0)
            count_axis(ax.yaxis)
            date_axis(ax.xaxis, maxticks=5)
        for ax in axes[n:]:
            ax.set_visible(False)
        title = "Open pipeline at each period end (median, P5–P95)"
        if "pipeline_value" in ok:
            cur = ds.attrs.get("currency", "USD")
            v = ok.pipeline_value.isel(period=-1).quantile([0.05, 0.5, 0.95], dim="draw").values
            title = (f"Pipeline open at the end: {money(v[1], cur)} of deal value (P5–P95 "
                     f"{money(v[0], cur)}–{money(v[2], cur)}); prospects per stage, median "
                     "and P5–P95")
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold")
        fig.tight_layout()
    return fig
