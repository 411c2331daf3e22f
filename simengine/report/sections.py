"""The sections of the report, each a function of the result that returns its HTML (or None when
the result does not carry what the section shows)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from simengine.analysis.compare import one_scenario
from simengine.analysis.summary import annual, prob_goal
from simengine.plot.decision import compare as compare_figure
from simengine.plot.forecast import fan, goal
from simengine.plot.sources import INITIAL, campaign_table, campaigns, ratio
from simengine.plot.stages import funnel, pipeline
from simengine.report import figures
from simengine.report.words import (
    amount,
    count,
    date,
    days,
    describe_dist,
    esc,
    format_value,
    kind_of,
    lookup,
    nice_thresholds,
    parameter_label,
    pct,
    points,
)
from simengine.stats import quantile_se


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    html: str


@dataclass
class Context:
    """What every section needs: the result (one scenario of it), its currency, goal and scenario.

    ``full`` is the Dataset as given (it may have a ``scenario`` dimension); ``ds`` is the
    scenario shown in detail, with failed draws dropped.
    """

    full: xr.Dataset
    ds: xr.Dataset
    cur: str
    goal: float
    scenario: dict
    shown: str
    figures: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, full: xr.Dataset) -> Context:
        shown = ""
        ds = full
        if "scenario" in full.dims:
            shown = str(full.scenario.values[0])
            ds = one_scenario(full, shown)
        ok = ds.where(ds.failed == 0, drop=True) if "failed" in ds else ds
        ok.attrs = ds.attrs
        return cls(full, ok, ds.attrs.get("currency", "USD"),
                   float(ds.attrs.get("goal", np.nan)), _scenario_dict(full, shown), shown)

    def m(self, x: float) -> str:
        return amount(x, self.cur)

    def figure(self, fig, alt: str, caption: str = "", cls: str = "") -> str:
        uri = figures.svg_uri(fig)
        self.figures.append(alt)
        cap = f"<figcaption>{caption}</figcaption>" if caption else ""
        return (f'<figure class="{cls}"><img src="{uri}" alt="{esc(alt)}" '
                f'data-figure="{len(self.figures)}">{cap}</figure>')

    # -- the plan period, in words ------------------------------------------------------------
    @property
    def start(self) -> dt.date:
        return dt.date.fromisoformat(str(self.ds.attrs.get("horizon_start"))[:10]) \
            if "horizon_start" in self.ds.attrs else \
            self.ds.period.values[0].astype("datetime64[D]").astype(object)

    @property
    def end(self) -> dt.date:
        if "period_end" in self.ds.coords:
            return self.ds.period_end.values[-1].astype("datetime64[D]").astype(object) - \
                dt.timedelta(days=1)
        return self.start + dt.timedelta(days=int(self.ds.attrs.get("horizon_days", 365)) - 1)

    @property
    def span(self) -> str:
        return f"{date(self.start)} – {date(self.end)}"

    @property
    def years(self) -> str:
        """What one draw is, in the plural: 'years' when the horizon is a year."""
        return "years" if 355 <= (self.end - self.start).days + 1 <= 370 else "outcomes"

    @property
    def period_phrase(self) -> str:
        if self.start.month == 1 and self.start.day == 1 and self.end == dt.date(
                self.start.year, 12, 31):
            return f"in {self.start.year}"
        return f"between {date(self.start)} and {date(self.end)}"


def _scenario_dict(ds: xr.Dataset, shown: str) -> dict:
    raw = ds.attrs.get("scenario_json")
    if not raw:
        return {}
    sc = json.loads(raw)
    if isinstance(sc, dict) and "stages" not in sc and shown in sc:  # one per compared scenario
        sc = sc[shown]
    return sc if isinstance(sc, dict) else {}


def _q(x, qs=(0.05, 0.5, 0.95)) -> np.ndarray:
    x = np.asarray(x, dtype=float).ravel()
    x = x[np.isfinite(x)]
    return np.quantile(x, qs) if len(x) else np.full(len(qs), np.nan)


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _range(q: np.ndarray, fmt: Callable[[float], str]) -> str:
    if fmt(q[0]) == fmt(q[2]):
        return fmt(q[1])
    return f'{fmt(q[1])} <span class="band">({fmt(q[0])}–{fmt(q[2])})</span>'


# --- 1. the answer ------------------------------------------------------------------------------
VERDICTS = ((0.8, "The goal is likely to be met.", "good", "On track"),
            (0.5, "The goal is more likely met than missed, with little margin.", "ok",
             "Leaning on track"),
            (0.2, "The goal is at risk: it is missed more often than it is met.", "warn",
             "At risk"),
            (0.0, "The goal is unlikely to be met without a change to the plan.", "bad",
             "Unlikely"))


def _precision(g, years: str) -> str:
    """'± 1.6 points', or the interval when the estimate is 0 or 1 (its s.e. is then 0)."""
    if 0 < g.p < 1:
        return points(g.se)
    return f"{'all' if g.p == 1 else 'none'} of {g.n:,} simulated {years}; 95 % interval " \
        f"{pct(g.low)}–{pct(g.high)}"


def _full_periods(ds: xr.Dataset) -> np.ndarray:
    """Indices of periods of full length (a trailing part-week is not a slow week)."""
    if "period_end" not in ds.coords:
        return np.arange(ds.sizes["period"])
    length = (ds.period_end.values - ds.period.values).astype("timedelta64[D]").astype(int)
    full = np.flatnonzero(length >= np.median(length))
    return full if len(full) else np.arange(ds.sizes["period"])


def answer(c: Context) -> Section:
    x = np.asarray(annual(c.ds))
    n = len(x)
    p5, p10, p50, p95 = np.quantile(x, [0.05, 0.10, 0.5, 0.95])
    parts = []
    cards = []
    if np.isfinite(c.goal):
        g = prob_goal(c.ds)
        _, word, cls, badge = next(v for v in VERDICTS if g.p >= v[0])
        gap = p50 - c.goal
        parts.append(
            f'<p class="lead"><span class="badge {cls}">{badge}</span> There is a '
            f"<strong>{pct(g.p)} chance</strong> ({_precision(g, c.years)}) of reaching the "
            f"<strong>{c.m(c.goal)}</strong> bookings goal {c.period_phrase}.</p>")
        parts.append(
            f"<p>In 9 {c.years} out of 10, bookings land between <strong>{c.m(p5)}</strong> "
            f"and <strong>{c.m(p95)}</strong>. The middle outcome is <strong>{c.m(p50)}"
            f"</strong>, {c.m(abs(gap))} {'above' if gap >= 0 else 'short of'} the goal; "
            f"in 1 {c.years[:-1]} in 10 bookings stay below {c.m(p10)}. {word}</p>")
        cards.append((pct(g.p), "chance of reaching the goal", points(g.se) if 0 < g.p < 1
                      else f"95 % interval {pct(g.low)}–{pct(g.high)}"))
    else:
        parts.append(f'<p class="lead">Bookings {c.period_phrase}: a middle outcome of '
                     f"<strong>{c.m(p50)}</strong>; in 9 {c.years} out of 10 between "
                     f"<strong>{c.m(p5)}</strong> and <strong>{c.m(p95)}</strong>.</p>")
    cards.append((c.m(p50), "bookings, middle outcome", f"{c.m(p5)} – {c.m(p95)} in 9 of 10"))
    won = _q(c.ds.won.sum("period"))
    cards.append((count(won[1]), "deals won", f"{count(won[0])} – {count(won[2])}"))
    if "campaign_cost" in c.ds:
        spend = _q(c.ds.campaign_cost.sum("campaign"))
        cards.append((c.m(spend[1]), "campaign spend", f"{c.m(spend[0])} – {c.m(spend[2])}"))
    if "pipeline_value" in c.ds:
        pv = _q(c.ds.pipeline_value.isel(period=-1))
        cards.append((c.m(pv[1]), f"open pipeline on {date(c.end)}",
                      f"{c.m(pv[0])} – {c.m(pv[2])}"))
    html = "".join(parts)
    html += '<div class="cards">' + "".join(
        f'<div class="card"><div class="v">{v}</div><div class="l">{lab}</div>'
        f'<div class="s">{sub}</div></div>' for v, lab, sub in cards) + "</div>"
    # how precise the numbers are: the Monte Carlo error of the estimates themselves
    qse = max(quantile_se(x, 0.05), quantile_se(x, 0.5), quantile_se(x, 0.95))
    note = (f"Based on {n:,} simulated {c.years}, each with its own draw of every uncertain "
            f"assumption. The bands are the spread of those {c.years}: P5 is the value 1 in 20 "
            f"falls below, P95 the value 1 in 20 exceeds. Simulation error: the P5, P50 and P95 "
            f"are within about ±{c.m(qse)} of their exact values")
    if np.isfinite(c.goal):
        g = prob_goal(c.ds)
        note += (f"; the chance of reaching the goal has a 95 % interval of {pct(g.low)}–"
                 f"{pct(g.high)}")
        if 0 < g.p < 1:
            note += (f" ({g.draws_for(0.01):,} simulated {c.years} would narrow the ± to 1 "
                     "point)")
    failed = int(c.full.attrs.get("failed_draws", 0))
    if failed:
        note += (f". {failed:,} draws had impossible parameter values and were left out")
    html += f'<p class="note">{note}.</p>'
    if c.shown:
        names = ", ".join(f"'{esc(s)}'" for s in c.full.scenario.values)
        html += (f'<p class="note">This result compares {c.full.sizes["scenario"]} scenarios '
                 f"({names}). The sections below show '{esc(c.shown)}'; the comparison is "
                 'in <a href="#comparison">Scenarios compared</a>.</p>')
    return Section("answer", "The answer", html)


# --- 2. forecast over time ----------------------------------------------------------------------
def forecast(c: Context) -> Section:
    ds = c.ds
    cum = ds.revenue.cumsum("period")
    n = ds.sizes["period"]
    ends = ds.period_end.values if "period_end" in ds.coords else ds.period.values
    idx = checkpoints(ends, str(ds.attrs.get("period")),
                      (c.scenario.get("horizon") or {}).get("fiscal_year_start") or 1)
    share = ds.goal_share.values if "goal_share" in ds.coords else np.arange(1, n + 1) / n
    rows = []
    mid_text = ""
    if np.isfinite(c.goal):
        from simengine.analysis.summary import pipeline_coverage

        coverage = pipeline_coverage(ds, c.goal)
    for i in idx:
        day = ends[i].astype("datetime64[D]").astype(object) - dt.timedelta(days=1)
        q = _q(cum.isel(period=i))
        row = [date(day), _range(q, c.m)]
        if np.isfinite(c.goal):
            due = c.goal * share[i]
            on = float((cum.isel(period=i) >= due * (1 - 1e-12)).mean())
            row[1:1] = [c.m(due)]
            row.append(pct(on))
            row.append(_coverage(float(np.median(coverage.isel(period=i).values))))
            if i == idx[len(idx) // 2 - 1] and i != n - 1 and not mid_text:
                mid_text = (f"By {date(day)}, the middle outcome has booked {c.m(q[1])} against "
                            f"{c.m(due)} due on the goal trajectory; {pct(on)} of simulated "
                            f"{c.years} are on or ahead of it.")
        rows.append(row)
    head = ["by", "booked (middle, 9 in 10 range)"]
    if np.isfinite(c.goal):
        head = ["by", "due on the goal trajectory", "booked (middle, 9 in 10 range)",
                "chance on or ahead", "pipeline coverage"]
    med = ds.revenue.median("draw").values
    per = {"week": "week", "month": "month", "quarter": "quarter"}.get(
        str(ds.attrs.get("period")), "period")
    fmt = "%b %Y" if per != "week" else "%d %b %Y"
    full = _full_periods(ds)
    hi, lo = int(full[np.argmax(med[full])]), int(full[np.argmin(med[full])])
    when = [ds.period.values[k].astype("datetime64[D]").astype(object).strftime(fmt)
            for k in (hi, lo)]
    text = (f"<p>Bookings per {per} range from {c.m(med[lo])} ({when[1]}) to {c.m(med[hi])} "
            f"({when[0]}) in the middle outcome. {mid_text}</p>")
    html = text + c.figure(
        fan(ds), "Fan chart of bookings per period and cumulative bookings against the goal",
        "Left: bookings per period. Right: cumulative bookings against the goal trajectory. "
        "Dark band: the middle half of simulated outcomes; light band: 9 in 10.")
    html += "<h3>Checkpoints</h3>" + _table(head, rows, "num")
    if np.isfinite(c.goal):
        html += ('<p class="note">Pipeline coverage: the open pipeline\'s value against what is '
                 "left of the goal at that date (middle outcome); 3x means three dollars of open "
                 "deals for each dollar still to book.</p>")
        phased = bool(c.scenario.get("goal", {}).get("phasing"))
        html += ('<p class="note">The goal trajectory is ' + (
            "phased as the scenario sets it." if phased else
            "the goal spread evenly over the days of the plan period (the scenario sets no "
            "phasing); bookings that come late in the year trail it early on.") + "</p>")
    return Section("forecast", "Bookings over time", html)


def checkpoints(ends: np.ndarray, period: str, fiscal_year_start: int = 1) -> list[int]:
    """Periods whose end is a quarter end of the fiscal year (and the last period); a weekly
    grid, or a horizon with fewer than two such ends, is cut at quarters of its length."""
    n = len(ends)
    if period in ("month", "quarter"):
        month = ends.astype("datetime64[M]").astype(np.int64) % 12  # of the day after the end
        on = [i for i in range(n) if (month[i] - (fiscal_year_start - 1)) % 3 == 0]
        idx = sorted(set(on) | {n - 1})
        if len(idx) >= 2:
            return idx
    return sorted({max(0, min(n - 1, round(n * f) - 1)) for f in (0.25, 0.5, 0.75, 1.0)})


def _coverage(x: float) -> str:
    return "goal met" if not np.isfinite(x) else f"{x:.1f}x"


# --- 3. distribution -----------------------------------------------------------------------------
def distribution(c: Context) -> Section:
    x = np.asarray(annual(c.ds))
    p5, p10, p50, p90, p95 = np.quantile(x, [0.05, 0.1, 0.5, 0.9, 0.95])
    text = []
    if np.isfinite(c.goal):
        miss = x[x < c.goal]
        if len(miss):
            text.append(f"When the goal is missed ({pct(len(miss) / len(x))} of {c.years}), "
                        f"the typical shortfall is {c.m(c.goal - np.median(miss))}.")
        gap = (f"{c.m(c.goal - p10)} short" if p10 < c.goal else
               f"still {c.m(p10 - c.goal)} above the goal")
        text.append(f"In 1 {c.years[:-1]} in 10, bookings stay below {c.m(p10)} ({gap}); "
                    f"in 1 in 10 they exceed {c.m(p90)}.")
    else:
        text.append(f"In 1 {c.years[:-1]} in 10 bookings stay below {c.m(p10)}; in 1 in 10 "
                    f"they exceed {c.m(p90)}.")
    levels = nice_thresholds(p5, p95, 7)
    if np.isfinite(c.goal):
        levels = sorted(set(levels) | {c.goal})
    rows = [[("<strong>" + c.m(v) + " (goal)</strong>") if v == c.goal else c.m(v),
             pct(float(np.mean(x >= v)))] for v in levels]
    html = f"<p>{' '.join(text)}</p>"
    html += '<div class="split"><div>' + c.figure(
        goal(c.ds), "Histogram of bookings over the horizon with the goal",
        "Each bar counts simulated outcomes; blue ones reach the goal.") + "</div>"
    html += '<div><h3>Chance of booking at least</h3>' + _table(
        ["bookings", "chance"], rows, "num") + "</div></div>"
    return Section("distribution", "How bookings could land", html)


# --- 4. funnel ------------------------------------------------------------------------------------
def funnel_section(c: Context) -> Section:
    ds = c.ds
    stages = [str(s) for s in ds.stage.values]
    init = ds.initial_pipeline if "initial_pipeline" in ds else 0
    entered = ds.entered.sum("period") + init
    lost = ds.exited_lost.sum("period")
    nd = ds.exited_no_decision.sum("period")
    rec = ds.recycled.sum("period") if "recycled" in ds else xr.zeros_like(lost)
    open_ = ds.open_at_end  # nurtured prospects count at the stage they will return to
    sitting = ds.pipeline.isel(period=-1) if "pipeline" in ds else open_
    with np.errstate(invalid="ignore", divide="ignore"):
        adv = (entered - lost - nd - rec - open_).clip(min=0)
        share = {k: (v / entered).where(entered > 0) for k, v in
                 (("adv", adv), ("lost", lost), ("nd", nd), ("rec", rec))}
    tis = ds.time_in_stage if "time_in_stage" in ds else None
    rows = []
    med = {k: v.median("draw").values for k, v in share.items()}
    for j, st in enumerate(stages):
        rows.append([esc(st), count(float(entered.isel(stage=j).median())),
                     pct(med["adv"][j]), pct(med["lost"][j]), pct(med["nd"][j]),
                     pct(med["rec"][j]) if float(rec.isel(stage=j).max()) > 0 else "–",
                     days(float(tis.isel(stage=j).median())) if tis is not None else "–",
                     count(float(sitting.isel(stage=j).median()))])
    head = ["stage", "entered", "move on", "lost", "no decision", "to nurture",
            "days in stage", f"open on {date(c.end)}"]
    # where prospects get stuck: past the first stage, the highest exit rate and the slowest stage
    exits = med["lost"] + med["nd"]
    later = list(range(1, len(stages))) or [0]
    leak = max(later, key=lambda j: exits[j] if np.isfinite(exits[j]) else -1)
    words = []
    won = float(ds.won.sum("period").median())
    prospects = float((ds.arrivals.sum(("period", "campaign")) + (
        ds.initial_pipeline.sum("stage") if "initial_pipeline" in ds else 0)).median())
    if won > 0:
        words.append(f"{count(won)} deals are won in the middle outcome: 1 for every "
                     f"{prospects / won:,.0f} prospects that enter the funnel.")
    words.append(f"After the first stage, the biggest leak is at <strong>{esc(stages[leak])}"
                 f"</strong>: {pct(exits[leak])} of those entering are lost or end in no "
                 "decision.")
    if tis is not None:
        slow = tis.median("draw").values
        s = int(np.nanargmax(slow))
        words.append(f"Prospects spend longest in <strong>{esc(stages[s])}</strong> "
                     f"({days(slow[s])} per visit on average).")
    op = sitting.median("draw").values
    s = int(np.argmax(op))
    words.append(f"On {date(c.end)}, most open prospects sit in <strong>{esc(stages[s])}"
                 f"</strong> ({count(op[s])})")
    nurture = float(ds.nurture.isel(period=-1).median()) if "nurture" in ds else 0.0
    words[-1] += (f"; another {count(nurture)} are in nurture, due back later." if nurture >= 1
                  else ".")
    html = f"<p>{' '.join(words)}</p>"
    html += c.figure(funnel(ds), "Funnel: prospects per stage and how their visits ended",
                     "Prospects entering each stage (median over simulated "
                     f"{c.years}) and how their visit ended.")
    html += _table(head, rows, "num")
    html += ('<p class="note">Medians over simulated ' + c.years + '. "Move on" includes '
             "deals won from the last stage; a prospect recycled to nurture and back counts "
             "once per visit.</p>")
    html += c.figure(pipeline(ds), "Open pipeline per stage over time",
                     "Open prospects in each stage at the end of each period: where the "
                     "pipeline piles up.")
    return Section("funnel", "Funnel: conversion and where prospects get stuck", html)


# --- 5. campaigns ---------------------------------------------------------------------------------
def campaign_section(c: Context) -> Section | None:
    ds = c.ds
    if "campaign_cost" not in ds or "revenue_by_campaign" not in ds or ds.sizes.get(
            "campaign", 0) == 0:
        return None
    t = campaign_table(ds)
    chans = {x.get("name"): x.get("channel", "") for x in c.scenario.get("campaigns", [])}
    rows = []
    for name in t.index:
        r = t.loc[name]

        def rng(col, fmt, r=r):
            q = np.array([r[(col, 0.05)], r[(col, 0.5)], r[(col, 0.95)]])
            if not np.isfinite(q[1]):
                return "–"
            if np.isclose(q[0], q[2]):
                return fmt(q[1])
            return _range(q, fmt)

        label = "pipeline open at the start" if name == INITIAL else esc(name)
        rows.append([label, esc(chans.get(name, "") or ""),
                     "–" if name == INITIAL else rng("spend", c.m), rng("bookings", c.m),
                     rng("won", count), rng("roi", lambda v: ratio(v, c.cur)),
                     rng("cost_per_deal", c.m)])
    paid = [n for n in t.index if n != INITIAL]
    total = np.asarray(annual(ds))
    sourced = ds.revenue_by_campaign.sel(campaign=paid).sum("campaign")
    spend = ds.campaign_cost.sel(campaign=paid).sum("campaign")
    share = float(np.median(np.asarray(sourced) / np.where(total > 0, total, np.nan)))
    with np.errstate(invalid="ignore", divide="ignore"):
        roi_all = float((sourced / spend.where(spend > 0)).median())
    words = [f"This year's campaigns source {c.m(float(sourced.median()))} of bookings "
             f"({pct(share)} of the total) for {c.m(float(spend.median()))} of spend: "
             f"{ratio(roi_all, c.cur)} of bookings per {c.m(1)} spent."]
    if "pool_cost" in ds:  # the reps who work these leads cost money too
        from simengine.analysis.summary import campaign_return

        reps = float(ds.pool_cost.sum("pool").median())
        all_in = campaign_return(ds)[1]
        words.append(f"Counting the sales teams' cost as well ({c.m(reps)}), the return "
                     f"all-in is {ratio(float(all_in.median()), c.cur)} per {c.m(1)}.")
    if INITIAL in t.index:
        words.append(f"Deals already open on {date(c.start)} add "
                     f"{c.m(t.loc[INITIAL, ('bookings', 0.5)])}.")
    roi = t[("roi", 0.5)].dropna()
    if len(roi) > 1:
        words.append(f"Best return: <strong>{esc(roi.idxmax())}</strong> "
                     f"({ratio(roi.max(), c.cur)} per {c.m(1)}); lowest: "
                     f"<strong>{esc(roi.idxmin())}</strong> ({ratio(roi.min(), c.cur)}).")
    html = f"<p>{' '.join(words)}</p>"
    html += c.figure(campaigns(ds), "Campaign spend, sourced bookings and return",
                     "Median (dot), middle half (thick bar) and 9 in 10 range (thin bar) of "
                     f"simulated {c.years}.")
    html += _table(["campaign", "channel", "spend", "sourced bookings", "deals won",
                    f"bookings per {c.m(1)}", "cost per deal"], rows, "num")
    html += ('<p class="note">Bookings are attributed to the campaign that created the '
             "prospect (first touch). Middle outcome with the 9 in 10 range in brackets. Only "
             "bookings inside the plan period count; deals still open at the end are not "
             "valued here.</p>")
    return Section("campaigns", "Campaigns: spend, sourced bookings and return", html)


# --- 6. capacity ----------------------------------------------------------------------------------
CAPACITY_FIGURE_NEEDS = ("utilization", "queue_length", "abandoned", "queue_wait")


def capacity_section(c: Context) -> Section | None:
    ds = c.ds
    if "pool" not in ds.dims or "utilization" not in ds:
        return None
    pools = [str(p) for p in ds.pool.values]
    util = ds.utilization
    fmt = "%b %Y" if ds.attrs.get("period") != "week" else "%d %b %Y"
    rows = []
    for p in pools:
        u = util.sel(pool=p)
        peak = u.median("draw").values
        k = int(np.nanargmax(peak))
        when = ds.period.values[k].astype("datetime64[D]").astype(object).strftime(fmt)

        def band(var, fn, reduce=None, p=p):
            if var not in ds:
                return "–"
            x = ds[var].sel(pool=p)
            return _range(_q(reduce(x) if reduce else x), fn)

        rows.append([esc(p), band("headcount", lambda v: f"{v:,.1f}", lambda x: x.mean("period")),
                     _range(_q(u.mean("period")), pct), f"{pct(float(peak[k]))} ({when})",
                     band("queue_wait", days), band("waited_share", pct),
                     band("abandoned", count, lambda x: x.sum("period")),
                     band("pool_cost", c.m)])
    mu = util.mean("period").median("draw").values
    b = int(np.nanargmax(mu))
    words = [f"The busiest team is <strong>{esc(pools[b])}</strong>, working at {pct(mu[b])} "
             "of its selling capacity on average."]
    if "queue_wait" in ds:
        qw = ds.queue_wait.quantile([0.5, 0.95], dim="draw").transpose("quantile", "pool").values
        mid = ", ".join(f"{esc(p)} {days(v)}" for p, v in zip(pools, qw[0], strict=True))
        bad = ", ".join(f"{days(v)} at {esc(p)}" for p, v in zip(pools, qw[1], strict=True))
        words.append(f"The average wait for a rep is {mid} in the middle outcome, and reaches "
                     f"{bad} in the worst 1 {c.years[:-1]} in 20.")
    if "abandoned" in ds:
        ab = ds.abandoned.sum("period")
        tot = _q(ab.sum("pool"))
        if tot[2] >= 1:
            worst = pools[int(np.nanargmax(ab.median("draw").values))]
            words.append(f"{count(tot[1])} prospects go cold while waiting and are lost "
                         f"(9 in 10: {count(tot[0])}–{count(tot[2])}), most of them at "
                         f"{esc(worst)}.")
    if "pool_cost" in ds:
        cost = _q(ds.pool_cost.sum("pool"))
        words.append(f"The teams cost {c.m(cost[1])} over the plan period.")
    html = f"<p>{' '.join(words)}</p>"
    if all(v in ds for v in CAPACITY_FIGURE_NEEDS):
        from simengine.plot.pools import capacity

        html += c.figure(capacity(ds), "Utilisation and queue of each sales team",
                         "Per team: the share of selling capacity in use, and the prospects "
                         "waiting for a rep (line) and going cold (bars), per period.")
    html += _table(["team", "reps (average)", "average utilisation", "busiest period (median)",
                    "wait for a rep", "had to wait", "went cold waiting", "cost"], rows, "num")
    html += ('<p class="note">Middle outcome with the 9 in 10 range in brackets. The wait is '
             "the average over the prospects a rep picked up; prospects that went cold are "
             "counted as lost in the funnel.</p>")
    return Section("capacity", "Sales capacity: utilisation and queues", html)


# --- 7. comparison --------------------------------------------------------------------------------
def comparison_section(c: Context) -> Section | None:
    full = c.full
    if "scenario" not in full.dims:
        return None
    names = [str(s) for s in full.scenario.values]
    base = names[0]
    views = {s: one_scenario(full, s) for s in names}
    tot = {s: annual(v) for s, v in views.items()}
    goals = {s: float(v.attrs.get("goal", np.nan)) for s, v in views.items()}
    has_goal = any(np.isfinite(g) for g in goals.values())
    rows = []
    words = []
    for s in names:
        sub = views[s]
        x = np.asarray(tot[s])
        q = np.quantile(x, [0.05, 0.5, 0.95])
        row = [esc(s)]
        if has_goal and not np.isfinite(goals[s]):
            row.append("–")
        elif has_goal:
            g = prob_goal(sub)
            row.append(f"{pct(g.p)} <span class=\"band\">({points(g.se)})</span>" if 0 < g.p < 1
                       else pct(g.p))
        row.append(_range(q, c.m))
        if s == base:
            row.append("–")
        else:
            d = _paired(tot[s], tot[base])
            dq = np.quantile(d, [0.05, 0.5, 0.95])
            row.append(f'{"+" if dq[1] >= 0 else ""}{c.m(dq[1])} <span class="band">'
                       f"({c.m(dq[0])} to {c.m(dq[2])})</span>")
            words.append(f"<strong>{esc(s)}</strong> books {c.m(abs(dq[1]))} "
                         f"{'more' if dq[1] >= 0 else 'less'} than {esc(base)} in the middle "
                         f"outcome (9 in 10: {c.m(dq[0])} to {c.m(dq[2])})"
                         + (f"; its chance of reaching its goal of {c.m(goals[s])} is "
                            f"{pct(prob_goal(sub).p)}" if np.isfinite(goals[s]) else "") + ".")
        rows.append(row)
    head = ["scenario"] + (["chance of goal"] if has_goal else []) + [
        "bookings (middle, 9 in 10)", f"difference to {esc(base)} (middle, 9 in 10)"]
    html = f"<p>{' '.join(words)}</p>"
    html += c.figure(compare_figure(full), "Bookings of each scenario and the difference",
                     "Each scenario is simulated with the same random numbers, so the "
                     "difference is measured draw by draw and its band is narrow.")
    html += _table(head, rows, "num")
    return Section("comparison", "Scenarios compared", html)


def _paired(a: xr.DataArray, b: xr.DataArray) -> np.ndarray:
    """Per-draw difference a − b over the draws both scenarios simulated (same draw index =
    same random numbers)."""
    a, b = xr.align(a, b, join="inner")
    return np.asarray(a - b)


# --- 8. assumptions -------------------------------------------------------------------------------
def assumptions(c: Context) -> Section:
    ds, sc = c.ds, c.scenario
    start = str(sc.get("horizon", {}).get("start", c.start))
    html = []
    if "parameter" in ds.dims and "parameters" in ds and ds.sizes["parameter"]:
        rows = []
        for j, path in enumerate(str(p) for p in ds.parameter.values):
            kind = kind_of(path)
            try:
                spec = describe_dist(lookup(sc, path), kind, c.cur)
            except (KeyError, IndexError, StopIteration, TypeError):
                spec = "–"
            q = _q(ds.parameters.isel(parameter=j))

            def f(v, kind=kind):
                return format_value(v, kind, c.cur, start)

            rows.append([f"{esc(parameter_label(path))}<br><code>{esc(path)}</code>",
                         esc(spec), f(q[0]), f(q[1]), f(q[2])])
        html.append(f"<p>{len(rows)} assumptions are uncertain: each simulated "
                    f"{c.years[:-1]} draws its own value from the distribution below and holds "
                    "it for every prospect. This is what makes the bands honest.</p>")
        html.append(_table(["assumption", "distribution", "P5 drawn", "P50 drawn", "P95 drawn"],
                           rows, "params dist"))
    else:
        html.append("<p>No assumption is uncertain in this scenario: the bands show only the "
                    "randomness of individual prospects, and are narrower than the real "
                    "uncertainty.</p>")
    risks = sc.get("friction", [])
    if risks:
        rows = []
        for j, fr in enumerate(risks):
            effects = []
            for key, label in (("dwell", "time in stage ×"), ("lost", "loss rate +"),
                               ("no_decision", "no-decision rate +")):
                v = fr.get(key)
                if v is None or v == 0 or (key == "dwell" and v == 1):
                    continue
                kind = "number" if key == "dwell" else "share"
                effects.append(f"{label} {esc(describe_dist(v, kind, c.cur))}")
            when = fr.get("start")
            when = esc(describe_dist(when, "date", c.cur)) if when is not None else "–"
            length = fr.get("end") and date(fr["end"]) or (
                esc(describe_dist(fr.get("days"), "days", c.cur)) if fr.get("days") else "–")
            happened = "–"
            if "friction_active" in ds and "friction" in ds.dims and j < ds.sizes["friction"]:
                happened = pct(float(ds.friction_active.isel(friction=j).mean()))
            rows.append([esc(fr.get("name", j)), pct(float(fr.get("probability", 1))),
                         happened, esc(", ".join(fr.get("stages", []))), when, length,
                         "; ".join(effects) or "–"])
        html.append("<h3>Risks and friction windows</h3>")
        html.append(_table(["window", "chance", f"share of {c.years} it hit",
                            "stages", "starts", "ends / lasts", "effect"], rows, "params"))
    cor = sc.get("correlations", [])
    if cor:
        items = "".join(f"<li><code>{esc(x['between'][0])}</code> and <code>"
                        f"{esc(x['between'][1])}</code>: correlation {x['rho']:+.2f}</li>"
                        for x in cor)
        html.append(f"<h3>Assumptions that move together</h3><ul>{items}</ul>")
    html.append(_plan(c))
    html.append(_rules(c))
    if not sc:
        html.append('<p class="note">This result does not carry its resolved scenario (a '
                    "comparison keeps each scenario's fingerprint, listed under Provenance); "
                    "the distributions are in the scenario files.</p>")
    else:
        text = json.dumps(sc, indent=2, ensure_ascii=False)
        html.append(f"<details><summary>The complete resolved scenario (JSON, "
                    f"{len(text.splitlines()):,} lines)</summary><pre>{esc(text)}</pre>"
                    "</details>")
    return Section("assumptions", "Assumptions", "".join(html))


def _rules(c: Context) -> str:
    """What the multipliers and no-decision rates amount to over the funnel, in numbers."""
    from simengine.errors import ScenarioError
    from simengine.scenario import validate
    from simengine.scenario.rules import statements

    if not c.scenario:
        return ""
    try:
        said = statements(validate(c.scenario))
    except (ScenarioError, ValueError, KeyError, TypeError):  # an older result's scenario
        return ""
    if not said:
        return ""
    items = "".join(f"<li>{esc(s)}</li>" for s in said)
    return ("<h3>What the multipliers and no-decision rates do</h3><p>At the mean parameters, "
            "without friction windows. Lead-to-win is the chance that a prospect is eventually "
            "won: for a segment, from the first stage; for a campaign, from the stage its "
            f"prospects enter.</p><ul>{items}</ul>")


def _plan(c: Context) -> str:
    """The fixed shape of the plan: stages and campaigns, compactly."""
    sc = c.scenario
    out = []
    stages = sc.get("stages", [])
    if stages:
        rows = []
        for st in stages:
            nxt = "; ".join(f"{esc(k)}: {esc(describe_dist(v, 'share', c.cur))}"
                            for k, v in st.get("next", {}).items())
            nd = st.get("no_decision", 0)
            rec = st.get("recycle")
            rows.append([esc(st["name"]), nxt or "–",
                         esc(describe_dist(nd, "share", c.cur)) if nd else "–",
                         (f"{esc(describe_dist(rec['p'], 'share', c.cur))} to "
                          f"{esc(rec['to'])}") if rec else "–",
                         esc(describe_dist(st.get("dwell"), "days", c.cur)),
                         esc(st.get("worked_by") or "–")])
        head = ["stage", "moves on to", "no decision", "to nurture",
                "days in stage (per prospect)", "worked by"]
        if not any(st.get("worked_by") for st in stages):
            head, rows = head[:-1], [r[:-1] for r in rows]
        out.append("<h3>Stages</h3>" + _table(head, rows, "params"))
    pools = sc.get("pools", {})
    if pools:
        rows = []
        for name, po in pools.items():
            ramp = po.get("ramp")
            hires = ", ".join(f"{x['count']:g} on {date(x['date'])}" for x in po.get("hires", []))
            rows.append([esc(name), esc(describe_dist(po.get("headcount"), "number", c.cur)),
                         f"{po.get('slots_per_rep', 1):g}",
                         esc(describe_dist(po.get("selling_time", 1), "share", c.cur)),
                         (f"{days(ramp['days'])} from {pct(ramp['start'])}" if ramp else "–"),
                         esc(describe_dist(po.get("attrition", 0), "share", c.cur)) + " a year",
                         hires or "–",
                         esc(describe_dist(po.get("cost_per_rep_year", 0), "money", c.cur))])
        out.append("<h3>Sales teams</h3>" + _table(
            ["team", "reps at the start", "prospects per rep at once", "selling time",
             "ramp of a new rep", "leavers", "hires", "cost per rep-year"], rows, "params"))
    camps = sc.get("campaigns", [])
    if camps:
        rows = []
        for cp in camps:
            vol = cp.get("volume", {})
            v = "; ".join(f"{esc(k.replace('_', ' '))} "
                          f"{esc(describe_dist(x, kind_of('campaigns.x.volume.' + k), c.cur))}"
                          for k, x in vol.items())
            sch = cp.get("schedule", {})
            when = (f"{date(sch['start'])} – {date(sch['end'])}" if sch.get("start") else "")
            spikes = ", ".join(date(s["date"]) for s in sch.get("spikes", []))
            when = "; ".join(w for w in (when, f"peaks {spikes}" if spikes else "") if w)
            rows.append([esc(cp["name"]), esc(cp.get("enters", "")), v, when or "–"])
        out.append("<h3>Campaigns</h3>" + _table(["campaign", "enters at", "volume", "when"],
                                                 rows, "params"))
    return "".join(out)


# --- 9. provenance --------------------------------------------------------------------------------
def provenance(c: Context) -> Section:
    a = c.full.attrs
    rows = [["scenario", esc(a.get("scenario", ""))],
            ["description", esc(c.scenario.get("description", "") or "–")],
            ["scenario fingerprint (SHA-256)", f"<code>{esc(a.get('scenario_sha256', '–'))}"
             "</code>"],
            ["random seed", esc(a.get("seed", "–"))],
            ["simulated " + c.years, f"{int(a.get('draws', c.ds.sizes['draw'])):,}"],
            ["prospects simulated", count(float(a.get("prospects", np.nan)))],
            ["plan period", f"{c.span} ({esc(a.get('period', ''))}ly reporting)"],
            ["simengine version", esc(a.get("simengine_version", "–"))],
            ["result created", esc(a.get("created", "–"))]]
    if "scenario" in c.full.dims and "scenario_sha256" in c.full.coords:
        rows[2] = ["scenario fingerprints (SHA-256)", "<br>".join(
            f"{esc(s)}: <code>{esc(h)}</code>" for s, h in
            zip(c.full.scenario.values, c.full.scenario_sha256.values, strict=True))]
        rows[0] = ["scenarios compared", esc(", ".join(map(str, c.full.scenario.values)))]
    if "elapsed_seconds" in a:
        rows.append(["simulation time", f"{float(a['elapsed_seconds']):.1f} s"])
    if int(a.get("failed_draws", 0)):
        rows.append(["draws left out (impossible parameters)", f"{int(a['failed_draws']):,}"])
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    html = f'<table class="kv"><tbody>{body}</tbody></table>'
    html += ('<p class="note">The same scenario file, seed and number of draws reproduce '
             "these numbers exactly: <code>simengine run SCENARIO.yaml -n "
             f"{int(a.get('draws', 0))} --seed {esc(a.get('seed', 0))}</code>. The fingerprint "
             "identifies the scenario after every default and override was applied.</p>")
    return Section("provenance", "Provenance", html)


SECTIONS: tuple[Callable[[Context], Section | None], ...] = (
    answer, forecast, distribution, funnel_section, campaign_section, capacity_section,
    comparison_section, assumptions, provenance)


def plan_section(c: Context, plan) -> Section:
    """The plan optimizer's answer: each lever as loaded and in the plan, cost, P(goal), and
    the frontier figure (``plan`` an :class:`~simengine.analysis.optimize.OptimizeResult`)."""
    from simengine.plot.plans import frontier

    def v(x) -> str:
        if isinstance(x, float):
            return amount(x, c.cur) if abs(x) >= 1000 else f"{x:,.4g}"
        return esc(f"{x:,}" if isinstance(x, int) else str(x))

    rows = [[esc(p.path), v(plan.loaded["values"][p.path]), v(plan.values[p.path])]
            for p in plan.levers]
    rows.append(["cost: campaign spend + pool cost", amount(plan.loaded["cost"], c.cur),
                 amount(plan.cost, c.cur)])
    rows.append(["P(goal) ± s.e.",
                 f"{pct(plan.loaded['probability'])} ± {pct(plan.loaded['probability_se'])}",
                 f"{pct(plan.probability)} ± {pct(plan.probability_se)} (fresh draws)"])
    html = (f"<p>{esc(plan.sentence())}</p>"
            + _table(["lever", "as loaded", "plan"], rows)
            + c.figure(frontier(plan), "Expected cost against P(goal) of every plan simulated",
                       f"{len(plan.frontier)} plans simulated on common random numbers; the "
                       "line joins the cheapest plan for each P(goal)."))
    return Section("plan", "The plan: cheapest mix that reaches the goal", html)


def build(ds: xr.Dataset, plan=None) -> tuple[Context, list[Section]]:
    """Every section that applies to ``ds``, in reading order (the plan optimizer's answer
    second when ``plan`` is given)."""
    c = Context.of(ds)
    out = [s for s in (f(c) for f in SECTIONS) if s is not None]
    if plan is not None:
        out.insert(1, plan_section(c, plan))
    return c, out
