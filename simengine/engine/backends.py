"""Where chunks of draws run: numba threads in this process, or tasks on a Dask cluster.

A backend turns chunks ``[(lo, hi), ...]`` of draw numbers into :class:`RawResult` parts, one
kernel call each (:func:`simengine.engine.run.simulate_draws`). Each draw depends only on
(scenario, seed, draw number), so every backend gives the same bits; only the order in which the
parts arrive differs (the Dask backend yields them as they complete).

The Dask backend needs ``simengine`` importable on the workers (the same version: the numba
kernels are compiled there, from the on-disk cache when there is one). A task lost with its
worker is recomputed by the scheduler from the same inputs, so the result does not change.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import numpy as np

from simengine.compile import Compiled
from simengine.engine.prepare import pool_static, static_arrays
from simengine.engine.run import (
    RawResult,
    _given_slice,
    _threads,
    simulate_draws,
    uses_capacity,
)
from simengine.errors import SimEngineError

BACKENDS = ("threads", "dask")


class ThreadsBackend:
    """Chunks one after the other in this process, draws of a chunk on numba threads."""

    name = "threads"

    def __init__(self, threads: int | None = None):
        self.threads = threads
        with _threads(threads) as n:
            self.cores = n

    def map_chunks(self, cs: Compiled, seed: int, ranges: list[tuple[int, int]], *,
                   given: dict[int, np.ndarray] | None = None, first: int = 0,
                   sampling: str = "random", trace: int = 0) -> Iterator[RawResult]:
        st = static_arrays(cs)
        pst = pool_static(cs, trace) if uses_capacity(cs) else None
        for lo, hi in ranges:
            with _threads(self.threads):
                part = simulate_draws(cs, seed, lo, hi, given=_given_slice(given, lo - first,
                                                                           hi - first),
                                      sampling=sampling, trace=trace, st=st, pst=pst)
            yield part


def _identity(x):
    return x


def _chunk_task(cs: Compiled, seed: int, lo: int, hi: int, given, sampling: str, trace: int,
                threads: int) -> RawResult:
    """One Dask task: one kernel call. The compiled scenario is not sent back."""
    with _threads(threads):
        part = simulate_draws(cs, seed, lo, hi, given=given, sampling=sampling, trace=trace)
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

    def map_chunks(self, cs: Compiled, seed: int, ranges: list[tuple[int, int]], *,
                   given: dict[int, np.ndarray] | None = None, first: int = 0,
                   sampling: str = "random", trace: int = 0) -> Iterator[RawResult]:
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
            f = client.submit(_chunk_task, cs_f, int(seed), lo, hi,
                              _given_slice(given, lo - first, hi - first), sampling, int(trace),
                              self.threads_per_task, key=f"simengine-draws-{lo}-{hi}-{token}",
                              pure=False)
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
def open_backend(backend="threads", scheduler=None, threads: int | None = None):
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
