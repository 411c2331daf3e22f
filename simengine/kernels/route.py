"""Routing tables: where a visit goes when it ends, as per-draw thresholds.

Both kernels route a visit by counting the thresholds at or below its uniform (no branch). The
thresholds of a stage depend on the route source (a campaign or an initial-pipeline entry), the
segment and the friction open on the exit day; friction windows are intervals, so a stage sees a
few distinct friction states in a draw (at most 2F + 1 for F windows) and the table holds one set
of thresholds per state, with ``f_state[s, d]`` the state of stage s on day d. Stages a drift
moves are routed by :func:`drift.route_table_t` (per time slot) or :func:`drift.route_visit`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simengine import codes
from simengine.kernels.clock import stage_clocks
from simengine.kernels.drift import clip_outcomes, fill_thresholds


@njit(cache=True, nogil=True, error_model="numpy")
def route_table(st, dr, i, nd_add, lost_add, route, r_out, r_clip, f_state, fr_route):
    """Per-draw routing thresholds of each (route source, segment, stage, friction state).

    ``route[c, g, s, f, :n_next[s] + 2]`` are the cumulative probabilities of the next targets,
    then no decision, then recycle, under friction state f (no-decision share ``nd_add`` and
    lost share ``lost_add`` added on the days ``f_state[s, d] == f``); a visit goes to
    ``r_out[s, j]`` for the first j whose threshold exceeds its uniform (``r_out[s, n_next[s] +
    2]`` is lost: none does). ``r_clip`` marks the combinations whose probabilities had to be
    clipped to 1; ``fr_route[s]`` is 1 where some friction changes stage s's outcomes. Computed
    with exactly the operations of :func:`drift.route_visit` at time slot 0, so a visit routes
    identically either way, then made non-decreasing (a running maximum, which keeps the first
    threshold above any u), so that j is simply the number of thresholds at or below u.
    """
    S, D = nd_add.shape
    s_nd = np.empty(route.shape[3])
    s_lost = np.empty(route.shape[3])
    n_next, next_target = st.n_next, st.next_target
    p_next, p_nd, p_rc, adv, quality = dr.p_next, dr.p_nd, dr.p_rc, dr.adv, dr.quality
    for s in range(S):
        # the distinct friction states of stage s, in order of appearance
        nf = 0
        fr_route[s] = 0
        for d in range(D):
            na, la = nd_add[s, d], lost_add[s, d]
            if na != 0.0 or la != 0.0:
                fr_route[s] = 1
            f = 0
            while f < nf and not (s_nd[f] == na and s_lost[f] == la):
                f += 1
            if f == nf:  # at most 2F + 1 states: each window opens and closes once
                s_nd[f] = na
                s_lost[f] = la
                nf += 1
            f_state[s, d] = f
        nn = n_next[s]
        for kk in range(nn):
            r_out[s, kk] = next_target[s, kk]
        r_out[s, nn] = codes.NO_DECISION
        r_out[s, nn + 1] = codes.RECYCLE
        r_out[s, nn + 2] = codes.LOST
        for f in range(nf):
            na, la = s_nd[f], s_lost[f]
            take = na + la
            for c in range(route.shape[0]):
                for g in range(route.shape[1]):
                    am = adv[i, g, s] * quality[i, c]
                    a_total = 0.0
                    for kk in range(nn):
                        a_total += p_next[i, s, kk] * am
                    ff = 1.0
                    if take > 0.0 and a_total > 0.0:
                        ff = max(a_total - take, 0.0) / a_total
                    a_total *= ff
                    q_nd = p_nd[i, s] + na
                    q_rc = p_rc[i, s]
                    ff, a_total, q_nd, q_rc, r_clip[c, g, s, f] = clip_outcomes(ff, a_total, q_nd,
                                                                                q_rc)
                    fill_thresholds(route[c, g, s, f], p_next[i, s], am, ff, a_total, q_nd,
                                    q_rc, nn)


@njit(cache=True, nogil=True, error_model="numpy")
def draw_tables(st, dr, i):
    """Draw ``i``'s stage clocks and routing tables, as both kernels read them.

    Returns ``speed``, ``cum``, ``nd_add``, ``lost_add``, ``has_clock`` (see
    :func:`clock.stage_clocks`) and ``route``, ``r_out``, ``r_clip``, ``f_state``, ``fr_route``
    (see :func:`route_table`).
    """
    S, D = st.calendar.shape[0], st.days
    G = st.camp_mix_cum.shape[1]
    R = dr.quality.shape[1]  # route sources: campaigns, then initial-pipeline entries
    K = dr.p_next.shape[2]
    NF = 2 * dr.fr_on.shape[1] + 1  # friction states a stage can see in a draw
    speed = np.empty((S, D))
    cum = np.empty((S, D + 1))
    nd_add = np.empty((S, D))
    lost_add = np.empty((S, D))
    has_clock = np.zeros(S, np.int64)
    stage_clocks(st, dr, i, speed, cum, nd_add, lost_add, has_clock)
    route = np.empty((R, G, S, NF, K + 2))
    r_out = np.empty((S, K + 3), np.int64)
    r_clip = np.zeros((R, G, S, NF), np.int64)
    f_state = np.empty((S, D), np.int64)
    fr_route = np.zeros(S, np.int64)
    route_table(st, dr, i, nd_add, lost_add, route, r_out, r_clip, f_state, fr_route)
    return speed, cum, nd_add, lost_add, has_clock, route, r_out, r_clip, f_state, fr_route
