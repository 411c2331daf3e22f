"""The Python entry point of a run: scenario in, Dataset out.

Besides the plain run this module drives the three ways a run can grow beyond one call of the
engine: on a Dask cluster (``backend="dask"``), streamed to a zarr store
chunk by chunk (``store=``, resumable with :func:`resume`), and until a requested precision is
reached (``until_se=``). All three give the same bits as a plain run of the same draws.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simengine.compile import Compiled, compile_scenario
from simengine.dataset import assemble, encodable, load
from simengine.engine.backends import open_backend
from simengine.engine.run import (
    RawResult,
    check_size,
    concat_raw,
    default_chunk,
    iter_chunks,
    out_shapes,
    pool_shapes,
    run,
    uses_capacity,
)
from simengine.engine.sampling import BLOCK, block_of, check_sampling
from simengine.engine.stream import StoreWriter, flush_draws_for
from simengine.errors import SimEngineError
from simengine.scenario import Scenario, load_scenario, scenario_sha256, to_raw, validate
from simengine.stats import Precision, goal_probability, quantile_se

DEFAULT_MAX_DRAWS = 100_000  # the cap of an until_se run when none is given
MIN_BLOCKS = 8  # quasi-random runs: blocks needed before their spread gives the standard error


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
    check_sampling(sampling)
    given = _given(cs, param_values, draws)
    max_draws = _check_precision(until_se, max_draws, draws)
    if given is not None and (until_se is not None or store is not None):
        raise SimEngineError("param_values: expected a plain run, found it combined with "
                             f"{'until_se' if until_se is not None else 'store'}")
    if progress is None:
        progress = sys.stderr.isatty()
    plan = {"draws": int(draws), "seed": int(seed) if isinstance(seed, (int, np.integer))
            else seed, "sampling": sampling, "until_se": until_se, "max_draws": max_draws,
            "chunk_draws": chunk_draws, "trace": int(trace)}
    if store is not None:
        plan["scenario"] = _scenario_text(sc)
        return _stream(cs, Path(store), plan, backend, scheduler, threads, progress, None)
    with _progress(progress, draws) as bar:
        if until_se is None and backend == "threads" and scheduler is None:
            raw = run(cs, draws, seed, chunk_draws=chunk_draws, threads=threads, given=given,
                      on_chunk=bar.advance, trace=trace, sampling=sampling)
            ds = assemble(raw)
            ds.attrs.update(_sampling_attrs(sampling))
            return ds
        with open_backend(backend, scheduler, threads) as be:
            if until_se is None:
                raw = run(cs, draws, seed, chunk_draws=chunk_draws, given=given,
                          on_chunk=bar.advance, trace=trace, sampling=sampling, backend=be)
                ds = assemble(raw)
                ds.attrs.update(_sampling_attrs(sampling))
                return ds
            check_size(cs, max_draws, be.cores, max_seconds=math.inf)  # memory for all
            parts: list[RawResult] = []
            track = _Tracker()
            n, target, t0 = 0, draws, time.perf_counter()
            while True:
                raw = run(cs, target - n, seed, chunk_draws=chunk_draws, on_chunk=bar.advance,
                          trace=trace, first_draw=n, sampling=sampling, backend=be)
                parts.append(raw)
                track.add(raw)
                n = target
                prec, target = _next_target(cs, track, n, plan)
                if target is None:
                    break
                bar.total(target)
            raw = concat_raw(parts)
            raw.elapsed = time.perf_counter() - t0
    ds = assemble(raw)
    ds.attrs.update(_sampling_attrs(sampling))
    ds.attrs.update(_precision_attrs(prec, plan))
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
    return _stream(cs, Path(store), writer.run_settings, backend, scheduler, threads, progress,
                   writer)


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
    return _precision(annual, ok, float(ds.attrs.get("goal", math.nan)),
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


def _check_precision(until_se, max_draws, draws) -> int | None:
    if until_se is None:
        if max_draws is not None:
            raise SimEngineError(f"max_draws: only with until_se, found max_draws={max_draws} "
                                 "and no until_se")
        return None
    if not (isinstance(until_se, (int, float)) and 0 < until_se < 1):
        raise SimEngineError(f"until_se: expected a standard error in (0, 1), e.g. 0.005, "
                             f"found {until_se!r}")
    cap = DEFAULT_MAX_DRAWS if max_draws is None else int(max_draws)
    if max_draws is not None and cap < draws:
        raise SimEngineError(f"max_draws: expected at least the first batch of {draws:,} draws, "
                             f"found {cap:,}")
    return max(cap, int(draws))


def _sampling_attrs(sampling: str) -> dict:
    return {} if sampling == "random" else {"sampling": sampling, "sampling_block": BLOCK}


def _precision_attrs(prec: Precision, plan: dict) -> dict:
    return {"until_se": float(plan["until_se"]), "max_draws": int(plan["max_draws"]),
            "converged": int(prec.met(plan["until_se"])),
            "prob_goal_se": float(prec.prob_goal_se), "bookings_p50_se": float(prec.p50_se),
            "precision_method": prec.method}


def _annual(raw: RawResult) -> np.ndarray:
    """Bookings over the horizon per draw (row sums: the same bits whatever the chunk)."""
    return np.ascontiguousarray(raw.out.revenue).sum(axis=1)


class _Tracker:
    """Bookings and success of every draw so far, gathered from parts in any order."""

    def __init__(self, annual: np.ndarray | None = None, ok: np.ndarray | None = None):
        self._annual = [np.zeros(0) if annual is None else annual]
        self._ok = [np.zeros(0, bool) if ok is None else ok]
        self._n = len(self._annual[0])
        self._parts: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, raw: RawResult) -> None:
        self._parts[raw.first_draw] = (_annual(raw), ~raw.failed)
        while self._n in self._parts:
            a, o = self._parts.pop(self._n)
            self._annual.append(a)
            self._ok.append(o)
            self._n += len(a)

    @property
    def annual(self) -> np.ndarray:
        if len(self._annual) > 1:
            self._annual = [np.concatenate(self._annual)]
        return self._annual[0]

    @property
    def ok(self) -> np.ndarray:
        if len(self._ok) > 1:
            self._ok = [np.concatenate(self._ok)]
        return self._ok[0]


def _precision(annual: np.ndarray, ok: np.ndarray, goal: float, sampling: str,
               draw_ids: np.ndarray | None = None) -> Precision:
    x = annual[ok]
    n = len(x)
    if n == 0:
        raise SimEngineError("precision: expected at least one successful draw, found none")
    p = se_p = math.nan
    if math.isfinite(goal):
        g = goal_probability(x, goal)
        p, se_p = g.p, g.se
    q = float(np.quantile(x, 0.5))
    se_q = quantile_se(x, 0.5)
    if sampling == "random":
        return Precision(n, p, se_p, q, se_q, "binomial")
    ids = np.arange(len(annual)) if draw_ids is None else draw_ids
    blocks = block_of(ids)
    full = [b for b in np.unique(blocks) if np.sum(blocks == b) == BLOCK]
    if len(full) < MIN_BLOCKS:
        return Precision(n, p, se_p, q, se_q, "binomial")
    pb, qb = [], []
    for b in full:
        xb = annual[(blocks == b) & ok]
        pb.append(np.mean(xb >= goal) if math.isfinite(goal) else math.nan)
        qb.append(np.quantile(xb, 0.5))
    # each block is an independent randomisation; a block estimate's variance scales as 1 / its
    # draws, so the run's is (block variance) x BLOCK / n
    scale = math.sqrt(BLOCK / n)
    se_p = float(np.std(pb, ddof=1) * scale) if math.isfinite(goal) else math.nan
    return Precision(n, p, se_p, q, float(np.std(qb, ddof=1) * scale), "blocks", len(full))


def _next_target(cs: Compiled, track: _Tracker, n: int, plan: dict
                 ) -> tuple[Precision, int | None]:
    """The precision after ``n`` draws and the size of the run to aim for next (None: stop).

    A function of the first ``n`` draws only, so a resumed run takes the same steps. Sizes are
    multiples of the design block: the same whatever the chunking or backend.
    """
    goal = float(cs.scenario.goal.revenue) if cs.scenario.goal else math.nan
    prec = _precision(track.annual[:n], track.ok[:n], goal, plan["sampling"])
    target, cap = plan["until_se"], plan["max_draws"]
    if prec.met(target) or n >= cap:
        return prec, None
    # standard errors fall as 1 / sqrt(draws): aim 10 % past the projected size
    over = [prec.p50_relative_se / target]
    if math.isfinite(prec.prob_goal):
        over.append(max(prec.prob_goal_se, 1.0 / n) / target)
    want = math.ceil(n * min(max(over) ** 2, 1e6) * 1.1)
    nxt = min(max(want, n + BLOCK), 4 * n)
    nxt = min(-(-nxt // BLOCK) * BLOCK, cap)
    return prec, nxt


def _bytes_per_draw(cs: Compiled, trace: int) -> int:
    per = sum(int(np.prod(s[1:])) for s in out_shapes(cs, 1).values())
    if uses_capacity(cs):
        per += sum(int(np.prod(s[1:])) for s in pool_shapes(cs, 1, trace).values())
    return 8 * (per + len(cs.params.paths))


def _stream(cs: Compiled, path: Path, plan: dict, backend, scheduler, threads,
            progress: bool, writer: StoreWriter | None) -> xr.Dataset:
    """Run (or finish) a streamed run: parts go to the store as they complete."""
    seed, sampling, trace = plan["seed"], plan["sampling"], plan["trace"]
    with open_backend(backend, scheduler, threads) as be:
        if writer is None:
            chunk = int(plan["chunk_draws"] or default_chunk(be.cores))
            plan = {**plan, "chunk_draws": chunk,
                    "flush_draws": flush_draws_for(_bytes_per_draw(cs, trace), chunk)}
            writer = StoreWriter.create(path, plan["flush_draws"], plan, schema=encodable)
            track = _Tracker()
        else:
            track = _stored_tracker(path, writer.committed)
        done = writer.committed
        # where the run stands: replay the checkpoints already passed
        target: int | None = plan["draws"]
        prec = None
        while target is not None and target <= done:
            if plan["until_se"] is None:
                target = None
                break
            prec, target = _next_target(cs, track, target, plan)
        with _progress(progress, target or done) as bar:
            bar.advance(done)
            try:
                while target is not None:
                    for part in iter_chunks(cs, target - done, seed, be,
                                            chunk_draws=plan["chunk_draws"], trace=trace,
                                            first_draw=done, sampling=sampling):
                        track.add(part)
                        writer.add(assemble(part))
                        bar.advance(part.draws)
                    done = target
                    if plan["until_se"] is None:
                        break
                    prec, target = _next_target(cs, track, done, plan)
                    if target is not None:
                        bar.total(target)
            except BaseException:
                with contextlib.suppress(Exception):
                    writer.checkpoint()  # keep what is done: --resume starts from there
                raise
        attrs = {"created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                 **_sampling_attrs(sampling)}
        if plan["until_se"] is not None:
            attrs.update(_precision_attrs(prec, plan))
        writer.finish(attrs)
    return load(path)


def _stored_tracker(path: Path, n: int) -> _Tracker:
    """The tracker of the first ``n`` draws of a store, read in slices (bounded memory)."""
    if n == 0:
        return _Tracker()
    ds = load(path, partial=True)
    annual, ok = [], []
    step = 65536
    for lo in range(0, n, step):
        part = ds.isel(draw=slice(lo, min(lo + step, n)))
        annual.append(np.ascontiguousarray(part.revenue.values).sum(axis=1))
        ok.append(np.asarray(part.failed.values) == 0)
    return _Tracker(np.concatenate(annual), np.concatenate(ok))


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
