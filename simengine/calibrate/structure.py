"""The structure search of a stage: which ways out, families, calendars and components its
dwells need, chosen by AIC, each candidate fitted by maximum likelihood (:func:`fit_stage`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simengine.calibrate.families import (
    FAMILIES,
    mean_cv,
    scipy_censored_start,
    start_from_moments,
)
from simengine.calibrate.stage_model import (
    MIN_EVENTS_PER_TRACK,
    MIN_TAU,
    Episodes,
    StageFit,
    StageModel,
    covariance,
    fit_model,
    hessian_from_grad,
)


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
        x, f = fit_model(model, x0)
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
    x, f = fit_model(model, x)
    if has_nd and ep.n_stale + ep.n_nd == 0 and model.probabilities(x)[1] < 1e-4:
        # no stale or no-decision visit and a share at its bound: there is no no-decision
        has_nd = False
        pi, _ = model.probabilities(x)
        model = StageModel(ep, st.track_kind, st.track_slot, st.families, st.calendars, False)
        x0 = np.concatenate([
            np.log(np.maximum(pi[:-1], 1e-12) / max(pi[-1], 1e-12)), x[len(pi):]])
        x, f = fit_model(model, x0)
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
