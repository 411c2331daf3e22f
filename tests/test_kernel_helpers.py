"""The kernels' shared helpers against independent answers: the event heap against a sort, the
event id packing against its unpacking, the per-draw routing tables (one per friction state)
against routing each visit on its own exit day, exit times against the clock's inverse, and the
sweep's hand-overs to the pools against the unstopped sweep's counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import simengine as se
from simengine import codes
from simengine.compile import compile_scenario
from simengine.engine.chunks import new_out
from simengine.engine.prepare import pool_static, prepare, static_arrays
from simengine.engine.sampling import sample_params
from simengine.kernels import heap
from simengine.kernels.drift import route_visit
from simengine.kernels.rng import seed_key
from simengine.kernels.route import draw_tables
from simengine.kernels.sweep import R_DAY, R_KIND, R_X, sweep

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.yaml"


def test_heap_pops_in_time_then_sequence_order_and_grows():
    rng = np.random.default_rng(3)
    t = rng.integers(0, 40, 700).astype(float) / 4.0  # many ties in time
    h_t, h_int = heap.empty(16)
    n, seq = 0, 0
    for k in range(len(t)):
        if n == h_t.shape[0]:
            h_t, h_int = heap.grown(h_t, h_int)
        n, seq = heap.push(h_t, h_int, n, seq, t[k], k, -k)
    got = []
    while n:
        got.append((h_t[0], h_int[0, heap.SEQ], h_int[0, heap.ID], h_int[0, heap.AUX]))
        n = heap.pop(h_t, h_int, n)
    order = sorted(range(len(t)), key=lambda k: (t[k], k))
    assert [g[1] for g in got] == order
    assert [g[2] for g in got] == order and [g[3] for g in got] == [-k for k in order]
    assert h_t.shape[0] >= len(t)


def test_heap_put_while_handling_keeps_the_order_of_pop_then_push():
    """Events handled as the kernel handles them (the earliest stays at the top while it is
    handled; the events it causes are ``put``, the first in its place) come out in the order of
    a heap that pops first and pushes after: Python's heapq on (time, sequence number)."""
    import heapq

    rng = np.random.default_rng(8)
    h_t, h_int = heap.empty(4)
    n, seq = 0, 0
    ref, got, want = [], [], []
    for k in range(40):
        t = float(rng.integers(0, 10))
        if n == h_t.shape[0]:
            h_t, h_int = heap.grown(h_t, h_int)
        n, seq = heap.push(h_t, h_int, n, seq, t, k, 0)
        heapq.heappush(ref, (t, k))
    while n:
        t_now, s_now = h_t[0], int(h_int[0, heap.SEQ])
        got.append((t_now, s_now))
        want.append(heapq.heappop(ref))
        popped = False
        for _ in range(int(rng.integers(0, 3)) if seq < 2000 else 0):  # 0, 1 or 2 new events
            t = t_now + float(rng.integers(0, 4)) / 2.0  # ties with the present and each other
            while n + 1 >= h_t.shape[0]:
                h_t, h_int = heap.grown(h_t, h_int)
            heapq.heappush(ref, (t, seq))
            n, seq, popped = heap.put(h_t, h_int, n, seq, popped, t, seq, 0)
        if not popped:
            n = heap.pop(h_t, h_int, n)
    assert got == want and len(got) > 1000


def test_event_ids_unpack():
    for obj in (0, 1, 12345, 2**40):
        for kind in (codes.EV_BATCH, codes.EV_ENTER, codes.EV_EXIT, codes.EV_ABANDON,
                     codes.EV_DAY):
            ident = heap.event_id(obj, kind)
            assert heap.event_obj(ident) == obj and heap.event_kind(ident) == kind


def test_friction_state_tables_route_as_each_exit_day_does():
    sc = se.load_scenario(BASELINE, ["friction.recession.probability=1"])
    cs = compile_scenario(sc)
    st = static_arrays(cs)
    ids = np.arange(2, dtype=np.int64)
    dr = prepare(cs, sample_params(cs.params, 5, ids), 5, ids)
    S, D = cs.n_stages, cs.grid.days
    R, G = dr.quality.shape[1], cs.camp_mix_cum.shape[1]
    u = np.random.default_rng(0).random(8)
    for i in range(len(ids)):
        (_, _, nd_add, lost_add, _,
         thr, r_out, r_clip, f_state, fr_route) = draw_tables(st, dr, i)
        assert fr_route.sum() == 2 and f_state.max() >= 2  # two windows on two stages
        for s in range(S):
            for d in range(0, D, 13):
                fs = f_state[s, d]
                for rc in range(R):
                    for g in range(G):
                        for x in u:
                            want = route_visit(st, dr, i, rc, g, s, 0, d, x, nd_add, lost_add)
                            j = int(np.sum(x >= thr[rc, g, s, fs, :cs.n_next[s] + 2]))
                            assert (r_out[s, j], r_clip[rc, g, s, fs]) == want


def test_exit_time_is_the_clock_inverse():
    """A visit's exit is where ``dwell`` units of the stage clock have passed since entry: the
    first day whose cumulative clock passes the target (numpy's searchsorted), plus the rest at
    that day's speed; past the horizon the clock runs at speed 1. Speeds as calendars and
    friction make them: steady, monthly steps, a slow window and paused days."""
    from simengine.kernels.clock import exit_time

    D = 120
    rng = np.random.default_rng(11)
    speeds = np.ones((4, D))
    speeds[1] = np.repeat([0.8, 0.9, 1.3, 0.8], 30)
    speeds[2, 40:70] = 1 / 1.5
    speeds[3, 10:25] = 0.0
    speeds[3, 60:] = 2.0
    cum = np.zeros((4, D + 1))
    cum[:, 1:] = np.cumsum(speeds, axis=1)
    for s in range(4):
        for t, dwell in zip(rng.uniform(0, D, 400), rng.exponential(20, 400), strict=True):
            day = int(t)
            target = cum[s, day] + speeds[s, day] * (t - day) + dwell
            if target >= cum[s, D]:
                want = D + (target - cum[s, D])
            else:
                lo = int(np.searchsorted(cum[s, 1:], target, side="right"))
                want = lo + (target - cum[s, lo]) / speeds[s, lo]
            assert exit_time(s, t, dwell, speeds, cum, D) == want


def _baseline_draws(seed, n):
    """The baseline compiled, ``n`` draws' parameters, its pooled stages as the capacity path
    stops the sweep at them, and the run's root key."""
    cs = compile_scenario(se.load_scenario(BASELINE))
    st = static_arrays(cs)
    ids = np.arange(n, dtype=np.int64)
    dr = prepare(cs, sample_params(cs.params, seed, ids), seed, ids)
    pooled = (pool_static(cs).stage_pool >= 0).astype(np.int64)
    return cs, st, dr, pooled, seed_key(np.uint64(seed))


def _sweep(cs, st, dr, out, i, root, stop, lo, hi):
    """Draw ``i``'s arrivals of days ``lo`` to ``hi - 1`` swept into ``out``; its records."""
    P, S = st.n_periods, cs.n_stages
    return sweep(st, dr, out, i, root, *draw_tables(st, dr, i), stop, 0, np.zeros((P + 1, S)),
                 np.zeros(P + 1), np.zeros(P + 1), lo, hi)


def test_sweep_hands_each_arrival_to_its_first_pool():
    """Stopped at the pooled stages, the sweep hands over exactly the prospects that reach one,
    at the stage they reach first: a campaign entering at inquiry, as many at sal as the
    unstopped sweep (the fast path) counts reaching sal from it (the way there is the same
    numbers either way); a campaign or open-pipeline entry at a pooled stage, all its prospects
    there. Stages before any pool are counted as the unstopped sweep counts them, and a
    source's records come in its order of days."""
    cs, st, dr, pooled, root = _baseline_draws(5, 3)
    S, D = cs.n_stages, cs.grid.days
    E, C = len(cs.init_stage), len(cs.camp_enters)
    sal, early = cs.stage_names.index("sal"), [cs.stage_names.index(n) for n in ("inquiry", "mql")]
    for i in range(3):
        runs = []
        for stop in (np.zeros(S, np.int64), pooled):
            out = new_out(cs, 3)
            runs.append((out, _sweep(cs, st, dr, out, i, root, stop, 0, D)))
        (free, _), (out, (start, r_int, r_flt, _)) = runs
        np.testing.assert_array_equal(out.reached[i][:, early], free.reached[i][:, early])
        for src in range(E + C):
            kinds = r_int[start[src]:start[src + 1], R_KIND]
            days = r_int[start[src]:start[src + 1], R_DAY]
            x = r_flt[start[src]:start[src + 1], R_X]
            if src < E:
                want, at = dr.init_count[i, src], cs.init_stage[src]
            elif pooled[cs.camp_enters[src - E]]:
                want, at = free.arrivals[i, :, src - E].sum(), cs.camp_enters[src - E]
            else:
                want, at = free.reached[i, src - E, sal], sal
            assert len(kinds) == want > 0 and (kinds == at).all()
            assert (np.diff(days) >= 0).all() and (x >= days).all() and (x < D).all()


def test_sweep_by_windows_of_days_hands_over_as_one_sweep():
    """The capacity path sweeps a few weeks of arrivals at a time: windows of days together
    give one sweep's hand-overs (the same prospects, in each source's order, at the same times)
    and its counts."""
    cs, st, dr, pooled, root = _baseline_draws(9, 2)
    D, E, C = cs.grid.days, len(cs.init_stage), len(cs.camp_enters)
    i = 1

    def run(windows):
        out = new_out(cs, 2)
        per_src = [[] for _ in range(E + C)]
        for lo, hi in windows:
            start, r_int, r_flt, _ = _sweep(cs, st, dr, out, i, root, pooled, lo, hi)
            for src in range(E + C):
                rows = slice(start[src], start[src + 1])
                per_src[src].append(np.column_stack((r_int[rows, R_KIND], r_int[rows, R_DAY],
                                                     r_flt[rows, R_X])))
        return out, [np.concatenate(x) for x in per_src]

    one, recs = run([(0, D)])
    many, recs_w = run([(lo, lo + 28) for lo in range(0, D + 28, 28)])
    for a, b in zip(recs, recs_w, strict=True):
        np.testing.assert_array_equal(a, b)
    for name in ("arrivals", "initial", "entered", "reached", "exited_lost", "stage_exits"):
        np.testing.assert_array_equal(getattr(one, name)[i], getattr(many, name)[i], name)
    assert sum(len(r) for r in recs) > 1000
