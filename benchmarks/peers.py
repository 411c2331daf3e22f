"""The benchmark funnel written twice more, independently of the engine: in plain vectorised
NumPy and in SimPy (a process per prospect, a timeout per stage). Both read the same compiled
scenario (one draw's parameters) and return the same tallies, so the benchmarks can check that
the engine and its peers compute the same thing before comparing their speed.

Only what the uncapacitated reference funnel uses is supported: forward routing (next targets
and no decision), lognormal / gamma / exponential / fixed dwells, one segment, no recycling,
friction, calendars or initial pipeline. :func:`funnel_spec` refuses anything else.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from simengine import codes
from simengine.compile import Compiled
from simengine.engine.prepare import prepare, volumes
from simengine.engine.sampling import sample_params

_KINDS = {codes.FIXED: "fixed", codes.LOGNORMAL: "lognormal", codes.GAMMA: "gamma",
          codes.EXPONENTIAL: "exponential"}


@dataclass(frozen=True)
class FunnelSpec:
    """One draw of a forward funnel, in plain numbers.

    Attributes
    ----------
    days : int
        Horizon D; a prospect whose exit time is at or after D is open at the end.
    arrivals : ndarray (C, D)
        Expected arrivals of each campaign on each day (Poisson means).
    enters : ndarray (C,)
        Stage each campaign's prospects enter.
    dwell : tuple of (kind, p0, p1) per stage
        ``lognormal`` (mu, sigma), ``gamma`` (shape, scale), ``exponential`` (mean, -),
        ``fixed`` (value, -), in days.
    targets, p_next : ndarray (S, K)
        Next stage of each branch (``codes.WON`` for won) and its probability.
    n_next : ndarray (S,)
    p_nd : ndarray (S,)
        No-decision probability; the remainder of a visit is lost.
    value : (kind, p0, p1)
        Deal value distribution; a prospect's value is drawn when it enters the first stage
        counted in the pipeline value.
    in_pv : ndarray (S,)
        1 for the stages whose open prospects count in the pipeline value.
    day_period, first_end_after : ndarray
        The reporting grid: the period of each day, and for day d the first period whose
        end-of-period snapshot counts a prospect present from a time in [d, d + 1).
    """

    days: int
    arrivals: np.ndarray
    enters: np.ndarray
    dwell: tuple[tuple[str, float, float], ...]
    targets: np.ndarray
    p_next: np.ndarray
    n_next: np.ndarray
    p_nd: np.ndarray
    value: tuple[str, float, float]
    in_pv: np.ndarray
    day_period: np.ndarray
    first_end_after: np.ndarray

    @property
    def n_stages(self) -> int:
        return len(self.dwell)

    def scaled(self, factor: float) -> FunnelSpec:
        """The same funnel with ``factor`` times the arrivals (for the slow peers)."""
        return FunnelSpec(self.days, self.arrivals * factor, self.enters, self.dwell,
                          self.targets, self.p_next, self.n_next, self.p_nd, self.value,
                          self.in_pv, self.day_period, self.first_end_after)


def funnel_spec(cs: Compiled, seed: int = 0, draw: int = 0) -> FunnelSpec:
    """The parameters of draw ``draw`` of a compiled scenario, for the peers."""
    sc = cs.scenario
    problems = [what for what, bad in [
        ("pools", sc.uses_pools), ("friction", bool(cs.friction_names)),
        ("initial_pipeline", len(cs.init_stage) > 0), ("segments", len(cs.segment_names) > 1),
        ("recycle", bool((cs.rc_col >= 0).any())), ("calendar", bool((cs.calendar != 1).any())),
    ] if bad]
    ids = np.array([draw], dtype=np.int64)
    theta = sample_params(cs.params, seed, ids)
    dr = prepare(cs, theta, seed, ids)
    S = cs.n_stages
    for s in range(S):
        for k in range(cs.n_next[s]):
            if 0 <= cs.next_target[s, k] <= s:
                problems.append(f"stages[{s}] routes backwards")
    if not np.all(dr.adv == 1.0) or not np.all(dr.dwell_mult == 1.0) \
            or not np.all(dr.quality == 1.0):
        problems.append("segment or campaign multipliers")

    def dist(slot: int) -> tuple[str, float, float]:
        kind = int(cs.slot_kind[slot])
        if kind not in _KINDS:
            problems.append(f"distribution kind {kind}")
            return ("fixed", 0.0, 0.0)
        nat = dr.nat[0, slot]
        return (_KINDS[kind], float(nat[0]), float(nat[1]))

    dwell = tuple(dist(int(cs.dwell_slot[s])) for s in range(S))
    value = dist(int(cs.value_slot[0]))
    if problems:
        raise ValueError("the peers cannot simulate: " + ", ".join(problems))
    vol = volumes(cs, theta)[0]
    return FunnelSpec(
        days=cs.grid.days, arrivals=vol[:, None] * cs.camp_shape,
        enters=np.asarray(cs.camp_enters, np.int64), dwell=dwell,
        targets=np.asarray(cs.next_target, np.int64), p_next=dr.p_next[0].copy(),
        n_next=np.asarray(cs.n_next, np.int64), p_nd=dr.p_nd[0].copy(), value=value,
        in_pv=np.asarray(cs.in_pipeline_value, np.int64),
        day_period=np.asarray(cs.grid.day_period, np.int64),
        first_end_after=np.asarray(cs.grid.first_end_after, np.int64))


def empty_tally(S: int) -> dict[str, np.ndarray | float]:
    """Counts every peer returns (the engine's raw output is reduced to the same)."""
    return {"prospects": 0.0, "won": 0.0, "revenue": 0.0, "revenue_sq": 0.0,
            "reached": np.zeros(S), "lost": np.zeros(S), "no_decision": np.zeros(S),
            "open": np.zeros(S)}


# --- NumPy: one stage at a time, all prospects of the stage at once ------------------------------

def _np_sample(rng: np.random.Generator, d: tuple[str, float, float], n: int) -> np.ndarray:
    kind, p0, p1 = d
    if kind == "lognormal":
        return rng.lognormal(p0, p1, n)
    if kind == "gamma":
        return rng.gamma(p0, p1, n)
    if kind == "exponential":
        return rng.exponential(p0, n)
    return np.full(n, p0)


def numpy_funnel(spec: FunnelSpec, seed: int, outputs: bool = True) -> dict:
    """Vectorised NumPy: arrivals of every day at once, then the stages in order.

    Routing only moves forward, so when stage s is processed every prospect that will ever
    enter it is known: its entry times are collected from the arrivals and earlier stages.

    With ``outputs`` (the default) it also computes what the engine computes for such a funnel
    (the variables of the Dataset that this model has): entries, losses and no-decisions per
    period and stage, won deals and bookings per period, the pipeline per period and stage and
    its value per period (end-of-period snapshots), time in stage, and per campaign the stages
    reached, won deals and bookings, and the cycle time of won deals; with ``np.bincount`` on
    whole arrays, the prospects of a stage as rows of one (n, 4) array (entry time, campaign,
    arrival time, deal value) so that each selection is one pass. Without it, only the tally
    of :func:`empty_tally`: the least any implementation has to compute.
    """
    rng = np.random.default_rng(seed)
    S, D = spec.n_stages, spec.days
    C = spec.arrivals.shape[0]
    P = int(spec.day_period.max()) + 1
    fea, dper = spec.first_end_after, spec.day_period
    out = empty_tally(S)
    if outputs:
        out.update(entered=np.zeros((P, S)), lost_p=np.zeros((P, S)), nd_p=np.zeros((P, S)),
                   won_p=np.zeros(P), revenue_p=np.zeros(P), pipeline=np.zeros((P, S)),
                   pipeline_value=np.zeros(P), stage_time=np.zeros(S), stage_exits=np.zeros(S),
                   reached_c=np.zeros((C, S)), won_c=np.zeros(C), revenue_c=np.zeros(C),
                   cycle_time_sum=0.0)
        pv_diff = np.zeros(P + 1)
    entries: list[list[np.ndarray]] = [[] for _ in range(S)]  # per stage: rows (t, c, a, v)
    for c in range(C):
        n = rng.poisson(spec.arrivals[c])
        day = np.repeat(np.arange(D, dtype=np.float64), n)
        t = day + rng.random(len(day))
        out["prospects"] += len(day)
        if outputs:
            out["entered"][:, spec.enters[c]] += np.bincount(dper[day.astype(np.int64)],
                                                             minlength=P)
            x = np.empty((len(t), 4))
            x[:, 0], x[:, 1], x[:, 2], x[:, 3] = t, c, t, np.nan
            entries[spec.enters[c]].append(x)
        else:
            entries[spec.enters[c]].append(t)
    for s in range(S):
        if not entries[s]:
            continue
        x = np.concatenate(entries[s])
        entries[s] = []
        t = x[:, 0] if outputs else x
        out["reached"][s] = len(t)
        t_out = t + np.maximum(_np_sample(rng, spec.dwell[s], len(t)), 0.0)
        done = t_out < D
        out["open"][s] = len(t) - np.count_nonzero(done)
        if outputs:
            out["reached_c"][:, s] = np.bincount(x[:, 1].astype(np.int64), minlength=C)
            if spec.in_pv[s]:
                new = np.isnan(x[:, 3])
                x[new, 3] = np.maximum(_np_sample(rng, spec.value, np.count_nonzero(new)), 0.0)
            first = fea[t.astype(np.int64)]
            if spec.in_pv[s]:
                pv_diff += np.bincount(first, weights=x[:, 3], minlength=P + 1)
            out["stage_time"][s] = float(np.sum((t_out - t)[done]))
            x[:, 0] = t_out  # from here on: rows of the prospects leaving the stage, at exit
            x = x[done]
            t_out = x[:, 0]
            last = fea[t_out.astype(np.int64)]
            if spec.in_pv[s]:
                pv_diff -= np.bincount(last, weights=x[:, 3], minlength=P + 1)
            out["pipeline"][:, s] = np.cumsum(np.bincount(first, minlength=P + 1)
                                              - np.bincount(last, minlength=P + 1))[:P]
            out["stage_exits"][s] = len(last)
            period = dper[t_out.astype(np.int64)]
        else:
            t_out = t_out[done]
        u = rng.random(len(t_out))
        lo = 0.0
        for k in range(spec.n_next[s]):
            hi = lo + spec.p_next[s, k]
            go = (u >= lo) & (u < hi)
            target = spec.targets[s, k]
            if target == codes.WON:
                if outputs:
                    w = x[go]
                    v = w[:, 3]
                    todo = np.isnan(v)
                    v[todo] = np.maximum(_np_sample(rng, spec.value, np.count_nonzero(todo)),
                                         0.0)
                    pw = period[go]
                    cw = w[:, 1].astype(np.int64)
                    out["won_p"] += np.bincount(pw, minlength=P)
                    out["revenue_p"] += np.bincount(pw, weights=v, minlength=P)
                    out["won_c"] += np.bincount(cw, minlength=C)
                    out["revenue_c"] += np.bincount(cw, weights=v, minlength=C)
                    out["cycle_time_sum"] += float(np.sum(w[:, 0] - w[:, 2]))
                else:
                    v = np.maximum(_np_sample(rng, spec.value, np.count_nonzero(go)), 0.0)
                out["won"] += len(v)
                out["revenue"] += v.sum()
                out["revenue_sq"] += (v * v).sum()
            elif outputs:
                out["entered"][:, target] += np.bincount(period[go], minlength=P)
                entries[target].append(x[go])
            else:
                entries[target].append(t_out[go])
            lo = hi
        is_nd = (u >= lo) & (u < lo + spec.p_nd[s])
        nd = np.count_nonzero(is_nd)
        out["no_decision"][s] = nd
        out["lost"][s] = len(u) - np.count_nonzero(u < lo) - nd
        if outputs:
            out["nd_p"][:, s] = np.bincount(period[is_nd], minlength=P)
            out["lost_p"][:, s] = np.bincount(period[u >= lo + spec.p_nd[s]], minlength=P)
    if outputs:
        out["pipeline_value"] = np.cumsum(pv_diff)[:P]
    return out


# --- SimPy: a process per prospect ------------------------------------------------------------

def _py_sampler(rnd: random.Random, d: tuple[str, float, float]):
    kind, p0, p1 = d
    if kind == "lognormal":
        return lambda: rnd.lognormvariate(p0, p1)
    if kind == "gamma":
        return lambda: rnd.gammavariate(p0, p1)
    if kind == "exponential":
        return lambda: rnd.expovariate(1.0 / p0)
    return lambda: p0


def simpy_funnel(spec: FunnelSpec, seed: int) -> dict:
    """SimPy: a source process per campaign creates a process per prospect, which waits out
    each stage's dwell with a timeout and then draws its route. ``env.run(until=D)`` stops the
    clock at the horizon; prospects still waiting are open at the end."""
    import simpy

    rnd = random.Random(seed)
    S, D = spec.n_stages, spec.days
    out = empty_tally(S)
    in_stage = np.zeros(S, np.int64)
    dwell = [_py_sampler(rnd, d) for d in spec.dwell]
    value = _py_sampler(rnd, spec.value)
    branches = []
    for s in range(S):
        cum, acc = [], 0.0
        for k in range(spec.n_next[s]):
            acc += spec.p_next[s, k]
            cum.append((acc, int(spec.targets[s, k])))
        branches.append((cum, acc + spec.p_nd[s]))
    env = simpy.Environment()

    def prospect(s: int):
        while True:
            out["reached"][s] += 1
            in_stage[s] += 1
            yield env.timeout(max(dwell[s](), 0.0))
            in_stage[s] -= 1
            u = rnd.random()
            cum, nd = branches[s]
            target = codes.LOST
            for hi, to in cum:
                if u < hi:
                    target = to
                    break
            if target >= 0:
                s = target
                continue
            if target == codes.WON:
                v = max(value(), 0.0)
                out["won"] += 1
                out["revenue"] += v
                out["revenue_sq"] += v * v
            elif u < nd:
                out["no_decision"][s] += 1
            else:
                out["lost"][s] += 1
            return

    def poisson(lam: float) -> int:
        # inversion; lam is a daily mean of at most a few thousand here
        if lam <= 0.0:
            return 0
        if lam > 500.0:
            return max(0, round(rnd.gauss(lam, math.sqrt(lam))))
        k, p = 0, math.exp(-lam)
        cdf, u = p, rnd.random()
        while u > cdf:
            k += 1
            p *= lam / k
            cdf += p
        return k

    def source(c: int):
        for day in range(D):
            times = sorted(day + rnd.random() for _ in range(poisson(spec.arrivals[c, day])))
            for t in times:
                yield env.timeout(t - env.now)
                out["prospects"] += 1
                env.process(prospect(int(spec.enters[c])))
            if env.now < day + 1:
                yield env.timeout(day + 1 - env.now)

    for c in range(spec.arrivals.shape[0]):
        env.process(source(c))
    env.run(until=D)
    out["open"] = in_stage.astype(np.float64)
    return out


# --- the engine's raw output reduced to the same tally ----------------------------------------

def engine_tally(out) -> dict:
    """Sum the engine's per-draw outputs (``Out`` of :func:`simengine.engine.run`) over draws."""
    S = out.open_at_end.shape[1]
    t = empty_tally(S)
    t["prospects"] = float(out.arrivals.sum() + out.initial.sum())
    t["won"] = float(out.won.sum())
    t["revenue"] = float(out.revenue.sum())
    t["reached"] = out.reached.sum(axis=(0, 1))
    t["lost"] = out.exited_lost.sum(axis=(0, 1))
    t["no_decision"] = out.exited_no_decision.sum(axis=(0, 1))
    t["open"] = out.open_at_end.sum(axis=0)
    return t


def agreement(engine: dict, peer: dict, k: float = 4.0) -> list[str]:
    """Differences between two tallies larger than ``k`` Monte Carlo standard errors.

    Compared: the fraction of prospects that is won, that reaches each stage, that is open at
    the end in each stage (binomial proportions of independent prospects, two-sample standard
    error), and the mean deal value of won deals (standard error from the peer's sample
    variance, which both share under the null hypothesis).
    """
    bad = []
    n1, n2 = engine["prospects"], peer["prospects"]

    def prop(name: str, x1: float, x2: float) -> None:
        p1, p2 = x1 / n1, x2 / n2
        p = (x1 + x2) / (n1 + n2)
        se = math.sqrt(max(p * (1 - p), 1e-300) * (1 / n1 + 1 / n2))
        if abs(p1 - p2) > k * se:
            bad.append(f"{name}: engine {p1:.5f}, peer {p2:.5f}, "
                       f"|diff| = {abs(p1 - p2) / se:.1f} s.e.")

    prop("won fraction", engine["won"], peer["won"])
    for s in range(len(engine["reached"])):
        prop(f"reached stage {s}", engine["reached"][s], peer["reached"][s])
        prop(f"open at end in stage {s}", engine["open"][s], peer["open"][s])
    w1, w2 = engine["won"], peer["won"]
    if w1 > 0 and w2 > 1:
        m1, m2 = engine["revenue"] / w1, peer["revenue"] / w2
        var = max(peer["revenue_sq"] / w2 - m2 * m2, 0.0) * w2 / (w2 - 1)
        se = math.sqrt(var * (1 / w1 + 1 / w2))
        if abs(m1 - m2) > k * se:
            bad.append(f"mean deal value: engine {m1:.0f}, peer {m2:.0f}, "
                       f"|diff| = {abs(m1 - m2) / se:.1f} s.e.")
    return bad


def agreement_outputs(out, peer: dict, k: float = 4.0) -> list[str]:
    """Per-period counts of :func:`numpy_funnel` against the engine's mean over its draws.

    Compared: entries and end-of-period pipeline per period and stage, and won deals per
    period. Each is a sum of independent indicators (one per prospect), whose variance is at
    most its mean, so ``sqrt(mean / draws + peer)`` bounds the standard error of the
    difference; counts below 25 are skipped (too few for the normal approximation).
    """
    n = out.won.shape[0]
    bad = []
    for name, eng, mine in [("entered", out.entered.sum(axis=0), peer["entered"]),
                            ("pipeline", out.pipeline.sum(axis=0), peer["pipeline"]),
                            ("won", out.won.sum(axis=0), peer["won_p"])]:
        mean = eng / n
        se = np.sqrt(mean / n + mine)
        z = np.abs(mean - mine) / np.maximum(se, 1e-300)
        z[(mean < 25) | (mine < 25)] = 0.0
        if z.max() > k:
            at = np.unravel_index(np.argmax(z), z.shape)
            where = ", ".join(str(int(x)) for x in at)
            bad.append(f"{name}[{where}]: engine {mean[at]:.1f}, peer {mine[at]:.0f}, "
                       f"{z[at]:.1f} s.e.")
    return bad

