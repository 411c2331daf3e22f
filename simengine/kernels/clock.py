"""Stage clocks: how fast a stage's dwell time passes on each day of a draw.

A stage's clock runs at its calendar speed (``calendar:``) divided by the dwell factor of every
friction window open that day; the no-decision and lost shares the windows add are tabulated
alongside for the routing. Both kernels build the tables once per draw (:func:`stage_clocks`)
and find when a visit ends with :func:`exit_time`.
"""

from __future__ import annotations

from numba import njit

from simengine.kernels.known import nonneg


@njit(cache=True, nogil=True, error_model="numpy")
def stage_clocks(st, dr, i, speed, cum, nd_add, lost_add, has_clock):
    """Per-draw stage clocks: calendar speed times the friction windows active in this draw.

    Fills ``speed[s, d]``, its running sum ``cum[s, :D + 1]``, the friction's added shares
    ``nd_add[s, d]`` and ``lost_add[s, d]``, and ``has_clock[s]`` (1 where some day's speed is
    not 1, so a visit's end needs the clock).
    """
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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def exit_time(s, t, dwell, speed, cum, D):
    """Time at which ``dwell`` units of stage ``s``'s clock have passed since ``t``."""
    day = nonneg(int(t))  # entry times are never negative
    if day >= D:
        return t + dwell
    target = cum[s, day] + speed[s, day] * (t - day) + dwell
    if target >= cum[s, D]:
        return D + (target - cum[s, D])
    # the exit day is the first lo >= day with cum[s, lo + 1] > target: guessed from the entry
    # day's speed (right while the speed holds; the guess's neighbours are probed first), then
    # bisected on the side of the guess it lies on
    v = speed[s, day]
    g = day
    if v > 0.0:
        ahead = (target - cum[s, day]) / v  # clipped as a float: a tiny speed must not overflow
        g = D - 1 if ahead >= D - 1 - day else day + int(ahead)
    if cum[s, g + 1] <= target:
        lo, hi = g + 1, D - 1
        if cum[s, lo + 1] > target:
            hi = lo
    elif cum[s, g] > target:
        lo, hi = day, g - 1
        if cum[s, hi] <= target:
            lo = hi
    else:
        lo = hi = g
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[s, mid + 1] > target:
            hi = mid
        else:
            lo = mid + 1
    return lo + (target - cum[s, lo]) / speed[s, lo]
