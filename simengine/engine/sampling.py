"""Per-draw parameters: one value of every column of the parameter table for each draw.

Uniforms come from the counter-based generator keyed by (seed, draw, parameter path), so a
draw's parameters do not depend on the chunk it is computed in. Correlated columns go through a
Gaussian copula (normal scores multiplied by the Cholesky factor of their correlation), then each
column through its distribution's inverse CDF.

Quasi-random sampling (``sampling="lhs"`` or ``"sobol"``) replaces the uniforms of the uncertain
columns, before the copula, by a design made of independent blocks of :data:`BLOCK` draws: draw
``d`` takes row ``d % BLOCK`` of block ``d // BLOCK``, a Latin hypercube or a scrambled Sobol'
point set (linear matrix scramble and digital shift) of ``BLOCK`` points (``scipy.stats.qmc``) whose
randomisation is seeded by (seed, block). So a draw's row is still a function of (seed, draw)
alone: chunking, backends and the number of draws cannot change it, and a run extended by more
draws keeps its first draws. The blocks are independent randomisations of the same design, which
is what gives honest standard errors (the spread between blocks; :func:`block_of`). Each point of
a randomised design is uniform on the unit cube, so every estimate stays unbiased, also with a
last, partial block. Per-prospect randomness is untouched (counter-based).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from simengine import codes
from simengine._lazy import LazyModule
from simengine.compile import ParamTable
from simengine.engine.rng_np import uniforms  # the kernels' numbers, without numba
from simengine.errors import SimEngineError
from simengine.scenario.distributions import Fixed

# imported when a draw needs them (quasi-random designs, correlations): not to validate a file
special = LazyModule("scipy.special")
qmc = LazyModule("scipy.stats.qmc")

SAMPLINGS = ("random", "lhs", "sobol")
# Draws per independent design block: a power of two (Sobol' balance), large enough for the
# stratification to pay off (an LHS of n points removes the additive part of the variance up to
# O(1/n^2)), small enough that a run of 1,000 draws has 8 blocks to estimate its error from.
BLOCK = 128
_TAG = {"lhs": 0x4C4853, "sobol": 0x534F42}  # keeps the two designs' seeds apart
_TINY = 2.0**-53


def check_sampling(sampling: str) -> str:
    if sampling not in SAMPLINGS:
        raise SimEngineError(f"sampling: expected one of {', '.join(SAMPLINGS)}, found "
                             f"{sampling!r}")
    return sampling


def block_of(draw_ids: np.ndarray) -> np.ndarray:
    """The design block of each draw (the independent replicate it belongs to)."""
    return np.asarray(draw_ids, np.int64) // BLOCK


@lru_cache(maxsize=256)
def _block(kind: str, seed: int, block: int, dims: int) -> np.ndarray:
    """The ``BLOCK`` x ``dims`` design of one block (read-only; cached per process)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(block), _TAG[kind]]))
    if kind == "lhs":
        u = qmc.LatinHypercube(d=dims, rng=rng).random(BLOCK)
    else:
        u = qmc.Sobol(d=dims, scramble=True, rng=rng).random(BLOCK)
    # inverse CDFs want the open interval; a scrambled point can sit on 0 exactly
    u = np.clip(u, _TINY, 1.0 - _TINY)
    u.flags.writeable = False
    return u


def design_uniforms(kind: str, seed: int, draw_ids: np.ndarray, dims: int) -> np.ndarray:
    """Rows (len(draw_ids), dims) of the quasi-random design for these draws.

    Examples
    --------
    >>> a = design_uniforms("sobol", 7, np.arange(300), 3)
    >>> b = design_uniforms("sobol", 7, np.arange(150, 300), 3)
    >>> bool((a[150:] == b).all())
    True
    """
    ids = np.asarray(draw_ids, np.int64)
    out = np.empty((len(ids), dims))
    blocks = block_of(ids)
    for b in np.unique(blocks):
        rows = blocks == b
        out[rows] = _block(kind, seed, int(b), dims)[ids[rows] % BLOCK]
    return out


def param_uniforms(table: ParamTable, seed: int, draw_ids: np.ndarray,
                   sampling: str = "random") -> np.ndarray:
    """Uniforms (n, columns) of the per-draw parameters, after the copula."""
    u = uniforms(seed, draw_ids, table.keys, codes.P_PARAM)
    if sampling != "random":
        unc = table.uncertain
        if len(unc):
            u[:, unc] = design_uniforms(check_sampling(sampling), seed, draw_ids, len(unc))
    if len(table.corr_cols):
        cols = table.corr_cols
        z = special.ndtri(u[:, cols])
        chol = np.linalg.cholesky(table.corr_matrix)
        # an explicit, fixed order of summation: a BLAS product may round differently with the
        # number of rows, which would make a draw depend on its chunk
        corr = np.zeros_like(z)
        for i in range(len(cols)):
            for j in range(i + 1):
                corr[:, i] += chol[i, j] * z[:, j]
        u[:, cols] = special.ndtr(corr)
        u[:, cols] = np.clip(u[:, cols], 1e-16, 1 - 1e-16)
    return u


def sample_params(table: ParamTable, seed: int, draw_ids: np.ndarray,
                  given: dict[int, np.ndarray] | None = None,
                  sampling: str = "random") -> np.ndarray:
    """theta (n, columns): every parameter's value in each draw of ``draw_ids``.

    Parameters
    ----------
    given
        ``{column: values for these draws}`` set instead of sampled (sensitivity designs).
    sampling
        ``"random"`` (counter-based uniforms), ``"lhs"`` or ``"sobol"`` (module docstring).
    """
    n = len(draw_ids)
    theta = np.empty((n, len(table.paths)))
    u = None
    for j, d in enumerate(table.dists):
        if given and j in given:
            theta[:, j] = given[j]
        elif isinstance(d, Fixed):
            theta[:, j] = d.value
        else:
            if u is None:
                u = param_uniforms(table, seed, draw_ids, sampling)
            theta[:, j] = d.ppf(u[:, j])
    return theta
