"""Tallies both kernels keep the same way: the end-of-draw snapshots and a stage visit's end."""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def snapshot(out, i, pipe, pv_diff, nur_diff):
    """End-of-period pipeline (per stage), pipeline value and nurture of draw ``i`` from their
    difference arrays (``pipe[p, s]``, ``pv_diff[p]``, ``nur_diff[p]``: changes that take effect
    at the end of period p)."""
    P, S = out.pipeline.shape[1], out.pipeline.shape[2]
    run_pv = 0.0
    run_nur = 0.0
    for p in range(P):
        run_pv += pv_diff[p]
        run_nur += nur_diff[p]
        out.pipeline_value[i, p] = run_pv
        out.nurture[i, p] = run_nur
        for s in range(S):
            out.pipeline[i, p, s] = pipe[p, s] + (out.pipeline[i, p - 1, s] if p > 0 else 0.0)
