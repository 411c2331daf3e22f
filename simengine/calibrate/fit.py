"""Maximum-likelihood fits of stage outcomes, dwell times, deal values and arrival rates.

The likelihood of one stage
---------------------------
A deal entering a stage ends in one of the observed exit kinds (a later stage, won, lost) or in
*no decision*, which a CRM never records as an exit: the deal just stays open ("stale"). Each
decided deal follows a *track* t with probability pi_t and leaves after a dwell T_t drawn from a
lognormal, gamma or Weibull distribution, measured on the track's clock (an optional
month-of-quarter calendar, as in the engine). With ``split`` every exit kind has its own track
and dwell (won deals take longer than lost ones); otherwise all tracks share one dwell (the
engine's "dwell, then route"). The contributions, all censoring-aware:

* closed via kind k after clock time tau:   log sum_{t of kind k} pi_t f_t(tau) + log speed(exit)
* open at clock age a (right-censored):     log(pi_nd + sum_t pi_t S_t(a))
* open longer than the stale cut-off:        log pi_nd
* entered before the export starts (delayed entry at clock age b): minus log(pi_nd + sum_t
  pi_t S_t(b)), so survivors of the missing early months are not over-weighted
  (Klein & Moeschberger, *Survival Analysis*, 2nd ed., section 3.4).

This is a mixture ("cure") competing-risks model (Larson & Dinse 1985). Still-open records are
neither dropped nor counted as lost: each carries the probability of every way it can still end.
Parameters are found with L-BFGS from starting values given by ``scipy.stats`` fits on
``CensoredData``; standard errors come from the observed information (the numerical Hessian of
the negative log-likelihood) and the delta method.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

FAMILIES = ("lognormal", "gamma", "weibull")
SCIPY = {"lognormal": stats.lognorm, "gamma": stats.gamma, "weibull": stats.weibull_min}
MIN_TAU = 0.25  # days: a same-day close is a dwell of a fraction of a day
MIN_EVENTS_PER_TRACK = 10
LOGIT_BOUND = 18.0


# --- the three families, parametrised for the optimiser ---------------------------------------
# lognormal and gamma: (log mean, log cv); Weibull: (log shape, log scale). These are the
# scenario's own parameters on the log scale, so the delta method to them is a plain exp.
def scenario_params(family: str, a: float, b: float) -> dict[str, float]:
    """The scenario's parameters (``mean``/``cv`` or ``shape``/``scale``)."""
    if family == "weibull":
        return {"shape": math.exp(a), "scale": math.exp(b)}
    return {"mean": math.exp(a), "cv": math.exp(b)}


def start_from_moments(family: str, mean: float, cv: float) -> tuple[float, float]:
    mean, cv = max(mean, 1e-6), min(max(cv, 0.05), 20.0)
    if family == "weibull":
        k = min(max(cv ** -1.086, 0.1), 50.0)  # Justus et al. (1978) approximation
        return math.log(k), math.log(mean / math.gamma(1 + 1 / k))
    return math.log(mean), math.log(cv)


def mean_cv(family: str, a: float, b: float) -> tuple[float, float]:
    if family == "weibull":
        k, lam = math.exp(a), math.exp(b)
        g1, g2 = math.gamma(1 + 1 / k), math.gamma(1 + 2 / k)
        return lam * g1, math.sqrt(max(g2 / (g1 * g1) - 1, 0.0))
    return math.exp(a), math.exp(b)


def frozen(family: str, a: float, b: float):
    """The fitted distribution as a frozen ``scipy.stats`` object."""
    if family == "lognormal":
        s2 = math.log1p(math.exp(2 * b))
        return stats.lognorm(s=math.sqrt(s2), scale=math.exp(a - s2 / 2))
    if family == "gamma":
        k = math.exp(-2 * b)
        return stats.gamma(k, scale=math.exp(a + 2 * b))
    return stats.weibull_min(math.exp(a), scale=math.exp(b))


def scipy_censored_start(family: str, events: np.ndarray, censored: np.ndarray
                         ) -> tuple[float, float] | None:
    """Starting values from ``scipy.stats`` on ``CensoredData`` (right-censored, loc 0)."""
    events = events[events > 0]
    if len(events) < 3:
        return None
    if np.ptp(events) == 0:
        return None
    data = stats.CensoredData(uncensored=events, right=censored[censored > 0])
    try:
        # only a starting point: scipy's own warnings about its optimiser do not matter here
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            shape, _, scale = SCIPY[family].fit(data, floc=0)
    except (ValueError, RuntimeError, FloatingPointError):
        return None
    if not (np.isfinite(shape) and np.isfinite(scale) and shape > 0 and scale > 0):
        return None
    if family == "lognormal":
        s2 = shape * shape
        return math.log(scale) + s2 / 2, 0.5 * math.log(math.expm1(s2))
    if family == "gamma":
        return math.log(shape * scale), -0.5 * math.log(shape)
    return math.log(shape), math.log(scale)


# --- the calendar: clock time between two dates -----------------------------------------------
class Clock:
    """Days spent in each month of the quarter between day points (for month-of-quarter speeds).

    Dates are day numbers (days since 1970-01-01). ``span(x0, x1)`` is an (n, 3) array: the
    time between the points ``x0`` and ``x1`` (fractional days) split by month of quarter.
    """

    def __init__(self, first: int, last: int):
        self.first = int(first) - 2
        days = np.arange(self.first, int(last) + 3)
        months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        self.moq_of = (months % 12) % 3
        onehot = np.zeros((len(days) + 1, 3))
        onehot[1:][np.arange(len(days)), self.moq_of] = 1.0
        self.cum = np.cumsum(onehot, axis=0)  # cum[d - first] = days before day d, by moq

    def moq(self, day: np.ndarray) -> np.ndarray:
        return self.moq_of[np.asarray(day, np.int64) - self.first]

    def at(self, x: np.ndarray) -> np.ndarray:
        """Cumulative days by month of quarter up to the point ``x`` (fractional day number)."""
        x = np.asarray(x, float)
        d = np.floor(x).astype(np.int64)
        frac = (x - d)[:, None]
        base = self.cum[d - self.first]
        step = np.zeros((len(x), 3))
        step[np.arange(len(x)), self.moq(d)] = 1.0
        return base + frac * step

    def span(self, x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
        return np.maximum(self.at(x1) - self.at(x0), 0.0)


def speeds(eta: np.ndarray) -> np.ndarray:
    """Month-of-quarter clock speeds with mean 1 from two free log-speeds (the third is 0)."""
    e = np.exp(np.array([eta[0], eta[1], 0.0]))
    return e / e.mean()


# --- the data of one stage, ready for the likelihood -------------------------------------------
@dataclass
class Episodes:
    """The visits of one stage as the likelihood sees them.

    Attributes
    ----------
    kinds : list of str
        Exit kinds with at least one exit (a later stage's name, ``won``, ``lost``).
    kind : (n_c,) int
        Exit kind of each closed visit.
    Nc, moq_exit : (n_c, 3) float, (n_c,) int
        Dwell split by month of quarter; month of quarter of the exit day.
    No : (n_o, 3)
        Clock age of each right-censored visit (open at the cut-off, or observed up to a move).
    Nb : (n_b, 3)
        Clock age at the start of the export of each visit that entered before it.
    n_stale, n_nd : int
        Visits open longer than the stale cut-off; visits closed as no decision.
    """

    stage: str
    kinds: list[str]
    kind: np.ndarray
    Nc: np.ndarray
    moq_exit: np.ndarray
    No: np.ndarray
    Nb: np.ndarray
    n_stale: int
    n_nd: int
    closed_days: np.ndarray  # calendar dwell of closed visits
    open_days: np.ndarray  # calendar age of censored visits

    @property
    def n_closed(self) -> int:
        return len(self.kind)

    def count(self, k: int) -> int:
        return int((self.kind == k).sum())


# --- derivatives of the log density and log survival function ------------------------------
def pdf_d(family: str, a: float, b: float, x: np.ndarray):
    """log f(x) and its partial derivatives in a, b and x."""
    lx = np.log(x)
    if family == "lognormal":
        e2 = math.exp(2 * b)
        s2 = math.log1p(e2)
        s = math.sqrt(s2)
        D = 2 * e2 / (1 + e2)  # d sigma^2 / db
        s_b = D / (2 * s)
        z = (lx - a + s2 / 2) / s
        g = -lx - math.log(s) - 0.5 * math.log(2 * math.pi) - 0.5 * z * z
        ga = z / s
        gb = -s_b / s - z * D / (2 * s) + z * z * s_b / s
        gx = (-1.0 - z / s) / x
        return g, ga, gb, gx
    if family == "gamma":
        k = math.exp(-2 * b)
        lth = a + 2 * b
        y = x * math.exp(-lth)
        ly = lx - lth
        g = (k - 1) * ly - y - special.gammaln(k) - lth
        ga = y - k
        gb = (ly - special.digamma(k)) * (-2 * k) + 2 * (y - k)
        gx = (k - 1) / x - math.exp(-lth)
        return g, ga, gb, gx
    k = math.exp(a)
    ly = lx - b
    y = np.exp(k * ly)
    g = a - b + (k - 1) * ly - y
    ga = 1 + k * ly - k * ly * y
    gb = -k + k * y
    gx = ((k - 1) - k * y) / x
    return g, ga, gb, gx


def sf_d(family: str, a: float, b: float, x: np.ndarray):
    """log S(x) and its partial derivatives in a, b and x."""
    lx = np.log(x)
    if family == "lognormal":
        e2 = math.exp(2 * b)
        s2 = math.log1p(e2)
        s = math.sqrt(s2)
        D = 2 * e2 / (1 + e2)
        s_b = D / (2 * s)
        z = (lx - a + s2 / 2) / s
        h = special.log_ndtr(-z)
        lam = np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - h)  # phi(z) / Phi(-z)
        ha = lam / s
        hb = -lam * (D / (2 * s) - z * s_b / s)
        hx = -lam / (s * x)
        return h, ha, hb, hx
    if family == "gamma":
        k = math.exp(-2 * b)
        lth = a + 2 * b
        y = x * math.exp(-lth)
        with np.errstate(divide="ignore", under="ignore"):
            h = np.log(np.maximum(special.gammaincc(k, y), 1e-300))
            dk = 1e-5 * k
            hk = (np.log(np.maximum(special.gammaincc(k + dk, y), 1e-300))
                  - np.log(np.maximum(special.gammaincc(k - dk, y), 1e-300))) / (2 * dk)
            d_lth = np.exp(k * np.log(y) - y - special.gammaln(k) - h)
        ha = d_lth
        hb = hk * (-2 * k) + 2 * d_lth
        hx = -d_lth / x
        return h, ha, hb, hx
    k = math.exp(a)
    ly = lx - b
    y = np.exp(k * ly)
    return -y, -k * ly * y, k * y, -k * y / x


def logpdf_logsf(family: str, a: float, b: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log density and log survival function at ``x`` (> 0)."""
    return pdf_d(family, a, b, x)[0], sf_d(family, a, b, x)[0]


def dspeeds(sp: np.ndarray) -> np.ndarray:
    """d speeds[m] / d eta[j] for the two free log-speeds: shape (3, 2)."""
    J = -np.outer(sp, sp[:2]) / 3.0
    J[0, 0] += sp[0]
    J[1, 1] += sp[1]
    return J


# --- fitted objects ------------------------------------------------------------------------
@dataclass
class SlotFit:
    family: str
    calendar: bool
    a: float
    b: float
    eta: tuple[float, float] = (0.0, 0.0)

    @property
    def speeds(self) -> np.ndarray:
        return speeds(np.asarray(self.eta)) if self.calendar else np.ones(3)

    def params(self) -> dict[str, float]:
        return scenario_params(self.family, self.a, self.b)

    def dist(self):
        return frozen(self.family, self.a, self.b)

    def mean(self) -> float:
        return mean_cv(self.family, self.a, self.b)[0]


@dataclass
class StageFit:
    """A fitted stage: outcome probabilities per track, dwell per slot, their uncertainty.

    A *track* is one way out of the stage (a kind: a later stage, won, lost), possibly one of
    two components of it (fast and slow deals); ``track_slot`` says which dwell it uses.
    """

    stage: str
    kinds: list[str]
    track_kind: list[int]
    track_comp: list[int]
    track_slot: list[int]
    slots: list[SlotFit]
    has_nd: bool
    pi: np.ndarray  # (T,) track probabilities
    pi_nd: float
    theta: np.ndarray
    cov: np.ndarray
    nll: float
    n_params: int
    model: StageModel
    candidates: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def aic(self) -> float:
        return 2 * self.n_params + 2 * self.nll

    @property
    def split(self) -> bool:
        """True when every way out has its own dwell(s)."""
        return len(set(self.track_slot)) == len(self.track_slot)

    def n_comp(self, k: int) -> int:
        return sum(1 for kk in self.track_kind if kk == k)

    def tracks_of(self, k: int) -> list[int]:
        return [t for t, kk in enumerate(self.track_kind) if kk == k]

    def kind_prob(self, k: int) -> float:
        return float(sum(self.pi[t] for t in self.tracks_of(k)))

    # uncertainty of derived quantities (delta method on the optimiser's parameters)
    def se(self, fn) -> float:
        """Standard error of ``fn(theta)`` from the observed information."""
        g = np.zeros(len(self.theta))
        for i in range(len(self.theta)):
            h = 1e-5 * max(1.0, abs(self.theta[i]))
            up, dn = self.theta.copy(), self.theta.copy()
            up[i] += h
            dn[i] -= h
            g[i] = (fn(up) - fn(dn)) / (2 * h)
        return float(math.sqrt(max(g @ self.cov @ g, 0.0)))

    def prob_fn(self, tracks: list[int] | None):
        """theta -> probability of a set of tracks (None: no decision)."""
        model = self.model

        def fn(theta):
            pi, pnd = model.probabilities(theta)
            return pnd if tracks is None else float(sum(pi[t] for t in tracks))
        return fn

    def param_fn(self, s: int, which: str):
        pa, pb = self.model.pos[("a", s)], self.model.pos[("b", s)]
        fam = self.slots[s].family

        def fn(theta):
            return scenario_params(fam, theta[pa], theta[pb])[which]
        return fn


class StageModel:
    """The negative log-likelihood of one stage (and its gradient) for a given structure."""

    def __init__(self, ep: Episodes, track_kind: list[int], track_slot: list[int],
                 families: list[str], calendars: list[bool], has_nd: bool):
        self.ep = ep
        self.track_kind, self.track_slot = list(track_kind), list(track_slot)
        self.families, self.calendars = list(families), list(calendars)
        self.has_nd = has_nd
        T = len(track_kind)
        self.n_logits = T if has_nd else T - 1
        # each dwell has its own clock: in CRM data fast and slow deals can follow different
        # calendars (e.g. slow deals that never close in the first month of a quarter)
        self.group = list(range(len(families)))
        layout: list[tuple[str, int, int]] = []
        pos = self.n_logits
        for s in range(len(families)):
            layout += [("a", s, pos), ("b", s, pos + 1)]
            pos += 2
        self.groups_on = sorted({self.group[s] for s in range(len(families)) if calendars[s]})
        for g in self.groups_on:
            if not all(calendars[s] for s in range(len(families)) if self.group[s] == g):
                raise ValueError("slots of one way out must share their calendar")
            layout += [("eta0", -1 - g, pos), ("eta1", -1 - g, pos + 1)]
            pos += 2
        self.layout = layout
        self.n = pos
        self.pos = {(w, s): p for w, s, p in layout}
        for s in range(len(families)):
            if calendars[s]:
                for w in ("eta0", "eta1"):
                    self.pos[(w, s)] = self.pos[(w, -1 - self.group[s])]
        self.kind_mask = np.stack([ep.kind == k for k in track_kind])
        # closed visits each slot can explain (those of its tracks' kinds)
        self.slot_rows = [np.flatnonzero(np.isin(ep.kind, [track_kind[t] for t in range(T)
                                                          if track_slot[t] == s]))
                          for s in range(len(families))]

    def probabilities(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        logits = np.concatenate([theta[:self.n_logits], [0.0]])
        p = special.softmax(logits)
        if self.has_nd:
            return p[:-1], float(p[-1])
        return p, 0.0

    def slot(self, theta: np.ndarray, s: int) -> SlotFit:
        eta = (0.0, 0.0)
        if self.calendars[s]:
            eta = (float(theta[self.pos[("eta0", s)]]), float(theta[self.pos[("eta1", s)]]))
        return SlotFit(self.families[s], self.calendars[s], float(theta[self.pos[("a", s)]]),
                       float(theta[self.pos[("b", s)]]), eta)

    def nll(self, theta: np.ndarray) -> float:
        return self.nll_grad(theta)[0]

    def nll_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log-likelihood and its gradient (analytic; see the module docstring)."""
        ep = self.ep
        T, S = len(self.track_kind), len(self.families)
        logits = np.concatenate([theta[:self.n_logits], [0.0]])
        logp = logits - special.logsumexp(logits)
        nd = T if self.has_nd else None
        lp = logp[:T]
        lnd = logp[T] if self.has_nd else -np.inf
        C = np.zeros(len(logits))  # signed responsibilities per category (tracks, then nd)
        grad = np.zeros(self.n)
        total = 0.0
        slots = [self.slot(theta, s) for s in range(S)]
        sp = [sl.speeds for sl in slots]
        dsp = [dspeeds(x) for x in sp]

        def add_slot_grad(s, w, da, db, dx, N):
            grad[self.pos[("a", s)]] -= float(w @ da)
            grad[self.pos[("b", s)]] -= float(w @ db)
            if self.calendars[s]:
                dtau = N @ dsp[s]  # (n, 2)
                g2 = (w * dx) @ dtau
                grad[self.pos[("eta0", s)]] -= g2[0]
                grad[self.pos[("eta1", s)]] -= g2[1]

        # closed visits: log sum over the kind's tracks of pi_t f_t(tau) speed(exit)
        if ep.n_closed:
            M = np.full((T, ep.n_closed), -np.inf)
            parts = []
            for s in range(S):
                rows = self.slot_rows[s]
                if not len(rows):
                    parts.append(None)
                    continue
                tau = ep.Nc[rows] @ sp[s]
                raw = tau
                tau = np.maximum(tau, MIN_TAU)
                g, ga, gb, gx = pdf_d(slots[s].family, slots[s].a, slots[s].b, tau)
                gx = np.where(raw > MIN_TAU, gx, 0.0)
                ls = np.log(sp[s][ep.moq_exit[rows]])
                parts.append((rows, g + ls, ga, gb, gx))
                for t in range(T):
                    if self.track_slot[t] == s:
                        M[t, rows] = np.where(self.kind_mask[t, rows], lp[t] + g + ls, -np.inf)
            ell = _lse0(M)
            total += ell.sum()
            W = np.exp(M - ell)
            C[:T] += W.sum(axis=1)
            for s in range(S):
                if parts[s] is None:
                    continue
                rows, _, ga, gb, gx = parts[s]
                w = W[[t for t in range(T) if self.track_slot[t] == s]][:, rows].sum(axis=0)
                add_slot_grad(s, w, ga, gb, gx, ep.Nc[rows])
                if self.calendars[s]:
                    # d log speed(exit month) / d eta
                    m = ep.moq_exit[rows]
                    dl = dsp[s][m] / sp[s][m][:, None]
                    g2 = w @ dl
                    grad[self.pos[("eta0", s)]] -= g2[0]
                    grad[self.pos[("eta1", s)]] -= g2[1]

        # right-censored and delayed-entry terms: log(pi_nd + sum_t pi_t S_t(tau))
        for N, sign in ((ep.No, 1.0), (ep.Nb, -1.0)):
            n = len(N)
            if not n:
                continue
            M = np.empty((T + 1, n))
            M[T] = lnd
            parts = []
            for s in range(S):
                raw = N @ sp[s]
                tau = np.maximum(raw, MIN_TAU)
                h, ha, hb, hx = sf_d(slots[s].family, slots[s].a, slots[s].b, tau)
                parts.append((h, ha, hb, np.where(raw > MIN_TAU, hx, 0.0)))
            for t in range(T):
                M[t] = lp[t] + parts[self.track_slot[t]][0]
            ell = _lse0(M)
            total += sign * ell.sum()
            W = np.exp(M - ell)
            C[:T] += sign * W[:T].sum(axis=1)
            if nd is not None:
                C[nd] += sign * W[T].sum()
            for s in range(S):
                w = sign * W[[t for t in range(T) if self.track_slot[t] == s]].sum(axis=0)
                _, ha, hb, hx = parts[s]
                add_slot_grad(s, w, ha, hb, hx, N)

        if ep.n_stale + ep.n_nd:
            total += (ep.n_stale + ep.n_nd) * lnd
            C[nd] += ep.n_stale + ep.n_nd
        p = np.exp(logp)
        grad[:self.n_logits] = -(C - C.sum() * p)[:self.n_logits]
        if not np.isfinite(total) or not np.all(np.isfinite(grad)):
            return 1e300, np.zeros(self.n)
        return -total, grad

    def bounds(self) -> list[tuple[float, float]]:
        b: list[tuple[float, float]] = [(-LOGIT_BOUND, LOGIT_BOUND)] * self.n_logits
        for w, s, _ in self.layout:
            if w == "a":
                b.append((-3.0, 4.0) if self.families[s] == "weibull" else (-5.0, 12.0))
            elif w == "b":
                b.append((-5.0, 12.0) if self.families[s] == "weibull" else (-4.0, 3.0))
            else:
                b.append((-3.0, 3.0))
        return b


def _lse0(m: np.ndarray) -> np.ndarray:
    """log(sum(exp(m), axis=0)), stable; a column of -inf gives -inf."""
    top = m.max(axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(m - safe).sum(axis=0))


def hessian_from_grad(grad, x: np.ndarray) -> np.ndarray:
    """Observed information: central differences of the analytic gradient."""
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n):
        h = 1e-5 * max(1.0, abs(x[i]))
        up, dn = x.copy(), x.copy()
        up[i] += h
        dn[i] -= h
        H[i] = (grad(up) - grad(dn)) / (2 * h)
    return (H + H.T) / 2


def _hessian(f, x: np.ndarray) -> np.ndarray:
    n = len(x)
    h = 1e-4 * np.maximum(1.0, np.abs(x))
    H = np.zeros((n, n))
    f0 = f(x)
    for i in range(n):
        for j in range(i, n):
            if i == j:
                xp, xm = x.copy(), x.copy()
                xp[i] += h[i]
                xm[i] -= h[i]
                H[i, i] = (f(xp) - 2 * f0 + f(xm)) / (h[i] ** 2)
            else:
                pp, pm, mp, mm = x.copy(), x.copy(), x.copy(), x.copy()
                pp[i] += h[i]
                pp[j] += h[j]
                pm[i] += h[i]
                pm[j] -= h[j]
                mp[i] -= h[i]
                mp[j] += h[j]
                mm[i] -= h[i]
                mm[j] -= h[j]
                H[i, j] = H[j, i] = (f(pp) - f(pm) - f(mp) + f(mm)) / (4 * h[i] * h[j])
    return H


def covariance(H: np.ndarray) -> tuple[np.ndarray, bool]:
    """Inverse of the observed information; weakly identified directions get a large variance."""
    H = (H + H.T) / 2
    w, V = np.linalg.eigh(H)
    ok = bool(np.all(w > 1e-8 * max(1.0, float(np.max(np.abs(w))))))
    w = np.maximum(w, 1e-6)
    return (V / w) @ V.T, ok


def _optimize(model: StageModel, x0: np.ndarray) -> tuple[np.ndarray, float]:
    lo, hi = np.array(model.bounds()).T
    res = optimize.minimize(model.nll_grad, np.clip(x0, lo + 1e-9, hi - 1e-9), jac=True,
                            method="L-BFGS-B", bounds=model.bounds(),
                            options={"maxiter": 1000})
    return res.x, float(res.fun)


@dataclass
class _Structure:
    kinds: int
    track_kind: list[int]
    track_comp: list[int]
    track_slot: list[int]
    families: list[str]
    calendars: list[bool]

    def key(self) -> tuple:
        return (tuple(self.track_kind), tuple(self.track_slot), tuple(self.families),
                tuple(self.calendars))


def _two_means(x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Split positive values in two groups by 2-means on the log scale."""
    lx = np.log(np.maximum(x, MIN_TAU))
    if len(lx) < 2 * MIN_EVENTS_PER_TRACK or lx.std() == 0:
        return None
    c = np.quantile(lx, [0.25, 0.75])
    for _ in range(50):
        lab = np.abs(lx - c[0]) > np.abs(lx - c[1])
        if lab.all() or (~lab).all():
            return None
        new = np.array([lx[~lab].mean(), lx[lab].mean()])
        if np.allclose(new, c):
            break
        c = new
    return x[~lab], x[lab]


def fit_stage(ep: Episodes, *, split: bool = True, families: tuple[str, ...] = FAMILIES,
              calendar: bool = True, components: int | str = "auto") -> StageFit:
    """Fit one stage: outcome probabilities and dwell distributions, chosen by AIC.

    The search is greedy: first one dwell per way out, choosing family and calendar slot by
    slot with the others held at their current choice; then (``components`` "auto" or 2, only
    with ``split``) a second, faster or slower, component for each way out, kept when AIC
    prefers it. Every candidate is fitted jointly by maximum likelihood.
    """
    K = len(ep.kinds)
    if K == 0:
        raise ValueError("no exits")
    warnings: list[str] = []
    if split and K > 1 and min(ep.count(k) for k in range(K)) < MIN_EVENTS_PER_TRACK:
        warnings.append(f"{ep.stage}: fewer than {MIN_EVENTS_PER_TRACK} exits of some kind; "
                        "one dwell shared by all exits")
        split = False
    has_nd = (ep.n_stale + ep.n_nd) > 0 or len(ep.No) > 0
    max_comp = 1 if (not split or components in (1, "1")) else 2

    def start(fam: str, x: np.ndarray) -> tuple[float, float]:
        got = scipy_censored_start(fam, np.maximum(x, MIN_TAU), ep.open_days)
        if got is None:
            m = float(x.mean()) if len(x) else 30.0
            c = float(x.std() / m) if len(x) > 1 and m > 0 else 1.0
            got = start_from_moments(fam, m, c)
        return got

    def run(st: _Structure, x0: np.ndarray):
        model = StageModel(ep, st.track_kind, st.track_slot, st.families, st.calendars, has_nd)
        x, f = _optimize(model, x0)
        return model, x, f

    def x_from(st: _Structure, logit_counts: np.ndarray, slot_ab: list[tuple[float, float]],
               slot_eta: list[tuple[float, float]]) -> np.ndarray:
        model = StageModel(ep, st.track_kind, st.track_slot, st.families, st.calendars, has_nd)
        x = np.zeros(model.n)
        cnt = np.maximum(logit_counts, 0.5)
        T = len(st.track_kind)
        if has_nd:
            x[:model.n_logits] = np.log(cnt[:T] / cnt[T])
        else:
            x[:model.n_logits] = np.log(cnt[:T - 1] / cnt[T - 1])
        for s in range(len(st.families)):
            x[model.pos[("a", s)]], x[model.pos[("b", s)]] = slot_ab[s]
            if st.calendars[s]:
                x[model.pos[("eta0", s)]], x[model.pos[("eta1", s)]] = slot_eta[s]
        return x

    def convert(fam_from: str, a: float, b: float, fam_to: str) -> tuple[float, float]:
        if fam_from == fam_to:
            return a, b
        return start_from_moments(fam_to, *mean_cv(fam_from, a, b))

    def current(model: StageModel, x: np.ndarray):
        pi, pnd = model.probabilities(x)
        n_tot = ep.n_closed + len(ep.No) + ep.n_stale + ep.n_nd
        counts = np.concatenate([pi, [pnd]]) * n_tot
        ab = [(model.slot(x, s).a, model.slot(x, s).b) for s in range(len(model.families))]
        eta = [model.slot(x, s).eta for s in range(len(model.families))]
        return counts, ab, eta

    # 1. one component per way out
    st = _Structure(K, list(range(K)), [0] * K, list(range(K)) if split else [0] * K,
                    ["lognormal"] * (K if split else 1), [False] * (K if split else 1))
    kinds_of_slot = [[k for k in range(K) if st.track_slot[k] == s]
                     for s in range(len(st.families))]
    ab0 = [start("lognormal", ep.closed_days[np.isin(ep.kind, ks)]) for ks in kinds_of_slot]
    counts0 = np.array([ep.count(k) for k in range(K)]
                       + [ep.n_stale + ep.n_nd + 0.25 * len(ep.No)], float) + 0.5
    model, x, f = run(st, x_from(st, counts0, ab0, [(0.0, 0.0)] * len(ab0)))
    best = (2 * model.n + 2 * f, st, model, x, f)
    def describe(trial: _Structure, aic: float) -> dict:
        return {"families": tuple(trial.families), "calendars": tuple(trial.calendars),
                "components": tuple(trial.track_kind.count(k) for k in range(K)), "aic": aic}

    candidates = [describe(st, best[0])]

    def consider(trial: _Structure, x0: np.ndarray, s: int, comps: int):
        nonlocal best
        m2, x2, f2 = run(trial, x0)
        aic = 2 * m2.n + 2 * f2
        candidates.append(describe(trial, aic))
        if aic < best[0] - 1e-6:
            best = (aic, trial, m2, x2, f2)

    for s in range(len(st.families)):
        for fam in families:
            for cal in ((False, True) if calendar else (False,)):
                b_st = best[1]
                if (fam, cal) == (b_st.families[s], b_st.calendars[s]):
                    continue
                trial = _Structure(K, b_st.track_kind, b_st.track_comp, b_st.track_slot,
                                   list(b_st.families), list(b_st.calendars))
                trial.families[s], trial.calendars[s] = fam, cal
                counts, ab, eta = current(best[2], best[3])
                ab[s] = convert(b_st.families[s], *ab[s], fam)
                consider(trial, x_from(trial, counts, ab, eta), s, 1)

    # 2. a second component for each way out (split only)
    if max_comp > 1:
        for k in range(K):
            halves = _two_means(ep.closed_days[ep.kind == k])
            if halves is None:
                continue
            fast, slow = halves
            share = len(fast) / (len(fast) + len(slow))
            base_aic, base, base_model, base_x, _ = best
            counts, ab, eta = current(base_model, base_x)
            t_old = base.track_kind.index(k)
            s_old = base.track_slot[t_old]
            for fam in families:
                new_slot = len(base.families)
                trial = _Structure(K, base.track_kind + [k], base.track_comp + [1],
                                   base.track_slot + [new_slot], list(base.families) + [fam],
                                   list(base.calendars) + [base.calendars[s_old]])
                trial.families[s_old] = fam
                c_new = np.concatenate([counts[:-1], [counts[t_old] * (1 - share)],
                                        counts[-1:]])
                c_new[t_old] = counts[t_old] * share
                ab_new = list(ab) + [start_from_moments(fam, slow.mean(),
                                                        slow.std() / slow.mean())]
                ab_new[s_old] = start_from_moments(fam, fast.mean(), fast.std() / fast.mean())
                consider(trial, x_from(trial, c_new, ab_new, list(eta) + [eta[s_old]]),
                         s_old, 2)
        # 3. the clock of each dwell again, now that components may have been added
        if calendar:
            for s in range(len(best[1].families)):
                b_st = best[1]
                trial = _Structure(K, b_st.track_kind, b_st.track_comp, b_st.track_slot,
                                   list(b_st.families), list(b_st.calendars))
                trial.calendars[s] = not trial.calendars[s]
                counts, ab, eta = current(best[2], best[3])
                consider(trial, x_from(trial, counts, ab, eta), s, 1)

    _, st, model, x, f = best
    x, f = _optimize(model, x)
    if has_nd and ep.n_stale + ep.n_nd == 0 and model.probabilities(x)[1] < 1e-4:
        # no stale or no-decision visit and a share at its bound: there is no no-decision
        has_nd = False
        pi, _ = model.probabilities(x)
        model = StageModel(ep, st.track_kind, st.track_slot, st.families, st.calendars, False)
        x0 = np.concatenate([
            np.log(np.maximum(pi[:-1], 1e-12) / max(pi[-1], 1e-12)), x[len(pi):]])
        x, f = _optimize(model, x0)
    st, model, x = _order_components(st, model, x, has_nd, ep)
    H = hessian_from_grad(lambda z: model.nll_grad(z)[1], x)
    cov, ok = covariance(H)
    if not ok:
        warnings.append(f"{ep.stage}: some parameters are weakly identified by the data (flat "
                        "likelihood); their uncertainty is wide")
    pi, pnd = model.probabilities(x)
    return StageFit(stage=ep.stage, kinds=list(ep.kinds), track_kind=st.track_kind,
                    track_comp=st.track_comp, track_slot=st.track_slot,
                    slots=[model.slot(x, s) for s in range(len(st.families))], has_nd=has_nd,
                    pi=pi, pi_nd=pnd, theta=x, cov=cov, nll=f, n_params=model.n, model=model,
                    candidates=candidates, warnings=warnings)


def _order_components(st: _Structure, model: StageModel, x: np.ndarray, has_nd: bool,
                      ep: Episodes):
    """Renumber tracks so that each way out lists its faster component first."""
    T = len(st.track_kind)
    means = [model.slot(x, st.track_slot[t]).mean() for t in range(T)]
    order = sorted(range(T), key=lambda t: (st.track_kind[t], means[t]))
    if order == list(range(T)):
        return st, model, x
    slot_order = []
    for t in order:
        if st.track_slot[t] not in slot_order:
            slot_order.append(st.track_slot[t])
    new_slot = {s: i for i, s in enumerate(slot_order)}
    seen: dict[int, int] = {}
    comps = []
    for t in order:
        k = st.track_kind[t]
        comps.append(seen.get(k, 0))
        seen[k] = seen.get(k, 0) + 1
    st2 = _Structure(st.kinds, [st.track_kind[t] for t in order], comps,
                     [new_slot[st.track_slot[t]] for t in order],
                     [st.families[s] for s in slot_order],
                     [st.calendars[s] for s in slot_order])
    m2 = StageModel(ep, st2.track_kind, st2.track_slot, st2.families, st2.calendars, has_nd)
    x2 = np.zeros(m2.n)
    pi, pnd = model.probabilities(x)
    probs = np.concatenate([pi[order], [pnd]]) if has_nd else pi[order]
    lg = np.log(np.maximum(probs, 1e-300))
    x2[:m2.n_logits] = (lg - lg[-1])[:m2.n_logits]
    for s_new, s_old in enumerate(slot_order):
        for w in ("a", "b", "eta0", "eta1"):
            if (w, s_old) in model.pos:
                x2[m2.pos[(w, s_new)]] = x[model.pos[(w, s_old)]]
    return st2, m2, x2


def posterior_open(fit: StageFit, N_age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For visits open at clock ages ``N_age`` (n, 3): P(track t | still open), P(no decision).

    Returns ``(r, r_nd)`` of shapes (n, T) and (n,).
    """
    T = len(fit.pi)
    n = len(N_age)
    logs = np.zeros((n, T + 1))
    logs[:, T] = math.log(fit.pi_nd) if fit.pi_nd > 0 else -np.inf
    for t in range(T):
        sl = fit.slots[fit.track_slot[t]]
        tau = np.maximum(N_age @ sl.speeds, MIN_TAU)
        logs[:, t] = math.log(max(fit.pi[t], 1e-300)) + logpdf_logsf(sl.family, sl.a, sl.b,
                                                                      tau)[1]
    post = np.exp(logs - special.logsumexp(logs, axis=1, keepdims=True))
    return post[:, :T], post[:, T]


# --- deal values ----------------------------------------------------------------------------
@dataclass
class ValueFit:
    family: str
    a: float
    b: float
    cov: np.ndarray
    n: int
    sample_mean: float
    sample_sd: float
    aic: dict[str, float]

    def params(self) -> dict[str, float]:
        if self.family == "fixed":
            return {"value": self.a}
        return scenario_params(self.family, self.a, self.b)

    def param_se(self) -> dict[str, float]:
        p = self.params()
        if self.family == "fixed":
            return {"value": 0.0}
        names = list(p)
        return {names[0]: p[names[0]] * math.sqrt(self.cov[0, 0]),
                names[1]: p[names[1]] * math.sqrt(self.cov[1, 1])}

    def mean(self) -> float:
        if self.family == "fixed":
            return self.a
        return mean_cv(self.family, self.a, self.b)[0]


def fit_values(x: np.ndarray, families: tuple[str, ...] = FAMILIES) -> ValueFit:
    """Deal values (all observed: won deals' close values) by maximum likelihood, AIC choice."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x > 0)]
    if len(x) == 0:
        raise ValueError("no values")
    if len(x) < 3 or np.ptp(x) == 0:  # one value (e.g. a list price): a fixed deal value
        return ValueFit("fixed", float(np.median(x)), 0.0, np.zeros((2, 2)), len(x),
                        float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0, {})
    fits = {}
    for fam in families:
        got = scipy_censored_start(fam, x, np.zeros(0)) or start_from_moments(
            fam, x.mean(), x.std() / x.mean())

        def nll(p, fam=fam):
            lp, _ = logpdf_logsf(fam, p[0], p[1], x)
            v = -float(lp.sum())
            return v if np.isfinite(v) else 1e300

        bounds = [(-5.0, 5.0), (-10.0, 25.0)] if fam == "weibull" else [(-10.0, 25.0),
                                                                       (-6.0, 4.0)]
        res = optimize.minimize(nll, np.clip(np.array(got), *np.array(bounds).T),
                                method="L-BFGS-B", bounds=bounds)
        fits[fam] = (res.x, float(res.fun), nll)
    aic = {fam: 4 + 2 * f for fam, (_, f, _) in fits.items()}
    fam = min(aic, key=aic.get)
    p, _, nll = fits[fam]
    cov, _ = covariance(_hessian(nll, p))
    return ValueFit(fam, float(p[0]), float(p[1]), cov, len(x), float(x.mean()),
                    float(x.std(ddof=1)) if len(x) > 1 else 0.0, aic)


# --- arrivals -------------------------------------------------------------------------------
@dataclass
class ArrivalFit:
    """Arrivals per day, their month-to-month overdispersion and seasonality.

    Monthly counts are modelled as Poisson with a gamma-distributed monthly rate (a negative
    binomial): mean ``rate * days * weight[month]``, relative variance ``phi`` of the rate.
    """

    rate: float  # arrivals per day
    rate_se: float
    phi: float  # relative variance of a month's rate around the mean (0: plain Poisson)
    months: pd.DataFrame  # month, days observed, count, expected
    weights: np.ndarray | None  # 12 month-of-year factors (mean 1), or None
    n: int
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def rel_se(self) -> float:
        return self.rate_se / self.rate if self.rate > 0 else 0.0


def fit_arrivals(entered: pd.Series, start: pd.Timestamp, end: pd.Timestamp,
                 seasonality: bool | None = None) -> ArrivalFit:
    """Arrival rate from entry dates in [start, end] (inclusive), by calendar month."""
    e = pd.to_datetime(entered)
    e = e[(e >= start) & (e <= end)]
    days = pd.date_range(start, end, freq="D")
    by_day = pd.Series(1, index=days).groupby(days.to_period("M")).sum()
    counts = e.groupby(e.dt.to_period("M")).size().reindex(by_day.index, fill_value=0)
    n = int(counts.sum())
    exposure = float(by_day.sum())
    rate = n / exposure
    full = by_day >= 20
    weights = None
    months_seen = by_day[full].index.month.value_counts()
    if seasonality is None:
        seasonality = len(months_seen) == 12 and int(months_seen.min()) >= 2
    mu = rate * by_day
    if seasonality:
        w = np.ones(12)
        for m in range(1, 13):
            sel = by_day.index.month == m
            if sel.any() and mu[sel].sum() > 0:
                w[m - 1] = counts[sel].sum() / mu[sel].sum()
        weights = w / w.mean()
        mu = mu * weights[by_day.index.month - 1]
    c, m = counts[full].to_numpy(float), mu[full].to_numpy(float)
    phi = 0.0
    if len(c) >= 3 and (m ** 2).sum() > 0:
        phi = max(0.0, float(((c - m) ** 2 - m).sum() / (m ** 2).sum()))
    M = max(int(full.sum()), 1)
    rel_var = (1.0 / max(n, 1)) + phi / M
    months = pd.DataFrame({"month": by_day.index.astype(str), "days": by_day.to_numpy(),
                           "count": counts.to_numpy(), "expected": mu.to_numpy()})
    return ArrivalFit(rate=rate, rate_se=rate * math.sqrt(rel_var), phi=phi, months=months,
                      weights=weights, n=n, start=start, end=end)
