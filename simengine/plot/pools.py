"""Capacity figures: utilisation, queue and prospects gone cold per pool, with bands."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from simengine.errors import SimEngineError
from simengine.plot.style import CYCLE, PALETTE, count_axis, date_axis, period_mid, styled


def capacity(ds: xr.Dataset, axes=None) -> Figure:
    """Per pool: utilisation (busy slots / capacity) and the queue, median with P5–P95 bands.

    Parameters
    ----------
    axes
        A (pools, 2) array of Axes; default a new figure.
    """
    ds = ds.load() if ds.chunks else ds  # a lazily read zarr result: medians need data
    if "pool" not in ds.dims:
        raise SimEngineError("plot.capacity: expected a result with pools (stages worked_by a "
                             "pool), found none")
    with styled():
        pools = [str(p) for p in ds.pool.values]
        if axes is None:
            fig, axes = plt.subplots(len(pools), 2, figsize=(12, 3.4 * len(pools)),
                                     squeeze=False)
        else:
            axes = np.atleast_2d(axes)
            fig = axes[0, 0].figure
        ok = ds.where(ds.failed == 0, drop=True) if "failed" in ds else ds
        x = mdates.date2num(period_mid(ok))  # day numbers: bars take a width in days
        for k, pool in enumerate(pools):
            color = CYCLE[k % len(CYCLE)]
            ax_u, ax_q = axes[k]
            u = ok.utilization.sel(pool=pool).quantile([0.05, 0.5, 0.95], dim="draw").values
            ax_u.fill_between(x, u[0], u[2], color=color, alpha=0.2, lw=0, label="P5–P95")
            ax_u.plot(x, u[1], color=color, lw=2, marker="o", ms=3, label="median")
            ax_u.axhline(1.0, color=PALETTE["grey"], lw=1, ls=":")
            ax_u.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax_u.set_ylim(0, max(1.05, float(np.nanmax(u[2])) * 1.05))
            peak = int(np.nanargmax(u[1]))
            month = ok.period.to_index()[peak].strftime("%b %Y")
            ax_u.set_title(f"{pool}: utilisation peaks at {u[1][peak]:.0%} in {month}")
            ax_u.legend(loc="lower right")
            date_axis(ax_u.xaxis)

            q = ok.queue_length.sel(pool=pool).quantile([0.05, 0.5, 0.95], dim="draw").values
            ax_q.fill_between(x, q[0], q[2], color=color, alpha=0.2, lw=0)
            ax_q.plot(x, q[1], color=color, lw=2, marker="o", ms=3, label="waiting (median)")
            cold = ok.abandoned.sel(pool=pool)
            ax_q.bar(x, cold.mean("draw").values, width=14, color=PALETTE["vermillion"],
                     alpha=0.6, label="gone cold in the period (mean)")
            wait = float(ok.queue_wait.sel(pool=pool).median())
            total_cold = float(cold.sum("period").median())
            wait_text = "under 0.1 day" if wait < 0.05 else f"{wait:.1f} days"
            ax_q.set_title(f"{pool}: median wait {wait_text}; {total_cold:,.0f} went cold")
            ax_q.set_ylim(bottom=0)
            count_axis(ax_q.yaxis)
            ax_q.set_ylabel("prospects")
            ax_q.legend(loc="upper left")
            date_axis(ax_q.xaxis)
        fig.suptitle("Sales capacity (median over draws, P5–P95 bands)", x=0.01, ha="left",
                     fontweight="bold")
        fig.tight_layout()
    return fig
