"""One chunk of draws, the unit of work of every backend: sample its parameters, prepare the
arrays, one kernel call.

Each chunk's parameters are sampled by draw number, so a draw's result does not depend on the
chunk it falls in, on the number of threads or on the backend. The outputs' shapes come from
their declaration in :mod:`simengine.kernels.outputs`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np

from simengine.compile import Compiled
from simengine.engine.planning import dim_sizes, out_shapes
from simengine.engine.prepare import pool_draws, pool_static, prepare, static_arrays
from simengine.engine.sampling import sample_params
from simengine.kernels.capacity import PoolOut, simulate_capacity_chunk
from simengine.kernels.funnel import Out, simulate_chunk
from simengine.kernels.outputs import POOLS, shapes


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


def pool_shapes(cs: Compiled, n: int, trace: int) -> dict[str, tuple[int, ...]]:
    """``{field of PoolOut: shape}`` for ``n`` draws, recording ``trace`` prospects each."""
    return shapes(POOLS, dim_sizes(cs, trace), n)


def new_out(cs: Compiled, n: int) -> Out:
    return Out(**{k: np.zeros(s) for k, s in out_shapes(cs, n).items()})


def new_pools(cs: Compiled, n: int, trace: int) -> PoolOut:
    return PoolOut(**{k: np.zeros(s) for k, s in pool_shapes(cs, n, trace).items()})


def uses_capacity(cs: Compiled) -> bool:
    """The capacity path runs when some stage is worked by a pool."""
    return bool(len(cs.stage_pool) and cs.stage_pool.max() >= 0)


@contextlib.contextmanager
def numba_threads(n: int | None) -> Iterator[int]:
    """Run the block on ``n`` numba threads (None: as many as now); yields the number used."""
    before = numba.get_num_threads()
    n = before if n is None else max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(before)


def given_slice(given: dict[int, np.ndarray] | None, a: int, b: int
                ) -> dict[int, np.ndarray] | None:
    """Rows ``a .. b - 1`` of the given parameter values (None stays None)."""
    return {j: v[a:b] for j, v in given.items()} if given else None


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

    ``out`` / ``pools`` are views of preallocated arrays to fill (a run held in memory); without
    them the chunk's own arrays are allocated (a Dask task, a streamed chunk). ``given`` holds
    the given columns' values for these draws only.
    """
    n = hi - lo
    ids = np.arange(lo, hi, dtype=np.int64)
    st = static_arrays(cs) if st is None else st
    if out is None:
        out = new_out(cs, n)
    t0 = time.perf_counter()
    th = sample_params(cs.params, seed, ids, given, sampling)
    dr = prepare(cs, th, seed, ids)
    cap_p = heads_p = None
    if uses_capacity(cs):
        pst = pool_static(cs, trace) if pst is None else pst
        if pools is None:
            pools = new_pools(cs, n, trace)
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
