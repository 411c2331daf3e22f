"""The capacity path: a discrete-event simulation of prospects competing for reps.

Stages with ``worked_by`` hold one slot of their pool for their dwell; a prospect that finds no
free slot waits, inbound before outbound, first come first served within a class, and goes cold
when its wait exceeds its patience. Capacity c(t) changes at day boundaries (headcount, ramp,
attrition, hires); nobody is pre-empted when it drops.

Events live in an array-based binary heap ordered by (time, sequence number); waiting prospects
in ring buffers; per-prospect state in slot arrays recycled through a free list, so memory is
bounded by the prospects in flight. Every random number is the fast path's: keyed by (seed,
draw, source, day, k, visit, purpose), so with ample capacity this path gives the fast path's
counts exactly, and a prospect keeps its numbers when the scenario changes around it.

As in ``funnel.py``, nothing in the per-event code calls a function that takes arrays: such calls
cost reference counting that would dominate the run time; heap and queue operations are written
out where they are used.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange, uint64

from simengine import codes
from simengine.kernels.drift import clock_index, route_visit
from simengine.kernels.funnel import MAX_VISITS, _clock, _exit_time
from simengine.kernels.outputs import POOLS, names
from simengine.kernels.rng import counter, derive, draw_key, seed_key, uniform
from simengine.kernels.samplers import empirical, poisson, sample

PoolStatic = namedtuple("PoolStatic", [
    "stage_pool", "patience_slot", "camp_priority", "n_pools", "trace_len",
])
PoolDraws = namedtuple("PoolDraws", ["capacity"])  # (n, NP, D) slots available each day
PoolOut = namedtuple("PoolOut", names(POOLS))  # what each field holds: kernels/outputs.py

K_BATCH, K_ENTER, K_EXIT, K_ABANDON, K_DAY = 0, 1, 2, 3, 4
FREE, ACTIVE, WAITING, ABANDONED = 0, 1, 2, 3


@njit(cache=True, nogil=True, error_model="numpy")
def pool_capacity(seed, draw_ids, pool_key, headcount, slots, selling, ramp_days, ramp_start,
                  attrition, lag, hire_day, hire_count, cap_out, heads_out):
    """Slots available and reps on the books each day, per draw and pool.

    Every rep (initial or hired) leaves after an exponential time at the yearly ``attrition``
    rate and is replaced ``lag`` days later by a new rep who ramps linearly from ``ramp_start``
    to full productivity over ``ramp_days`` (and may leave in turn). Initial reps are fully
    ramped. Capacity on day d is slots * selling * (sum of the reps' productivities at mid-day,
    d + 1/2), rounded down to whole slots.
    """
    root = seed_key(seed)
    n, NP, D = cap_out.shape
    prod = np.zeros(D)
    heads = np.zeros(D)
    for i in range(n):
        dk = draw_key(root, draw_ids[i])
        for p in range(NP):
            pk = derive(dk, pool_key[p])
            prod[:] = 0.0
            heads[:] = 0.0
            rate = attrition[i, p] / 365.0
            n0 = int(math.floor(headcount[i, p] + 0.5))
            n_hires = 0
            for h in range(hire_day.shape[1]):
                if hire_day[p, h] >= 0:
                    n_hires += int(math.floor(hire_count[i, p, h] + 0.5))
            for r in range(n0 + n_hires):
                if r < n0:
                    join, ramped = -1e9, True
                    rk = derive(pk, uint64(r))
                else:
                    j = r - n0
                    join = 0.0
                    for h in range(hire_day.shape[1]):  # which hire does rep r belong to
                        if hire_day[p, h] < 0:
                            continue
                        c = int(math.floor(hire_count[i, p, h] + 0.5))
                        if j < c:
                            join = float(hire_day[p, h])
                            break
                        j -= c
                    ramped = False
                    rk = derive(pk, uint64(1_000_000 + r))
                generation = 0
                while join < D:
                    if rate > 0.0:
                        u = uniform(rk, counter(generation, codes.P_ATTRITION, 0))
                        leave = max(join, 0.0) - math.log(u) / rate
                    else:
                        leave = 1e18
                    lo = max(int(math.ceil(join - 0.5)), 0)
                    hi = min(int(math.ceil(leave - 0.5)), D)
                    for d in range(lo, hi):
                        heads[d] += 1.0
                        if ramped or ramp_days[p] <= 0.0:
                            prod[d] += 1.0
                        else:
                            f = (d + 0.5 - join) / ramp_days[p]
                            prod[d] += ramp_start[p] + (1.0 - ramp_start[p]) * min(f, 1.0)
                    join = leave + lag[p]
                    ramped = False
                    generation += 1
            per_rep = slots[p] * selling[i, p]
            for d in range(D):
                cap_out[i, p, d] = int(math.floor(per_rep * prod[d] + 1e-9))
                heads_out[i, p, d] = heads[d]


@njit(cache=True, nogil=True, error_model="numpy")
def _push(h_t, h_seq, h_id, h_aux, n, t, seq, ident, aux):
    """Insert an event into a heap of n events (room for it is the caller's job)."""
    j = n
    while j > 0:
        parent = (j - 1) >> 1
        if h_t[parent] < t or (h_t[parent] == t and h_seq[parent] < seq):
            break
        h_t[j] = h_t[parent]
        h_seq[j] = h_seq[parent]
        h_id[j] = h_id[parent]
        h_aux[j] = h_aux[parent]
        j = parent
    h_t[j] = t
    h_seq[j] = seq
    h_id[j] = ident
    h_aux[j] = aux


@njit(cache=True, nogil=True, error_model="numpy")
def _pop(h_t, h_seq, h_id, h_aux, n):
    """Remove the earliest of n events (its fields were read by the caller)."""
    n -= 1
    if n == 0:
        return
    lt, ls, li, la = h_t[n], h_seq[n], h_id[n], h_aux[n]
    j = 0
    while True:
        child = 2 * j + 1
        if child >= n:
            break
        if child + 1 < n and (h_t[child + 1] < h_t[child] or (
                h_t[child + 1] == h_t[child] and h_seq[child + 1] < h_seq[child])):
            child += 1
        if lt < h_t[child] or (lt == h_t[child] and ls < h_seq[child]):
            break
        h_t[j] = h_t[child]
        h_seq[j] = h_seq[child]
        h_id[j] = h_id[child]
        h_aux[j] = h_aux[child]
        j = child
    h_t[j] = lt
    h_seq[j] = ls
    h_id[j] = li
    h_aux[j] = la


@njit(cache=True, nogil=True, error_model="numpy")
def _draw(st, pc, dr, pd, out, po, i, root):
    """One draw. Only what involves a pool is an event (entering a pooled stage, leaving it,
    going cold, a day boundary, a day's arrivals); a prospect's way through stages nobody works
    is walked at once, as on the fast path, since it touches only order-free aggregates."""
    D, P = st.days, st.n_periods
    S = st.calendar.shape[0]
    E = st.init_stage.shape[0]
    C = st.camp_enters.shape[0]
    G = st.camp_mix_cum.shape[1]
    NP = pc.n_pools
    slot_kind, emp_values, emp_cum, slot_emp = st.slot_kind, st.emp_values, st.emp_cum, st.slot_emp
    nat = dr.nat
    first_end_after, day_period = st.first_end_after, st.day_period
    dwell_slot, value_slot, delay_slot = st.dwell_slot, st.value_slot, st.delay_slot
    rc_to, in_pv = st.rc_to, st.in_pipeline_value
    stage_pool, patience_slot, camp_priority = pc.stage_pool, pc.patience_slot, pc.camp_priority
    capacity = pd.capacity
    trace, trace_len = po.trace, pc.trace_len
    o_ent, o_reach, o_open = out.entered, out.reached, out.open_at_end
    o_time, o_exits = out.stage_time, out.stage_exits

    speed = np.empty((S, D))
    cum = np.empty((S, D + 1))
    nd_add = np.empty((S, D))
    lost_add = np.empty((S, D))
    has_clock = np.zeros(S, np.int64)
    pipe = np.zeros((P + 1, S))
    pv_diff = np.zeros(P + 1)
    nur_diff = np.zeros(P + 1)
    _clock(st, dr, i, speed, cum, nd_add, lost_add, has_clock)
    dk = draw_key(root, dr.draw_ids[i])

    # pools: busy and waiting counts, time integrals since the last day boundary
    busy = np.zeros(NP, np.int64)
    cap = np.zeros(NP, np.int64)
    n_wait = np.zeros(NP, np.int64)
    last_t = np.zeros(NP)
    area_busy = np.zeros(NP)
    area_queue = np.zeros(NP)
    for p in range(NP):
        cap[p] = capacity[i, p, 0]
    qcap = 64
    q_buf = np.zeros((2 * NP, qcap), np.int64)  # ring buffers: row 2 pool + class
    q_head = np.zeros(2 * NP, np.int64)
    q_len = np.zeros(2 * NP, np.int64)

    # prospects in flight: slots recycled through a free list
    pcap = 1024
    p_key = np.zeros(pcap, np.uint64)
    # campaign, segment, stage, visit, mask, version, state, route source, cohort time slot
    p_int = np.zeros((pcap, 9), np.int64)
    p_flt = np.zeros((pcap, 5))  # value, arrival, entered stage, entered queue, first dwell
    free = np.arange(pcap - 1, -1, -1).astype(np.int64)
    n_free = pcap

    # events, ordered by (time, sequence number)
    hcap = 1024
    h_t = np.zeros(hcap)
    h_seq = np.zeros(hcap, np.int64)
    h_id = np.zeros(hcap, np.int64)  # object * 8 + kind
    h_aux = np.zeros(hcap, np.int64)
    n_heap = 0
    seq = 0
    if D > 1:
        _push(h_t, h_seq, h_id, h_aux, n_heap, 1.0, seq, K_DAY, 1)
        n_heap += 1
        seq += 1
    for src in range(E + C):
        day0 = 0 if src < E else st.camp_first_day[src - E]
        if src >= E and st.camp_last_day[src - E] <= day0:
            continue
        _push(h_t, h_seq, h_id, h_aux, n_heap, float(day0), seq, src * 8 + K_BATCH, day0)
        n_heap += 1
        seq += 1

    walkers = np.zeros(64, np.int64)  # prospects to walk: +q entering, -(q + 1) to route
    walk_t = np.zeros(64)
    starting = np.zeros(64, np.int64)  # prospects whose pooled visit starts now
    joining = np.zeros(64, np.int64)  # prospects entering a pooled stage now

    while n_heap > 0:
        now = h_t[0]
        kind = h_id[0] & 7
        obj = h_id[0] >> 3
        aux = h_aux[0]
        _pop(h_t, h_seq, h_id, h_aux, n_heap)
        n_heap -= 1
        if now >= D:
            break
        n_walk = 0
        n_start = 0
        n_join = 0
        dispatch = -1  # a pool whose queue may move (NP: every pool)

        if kind == K_DAY:
            per = day_period[aux - 1]
            for p in range(NP):
                area_busy[p] += busy[p] * (now - last_t[p])
                area_queue[p] += n_wait[p] * (now - last_t[p])
                last_t[p] = now
                po.busy_area[i, per, p] += area_busy[p]
                po.queue_area[i, per, p] += area_queue[p]
                po.cap_area[i, per, p] += cap[p]
                area_busy[p] = 0.0
                area_queue[p] = 0.0
                cap[p] = capacity[i, p, aux]
            if aux + 1 < D:
                _push(h_t, h_seq, h_id, h_aux, n_heap, float(aux + 1), seq, K_DAY, aux + 1)
                n_heap += 1
                seq += 1
            dispatch = NP
        elif kind == K_BATCH:
            src = obj
            day = aux
            if src < E:
                c = C
                batch_key = derive(dk, st.init_key[src])
                n = dr.init_count[i, src]
                s0 = st.init_stage[src]
                out.initial[i, s0] += n
            else:
                c = src - E
                batch_key = derive(derive(dk, st.camp_key[c]), uint64(day))
                lam = dr.volume[i, c] * st.camp_shape[c, day] * dr.vol_mult[i, c, day_period[day]]
                n = 0
                if lam > 0.0:
                    n = poisson(lam, uniform(batch_key, counter(0, codes.P_ARRIVALS, 0)))
                s0 = st.camp_enters[c]
                out.arrivals[i, day_period[day], c] += n
            if n > n_free:  # room for n more prospects
                grow = max(pcap, n - n_free)
                p_key = np.concatenate((p_key, np.zeros(grow, np.uint64)))
                p_int = np.concatenate((p_int, np.zeros((grow, 9), np.int64)))
                p_flt = np.concatenate((p_flt, np.zeros((grow, 5))))
                free = np.concatenate((free[:n_free], np.arange(pcap + grow - 1, pcap - 1, -1),
                                       np.zeros(pcap, np.int64)))
                n_free += grow
                pcap += grow
            if n > walkers.shape[0]:
                walkers = np.zeros(2 * n, np.int64)
                walk_t = np.zeros(2 * n)
            for k in range(n):
                n_free -= 1
                q = free[n_free]
                key = derive(batch_key, uint64(k))
                p_key[q] = key
                if src < E:
                    j = dr.init_offset[src] + k
                    g = dr.init_seg[i, j]
                    t_in = 0.0
                    p_flt[q, 1] = -1.0
                    p_flt[q, 4] = dr.init_residual[i, j]
                else:
                    u = uniform(key, counter(0, codes.P_SEGMENT, 0))
                    g = 0
                    while g < G - 1 and u >= st.camp_mix_cum[c, g]:
                        g += 1
                    t_in = day + uniform(key, counter(0, codes.P_ARRIVAL_TIME, 0))
                    p_flt[q, 1] = t_in
                    p_flt[q, 4] = -1.0
                p_int[q, 0] = c
                p_int[q, 1] = g
                p_int[q, 2] = s0
                p_int[q, 3] = 0
                p_int[q, 4] = 0
                p_int[q, 6] = ACTIVE
                p_int[q, 7] = C + src if src < E else c
                p_int[q, 8] = day_period[day] + 1 if src >= E and st.dz_slots > 1 else 0
                p_flt[q, 0] = -1.0
                p_flt[q, 3] = -1.0
                walkers[n_walk] = q
                walk_t[n_walk] = t_in
                n_walk += 1
            if src >= E and day + 1 < st.camp_last_day[c]:
                _push(h_t, h_seq, h_id, h_aux, n_heap, float(day + 1), seq, src * 8 + K_BATCH,
                      day + 1)
                n_heap += 1
                seq += 1
        elif kind == K_ENTER:
            joining[0] = obj
            n_join = 1
        elif kind == K_ABANDON:
            q = obj
            if p_int[q, 6] == WAITING and p_int[q, 5] == aux:
                s = p_int[q, 2]
                pool = stage_pool[s]
                area_busy[pool] += busy[pool] * (now - last_t[pool])
                area_queue[pool] += n_wait[pool] * (now - last_t[pool])
                last_t[pool] = now
                n_wait[pool] -= 1
                p_int[q, 6] = ABANDONED  # its slot is freed when the queue reaches it
                period = day_period[int(now)]
                po.abandoned[i, period, pool] += 1.0
                out.exited_lost[i, period, s] += 1.0
                last = first_end_after[int(now)]
                pipe[last, s] -= 1.0
                if in_pv[s] == 1:
                    pv_diff[last] -= p_flt[q, 0]
                o_time[i, s] += now - p_flt[q, 2]
                o_exits[i, s] += 1.0
                if po.trace_n[i] < trace_len:
                    m = int(po.trace_n[i])
                    trace[i, m, 0] = p_flt[q, 1]
                    trace[i, m, 1] = now
                    trace[i, m, 2] = codes.LOST
                    po.trace_n[i] += 1.0
        else:  # K_EXIT: a pooled visit is over; the slot is free, the prospect moves on
            q = obj
            s = p_int[q, 2]
            last = first_end_after[int(now)]
            pipe[last, s] -= 1.0
            if in_pv[s] == 1:
                pv_diff[last] -= p_flt[q, 0]
            o_time[i, s] += now - p_flt[q, 2]
            o_exits[i, s] += 1.0
            pool = stage_pool[s]
            area_busy[pool] += busy[pool] * (now - last_t[pool])
            area_queue[pool] += n_wait[pool] * (now - last_t[pool])
            last_t[pool] = now
            busy[pool] -= 1
            dispatch = pool
            walkers[0] = -(q + 1)
            walk_t[0] = now
            n_walk = 1

        # --- queued prospects take the slots that are free (FIFO, inbound first) ---
        if dispatch >= 0:
            p_lo, p_hi = (0, NP) if dispatch == NP else (dispatch, dispatch + 1)
            for pool in range(p_lo, p_hi):
                while busy[pool] < cap[pool] and n_wait[pool] > 0:
                    r = 2 * pool if q_len[2 * pool] > 0 else 2 * pool + 1
                    q = q_buf[r, q_head[r]]
                    q_head[r] = (q_head[r] + 1) % qcap
                    q_len[r] -= 1
                    if p_int[q, 6] == ABANDONED:
                        p_int[q, 6] = FREE
                        free[n_free] = q
                        n_free += 1
                        continue
                    area_busy[pool] += busy[pool] * (now - last_t[pool])
                    area_queue[pool] += n_wait[pool] * (now - last_t[pool])
                    last_t[pool] = now
                    n_wait[pool] -= 1
                    busy[pool] += 1  # reserved now, so the loop sees it
                    p_int[q, 6] = ACTIVE
                    if n_start == starting.shape[0]:
                        starting = np.concatenate((starting, np.zeros(n_start, np.int64)))
                    starting[n_start] = q
                    n_start += 1

        # --- walk prospects through stages nobody works, up to a pooled stage or the end ---
        for w in range(n_walk):
            q = walkers[w]
            route = q < 0
            if route:
                q = -q - 1
            x = walk_t[w]
            g = p_int[q, 1]
            c = p_int[q, 0]
            key = p_key[q]
            while True:
                s = p_int[q, 2]
                visit = p_int[q, 3]
                if route:  # the visit of stage s ended at x: where next?
                    xday = int(x)
                    period = day_period[xday]
                    # outcome at the exit, as the fast path routes it
                    u = uniform(key, counter(visit, codes.P_ROUTE, 0))
                    tz = clock_index(st.rt_mode[s], p_int[q, 8], period)
                    outcome, clipped = route_visit(st, dr, i, p_int[q, 7], g, s, tz, xday, u,
                                                   nd_add, lost_add)
                    out.clipped[i, s] += clipped
                    if outcome >= 0:
                        p_int[q, 2] = outcome
                        p_int[q, 3] = visit + 1
                        route = False
                        continue
                    if outcome == codes.RECYCLE:
                        out.recycled[i, period, s] += 1.0
                        dl = delay_slot[s]
                        if slot_kind[dl] == codes.EMPIRICAL:
                            delay = empirical(emp_values, emp_cum, slot_emp[dl, 0],
                                              slot_emp[dl, 1],
                                              uniform(key, counter(visit, codes.P_DELAY, 0)))
                        else:
                            delay = sample(slot_kind[dl], nat[i, dl, 0], nat[i, dl, 1],
                                           nat[i, dl, 2], nat[i, dl, 3], key, visit,
                                           codes.P_DELAY)
                        t_back = x + max(delay, 0.0)
                        nur_diff[first_end_after[xday]] += 1.0
                        p_int[q, 2] = rc_to[s]
                        p_int[q, 3] = visit + 1
                        if t_back >= D:
                            o_open[i, rc_to[s]] += 1.0  # open at the stage it will come back to
                            p_int[q, 6] = FREE
                            free[n_free] = q
                            n_free += 1
                            break
                        nur_diff[first_end_after[int(t_back)]] -= 1.0
                        x = t_back
                        route = False
                        continue
                    if outcome == codes.WON:
                        value = p_flt[q, 0]
                        if value < 0.0:
                            vs = value_slot[g]
                            if slot_kind[vs] == codes.EMPIRICAL:
                                value = empirical(emp_values, emp_cum, slot_emp[vs, 0],
                                                  slot_emp[vs, 1],
                                                  uniform(key, counter(0, codes.P_VALUE, 0)))
                            else:
                                value = sample(slot_kind[vs], nat[i, vs, 0], nat[i, vs, 1],
                                               nat[i, vs, 2], nat[i, vs, 3], key, 0,
                                               codes.P_VALUE)
                            value = max(value, 0.0)
                        out.won[i, period] += 1.0
                        out.revenue[i, period] += value
                        out.won_by_campaign[i, c] += 1.0
                        out.revenue_by_campaign[i, c] += value
                        out.revenue_by_segment[i, g] += value
                        if p_flt[q, 1] >= 0.0:
                            out.cycle_time_sum[i] += x - p_flt[q, 1]
                            out.cycle_time_n[i] += 1.0
                    elif outcome == codes.LOST:
                        out.exited_lost[i, period, s] += 1.0
                    else:
                        out.exited_no_decision[i, period, s] += 1.0
                    if po.trace_n[i] < trace_len:
                        m = int(po.trace_n[i])
                        trace[i, m, 0] = p_flt[q, 1]
                        trace[i, m, 1] = x
                        trace[i, m, 2] = outcome
                        po.trace_n[i] += 1.0
                    p_int[q, 6] = FREE
                    free[n_free] = q
                    n_free += 1
                    break

                # entering stage s at x: order-free bookkeeping now
                if not (visit == 0 and p_flt[q, 1] < 0.0):  # the day-0 pipeline was already in
                    o_ent[i, day_period[int(x)], s] += 1.0
                mask = p_int[q, 4]
                if (mask >> s) & 1 == 0:
                    p_int[q, 4] = mask | (1 << s)
                    o_reach[i, c, s] += 1.0
                if in_pv[s] == 1 and p_flt[q, 0] < 0.0:
                    vs = value_slot[g]
                    if slot_kind[vs] == codes.EMPIRICAL:
                        v = empirical(emp_values, emp_cum, slot_emp[vs, 0], slot_emp[vs, 1],
                                      uniform(key, counter(0, codes.P_VALUE, 0)))
                    else:
                        v = sample(slot_kind[vs], nat[i, vs, 0], nat[i, vs, 1], nat[i, vs, 2],
                                   nat[i, vs, 3], key, 0, codes.P_VALUE)
                    p_flt[q, 0] = max(v, 0.0)
                p_flt[q, 2] = x
                first = first_end_after[int(x)]
                pipe[first, s] += 1.0
                if in_pv[s] == 1:
                    pv_diff[first] += p_flt[q, 0]
                if stage_pool[s] >= 0:  # a pooled stage: join at x, an event unless x is now
                    if x > now:
                        if n_heap + 1 > hcap:
                            h_t = np.concatenate((h_t, np.zeros(hcap)))
                            h_seq = np.concatenate((h_seq, np.zeros(hcap, np.int64)))
                            h_id = np.concatenate((h_id, np.zeros(hcap, np.int64)))
                            h_aux = np.concatenate((h_aux, np.zeros(hcap, np.int64)))
                            hcap *= 2
                        _push(h_t, h_seq, h_id, h_aux, n_heap, x, seq, q * 8 + K_ENTER, 0)
                        n_heap += 1
                        seq += 1
                    else:
                        if n_join == joining.shape[0]:
                            joining = np.concatenate((joining, np.zeros(n_join, np.int64)))
                        joining[n_join] = q
                        n_join += 1
                    break
                # a stage nobody works: its visit is walked now
                if visit == 0 and p_flt[q, 4] >= 0.0:
                    dwell = p_flt[q, 4]
                else:
                    ds = dwell_slot[s]
                    if slot_kind[ds] == codes.EMPIRICAL:
                        dwell = empirical(emp_values, emp_cum, slot_emp[ds, 0], slot_emp[ds, 1],
                                          uniform(key, counter(visit, codes.P_DWELL, 0)))
                    else:
                        dwell = sample(slot_kind[ds], nat[i, ds, 0], nat[i, ds, 1],
                                       nat[i, ds, 2], nat[i, ds, 3], key, visit, codes.P_DWELL)
                    tz = clock_index(st.dw_mode[s], p_int[q, 8], day_period[min(int(x), D - 1)])
                    dwell = max(dwell, 0.0) * dr.dz_dwell[i, g, s, tz]
                if has_clock[s] == 0 or x >= D:
                    x_out = x + dwell
                else:
                    x_out = _exit_time(s, x, dwell, speed, cum, D)
                if x_out >= D or visit >= MAX_VISITS:
                    o_open[i, s] += 1.0
                    if visit >= MAX_VISITS:
                        out.capped[i] += 1.0
                    p_int[q, 6] = FREE
                    free[n_free] = q
                    n_free += 1
                    break
                last = first_end_after[int(x_out)]
                pipe[last, s] -= 1.0
                if in_pv[s] == 1:
                    pv_diff[last] -= p_flt[q, 0]
                o_time[i, s] += x_out - x
                o_exits[i, s] += 1.0
                x = x_out
                route = True

        # --- prospects entering a pooled stage now: a free slot, or the queue ---
        for z in range(n_join):
            q = joining[z]
            s = p_int[q, 2]
            pool = stage_pool[s]
            area_busy[pool] += busy[pool] * (now - last_t[pool])
            area_queue[pool] += n_wait[pool] * (now - last_t[pool])
            last_t[pool] = now
            if busy[pool] < cap[pool] and n_wait[pool] == 0:
                busy[pool] += 1
                if n_start == starting.shape[0]:
                    starting = np.concatenate((starting, np.zeros(n_start, np.int64)))
                starting[n_start] = q
                n_start += 1
                continue
            n_wait[pool] += 1
            p_int[q, 6] = WAITING
            p_int[q, 5] += 1
            p_flt[q, 3] = now
            r = 2 * pool + camp_priority[p_int[q, 0]]
            if q_len[r] == qcap:
                nb = np.zeros((2 * NP, 2 * qcap), np.int64)
                for rr in range(2 * NP):
                    for zz in range(q_len[rr]):
                        nb[rr, zz] = q_buf[rr, (q_head[rr] + zz) % qcap]
                    q_head[rr] = 0
                q_buf = nb
                qcap *= 2
            q_buf[r, (q_head[r] + q_len[r]) % qcap] = q
            q_len[r] += 1
            ps = patience_slot[s]
            if ps >= 0:
                key = p_key[q]
                visit = p_int[q, 3]
                if slot_kind[ps] == codes.EMPIRICAL:
                    pat = empirical(emp_values, emp_cum, slot_emp[ps, 0], slot_emp[ps, 1],
                                    uniform(key, counter(visit, codes.P_PATIENCE, 0)))
                else:
                    pat = sample(slot_kind[ps], nat[i, ps, 0], nat[i, ps, 1], nat[i, ps, 2],
                                 nat[i, ps, 3], key, visit, codes.P_PATIENCE)
                t_cold = now + max(pat, 0.0)
                if t_cold < D:
                    if n_heap + 1 > hcap:
                        h_t = np.concatenate((h_t, np.zeros(hcap)))
                        h_seq = np.concatenate((h_seq, np.zeros(hcap, np.int64)))
                        h_id = np.concatenate((h_id, np.zeros(hcap, np.int64)))
                        h_aux = np.concatenate((h_aux, np.zeros(hcap, np.int64)))
                        hcap *= 2
                    _push(h_t, h_seq, h_id, h_aux, n_heap, t_cold, seq, q * 8 + K_ABANDON,
                          p_int[q, 5])
                    n_heap += 1
                    seq += 1

        # --- pooled visits that start now: their dwell, and when they end ---
        for z in range(n_start):
            q = starting[z]
            s = p_int[q, 2]
            g = p_int[q, 1]
            visit = p_int[q, 3]
            key = p_key[q]
            pool = stage_pool[s]
            wait = now - p_flt[q, 3] if p_flt[q, 3] >= 0.0 else 0.0
            cls = camp_priority[p_int[q, 0]]
            po.wait_sum[i, pool, cls] += wait
            po.wait_n[i, pool, cls] += 1.0
            if wait > 0.0:
                po.waited[i, pool] += 1.0
            p_flt[q, 3] = -1.0
            if visit == 0 and p_flt[q, 4] >= 0.0:
                dwell = p_flt[q, 4]
            else:
                ds = dwell_slot[s]
                if slot_kind[ds] == codes.EMPIRICAL:
                    dwell = empirical(emp_values, emp_cum, slot_emp[ds, 0], slot_emp[ds, 1],
                                      uniform(key, counter(visit, codes.P_DWELL, 0)))
                else:
                    dwell = sample(slot_kind[ds], nat[i, ds, 0], nat[i, ds, 1], nat[i, ds, 2],
                                   nat[i, ds, 3], key, visit, codes.P_DWELL)
                tz = clock_index(st.dw_mode[s], p_int[q, 8], day_period[min(int(now), D - 1)])
                dwell = max(dwell, 0.0) * dr.dz_dwell[i, g, s, tz]
            if has_clock[s] == 0:
                t_out = now + dwell
            else:
                t_out = _exit_time(s, now, dwell, speed, cum, D)
            if t_out >= D or visit >= MAX_VISITS:
                o_open[i, s] += 1.0  # it keeps its slot to the end
                if visit >= MAX_VISITS:
                    out.capped[i] += 1.0
                p_int[q, 6] = FREE
                free[n_free] = q
                n_free += 1
            else:
                if n_heap + 1 > hcap:
                    h_t = np.concatenate((h_t, np.zeros(hcap)))
                    h_seq = np.concatenate((h_seq, np.zeros(hcap, np.int64)))
                    h_id = np.concatenate((h_id, np.zeros(hcap, np.int64)))
                    h_aux = np.concatenate((h_aux, np.zeros(hcap, np.int64)))
                    hcap *= 2
                _push(h_t, h_seq, h_id, h_aux, n_heap, t_out, seq, q * 8 + K_EXIT, 0)
                n_heap += 1
                seq += 1

    # the horizon ends: close the last day, count who is still waiting
    per = day_period[D - 1]
    for p in range(NP):
        area_busy[p] += busy[p] * (D - last_t[p])
        area_queue[p] += n_wait[p] * (D - last_t[p])
        po.busy_area[i, per, p] += area_busy[p]
        po.queue_area[i, per, p] += area_queue[p]
        po.cap_area[i, per, p] += cap[p]
    for r in range(2 * NP):
        for z in range(q_len[r]):
            q = q_buf[r, (q_head[r] + z) % qcap]
            if p_int[q, 6] == WAITING:
                o_open[i, p_int[q, 2]] += 1.0

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
def simulate_capacity_chunk(st, pc, dr, pd, out, po, seed):
    """Simulate every draw of a chunk with pools (in parallel over draws)."""
    root = seed_key(seed)
    for i in prange(dr.draw_ids.shape[0]):
        if dr.failed[i] == 0:
            _draw(st, pc, dr, pd, out, po, i, root)
