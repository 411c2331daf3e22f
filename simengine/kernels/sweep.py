"""The block sweep: every arrival of a draw followed from arrival to exit, a block at a time.

Prospects are independent while no rep works them, so each source's arrivals (an initial-pipeline
entry, a campaign's days) are taken in blocks of ``BLOCK`` and a block is followed stage by
stage with the stage's parameters fixed. The fast path (:mod:`funnel`) sweeps every stage this
way; the capacity path (:mod:`capacity`) sweeps the stages nobody works and stops a prospect at
the first pooled stage it enters: it is handed over, as a record, to the event loop, which
takes it up when its day's arrivals come due.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, uint64

from simengine import codes
from simengine.kernels.clock import exit_time
from simengine.kernels.drift import clock_index, route_table_t, route_visit
from simengine.kernels.known import nonneg
from simengine.kernels.normals import block_normals
from simengine.kernels.rng import counter, derive, draw_key, uniform
from simengine.kernels.samplers import exp_poly, gamma_unit, poisson
from simengine.kernels.values import sample_at, slot_value

MAX_VISITS = 10_000  # a prospect still cycling after this many visits stays open (and is counted)
BLOCK = 256  # prospects of a batch followed together, one stage at a time

# a hand-over record: integer columns of rec_int ...
R_DAY, R_KIND, R_VISIT, R_REACHED, R_COHORT, R_SEGMENT = range(6)
N_RINT = 6
# ... float columns of rec_flt (and the prospect's key in rec_key)
R_X, R_ARRIVAL, R_VALUE, R_RESIDUAL, R_DWELL = range(5)
N_RFLT = 5


@njit(cache=True, nogil=True)
def no_records():
    """Hand-over record arrays of no rows ``(rec_int, rec_flt, rec_key)``: for a sweep that
    hands nobody over, or the first of a draw's windows."""
    return np.empty((0, N_RINT), np.int64), np.empty((0, N_RFLT)), np.empty(0, np.uint64)


@njit(cache=True, nogil=True)
def _grown(a, m):
    """``a`` in an array of ``m`` rows (its rows first)."""
    b = np.empty((m,) + a.shape[1:], a.dtype)
    b[:a.shape[0]] = a
    return b


@njit(cache=True, nogil=True, error_model="numpy")
def _hand_over(rec_int, rec_flt, rec_key, n_rec, traced, trace_len, nb, residual, b_hand, b_out,
               b_day, b_visit, b_reached, b_coh, b_g, b_t, b_arrival, b_value, b_res, b_dwell,
               b_key):
    """A block's hand-overs and first exits as records from row ``n_rec`` on (the caller has
    made room for ``nb``); returns the new ``(n_rec, traced)``.

    Its own function, not inlined: the sweep rebinds the record arrays when it grows them, and
    numba counts references on a rebound array at every use, so writing the records in the
    sweep's loop cost six atomic operations a record.
    """
    for b in range(nb):
        kind = b_hand[b]
        if kind < 0:
            kind = b_out[b]
            if kind >= 0 or kind == codes.RECYCLE or traced >= trace_len:
                continue  # open at the horizon, or not traced
            traced += 1
        rec_int[n_rec, R_DAY] = b_day[b]
        rec_int[n_rec, R_KIND] = kind
        rec_int[n_rec, R_VISIT] = b_visit[b]
        rec_int[n_rec, R_REACHED] = b_reached[b]
        rec_int[n_rec, R_COHORT] = b_coh[b]
        rec_int[n_rec, R_SEGMENT] = b_g[b]
        rec_flt[n_rec, R_X] = b_t[b]
        rec_flt[n_rec, R_ARRIVAL] = b_arrival[b]
        rec_flt[n_rec, R_VALUE] = b_value[b]
        rec_flt[n_rec, R_RESIDUAL] = b_res[b] if residual else -1.0
        rec_flt[n_rec, R_DWELL] = b_dwell[b]
        rec_key[n_rec] = b_key[b]
        n_rec += 1
    return n_rec, traced


@njit(cache=True, nogil=True, error_model="numpy")
def sweep(st, dr, out, i, root, speed, cum, nd_add, lost_add, has_clock, route, r_out, r_clip,
          f_state, fr_route, stop, trace_len, pipe, pv_diff, nur_diff, day_lo, day_hi, rec_int,
          rec_flt, rec_key):
    """Draw ``i``'s arrivals on days ``day_lo`` to ``day_hi - 1``, the open pipeline (day 0)
    first, then every campaign's, through the stages; returns the hand-overs ``(rec_start,
    rec_int, rec_flt, rec_key)``, written over the record arrays passed in (the previous
    window's, or arrays of no rows), which are grown as needed.

    Each batch of arrivals (a campaign's day, an initial-pipeline entry) is split into blocks of
    ``BLOCK`` prospects, and a block is followed stage by stage: the members at stage s make
    their visits together (dwells, exits, routes), those who move on queue at their next stage,
    and the stages are swept in order until no member is left (a recycled prospect waits for
    the next sweep). The work on a stage is a few tight loops with the stage's parameters
    fixed: lognormal and gamma dwells are drawn in loops that vectorise, a route is a count of
    thresholds, and moving on or leaving picks its queue and counters by index, so the random
    outcomes of visits cost no mispredicted branches (only the rare ones, won and recycled,
    branch). Each prospect draws exactly the numbers it would draw alone (keyed by its key,
    visit and purpose), so the grouping changes nothing but the order of floating-point sums.
    Only scalars are passed to the functions called per member: calls that take arrays cost
    reference counting.

    The draw's stage clocks and routing tables come from :func:`route.draw_tables`. Counters go
    to ``out``; the pipeline's difference arrays ``pipe``, ``pv_diff`` and ``nur_diff`` are
    added to (the caller takes the snapshot). A member entering a stage with ``stop[s] == 1``
    is counted in it (entry, reach, deal value, pipeline), its dwell there is drawn with the
    block's (the event loop scales it when the visit starts) and it leaves the sweep: its state
    is written to a hand-over record, one row per member in the source's order (day, then member),
    the rows of source ``src`` at ``rec_start[src]:rec_start[src + 1]``. Members that leave the
    funnel get a record too (kind: their outcome, ``R_X`` their exit time) while their source
    has had fewer than ``trace_len`` such records: the first prospects to leave are traced in
    the order the event loop meets them.
    """
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
    n_next, rc_to, in_pv = st.n_next, st.rc_to, st.in_pipeline_value
    dwell_mult = dr.dwell_mult
    quality = dr.quality
    # this draw's tallies (added to ``out`` at the end)
    o_ent, o_lost, o_nd, o_rc = (np.zeros((P, S)), np.zeros((P, S)), np.zeros((P, S)),
                                 np.zeros((P, S)))
    o_reach = np.zeros((C + 1, S))
    o_time, o_exits, o_open = np.zeros(S), np.zeros(S), np.zeros(S)
    n_clip = np.zeros(S)
    K = dr.p_next.shape[2]
    R = quality.shape[1]  # route sources: campaigns, then initial-pipeline entries
    # routing of the stages a drift moves: one table per time slot
    rt_mode, rt_index, dw_mode, dz_dwell = st.rt_mode, st.rt_index, st.dw_mode, dr.dz_dwell
    T = st.dz_slots
    route_t = np.empty((R, G, st.rt_stages.shape[0], T, K + 2))
    clip_t = np.zeros((R, G, st.rt_stages.shape[0], T), np.int64)
    route_table_t(st, dr, i, route_t, clip_t)
    # block state, one entry per member
    b_key = np.empty(BLOCK, np.uint64)
    b_g = np.empty(BLOCK, np.int64)
    b_t = np.empty(BLOCK)  # entry time into the current stage
    b_arrival = np.empty(BLOCK)  # arrival time, -1 for the open pipeline on day 0
    b_value = np.empty(BLOCK)  # deal value, -1 until sampled
    b_visit = np.empty(BLOCK, np.int64)
    b_reached = np.empty(BLOCK, np.int64)  # bit s: has reached stage s
    b_coh = np.empty(BLOCK, np.int64)  # time slot of the arrival period (0: open pipeline)
    b_res = np.empty(BLOCK)  # the open pipeline's residual dwell of its first visit
    b_day = np.empty(BLOCK, np.int64)  # arrival day
    b_hand = np.empty(BLOCK, np.int64)  # the stop stage it was handed over at, or -1
    b_dwell = np.empty(BLOCK)  # its dwell at that stage as drawn, before scale and clock
    b_out = np.empty(BLOCK, np.int64)  # the outcome of its last route (0 before the first)
    queue = np.empty((S, BLOCK + 1), np.int64)  # members waiting at each stage (+1: dummy slot)
    qn = np.zeros(S, np.int64)
    w_idx = np.empty(BLOCK, np.int64)  # the members visiting the stage being worked
    w_u = np.empty(BLOCK)  # their uniforms
    w_z = np.empty(BLOCK)  # their standard normals
    w_ok = np.empty(BLOCK)  # 1 where gamma's first attempt is accepted
    w_dwell = np.empty(BLOCK)
    w_key = np.empty(BLOCK, np.uint64)
    w_ctr = np.empty(BLOCK, np.uint64)
    w_tail = np.empty(BLOCK + 1, np.int64)
    w_new = np.empty(BLOCK + 1, np.int64)
    # deal values: lognormal in every segment is drawn for a block at once
    values_lognormal = True
    v_mu = np.empty(G)
    v_sg = np.empty(G)
    for g in range(G):
        vs = value_slot[g]
        values_lognormal &= slot_kind[vs] == codes.LOGNORMAL
        v_mu[g] = nat[i, vs, 0]
        v_sg[g] = nat[i, vs, 1]
    camp_mix_cum = st.camp_mix_cum
    # hand-over records (grown as needed)
    records = trace_len > 0
    for s in range(S):
        records |= stop[s] == 1
    rec_start = np.zeros(E + C + 1, np.int64)
    if records and rec_int.shape[0] < BLOCK:
        rec_int = np.empty((BLOCK, N_RINT), np.int64)
        rec_flt = np.empty((BLOCK, N_RFLT))
        rec_key = np.empty(BLOCK, np.uint64)
    n_rec = 0
    traced = 0  # exits recorded for the current source
    dk = draw_key(root, dr.draw_ids[i])

    # sources: initial-pipeline entries (one batch each), then campaigns (one batch a day);
    # a block takes the source's next BLOCK prospects whatever their day, so small daily
    # batches are followed together (each member keeps its own key, day and cohort); a block
    # never mixes sources, so its campaign ``c`` and route source ``rc`` are the block's
    src, day, d1, n, k = -1, 0, 0, 0, 0
    c = rc = coh = s0 = 0
    src_key = batch_key = uint64(0)
    more = True
    while more:
        nb = 0
        flush = False
        while nb < BLOCK:
            while k == n:  # the next batch with arrivals
                if day + 1 >= d1 and nb > 0:
                    # a source's last block is swept before the next source's first: a
                    # campaign's prospects are never grouped with another's, so its sums do
                    # not depend on the other campaigns (common random numbers, to the bit)
                    flush = True
                    break
                day += 1
                if day >= d1:
                    src += 1
                    rec_start[src] = n_rec
                    traced = 0
                    if src == E + C:
                        more = False
                        break
                    if src < E:
                        src_key = derive(dk, st.init_key[src])
                        day, d1 = 0, 1 if day_lo <= 0 < day_hi else 0
                    else:
                        src_key = derive(dk, st.camp_key[src - E])
                        day = max(st.camp_first_day[src - E], day_lo)
                        d1 = min(st.camp_last_day[src - E], day_hi)
                    if day >= d1:
                        continue
                k = 0
                n = 0
                coh = day_period[day] + 1 if src >= E and T > 1 else 0
                if src < E:
                    c = C
                    rc = C + src
                    batch_key = src_key
                    n = dr.init_count[i, src]
                    s0 = st.init_stage[src]
                    out.initial[i, s0] += n
                else:
                    c = src - E
                    rc = c
                    lam = (dr.volume[i, c] * st.camp_shape[c, day]
                           * dr.vol_mult[i, c, day_period[day]])
                    if lam <= 0.0:
                        continue
                    batch_key = derive(src_key, uint64(day))
                    n = poisson(lam, uniform(batch_key, counter(0, codes.P_ARRIVALS, 0)))
                    s0 = st.camp_enters[c]
                    out.arrivals[i, day_period[day], c] += n
                    o_ent[day_period[day], s0] += n
            if not more or flush:
                break
            b = nb
            key = derive(batch_key, uint64(k))
            b_key[b] = key
            if src < E:
                b_g[b] = dr.init_seg[i, dr.init_offset[src] + k]
                b_t[b] = 0.0
                b_arrival[b] = -1.0
                b_res[b] = dr.init_residual[i, dr.init_offset[src] + k]
            else:
                b_t[b] = day  # + the arrival's time of day, below
            b_value[b] = -1.0
            b_visit[b] = 0
            b_reached[b] = 0
            b_coh[b] = coh
            b_day[b] = day
            b_hand[b] = -1
            b_out[b] = 0
            queue[s0, qn[s0]] = b
            qn[s0] += 1
            k += 1
            nb += 1
        if nb == 0:
            break
        if rc < C:  # a campaign's block: arrival times and segments, in loops that vectorise
            ctr_t = counter(0, codes.P_ARRIVAL_TIME, 0)
            for b in range(nb):
                t = b_t[b] + uniform(b_key[b], ctr_t)
                b_t[b] = t
                b_arrival[b] = t
            if G > 1:
                # the segment is the number of cumulative mix shares at or below a uniform
                ctr_g = counter(0, codes.P_SEGMENT, 0)
                for b in range(nb):
                    w_u[b] = uniform(b_key[b], ctr_g)
                for b in range(nb):
                    g = 0
                    for gg in range(G - 1):
                        g += w_u[b] >= camp_mix_cum[c, gg]
                    b_g[b] = g
            else:
                for b in range(nb):
                    b_g[b] = 0
        # --- sweep the stages until every member has left the funnel or the horizon ---
        busy = True
        while busy:
            busy = False
            for s in range(S):
                m = qn[s]
                if m == 0:
                    continue
                busy = True
                for j in range(m):
                    w_idx[j] = queue[s, j]
                qn[s] = 0
                pv = in_pv[s] == 1
                # first visits to the stage; deal values from the pipeline stage on
                n_new = 0
                for j in range(m):
                    b = nonneg(w_idx[j])
                    n_new += 1 - ((b_reached[b] >> s) & 1)
                    b_reached[b] |= 1 << s
                o_reach[c, s] += n_new
                if pv:
                    nv = 0  # the members without a deal value yet
                    for j in range(m):
                        b = nonneg(w_idx[j])
                        w_new[nv] = b
                        nv += b_value[b] < 0.0
                    if values_lognormal:
                        # as ``sample`` draws it, in loops that vectorise
                        ctr_v = counter(0, codes.P_VALUE, 0)
                        for jj in range(nv):
                            w_key[jj] = b_key[w_new[jj]]
                            w_ctr[jj] = ctr_v
                        block_normals(w_key, w_ctr, nv, w_u, w_z, w_tail)
                        for jj in range(nv):
                            b = nonneg(w_new[jj])
                            g = nonneg(b_g[b])
                            b_value[b] = max(exp_poly(v_mu[g] + v_sg[g] * w_z[jj]), 0.0)
                    else:
                        for jj in range(nv):
                            b = nonneg(w_new[jj])
                            b_value[b] = max(slot_value(
                                slot_kind, nat, i, value_slot[b_g[b]], b_key[b], 0,
                                codes.P_VALUE, emp_values, emp_cum, slot_emp), 0.0)
                if stop[s] == 1:  # in the pipeline from now; the event loop takes it up
                    for j in range(m):
                        b = nonneg(w_idx[j])
                        first = nonneg(first_end_after[nonneg(int(b_t[b]))])
                        pipe[first, s] += 1.0
                        if pv:
                            pv_diff[first] += b_value[b]
                        b_hand[b] = s
                # dwells, of a stop stage too: drawn here a block at a time, a dwell costs about
                # 165 instructions fewer than drawn alone in the event loop
                ds = dwell_slot[s]
                kind = slot_kind[ds]
                p0, p1, p2, p3 = nat[i, ds, 0], nat[i, ds, 1], nat[i, ds, 2], nat[i, ds, 3]
                if kind == codes.LOGNORMAL or (kind == codes.GAMMA and p0 >= 1.0):
                    # a standard normal each, as ndtri(uniform) in ``sample``
                    for j in range(m):
                        b = nonneg(w_idx[j])
                        w_key[j] = b_key[b]
                        w_ctr[j] = counter(b_visit[b], codes.P_DWELL, 0)
                    # (in place: the transforms below then vectorise without alias checks)
                    block_normals(w_key, w_ctr, m, w_u, w_dwell, w_tail)
                    if kind == codes.LOGNORMAL:
                        for j in range(m):
                            w_dwell[j] = exp_poly(p0 + p1 * w_dwell[j])
                    else:
                        # gamma_unit's first attempt and its squeeze for all, the
                        # few (2 %) others by gamma_unit itself
                        d = p0 - 1.0 / 3.0
                        cc = 1.0 / math.sqrt(9.0 * d)
                        for j in range(m):
                            x = w_dwell[j]
                            v = 1.0 + cc * x
                            v = v * v * v
                            u = uniform(w_key[j], w_ctr[j] + uint64(1))
                            x2 = x * x
                            w_ok[j] = (v > 0.0) & (u < 1.0 - 0.0331 * x2 * x2)
                            w_dwell[j] = p1 * (d * v)
                        nt = 0
                        for j in range(m):
                            w_tail[nt] = j
                            nt += w_ok[j] == 0.0
                        for jj in range(nt):
                            j = w_tail[jj]
                            w_dwell[j] = p1 * gamma_unit(p0, w_key[j], b_visit[w_idx[j]],
                                                         codes.P_DWELL, 0)
                else:
                    e0, e1 = slot_emp[ds, 0], slot_emp[ds, 1]
                    for j in range(m):
                        b = nonneg(w_idx[j])
                        w_dwell[j] = sample_at(kind, p0, p1, p2, p3, b_key[b], b_visit[b],
                                                codes.P_DWELL, emp_values, emp_cum, e0, e1)
                if stop[s] == 1:  # the event loop scales it when the visit starts
                    for j in range(m):
                        b_dwell[nonneg(w_idx[j])] = w_dwell[j]
                    continue
                dmode = dw_mode[s]
                if dmode != codes.DRIFT_NONE:  # a drift moves the dwell scale
                    for j in range(m):
                        b = nonneg(w_idx[j])
                        tz = clock_index(dmode, b_coh[b], day_period[nonneg(int(b_t[b]))])
                        w_dwell[j] = max(w_dwell[j], 0.0) * dz_dwell[i, nonneg(b_g[b]), s, tz]
                elif G > 1:
                    for j in range(m):
                        g = nonneg(b_g[nonneg(w_idx[j])])
                        w_dwell[j] = max(w_dwell[j], 0.0) * dwell_mult[i, g, s]
                else:
                    mult = dwell_mult[i, 0, s]
                    for j in range(m):
                        w_dwell[j] = max(w_dwell[j], 0.0) * mult
                if rc >= C:  # the open pipeline's first visit: its residual dwell
                    for j in range(m):
                        b = nonneg(w_idx[j])
                        if b_visit[b] == 0:
                            w_dwell[j] = b_res[b]
                # exits, routes and the counters they move
                nn = n_next[s]
                clock = has_clock[s] == 1
                table = fr_route[s] == 0
                rmode = rt_mode[s]
                rx = rt_index[s]
                for j in range(m):
                    b = nonneg(w_idx[j])
                    t = b_t[b]
                    visit = b_visit[b]
                    g = nonneg(b_g[b])
                    value = b_value[b]
                    if clock and t < D:
                        t_out = exit_time(s, t, w_dwell[j], speed, cum, D)
                    else:
                        t_out = t + w_dwell[j]
                    first = nonneg(first_end_after[nonneg(int(t))])
                    pipe[first, s] += 1.0
                    if pv:
                        pv_diff[first] += value
                    if t_out >= D or visit >= MAX_VISITS:
                        o_open[s] += 1.0
                        if visit >= MAX_VISITS:
                            out.capped[i] += 1.0
                        continue
                    xday = nonneg(int(t_out))
                    last = nonneg(first_end_after[xday])
                    pipe[last, s] -= 1.0
                    if pv:
                        pv_diff[last] -= value
                    o_time[s] += t_out - t
                    o_exits[s] += 1.0
                    period = nonneg(day_period[xday])
                    u = uniform(b_key[b], counter(visit, codes.P_ROUTE, 0))
                    if rmode == codes.DRIFT_NONE:
                        # thresholds are non-decreasing: the outcome is how many lie
                        # at or below u (under the friction of the exit day)
                        fs = 0 if table else nonneg(f_state[s, xday])
                        n_clip[s] += r_clip[rc, g, s, fs]
                        jj = 0
                        for kk in range(nn + 2):
                            jj += u >= route[rc, g, s, fs, kk]
                        outcome = r_out[s, jj]
                    elif table:
                        tz = clock_index(rmode, b_coh[b], period)
                        n_clip[s] += clip_t[rc, g, rx, tz]
                        jj = 0
                        for kk in range(nn + 2):
                            jj += u >= route_t[rc, g, rx, tz, kk]
                        outcome = r_out[s, jj]
                    else:
                        tz = clock_index(rmode, b_coh[b], period)
                        outcome, clipped = route_visit(st, dr, i, rc, g, s, tz, xday, u,
                                                       nd_add, lost_add)
                        n_clip[s] += clipped
                    b_out[b] = outcome
                    # advance (branch-free): queue at the next stage, or a dummy write
                    move = outcome >= 0
                    nxt = nonneg(outcome if move else s)
                    queue[nxt, nonneg(qn[nxt])] = b
                    qn[nxt] += move
                    b_t[b] = t_out
                    b_visit[b] = visit + 1
                    o_ent[period, nxt] += move
                    o_lost[period, s] += outcome == codes.LOST
                    o_nd[period, s] += outcome == codes.NO_DECISION
                    if outcome == codes.WON:
                        if value < 0.0:
                            value = max(slot_value(
                                slot_kind, nat, i, value_slot[g], b_key[b], 0, codes.P_VALUE,
                                emp_values, emp_cum, slot_emp), 0.0)
                        out.won[i, period] += 1.0
                        out.revenue[i, period] += value
                        out.won_by_campaign[i, c] += 1.0
                        out.revenue_by_campaign[i, c] += value
                        out.revenue_by_segment[i, g] += value
                        if b_arrival[b] >= 0.0:
                            out.cycle_time_sum[i] += t_out - b_arrival[b]
                            out.cycle_time_n[i] += 1.0
                    elif outcome == codes.RECYCLE:  # nurture for a delay, then back
                        o_rc[period, s] += 1.0
                        delay = max(slot_value(
                            slot_kind, nat, i, delay_slot[s], b_key[b], visit, codes.P_DELAY,
                            emp_values, emp_cum, slot_emp), 0.0)
                        t_back = t_out + delay
                        nur_diff[first_end_after[xday]] += 1.0
                        back = nonneg(rc_to[s])
                        if t_back >= D:
                            o_open[back] += 1.0  # open at the stage it will come back to
                        else:
                            bday = nonneg(int(t_back))
                            nur_diff[first_end_after[bday]] -= 1.0
                            b_t[b] = t_back
                            o_ent[day_period[bday], back] += 1.0
                            queue[back, nonneg(qn[back])] = b
                            qn[back] += 1
        if records:  # the block's hand-overs and first exits, in the source's order
            if n_rec + nb > rec_int.shape[0]:
                m = 2 * rec_int.shape[0]
                while m < n_rec + nb:
                    m *= 2
                rec_int = _grown(rec_int, m)
                rec_flt = _grown(rec_flt, m)
                rec_key = _grown(rec_key, m)
            n_rec, traced = _hand_over(rec_int, rec_flt, rec_key, n_rec, traced, trace_len, nb,
                                       rc >= C, b_hand, b_out, b_day, b_visit, b_reached,
                                       b_coh, b_g, b_t, b_arrival, b_value, b_res, b_dwell,
                                       b_key)

    for p in range(P):
        for s in range(S):
            out.entered[i, p, s] += o_ent[p, s]
            out.exited_lost[i, p, s] += o_lost[p, s]
            out.exited_no_decision[i, p, s] += o_nd[p, s]
            out.recycled[i, p, s] += o_rc[p, s]
    for s in range(S):
        out.stage_time[i, s] += o_time[s]
        out.stage_exits[i, s] += o_exits[s]
        out.open_at_end[i, s] += o_open[s]
        out.clipped[i, s] += n_clip[s]
        for c in range(C + 1):
            out.reached[i, c, s] += o_reach[c, s]
    return rec_start, rec_int, rec_flt, rec_key
