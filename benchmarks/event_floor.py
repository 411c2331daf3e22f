"""What one event of the capacity path costs, by itself (not pytest).

    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/event_floor.py [LIVE] [MEAN_DAYS]

A draw of the capacity path's calendar queue (:mod:`simengine.kernels.events`) without a
simulation around it: ``LIVE`` events (default 1,000) on a 365-day horizon, each taken off and
pushed again ``MEAN_DAYS`` later on average (exponential, default 16.6 days), which is about the
22,000 events of a baseline draw. Printed: nanoseconds per event (one push and one pop) in one
thread, best of 5 rounds of 64 draws, less the cost of drawing the times (measured alone), and
what that alone costs a chunk of 64 baseline draws at the given number of events a draw.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from numba import njit, uint64

from simengine import codes
from simengine.kernels import events

DRAWS = 64
ROUNDS = 5
DAYS = 365


@njit(cache=True, inline="always")
def _exponential(state, mean):
    """An exponential time from a xorshift64* generator: ``(value, state)``."""
    state ^= state >> uint64(12)
    state ^= state << uint64(25)
    state ^= state >> uint64(27)
    u = (float((state * uint64(2685821657736338717)) >> uint64(11)) + 0.5) * 2.0 ** -53
    return -mean * np.log(u), state


@njit(cache=True)
def _calendar(draws, live, mean):
    """Events taken off the list over ``draws`` draws (each re-pushed until the horizon)."""
    taken_all = 0
    state = uint64(88172645463325252)
    for _ in range(draws):
        head, e_t, e_int = events.empty(DAYS, 2 * live)
        free, seq, cur, taken = 0, 0, 0, 0
        for k in range(live):
            t, state = _exponential(state, mean)
            if t < DAYS:
                free, seq = events.push(head, e_t, e_int, free, 0, seq, t,
                                        events.event_id(k, codes.EV_EXIT), 0)
        while seq > taken:
            cur = events.first(head, cur)
            top = head[cur]
            now = e_t[top]
            ident = e_int[top, events.ID]
            free = events.pop(head, e_int, cur, free)
            taken += 1
            dt, state = _exponential(state, mean)
            if now + dt < DAYS:
                free, seq = events.push(head, e_t, e_int, free, cur, seq, now + dt, ident, 0)
        taken_all += taken
    return taken_all


@njit(cache=True)
def _times_only(n, mean):
    """The same number of times drawn, without the list: the cost to take off."""
    state = uint64(88172645463325252)
    s = 0.0
    for _ in range(n):
        dt, state = _exponential(state, mean)
        s += dt
    return s


def best(fn, *args) -> float:
    out = []
    for _ in range(ROUNDS):
        c0 = time.process_time()
        fn(*args)
        out.append(time.process_time() - c0)
    return min(out)


def main() -> None:
    live = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    mean = float(sys.argv[2]) if len(sys.argv) > 2 else 16.6
    _calendar(1, live, mean)  # compile
    _times_only(10, mean)
    n = _calendar(DRAWS, live, mean)
    t_list = best(_calendar, DRAWS, live, mean)
    t_times = best(_times_only, n, mean)
    ns = (t_list - t_times) / n * 1e9
    per_draw = n / DRAWS
    print(f"{live} live events, {mean:g} days between an event and the next: {per_draw:,.0f} "
          f"events a draw")
    print(f"one event (push + pop): {ns:.0f} ns (list {t_list / n * 1e9:.0f} ns, "
          f"drawing its time {t_times / n * 1e9:.0f} ns)")
    print(f"the events alone, {DRAWS} draws: {(t_list - t_times):.3f} CPU s")


if __name__ == "__main__":
    main()
