"""Warm start: the pipeline a funnel holds on day 0 when its arrivals have been running for long.

With ``horizon.warm_start: true``, every stage that has no ``initial_pipeline`` entry starts at
its steady state under the campaigns' first-period arrival rates, instead of empty.

Why a steady state and not a simulated warm-up window: for Poisson arrivals into stages without
capacity limits (an infinite-server network with Markov routing), the number of prospects open
at each stage in the long run is Poisson with mean lambda_s E[D_s], independently across stages,
whatever the dwell distributions (the insensitivity of M/G/inf networks), where lambda_s is the
rate of visits to the stage. Each open prospect's remaining dwell then follows the equilibrium
residual distribution F_e(x) = (1 / E[D]) int_0^x (1 - F(u)) du. So the steady state is exact
and known in closed form; it needs no kernel run, keeps each prospect's segment and source
campaign (a simulated window's open counts lose them), and costs a few matrix inversions per
draw. What it leaves out: queues at stages worked by a pool (the prospects start as if capacity
were ample; the kernel then queues the excess), prospects in nurture, friction windows, calendars
and drift (base values, as for the open pipeline).

Per draw, for a campaign c with daily rate r_c (its expected arrivals in the first reporting
period, per day), segment g (share m_cg) and entry stage e_c: the expected visits to stage s of a
prospect entering at e_c are N[e_c, s], N = (I - Q)^-1 with Q the routing of segment g and
campaign c exactly as the kernel routes a visit (segment advance, campaign quality, a stage's no
decision taken from advance, clipping; recycling returns at once). The mean open count is
r_c m_cg N[e_c, s] E[D_s] a_gs, a_gs the segment's dwell multiplier. Counts are drawn by
inverting the Poisson CDF at a counter-based uniform keyed by (seed, draw, "warm_start:STAGE:
CAMPAIGN"), a namespace no other number uses, so the horizon's other random numbers are
unchanged and the result does not depend on threads or chunks.
"""

from __future__ import annotations

import numpy as np

from simengine import codes
from simengine.compile import Compiled
from simengine.compile.build import take_no_decision
from simengine.scenario.distributions import Empirical, Fixed


def active(cs: Compiled) -> bool:
    return len(cs.warm_stage) > 0


def init_stage(cs: Compiled) -> np.ndarray:
    """Stage of every initial-pipeline entry the kernel sees: the file's, then the warm ones."""
    if not active(cs):
        return cs.init_stage
    return np.ascontiguousarray(np.concatenate([cs.init_stage, cs.warm_stage]), np.int64)


def init_key(cs: Compiled) -> np.ndarray:
    if not active(cs):
        return cs.init_key
    return np.ascontiguousarray(np.concatenate([cs.init_key, cs.warm_key]), np.uint64)


def route_quality(cs: Compiled, theta: np.ndarray) -> np.ndarray:
    """(n, C + max(E, 1)) quality of every route source: campaigns, initial-pipeline entries,
    warm entries (the quality of the campaign they came from)."""
    n, C, I_ = len(theta), cs.n_campaigns, len(cs.init_stage)
    E = I_ + len(cs.warm_stage)
    quality = np.ones((n, C + max(E, 1)))
    quality[:, :C] = theta[:, cs.quality_col]
    if I_ and len(cs.init_quality_col):
        quality[:, C:C + I_] = theta[:, cs.init_quality_col]
    if active(cs):
        quality[:, C + I_:C + E] = theta[:, cs.quality_col[cs.warm_camp]]
    return quality


def _dist_mean(cs: Compiled, slot: int, nat: np.ndarray) -> np.ndarray:
    d = cs.slot_dists[slot]
    if isinstance(d, Fixed):
        return nat[:, slot, 0].copy()
    if isinstance(d, Empirical):
        return np.full(len(nat), d.mean())
    return np.asarray(d.nat_mean(nat[:, slot][:, None, :]), dtype=float).reshape(len(nat))


def visits(cs: Compiled, theta: np.ndarray) -> np.ndarray:
    """(n, C, G, S, S) expected visits to each stage from each stage, per draw, campaign and
    segment, routed as the kernel routes (without friction)."""
    n, S, C, G = len(theta), cs.n_stages, cs.n_campaigns, len(cs.segment_names)
    K = cs.next_col.shape[1]
    p_next = np.where(cs.next_col >= 0, theta[:, np.maximum(cs.next_col, 0)], 0.0)
    p_nd = theta[:, cs.nd_col]
    p_next = take_no_decision(cs, p_next.reshape(n, S, K), p_nd)
    p_rc = np.where(cs.rc_col >= 0, theta[:, np.maximum(cs.rc_col, 0)], 0.0)
    am = theta[:, cs.adv_col][:, None, :, :] * theta[:, cs.quality_col][:, :, None, None]
    a = p_next[:, None, None, :, :] * am[..., None]  # (n, C, G, S, K)
    a_total = a.sum(-1)
    nd = np.broadcast_to(p_nd[:, None, None, :], a_total.shape)
    rc = np.broadcast_to(p_rc[:, None, None, :], a_total.shape)
    over = a_total + nd + rc > 1.0
    room = nd + rc < 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(over & room, (1.0 - nd - rc) / a_total, 1.0)
    scale = np.where(over & ~room, 0.0, scale)
    a = a * scale[..., None]
    rc = np.where(over & ~room, rc / np.maximum(nd + rc, 1e-300), rc)
    Q = np.zeros((n, C, G, S, S))
    for s in range(S):
        for k in range(int(cs.n_next[s])):
            t = int(cs.next_target[s, k])
            if t >= 0:
                Q[..., s, t] += a[..., s, k]
        if cs.rc_col[s] >= 0:
            Q[..., s, int(cs.rc_to[s])] += rc[..., s]
    return np.linalg.inv(np.eye(S) - Q)


def steady_means(cs: Compiled, theta: np.ndarray, nat: np.ndarray, vol: np.ndarray
                 ) -> np.ndarray:
    """(n, S, C, G) mean open prospects at each stage in the steady state of each campaign's
    first-period daily rate (``vol``: (n, C) expected volume of each campaign)."""
    n, S, C, G = len(theta), cs.n_stages, cs.n_campaigns, len(cs.segment_names)
    out = np.zeros((n, S, C, G))
    if C == 0:
        return out
    d0 = int(cs.grid.period_end_day[0])
    rate = vol * cs.camp_shape[:, :d0].sum(axis=1)[None, :] / d0  # (n, C) arrivals per day
    mix = np.diff(np.concatenate([np.zeros((C, 1)), cs.camp_mix_cum], axis=1), axis=1)
    N = visits(cs, theta)
    dwell = np.stack([_dist_mean(cs, int(cs.dwell_slot[s]), nat) for s in range(S)], axis=1)
    dwell = dwell[:, None, :] * theta[:, cs.dwell_mult_col]  # (n, G, S)
    for c in range(C):
        e = int(cs.camp_enters[c])
        v = N[:, c, :, e, :]  # (n, G, S) visits from the entry stage
        out[:, :, c, :] = np.transpose(rate[:, c, None, None] * mix[c][None, :, None] * v
                                       * dwell, (0, 2, 1))
    return out


_TAIL = np.geomspace(1e-12, 1e-3, 120)
_Q = np.unique(np.concatenate([np.linspace(0.0, 1.0, 4001)[1:-1], _TAIL, 1.0 - _TAIL]))


def _equilibrium_residual(cs: Compiled, slot: int, nat: np.ndarray, u: np.ndarray
                          ) -> np.ndarray:
    """Residual dwells at uniforms ``u`` (n, m): the inverse of F_e(x) = int_0^x (1 - F) / E[D]
    per draw, on a fine quantile grid (the tail beyond the 1 - 1e-12 quantile is left out)."""
    d = cs.slot_dists[slot]
    if isinstance(d, Fixed):
        return u * nat[:, slot, :1]
    out = np.empty_like(u)
    rows = nat[:, slot]
    same = bool(len(rows)) and bool((rows == rows[:1]).all())
    for i in range(len(u)) if not same else [0]:
        if isinstance(d, Empirical):
            x = np.asarray(d.frozen_table().ppf(_Q), dtype=float)
        else:
            x = np.asarray(d.frozen(rows[i][None, :]).ppf(_Q), dtype=float).reshape(-1)
        x = np.concatenate([[0.0], np.maximum(x, 0.0)])
        surv = np.concatenate([[1.0], 1.0 - _Q])
        area = np.concatenate([[0.0], np.cumsum(np.diff(x) * 0.5 * (surv[1:] + surv[:-1]))])
        if same:
            return np.interp(u * area[-1], area, x)
        out[i] = np.interp(u[i] * area[-1], area, x)
    return out


def extend(cs: Compiled, theta: np.ndarray, nat: np.ndarray, vol: np.ndarray, seed: int,
           draw_ids: np.ndarray, counts: np.ndarray, offsets: np.ndarray, seg: np.ndarray,
           residual: np.ndarray):
    """The initial pipeline of a chunk (counts, offsets, segments, residual dwells, as
    :func:`simengine.engine.prepare.initial_pipeline` gives them) with the warm entries added
    after the file's entries; returned unchanged without a warm start."""
    if not active(cs):
        return counts, offsets, seg, residual
    from scipy import stats  # the kernels' helpers too: `simengine validate` needs none of them

    from simengine.kernels.funnel import initial_uniforms
    from simengine.kernels.rng import uniforms

    n, W, G = len(draw_ids), len(cs.warm_stage), len(cs.segment_names)
    means = steady_means(cs, theta, nat, vol)[:, cs.warm_stage, cs.warm_camp, :]  # (n, W, G)
    lam = means.sum(axis=2)
    u = uniforms(seed, draw_ids, cs.warm_key, codes.P_WARM)
    wc = np.asarray(stats.poisson.ppf(u, lam), dtype=float)
    wc = np.where(lam > 0, np.nan_to_num(wc), 0.0).astype(np.int64)
    maxc = wc.max(axis=0) if n else np.zeros(W, np.int64)
    M0 = seg.shape[1]
    w_off = M0 + np.concatenate([[0], np.cumsum(maxc)]).astype(np.int64)
    M = int(w_off[-1])
    u_seg, u_age, u_res = (np.zeros((n, M - M0)) for _ in range(3))
    initial_uniforms(np.int64(seed), np.asarray(draw_ids, np.int64), cs.warm_key, wc,
                     (w_off[:-1] - M0).copy(), u_seg, u_age, u_res)
    w_seg = np.zeros((n, M - M0), np.int64)
    w_res = np.zeros((n, M - M0))
    for w in range(W):
        sl = slice(w_off[w] - M0, w_off[w + 1] - M0)
        if w_off[w + 1] == w_off[w]:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            cum = np.cumsum(means[:, w, :], axis=1) / lam[:, w, None]
        cum = np.nan_to_num(cum, nan=1.0)
        cum[:, -1] = 1.0
        g = (u_seg[:, sl, None] >= cum[:, None, :]).sum(axis=2)
        w_seg[:, sl] = np.minimum(g, G - 1)
        s = int(cs.warm_stage[w])
        mult = np.take_along_axis(theta[:, cs.dwell_mult_col[:, s]], w_seg[:, sl], axis=1)
        w_res[:, sl] = mult * _equilibrium_residual(cs, int(cs.dwell_slot[s]), nat, u_res[:, sl])
    return (np.ascontiguousarray(np.concatenate([counts, wc], axis=1)),
            np.ascontiguousarray(np.concatenate([offsets, w_off[:-1]])),
            np.ascontiguousarray(np.concatenate([seg, w_seg], axis=1)),
            np.ascontiguousarray(np.concatenate([residual, w_res], axis=1)))


def empty_stages(cs: Compiled, theta: np.ndarray, nat: np.ndarray, vol: np.ndarray
                 ) -> list[tuple[str, float, float]]:
    """The stages that start empty on day 0 but hold prospects in the steady state: (name, mean
    open prospects in the steady state, about how many days they take to fill), at the mean
    parameters (``theta``: one row, ``nat`` and ``vol`` from it, as
    :mod:`simengine.engine.prepare` computes them). Empty when the scenario has a warm start.
    A stage counts as filled by the file when an ``initial_pipeline`` entry names it.

    The fill time is the sum of the mean dwells (times the segment multipliers, weighted by the
    arrival mix) from the entry stage of the campaign that contributes most to the stage, through
    the stage: about when the first prospects leave it at the steady-state rate.
    """
    if active(cs) or cs.scenario.horizon.warm_start or cs.n_campaigns == 0:
        return []
    means = steady_means(cs, theta, nat, vol)[0]  # (S, C, G)
    listed = set(int(s) for s in cs.init_stage)
    mix = np.diff(np.concatenate([np.zeros((cs.n_campaigns, 1)), cs.camp_mix_cum], axis=1),
                  axis=1)
    out = []
    for s in range(cs.n_stages):
        m = float(means[s].sum())
        if s in listed or m < 1.0:
            continue
        c = int(means[s].sum(axis=1).argmax())
        e = int(cs.camp_enters[c])
        days = 0.0
        for j in range(e, s + 1):
            d = _dist_mean(cs, int(cs.dwell_slot[j]), nat)[0]
            days += d * float(mix[c] @ theta[0, cs.dwell_mult_col[:, j]])
        out.append((cs.stage_names[s], m, days))
    return out
