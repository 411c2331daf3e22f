"""Write the fitted estimates as a scenario: a raw mapping, YAML with comments, and a report.

Structure of a calibrated stage (``split``): a routing stage with no dwell sends each deal to
the *track* of the way it will end (``opportunity-won``, ``opportunity-lost``, or ``-to-`` a later
stage), each track with its own dwell distribution and clock; no decision leaves at once (stale
deals are not live pipeline). Estimation uncertainty is written as per-draw distributions on the
fitted parameters: a normal with the standard error as sd, truncated away from impossible values.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simengine._version import __version__
from simengine.calibrate.arrivals import ArrivalFit
from simengine.calibrate.families import mean_cv
from simengine.calibrate.fitted import Fitted
from simengine.calibrate.stage_model import StageFit, posterior_open
from simengine.calibrate.values import ValueFit
from simengine.errors import ScenarioError
from simengine.scenario import Scenario, validate

SIG = 4
DRIFT = "drift" in Scenario.model_fields  # the engine takes parameter paths over time
TRUNC_SD = 2.0  # probabilities: normal truncated at +-2 sd, so the shares never sum over 1
TRUNC_SD_FACTOR = 0.8796  # sd of a standard normal truncated to [-2, 2]


def _r(x: float, sig: int = SIG) -> float | int:
    """``x`` to ``sig`` significant digits (an int when whole)."""
    if x == 0 or not math.isfinite(x):
        return 0 if x == 0 else x
    d = sig - int(math.floor(math.log10(abs(x)))) - 1
    y = round(x, d)
    return int(y) if float(y).is_integer() and abs(y) < 1e15 else float(y)


def _uncertain(m: float, se: float, low: float | None = None, high: float | None = None
               ) -> float | dict:
    """A number, or a per-draw normal around it (sd = standard error), truncated to bounds."""
    if not (se > 1e-4 * abs(m)) or not math.isfinite(se):
        return _r(m)
    out: dict[str, Any] = {"dist": "normal", "mean": _r(m), "sd": _r(se, 2)}
    if low is not None:
        out["low"] = _r(low)
    if high is not None:
        out["high"] = _r(high)
    return out


def _positive(m: float, se: float) -> float | dict:
    return _uncertain(m, se, low=m / 10)


def _probability(p: float, se: float) -> tuple[float | dict, float]:
    """A probability with its uncertainty, and the largest value it can take in a draw."""
    if not (se > 1e-5):
        return _r(p, 5), p
    sd = se / TRUNC_SD_FACTOR
    lo, hi = max(0.0, p - TRUNC_SD * sd), min(1.0, p + TRUNC_SD * sd)
    hi = _r(hi, 5)
    return {"dist": "normal", "mean": _r(p, 5), "sd": _r(sd, 2), "low": _r(lo, 5),
            "high": hi}, float(hi)


def _dwell(fit: StageFit, s: int) -> dict:
    sl = fit.slots[s]
    p = sl.params()
    out: dict[str, Any] = {"dist": sl.family}
    for k, val in p.items():
        out[k] = _positive(val, fit.se(fit.param_fn(s, k)))
    return out


def _value(vf: ValueFit) -> dict | float:
    if vf.family == "fixed":
        return _r(vf.a)
    out: dict[str, Any] = {"dist": vf.family}
    se = vf.param_se()
    for k, val in vf.params().items():
        out[k] = _positive(val, se[k])
    return out


def _mix(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    w = {k: round(v / total, 6) for k, v in weights.items() if v > 0}
    big = max(w, key=w.get)
    w[big] = round(1.0 - sum(v for k, v in w.items() if k != big), 6)
    return w


def _track_name(stage: str, kind: str, stages: list[str]) -> str:
    return f"{stage}-to-{kind}" if kind in stages else f"{stage}-{kind}"


def _stage_of_track(f: Fitted, fit: StageFit, t: int) -> str:
    """Scenario stage of track ``t``: the way out, with -fast / -slow for two components."""
    k = fit.track_kind[t]
    base = _track_name(fit.stage, fit.kinds[k], f.stages)
    if fit.n_comp(k) == 1:
        return base
    return f"{base}-{'fast' if fit.track_comp[t] == 0 else 'slow'}"


def _clock(speeds: np.ndarray, quarters: int) -> list[float]:
    """Month-of-quarter speeds shrunk towards no effect: log speeds times q / (q + 1) for a
    pattern seen ``q`` times (a prior worth one quarter without a push), renormalised to mean 1.
    """
    w = quarters / (quarters + 1.0) if quarters > 0 else 1.0
    e = np.exp(w * np.log(np.asarray(speeds, float)))
    return [_r(x, 3) for x in e / e.mean()]


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _expit(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def _cohort_drift(cf, stage: str, key: str) -> dict:
    """The cohort effect as a drift path: an AR(1) on the logit of the share by entry month,
    whose stationary s.d. is the between-cohort s.d. estimated from the history. That s.d. is
    itself estimated from a handful of cohorts (a variance from C values has a relative s.e.
    of about sqrt(2 / (C - 1)), so the s.d. about half that): it is drawn per draw, lognormal
    around the estimate, so the bands carry the uncertainty of their own width."""
    sd = cf.logit_sd * math.sqrt(1 - cf.phi ** 2)
    C = max(int((cf.table.expected >= 5).sum()), 2)
    cv = 0.5 * math.sqrt(2.0 / (C - 1))
    return {"name": f"{stage}-cohorts", "param": f"stages.{stage}.next.{key}", "model": "ar1",
            "by": "cohort", "sd": {"dist": "lognormal", "mean": _r(sd, 3), "cv": _r(cv, 2)},
            "phi": _r(cf.phi, 3)}


def _pace_text(cf) -> str:
    out = f"{cf.stage}: dispersion chi2/df {cf.month_chi2_df:.1f}"
    if cf.pace is not None and cf.months is not None:
        out += (", observed / expected exits by month after cohort effects, "
                f"{cf.pace.model} at {math.exp(cf.pace.level):.2f} (level step s.d. "
                f"{cf.pace.level_sd:.1%}, noise s.d. {cf.pace.noise_sd:.1%})")
    return out


def _pace_windows(f: Fitted, start: dt.date, horizon_days: int) -> list[dict]:
    """One friction window per month of the horizon whose clock speed is drawn per draw: the
    month-to-month error of the pooled fit in the history (``month_tau2``), carried as pace."""
    out = []
    end = start + dt.timedelta(days=horizon_days - 1)
    for st, cf in f.cohorts.items():
        if cf.pace is None and not cf.month_tau2 > 0:
            continue
        fit = f.stage_fits[st]
        tracks = [_stage_of_track(f, fit, t) for t in range(len(fit.pi))] if fit.split \
            else [st]
        last = f.as_of.to_period("M")
        if f.as_of < last.end_time.normalize():
            last -= 1
        for m in pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M"):
            a = max(m.start_time.date(), start)
            b = min(m.end_time.date(), end)
            if cf.pace is not None:
                mu, var = cf.pace.forecast(np.array([(m - last).n]))
                # counting noise is the engine's own: only what is left is pace
                mu, var = float(mu[0]), max(float(var[0]) - cf.pace.poisson_var, 0.0)
            else:
                mu, var = 0.0, cf.month_tau2
            # the clock's speed is the pace (exits about in proportion): dwell = 1 / speed,
            # lognormal with log-median -mu and log-variance var
            cv = math.sqrt(math.expm1(var))
            dwell = {"dist": "lognormal", "mean": _r(math.exp(-mu + var / 2), 3),
                     "cv": _r(cv, 2)} if cv >= 0.005 else _r(math.exp(-mu), 3)
            out.append({"name": f"{st}-pace-{m.year}-{m.month:02d}", "stages": tracks,
                        "start": a, "end": b, "dwell": dwell})
    return out


def _floor5(x: float) -> float:
    """Rounded down to 5 decimals, so that shares never sum over 1 by rounding."""
    return math.floor(max(x, 0.0) * 1e5) / 1e5


# --- the scenario mapping ----------------------------------------------------------------------
def build_raw(f: Fitted, horizon_days: int, name: str | None
              ) -> tuple[dict[str, Any], dict[tuple, list[str]]]:
    """The scenario as a raw mapping, and comments keyed by path (placed above the key)."""
    com: dict[tuple, list[str]] = {}
    start = (f.as_of + pd.Timedelta(days=1)).date()
    src = f.history.source
    stem = "crm" if src.startswith("<") else slug_stem(src)
    raw: dict[str, Any] = {
        "name": name or f"{stem}-as-of-{f.as_of.date().isoformat()}",
        "description": f"Calibrated from {src} as of {f.as_of.date().isoformat()}",
        "horizon": {"start": start, "days": int(horizon_days), "period": "month"},
        "currency": "USD",
    }
    seg_names = list(f.values)
    single = seg_names == ["all"]
    if single:
        vf = f.values["all"]
        raw["deal_value"] = _value(vf)
        com[("deal_value",)] = [_value_comment(vf, "won deals")]
    else:
        raw["segments"] = {}
        for s in seg_names:
            raw["segments"][s] = {"deal_value": _value(f.values[s])}
            labels = sorted(k for k, v in f.segment_of.items() if v == s)
            com[("segments", s)] = [_value_comment(f.values[s], ", ".join(labels)
                                                   if s != "other" else "other segments")]
    raw["pipeline_from"] = f.stages[0]

    # stages
    stages: list[dict] = []
    drifts: list[dict] = []
    for st in f.stages:
        fit = f.stage_fits[st]
        K = len(fit.kinds)
        kname = [_track_name(st, k, f.stages) for k in fit.kinds]
        p_k = [fit.kind_prob(k) for k in range(K)]
        se_k = [fit.se(fit.prob_fn(fit.tracks_of(k))) for k in range(K)]
        se_nd = fit.se(fit.prob_fn(None)) if fit.has_nd else 0.0
        idx = len(stages)
        com[("stages", idx)] = _stage_comment(f, st)
        if fit.split:
            # which shares carry their uncertainty, and which fill the rest (see module doc)
            filler = [k for k in range(K) if fit.kinds[k] == "lost"] or [int(np.argmax(p_k))]
            nxt: dict[str, Any] = {}
            hi_total = 0.0
            for k in range(K):
                if k not in filler:
                    nxt[kname[k]], hi = _probability(p_k[k], se_k[k])
                    cf = f.cohorts.get(st) if DRIFT else None
                    if cf is not None and cf.tau2 > 0 and fit.kinds[k] == cf.kind:
                        # room for the cohort drift's upper range (2 stationary s.d.)
                        hi = _expit(_logit(hi) + 2 * cf.logit_sd)
                        drifts.append(_cohort_drift(cf, st, kname[k]))
                        com[("drift", len(drifts) - 1)] = _cohort_comment(cf) + [
                            f"  a per-draw AR(1) on the logit of {kname[k]} by entry month: "
                            f"stationary s.d. {cf.logit_sd:.2f}, persistence {cf.phi:.2f}"]
                    hi_total += hi
            nd_val, nd_hi = _probability(fit.pi_nd, se_nd) if fit.has_nd else (0, 0.0)
            room = 1.0 - hi_total - nd_hi
            fill_mass = float(sum(p_k[k] for k in filler))
            if room < 0:  # no room for the uncertainty: point estimates
                nxt = {kname[k]: _floor5(p_k[k]) for k in range(K)}
                nd_val = _floor5(fit.pi_nd)
            else:
                for k in filler:
                    nxt[kname[k]] = _floor5(room * p_k[k] / fill_mass)
            nxt = {n: nxt[n] for n in kname}  # in process order
            router = {"name": st, "dwell": 0, "next": nxt}
            if fit.has_nd:
                router["no_decision"] = nd_val
            stages.append(router)
            sliver = 1.0 - sum(_mean_of(x) for x in nxt.values()) - _mean_of(nd_val)
            com[("stages", idx, "dwell")] = [
                "routing only: each deal goes to the track of the way it will end; the waiting "
                "is in the tracks"]
            com[("stages", idx, "next")] = [
                f"{kname[k]}: {p_k[k]:.1%} ± {se_k[k]:.1%}" for k in range(K)] + (
                [f"the remainder ({sliver:.1%}) is the room left for the uncertainty of the "
                 "shares above" + (" and for the cohort drift" if any(
                     d["param"].startswith(f"stages.{st}.") for d in drifts) else "")
                 + ": those deals leave at once as lost"] if sliver > 5e-4 else [])
            if fit.has_nd:
                com[("stages", idx, "no_decision")] = [
                    f"{fit.pi_nd:.1%} ± {se_nd:.1%} never decide (stale): they leave at once"]
            for k in range(K):
                tracks = fit.tracks_of(k)
                target = {} if fit.kinds[k] == "lost" else {fit.kinds[k]: 1}
                if len(tracks) > 1:
                    q = [float(fit.pi[t]) / p_k[k] for t in tracks]
                    sub = {_stage_of_track(f, fit, t): (_floor5(q[i]) if i else _r(q[i], 5))
                           for i, t in enumerate(tracks)}
                    com[("stages", len(stages))] = _kind_comment(f, st, k) + [
                        "two kinds of deal: " + ", ".join(
                            f"{_stage_of_track(f, fit, t)} {q[i]:.1%}"
                            for i, t in enumerate(tracks))
                        + " (a fixed split: the uncertainty is in the share above)"]
                    stages.append({"name": kname[k], "dwell": 0, "next": sub})
                for t in tracks:
                    s_ = fit.track_slot[t]
                    track = {"name": _stage_of_track(f, fit, t), "dwell": _dwell(fit, s_),
                             "next": dict(target)}
                    if fit.slots[s_].calendar:
                        track["calendar"] = {"month_of_quarter": _clock(
                            fit.slots[s_].speeds, f.quarters_seen)}
                    com[("stages", len(stages))] = (
                        _kind_comment(f, st, k) if len(tracks) == 1 else []) + \
                        _dwell_comment(f, st, s_)
                    stages.append(track)
        else:
            nxt = {}
            for k in range(K):
                if fit.kinds[k] != "lost":
                    nxt[fit.kinds[k]], _ = _probability(p_k[k], se_k[k])
            stage = {"name": st, "dwell": _dwell(fit, 0), "next": nxt}
            if fit.has_nd:
                stage["no_decision"], _ = _probability(fit.pi_nd, se_nd)
            if fit.slots[0].calendar:
                stage["calendar"] = {"month_of_quarter": _clock(fit.slots[0].speeds,
                                                                f.quarters_seen)}
            hi = sum(_hi_of(x) for x in nxt.values()) + _hi_of(stage.get("no_decision", 0))
            if hi > 1:
                stage["next"] = {k: _floor5(_mean_of(x)) for k, x in nxt.items()}
                if fit.has_nd:
                    stage["no_decision"] = _floor5(fit.pi_nd)
            stages.append(stage)
            com[("stages", idx, "dwell")] = _dwell_comment(f, st, 0)
            com[("stages", idx, "next")] = [
                f"{fit.kinds[k]}: {p_k[k]:.1%} ± {se_k[k]:.1%}" for k in range(K)] + [
                "the remainder is lost"]
    raw["stages"] = stages
    if drifts:
        raw["drift"] = drifts
    pace = _pace_windows(f, start, horizon_days)
    if pace:
        raw["friction"] = pace
        com[("friction", 0)] = [
            "pace of each month: the fitted model's exits strayed from the months' actual exits "
            "in the history by more than chance",
            "  (" + "; ".join(_pace_text(cf) for cf in f.cohorts.values()) + ");",
            "  each month's clock of the stages that close deals runs at a per-draw speed "
            "whose median and spread are the local level's forecast of those monthly ratios "
            "(a month running r times faster has about r times the exits)"]

    # campaigns: one per calendar month of the horizon, volumes from the level's forecast
    campaigns = []
    end = start + dt.timedelta(days=horizon_days - 1)
    for st, af in f.arrivals.items():
        lf = f.levels[st]
        full = af.months[af.months.days >= 20]
        last = pd.Period(full.month.iloc[-1], freq="M") if len(full) else \
            pd.Timestamp(f.as_of).to_period("M")
        first = True
        for m in pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M"):
            a = max(m.start_time.date(), start)
            b = min(m.end_time.date(), end)
            days = (b - a).days + 1
            w = af.weights[m.month - 1] if af.weights is not None else 1.0
            h = (m - last).n
            mu, var = lf.forecast(np.array([h]))
            rate = math.exp(float(mu[0]))
            # the engine draws Poisson arrivals around the volume: its share of the noise goes
            var_vol = max(float(var[0]) - 1.0 / max(rate * days * w, 1.0), 0.0)
            mean = rate * days * w * math.exp(var_vol / 2)
            if mean <= 0:
                continue
            cv = math.sqrt(math.expm1(var_vol))
            vol = {"dist": "lognormal", "mean": _r(mean), "cv": _r(cv, 3)} if cv > 1e-3 else \
                _r(mean)
            label = f"{m.year}-{m.month:02d}"
            cname = f"arrivals-{label}" if len(f.arrivals) == 1 else f"{st}-{label}"
            camp: dict[str, Any] = {"name": cname, "channel": "crm", "enters": st,
                                    "schedule": {"start": a, "end": b},
                                    "volume": {"leads": vol}}
            if not single:
                camp["segment_mix"] = _mix(f.won_mix)
            if first:
                com[("campaigns", len(campaigns))] = _arrival_comment(f, st, af, lf)
                first = False
            campaigns.append(camp)
    raw["campaigns"] = campaigns

    # open pipeline at the cut-off
    init = []
    for st in f.stages:
        ov = f.open_visits[st]
        if ov.empty:
            continue
        fit = f.stage_fits[st]
        N = np.stack(ov["N"].to_numpy()) if len(ov) else np.zeros((0, 3))
        r, rnd = posterior_open(fit, N)
        extra = np.zeros(len(fit.pi))
        if fit.split and st in f.cohorts:
            r, rnd, extra = cohort_adjust(f.cohorts[st], fit, ov, r, rnd)
        entries = []
        if fit.split:
            for t in range(len(fit.pi)):
                entries.append((_stage_of_track(f, fit, t), r[:, t],
                                N @ fit.slots[fit.track_slot[t]].speeds, extra[t]))
        else:
            in_stage = r.sum(axis=1) / max(1.0 - fit.pi_nd, 1e-12)
            entries.append((st, np.minimum(in_stage, 1.0), N @ fit.slots[0].speeds, 0.0))
        first = True
        for stage_name, w, age, var_cohort in entries:
            n = float(w.sum())
            if n < 0.5:
                continue
            sd = math.sqrt(float((w * (1 - w)).sum()) + var_cohort)
            ages = np.maximum(np.round(age * 2) / 2, 0.0)  # half-day resolution
            tab = pd.Series(w).groupby(ages).sum()
            tab = tab[tab > 1e-9]
            entry: dict[str, Any] = {
                "stage": stage_name,
                "count": _uncertain(n, sd, low=0.0) if sd > 0.05 else _r(n),
                "age": {"dist": "empirical", "values": [_r(float(a)) for a in tab.index],
                        "weights": [_r(float(x), 3) for x in tab.to_numpy()]},
            }
            if not single:
                segs = ov.segment.map(lambda s: f.segment_of.get(str(s), "other")).to_numpy()
                mix = pd.Series(w).groupby(segs).sum()
                mix = {k: float(x) for k, x in mix.items() if k in f.values and x > 0}
                if mix:
                    entry["segment_mix"] = _mix(mix)
            if first:
                com[("initial_pipeline", len(init))] = _pipeline_comment(f, st, r, rnd)
                first = False
            init.append(entry)
    if init:
        raw["initial_pipeline"] = init
    return raw, com


def cohort_adjust(cf, fit: StageFit, ov: pd.DataFrame, r: np.ndarray, rnd: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open deals' track probabilities under their cohort's own share of the main way out.

    A deal open with probability ``r_t`` of each track t under the pooled fit has, under its
    cohort's multiplier ``m`` on the main way out W, ``m r_t / D`` (t in W) and ``r_t / D``
    (others), ``D = 1 + (m - 1) r_W``. ``m`` is the cohort's posterior mean; the posterior s.d.
    adds, per track, the variance ``sum_c (sum_i dr_it/dm)^2 sd_c^2`` (deals of one cohort share
    ``m``; cohorts are independent).
    """
    from simengine.calibrate.cohorts import main_kind

    W = fit.tracks_of(main_kind(fit))
    cohort = pd.to_datetime(ov.entered).dt.to_period("M").to_numpy()
    post = {c: cf.multiplier(c) for c in set(cohort)}
    m = np.array([post[c][0] for c in cohort])
    rW = r[:, W].sum(axis=1)
    D = 1.0 + (m - 1.0) * rW
    inW = np.zeros(r.shape[1], bool)
    inW[W] = True
    out = np.where(inW[None, :], m[:, None] * r, r) / D[:, None]
    dr = np.where(inW[None, :], r * (1.0 - rW)[:, None], -r * rW[:, None]) / (D ** 2)[:, None]
    extra = np.zeros(r.shape[1])
    for c in set(cohort):
        sel = cohort == c
        extra += dr[sel].sum(axis=0) ** 2 * post[c][1] ** 2
    return out, rnd / D, extra


def _mean_of(x) -> float:
    return float(x["mean"]) if isinstance(x, dict) else float(x)


def _hi_of(x) -> float:
    return float(x.get("high", x["mean"])) if isinstance(x, dict) else float(x)


def slug_stem(path: str) -> str:
    from pathlib import Path

    from simengine.calibrate.read import slug

    return slug(Path(path).stem)


# --- comments ---------------------------------------------------------------------------------
def _value_comment(vf: ValueFit, what: str) -> str:
    if vf.family == "fixed":
        return f"{what}: {vf.n:,} won deals, all worth {vf.a:,.0f}: a fixed deal value"
    others = ", ".join(f"{k} {vf.aic[k] - vf.aic[vf.family]:+.0f}" for k in vf.aic
                       if k != vf.family)
    return (f"{what}: {vf.n:,} won deals, sample mean {vf.sample_mean:,.0f} (sd "
            f"{vf.sample_sd:,.0f}); {vf.family} by AIC (others: {others}); fitted mean "
            f"{vf.mean():,.0f}")


def _stage_comment(f: Fitted, st: str) -> list[str]:
    ep, fit = f.episodes[st], f.stage_fits[st]
    by = ", ".join(f"{k} {ep.count(i):,}" for i, k in enumerate(ep.kinds))
    n_open = len(ep.No)
    lines = [f"{st}: {ep.n_closed + n_open + ep.n_stale + ep.n_nd:,} visits known at "
             f"{f.as_of.date()}: ended {ep.n_closed:,} ({by}"
             + (f", no decision {ep.n_nd:,}" if ep.n_nd else "") + f"), open {n_open:,} "
             "(right-censored)" + (f", stale {ep.n_stale:,} (open > "
                                   f"{f.stale_after[st]:.0f} d: no decision)" if ep.n_stale
                                   else "")]
    if len(ep.Nb):
        lines.append(f"  {len(ep.Nb):,} of them entered before the export starts "
                     f"({f.observed_from.date()}): fitted with delayed entry")
    lines.append(f"  censored competing-risks MLE, -log L = {fit.nll:,.1f}, {fit.n_params} "
                 f"parameters, AIC {fit.aic:,.1f}")
    return lines + _choice_comment(fit)


def _dwell_comment(f: Fitted, st: str, s: int) -> list[str]:
    fit = f.stage_fits[st]
    sl = fit.slots[s]
    m, cv = mean_cv(sl.family, sl.a, sl.b)
    d = sl.dist()
    lines = [f"dwell: {sl.family}{' on a month-of-quarter clock' if sl.calendar else ''}: "
             f"mean {m:.1f} d, cv {cv:.2f}, P50 {d.median():.0f} d, P90 {d.ppf(0.9):.0f} d "
             "(stage clock)"]
    c = f.stale_after.get(st)
    if c is not None:
        lines.append(f"  fitted P(dwell > {c:.0f} d, the stale cut-off) = {d.sf(c):.1%}")
    if sl.calendar:
        sp = sl.speeds
        lines.append(f"  clock speed in months 1 / 2 / 3 of a quarter {sp[0]:.2f} / {sp[1]:.2f} "
                     f"/ {sp[2]:.2f}: exits bunch where it runs fast (speeds: point estimates)")
    lines.append("  parameters: per-draw normal(estimate, standard error)")
    return lines


def _choice_comment(fit: StageFit) -> list[str]:
    """How the dwell model was chosen: the best AIC of simpler alternatives."""
    c = fit.candidates
    out = [f"  model chosen by AIC among {len(c)} candidates (lognormal / gamma / Weibull per "
           "dwell, with or without a month-of-quarter clock, one or two components per way "
           "out)"]
    one = [x["aic"] for x in c if max(x["components"]) == 1]
    flat = [x["aic"] for x in c if not any(x["calendars"])]
    alts = []
    if one and max(fit.track_kind.count(k) for k in range(len(fit.kinds))) > 1:
        alts.append(f"one component per way out {min(one) - fit.aic:+,.0f}")
    if flat and any(s.calendar for s in fit.slots):
        alts.append(f"no clock {min(flat) - fit.aic:+,.0f}")
    if alts:
        out.append("  ΔAIC of the best simpler model: " + ", ".join(alts))
    return out


def _kind_comment(f: Fitted, st: str, k: int) -> list[str]:
    ep = f.episodes[st]
    kind = ep.kinds[k]
    obs = ep.closed_days[ep.kind == k]
    head = (f"deals that end {kind}" if kind in ("won", "lost")
            else f"deals that move on to {kind}")
    return [f"{head}: {len(obs):,} observed, dwell P50 {np.median(obs):.0f} d, max "
            f"{obs.max():.0f} d (calendar days, still-open deals not included)"]


def _arrival_comment(f: Fitted, st: str, af: ArrivalFit, lf) -> list[str]:
    m = af.months
    per_month = af.rate * 365.25 / 12
    shown = ", ".join(f"{r.month} {r['count']:,}" + ("" if r.days >= 28 else f" ({r.days} d)")
                      for _, r in m.iterrows())
    lines = [f"arrivals into {st}: {af.n:,} deals entered {af.start.date()}..{af.end.date()}, "
             f"{af.rate:.2f}/day ({per_month:,.0f}/month) on average",
             f"  by month: {shown}",
             f"  level: {lf.model} on the log of arrivals per day ({lf.months} complete months)"
             f": last level {math.exp(lf.level) * 365.25 / 12:,.0f}/month, drift "
             f"{lf.drift:+.1%} ± {lf.drift_se:.1%} a month, level step s.d. {lf.level_sd:.1%}"
             f", noise s.d. {lf.noise_sd:.1%}",
             "  each month is a campaign; its volume is lognormal with the forecast's median "
             "and spread (growing with the horizon); Poisson noise comes on top",
             "  volumes are lead counts: a budget's saturation is left unset (history rarely "
             "identifies diminishing returns; see volume in docs/scenario-reference.md)"]
    if af.weights is not None:
        lines.append("  month-of-year weights " + ", ".join(f"{w:.2f}" for w in af.weights))
    return lines


def _cohort_comment(cf) -> list[str]:
    t = cf.table
    shown = ", ".join(f"{r.cohort} {r.ratio:.2f}" for r in t.itertuples() if r.expected >= 5)
    return [f"cohort effects on '{cf.kind}' from {cf.stage}: dispersion chi2/df "
            f"{cf.chi2_df:.1f} (1 = chance alone), between-cohort s.d. "
            f"{math.sqrt(cf.tau2):.1%}, persistence {cf.phi:.2f}"
            + ("" if cf.phi_estimated else " (assumed: too few cohorts)"),
            f"  observed / expected by cohort: {shown}"]


def _pipeline_comment(f: Fitted, st: str, r: np.ndarray, rnd: np.ndarray) -> list[str]:
    ov = f.open_visits[st]
    return [f"open in {st} at {f.as_of.date()}: {len(ov):,} deals (ages {ov.age.min():.0f}.."
            f"{ov.age.max():.0f} d), {f.stale_counts[st]:,} stale ones left out",
            f"  split by the probability of each way out given how long they have been open "
            f"(expected no decision: {rnd.sum():,.0f}); ages on each track's clock"]


# --- YAML with comments -----------------------------------------------------------------------
def _flow(v: Any) -> str:
    return yaml.safe_dump(v, default_flow_style=True, width=10 ** 9, sort_keys=False).strip()\
        .removesuffix("\n...").strip()


def _leaf(v: Any) -> bool:
    if not isinstance(v, (dict, list)):
        return True
    if isinstance(v, dict) and "dist" in v:
        return True
    if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
        return True
    return isinstance(v, dict) and len(_flow(v)) <= 80 and not any(
        isinstance(x, dict) and "dist" not in x for x in v.values())


def write_yaml(raw: dict[str, Any], com: dict[tuple, list[str]], header: list[str]) -> str:
    out = [f"# {line}" if line else "#" for line in header]

    def comments(path: tuple, ind: str) -> None:
        for line in com.get(path, []):
            lead = len(line) - len(line.lstrip(" "))
            out.extend(textwrap.wrap(line.strip(), width=max(60, 99 - len(ind)),
                                 initial_indent=f"{ind}# {' ' * lead}",
                                 subsequent_indent=f"{ind}# {' ' * (lead + 2)}",
                                 break_on_hyphens=False) or [f"{ind}#"])

    def emit(node: dict, path: tuple, ind: str, first_prefix: str | None = None) -> None:
        for i, (k, v) in enumerate(node.items()):
            lead = first_prefix if (i == 0 and first_prefix is not None) else ind
            if not (i == 0 and first_prefix is not None):
                comments(path + (k,), ind)
            if _leaf(v):
                out.append(f"{lead}{k}: {_flow(v)}")
            elif isinstance(v, dict):
                out.append(f"{lead}{k}:")
                emit(v, path + (k,), ind + "  ")
            else:
                out.append(f"{lead}{k}:")
                for j, item in enumerate(v):
                    comments(path + (k, j), ind + "  ")
                    if isinstance(item, dict):
                        emit(item, path + (k, j), ind + "    ", first_prefix=ind + "  - ")
                    else:
                        out.append(f"{ind}  - {_flow(item)}")
            if path == ():
                out.append("")

    emit(raw, (), "")
    return "\n".join(out).rstrip() + "\n"


def report_text(f: Fitted, sc: Scenario) -> str:
    lines = [f"Calibration of {f.history.source} as of {f.as_of.date()} "
             f"(simengine {__version__})", ""]
    lines.append("Assumptions")
    lines += [f"  - {n}" for n in f.notes] or ["  (none)"]
    if f.warnings:
        lines += ["", "Warnings"] + [f"  ! {w}" for w in f.warnings]
    lines += ["", "Stages"]
    for st in f.stages:
        fit = f.stage_fits[st]
        lines += [f"  {x}" for x in _stage_comment(f, st)]
        for k, kind in enumerate(fit.kinds):
            lines.append(f"    P({kind}) = {fit.kind_prob(k):.3f} ± "
                         f"{fit.se(fit.prob_fn(fit.tracks_of(k))):.3f}")
        if fit.has_nd:
            lines.append(f"    P(no decision) = {fit.pi_nd:.3f} ± "
                         f"{fit.se(fit.prob_fn(None)):.3f}")
        for s, sl in enumerate(fit.slots):
            who = ", ".join(_stage_of_track(f, fit, t) for t in range(len(fit.pi))
                            if fit.track_slot[t] == s)
            ps = ", ".join(f"{k} {v:.4g} ± {fit.se(fit.param_fn(s, k)):.2g}"
                           for k, v in sl.params().items())
            lines.append(f"    dwell ({who}): {sl.family}({ps})"
                         + (f", month-of-quarter clock {np.round(sl.speeds, 2).tolist()}"
                            if sl.calendar else ""))
            lines += [f"      {x.strip()}" for x in _dwell_comment(f, st, s)[:2]]
    lines += ["", "Deal values"]
    for name, vf in f.values.items():
        lines.append(f"  {name}: {_value_comment(vf, name).split(': ', 1)[1]}")
    lines += ["", "Arrivals"]
    for st, af in f.arrivals.items():
        lines += [f"  {x.strip()}" for x in _arrival_comment(f, st, af, f.levels[st])]
    if f.cohorts:
        lines += ["", "Drift between cohorts"]
        for cf in f.cohorts.values():
            lines += [f"  {x.strip()}" for x in _cohort_comment(cf)]
            if cf.moves is not None and len(cf.moves) > 1:
                lines.append(f"  decided share of '{cf.kind}' at the last month-ends: " + ", ".join(
                    f"{r.month_end} {r.share:.1%}" + ("" if not np.isfinite(r.move_se) else
                                                      f" ({r.move_se:+.1f} s.e.)")
                    for r in cf.moves.itertuples()))
    lines += ["", "Open pipeline"]
    for e in sc.initial_pipeline:
        lines.append(f"  {e.stage}: {e.count.mean():,.1f} deals")
    return "\n".join(lines) + "\n"


def build(f: Fitted, horizon_days: int = 365, name: str | None = None
          ) -> tuple[Scenario, str, str]:
    raw, com = build_raw(f, horizon_days, name)
    try:
        sc = validate(raw, origin="calibrated scenario")
    except ScenarioError as exc:  # a bug, not the user's: say so plainly
        raise RuntimeError(f"the calibrated scenario does not validate:\n{exc}") from None
    ep_total = sum(e.n_closed + len(e.No) + e.n_stale + e.n_nd for e in f.episodes.values())
    header = [
        f"Calibrated by simengine {__version__} from {f.history.source} as of "
        f"{f.as_of.date()}; the horizon starts the next day.",
        f"{ep_total:,} stage visits known at the cut-off; nothing later was used.",
        "Per-draw distributions on fitted parameters are their estimation error (normal with "
        "the standard error from the observed information as sd), so the bands include it.",
        "",
        "Assumptions about the data:",
    ] + [f"  - {n}" for n in f.notes] + (["", "Warnings:"] + [f"  ! {w}" for w in f.warnings]
                                        if f.warnings else []) + [""]
    header = [x for line in header for x in _wrap(line)]
    text = write_yaml(raw, com, header)
    again = validate(yaml.safe_load(text), origin="calibrated YAML")
    if again != sc:
        raise RuntimeError("the calibrated YAML does not read back as the same scenario")
    return sc, text, report_text(f, sc)


def _wrap(line: str, width: int = 98) -> list[str]:
    if len(line) <= width:
        return [line]
    ind = " " * (len(line) - len(line.lstrip(" -!")) )
    return textwrap.wrap(line, width=width, subsequent_indent=ind + "  ") or [line]
