"""The Python entry point of a run: scenario in, Dataset out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simengine.compile import compile_scenario
from simengine.dataset import assemble
from simengine.engine import run
from simengine.scenario import Scenario, load_scenario


def simulate(scenario: Scenario | str | Path, draws: int = 1000, seed: int = 0, *,
             progress: bool | None = None, chunk_draws: int | None = None,
             threads: int | None = None, backend: str = "threads",
             param_values: dict[str, Any] | None = None, trace: int = 0) -> xr.Dataset:
    """Simulate a scenario ``draws`` times.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of a scenario file.
    draws
        Number of draws (possible years), each with its own parameter values.
    seed
        Any integer in [0, 2**63). The same scenario and seed give an identical Dataset whatever
        ``threads``, ``chunk_draws`` or backend.
    progress
        Show a progress bar (default: when stderr is a terminal).
    chunk_draws
        Draws per chunk handed to the kernel (memory and progress granularity only).
    threads
        Threads for the kernel (default: numba's default, all cores).
    backend
        ``"threads"`` (the default; no cluster needed).
    param_values
        ``{parameter path: array of length draws}`` to set per-draw values of parameters
        instead of sampling them (designed experiments such as Sobol analyses).
    trace
        With pools: record the first ``trace`` prospects to leave the funnel in each draw
        (arrival, exit, outcome) in a ``trace`` variable, for checks against other simulators.

    Returns
    -------
    xarray.Dataset
        Dimensions ``draw``, ``period``, ``stage``, ``campaign``, ``segment``; the variables and
        attributes of DESIGN section 4.

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
    from simengine.errors import SimEngineError

    if backend != "threads":
        raise SimEngineError(f"backend: expected 'threads', found {backend!r}")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    cs = compile_scenario(sc)
    given = None
    if param_values:
        given = {}
        for path, values in param_values.items():
            try:
                col = cs.params.col(path)
            except KeyError:
                raise SimEngineError(f"param_values: expected a parameter path of the scenario, "
                                     f"found '{path}'") from None
            arr = np.broadcast_to(np.asarray(values, dtype=float), (draws,)).copy()
            given[col] = arr
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("simulating"), BarColumn(), TextColumn("{task.completed}/"
                      "{task.total} draws"), TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task("run", total=draws)
            raw = run(cs, draws, seed, chunk_draws=chunk_draws, threads=threads, given=given,
                      on_chunk=lambda k: bar.advance(task, k), trace=trace)
    else:
        raw = run(cs, draws, seed, chunk_draws=chunk_draws, threads=threads, given=given,
                  trace=trace)
    return assemble(raw)
