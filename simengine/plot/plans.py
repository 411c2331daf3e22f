"""The plan optimizer's frontier: cost against P(goal) of every simulated plan."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from simengine.errors import SimEngineError
from simengine.plot.style import GOAL, PALETTE, money, money_axis, pct_axis, styled


def frontier(res, ax=None) -> Figure:
    """Expected cost against P(goal) of the plans an optimization simulated, the efficient
    ones joined (no other plan is cheaper with at least their P(goal)), with the scenario as
    loaded and the chosen plan marked.

    Parameters
    ----------
    res
        An :class:`~simengine.analysis.optimize.OptimizeResult`.
    ax
        Axes to draw on; default a new figure.
    """
    t = res.frontier
    if t is None or t.empty:
        raise SimEngineError("plot.frontier: the result holds no simulated plans")
    cur = res.currency
    with styled():
        if ax is None:
            fig, ax = plt.subplots(figsize=(9, 5))
        else:
            fig = ax.figure
        others = t[~t.role.isin(["loaded", "chosen"])]
        ax.errorbar(others.cost, others.probability, yerr=2 * others.probability_se, fmt="o",
                    color=PALETTE["grey"], ms=4, lw=0.8, capsize=2,
                    label="plans simulated (± 2 s.e.)")
        eff = t[t.efficient].sort_values("cost")
        ax.plot(eff.cost, eff.probability, "-", color=PALETTE["blue"], lw=1.8,
                label="frontier: cheapest plan for its P(goal)")
        ld = res.loaded
        ax.errorbar([ld["cost"]], [ld["probability"]], yerr=[2 * ld["probability_se"]],
                    fmt="s", color=PALETTE["black"], ms=8, capsize=3, zorder=5,
                    label=f"as loaded: {money(ld['cost'], cur)}, {ld['probability']:.0%}")
        ch = t[t.role == "chosen"]
        if len(ch):
            ax.plot(ch.cost, ch.probability, "*", color=PALETTE["orange"], ms=16, zorder=6,
                    mec=PALETTE["black"], mew=0.6,
                    label=f"chosen (search draws): {money(float(ch.cost.iloc[0]), cur)}, "
                    f"{float(ch.probability.iloc[0]):.0%}")
            ax.errorbar(ch.cost, [res.probability], yerr=[2 * res.probability_se], fmt="D",
                        color=PALETTE["vermillion"], ms=6, capsize=3, zorder=6,
                        label=f"chosen on fresh draws: {res.probability:.0%} ± "
                        f"{res.probability_se:.0%}")
        if res.objective == "min_cost":
            ax.axhline(res.confidence, color=GOAL, lw=1.2, ls="--",
                       label=f"required confidence {res.confidence:.0%}")
        elif np.isfinite(res.budget):
            ax.axvline(res.budget, color=GOAL, lw=1.2, ls="--",
                       label=f"budget {money(res.budget, cur)}")
        money_axis(ax.xaxis, cur)
        pct_axis(ax.yaxis)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("expected cost over the horizon: campaign spend + pool cost")
        ax.set_ylabel(f"P(bookings >= {money(res.target, cur)})")
        ax.set_title(f"What each extra dollar buys in P(goal) ({res.draws:,} draws, common "
                     f"random numbers)")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
    return fig
