"""The capacity path: a discrete-event simulation of prospects competing for reps.

Stages with ``worked_by`` hold one slot of their pool for their dwell; a prospect that finds no
free slot waits, inbound before outbound, first come first served within a class, and goes cold
when its wait exceeds its patience. Capacity c(t) changes at day boundaries (headcount, ramp,
attrition, hires); nobody is pre-empted when it drops.

Arrivals go through the fast path's block sweep (:func:`sweep.sweep`), ``SWEEP_DAYS`` days of
them at a time ahead of the event loop, up to the first stage a pool works: the way through
stages nobody works touches only order-free aggregates, so it need not wait for the events. Each
prospect that reaches a pool is handed over as a record, in its source's order, and the event
loop takes a day's records up with that day's event, as if the prospects had been walked then;
the events and their order are those of a walk at the start of the day, so every count is the
same either way. The sources are taken up in the order their own events of a day once had: the
latest to start first, then by source (which only the trace's order can tell).

Events live in a calendar queue ordered by (time, sequence number) (:mod:`events`); waiting
prospects in ring buffers; per-prospect state in slot arrays recycled through a free list, so
the event loop's memory is bounded by the prospects in flight (and the hand-over records of the
days swept ahead). Every random number is the fast path's: keyed by (seed, draw, source, day, k,
visit, purpose), so with ample capacity this path gives the fast path's counts exactly, and a
prospect keeps its numbers when the scenario changes around it.

The helpers it shares with the fast path (stage clocks, routing, per-prospect values, the
end-of-draw snapshot) and its own (the event list, pool accounting) are inlined: a call that
takes arrays costs reference counting on every event.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange, uint64

from simengine import codes
from simengine.kernels import events
from simengine.kernels.borrow import borrowed
from simengine.kernels.clock import exit_time
from simengine.kernels.drift import clock_index, route_visit
from simengine.kernels.known import nonneg
from simengine.kernels.outputs import POOLS, names
from simengine.kernels.rng import counter, derive, draw_key, seed_key, uniform
from simengine.kernels.route import draw_tables
from simengine.kernels.sweep import (
    MAX_VISITS,
    R_ARRIVAL,
    R_COHORT,
    R_DAY,
    R_DWELL,
    R_KIND,
    R_REACHED,
    R_RESIDUAL,
    R_SEGMENT,
    R_VALUE,
    R_VISIT,
    R_X,
    no_records,
    sweep,
)
from simengine.kernels.tally import snapshot
from simengine.kernels.values import slot_value

PoolStatic = namedtuple("PoolStatic", [
    "stage_pool", "patience_slot", "camp_priority", "n_pools", "trace_len",
])
PoolDraws = namedtuple("PoolDraws", ["capacity"])  # (n, NP, D) slots available each day
PoolOut = namedtuple("PoolOut", names(POOLS))  # what each field holds: kernels/outputs.py

FREE, ACTIVE, WAITING, ABANDONED = 0, 1, 2, 3  # states of a prospect slot

# per-prospect state: integer columns of p_int (I_COLD: the node of its event of going cold
# while it waits, or -1; I_DRAWN: the visit whose dwell the sweep drew, F_DWELL) ...
(I_CAMPAIGN, I_SEGMENT, I_STAGE, I_VISIT, I_REACHED, I_COLD, I_STATE, I_ROUTE, I_COHORT,
 I_DRAWN) = range(10)
N_INT = 10
# ... and float columns of p_flt
F_VALUE, F_ARRIVAL, F_ENTERED, F_QUEUED, F_RESIDUAL, F_DWELL = range(6)
N_FLT = 6

# the event loop's scalars kept between its calls, and the room it asks for
(SC_SEQ, SC_TAKEN, SC_NODE, SC_BUCKET, SC_FREE, SC_NEED_P, SC_NEED_E, SC_NEED_Q, SC_NEED_W,
 SC_SWEPT) = range(10)
N_SC = 10
DONE, NEED_ROOM, NEED_SWEEP = 0, 1, 2
# arrivals are swept to their pools this many days ahead of the event loop: the hand-over
# records held are those of the days ahead, not of the horizon
SWEEP_DAYS = 28


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
                    rk = derive(pk, uint64(codes.HIRED_REP_KEY + r))
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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _accrue(area_busy, area_queue, last_t, busy, n_wait, pool, now):
    """Busy and queue areas of a pool up to ``now`` (before its counts change)."""
    area_busy[pool] += busy[pool] * (now - last_t[pool])
    area_queue[pool] += n_wait[pool] * (now - last_t[pool])
    last_t[pool] = now


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _release(p_int, free, n_free, q):
    """Prospect slot ``q`` back to the free list; returns the new number of free slots."""
    p_int[q, I_STATE] = FREE
    free[n_free] = q
    return n_free + 1


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _leave(pipe, pv_diff, o_time, o_exits, i, s, last, pv, t_in, t_out, value):
    """A visit of stage ``s`` that began at ``t_in`` ends at ``t_out``: out of the pipeline at
    the end of its period (``last``; its value too where ``pv``), its time in the stage
    tallied.

    One basic block: numba's pruning removes the reference counting of an inlined helper's
    array arguments only when it does not span a branch (the kernel borrows the arrays of its
    helpers that branch: :mod:`borrow`).
    """
    pipe[last, s] -= 1.0
    pv_diff[last] -= value * pv  # no branch (see above)
    o_time[i, s] += t_out - t_in
    o_exits[i, s] += 1.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _trace(trace, trace_n, i, arrival, t, outcome):
    """One more of the first prospects to leave the funnel in draw ``i``: arrival, exit, how
    (the caller checks that ``trace`` has room; no branch here, see :func:`_leave`)."""
    m = int(trace_n[i])
    trace[i, m, 0] = arrival
    trace[i, m, 1] = t
    trace[i, m, 2] = outcome
    trace_n[i] += 1.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _keep(sc, seq, n_taken, node_free, cur, n_free):
    """The event loop's scalars into ``sc``, for its next call."""
    sc[SC_SEQ], sc[SC_TAKEN], sc[SC_NODE], sc[SC_BUCKET] = seq, n_taken, node_free, cur
    sc[SC_FREE] = n_free


@njit(cache=True, nogil=True, error_model="numpy")
def _events(st, pc, dr, pd, out, po, i, speed, cum, nd_add, lost_add, has_clock, pipe,
            pv_diff, nur_diff, r_thr, r_out, r_clip, f_state, busy, cap, n_wait, last_t,
            area_busy, area_queue, q_buf, q_head, q_len, p_key, p_int, p_flt, free, head, e_t,
            e_int, rec_start, rec_int, rec_flt, rec_key, cursor, src_order, starting, joining, sc):
    """The event loop of a draw, from the state the arrays hold, until the horizon (returns
    ``DONE``), an event that needs more room than the arrays have (returns ``NEED_ROOM`` with
    the sizes in ``sc`` and the event still on the list) or the event of a day the sweep has
    not reached (``sc[SC_SWEPT]``; returns ``NEED_SWEEP``, the event still on the list).
    Growth and sweeps happen in the caller, so no array is rebound here: a rebound array costs
    reference counting on every use."""
    D = st.days
    E = st.init_stage.shape[0]
    C = st.camp_enters.shape[0]
    NP = pc.n_pools
    nat = dr.nat
    first_end_after, day_period = st.first_end_after, st.day_period
    dwell_slot, value_slot, delay_slot = st.dwell_slot, st.value_slot, st.delay_slot
    dw_mode, rt_mode, dz_dwell = st.dw_mode, st.rt_mode, dr.dz_dwell
    rc_to, in_pv = st.rc_to, st.in_pipeline_value
    stage_pool, patience_slot, camp_priority = pc.stage_pool, pc.patience_slot, pc.camp_priority
    capacity = pd.capacity
    o_ent, o_reach, o_open = out.entered, out.reached, out.open_at_end
    o_time, o_exits = out.stage_time, out.stage_exits
    slot_kind, emp_values, emp_cum, slot_emp = st.slot_kind, st.emp_values, st.emp_cum, st.slot_emp
    trace, trace_n = po.trace, po.trace_n
    trace_len = trace.shape[1]
    # the arrays of inlined helpers that branch (the event list, stage clocks, slot values),
    # borrowed: counting references to them would cost more than the helpers (_draw owns them)
    head, e_t, e_int = borrowed(head), borrowed(e_t), borrowed(e_int)
    speed, cum = borrowed(speed), borrowed(cum)
    slot_kind, nat, slot_emp = borrowed(slot_kind), borrowed(nat), borrowed(slot_emp)
    emp_values, emp_cum = borrowed(emp_values), borrowed(emp_cum)

    # every array the event loop touches, as a local: reading a tuple's member in the loop
    # would cost reference counting each time
    o_clip = out.clipped
    po_busy_area = po.busy_area
    po_queue_area = po.queue_area
    po_cap_area = po.cap_area
    po_abandoned = po.abandoned
    out_exited_lost = out.exited_lost
    out_recycled = out.recycled
    out_won = out.won
    out_revenue = out.revenue
    out_won_by_campaign = out.won_by_campaign
    out_revenue_by_campaign = out.revenue_by_campaign
    out_revenue_by_segment = out.revenue_by_segment
    out_cycle_time_sum = out.cycle_time_sum
    out_cycle_time_n = out.cycle_time_n
    out_exited_no_decision = out.exited_no_decision
    out_capped = out.capped
    po_wait_sum = po.wait_sum
    po_wait_n = po.wait_n
    po_waited = po.waited

    n_next = st.n_next
    qcap = q_buf.shape[1]
    qmask = qcap - 1  # the rings' length is a power of two: a mask, not a division
    seq, n_taken, node_free, cur = sc[SC_SEQ], sc[SC_TAKEN], sc[SC_NODE], sc[SC_BUCKET]
    n_free = sc[SC_FREE]
    queued = 0  # prospects in the queues' rings, waiting or gone cold
    for r in range(2 * NP):
        queued += q_len[r]
    # events pushed (each took a sequence number) less those taken off (popped or removed)
    while seq > n_taken:
        cur = events.first(head, cur)
        top = nonneg(head[cur])
        kind = events.event_kind(e_int[top, events.ID])
        obj = events.event_obj(e_int[top, events.ID])
        aux = e_int[top, events.AUX]
        n = 0  # the prospects it hands to a pool
        if kind == codes.EV_DAY:  # the day's arrivals first: the room they need
            if aux >= sc[SC_SWEPT]:  # they are not swept yet
                _keep(sc, seq, n_taken, node_free, cur, n_free)
                return NEED_SWEEP
            for src in range(E + C):
                r = cursor[src]
                while r < rec_start[src + 1] and rec_int[r, R_DAY] == aux:
                    n += rec_int[r, R_KIND] >= 0
                    r += 1
        # an event brings at most max(n, 1) prospects to a pool, m of them join a queue, and
        # starts at most m + (everyone queued); it pushes at most one event for each and one more
        # (a ring's room is checked against everyone queued, more than any one ring holds)
        m = max(n, 1) + 1
        n_events = seq - n_taken
        if (n > n_free or n_events + 1 + 3 * m + queued > e_t.shape[0]
                or queued + m > qcap or m + queued > starting.shape[0] or m > joining.shape[0]):
            _keep(sc, seq, n_taken, node_free, cur, n_free)
            sc[SC_NEED_P], sc[SC_NEED_E] = n, n_events + 1 + 3 * m + queued
            sc[SC_NEED_Q], sc[SC_NEED_W] = queued + m, m + queued
            return NEED_ROOM
        now = e_t[top]
        if now >= D:
            break
        today = nonneg(int(now))
        node_free = events.pop(head, e_int, cur, node_free)
        n_taken += 1
        walker = -1  # a prospect whose pooled visit ended now: where next
        n_start = 0
        n_join = 0
        dispatch = -1  # a pool whose queue may move (NP: every pool)

        if kind == codes.EV_DAY:  # capacity may change; the day's arrivals, up to their pools
            if aux > 0:
                per = day_period[aux - 1]
                for p in range(NP):
                    _accrue(area_busy, area_queue, last_t, busy, n_wait, p, now)
                    po_busy_area[i, per, p] += area_busy[p]
                    po_queue_area[i, per, p] += area_queue[p]
                    po_cap_area[i, per, p] += cap[p]
                    area_busy[p] = 0.0
                    area_queue[p] = 0.0
                    cap[p] = capacity[i, p, aux]
            if aux + 1 < D:
                node_free, seq = events.push(head, e_t, e_int, node_free, cur, seq, float(aux + 1),
                                             events.event_id(0, codes.EV_DAY), aux + 1)
            dispatch = NP
            for z in range(E + C):
                src = src_order[z]
                c = C if src < E else src - E
                r_lo = r_hi = cursor[src]
                while r_hi < rec_start[src + 1] and rec_int[r_hi, R_DAY] == aux:
                    r_hi += 1
                for r in range(r_lo, r_hi):
                    outcome = rec_int[r, R_KIND]
                    if outcome < 0:  # it left the funnel in the sweep
                        if trace_n[i] < trace_len:
                            _trace(trace, trace_n, i, rec_flt[r, R_ARRIVAL], rec_flt[r, R_X],
                                   outcome)
                        continue
                    n_free -= 1
                    q = nonneg(free[n_free])
                    p_key[q] = rec_key[r]
                    p_int[q, I_CAMPAIGN] = c
                    p_int[q, I_SEGMENT] = rec_int[r, R_SEGMENT]
                    p_int[q, I_STAGE] = outcome
                    p_int[q, I_VISIT] = rec_int[r, R_VISIT]
                    p_int[q, I_REACHED] = rec_int[r, R_REACHED]
                    p_int[q, I_STATE] = ACTIVE
                    p_int[q, I_ROUTE] = C + src if src < E else c
                    p_int[q, I_COHORT] = rec_int[r, R_COHORT]
                    x = rec_flt[r, R_X]
                    p_flt[q, F_VALUE] = rec_flt[r, R_VALUE]
                    p_flt[q, F_ARRIVAL] = rec_flt[r, R_ARRIVAL]
                    p_flt[q, F_ENTERED] = x
                    p_flt[q, F_QUEUED] = -1.0
                    p_flt[q, F_RESIDUAL] = rec_flt[r, R_RESIDUAL]
                    p_int[q, I_DRAWN] = rec_int[r, R_VISIT]
                    p_flt[q, F_DWELL] = rec_flt[r, R_DWELL]
                    if x > now:  # entering its pool at x (an event), as the walk below does
                        node_free, seq = events.push(head, e_t, e_int, node_free, cur, seq, x,
                                                     events.event_id(q, codes.EV_ENTER), 0)
                    else:
                        joining[n_join] = q
                        n_join += 1
                cursor[src] = r_hi
        elif kind == codes.EV_ENTER:
            joining[0] = obj
            n_join = 1
        elif kind == codes.EV_ABANDON:
            # it is still waiting: a wait that ends removes its prospect's event
            q = nonneg(obj)
            s = nonneg(p_int[q, I_STAGE])
            pool = nonneg(stage_pool[s])
            _accrue(area_busy, area_queue, last_t, busy, n_wait, pool, now)
            n_wait[pool] -= 1
            p_int[q, I_STATE] = ABANDONED  # its slot is freed when the queue reaches it
            period = nonneg(day_period[today])
            po_abandoned[i, period, pool] += 1.0
            out_exited_lost[i, period, s] += 1.0
            last = nonneg(first_end_after[today])
            _leave(pipe, pv_diff, o_time, o_exits, i, s, last, in_pv[s] == 1, p_flt[q, F_ENTERED],
                   now, p_flt[q, F_VALUE])
            if trace_n[i] < trace_len:
                _trace(trace, trace_n, i, p_flt[q, F_ARRIVAL], now, codes.LOST)
        else:  # EV_EXIT: a pooled visit is over; the slot is free, the prospect moves on
            q = nonneg(obj)
            s = nonneg(p_int[q, I_STAGE])
            last = nonneg(first_end_after[today])
            _leave(pipe, pv_diff, o_time, o_exits, i, s, last, in_pv[s] == 1,
                   p_flt[q, F_ENTERED], now, p_flt[q, F_VALUE])
            pool = nonneg(stage_pool[s])
            _accrue(area_busy, area_queue, last_t, busy, n_wait, pool, now)
            busy[pool] -= 1
            dispatch = pool
            walker = q

        # --- queued prospects take the slots that are free (FIFO, inbound first) ---
        if dispatch >= 0:
            p_lo, p_hi = (0, NP) if dispatch == NP else (dispatch, dispatch + 1)
            for pool in range(p_lo, p_hi):
                while busy[pool] < cap[pool] and n_wait[pool] > 0:
                    r = 2 * pool if q_len[2 * pool] > 0 else 2 * pool + 1
                    q = nonneg(q_buf[r, nonneg(q_head[r])])
                    q_head[r] = (q_head[r] + 1) & qmask
                    q_len[r] -= 1
                    queued -= 1
                    if p_int[q, I_STATE] == ABANDONED:
                        n_free = _release(p_int, free, n_free, q)
                        continue
                    _accrue(area_busy, area_queue, last_t, busy, n_wait, pool, now)
                    n_wait[pool] -= 1
                    busy[pool] += 1  # reserved now, so the loop sees it
                    p_int[q, I_STATE] = ACTIVE
                    if p_int[q, I_COLD] >= 0:  # it will not go cold: its event goes
                        node_free = events.remove(head, e_int, p_int[q, I_COLD], node_free)
                        n_taken += 1
                    starting[n_start] = q
                    n_start += 1

        # --- walk the prospect through stages nobody works, up to a pooled stage or the end ---
        if walker >= 0:
            q = walker
            route = True
            x = now
            g = nonneg(p_int[q, I_SEGMENT])
            c = nonneg(p_int[q, I_CAMPAIGN])
            key = p_key[q]
            while True:
                s = nonneg(p_int[q, I_STAGE])
                visit = nonneg(p_int[q, I_VISIT])
                if route:  # the visit of stage s ended at x: where next?
                    xday = nonneg(int(x))
                    period = nonneg(day_period[xday])
                    # outcome at the exit, as the fast path routes it
                    u = uniform(key, counter(visit, codes.P_ROUTE, 0))
                    r_src = nonneg(p_int[q, I_ROUTE])
                    if rt_mode[s] == codes.DRIFT_NONE:
                        # the per-draw thresholds, as the fast path reads them
                        fs = nonneg(f_state[s, xday])
                        o_clip[i, s] += r_clip[r_src, g, s, fs]
                        jj = 0
                        for kk in range(n_next[s] + 2):
                            jj += u >= r_thr[r_src, g, s, fs, kk]
                        outcome = r_out[s, jj]
                    else:
                        tz = clock_index(rt_mode[s], p_int[q, I_COHORT], period)
                        outcome, clipped = route_visit(st, dr, i, r_src, g, s, tz, xday, u,
                                                       nd_add, lost_add)
                        o_clip[i, s] += clipped
                    if outcome >= 0:
                        p_int[q, I_STAGE] = outcome
                        p_int[q, I_VISIT] = visit + 1
                        route = False
                        continue
                    if outcome == codes.RECYCLE:
                        out_recycled[i, period, s] += 1.0
                        dl = delay_slot[s]
                        raw = slot_value(slot_kind, nat, i, dl, key, visit, codes.P_DELAY,
                                         emp_values, emp_cum, slot_emp)
                        t_back = x + max(raw, 0.0)
                        nur_diff[first_end_after[xday]] += 1.0
                        p_int[q, I_STAGE] = rc_to[s]
                        p_int[q, I_VISIT] = visit + 1
                        if t_back >= D:
                            o_open[i, rc_to[s]] += 1.0  # open at the stage it will come back to
                            n_free = _release(p_int, free, n_free, q)
                            break
                        nur_diff[first_end_after[int(t_back)]] -= 1.0
                        x = t_back
                        route = False
                        continue
                    if outcome == codes.WON:
                        value = p_flt[q, F_VALUE]
                        if value < 0.0:
                            vs = value_slot[g]
                            value = max(slot_value(slot_kind, nat, i, vs, key, 0, codes.P_VALUE,
                                                   emp_values, emp_cum, slot_emp), 0.0)
                        out_won[i, period] += 1.0
                        out_revenue[i, period] += value
                        out_won_by_campaign[i, c] += 1.0
                        out_revenue_by_campaign[i, c] += value
                        out_revenue_by_segment[i, g] += value
                        if p_flt[q, F_ARRIVAL] >= 0.0:
                            out_cycle_time_sum[i] += x - p_flt[q, F_ARRIVAL]
                            out_cycle_time_n[i] += 1.0
                    elif outcome == codes.LOST:
                        out_exited_lost[i, period, s] += 1.0
                    else:
                        out_exited_no_decision[i, period, s] += 1.0
                    if trace_n[i] < trace_len:
                        _trace(trace, trace_n, i, p_flt[q, F_ARRIVAL], x, outcome)
                    n_free = _release(p_int, free, n_free, q)
                    break

                # entering stage s at x (after a route: the sweep took the arrivals in)
                xday = nonneg(int(x))
                o_ent[i, nonneg(day_period[xday]), s] += 1.0
                mask = p_int[q, I_REACHED]
                if (mask >> s) & 1 == 0:
                    p_int[q, I_REACHED] = mask | (1 << s)
                    o_reach[i, c, s] += 1.0
                if in_pv[s] == 1 and p_flt[q, F_VALUE] < 0.0:
                    vs = value_slot[g]
                    p_flt[q, F_VALUE] = max(slot_value(slot_kind, nat, i, vs, key, 0, codes.P_VALUE,
                                                       emp_values, emp_cum, slot_emp), 0.0)
                p_flt[q, F_ENTERED] = x
                first = nonneg(first_end_after[xday])
                pipe[first, s] += 1.0
                if in_pv[s] == 1:
                    pv_diff[first] += p_flt[q, F_VALUE]
                if stage_pool[s] >= 0:  # a pooled stage: join at x, an event unless x is now
                    if x > now:
                        node_free, seq = events.push(head, e_t, e_int, node_free, cur, seq, x,
                                                     events.event_id(q, codes.EV_ENTER), 0)
                    else:
                        joining[n_join] = q
                        n_join += 1
                    break
                # a stage nobody works: its visit is walked now
                if visit == 0 and p_flt[q, F_RESIDUAL] >= 0.0:
                    dwell = p_flt[q, F_RESIDUAL]
                else:
                    ds = dwell_slot[s]
                    tz = clock_index(dw_mode[s], p_int[q, I_COHORT], day_period[min(int(x), D - 1)])
                    raw = slot_value(slot_kind, nat, i, ds, key, visit, codes.P_DWELL,
                                     emp_values, emp_cum, slot_emp)
                    dwell = max(raw, 0.0) * dz_dwell[i, g, s, tz]
                if has_clock[s] == 0 or x >= D:
                    x_out = x + dwell
                else:
                    x_out = exit_time(s, x, dwell, speed, cum, D)
                if x_out >= D or visit >= MAX_VISITS:
                    o_open[i, s] += 1.0
                    if visit >= MAX_VISITS:
                        out_capped[i] += 1.0
                    n_free = _release(p_int, free, n_free, q)
                    break
                last = nonneg(first_end_after[nonneg(int(x_out))])
                _leave(pipe, pv_diff, o_time, o_exits, i, s, last, in_pv[s] == 1, x, x_out,
                       p_flt[q, F_VALUE])
                x = x_out
                route = True

        # --- prospects entering a pooled stage now: a free slot, or the queue ---
        for z in range(n_join):
            q = nonneg(joining[z])
            s = nonneg(p_int[q, I_STAGE])
            pool = nonneg(stage_pool[s])
            _accrue(area_busy, area_queue, last_t, busy, n_wait, pool, now)
            if busy[pool] < cap[pool] and n_wait[pool] == 0:
                busy[pool] += 1
                starting[n_start] = q
                n_start += 1
                continue
            n_wait[pool] += 1
            p_int[q, I_STATE] = WAITING
            p_int[q, I_COLD] = -1
            p_flt[q, F_QUEUED] = now
            r = 2 * pool + nonneg(camp_priority[p_int[q, I_CAMPAIGN]])
            q_buf[r, (q_head[r] + q_len[r]) & qmask] = q
            q_len[r] += 1
            queued += 1
            ps = patience_slot[s]
            if ps >= 0:
                t_cold = now + max(slot_value(slot_kind, nat, i, ps, p_key[q], p_int[q, I_VISIT],
                                              codes.P_PATIENCE, emp_values, emp_cum, slot_emp),
                                   0.0)
                if t_cold < D:
                    p_int[q, I_COLD] = node_free  # the node push takes
                    node_free, seq = events.push(head, e_t, e_int, node_free, cur, seq, t_cold,
                                                 events.event_id(q, codes.EV_ABANDON), 0)

        # --- pooled visits that start now: their dwell, and when they end ---
        for z in range(n_start):
            q = nonneg(starting[z])
            s = nonneg(p_int[q, I_STAGE])
            visit = nonneg(p_int[q, I_VISIT])
            pool = nonneg(stage_pool[s])
            wait = now - p_flt[q, F_QUEUED] if p_flt[q, F_QUEUED] >= 0.0 else 0.0
            cls = nonneg(camp_priority[p_int[q, I_CAMPAIGN]])
            po_wait_sum[i, pool, cls] += wait
            po_wait_n[i, pool, cls] += 1.0
            if wait > 0.0:
                po_waited[i, pool] += 1.0
            p_flt[q, F_QUEUED] = -1.0
            if visit == 0 and p_flt[q, F_RESIDUAL] >= 0.0:
                dwell = p_flt[q, F_RESIDUAL]
            else:
                ds = dwell_slot[s]
                tz = clock_index(dw_mode[s], p_int[q, I_COHORT], day_period[today])
                if visit == p_int[q, I_DRAWN]:  # the visit it was handed over for
                    raw = p_flt[q, F_DWELL]
                else:
                    raw = slot_value(slot_kind, nat, i, ds, p_key[q], visit, codes.P_DWELL,
                                     emp_values, emp_cum, slot_emp)
                dwell = max(raw, 0.0) * dz_dwell[i, nonneg(p_int[q, I_SEGMENT]), s, tz]
            if has_clock[s] == 0:
                t_out = now + dwell
            else:
                t_out = exit_time(s, now, dwell, speed, cum, D)
            if t_out >= D or visit >= MAX_VISITS:
                o_open[i, s] += 1.0  # it keeps its slot to the end
                if visit >= MAX_VISITS:
                    out_capped[i] += 1.0
                n_free = _release(p_int, free, n_free, q)
            else:
                node_free, seq = events.push(head, e_t, e_int, node_free, cur, seq, t_out,
                                             events.event_id(q, codes.EV_EXIT), 0)

    _keep(sc, seq, n_taken, node_free, cur, n_free)
    return DONE


@njit(cache=True, nogil=True, error_model="numpy")
def _draw(st, pc, dr, pd, out, po, i, root):
    """One draw. Only what involves a pool is an event (entering a pooled stage, leaving it,
    going cold, the start of a day: capacity and arrivals); a prospect's way through stages
    nobody works is followed at once, by the sweep for arrivals and by the event loop's walk
    after a pooled visit, since it touches only order-free aggregates."""
    D, P = st.days, st.n_periods
    S = st.calendar.shape[0]
    E = st.init_stage.shape[0]
    C = st.camp_enters.shape[0]
    NP = pc.n_pools
    day_period, capacity, o_open = st.day_period, pd.capacity, out.open_at_end
    po_busy_area, po_queue_area, po_cap_area = po.busy_area, po.queue_area, po.cap_area
    st_camp_first_day = st.camp_first_day

    pipe = np.zeros((P + 1, S))
    pv_diff = np.zeros(P + 1)
    nur_diff = np.zeros(P + 1)
    (speed, cum, nd_add, lost_add, has_clock,
     r_thr, r_out, r_clip, f_state, fr_route) = draw_tables(st, dr, i)

    # pools: busy and waiting counts, time integrals since the last day boundary
    busy = np.zeros(NP, np.int64)
    cap = np.zeros(NP, np.int64)
    n_wait = np.zeros(NP, np.int64)
    last_t = np.zeros(NP)
    area_busy = np.zeros(NP)
    area_queue = np.zeros(NP)
    for p in range(NP):
        cap[p] = capacity[i, p, 0]
    qcap = 64  # a power of two, doubled as the rings grow (_events masks with qcap - 1)
    q_buf = np.zeros((2 * NP, qcap), np.int64)  # ring buffers: row 2 pool + class
    q_head = np.zeros(2 * NP, np.int64)
    q_len = np.zeros(2 * NP, np.int64)

    # prospects in flight: slots recycled through a free list
    pcap = 1024
    p_key = np.zeros(pcap, np.uint64)
    p_int = np.zeros((pcap, N_INT), np.int64)
    p_flt = np.zeros((pcap, N_FLT))
    free = np.arange(pcap - 1, -1, -1).astype(np.int64)
    n_free = pcap

    # events, ordered by (time, sequence number)
    head, e_t, e_int = events.empty(D, 1024)
    node_free, seq = events.push(head, e_t, e_int, 0, 0, 0, 0.0, events.event_id(0, codes.EV_DAY),
                                 0)
    # the order in which a day's event takes the sources up: the latest to start first, then by
    # source, the order their own events of a day had (each pushed the next day's), which the
    # trace keeps
    first_day = np.zeros(E + C, np.int64)
    first_day[E:] = st_camp_first_day
    src_order = np.argsort(np.arange(E + C) - first_day * (E + C))

    # arrivals through the stages nobody works, to their first pool: a block at a time, as on
    # the fast path, SWEEP_DAYS days at a time as the event loop comes to them; it takes each
    # day's hand-overs up with the day's event
    stop = (pc.stage_pool >= 0).astype(np.int64)
    rec_start = np.zeros(E + C + 1, np.int64)
    rec_int, rec_flt, rec_key = no_records()
    cursor = np.zeros(E + C, np.int64)
    starting = np.zeros(64, np.int64)  # prospects whose pooled visit starts now
    joining = np.zeros(64, np.int64)  # prospects entering a pooled stage now

    sc = np.zeros(N_SC, np.int64)
    _keep(sc, seq, 0, node_free, 0, n_free)
    while True:
        status = _events(st, pc, dr, pd, out, po, i, speed, cum, nd_add, lost_add, has_clock,
                         pipe, pv_diff, nur_diff, r_thr, r_out, r_clip, f_state, busy, cap, n_wait,
                         last_t, area_busy, area_queue, q_buf, q_head, q_len, p_key, p_int, p_flt,
                         free, head, e_t, e_int, rec_start, rec_int, rec_flt, rec_key, cursor,
                         src_order, starting, joining, sc)
        if status == DONE:
            break
        if status == NEED_SWEEP:  # the arrivals of the next days, to their pools
            lo = sc[SC_SWEPT]
            rec_start, rec_int, rec_flt, rec_key = sweep(
                st, dr, out, i, root, speed, cum, nd_add, lost_add, has_clock, r_thr, r_out,
                r_clip, f_state, fr_route, stop, pc.trace_len, pipe, pv_diff, nur_diff, lo,
                lo + SWEEP_DAYS, rec_int, rec_flt, rec_key)
            cursor[:] = rec_start[:E + C]
            sc[SC_SWEPT] = lo + SWEEP_DAYS
            continue
        n_free = sc[SC_FREE]
        n = sc[SC_NEED_P]
        if n > n_free:  # room for n more prospects
            pcap = p_key.shape[0]
            grow = max(pcap, n - n_free)
            p_key = np.concatenate((p_key, np.zeros(grow, np.uint64)))
            p_int = np.concatenate((p_int, np.zeros((grow, N_INT), np.int64)))
            p_flt = np.concatenate((p_flt, np.zeros((grow, N_FLT))))
            free = np.concatenate((free[:n_free], np.arange(pcap + grow - 1, pcap - 1, -1),
                                   np.zeros(pcap, np.int64)))
            sc[SC_FREE] = n_free + grow
        while e_t.shape[0] < sc[SC_NEED_E]:
            e_t, e_int, sc[SC_NODE] = events.grown(e_t, e_int, sc[SC_NODE])
        qcap = q_buf.shape[1]
        if sc[SC_NEED_Q] > qcap:  # the rings, each from its head, into longer rows
            m = 2 * qcap
            while m < sc[SC_NEED_Q]:
                m *= 2
            nb = np.zeros((2 * NP, m), np.int64)
            for rr in range(2 * NP):
                for zz in range(q_len[rr]):
                    nb[rr, zz] = q_buf[rr, (q_head[rr] + zz) % qcap]
                q_head[rr] = 0
            q_buf = nb
        if sc[SC_NEED_W] > starting.shape[0]:
            starting = np.zeros(2 * sc[SC_NEED_W], np.int64)
        if sc[SC_NEED_W] > joining.shape[0]:
            joining = np.zeros(2 * sc[SC_NEED_W], np.int64)
    qcap = q_buf.shape[1]

    # the horizon ends: close the last day, count who is still waiting
    per = day_period[D - 1]
    for p in range(NP):
        _accrue(area_busy, area_queue, last_t, busy, n_wait, p, float(D))
        po_busy_area[i, per, p] += area_busy[p]
        po_queue_area[i, per, p] += area_queue[p]
        po_cap_area[i, per, p] += cap[p]
    for r in range(2 * NP):
        for z in range(q_len[r]):
            q = q_buf[r, (q_head[r] + z) % qcap]
            if p_int[q, I_STATE] == WAITING:
                o_open[i, p_int[q, I_STAGE]] += 1.0
    snapshot(out, i, pipe, pv_diff, nur_diff)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def simulate_capacity_chunk(st, pc, dr, pd, out, po, seed):
    """Simulate every draw of a chunk with pools (in parallel over draws)."""
    root = seed_key(seed)
    for i in prange(dr.draw_ids.shape[0]):
        if dr.failed[i] == 0:
            _draw(st, pc, dr, pd, out, po, i, root)
