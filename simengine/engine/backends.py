"""Where chunks of draws run: numba threads in this process, or tasks on a Dask cluster.

A backend (:class:`Backend`) turns chunks ``[(lo, hi), ...]`` of draw numbers into
:class:`~simengine.engine.chunks.RawResult` parts, one kernel call each
(:func:`simengine.engine.chunks.simulate_draws`). Each draw depends only on (scenario, seed, draw
number), so every backend gives the same bits; only the order in which the parts arrive differs
(the Dask backend yields them as they complete). The run driver
(:func:`simengine.engine.run.drive`) hands the parts to where the run is kept.

The Dask backend needs ``simengine`` importable on the workers (the same version: the numba
kernels are compiled there, from the on-disk cache when there is one). A task lost with its
worker is recomputed by the scheduler from the same inputs, so the result does not change.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from simengine.compile import Compiled
from simengine.engine.chunks import (
    RawResult,
    given_slice,
    numba_threads,
    simulate_draws,
    uses_capacity,
)
from simengine.engine.plan import RunPlan
from simengine.engine.prepare import pool_static, static_arrays
from simengine.errors import SimEngineError
from simengine.kernels.capacity import PoolOut
from simengine.kernels.funnel import Out

BACKENDS = ("threads", "dask")

# ``into(lo, hi)``: the arrays that draws lo .. hi - 1 are to fill in place (views of a run held
# in memory), for a backend that computes in this process; None: the part allocates its own
Into = Callable[[int, int], tuple[Out, PoolOut | None] | None]


class Backend(Protocol):
    """Where chunks of draws run. Every backend gives the same bits for the same draws."""

    name: str
    cores: int  # cores the chunks run on: sizes the default chunk and the time check

    def map_chunks(self, cs: Compiled, plan: RunPlan, ranges: list[tuple[int, int]], *,
                   given: dict[int, np.ndarray] | None = None, first: int = 0,
                   into: Into | None = None) -> Iterator[RawResult]:
        """The parts of draws ``ranges`` (in any order). ``given``: the given parameter values
        of draws ``first ..``; ``into``: arrays to fill in place (a backend may ignore it and
        return parts with their own arrays)."""
        ...


class ThreadsBackend:
    """Chunks one after the other in this process, draws of a chunk on numba threads."""

    name = "threads"

    def __init__(self, threads: int | None = None):
        self.threads = threads
        with numba_threads(threads) as n:
            self.cores = n

    def map_chunks(self, cs: Compiled, plan: RunPlan, ranges: list[tuple[int, int]], *,
                   given: dict[int, np.ndarray] | None = None, first: int = 0,
                   into: Into | None = None) -> Iterator[RawResult]:
        st = static_arrays(cs)
        pst = pool_static(cs, plan.trace) if uses_capacity(cs) else None
        for lo, hi in ranges:
            out, pools = (into(lo, hi) if into is not None else None) or (None, None)
            with numba_threads(self.threads):
                part = simulate_draws(cs, plan.seed, lo, hi,
                                      given=given_slice(given, lo - first, hi - first),
                                      sampling=plan.sampling, trace=plan.trace, out=out,
                                      pools=pools, st=st, pst=pst)
            yield part


def _identity(x):
    return x


def _chunk_task(cs: Compiled, plan: RunPlan, lo: int, hi: int, given, threads: int
                ) -> RawResult:
    """One Dask task: one kernel call. The compiled scenario is not sent back."""
    with numba_threads(threads):
        part = simulate_draws(cs, plan.seed, lo, hi, given=given, sampling=plan.sampling,
                              trace=plan.trace)
    part.compiled = None
    return part


class DaskBackend:
    """Each chunk is one task on a ``distributed`` cluster; parts arrive as they complete.

    At most ``2 x cores + 2`` chunks are in flight, so the memory a run holds at once is bounded
    whatever its number of draws. ``threads_per_task`` numba threads run each task (default 1:
    a worker runs as many tasks at once as it has threads).
    """

    name = "dask"

    def __init__(self, client, threads_per_task: int | None = None):
        self.client = client
        self.threads_per_task = int(threads_per_task or 1)
        self.cores = max(1, sum(client.nthreads().values()))

    def map_chunks(self, cs: Compiled, plan: RunPlan, ranges: list[tuple[int, int]], *,
                   given: dict[int, np.ndarray] | None = None, first: int = 0,
                   into: Into | None = None) -> Iterator[RawResult]:
        """As :meth:`Backend.map_chunks`; parts come back with their own arrays (``into`` is
        another process's memory)."""
        from distributed import as_completed

        client = self.client
        token = uuid.uuid4().hex[:12]
        # the compiled scenario travels once, inside a task: if the worker holding it dies, the
        # scheduler recomputes it (scattered data would be lost with the worker)
        cs_f = client.submit(_identity, cs, key=f"simengine-compiled-{token}", pure=False)
        todo = iter(ranges)
        running: dict[str, object] = {}
        done = as_completed()

        def submit_next() -> None:
            r = next(todo, None)
            if r is None:
                return
            lo, hi = r
            f = client.submit(_chunk_task, cs_f, plan, lo, hi,
                              given_slice(given, lo - first, hi - first), self.threads_per_task,
                              key=f"simengine-draws-{lo}-{hi}-{token}", pure=False)
            running[f.key] = f
            done.add(f)

        for _ in range(2 * self.cores + 2):
            submit_next()
        try:
            for fut in done:
                part = fut.result()
                running.pop(fut.key, None)
                fut.release()
                part.compiled = cs
                submit_next()
                yield part
        finally:
            if running:
                client.cancel(list(running.values()))
            cs_f.release()


def local_cluster_size() -> int:
    """Workers of a LocalCluster sized to this machine: one single-threaded process per core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def open_backend(backend: str | Backend = "threads", scheduler=None,
                 threads: int | None = None) -> Iterator[Backend]:
    """A backend for the duration of a ``with`` block.

    Parameters
    ----------
    backend
        ``"threads"`` or ``"dask"``, or an already open backend (used as it is).
    scheduler
        Dask only: the address of a running scheduler (``tcp://host:8786``; a dask-jobqueue or
        Kubernetes cluster) or a ``distributed.Client``. None starts a ``LocalCluster`` with one
        single-threaded worker process per core, and closes it afterwards.
    threads
        Threads: numba threads (default all cores). Dask: numba threads per task (default 1).

    Raises
    ------
    SimEngineError
        An unknown backend, or no scheduler at that address.
    """
    if hasattr(backend, "map_chunks"):
        yield backend
        return
    if backend == "threads":
        if scheduler is not None:
            raise SimEngineError(f"scheduler: only with backend 'dask', found backend "
                                 f"'threads' and scheduler {scheduler!r}")
        yield ThreadsBackend(threads)
        return
    if backend != "dask":
        raise SimEngineError(f"backend: expected one of {', '.join(BACKENDS)}, found "
                             f"{backend!r}")
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if isinstance(scheduler, Client):
            client = scheduler
        elif scheduler is None:
            cluster = stack.enter_context(LocalCluster(
                n_workers=local_cluster_size(), threads_per_worker=1, processes=True,
                dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(str(scheduler), timeout="20s"))
            except (OSError, TimeoutError) as exc:
                raise SimEngineError(f"scheduler: expected the address of a running Dask "
                                     f"scheduler, found {scheduler!r} ({exc})") from None
        yield DaskBackend(client, threads)
