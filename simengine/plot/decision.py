"""Decision figures: scenario comparison, tornado, Sobol indices and the goal-seek curve."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from simengine.analysis.compare import bookings, summarize_comparison
from simengine.errors import SimEngineError
from simengine.fmt import money, pct
from simengine.plot.style import (
    CYCLE,
    GOAL,
    PALETTE,
    money_axis,
    pct_axis,
    styled,
)

LOW, HIGH = PALETTE["blue"], PALETTE["orange"]


def _short(name: str, width: int = 52) -> str:
    from simengine.scenario.paths import label

    name = label(name)
    return name if len(name) <= width else name[:width - 1].rsplit(" ", 1)[0] + "…"


def compare(cmp: xr.Dataset, axes=None) -> Figure:
    """Distributions of bookings of every scenario, and of the paired difference to the first.

    Parameters
    ----------
    cmp
        A comparison from :func:`simengine.compare` (a ``scenario`` dimension).
    axes
        Two Axes (distributions, differences); default a new figure.
    """
    if "scenario" not in cmp.dims:
        raise SimEngineError("plot.compare: expected a comparison (a result with a scenario "
                             "dimension, from simengine.compare), found a single result")
    s = summarize_comparison(cmp)
    cur = s.currency
    names = [str(n) for n in cmp.scenario.values]
    b = bookings(cmp)
    ok = np.isfinite(b.values).all(axis=0)
    with styled():
        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
        else:
            fig = axes[0].figure
        ax1, ax2 = axes
        allx = b.values[:, ok]
        bins = np.histogram_bin_edges(allx, bins=min(60, max(15, ok.sum() // 20)))
        for k, name in enumerate(names):
            x = b.sel(scenario=name).values[ok]
            color = CYCLE[k % len(CYCLE)]
            row = s.scenarios.loc[name]
            lab = f"{name}: P50 {money(row['P50'], cur)}"
            if np.isfinite(row["p_goal"]):
                lab += f", P(goal) {pct(row['p_goal'])}"
            ax1.hist(x, bins=bins, histtype="stepfilled", alpha=0.22, color=color)
            ax1.hist(x, bins=bins, histtype="step", lw=1.8, color=color, label=lab)
            ax1.axvline(row["P50"], color=color, lw=1, ls=":")
        goals = cmp.goal.values
        if np.isfinite(goals).any():
            for g in np.unique(goals[np.isfinite(goals)]):
                ax1.axvline(g, color=GOAL, lw=2, ls="--")
                ax1.annotate(f"goal {money(g, cur)}", (g, 0.6), xycoords=("data", "axes fraction"),
                             xytext=(4, 0), textcoords="offset points", va="top", color=GOAL)
        money_axis(ax1.xaxis, cur)
        ax1.set_xlabel(f"bookings over the horizon ({cur})")
        ax1.set_ylabel("draws")
        ax1.set_title(f"Bookings, {int(ok.sum()):,} draws per scenario")
        ax1.set_ylim(0, ax1.get_ylim()[1] * (1.2 + 0.07 * len(names)))
        ax1.legend(loc="upper left", fontsize=8)

        ref = s.reference
        others = [n for n in names if n != ref]
        d_all = np.concatenate([(b.sel(scenario=n) - b.sel(scenario=ref)).values[ok]
                                for n in others])
        dbins = np.histogram_bin_edges(d_all, bins=min(60, max(15, ok.sum() // 20)))
        if np.ptp(d_all) == 0:
            dbins = np.linspace(d_all[0] - 1, d_all[0] + 1, 21)
        for k, name in enumerate(others, start=1):
            d = (b.sel(scenario=name) - b.sel(scenario=ref)).values[ok]
            color = CYCLE[k % len(CYCLE)]
            r = s.differences.loc[name]
            ax2.hist(d, bins=dbins, histtype="stepfilled", alpha=0.3, color=color)
            ax2.hist(d, bins=dbins, histtype="step", lw=1.8, color=color,
                     label=f"{name} − {ref}: mean {money(r['mean'], cur)}, P5–P95 "
                           f"{money(r['P5'], cur)} to {money(r['P95'], cur)}")
            ax2.axvspan(r["P5"], r["P95"], color=color, alpha=0.07, lw=0)
            ax2.axvline(r["mean"], color=color, lw=1.5)
        ax2.axvline(0, color=PALETTE["black"], lw=1)
        money_axis(ax2.xaxis, cur)
        ax2.set_xlabel(f"paired difference of bookings ({cur}), the same draw in each scenario")
        ax2.set_ylabel("draws")
        first = s.differences.iloc[0]
        verb = "costs" if first["mean"] < 0 else "adds"
        lo, hi = (-first["P95"], -first["P5"]) if first["mean"] < 0 else (first["P5"],
                                                                          first["P95"])
        ax2.set_title(f"{others[0]} {verb} {money(abs(first['mean']), cur)} "
                      f"(P5–P95 {money(lo, cur)} to {money(hi, cur)})")
        ax2.set_ylim(0, ax2.get_ylim()[1] * (1.2 + 0.07 * len(others)))
        ax2.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
    return fig


def tornado(res, axes=None, top: int = 12) -> Figure:
    """Tornado of a :func:`simengine.sensitivity` result: P50 bookings and P(goal) with each
    factor at its low and high value, the largest swing on top.

    Parameters
    ----------
    res
        A tornado :class:`~simengine.analysis.sensitivity.SensitivityResult`.
    axes
        Two Axes (P50, P(goal)); default a new figure.
    top
        Show the ``top`` largest swings.
    """
    if getattr(res, "method", None) != "tornado":
        raise SimEngineError("plot.tornado: expected a tornado result "
                             "(sensitivity(..., method='tornado'))")
    t = res.table.head(top).iloc[::-1]
    cur = res.currency
    with styled():
        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(13, 1.4 + 0.5 * len(t)), sharey=True,
                                     gridspec_kw={"width_ratios": [3, 2]})
        else:
            fig = axes[0].figure
        ax1, ax2 = axes
        y = np.arange(len(t))
        base = res.base["p50"]
        for ax, lo_col, hi_col, ref in ((ax1, "p50_low", "p50_high", base),
                                        (ax2, "p_goal_low", "p_goal_high",
                                         res.base["p_goal"])):
            lo = t[lo_col].to_numpy() - ref
            hi = t[hi_col].to_numpy() - ref
            ax.barh(y, lo, left=ref, color=LOW, height=0.62)
            ax.barh(y, hi, left=ref, color=HIGH, height=0.62)
            ax.axvline(ref, color=PALETTE["black"], lw=1)
            ax.grid(axis="y", visible=False)
        for yi, (_, r) in zip(y, t.iterrows(), strict=True):
            ends = ((r.p50_low, _input(r, r.low, cur)), (r.p50_high, _input(r, r.high, cur)))
            if r.p50_low == r.p50_high:  # no swing: one label, not two written over each other
                ends = ((r.p50_low, f"{ends[0][1]} – {ends[1][1]}"),)
            for val, text in ends:
                right = val >= base
                ax1.annotate(text, (val, yi), xytext=(4 if right else -4, 0),
                             textcoords="offset points", va="center",
                             ha="left" if right else "right", fontsize=7.5,
                             color=PALETTE["grey"])
        still = set(getattr(res, "inert", ()))  # a no decision taken from lost: no swing
        ax1.set_yticks(y, [_short(f) + (" (from lost: no effect)" if f in still else "")
                           for f in t.factor])
        money_axis(ax1.xaxis, cur)
        lo_x = min(t.p50_low.min(), t.p50_high.min(), base)
        hi_x = max(t.p50_low.max(), t.p50_high.max(), base)
        pad = 0.18 * (hi_x - lo_x or abs(base) or 1)
        ax1.set_xlim(lo_x - pad, hi_x + pad)
        ax1.set_xlabel(f"P50 bookings ({cur}); base {money(base, cur)}")
        top_row = res.table.iloc[0]
        ax1.set_title("P50 bookings")
        fig.legend(handles=[Patch(color=LOW, label="factor at its low value (P10, −20 %, or "
                                  "event never)"),
                            Patch(color=HIGH, label="factor at its high value (P90, +20 %, "
                                  "or event always)")],
                   loc="upper right", ncol=2, fontsize=8)
        if np.isfinite(res.base["p_goal"]):
            pct_axis(ax2.xaxis)
            ax2.set_xlim(-0.02, 1.02)
            ax2.set_xlabel(f"P(goal {money(res.base['goal'], cur)}); base "
                           f"{pct(res.base['p_goal'])}")
            ax2.set_title("P(goal)")
        else:
            ax2.set_visible(False)
        fig.suptitle(f"{_short(top_row.factor, 60)} moves P50 bookings most "
                     f"({money(abs(top_row.p50_swing), cur)})\n{res.scenario}, "
                     f"{res.draws:,} draws per run on common random numbers", x=0.01,
                     ha="left", fontsize=11)
        fig.tight_layout()
    return fig


def _input(r, v: float, currency: str = "USD") -> str:
    from simengine.scenario.paths import value_text

    if r.kind == "event":
        return "always" if v >= 1 else "never"
    return value_text(r.factor, v, currency)


def sobol(res, axes=None, output: str = "bookings", top: int = 12) -> Figure:
    """First-order and total Sobol indices with their confidence intervals, per group and per
    factor (the levels the result has).

    Parameters
    ----------
    res
        A Sobol :class:`~simengine.analysis.sensitivity.SensitivityResult`.
    axes
        One Axes per level (group first); default a new figure.
    output
        ``"bookings"`` or ``"goal"`` (the indicator of reaching the goal).
    """
    if getattr(res, "method", None) != "sobol":
        raise SimEngineError("plot.sobol: expected a Sobol result "
                             "(sensitivity(..., method='sobol'))")
    if output not in ("bookings", "goal"):
        raise SimEngineError(f"output: expected bookings or goal, found '{output}'")
    sfx = "" if output == "bookings" else "_goal"
    levels = [lv for lv in ("group", "parameter") if (res.table.level == lv).any()]
    with styled():
        rows = [min(top, int((res.table.level == lv).sum())) for lv in levels]
        if axes is None:
            fig, axes = plt.subplots(len(levels), 1, figsize=(10, 1.6 + 0.42 * sum(rows)
                                                                + 0.6 * len(levels)),
                                     gridspec_kw={"height_ratios": rows}, squeeze=False)
            axes = axes[:, 0]
        else:
            axes = np.atleast_1d(axes)
            fig = axes[0].figure
        for ax, lv in zip(axes, levels, strict=True):
            t = res.table[res.table.level == lv]
            t = t.sort_values(f"ST{sfx}", ascending=False, kind="stable").head(top).iloc[::-1]
            y = np.arange(len(t))
            s1, s1c = t[f"S1{sfx}"].to_numpy(), t[f"S1_conf{sfx}"].to_numpy()
            st, stc = t[f"ST{sfx}"].to_numpy(), t[f"ST_conf{sfx}"].to_numpy()
            colors = [PALETTE["grey"] if k == "noise" else PALETTE["blue"] for k in t.kind]
            ax.barh(y + 0.18, np.clip(st, 0, None), height=0.34, color=colors, alpha=0.35,
                    label="total (with interactions)")
            ax.errorbar(st, y + 0.18, xerr=stc, fmt="none", ecolor=PALETTE["black"], lw=0.8,
                        capsize=2)
            ax.barh(y - 0.18, np.clip(s1, 0, None), height=0.34, color=colors,
                    label="first order (alone)")
            ax.errorbar(s1, y - 0.18, xerr=s1c, fmt="none", ecolor=PALETTE["black"], lw=0.8,
                        capsize=2)
            for yi, v, c in zip(y, st, stc, strict=True):
                if np.isfinite(v):
                    ax.annotate(f"{v:.0%}", (max(v + c, 0), yi + 0.18), xytext=(4, 0),
                                textcoords="offset points", va="center", fontsize=8)
            ax.set_yticks(y, [_short(f) for f in t.factor])
            ax.grid(axis="y", visible=False)
            pct_axis(ax.xaxis)
            ax.set_xlim(0, max(1.0, float(np.nanmax(st + stc)) * 1.08 if len(st) else 1.0))
            lead = t.iloc[-1]
            who = lead.factor if len(lead.factor) <= 28 else "the first"
            ax.set_title(f"{'Groups' if lv == 'group' else 'Factors'}: {who} explains "
                         f"{lead[f'S1{sfx}']:.0%} alone, {lead[f'ST{sfx}']:.0%} with "
                         "interactions", fontsize=11)
            ax.legend(loc="lower right", fontsize=8)
        what = "bookings" if output == "bookings" else "reaching the goal"
        axes[-1].set_xlabel(f"share of the variance of {what} (bars: estimate; whiskers: "
                            f"{res.conf_level:.0%} bootstrap interval)")
        fig.suptitle(f"{res.scenario} — Sobol indices, {res.draws:,} base rows, "
                     f"{res.simulated:,} draws simulated", x=0.01, ha="left", fontsize=10,
                     color=PALETTE["grey"])
        fig.tight_layout()
    return fig


def goal_seek(res, ax=None) -> Figure:
    """P(goal) against the lever, as bracketed by a goal seek, with the answer and its Monte
    Carlo interval."""
    from simengine.fmt import lever_formatter

    c = res.curve()
    if c.empty:
        raise SimEngineError("plot.goal_seek: the result holds no thresholds")
    fmt = lever_formatter(res.lever, res.currency)
    with styled():
        if ax is None:
            fig, ax = plt.subplots(figsize=(9, 4.6))
        else:
            fig = ax.figure
        ax.fill_between(c.value, c.p_low, c.p_high, step="post", color=PALETTE["blue"],
                        alpha=0.25, lw=0, label="P(goal) from the draws' thresholds")
        ax.step(c.value, (c.p_low + c.p_high) / 2, where="post", color=PALETTE["blue"], lw=1.5)
        if res.checks:
            cx, cp = zip(*res.checks, strict=True)
            ax.plot(cx, cp, "o", color=PALETTE["black"], ms=5, zorder=5,
                    label="simulated with every draw at this value")
        ax.axhline(res.confidence, color=GOAL, lw=1.5, ls="--",
                   label=f"required confidence {res.confidence:.0%}")
        lo, hi = res.interval
        ax.axvspan(lo, hi, color=PALETTE["orange"], alpha=0.15, lw=0,
                   label=f"{res.level:.0%} Monte Carlo interval {fmt(lo)} to {fmt(hi)}")
        ax.axvline(res.value, color=PALETTE["orange"], lw=2,
                   label=f"answer {fmt(res.value)} (P(goal) {res.probability:.0%})")
        if np.isfinite(res.deterministic_value):
            ax.axvline(res.deterministic_value, color=PALETTE["grey"], lw=1.2, ls=":",
                       label=f"expected-value waterfall {fmt(res.deterministic_value)}")
        ax.axvline(res.current, color=PALETTE["black"], lw=1, ls="-.",
                   label=f"current {fmt(res.current)}")
        pct_axis(ax.yaxis)
        ax.set_ylim(0, 1.02)
        xs = np.concatenate([c.value.to_numpy(), [res.value, res.current, lo, hi]])
        span = np.nanmax(xs) - np.nanmin(xs)
        ax.set_xlim(max(np.nanmin(xs) - 0.05 * span, min(res.bounds)),
                    min(np.nanmax(xs) + 0.05 * span, max(res.bounds)))
        if any(k in res.lever for k in ("budget", "cost", "deal_value")):
            money_axis(ax.xaxis, res.currency)
        ax.set_xlabel(res.lever)
        ax.set_ylabel(f"P(bookings >= {money(res.target, res.currency)})")
        ax.set_title(f"{fmt(res.value)} reaches the goal with {res.confidence:.0%} confidence "
                     f"({res.draws:,} draws, common random numbers)")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
    return fig
