"""The Python entry point of a run: scenario in, Dataset out.

A run can grow beyond one process's memory and time in three ways: on a Dask cluster
(``backend="dask"``), streamed to a zarr store chunk by chunk (``store=``, resumable with
:func:`resume`), and until a requested precision is reached (``until_se=``). Each is the one run
driver (:func:`simengine.engine.run.drive`) with another backend or sink; this module picks them,
keeps a streamed run's settings in its store and assembles the result. All give the same bits as
a plain run of the same draws.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simengine.compile import Compiled, compile_scenario
from simengine.dataset import assemble, encodable, load
from simengine.engine.backends import open_backend
from simengine.engine.chunks import RawResult, default_chunk, out_shapes, pool_shapes, uses_capacity
from simengine.engine.plan import RunPlan
from simengine.engine.precision import Tracker, estimate
from simengine.engine.run import MemorySink, drive
from simengine.engine.sampling import BLOCK
from simengine.engine.stream import StoreWriter, flush_draws_for
from simengine.errors import SimEngineError
from simengine.scenario import Scenario, load_scenario, scenario_sha256, to_raw, validate
from simengine.stats import Precision


def simulate(scenario: Scenario | str | Path, *, draws: int = 1000, seed: int = 0,
             progress: bool | None = None, chunk_draws: int | None = None,
             threads: int | None = None, backend: str = "threads", scheduler=None,
             param_values: dict[str, Any] | None = None, trace: int = 0,
             sampling: str = "random", until_se: float | None = None,
             max_draws: int | None = None, store: str | Path | None = None) -> xr.Dataset:
    """Simulate a scenario ``draws`` times.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of a scenario file.
    draws
        Number of draws (possible years), each with its own parameter values. With
        ``until_se``: the first batch.
    seed
        Any integer in [0, 2**63). The same scenario and seed give an identical Dataset whatever
        ``threads``, ``chunk_draws``, backend or ``store``.
    progress
        Show a progress bar (default: when stderr is a terminal).
    chunk_draws
        Draws per chunk handed to the kernel (memory and progress granularity only; with
        ``backend="dask"`` one chunk is one task).
    threads
        Threads for the kernel (default: numba's default, all cores). With Dask: numba threads
        per task (default 1).
    backend
        ``"threads"`` (the default; no cluster needed) or ``"dask"``.
    scheduler
        With ``backend="dask"``: the address of a running Dask scheduler
        (``"tcp://10.0.0.5:8786"``, e.g. from dask-jobqueue or Kubernetes) or a
        ``distributed.Client``; None starts a ``LocalCluster`` sized to this machine (one
        single-threaded worker process per core) for this call. Scripts that start one need the
        usual ``if __name__ == "__main__":`` guard.
    param_values
        ``{parameter path: array of length draws}`` to set per-draw values of parameters
        instead of sampling them (designed experiments such as Sobol analyses).
    trace
        With pools: record the first ``trace`` prospects to leave the funnel in each draw
        (arrival, exit, outcome) in a ``trace`` variable, for checks against other simulators.
    sampling
        How per-draw parameter values are drawn: ``"random"`` (the default), ``"lhs"`` (Latin
        hypercube) or ``"sobol"`` (scrambled Sobol'), in independent blocks of 128 draws
        (:mod:`simengine.engine.sampling`); :func:`precision` gives honest standard errors.
    until_se
        Add draws, in batches, until the standard error of P(goal) is at most ``until_se``
        (absolute, e.g. 0.005 = half a point) and that of the P50 of bookings at most
        ``until_se`` relative to it, or until ``max_draws``. The result is identical to a run of
        the number of draws used (attribute ``draws``; also ``converged``, ``prob_goal_se``,
        ``bookings_p50_se``).
    max_draws
        Cap of an ``until_se`` run (default 100,000, at least ``draws``).
    store
        A ``.zarr`` path: stream each chunk of draws to it as it completes, so the run needs
        memory for a few chunks only; the result is returned read lazily from the store. An
        interrupted run leaves a store marked unfinished; :func:`resume` completes it.

    Returns
    -------
    xarray.Dataset
        Dimensions ``draw``, ``period``, ``stage``, ``campaign``, ``segment``; every variable
        with ``units`` and ``long_name``, the provenance in the attributes.

    Raises
    ------
    ScenarioError
        The scenario file is invalid.
    SimEngineError
        The run is invalid (too large, bad seed, a feature not simulated yet).

    Examples
    --------
    >>> ds = simulate("scenarios/baseline.yaml", draws=50, seed=1, progress=False)
    >>> ds.revenue.dims
    ('draw', 'period')
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    cs = compile_scenario(sc)
    plan = RunPlan.checked(draws, seed, sampling=sampling, until_se=until_se,
                           max_draws=max_draws, chunk_draws=chunk_draws, trace=trace)
    given = _given(cs, param_values, draws)
    if given is not None and (until_se is not None or store is not None):
        raise SimEngineError("param_values: expected a plain run, found it combined with "
                             f"{'until_se' if until_se is not None else 'store'}")
    if progress is None:
        progress = sys.stderr.isatty()
    if store is not None:
        return _stream(cs, Path(store), plan, backend, scheduler, threads, progress,
                       scenario_text=_scenario_text(sc))
    with open_backend(backend, scheduler, threads) as be, _progress(progress, draws) as bar:
        sink = MemorySink(cs, plan)
        prec = drive(cs, plan, be, sink, given=given, on_chunk=bar.advance, on_total=bar.total)
    ds = assemble(sink.result())
    ds.attrs.update(_run_attrs(plan, prec))
    return ds


def resume(store: str | Path, scenario: Scenario | str | Path | None = None, *,
           backend: str = "threads", scheduler=None, threads: int | None = None,
           progress: bool | None = None) -> xr.Dataset:
    """Complete a streamed run that was interrupted, to the same bits as an uninterrupted one.

    Parameters
    ----------
    store
        The ``.zarr`` store of the run (``simulate(..., store=...)`` or ``simengine run -o``).
    scenario
        The run's scenario, to check it is the one in the store (default: the resolved scenario
        stored with the run).
    backend, scheduler, threads, progress
        As :func:`simulate`; they may differ from the interrupted run's.

    Raises
    ------
    SimEngineError
        No such store, the run is already complete, or ``scenario`` is not the store's.
    """
    writer = StoreWriter.reopen(store)
    attrs = writer.attrs
    text = writer.run_settings["scenario"]
    if scenario is not None:
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if _scenario_text(sc) != text:
            raise SimEngineError(
                f"{store}: expected the scenario the run was started with (sha256 "
                f"{attrs['scenario_sha256'][:12]}…, '{attrs.get('scenario')}'), found "
                f"'{sc.name}' with sha256 {scenario_sha256(sc)[:12]}… (other values, another "
                "order of entries, or --set)")
    else:
        sc = validate(json.loads(text), origin=str(store))
    cs = compile_scenario(sc)
    if progress is None:
        progress = sys.stderr.isatty()
    return _stream(cs, Path(store), RunPlan.from_settings(writer.run_settings), backend,
                   scheduler, threads, progress, writer=writer)


def precision(ds: xr.Dataset) -> Precision:
    """Standard errors of P(goal) and of the P50 of bookings, honest for every ``sampling``.

    Under quasi-random sampling the draws are not independent, and ``sqrt(p (1 - p) / n)``
    overstates the error; the blocks of the design are independent randomisations, so the
    spread of their estimates is used instead (with at least 8 full blocks; below that, the
    independent-draws formulas, conservative for Latin hypercubes).

    Examples
    --------
    >>> ds = simulate("scenarios/baseline.yaml", draws=40, seed=1, progress=False)
    >>> precision(ds).method
    'binomial'
    """
    annual = np.asarray(ds.revenue.sum("period", skipna=False).values, dtype=float)
    ok = (np.asarray(ds.failed.values) == 0) if "failed" in ds else np.isfinite(annual)
    draw_ids = np.asarray(ds.draw.values, np.int64)
    return estimate(annual, ok, float(ds.attrs.get("goal", math.nan)),
                    str(ds.attrs.get("sampling", "random")), draw_ids)


# --- internals ----------------------------------------------------------------------------------
def _scenario_text(sc: Scenario) -> str:
    """The resolved scenario as JSON in its own order: what a resumed run is rebuilt from. (The
    canonical JSON of the attributes sorts keys, and the order of mapping entries such as pools,
    segments or next stages is part of the model: it orders outputs and routes prospects.)"""
    raw = to_raw(sc)
    raw.pop("extends", None)
    return json.dumps(raw, separators=(",", ":"), default=str)


def _given(cs: Compiled, param_values: dict[str, Any] | None, draws: int):
    if not param_values:
        return None
    given = {}
    for path, values in param_values.items():
        try:
            col = cs.params.col(path)
        except KeyError:
            raise SimEngineError(f"param_values: expected a parameter path of the scenario, "
                                 f"found '{path}'") from None
        given[col] = np.broadcast_to(np.asarray(values, dtype=float), (draws,)).copy()
    return given


def _run_attrs(plan: RunPlan, prec: Precision | None) -> dict:
    """The attributes a run adds to its result: the sampling design, the precision reached."""
    attrs = {} if plan.sampling == "random" else {"sampling": plan.sampling,
                                                  "sampling_block": BLOCK}
    if prec is not None:
        attrs.update({"until_se": float(plan.until_se), "max_draws": int(plan.max_draws),
                      "converged": int(prec.met(plan.until_se)),
                      "prob_goal_se": float(prec.prob_goal_se),
                      "bookings_p50_se": float(prec.p50_se), "precision_method": prec.method})
    return attrs


def _bytes_per_draw(cs: Compiled, trace: int) -> int:
    per = sum(int(np.prod(s[1:])) for s in out_shapes(cs, 1).values())
    if uses_capacity(cs):
        per += sum(int(np.prod(s[1:])) for s in pool_shapes(cs, 1, trace).values())
    return 8 * (per + len(cs.params.paths))


class _StoreSink:
    """Streams the parts of a run to a zarr store, assembled as they complete."""

    in_memory = False

    def __init__(self, writer: StoreWriter):
        self.writer = writer

    def begin(self, first: int, draws: int) -> None:
        pass

    def views(self, lo: int, hi: int) -> None:
        return None

    def add(self, part: RawResult) -> None:
        self.writer.add(assemble(part))

    def interrupted(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.checkpoint()  # keep what is done: --resume starts from there


def _stream(cs: Compiled, path: Path, plan: RunPlan, backend, scheduler, threads,
            progress: bool, *, writer: StoreWriter | None = None,
            scenario_text: str | None = None) -> xr.Dataset:
    """Run (or finish) a streamed run: parts go to the store as they complete."""
    with open_backend(backend, scheduler, threads) as be:
        if writer is None:
            chunk = int(plan.chunk_draws or default_chunk(be.cores))
            plan = replace(plan, chunk_draws=chunk)
            flush = flush_draws_for(_bytes_per_draw(cs, plan.trace), chunk)
            settings = {**plan.settings(), "scenario": scenario_text, "flush_draws": flush}
            writer = StoreWriter.create(path, flush, settings, schema=encodable)
            track = Tracker()
        else:
            track = _stored_tracker(path, writer.committed)
        with _progress(progress, plan.draws) as bar:
            prec = drive(cs, plan, be, _StoreSink(writer), done=writer.committed, track=track,
                         on_chunk=bar.advance, on_total=bar.total)
        writer.finish({"created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                       **_run_attrs(plan, prec)})
    return load(path)


def _stored_tracker(path: Path, n: int) -> Tracker:
    """The tracker of the first ``n`` draws of a store, read in slices (bounded memory)."""
    if n == 0:
        return Tracker()
    ds = load(path, partial=True)
    annual, ok = [], []
    step = 65536
    for lo in range(0, n, step):
        part = ds.isel(draw=slice(lo, min(lo + step, n)))
        annual.append(np.ascontiguousarray(part.revenue.values).sum(axis=1))
        ok.append(np.asarray(part.failed.values) == 0)
    return Tracker(np.concatenate(annual), np.concatenate(ok))


class _Bar:
    def __init__(self, bar=None, task=None):
        self._bar, self._task = bar, task

    def advance(self, k: int) -> None:
        if self._bar is not None and k:
            self._bar.advance(self._task, k)

    def total(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=n)


@contextlib.contextmanager
def _progress(show: bool, total: int) -> Iterator[_Bar]:
    if not show:
        yield _Bar()
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("simulating"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total} draws"), TimeRemainingColumn(), transient=True) as bar:
        yield _Bar(bar, bar.add_task("run", total=total))
