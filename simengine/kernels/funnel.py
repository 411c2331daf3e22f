"""The fast path: prospects are independent, each simulated from arrival to exit in one loop.

Inputs are three namedtuples of arrays: ``Static`` (the compiled scenario), ``Draws`` (per-draw
parameters of one chunk, first axis = draw in chunk) and ``Out`` (aggregates of the chunk, first
axis = draw in chunk, filled in place). Draws run in parallel with ``prange``; each draw is
computed by one thread in a fixed order, so results do not depend on the number of threads.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange, uint64

from simengine import codes
from simengine.kernels.rng import counter, derive, draw_key, seed_key, uniform
from simengine.kernels.samplers import empirical, ndtri, poisson, sample

MAX_VISITS = 10_000  # a prospect still cycling after this many visits stays open (and is counted)

Static = namedtuple("Static", [
    "days", "n_periods", "day_period", "first_end_after",
    "slot_kind", "emp_values", "emp_cum", "slot_emp",
    "dwell_slot", "next_target", "n_next", "has_recycle", "rc_to", "delay_slot",
    "in_pipeline_value", "calendar",
    "value_slot",
    "camp_enters", "camp_shape", "camp_first_day", "camp_last_day", "camp_mix_cum", "camp_key",
    "init_stage", "init_key",
    "fr_stages",
])

Draws = namedtuple("Draws", [
    "draw_ids", "failed", "nat", "p_next", "p_nd", "p_rc", "adv", "dwell_mult",
    "volume", "quality",
    "fr_on", "fr_start", "fr_end", "fr_dwell", "fr_nd", "fr_lost",
    "init_count", "init_offset", "init_seg", "init_residual",
])

Out = namedtuple("Out", [
    "revenue", "won", "arrivals", "entered", "exited_lost", "exited_no_decision", "recycled",
    "pipeline", "pipeline_value", "nurture", "reached", "revenue_by_campaign",
    "won_by_campaign", "revenue_by_segment", "stage_time", "stage_exits", "open_at_end",
    "cycle_time_sum", "cycle_time_n", "clipped", "initial", "capped",
])


@njit(cache=True, nogil=True, error_model="numpy")
def _clock(st, dr, i, speed, cum, nd_add, lost_add, has_clock):
    """Per-draw stage clocks: calendar speed times the friction windows active in this draw."""
    S, D = speed.shape
    for s in range(S):
        for d in range(D):
            speed[s, d] = st.calendar[s, d]
            nd_add[s, d] = 0.0
            lost_add[s, d] = 0.0
    for f in range(dr.fr_on.shape[1]):
        if dr.fr_on[i, f] == 0:
            continue
        lo = max(dr.fr_start[i, f], 0)
        hi = min(dr.fr_end[i, f], D)
        for s in range(S):
            if st.fr_stages[f, s] == 0:
                continue
            for d in range(lo, hi):
                speed[s, d] /= dr.fr_dwell[i, f]
                nd_add[s, d] += dr.fr_nd[i, f]
                lost_add[s, d] += dr.fr_lost[i, f]
    for s in range(S):
        has_clock[s] = 0
        cum[s, 0] = 0.0
        for d in range(D):
            cum[s, d + 1] = cum[s, d] + speed[s, d]
            if speed[s, d] != 1.0:
                has_clock[s] = 1


@njit(cache=True, nogil=True, error_model="numpy")
def _exit_time(s, t, dwell, speed, cum, D):
    """Time at which ``dwell`` units of stage-clock time have passed since ``t``."""
    day = int(t)
    if day >= D:
        return t + dwell
    target = cum[s, day] + speed[s, day] * (t - day) + dwell
    if target >= cum[s, D]:
        return D + (target - cum[s, D])
    lo, hi = day, D - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[s, mid + 1] > target:
            hi = mid
        else:
            lo = mid + 1
    return lo + (target - cum[s, lo]) / speed[s, lo]


@njit(cache=True, nogil=True, error_model="numpy")
def _route_table(st, dr, i, nd_add, lost_add, route, r_out, r_clip, fr_route):
    """Per-draw routing thresholds of each (source, segment, stage).

    ``route[c, g, s, :n_next[s] + 2]`` are the cumulative probabilities of the next targets,
    then no decision, then recycle; a visit goes to ``r_out[s, j]`` for the first j whose
    threshold exceeds its uniform, and is lost if there is none. ``r_clip`` marks the
    combinations whose probabilities had to be clipped to 1. Computed with exactly the
    operations of the general routing code in :func:`_draw`, so a visit routes identically
    either way. Valid for the stages whose outcome probabilities no friction window changes in
    this draw (``fr_route[s] == 0``); the others are routed by the general code, which reads
    the friction of the exit day. Walking a table needs no arithmetic and, above all, does not
    wait for the visit's exit time, which lets the CPU start the next visit's work early.
    """
    S, D = nd_add.shape
    n_next, next_target = st.n_next, st.next_target
    p_next, p_nd, p_rc, adv, quality = dr.p_next, dr.p_nd, dr.p_rc, dr.adv, dr.quality
    for s in range(S):
        fr_route[s] = 0
        for d in range(D):
            if nd_add[s, d] != 0.0 or lost_add[s, d] != 0.0:
                fr_route[s] = 1
        nn = n_next[s]
        for kk in range(nn):
            r_out[s, kk] = next_target[s, kk]
        r_out[s, nn] = codes.NO_DECISION
        r_out[s, nn + 1] = codes.RECYCLE
        for c in range(route.shape[0]):
            for g in range(route.shape[1]):
                am = adv[i, g, s] * quality[i, c]
                a_total = 0.0
                for kk in range(nn):
                    a_total += p_next[i, s, kk] * am
                f = 1.0
                q_nd = p_nd[i, s]
                q_rc = p_rc[i, s]
                r_clip[c, g, s] = 0
                if a_total + q_nd + q_rc > 1.0:
                    r_clip[c, g, s] = 1
                    if q_nd + q_rc < 1.0:
                        f *= (1.0 - q_nd - q_rc) / a_total
                        a_total = 1.0 - q_nd - q_rc
                    else:
                        f = 0.0
                        a_total = 0.0
                        q_nd, q_rc = q_nd / (q_nd + q_rc), q_rc / (q_nd + q_rc)
                acc = 0.0
                for kk in range(nn):
                    acc += p_next[i, s, kk] * am * f
                    route[c, g, s, kk] = acc
                route[c, g, s, nn] = a_total + q_nd
                route[c, g, s, nn + 1] = a_total + q_nd + q_rc


@njit(cache=True, nogil=True, error_model="numpy")
def _draw(st, dr, out, i, root):
    """One draw: the open pipeline on day 0, then every campaign's arrivals, each prospect
    followed from arrival to exit in a single loop (no function call per prospect: calls that
    take arrays cost reference counting, which would dominate the run time)."""
    D, P = st.days, st.n_periods
    S = st.calendar.shape[0]
    E = st.init_stage.shape[0]
    C = st.camp_enters.shape[0]
    G = st.camp_mix_cum.shape[1]
    # read-only inputs as locals
    slot_kind, emp_values, emp_cum, slot_emp = st.slot_kind, st.emp_values, st.emp_cum, st.slot_emp
    nat = dr.nat
    first_end_after, day_period = st.first_end_after, st.day_period
    dwell_slot, value_slot, delay_slot = st.dwell_slot, st.value_slot, st.delay_slot
    next_target, n_next, rc_to, in_pv = st.next_target, st.n_next, st.rc_to, st.in_pipeline_value
    p_next, p_nd, p_rc, adv, dwell_mult = dr.p_next, dr.p_nd, dr.p_rc, dr.adv, dr.dwell_mult
    quality = dr.quality
    # outputs as locals
    o_rev, o_won, o_arr, o_ent = out.revenue, out.won, out.arrivals, out.entered
    o_lost, o_nd, o_rc, o_reach = out.exited_lost, out.exited_no_decision, out.recycled, \
        out.reached
    o_time, o_exits, o_open = out.stage_time, out.stage_exits, out.open_at_end
    # per-draw scratch
    speed = np.empty((S, D))
    cum = np.empty((S, D + 1))
    nd_add = np.empty((S, D))
    lost_add = np.empty((S, D))
    has_clock = np.zeros(S, np.int64)
    pipe = np.zeros((P + 1, S))
    pv_diff = np.zeros(P + 1)
    nur_diff = np.zeros(P + 1)
    _clock(st, dr, i, speed, cum, nd_add, lost_add, has_clock)
    K = dr.p_next.shape[2]
    route = np.empty((C + 1, G, S, K + 2))
    r_out = np.empty((S, K + 2), np.int64)
    r_clip = np.zeros((C + 1, G, S), np.int64)
    fr_route = np.zeros(S, np.int64)
    _route_table(st, dr, i, nd_add, lost_add, route, r_out, r_clip, fr_route)
    dk = draw_key(root, dr.draw_ids[i])

    # sources: initial-pipeline entries (one batch each), then campaigns (one batch a day)
    for src in range(E + C):
        if src < E:
            c = C
            src_key = derive(dk, st.init_key[src])
            d0, d1 = 0, 1
        else:
            c = src - E
            src_key = derive(dk, st.camp_key[c])
            d0, d1 = st.camp_first_day[c], st.camp_last_day[c]
        for day in range(d0, d1):
            if src < E:
                batch_key = src_key
                n = dr.init_count[i, src]
                s0 = st.init_stage[src]
                o_init = out.initial
                o_init[i, s0] += n
            else:
                lam = dr.volume[i, c] * st.camp_shape[c, day]
                if lam <= 0.0:
                    continue
                batch_key = derive(src_key, uint64(day))
                n = poisson(lam, uniform(batch_key, counter(0, codes.P_ARRIVALS, 0)))
                s0 = st.camp_enters[c]
                period = day_period[day]
                o_arr[i, period, c] += n
                o_ent[i, period, s0] += n
            for k in range(n):
                key = derive(batch_key, uint64(k))
                if src < E:
                    j = dr.init_offset[src] + k
                    g = dr.init_seg[i, j]
                    t = 0.0
                    arrival = -1.0
                    first_dwell = dr.init_residual[i, j]
                else:
                    g = 0
                    if G > 1:
                        u = uniform(key, counter(0, codes.P_SEGMENT, 0))
                        while g < G - 1 and u >= st.camp_mix_cum[c, g]:
                            g += 1
                    t = day + uniform(key, counter(0, codes.P_ARRIVAL_TIME, 0))
                    arrival = t
                    first_dwell = -1.0
                s = s0
                value = -1.0
                reached_mask = 0
                visit = 0
                # --- follow the prospect until it leaves the funnel or the horizon ---
                while True:
                    if (reached_mask >> s) & 1 == 0:
                        reached_mask |= 1 << s
                        o_reach[i, c, s] += 1.0
                    pv = in_pv[s] == 1
                    if pv and value < 0.0:
                        vs = value_slot[g]
                        if slot_kind[vs] == codes.EMPIRICAL:
                            value = empirical(emp_values, emp_cum, slot_emp[vs, 0], slot_emp[vs, 1],
                                               uniform(key, counter(0, codes.P_VALUE, 0)))
                        else:
                            value = sample(slot_kind[vs], nat[i, vs, 0], nat[i, vs, 1], nat[i, vs, 2],
                                        nat[i, vs, 3], key, 0, codes.P_VALUE)
                        value = max(value, 0.0)
                    if visit == 0 and first_dwell >= 0.0:
                        dwell = first_dwell
                    else:
                        ds = dwell_slot[s]
                        if slot_kind[ds] == codes.LOGNORMAL:
                            dwell = math.exp(nat[i, ds, 0] + nat[i, ds, 1] * ndtri(
                                uniform(key, counter(visit, codes.P_DWELL, 0))))
                        elif slot_kind[ds] == codes.EMPIRICAL:
                            dwell = empirical(emp_values, emp_cum, slot_emp[ds, 0], slot_emp[ds, 1],
                                               uniform(key, counter(visit, codes.P_DWELL, 0)))
                        else:
                            dwell = sample(slot_kind[ds], nat[i, ds, 0], nat[i, ds, 1], nat[i, ds, 2],
                                        nat[i, ds, 3], key, visit, codes.P_DWELL)
                        dwell = max(dwell, 0.0) * dwell_mult[i, g, s]
                    if has_clock[s] == 0 or t >= D:
                        t_out = t + dwell
                    else:
                        t_out = _exit_time(s, t, dwell, speed, cum, D)
                    first = first_end_after[int(t)]
                    pipe[first, s] += 1.0
                    if pv:
                        pv_diff[first] += value
                    if t_out >= D or visit >= MAX_VISITS:
                        o_open[i, s] += 1.0
                        if visit >= MAX_VISITS:
                            out.capped[i] += 1.0
                        break
                    last = first_end_after[int(t_out)]
                    pipe[last, s] -= 1.0
                    if pv:
                        pv_diff[last] -= value
                    o_time[i, s] += t_out - t
                    o_exits[i, s] += 1.0
                    xday = int(t_out)
                    period = day_period[xday]

                    if fr_route[s] == 0:  # no friction on this stage's outcomes: the table
                        if r_clip[c, g, s] != 0:
                            out.clipped[i, s] += 1.0
                        u = uniform(key, counter(visit, codes.P_ROUTE, 0))
                        outcome = codes.LOST
                        for kk in range(n_next[s] + 2):
                            if u < route[c, g, s, kk]:
                                outcome = r_out[s, kk]
                                break
                    else:
                        # outcome probabilities at the exit (segment, campaign quality, friction)
                        am = adv[i, g, s] * quality[i, c]
                        nn = n_next[s]
                        a_total = 0.0
                        for kk in range(nn):
                            a_total += p_next[i, s, kk] * am
                        take = nd_add[s, xday] + lost_add[s, xday]
                        f = 1.0
                        if take > 0.0 and a_total > 0.0:
                            f = max(a_total - take, 0.0) / a_total
                        a_total *= f
                        q_nd = p_nd[i, s] + nd_add[s, xday]
                        q_rc = p_rc[i, s]
                        if a_total + q_nd + q_rc > 1.0:
                            out.clipped[i, s] += 1.0
                            if q_nd + q_rc < 1.0:
                                f *= (1.0 - q_nd - q_rc) / a_total
                                a_total = 1.0 - q_nd - q_rc
                            else:
                                f = 0.0
                                a_total = 0.0
                                q_nd, q_rc = q_nd / (q_nd + q_rc), q_rc / (q_nd + q_rc)
                        u = uniform(key, counter(visit, codes.P_ROUTE, 0))
                        outcome = codes.LOST
                        acc = 0.0
                        for kk in range(nn):
                            acc += p_next[i, s, kk] * am * f
                            if u < acc:
                                outcome = next_target[s, kk]
                                break
                        if outcome == codes.LOST:
                            if u < a_total + q_nd:
                                outcome = codes.NO_DECISION
                            elif u < a_total + q_nd + q_rc:
                                outcome = codes.RECYCLE

                    if outcome >= 0:
                        s = outcome
                        t = t_out
                        o_ent[i, period, s] += 1.0
                    elif outcome == codes.WON:
                        if value < 0.0:
                            vs = value_slot[g]
                            if slot_kind[vs] == codes.EMPIRICAL:
                                value = empirical(emp_values, emp_cum, slot_emp[vs, 0], slot_emp[vs, 1],
                                                   uniform(key, counter(0, codes.P_VALUE, 0)))
                            else:
                                value = sample(slot_kind[vs], nat[i, vs, 0], nat[i, vs, 1], nat[i, vs, 2],
                                            nat[i, vs, 3], key, 0, codes.P_VALUE)
                            value = max(value, 0.0)
                        o_won[i, period] += 1.0
                        o_rev[i, period] += value
                        out.won_by_campaign[i, c] += 1.0
                        out.revenue_by_campaign[i, c] += value
                        out.revenue_by_segment[i, g] += value
                        if arrival >= 0.0:
                            out.cycle_time_sum[i] += t_out - arrival
                            out.cycle_time_n[i] += 1.0
                        break
                    elif outcome == codes.LOST:
                        o_lost[i, period, s] += 1.0
                        break
                    elif outcome == codes.NO_DECISION:
                        o_nd[i, period, s] += 1.0
                        break
                    else:  # recycle: nurture for a delay, then back into a stage
                        o_rc[i, period, s] += 1.0
                        dl = delay_slot[s]
                        if slot_kind[dl] == codes.EMPIRICAL:
                            delay = empirical(emp_values, emp_cum, slot_emp[dl, 0], slot_emp[dl, 1],
                                               uniform(key, counter(visit, codes.P_DELAY, 0)))
                        else:
                            delay = sample(slot_kind[dl], nat[i, dl, 0], nat[i, dl, 1], nat[i, dl, 2],
                                        nat[i, dl, 3], key, visit, codes.P_DELAY)
                        delay = max(delay, 0.0)
                        t_back = t_out + delay
                        nur_diff[first_end_after[xday]] += 1.0
                        s = rc_to[s]
                        if t_back >= D:
                            o_open[i, s] += 1.0  # open at the stage it will come back to
                            break
                        nur_diff[first_end_after[int(t_back)]] -= 1.0
                        t = t_back
                        o_ent[i, day_period[int(t)], s] += 1.0
                    visit += 1

    # end-of-period snapshots from the difference arrays
    run_pv = 0.0
    run_nur = 0.0
    for p in range(P):
        run_pv += pv_diff[p]
        run_nur += nur_diff[p]
        out.pipeline_value[i, p] = run_pv
        out.nurture[i, p] = run_nur
        for s in range(S):
            out.pipeline[i, p, s] = pipe[p, s] + (out.pipeline[i, p - 1, s] if p > 0 else 0.0)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def simulate_chunk(st, dr, out, seed):
    """Simulate every draw of a chunk (in parallel over draws); failed draws are skipped."""
    root = seed_key(uint64(seed))
    for i in prange(dr.draw_ids.shape[0]):
        if dr.failed[i] == 0:
            _draw(st, dr, out, i, root)


@njit(cache=True, nogil=True, error_model="numpy")
def initial_uniforms(seed, draw_ids, init_key, counts, offsets, u_seg, u_age, u_res):
    """Uniforms of each initial-pipeline prospect, keyed exactly as the kernel keys them.

    The engine turns them into segments, ages and residual dwells (inverse CDFs in scipy).
    """
    root = seed_key(uint64(seed))
    for i in range(draw_ids.shape[0]):
        dk = draw_key(root, draw_ids[i])
        for e in range(init_key.shape[0]):
            ek = derive(dk, init_key[e])
            for k in range(counts[i, e]):
                key = derive(ek, uint64(k))
                j = offsets[e] + k
                u_seg[i, j] = uniform(key, counter(0, codes.P_SEGMENT, 0))
                u_age[i, j] = uniform(key, counter(0, codes.P_AGE, 0))
                u_res[i, j] = uniform(key, counter(0, codes.P_RESIDUAL, 0))
