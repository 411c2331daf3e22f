"""``calibrate``: a CRM export in, a scenario (with the story of every number) out."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simengine.calibrate.arrivals import ArrivalFit, fit_arrivals
from simengine.calibrate.clock import Clock
from simengine.calibrate.cohorts import (
    CohortFit,
    fit_cohorts,
    main_kind,
    month_dispersion,
    share_moves,
)
from simengine.calibrate.families import FAMILIES, logpdf_logsf
from simengine.calibrate.fitted import Fitted
from simengine.calibrate.level import LevelFit, fit_level
from simengine.calibrate.read import CalibrationError, History, cut, read, slug
from simengine.calibrate.stage_model import MIN_TAU, Episodes, StageFit
from simengine.calibrate.structure import fit_stage
from simengine.calibrate.values import ValueFit, fit_values
from simengine.files import write_text
from simengine.scenario import Scenario

TRUNCATION_GAP_DAYS = 30  # first exit this long after the first entry: the export starts late
MIN_VALUE_DEALS = 10
RECENT_DAYS = 45


@dataclass
class CalibrationResult:
    """What :func:`calibrate` returns.

    Attributes
    ----------
    scenario : Scenario
        The calibrated scenario (validated), starting the day after ``as_of``.
    yaml : str
        The same scenario as YAML, with comments saying where each number came from.
    report : str
        The assumptions made about the data and the fit diagnostics, as text.
    fitted : Fitted
        The estimates themselves (fits, standard errors, counts).
    """

    scenario: Scenario
    yaml: str
    report: str
    fitted: Fitted

    @property
    def as_of(self) -> dt.date:
        return self.fitted.as_of.date()

    @property
    def assumptions(self) -> list[str]:
        return list(self.fitted.notes)

    def write(self, path: str | Path) -> Path:
        """Write the YAML (atomically: a temporary name, then renamed)."""
        return write_text(path, self.yaml)


def _day(ts) -> np.ndarray:
    return np.asarray(pd.to_datetime(ts).to_numpy().astype("datetime64[D]").astype(np.int64))


def estimate(h: History, as_of=None, *, split: bool = True, calendar: bool | None = None,
             components: int | str = "auto", stale_after: float | None = None,
             observed_from=None, families: tuple[str, ...] = FAMILIES,
             seasonality: bool | None = None) -> Fitted:
    """Fit every part of the scenario from the history as known at ``as_of``."""
    for fam in families:
        if fam not in FAMILIES:
            raise CalibrationError(f"families: expected names among {', '.join(FAMILIES)}, "
                                   f"found {fam!r}")
    h, t = cut(h, as_of)
    v = h.visits
    notes: list[str] = []
    warnings: list[str] = []
    closed = v[v.outcome.isin(["won", "lost", "no_decision"]) | v.outcome.isin(h.stages)]
    if closed.empty:
        raise CalibrationError(f"{h.source}: expected some deals closed (or moved on) by "
                               f"{t.date().isoformat()}, found none: nothing to fit")
    first_entry = v.entered.min()
    first_exit = v.exited.min()
    if h.undated:
        what = ", ".join(f"{k}: {n:,}" for k, n in h.undated_labels.items())
        notes.append(f"{h.undated:,} rows carry no date ({what}) and cannot be placed in time: "
                     "they are left out (a deal is modelled from the day it entered the stage).")

    # --- where the export really starts ----------------------------------------------------
    if observed_from is not None:
        t0 = pd.Timestamp(observed_from).normalize()
        notes.append(f"The export is taken to start on {t0.date()} (given).")
    elif (first_exit - first_entry).days > TRUNCATION_GAP_DAYS:
        t0 = first_exit
        n_before = int((v.entered < t0).sum())
        notes.append(
            f"No exit is recorded before {t0.date()} although entries start on "
            f"{first_entry.date()}: the export is taken to start on {t0.date()} (deals that "
            f"closed before were never exported). The {n_before:,} visits entered earlier are "
            "survivors of that filter: they enter the fits with delayed entry (left "
            "truncation) and are not counted as arrivals.")
    else:
        t0 = first_entry
    truncated = bool((v.entered < t0).any())
    clock = Clock(_day([min(first_entry, t0)])[0], _day([t])[0] + 1)

    # --- the quarter-end clock: a time effect, identified by quarters, not by deals ----------
    months = pd.period_range(t0, t, freq="M")
    full = [m for m in months if (min(m.end_time.normalize(), t)
                                  - max(m.start_time.normalize(), t0)).days + 1 >= 20]
    seen = [sum(1 for m in full if (m.month - 1) % 3 == j) for j in range(3)]
    quarters_seen = min(seen)
    if calendar is None:
        calendar = quarters_seen >= 1
        if calendar:
            notes.append(
                f"Exits were observed over {len(full)} months (each month of the quarter at "
                f"least {quarters_seen} time{'s' if quarters_seen > 1 else ''}): a month-of-"
                "quarter clock is considered for each way out and kept where AIC prefers it; "
                f"its log speeds are shrunk towards no effect by {quarters_seen}/"
                f"{quarters_seen + 1} (a quarter of no effect as prior: a pattern seen in "
                "few quarters may not repeat).")
        else:
            notes.append(f"Exits were observed over {len(full)} months only: a month-of-"
                         "quarter pattern (quarter-end push) needs each month of the quarter "
                         "seen at least once, so none is fitted (calendar=True forces it).")

    # --- per stage: episodes, stale cut-off, fit -------------------------------------------
    span_days = (t - first_entry).days
    stage_fits, episodes, stale, open_visits, stale_counts = {}, {}, {}, {}, {}
    cohorts: dict[str, CohortFit] = {}
    for st in h.stages:
        sv = v[v.stage == st]
        is_closed = sv.outcome.isin(["won", "lost"] + h.stages).to_numpy()
        is_nd = (sv.outcome == "no_decision").to_numpy()
        is_cens = (sv.outcome == "censored").to_numpy()
        is_open = (sv.outcome == "").to_numpy()
        dwell = (sv.exited - sv.entered).dt.days.to_numpy(float)
        age = (t - sv.entered).dt.days.to_numpy(float)
        c = stale_after
        if c is None and is_closed.any():
            longest = float(np.nanmax(dwell[is_closed]))
            if longest < 0.8 * span_days:
                c = longest
        stale[st] = c
        is_stale = is_open & (age > c) if c is not None else np.zeros(len(sv), bool)
        stale_counts[st] = int(is_stale.sum())
        ent, ex = _day(sv.entered), _day(sv.exited.fillna(t))
        kinds = [k for k in h.stages[h.stages.index(st) + 1:] + ["won", "lost"]
                 if (sv.outcome[is_closed] == k).any()]
        if not kinds:
            raise CalibrationError(f"{h.source}: stage '{st}': expected some visits that ended "
                                   f"by {t.date().isoformat()}, found none: its dwell cannot "
                                   "be fitted")
        kind_idx = {k: i for i, k in enumerate(kinds)}
        cmask = is_closed
        cens_at = np.where(is_cens, ex + 0.5, _day([t])[0] + 1.0)
        omask = (is_open & ~is_stale) | is_cens
        tmask = (sv.entered < t0).to_numpy()
        ep = Episodes(
            stage=st, kinds=kinds,
            kind=np.array([kind_idx[k] for k in sv.outcome[cmask]], np.int64),
            Nc=clock.span(ent[cmask] + 0.5, ex[cmask] + 0.5),
            moq_exit=clock.moq(ex[cmask]),
            No=clock.span(ent[omask] + 0.5, cens_at[omask]),
            Nb=clock.span(ent[tmask] + 0.5, np.full(int(tmask.sum()), float(_day([t0])[0]))),
            n_stale=int(is_stale.sum()), n_nd=int(is_nd.sum()),
            closed_days=np.maximum(dwell[cmask], MIN_TAU),
            open_days=np.maximum(np.where(is_cens, dwell, age + 0.5)[omask], MIN_TAU),
        )
        episodes[st] = ep
        stage_fits[st] = fit_stage(ep, split=split, families=families, calendar=calendar,
                                     components=components)
        warnings += stage_fits[st].warnings
        ov = sv[is_open & ~is_stale].copy()
        ov["age"] = age[is_open & ~is_stale]
        ov["N"] = list(clock.span(ent[is_open & ~is_stale] + 0.5,
                                  np.full(len(ov), _day([t])[0] + 1.0)))
        open_visits[st] = ov
        if c is not None and stale_counts[st]:
            src = "given" if stale_after is not None else "the longest dwell of any visit that " \
                "ended"
            notes.append(f"Stage '{st}': every visit that ended did so within {c:.0f} days "
                         f"({src}); {stale_counts[st]:,} visits still open after longer are "
                         "stale: counted as no decision, not as live pipeline.")
        elif c is None and is_open.any():
            notes.append(f"Stage '{st}': the history is too short to tell stale deals from slow "
                         "ones; still-open visits are censored observations only (the no-"
                         "decision share is inferred from how long they have stayed open).")

    # --- drift: cohorts and months against the pooled fit; the clock set by monthly exits ---
    for st in h.stages:
        sv = v[v.stage == st]
        fit = stage_fits[st]
        k_main = main_kind(fit)
        if k_main is None:
            continue
        cf = _drift(fit, k_main, sv, clock, t0, t)
        if any(sl.calendar for sl in fit.slots) and cf.months is not None:
            if _set_clock(fit, cf.months):
                cf = _drift(fit, k_main, sv, clock, t0, t)
        cohorts[st] = cf

    # --- deal values -----------------------------------------------------------------------
    won = v[(v.outcome == "won") & v.value.notna()]
    nonpos = int((won.value <= 0).sum())
    if nonpos:
        notes.append(f"{nonpos} won deals with a close value of 0 are left out of the deal-value "
                     "fit.")
    won = won[won.value > 0]
    if won.empty:
        raise CalibrationError(f"{h.source}: expected some won deals with a close value by "
                               f"{t.date().isoformat()}, found none: deal values cannot be "
                               "fitted")
    segment_of: dict[str, str] = {}
    values: dict[str, ValueFit] = {}
    if "segment" in h.columns and won.segment.notna().any():
        counts = won.segment.value_counts()
        big = [s for s in counts.index if counts[s] >= MIN_VALUE_DEALS]
        names = {}
        for s in big:
            name = slug(s)
            while name in names.values() or name == "other":
                name = name + "-x"
            names[s] = name
        for s in sorted(set(v.segment.dropna().unique()) | set(counts.index)):
            segment_of[str(s)] = names.get(s, "other")
        for s, name in names.items():
            values[name] = fit_values(won.value[won.segment == s].to_numpy(), families)
        rest = won[~won.segment.isin(big)]
        if len(rest) >= 3 or "other" in segment_of.values():
            pool = rest if len(rest) >= 3 else won
            values["other"] = fit_values(pool.value.to_numpy(), families)
            if len(rest) < 3:
                notes.append("Segments with no or too few won deals share the deal-value fit of "
                             "all won deals (segment 'other').")
        mix = won.segment.map(segment_of).value_counts(normalize=True)
        won_mix = {k: float(mix.get(k, 0.0)) for k in values}
        notes.append(f"Deal values are fitted per {h.columns['segment']} ({len(values)} "
                     "segments); new deals get the mix of won deals (win rates are taken as "
                     "equal across segments).")
    else:
        values["all"] = fit_values(won.value.to_numpy(), families)
        won_mix = {"all": 1.0}
    lost_vals = v[(v.outcome == "lost")]
    if len(lost_vals):
        notes.append("Deal values come from won deals only (a lost deal's close value says "
                     "nothing about what it would have been worth).")

    # --- arrivals: first visit of each deal, counted from the start of the export ----------
    first = v.sort_values("entered", kind="stable").drop_duplicates("id")
    arrivals: dict[str, ArrivalFit] = {}
    for st, g in first.groupby("stage", sort=False):
        if (g.entered >= t0).sum() == 0:
            continue
        arrivals[st] = fit_arrivals(g.entered, t0, t, seasonality)
    if not arrivals:
        raise CalibrationError(f"{h.source}: expected deals entering between {t0.date()} and "
                               f"{t.date()}, found none")
    main = max(arrivals, key=lambda s: arrivals[s].n)
    af = arrivals[main]
    if af.weights is None:
        notes.append(f"Arrivals: {len(af.months)} months of history; a month-of-year pattern "
                     "needs every calendar month seen twice, so none is assumed.")
    if af.phi > 0:
        poisson_sd = math.sqrt(af.rate * 30.4)
        notes.append(f"Arrivals vary more from month to month than chance alone explains "
                     f"(relative sd of the monthly rate {math.sqrt(af.phi):.0%}; Poisson alone "
                     f"would give {poisson_sd / (af.rate * 30.4):.0%}): each month is its own "
                     "campaign with an uncertain volume.")

    levels = {st: _level(a) for st, a in arrivals.items()}
    lf = levels[main]
    notes.append(
        f"Arrival level: {lf.model} fitted to the log arrivals per day of {lf.months} complete "
        f"months (statsmodels UnobservedComponents, by maximum likelihood"
        + (f"; AIC {', '.join(f'{k} {v:.1f}' for k, v in lf.aic.items())}" if lf.aic else "")
        + f"): drift {lf.drift:+.1%} ± {lf.drift_se:.1%} a month, level step s.d. "
        f"{lf.level_sd:.1%}, month-to-month noise s.d. {lf.noise_sd:.1%}. Future months' "
        "volumes follow its forecast, whose spread grows with the horizon.")
    for st, cf in cohorts.items():
        notes.append(
            f"Stage '{st}': monthly entry cohorts reach '{cf.kind}' at different rates beyond "
            f"chance (dispersion chi2/df {cf.chi2_df:.1f}; 1 = chance alone): between-cohort "
            f"s.d. of the share {math.sqrt(cf.tau2):.0%} (random effects, method of moments, "
            "with the fitted clock in the expected counts)"
            + (f", persistence {cf.phi:.2f} from one month to the next" if cf.phi_estimated
               else f", persistence not estimable from {len(cf.table)} cohorts: {cf.phi:.2f} "
               "assumed")
            + ". Open deals of each cohort are forecast with the cohort's own share (its "
            "posterior given its outcomes so far).")
    fitted = Fitted(history=h, as_of=t, observed_from=t0, truncated=truncated,
                    stages=list(h.stages), stage_fits=stage_fits, episodes=episodes,
                    stale_after=stale, open_visits=open_visits, stale_counts=stale_counts,
                    values=values, segment_of=segment_of, won_mix=won_mix, arrivals=arrivals,
                    clock=clock, cohorts=cohorts, levels=levels, quarters_seen=quarters_seen,
                    notes=notes, warnings=warnings)
    _check_recent(fitted)
    return fitted


def _drift(fit: StageFit, k: int, sv: pd.DataFrame, clock: Clock, t0: pd.Timestamp,
           t: pd.Timestamp) -> CohortFit:
    """Cohort effects and the month-by-month error of a stage's pooled fit at the cut-off."""
    ent = _day(sv.entered)
    reached = (sv.outcome == fit.kinds[k]).to_numpy()
    N = clock.span(ent + 0.5, np.full(len(sv), _day([t])[0] + 1.0))
    cf = fit_cohorts(fit, sv.entered, reached, N, t0)
    cf.moves = share_moves(sv.entered, sv.exited, sv.outcome, cf.kind, t, t0)
    args = (fit, k, ent, sv.exited.dt.to_period("M").to_numpy(), reached, clock,
            pd.period_range(t0, t, freq="M"), int(_day([t0])[0]), int(_day([t])[0]))
    cf.month_tau2, cf.month_chi2_df, cf.months = month_dispersion(*args)
    cf.update()
    # what the cohorts leave unexplained, month by month: its local level is the pace to come
    _, _, resid = month_dispersion(*args, weight=cf.weights(sv.entered))
    resid = resid[resid.expected >= 5] if len(resid) else resid
    if len(resid) >= 2:
        cf.pace = fit_level(resid.observed / resid.expected, resid.observed)
    return cf


def _set_clock(fit: StageFit, months: pd.DataFrame) -> bool:
    """Set the month-of-quarter clock by the monthly exits themselves.

    The dwell fit places the quarter push through the likelihood of each deal's dwell; the
    months' observed against expected exits (per month of the quarter, pooled over the months
    seen) say whether the push it implies is the one that happened. Each calendar slot's speed in
    month j of the quarter is multiplied by that ratio (renormalised to mean 1): to first order
    a clock running r times faster in a month gives r times the exits. Returns False when a
    month of the quarter was not seen.
    """
    if months is None or months.empty:
        return False
    moq = np.array([(m.month - 1) % 3 for m in months.month])
    obs = np.array([months.observed[moq == j].sum() for j in range(3)], float)
    E = np.array([months.expected[moq == j].sum() for j in range(3)], float)
    if np.any(E <= 0) or np.any(obs <= 0):
        return False
    r = obs / E
    r = r / (r * E).sum() * E.sum()
    for sl in fit.slots:
        if sl.calendar:
            sp = sl.speeds * r
            sl.eta = (float(np.log(sp[0] / sp[2])), float(np.log(sp[1] / sp[2])))
    return True


def _level(af: ArrivalFit) -> LevelFit:
    """The arrival level of the complete months (per day, any month-of-year pattern taken out)."""
    m = af.months
    full = m[m.days >= 20]
    if full.empty:  # no complete month yet: the months there are
        full = m[m.days > 0]
    w = np.ones(len(full))
    if af.weights is not None:
        w = af.weights[pd.PeriodIndex(full.month, freq="M").month - 1]
    return fit_level(full["count"].to_numpy(float) / full.days.to_numpy(float) / w,
                     full["count"].to_numpy(float))


def _check_recent(f: Fitted) -> None:
    """Warn when recent entries have far fewer open deals than the fitted model expects.

    An export that leaves out deals still open when it was taken shows recent months with
    almost every deal already closed; arrivals of those months then look low.
    """
    for st in f.open_visits:
        fit = f.stage_fits[st]
        v = f.history.visits
        sv = v[(v.stage == st) & (v.entered > f.as_of - pd.Timedelta(days=RECENT_DAYS))]
        if len(sv) < 30:
            continue
        N = f.clock.span(_day(sv.entered) + 0.5, np.full(len(sv), _day([f.as_of])[0] + 1.0))
        p_open = np.zeros(len(sv))
        for t in range(len(fit.pi)):
            sl = fit.slots[fit.track_slot[t]]
            p_open += fit.pi[t] * np.exp(logpdf_logsf(sl.family, sl.a, sl.b,
                                                        np.maximum(N @ sl.speeds, MIN_TAU))[1])
        p_open += fit.pi_nd
        expected = float(p_open.sum())
        observed = int((sv.outcome == "").sum())
        if expected >= 20 and observed < 0.5 * expected:
            f.warnings.append(
                f"Stage '{st}': of the {len(sv):,} deals entered in the last {RECENT_DAYS} days "
                f"before {f.as_of.date()}, {observed:,} are still open where the fitted model "
                f"expects about {expected:,.0f}. The export seems to leave out deals that were "
                "still open when it was taken, so recent arrivals look too low: prefer an "
                "earlier --as-of, or check the export.")


def calibrate(data: str | Path | pd.DataFrame | History, as_of=None,
              mapping: Mapping[str, str] | None = None, *, layout: str = "auto",
              segment_by: str | None = None, split: bool = True, calendar: bool | None = None,
              components: int | str = "auto", stale_after: float | None = None, observed_from=None,
              horizon_days: int = 365, name: str | None = None,
              families: tuple[str, ...] = FAMILIES, seasonality: bool | None = None,
              stage_name: str = "opportunity", won: tuple[str, ...] = (),
              lost: tuple[str, ...] = (), no_decision: tuple[str, ...] = (),
              date_format: str | None = None) -> CalibrationResult:
    """Fit a scenario to a CRM export, using only what was known at ``as_of``.

    Parameters
    ----------
    data
        A CSV path, a DataFrame, or a :class:`History` already read. Opportunity-level exports
        (one row per deal: id, status, entry date, close date, close value) and stage-history
        exports (one row per stage change: id, stage, entered_at, optional exited_at / outcome /
        value) are both read; ``layout`` forces one.
    as_of
        Cut-off date (ISO string or date). Later entries, exits and values are invisible; the
        scenario's horizon starts the next day. Default: the last date in the export.
    mapping
        ``{role: column}`` for columns with other names (roles ``id``, ``stage``, ``entered``,
        ``closed``, ``value``, ``outcome``, ``segment``).
    segment_by
        A column (e.g. ``"product"``): one segment per value, each with its own deal values.
    split
        Give every way out of a stage (won, lost, a later stage) its own dwell distribution and
        clock (won deals usually take longer than lost ones). ``False``: one dwell per stage.
    calendar
        Consider a month-of-quarter clock for each way out (the quarter-end push), kept when AIC
        prefers it. ``None``: only when each month of the quarter was seen at least twice
        (a time effect is identified by repeated quarters, not by the number of deals).
    components
        ``"auto"``: try a second (fast / slow) component for each way out, kept when AIC
        prefers it; ``1``: one dwell per way out.
    stale_after
        Days after which a still-open visit counts as no decision (default: the longest dwell of
        any visit that ended, when the history is long enough to tell).
    observed_from
        First day the export covers (default: the first exit when it comes more than 30 days
        after the first entry, else the first entry).
    horizon_days
        Length of the scenario's horizon.
    families
        Dwell and deal-value families to choose from by AIC.
    seasonality
        Month-of-year arrival pattern: ``None`` fits one when every calendar month was seen at
        least twice.
    date_format
        Order of numeric dates, ``"iso"``, ``"mdy"`` or ``"dmy"`` (default: read from the file;
        see :func:`simengine.calibrate.read.read`).

    Returns
    -------
    CalibrationResult
        ``.scenario`` (validated), ``.yaml`` (with comments), ``.report`` (assumptions and
        diagnostics).

    Raises
    ------
    CalibrationError
        The export or an option is invalid (the message names the file, row and column).

    Examples
    --------
    >>> import simengine as se
    >>> res = se.calibrate("../shared/data/crm_opportunities.csv",
    ...                    as_of="2017-06-30")  # doctest: +SKIP
    >>> res.scenario.horizon.start  # doctest: +SKIP
    datetime.date(2017, 7, 1)
    """
    from simengine.calibrate.emit import build

    if horizon_days <= 0 or horizon_days > 3660:
        raise CalibrationError(f"horizon_days: expected a number of days in [1, 3660], found "
                               f"{horizon_days}")
    h = data if isinstance(data, History) else read(
        data, mapping, layout=layout, won=won, lost=lost, no_decision=no_decision,
        stage_name=stage_name, segment_by=segment_by, date_format=date_format)
    fitted = estimate(h, as_of, split=split, calendar=calendar, components=components,
                      stale_after=stale_after,
                      observed_from=observed_from, families=families, seasonality=seasonality)
    sc, text, report = build(fitted, horizon_days=horizon_days, name=name)
    return CalibrationResult(scenario=sc, yaml=text, report=report, fitted=fitted)
