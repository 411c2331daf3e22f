"""What planning a run needs, without numba or the kernels: the campaigns' expected volumes,
the natural parameters of the per-prospect distributions, and the size check.

``simengine validate`` runs the size check that ``simengine run`` runs, with the same numbers: the
planning draws' parameters are sampled by :func:`simengine.engine.sampling.sample_params` (the
counter-based generator in NumPy, :mod:`simengine.engine.rng_np`), and the outputs' sizes come
from their declaration in :mod:`simengine.kernels.outputs` (plain Python). So a command that
only checks a file starts in well under a second.
"""

from __future__ import annotations

import os

import numpy as np

from simengine import codes
from simengine.compile import Compiled
from simengine.compile.build import VOL_AUDIENCE, VOL_BUDGET
from simengine.engine.sampling import sample_params
from simengine.errors import RunSizeError
from simengine.kernels.outputs import FUNNEL, shapes, sizes
from simengine.scenario.distributions import Empirical

__all__ = ["natural_params", "volumes", "expected_prospects", "check_size", "out_shapes",
           "physical_memory", "default_threads", "PROSPECTS_PER_SECOND_PER_CORE", "MAX_SECONDS"]


def _cols(theta: np.ndarray, cols: np.ndarray, default: float = 0.0) -> np.ndarray:
    """theta[:, cols] with -1 columns read as ``default``."""
    out = theta[:, np.maximum(cols, 0)]
    return np.where(cols >= 0, out, default)


def natural_params(cs: Compiled, theta: np.ndarray) -> np.ndarray:
    """(n, slots, 4) natural parameters of every per-prospect distribution in each draw."""
    n = len(theta)
    nat = np.zeros((n, len(cs.slot_dists), codes.N_NATURAL))
    for j, d in enumerate(cs.slot_dists):
        if isinstance(d, Empirical):
            continue
        p = {name: theta[:, cs.slot_cols[j, k]] for k, name in enumerate(d.params())}
        nat[:, j] = d.natural(p)
    return nat


def saturation_cols(cs: Compiled) -> np.ndarray:
    """(C,) parameter column of each campaign's budget saturation, -1 without one."""
    cols = np.full(cs.n_campaigns, -1, np.int64)
    for c, name in enumerate(cs.campaign_names[:cs.n_campaigns]):
        path = f"campaigns.{name}.volume.saturation"
        if path in cs.params.paths:
            cols[c] = cs.params.col(path)
    return cols


def volumes(cs: Compiled, theta: np.ndarray) -> np.ndarray:
    """(n, C) expected prospects of each campaign over its whole schedule.

    A budget with a saturation S buys (S / c)(1 - exp(-B / S)) leads instead of B / c: the
    first dollars at c each, the marginal lead at budget B costs c exp(B / S).
    """
    a = _cols(theta, cs.vol_cols[:, 0])
    b = _cols(theta, cs.vol_cols[:, 1], 1.0)
    sat = _cols(theta, saturation_cols(cs), np.inf)
    kind = cs.vol_kind[None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # unused branch; tiny costs
        budget = np.where(np.isfinite(sat), sat * -np.expm1(-a / sat), a)
        return np.where(kind == VOL_BUDGET, budget / b, np.where(kind == VOL_AUDIENCE, a * b, a))


# Planning figures for the size check (deliberately conservative, measured on 2 cores).
PROSPECTS_PER_SECOND_PER_CORE = 5e6
MAX_SECONDS = 3600.0


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
    mem = memory_bytes or physical_memory()
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


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def dim_sizes(cs: Compiled, trace: int = 0) -> dict[str, int]:
    """The length of each output dimension (after the draw axis) for a compiled scenario."""
    return sizes(cs.grid.periods, cs.n_stages, cs.n_campaigns + 1, len(cs.segment_names),
                 len(cs.pool_names), trace)


def out_shapes(cs: Compiled, n: int) -> dict[str, tuple[int, ...]]:
    """``{field of the funnel kernel's Out: shape}`` for ``n`` draws."""
    return shapes(FUNNEL, dim_sizes(cs), n)


def default_threads() -> int:
    """The threads a run uses by default: numba's default (``NUMBA_NUM_THREADS``, else the
    cores this process may run on), read without importing numba."""
    env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
