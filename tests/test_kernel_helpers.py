"""The kernels' shared helpers against independent answers: the event list against a sort and
heapq, borrowed arrays against their owners, the event id packing against its unpacking, the
per-draw routing tables (one per friction state) against routing each visit on its own exit
day, exit times against the clock's inverse, and the sweep's hand-overs to the pools against the
unstopped sweep's counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import simengine as se
from simengine import codes
from simengine.compile import compile_scenario
from simengine.engine.chunks import new_out
from simengine.engine.prepare import pool_static, prepare, static_arrays
from simengine.engine.sampling import sample_params
from simengine.kernels import events
from simengine.kernels.drift import route_visit
from simengine.kernels.rng import seed_key
from simengine.kernels.route import draw_tables
from simengine.kernels.sweep import R_DAY, R_KIND, R_X, no_records, sweep

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.yaml"


def _push(q, t, ident, aux):
    """Push onto the event list ``q`` (a dict of its arrays and scalars), growing it if full;
    returns the event's node."""
    if q["free"] < 0:
        q["e_t"], q["e_int"], q["free"] = events.grown(q["e_t"], q["e_int"], q["free"])
    node = q["free"]
    q["free"], q["seq"] = events.push(q["head"], q["e_t"], q["e_int"], q["free"], q["cur"],
                                      q["seq"], t, ident, aux)
    return node


def _pop(q):
    """The earliest event of ``q`` as (time, sequence number, id, aux), taken off the list."""
    q["cur"] = events.first(q["head"], q["cur"])
    node = q["head"][q["cur"]]
    got = (q["e_t"][node], int(q["e_int"][node, events.SEQ]), int(q["e_int"][node, events.ID]),
           int(q["e_int"][node, events.AUX]))
    q["free"] = events.pop(q["head"], q["e_int"], q["cur"], q["free"])
    return got


def _event_list(days, capacity):
    head, e_t, e_int = events.empty(days, capacity)
    return {"head": head, "e_t": e_t, "e_int": e_int, "free": 0, "cur": 0, "seq": 0}


def test_event_list_pops_in_time_then_sequence_order_and_grows():
    rng = np.random.default_rng(3)
    t = rng.integers(0, 40, 700).astype(float) / 4.0  # many ties in time, some past the horizon
    q = _event_list(8, 16)
    for k in range(len(t)):
        _push(q, t[k], k, -k)
    got = [_pop(q) for _ in range(len(t))]
    order = sorted(range(len(t)), key=lambda k: (t[k], k))
    assert [g[1] for g in got] == order
    assert [g[2] for g in got] == order and [g[3] for g in got] == [-k for k in order]
    assert [g[0] for g in got] == sorted(t)
    assert q["e_t"].shape[0] >= len(t)


def test_event_list_handled_as_the_kernel_does_matches_heapq():
    """Events handled as the kernel handles them (take the earliest, then add the 0, 1 or 2
    events it causes, at or after its time, 1.2 on average, and now and then remove one that
    waits, as a prospect's wait that ends removes its event of going cold) come out in the order
    of Python's heapq on (time, sequence number), ties in time included, within the horizon and
    past it."""
    import heapq

    rng = np.random.default_rng(8)
    q = _event_list(8, 4)
    ref, got, want, node_of = [], [], [], {}
    for k in range(40):
        t = float(rng.integers(0, 10))
        seq = q["seq"]
        heapq.heappush(ref, (t, seq))
        node_of[seq] = _push(q, t, k, 0)
    removed = 0
    while ref:
        t_now, s_now, _, _ = _pop(q)
        got.append((t_now, s_now))
        want.append(heapq.heappop(ref))
        for _ in range(int(rng.choice(3, p=[0.2, 0.4, 0.4])) if q["seq"] < 3000 else 0):
            t = t_now + float(rng.integers(0, 4)) / 2.0 + float(rng.integers(0, 2)) / 64.0
            seq = q["seq"]
            heapq.heappush(ref, (t, seq))
            node_of[seq] = _push(q, t, seq, 0)
        if len(ref) > 1 and rng.random() < 0.2:  # one that waits, the earliest included
            gone = ref.pop(int(rng.integers(0, len(ref))))
            heapq.heapify(ref)
            q["free"] = events.remove(q["head"], q["e_int"], node_of[gone[1]], q["free"])
            removed += 1
    assert got == want and len(got) > 1000 and removed > 100
    assert want[-1][0] > 8  # past the horizon too


def test_borrowed_arrays_read_and_write_the_owners_data():
    from numba import njit

    from simengine.kernels.borrow import borrowed

    @njit
    def twice_through_a_borrowed_view(a, rows):
        b = borrowed(a)
        for r in range(rows):
            for j in range(b.shape[1]):
                b[r, j] *= 2.0
        return b.sum(), b.shape[0], b.strides[0]

    a = np.arange(12.0).reshape(3, 4)
    total, n, stride = twice_through_a_borrowed_view(a, 2)
    assert a.tolist() == [[0, 2, 4, 6], [8, 10, 12, 14], [8, 9, 10, 11]]
    assert (total, n, stride) == (a.sum(), 3, a.strides[0])
    col = a[:, 1:2]  # not contiguous
    want = 2 * col.sum()
    assert twice_through_a_borrowed_view(col, 3)[0] == want and a[:, 1].tolist() == [4, 20, 18]


def test_nonneg_indexes_as_before_and_drops_the_negative_index_correction():
    """An index marked not negative reads the same element, and the compiled function keeps no
    test of its sign (numba's correction for a negative index, which the unmarked one keeps)."""
    from numba import njit

    from simengine.kernels.known import nonneg

    @njit
    def marked(a, i):
        return a[nonneg(i)]

    @njit
    def unmarked(a, i):
        return a[i]

    a = np.arange(10.0) * 3.0
    assert [marked(a, i) for i in (0, 9, 4)] == [0.0, 27.0, 12.0]
    assert [unmarked(a, i) for i in (0, 9, 4, -1)] == [0.0, 27.0, 12.0, 27.0]
    body = {f: f.inspect_llvm(f.signatures[0]).split("define ")[1].split("\n}")[0]
            for f in (marked, unmarked)}
    assert "icmp slt i64 %arg.i, 0" in body[unmarked]
    assert "icmp" not in body[marked] and "select" not in body[marked]


def test_event_ids_unpack():
    for obj in (0, 1, 12345, 2**40):
        for kind in (codes.EV_ENTER, codes.EV_EXIT, codes.EV_ABANDON, codes.EV_DAY):
            ident = events.event_id(obj, kind)
            assert events.event_obj(ident) == obj and events.event_kind(ident) == kind


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


def _sweep(cs, st, dr, out, i, root, stop, lo, hi, records=None):
    """Draw ``i``'s arrivals of days ``lo`` to ``hi - 1`` swept into ``out``; its records
    (written over ``records``, the arrays of an earlier window, where given)."""
    P, S = st.n_periods, cs.n_stages
    if records is None:
        records = no_records()
    return sweep(st, dr, out, i, root, *draw_tables(st, dr, i), stop, 0, np.zeros((P + 1, S)),
                 np.zeros(P + 1), np.zeros(P + 1), lo, hi, *records)


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
    """The capacity path sweeps a few weeks of arrivals at a time, each window's records
    written over the last one's: windows of days together give one sweep's hand-overs (the same
    prospects, in each source's order, at the same times) and its counts."""
    cs, st, dr, pooled, root = _baseline_draws(9, 2)
    D, E, C = cs.grid.days, len(cs.init_stage), len(cs.camp_enters)
    i = 1

    def run(windows):
        out = new_out(cs, 2)
        per_src = [[] for _ in range(E + C)]
        records = None
        for lo, hi in windows:
            start, *records = _sweep(cs, st, dr, out, i, root, pooled, lo, hi, records)
            r_int, r_flt = records[0], records[1]
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
