"""Parameters that move over time: their paths, and the routing both kernels read through them.

A drift entry gives a parameter one value per reporting period of a draw, ``x[t] = g^-1(g(x) +
z[t])`` with ``g`` the logit or the log, and ``z`` a random walk, an AR(1) or a local linear
trend. The paths are made once per draw (:func:`drift_paths`, a table per period, no work per
prospect) and laid out by ``engine.prepare`` as per-draw arrays with a *time slot* axis: slot 0
holds the base values, slot ``1 + p`` the values of period ``p``. A stage reads slot 0 when nothing
moves it, its prospects' arrival period (their cohort) or the calendar period of the event
(codes.DRIFT_*): :func:`clock_index`.

Every innovation is a counter-based normal keyed by (seed, draw, drifting parameter, period,
eps|eta), so a path does not depend on threads, chunks or the other drift entries.
"""

from __future__ import annotations

import math

from numba import njit

from simengine import codes
from simengine.kernels.rng import counter, derive, draw_key, seed_key, uniform
from simengine.kernels.samplers import ndtri


@njit(cache=True, nogil=True, error_model="numpy")
def drift_paths(seed, draw_ids, keys, model, sd, phi, trend, trend_sd, z):
    """``z[i, e, t]``: the path of drift entry ``e`` in draw ``draw_ids[i]``, periods t = 0..P-1.

    ``sd``, ``phi``, ``trend``, ``trend_sd`` are per-draw values of shape (n, Z) (unused ones
    are ignored). Models (eps, eta iid N(0, 1)):

    - random walk: z[0] = sd eps[0], z[t] = z[t-1] + sd eps[t]
    - AR(1): z[0] = sd / sqrt(1 - phi^2) eps[0] (stationary), z[t] = phi z[t-1] + sd eps[t]
    - local trend: b[0] = trend, z[0] = b[0] + sd eps[0]; b[t] = b[t-1] + trend_sd eta[t],
      z[t] = z[t-1] + b[t] + sd eps[t]
    """
    root = seed_key(seed)
    n, Z, P = z.shape
    for i in range(n):
        dk = draw_key(root, draw_ids[i])
        for e in range(Z):
            ek = derive(dk, keys[e])
            s = sd[i, e]
            m = model[e]
            prev = 0.0
            b = trend[i, e]
            for t in range(P):
                eps = ndtri(uniform(ek, counter(t, codes.P_DRIFT, 0)))
                if m == codes.AR1:
                    if t == 0:
                        x = s / math.sqrt(1.0 - phi[i, e] * phi[i, e]) * eps
                    else:
                        x = phi[i, e] * prev + s * eps
                elif m == codes.LOCAL_TREND:
                    if t > 0:
                        b += trend_sd[i, e] * ndtri(uniform(ek, counter(t, codes.P_DRIFT, 1)))
                    x = prev + b + s * eps
                else:
                    x = prev + s * eps
                z[i, e, t] = x
                prev = x


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def clock_index(mode, cohort, period):
    """The time slot a stage reads: 0 (nothing moves), the prospect's cohort slot, or the slot
    of calendar period ``period``."""
    if mode == codes.DRIFT_NONE:
        return 0
    if mode == codes.DRIFT_COHORT:
        return cohort
    return period + 1


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def clip_outcomes(f, a_total, q_nd, q_rc):
    """Advance, no decision and recycle of a visit clipped to a total of 1 (and reported).

    Advance gives way first: its targets are scaled by ``(1 - q_nd - q_rc) / a_total`` (times
    ``f``, any scaling already applied); when no decision and recycle alone exceed 1, advance is
    0 and the two are renormalised. Returns ``(f, a_total, q_nd, q_rc, clipped)``; one place for
    the rule that every routing of both kernels follows.
    """
    if a_total + q_nd + q_rc > 1.0:
        if q_nd + q_rc < 1.0:
            return f * ((1.0 - q_nd - q_rc) / a_total), 1.0 - q_nd - q_rc, q_nd, q_rc, 1
        s = q_nd + q_rc
        return 0.0, 0.0, q_nd / s, q_rc / s, 1
    return f, a_total, q_nd, q_rc, 0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def fill_thresholds(row, p_next, am, f, a_total, q_nd, q_rc, nn):
    """One (source, segment, stage) row of a routing table: the cumulative ``next``
    probabilities (each times ``am * f``), then no decision, then recycle, made non-decreasing
    by a running maximum (which keeps the first threshold above any u), so that the outcome is
    the number of thresholds at or below u: no branch."""
    acc = 0.0
    for kk in range(nn):
        acc += p_next[kk] * am * f
        row[kk] = acc
    row[nn] = a_total + q_nd
    row[nn + 1] = a_total + q_nd + q_rc
    for kk in range(1, nn + 2):
        row[kk] = max(row[kk], row[kk - 1])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def route_visit(st, dr, i, rc, g, s, tz, xday, u, nd_add, lost_add):
    """``(outcome, clipped)`` of a visit to stage ``s`` ending on day ``xday`` with uniform ``u``:
    route source ``rc`` (campaign or initial-pipeline entry) and segment ``g`` at time slot
    ``tz``, with the friction of the exit day; probabilities summing over 1 are clipped
    (``clipped`` = 1). The thresholds of :func:`route_table_t` and ``route.route_table`` are
    computed with the same operations, so a visit routes identically either way."""
    n_next, next_target = st.n_next, st.next_target
    pn = dr.dz_next
    am = dr.dz_adv[i, g, s, tz] * dr.dz_quality[i, rc, tz]
    nn = n_next[s]
    a_total = 0.0
    for kk in range(nn):
        a_total += pn[i, s, tz, kk] * am
    take = nd_add[s, xday] + lost_add[s, xday]
    f = 1.0
    if take > 0.0 and a_total > 0.0:
        f = max(a_total - take, 0.0) / a_total
    a_total *= f
    q_nd = dr.dz_nd[i, s, tz] + nd_add[s, xday]
    q_rc = dr.dz_rc[i, s, tz]
    f, a_total, q_nd, q_rc, clipped = clip_outcomes(f, a_total, q_nd, q_rc)
    acc = 0.0
    for kk in range(nn):
        acc += pn[i, s, tz, kk] * am * f
        if u < acc:
            return next_target[s, kk], clipped
    if u < a_total + q_nd:
        return codes.NO_DECISION, clipped
    if u < a_total + q_nd + q_rc:
        return codes.RECYCLE, clipped
    return codes.LOST, clipped


@njit(cache=True, nogil=True, error_model="numpy")
def route_table_t(st, dr, i, route_t, clip_t):
    """Routing thresholds of the stages whose routing moves (``st.rt_stages``), per time slot.

    ``route_t[rc, g, x, tz, :]`` and ``clip_t[rc, g, x, tz]`` for the x-th such stage, laid out
    as ``route.route_table`` lays out one time slot (non-decreasing thresholds of the next
    targets, no decision, recycle; the outcome is their number at or below u)."""
    pn, n_next = dr.dz_next, st.n_next
    R, G, X, T = clip_t.shape
    for x in range(X):
        s = st.rt_stages[x]
        nn = n_next[s]
        for c in range(R):
            for g in range(G):
                for tz in range(T):
                    am = dr.dz_adv[i, g, s, tz] * dr.dz_quality[i, c, tz]
                    a_total = 0.0
                    for kk in range(nn):
                        a_total += pn[i, s, tz, kk] * am
                    f = 1.0
                    q_nd = dr.dz_nd[i, s, tz]
                    q_rc = dr.dz_rc[i, s, tz]
                    f, a_total, q_nd, q_rc, clip_t[c, g, x, tz] = clip_outcomes(
                        f, a_total, q_nd, q_rc)
                    fill_thresholds(route_t[c, g, x, tz], pn[i, s, tz], am, f, a_total, q_nd,
                                    q_rc, nn)
