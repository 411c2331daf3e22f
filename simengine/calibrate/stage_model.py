"""The likelihood of one stage: its visits as the likelihood sees them (:class:`Episodes`), the
model (:class:`StageModel`) and the fitted stage (:class:`StageFit`).

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
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from simengine.calibrate.clock import dspeeds, speeds
from simengine.calibrate.families import frozen, logpdf_logsf, mean_cv, pdf_d, scenario_params, sf_d

MIN_TAU = 0.25  # days: a same-day close is a dwell of a fraction of a day
MIN_EVENTS_PER_TRACK = 10
LOGIT_BOUND = 18.0


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


def numeric_hessian(f, x: np.ndarray) -> np.ndarray:
    """Observed information: central second differences of ``f``."""
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


def fit_model(model: StageModel, x0: np.ndarray) -> tuple[np.ndarray, float]:
    """The maximum-likelihood parameters of a stage model (L-BFGS-B from ``x0``) and the
    negative log-likelihood there."""
    lo, hi = np.array(model.bounds()).T
    res = optimize.minimize(model.nll_grad, np.clip(x0, lo + 1e-9, hi - 1e-9), jac=True,
                            method="L-BFGS-B", bounds=model.bounds(),
                            options={"maxiter": 1000})
    return res.x, float(res.fun)


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
