"""Between-cohort variation of a stage's outcome share, estimated from the history at a cut-off.

Real CRM cohorts differ far beyond chance: one month's deals stall twice as often as the last.
Each monthly entry cohort ``c`` of a stage is compared with the pooled fit: ``O_c`` deals of the
cohort reached the stage's main way out (won, or the next stage) by the cut-off, where the
pooled model, with its month-of-quarter clock, expects ``E_c`` (the cumulative incidence of that
way out at each deal's clock age, summed). Under a cohort multiplier ``m_c`` on the share,
``O_c`` is about Poisson with mean ``m_c E_c``. With ``m_c`` gamma with mean 1 and variance
``tau^2`` (a random-effects, negative-binomial model):

- ``tau^2`` by the method of moments (as for arrivals: ``sum((O - E)^2 - E) / sum(E^2)``), the
  Pearson dispersion ``chi2/df`` as the diagnostic (1 = chance alone);
- persistence ``phi``: the lag-1 autocovariance of the cohorts' log ratios over the effects'
  own variance (net of the Poisson noise), shrunk towards 0 with few cohorts;
- each open cohort's own multiplier: the gamma posterior ``Gamma(1/tau^2 + O_c, 1/tau^2 +
  E_c)``: a cohort that is stalling shows it in its first weeks, and its still-open deals are
  forecast with its own (uncertain) share, not the pooled one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simengine.calibrate.clock import Clock
from simengine.calibrate.families import logpdf_logsf
from simengine.calibrate.stage_model import MIN_TAU, StageFit

MIN_EXPECTED = 5.0  # a cohort whose expected count is smaller says almost nothing: left out
MIN_COHORTS_PHI = 6  # fewer cohorts than this: persistence is not estimated
PHI_UNKNOWN = 0.5  # persistence assumed when it cannot be estimated (halfway: say so)
PHI_MAX = 0.9


@dataclass
class CohortFit:
    """Cohort effects on one stage's main way out.

    Attributes
    ----------
    stage, kind : str
        The stage and the way out whose share varies (``won`` or the next stage).
    table : pandas.DataFrame
        One row per monthly entry cohort: ``cohort`` (month), ``n`` deals, ``observed``,
        ``expected``, ``ratio``, ``post_mean``, ``post_sd`` (the cohort's own multiplier).
    tau2 : float
        Between-cohort variance of the multiplier (0: chance alone).
    chi2_df : float
        Pearson dispersion of the cohort counts (about 1 when cohorts differ by chance only).
    phi : float
        Persistence of the cohort effect from one month to the next.
    phi_estimated : bool
        False when there were too few cohorts and ``phi`` is the assumed value.
    share : float
        The pooled share of the way out.
    """

    stage: str
    kind: str
    table: pd.DataFrame
    tau2: float
    chi2_df: float
    phi: float
    phi_estimated: bool
    share: float
    scale: float  # observed / expected over all cohorts (1 when the pooled fit matches)
    moves: pd.DataFrame | None = None  # see share_moves
    month_tau2: float = 0.0  # see month_dispersion
    month_chi2_df: float = float("nan")
    months: pd.DataFrame | None = None
    pace: object | None = None  # a LevelFit of the months' log ratios: the pace to come

    def weights(self, entered: pd.Series) -> np.ndarray:
        """Each visit's cohort multiplier (posterior mean; 1 for cohorts not in the table)."""
        post = dict(zip(self.table.cohort, self.table.post_mean, strict=True))
        return np.array([post.get(c, 1.0) for c in entered.dt.to_period("M")])

    @property
    def tau2_used(self) -> float:
        """The variance the forecast carries: the larger of the between-cohort variance and
        the model's own month-to-month error in the history (both estimated at the cut-off)."""
        return max(self.tau2, self.month_tau2)

    @property
    def logit_sd(self) -> float:
        """Stationary s.d. of the cohort effect on the logit of the share (delta method:
        d logit p = d log p / (1 - p))."""
        return math.sqrt(math.log1p(self.tau2_used)) / max(1.0 - self.share, 0.05)

    def multiplier(self, cohort: pd.Period) -> tuple[float, float]:
        """Posterior mean and s.d. of a cohort's multiplier (1, its prior s.d. when unseen)."""
        row = self.table[self.table.cohort == cohort]
        if row.empty:
            return 1.0, math.sqrt(self.tau2_used)
        return float(row.post_mean.iloc[0]), float(row.post_sd.iloc[0])

    def update(self) -> None:
        """Each cohort's posterior (gamma prior with mean 1, variance ``tau2_used``)."""
        tab = self.table
        s = self.scale
        Ec, Oc = tab.expected.to_numpy(float) * s, tab.observed.to_numpy(float)
        if self.tau2_used > 0:
            a0 = 1.0 / self.tau2_used
            tab["post_mean"] = s * (a0 + Oc) / (a0 + Ec)
            tab["post_sd"] = s * np.sqrt(a0 + Oc) / (a0 + Ec)
        else:
            tab["post_mean"] = s
            tab["post_sd"] = 0.0


def main_kind(fit: StageFit) -> int | None:
    """Index of the way out whose share is tracked: won, else the first later stage."""
    if "won" in fit.kinds:
        return fit.kinds.index("won")
    ahead = [k for k, name in enumerate(fit.kinds) if name != "lost"]
    return ahead[0] if ahead else None


def incidence(fit: StageFit, k: int, N: np.ndarray) -> np.ndarray:
    """P(the visit has left by way ``k`` by clock age ``N`` (n, 3)) under the pooled fit."""
    out = np.zeros(len(N))
    for t in fit.tracks_of(k):
        sl = fit.slots[fit.track_slot[t]]
        tau = np.maximum(N @ sl.speeds, MIN_TAU)
        out += fit.pi[t] * -np.expm1(logpdf_logsf(sl.family, sl.a, sl.b, tau)[1])
    return out


def fit_cohorts(fit: StageFit, entered: pd.Series, reached: np.ndarray, N: np.ndarray,
                observed_from: pd.Timestamp) -> CohortFit | None:
    """Cohort effects of one stage.

    Parameters
    ----------
    fit
        The pooled stage fit.
    entered
        Entry date of every visit of the stage known at the cut-off.
    reached
        (n,) bool: the visit left by the tracked way out by the cut-off.
    N
        (n, 3) clock age of each visit at the cut-off (entry to cut-off, by month of quarter).
    observed_from
        Visits that entered earlier are survivors of the export's start: left out.
    """
    k = main_kind(fit)
    if k is None:
        return None
    share = fit.kind_prob(k)
    keep = (entered >= observed_from).to_numpy()
    cohort = entered[keep].dt.to_period("M").to_numpy()
    exp_ = incidence(fit, k, N[keep])
    obs = np.asarray(reached, float)[keep]
    g = pd.DataFrame({"cohort": cohort, "obs": obs, "exp": exp_}).groupby("cohort", sort=True)
    tab = pd.DataFrame({"n": g.size(), "observed": g.obs.sum(), "expected": g.exp.sum()})
    tab = tab.reset_index()
    use = tab.expected >= MIN_EXPECTED
    obs, E = tab.observed[use].to_numpy(float), tab.expected[use].to_numpy(float)
    if len(obs) >= 2 and E.sum() > 0:
        scale = obs.sum() / E.sum()  # the pooled fit may be off overall; effects are relative
        Es = E * scale
        tau2 = max(0.0, float(((obs - Es) ** 2 - Es).sum() / (Es ** 2).sum()))
        chi2_df = float(((obs - Es) ** 2 / Es).sum() / (len(obs) - 1))
    else:
        scale, tau2, chi2_df = 1.0, 0.0, float("nan")
    lr = np.log(np.maximum(obs, 0.5) / (E * scale)) if len(obs) else np.zeros(0)
    phi, estimated = PHI_UNKNOWN, False
    if len(lr) >= MIN_COHORTS_PHI and tau2 > 0:
        x = lr - lr.mean()
        # lag-1 autocovariance of the log ratios over the effects' own variance (the Poisson
        # noise of each ratio inflates the variance but not the autocovariance: dividing by
        # the total variance would bias phi towards 0)
        acov = float((x[1:] * x[:-1]).mean())
        var_effect = math.log1p(tau2)
        n = len(lr) - 1
        # shrunk towards 0 by the number of pairs: a small-sample autocovariance is noisy
        phi = float(np.clip(acov / var_effect * n / (n + 2), 0.0, PHI_MAX))
        estimated = True
    tab["ratio"] = np.where(tab.expected > 0, tab.observed / np.maximum(tab.expected * scale,
                                                                          1e-12), np.nan)
    cf = CohortFit(stage=fit.stage, kind=fit.kinds[k], table=tab, tau2=tau2, chi2_df=chi2_df,
                   phi=phi, phi_estimated=estimated, share=share, scale=scale)
    cf.update()
    return cf


def share_moves(entered: pd.Series, exited: pd.Series, outcome: pd.Series, kind: str,
                as_of: pd.Timestamp, observed_from: pd.Timestamp, months: int = 3
                ) -> pd.DataFrame:
    """How far the decided share of ``kind`` moved over the last month-ends before ``as_of``.

    At each month-end: the share of ``kind`` among the visits (entered since ``observed_from``)
    that had ended by then, with its binomial standard error, and the move from the previous
    month-end in standard errors of the difference. A share that moves many standard errors
    from one month-end to the next is drifting, not noisy.
    """
    ends = [(as_of.to_period("M") - i).end_time.normalize() for i in range(months, -1, -1)]
    ends = [e for e in ends if e <= as_of] + ([as_of] if ends[-1] > as_of else [])
    rows = []
    keep = entered >= observed_from
    for e in ends:
        done = keep & exited.notna() & (exited <= e)
        n = int(done.sum())
        k = int((done & (outcome == kind)).sum())
        p = k / n if n else float("nan")
        rows.append({"month_end": e.date(), "decided": n, "share": p,
                     "se": math.sqrt(p * (1 - p) / n) if n else float("nan")})
    t = pd.DataFrame(rows)
    # consecutive estimates share most deals: the s.e. of the move is that of the new deals'
    # share, sqrt(p(1-p)(1/n_old - 1/n_new)) (nested samples)
    n0, n1 = t.decided.shift(), t.decided
    p = t.share
    se_move = np.sqrt(p * (1 - p) * np.maximum(1 / n0 - 1 / n1, 1e-12))
    t["move_se"] = (t.share - t.share.shift()) / se_move
    return t


def month_dispersion(fit: StageFit, k: int, entered_day: np.ndarray, exit_month: np.ndarray,
                     reached: np.ndarray, clock: Clock, months: pd.PeriodIndex,
                     first_day: int, last_day: int, weight: np.ndarray | None = None
                     ) -> tuple[float, float, pd.DataFrame]:
    """How far each calendar month's exits by way ``k`` strayed from the pooled fit.

    ``O_m`` exits in month m (of visits entered since ``first_day``, the export's start: earlier
    ones are survivors whose exits the unconditional fit does not describe) against ``E_m``, the
    fit's expected exits in the month (increments of the cumulative incidence). Returns the
    between-month variance of the ratio (method of moments, as for cohorts), the Pearson
    ``chi2/df`` and the table. This is the model's own error month by month in the history: a
    timing or share effect the pooled fit misses shows here even when cohorts look alike.
    ``weight`` (one per visit): each visit's own multiplier of the share (its cohort's), so
    that what cohort effects explain is not counted again.
    """
    keep = entered_day >= first_day
    ent = entered_day[keep].astype(float) + 0.5
    w = np.ones(int(keep.sum())) if weight is None else np.asarray(weight, float)[keep]
    rows = []
    for m in months:
        a = max(float((m.start_time.normalize() - pd.Timestamp(0)).days), float(first_day))
        b = min(float((m.end_time.normalize() - pd.Timestamp(0)).days), float(last_day)) + 1.0
        if b - a < 20:  # a partial month says little
            continue
        sel = ent < b
        lo = clock.span(ent[sel], np.maximum(ent[sel], a))
        hi = clock.span(ent[sel], np.full(int(sel.sum()), b))
        E = float((w[sel] * (incidence(fit, k, hi) - incidence(fit, k, lo))).sum())
        obs = float((reached[keep] & (exit_month[keep] == m)).sum())
        rows.append({"month": m, "observed": obs, "expected": E})
    t = pd.DataFrame(rows)
    if len(t) < 2 or t.expected.sum() <= 0:
        return 0.0, float("nan"), t
    use = t.expected >= MIN_EXPECTED
    obs, E = t.observed[use].to_numpy(float), t.expected[use].to_numpy(float)
    if len(obs) < 2:
        return 0.0, float("nan"), t
    Es = E * obs.sum() / E.sum()
    tau2 = max(0.0, float(((obs - Es) ** 2 - Es).sum() / (Es ** 2).sum()))
    t["ratio"] = t.observed / t.expected
    return tau2, float(((obs - Es) ** 2 / Es).sum() / (len(obs) - 1)), t
