"""Per-draw parameters: one value of every column of the parameter table for each draw.

Uniforms come from the counter-based generator keyed by (seed, draw, parameter path), so a
draw's parameters do not depend on the chunk it is computed in. Correlated columns go through a
Gaussian copula (normal scores multiplied by the Cholesky factor of their correlation), then each
column through its distribution's inverse CDF.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from simengine import codes
from simengine.compile import ParamTable
from simengine.kernels.rng import uniforms
from simengine.scenario.distributions import Fixed


def param_uniforms(table: ParamTable, seed: int, draw_ids: np.ndarray) -> np.ndarray:
    """Uniforms (n, columns) of the per-draw parameters, after the copula."""
    u = uniforms(seed, draw_ids, table.keys, codes.P_PARAM)
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
                  given: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """theta (n, columns): every parameter's value in each draw of ``draw_ids``.

    Parameters
    ----------
    given
        ``{column: values for these draws}`` set instead of sampled (sensitivity designs,
        quasi-random sampling).
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
                u = param_uniforms(table, seed, draw_ids)
            theta[:, j] = d.ppf(u[:, j])
    return theta
