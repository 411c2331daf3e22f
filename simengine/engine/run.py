"""Run a compiled scenario: check the run's size, hand its chunks of draws to a backend, keep
the parts in a sink (memory, or a store the dataset layer provides).

One driver (:func:`drive`) serves every run: in memory or streamed, on threads or on Dask, of a
fixed number of draws or until a requested precision. Each chunk's parameters are sampled by
draw number, so a draw's result does not depend on the chunk it falls in, on the number of
threads, on the backend or on where the result is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from simengine.compile import Compiled
from simengine.engine.backends import Backend, open_backend
from simengine.engine.chunks import (
    RawResult,
    chunk_ranges,
    concat_raw,
    default_chunk,
    given_slice,
    new_out,
    new_pools,
    uses_capacity,
)
from simengine.engine.plan import RunPlan
from simengine.engine.planning import MAX_SECONDS, check_size  # shared with `validate`
from simengine.engine.precision import Tracker, next_target
from simengine.kernels.capacity import PoolOut
from simengine.kernels.funnel import Out
from simengine.stats import Precision


class Sink(Protocol):
    """Where a run's parts go as they complete, batch by batch (see :func:`drive`)."""

    in_memory: bool  # the whole run is held in memory (the size check counts it)

    def begin(self, first: int, draws: int) -> None:
        """A batch of draws ``first .. first + draws - 1`` starts."""

    def views(self, lo: int, hi: int) -> tuple[Out, PoolOut | None] | None:
        """Arrays for draws ``lo .. hi - 1`` to be filled in place, or None."""

    def add(self, part: RawResult) -> None:
        """A part of the current batch (in any order)."""

    def interrupted(self) -> None:
        """The run stops on an exception: keep what can be kept."""


class MemorySink:
    """Holds the run in memory: each batch's arrays are allocated once; chunks computed in this
    process fill them in place, parts computed elsewhere are copied in."""

    in_memory = True

    def __init__(self, cs: Compiled, plan: RunPlan):
        self.cs, self.plan = cs, plan
        self._batches: list[RawResult] = []
        self._t0 = time.perf_counter()

    def begin(self, first: int, draws: int) -> None:
        cs, n = self.cs, draws
        cap = uses_capacity(cs)
        shape = (n, cs.grid.periods, len(cs.pool_names))
        self._batches.append(RawResult(
            cs, self.plan.seed, n, new_out(cs, n), np.empty((n, len(cs.params.paths))),
            np.zeros(n, bool), np.zeros((n, len(cs.friction_names)), bool), 0.0,
            new_pools(cs, n, self.plan.trace) if cap else None,
            np.zeros(shape) if cap else None, np.zeros(shape) if cap else None,
            first_draw=first))

    def views(self, lo: int, hi: int) -> tuple[Out, PoolOut | None]:
        b = self._batches[-1]
        a, z = lo - b.first_draw, hi - b.first_draw
        return (Out(*(x[a:z] for x in b.out)),
                None if b.pools is None else PoolOut(*(x[a:z] for x in b.pools)))

    def add(self, part: RawResult) -> None:
        b = self._batches[-1]
        a = part.first_draw - b.first_draw
        z = a + part.draws
        if not np.may_share_memory(part.out[0], b.out[0]):  # computed elsewhere: copy it in
            for dst, src in zip(b.out, part.out, strict=True):
                dst[a:z] = src
            if b.pools is not None:
                for dst, src in zip(b.pools, part.pools, strict=True):
                    dst[a:z] = src
        b.theta[a:z] = part.theta
        b.failed[a:z] = part.failed
        b.fr_on[a:z] = part.fr_on
        if b.capacity is not None:
            b.capacity[a:z] = part.capacity
            b.headcount[a:z] = part.headcount

    def interrupted(self) -> None:
        pass

    def result(self) -> RawResult:
        """The run so far as one result."""
        raw = concat_raw(self._batches)
        raw.elapsed = time.perf_counter() - self._t0
        return raw


def iter_chunks(cs: Compiled, plan: RunPlan, backend: Backend, first: int, draws: int, *,
                given: dict[int, np.ndarray] | None = None, into=None) -> Iterator[RawResult]:
    """The parts of draws ``first .. first + draws - 1`` as they complete (in any order), in
    chunks of ``plan.chunk_draws`` (default: sized to the backend's cores)."""
    chunk = int(plan.chunk_draws or default_chunk(backend.cores))
    yield from backend.map_chunks(cs, plan, chunk_ranges(first, draws, chunk), given=given,
                                  first=first, into=into)


def drive(cs: Compiled, plan: RunPlan, backend: Backend, sink: Sink, *,
          given: dict[int, np.ndarray] | None = None, first_draw: int = 0, done: int = 0,
          track: Tracker | None = None, on_chunk: Callable[[int], None] | None = None,
          on_total: Callable[[int], None] | None = None,
          max_seconds: float = MAX_SECONDS) -> Precision | None:
    """Run the plan's draws on ``backend``, handing each part to ``sink``.

    A plain run is one batch of ``plan.draws`` draws from ``first_draw``. With
    ``plan.until_se`` the run starts at draw 0 and grows in batches until the precision is met
    or ``plan.max_draws`` is reached; each batch's size depends on the draws before it only
    (:func:`simengine.engine.precision.next_target`), so a resumed run takes the same steps.

    Parameters
    ----------
    given
        ``{parameter column: values of draws first_draw ..}`` set instead of sampled.
    done
        Draws the sink holds already (a resumed run); ``track`` holds their bookings.
    on_chunk, on_total
        Progress: called with the draws of each finished part (and with ``done`` first), and
        with the draws the run now aims for.

    Returns
    -------
    Precision or None
        The precision the run stopped at (``until_se`` runs only).
    """
    until = plan.until_se is not None
    if until:
        track = Tracker() if track is None else track
        if sink.in_memory:
            check_size(cs, plan.max_draws, backend.cores, max_seconds=math.inf)  # memory for all
    prec: Precision | None = None
    target: int | None = plan.draws
    while done and target is not None and target <= done:  # resumed: the batches done
        if not until:
            target = None
            break
        prec, target = next_target(cs, track, target, plan)
    if on_total is not None:
        on_total(target or done)
    if on_chunk is not None and done:
        on_chunk(done)
    try:
        while target is not None:
            n = target - done
            check_size(cs, n, backend.cores, max_seconds=max_seconds, in_memory=sink.in_memory)
            sink.begin(first_draw + done, n)
            for part in iter_chunks(cs, plan, backend, first_draw + done, n,
                                    given=given_slice(given, done, target),
                                    into=sink.views):
                sink.add(part)
                if until:
                    track.add(part)
                if on_chunk is not None:
                    on_chunk(part.draws)
            done = target
            if not until:
                break
            prec, target = next_target(cs, track, done, plan)
            if target is not None and on_total is not None:
                on_total(target)
    except BaseException:
        sink.interrupted()
        raise
    return prec


def run(cs: Compiled, draws: int, seed: int, *, chunk_draws: int | None = None,
        threads: int | None = None, given: dict[int, np.ndarray] | None = None,
        on_chunk: Callable[[int], None] | None = None,
        max_seconds: float = MAX_SECONDS, trace: int = 0, first_draw: int = 0,
        sampling: str = "random", backend: str | Backend = "threads",
        scheduler=None) -> RawResult:
    """Simulate draws ``first_draw .. first_draw + draws - 1`` of a compiled scenario, in memory.

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
        ``LocalCluster``); or an open :class:`~simengine.engine.backends.Backend`. Every backend
        gives the same bits.
    """
    plan = RunPlan.checked(draws, seed, sampling=sampling, chunk_draws=chunk_draws, trace=trace)
    with open_backend(backend, scheduler, threads) as be:
        sink = MemorySink(cs, plan)
        drive(cs, plan, be, sink, given=given, first_draw=first_draw, on_chunk=on_chunk,
              max_seconds=max_seconds)
    return sink.result()
