"""The fast path: prospects are independent, so each draw's arrivals are followed from arrival
to exit without an event queue, a block of prospects at a time, one stage at a time
(:mod:`sweep`).

Inputs are three namedtuples of arrays: ``Static`` (the compiled scenario), ``Draws`` (per-draw
parameters of one chunk, first axis = draw in chunk) and ``Out`` (aggregates of the chunk, first
axis = draw in chunk, filled in place). Draws run in parallel with ``prange``; each draw is
computed by one thread in a fixed order, so results do not depend on the number of threads.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange, uint64

from simengine import codes
from simengine.kernels.outputs import FUNNEL, names
from simengine.kernels.rng import counter, derive, draw_key, seed_key, uniform
from simengine.kernels.route import draw_tables
from simengine.kernels.sweep import no_records, sweep
from simengine.kernels.tally import snapshot

Static = namedtuple("Static", [
    "days", "n_periods", "day_period", "first_end_after",
    "slot_kind", "emp_values", "emp_cum", "slot_emp",
    "dwell_slot", "next_target", "n_next", "has_recycle", "rc_to", "delay_slot",
    "in_pipeline_value", "calendar",
    "value_slot",
    "camp_enters", "camp_shape", "camp_first_day", "camp_last_day", "camp_mix_cum", "camp_key",
    "init_stage", "init_key",
    "fr_stages",
    "rt_mode", "dw_mode", "rt_stages", "rt_index", "dz_slots",
])

Draws = namedtuple("Draws", [
    "draw_ids", "failed", "nat", "p_next", "p_nd", "p_rc", "adv", "dwell_mult",
    "volume", "quality",
    "fr_on", "fr_start", "fr_end", "fr_dwell", "fr_nd", "fr_lost",
    "init_count", "init_offset", "init_seg", "init_residual",
    "dz_next", "dz_nd", "dz_rc", "dz_adv", "dz_quality", "dz_dwell", "vol_mult",
])

Out = namedtuple("Out", names(FUNNEL))  # what each field holds: kernels/outputs.py


@njit(cache=True, nogil=True, error_model="numpy")
def _draw(st, dr, out, i, root):
    """One draw: every arrival swept through every stage (:func:`sweep.sweep`), then the
    end-of-period snapshots."""
    P, S = st.n_periods, st.calendar.shape[0]
    pipe = np.zeros((P + 1, S))
    pv_diff = np.zeros(P + 1)
    nur_diff = np.zeros(P + 1)
    (speed, cum, nd_add, lost_add, has_clock,
     route, r_out, r_clip, f_state, fr_route) = draw_tables(st, dr, i)
    rec_int, rec_flt, rec_key = no_records()
    sweep(st, dr, out, i, root, speed, cum, nd_add, lost_add, has_clock, route, r_out, r_clip,
          f_state, fr_route, np.zeros(S, np.int64), 0, pipe, pv_diff, nur_diff, 0, st.days,
          rec_int, rec_flt, rec_key)
    snapshot(out, i, pipe, pv_diff, nur_diff)


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
