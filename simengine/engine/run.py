"""Run a compiled scenario: check the run's size, split draws into chunks, call the kernel.

Each chunk's parameters are sampled by draw number, so a draw's result does not depend on the
chunk it falls in, on the number of threads or on the backend.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numba
import numpy as np

from simengine.compile import Compiled
from simengine.engine.prepare import pool_draws, pool_static, prepare, static_arrays, volumes
from simengine.engine.sampling import check_sampling, sample_params
from simengine.errors import RunSizeError, SimEngineError
from simengine.kernels.capacity import PoolOut, simulate_capacity_chunk
from simengine.kernels.funnel import Out, simulate_chunk

# Planning figures for the size check (deliberately conservative, measured on 2 cores).
PROSPECTS_PER_SECOND_PER_CORE = 5e6
MAX_SECONDS = 3600.0


@dataclass
class RawResult:
    """What the kernels computed, as plain arrays with the draw axis first."""

    compiled: Compiled
    seed: int
    draws: int
    out: Out
    theta: np.ndarray  # (draws, columns)
    failed: np.ndarray  # (draws,) bool
    fr_on: np.ndarray  # (draws, F) bool
    elapsed: float
    pools: PoolOut | None = None  # capacity path only
    capacity: np.ndarray | None = None  # (draws, P, NP) mean slots per day in each period
    headcount: np.ndarray | None = None  # (draws, P, NP) mean reps on the books
    first_draw: int = 0  # draw number of the first row


def out_shapes(cs: Compiled, n: int) -> dict[str, tuple[int, ...]]:
    P, S, C, G = cs.grid.periods, cs.n_stages, cs.n_campaigns + 1, len(cs.segment_names)
    shp = {
        "revenue": (n, P), "won": (n, P), "arrivals": (n, P, C), "entered": (n, P, S),
        "exited_lost": (n, P, S), "exited_no_decision": (n, P, S), "recycled": (n, P, S),
        "pipeline": (n, P, S), "pipeline_value": (n, P), "nurture": (n, P),
        "reached": (n, C, S), "revenue_by_campaign": (n, C), "won_by_campaign": (n, C),
        "revenue_by_segment": (n, G), "stage_time": (n, S), "stage_exits": (n, S),
        "open_at_end": (n, S), "cycle_time_sum": (n,), "cycle_time_n": (n,),
        "clipped": (n, S), "initial": (n, S), "capped": (n,),
    }
    assert set(shp) == set(Out._fields)
    return shp


def pool_shapes(cs: Compiled, n: int, trace: int) -> dict[str, tuple[int, ...]]:
    P, NP = cs.grid.periods, len(cs.pool_names)
    shp = {
        "wait_sum": (n, NP, 2), "wait_n": (n, NP, 2), "waited": (n, NP),
        "abandoned": (n, P, NP), "busy_area": (n, P, NP), "cap_area": (n, P, NP),
        "queue_area": (n, P, NP), "trace": (n, max(trace, 0), 3), "trace_n": (n,),
    }
    assert set(shp) == set(PoolOut._fields)
    return shp


def uses_capacity(cs: Compiled) -> bool:
    """The capacity path runs when some stage is worked by a pool."""
    return bool(len(cs.stage_pool) and cs.stage_pool.max() >= 0)


def expected_prospects(cs: Compiled, draws: int = 256) -> float:
    """Expected prospects per draw (campaign volumes in the horizon plus the open pipeline),
    averaged over sampled parameters: budget / cost per lead is not budget / mean cost."""
    theta = sample_params(cs.params, 0, np.arange(draws, dtype=np.int64))
    vol = volumes(cs, theta).mean(axis=0) * cs.camp_shape.sum(axis=1)
    initial = theta[:, cs.init_count_col].sum(axis=1).mean() if len(cs.init_count_col) else 0.0
    return float(vol.sum() + initial)


def check_size(cs: Compiled, draws: int, threads: int, memory_bytes: int | None = None,
               max_seconds: float = MAX_SECONDS, in_memory: bool = True) -> None:
    """Refuse a run that cannot fit in memory or in ``max_seconds``; say what would fit.

    ``in_memory=False``: the results are streamed to a store, only the time counts.
    """
    if draws < 1:
        raise RunSizeError(f"draws: expected at least 1, found {draws}")
    per_draw = sum(int(np.prod(s[1:])) for s in out_shapes(cs, 1).values()) * 8 * 2
    per_draw += len(cs.params.paths) * 8
    mem = memory_bytes or _physical_memory()
    budget = 0.5 * mem
    if in_memory and per_draw * draws > budget:
        fit = int(budget // per_draw)
        raise RunSizeError(
            f"run too large for memory: {draws:,} draws need about "
            f"{per_draw * draws / 2**30:.1f} GiB of results, more than half of this machine's "
            f"{mem / 2**30:.0f} GiB; at most {fit:,} draws fit (or stream them to a store: "
            f"-o OUT.zarr, or use fewer periods)")
    prospects = expected_prospects(cs)
    if not np.isfinite(prospects):
        raise RunSizeError("run too long: the expected number of prospects per draw is not "
                           "finite (a cost per lead or another denominator near 0?)")
    seconds = prospects * draws / (PROSPECTS_PER_SECOND_PER_CORE * max(threads, 1))
    if seconds > max_seconds:
        fit = max(1, int(max_seconds * PROSPECTS_PER_SECOND_PER_CORE * threads / max(prospects,
                                                                                    1)))
        raise RunSizeError(
            f"run too long: {draws:,} draws of about {prospects:,.0f} prospects each would take "
            f"about {seconds / 3600:.1f} h on {threads} core(s) (planning at "
            f"{PROSPECTS_PER_SECOND_PER_CORE:.0e} prospects/s per core), over the limit of "
            f"{max_seconds / 60:.0f} min; at most {fit:,} draws fit")


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[int]:
    before = numba.get_num_threads()
    n = before if n is None else max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(before)


def chunk_ranges(first: int, draws: int, chunk: int) -> list[tuple[int, int]]:
    """``[(lo, hi), ...]``: draws ``first .. first + draws - 1`` in chunks of ``chunk``."""
    return [(lo, min(lo + chunk, first + draws)) for lo in range(first, first + draws, chunk)]


def default_chunk(cores: int) -> int:
    return max(8 * cores, 64)


def simulate_draws(cs: Compiled, seed: int, lo: int, hi: int, *,
                   given: dict[int, np.ndarray] | None = None, sampling: str = "random",
                   trace: int = 0, out: Out | None = None, pools: PoolOut | None = None,
                   st=None, pst=None) -> RawResult:
    """Draws ``lo .. hi - 1``: sample their parameters, prepare the arrays, one kernel call.

    The unit of work of every backend. ``out`` / ``pools`` are views of preallocated arrays to
    fill (the threads backend); without them the chunk's own arrays are allocated (a Dask task,
    a streamed chunk). ``given`` holds the given columns' values for these draws only.
    """
    n = hi - lo
    ids = np.arange(lo, hi, dtype=np.int64)
    st = static_arrays(cs) if st is None else st
    if out is None:
        out = Out(**{k: np.zeros(s) for k, s in out_shapes(cs, n).items()})
    t0 = time.perf_counter()
    th = sample_params(cs.params, seed, ids, given, sampling)
    dr = prepare(cs, th, seed, ids)
    cap_p = heads_p = None
    if uses_capacity(cs):
        pst = pool_static(cs, trace) if pst is None else pst
        if pools is None:
            pools = PoolOut(**{k: np.zeros(s) for k, s in pool_shapes(cs, n, trace).items()})
        pdr, heads = pool_draws(cs, th, seed, ids)
        simulate_capacity_chunk(st, pst, dr, pdr, out, pools, np.int64(seed))
        NP = len(cs.pool_names)
        cap_p = np.zeros((n, cs.grid.periods, NP))
        heads_p = np.zeros((n, cs.grid.periods, NP))
        bounds = np.concatenate([[0], cs.grid.period_end_day])
        for p_i in range(cs.grid.periods):  # row-wise means: chunking cannot matter
            days = slice(bounds[p_i], bounds[p_i + 1])
            cap_p[:, p_i] = pdr.capacity[:, :, days].mean(axis=2)
            heads_p[:, p_i] = heads[:, :, days].mean(axis=2)
    else:
        pools = None
        simulate_chunk(st, dr, out, np.int64(seed))
    return RawResult(cs, int(seed), n, out, th, dr.failed.astype(bool), dr.fr_on.astype(bool),
                     time.perf_counter() - t0, pools, cap_p, heads_p, first_draw=lo)


def concat_raw(parts: list[RawResult]) -> RawResult:
    """One result of consecutive parts (sorted by their first draw)."""
    parts = sorted(parts, key=lambda r: r.first_draw)
    for a, b in zip(parts, parts[1:], strict=False):
        if a.first_draw + a.draws != b.first_draw:
            raise ValueError(f"parts not consecutive: {a.first_draw}+{a.draws} then "
                             f"{b.first_draw}")
    if len(parts) == 1:
        return parts[0]
    r0 = parts[0]

    def cat(get):
        return np.concatenate([get(r) for r in parts])

    pools = None if r0.pools is None else PoolOut(*(
        np.concatenate([r.pools[k] for r in parts]) for k in range(len(r0.pools))))
    return RawResult(
        r0.compiled, r0.seed, sum(r.draws for r in parts),
        Out(*(np.concatenate([r.out[k] for r in parts]) for k in range(len(r0.out)))),
        cat(lambda r: r.theta), cat(lambda r: r.failed), cat(lambda r: r.fr_on),
        sum(r.elapsed for r in parts), pools,
        None if r0.capacity is None else cat(lambda r: r.capacity),
        None if r0.headcount is None else cat(lambda r: r.headcount),
        first_draw=r0.first_draw)


def _given_slice(given: dict[int, np.ndarray] | None, a: int, b: int):
    return {j: v[a:b] for j, v in given.items()} if given else None


def _check_run(seed, chunk_draws) -> None:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SimEngineError(f"seed: expected a non-negative integer, found {seed!r}")
    if chunk_draws and int(chunk_draws) < 1:
        raise SimEngineError(f"chunk_draws: expected at least 1, found {chunk_draws}")


def run(cs: Compiled, draws: int, seed: int, *, chunk_draws: int | None = None,
        threads: int | None = None, given: dict[int, np.ndarray] | None = None,
        on_chunk: Callable[[int], None] | None = None,
        max_seconds: float = MAX_SECONDS, trace: int = 0, first_draw: int = 0,
        sampling: str = "random", backend="threads", scheduler=None) -> RawResult:
    """Simulate draws ``first_draw .. first_draw + draws - 1`` of a compiled scenario.

    Parameters
    ----------
    given
        ``{parameter column: values for all draws of this call}`` to set instead of sampling.
    on_chunk
        Called with the number of draws finished after each chunk (progress bars).
    first_draw
        Number of the first draw: a run of draws 0..999 equals runs of 0..599 and 600..999.
    sampling
        ``"random"``, ``"lhs"`` or ``"sobol"`` per-draw parameters (:mod:`.sampling`).
    backend, scheduler
        ``"threads"`` (numba threads in this process) or ``"dask"`` (each chunk one task on a
        ``distributed`` cluster: ``scheduler`` is its address or a ``Client``, none starts a
        ``LocalCluster``); or a backend object from :func:`simengine.engine.backends.open_backend`.
        Every backend gives the same bits.
    """
    _check_run(seed, chunk_draws)
    check_sampling(sampling)
    if not (isinstance(backend, str) and backend == "threads"):
        from simengine.engine.backends import open_backend

        with open_backend(backend, scheduler, threads) as be:
            check_size(cs, draws, be.cores, max_seconds=max_seconds)
            chunk = int(chunk_draws or default_chunk(be.cores))
            t0 = time.perf_counter()
            parts = []
            for part in be.map_chunks(cs, seed, chunk_ranges(first_draw, draws, chunk),
                                      given=given, first=first_draw, sampling=sampling,
                                      trace=trace):
                parts.append(part)
                if on_chunk is not None:
                    on_chunk(part.draws)
            raw = concat_raw(parts)
            raw.elapsed = time.perf_counter() - t0
            return raw
    with _threads(threads) as n_threads:
        check_size(cs, draws, n_threads, max_seconds=max_seconds)
        chunk = int(chunk_draws or default_chunk(n_threads))
        st = static_arrays(cs)
        full = Out(**{k: np.zeros(s) for k, s in out_shapes(cs, draws).items()})
        theta = np.empty((draws, len(cs.params.paths)))
        failed = np.zeros(draws, bool)
        fr_on = np.zeros((draws, len(cs.friction_names)), bool)
        capacity_path = uses_capacity(cs)
        pst = pools = cap_p = heads_p = None
        if capacity_path:
            pst = pool_static(cs, trace)
            pools = PoolOut(**{k: np.zeros(s) for k, s in pool_shapes(cs, draws, trace).items()})
            NP = len(cs.pool_names)
            cap_p = np.zeros((draws, cs.grid.periods, NP))
            heads_p = np.zeros((draws, cs.grid.periods, NP))
        t0 = time.perf_counter()
        for lo, hi in chunk_ranges(0, draws, chunk):
            part = simulate_draws(
                cs, seed, first_draw + lo, first_draw + hi, given=_given_slice(given, lo, hi),
                sampling=sampling, trace=trace, out=Out(*(a[lo:hi] for a in full)),
                pools=None if pools is None else PoolOut(*(a[lo:hi] for a in pools)),
                st=st, pst=pst)
            theta[lo:hi] = part.theta
            failed[lo:hi] = part.failed
            fr_on[lo:hi] = part.fr_on
            if capacity_path:
                cap_p[lo:hi] = part.capacity
                heads_p[lo:hi] = part.headcount
            if on_chunk is not None:
                on_chunk(hi - lo)
        elapsed = time.perf_counter() - t0
    return RawResult(cs, int(seed), draws, full, theta, failed, fr_on, elapsed, pools, cap_p,
                     heads_p, first_draw=first_draw)


def iter_chunks(cs: Compiled, draws: int, seed: int, backend, *, chunk_draws: int | None = None,
                given: dict[int, np.ndarray] | None = None, max_seconds: float = MAX_SECONDS,
                trace: int = 0, first_draw: int = 0, sampling: str = "random"
                ) -> Iterator[RawResult]:
    """The chunks of draws ``first_draw ..`` as they complete (in any order), each with its own
    arrays: for streaming a run that does not fit in memory. ``backend`` is an open backend
    (:func:`simengine.engine.backends.open_backend`)."""
    _check_run(seed, chunk_draws)
    check_sampling(sampling)
    check_size(cs, draws, backend.cores, max_seconds=max_seconds, in_memory=False)
    chunk = int(chunk_draws or default_chunk(backend.cores))
    yield from backend.map_chunks(cs, seed, chunk_ranges(first_draw, draws, chunk), given=given,
                                  first=first_draw, sampling=sampling, trace=trace)
