"""Standard normals of a block of prospects, in loops that vectorise.

A standard normal is ``ndtri(uniform(key, counter))``, as :func:`samplers.sample` draws it; over
a block, the uniforms and ndtri's central part (85 % of draws) run in one branch-free loop and
only the tails go through :func:`samplers.ndtri`. Inlined into the kernels: its arguments are
arrays, and a call that takes arrays costs reference counting.
"""

from __future__ import annotations

from numba import njit

from simengine.kernels.rng import uniform
from simengine.kernels.samplers import NDTRI_CENTRAL, ndtri, ndtri_central


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def block_normals(keys, ctrs, m, u, z, tails):
    """``z[j] = ndtri(uniform(keys[j], ctrs[j]))`` for ``j < m``; ``u`` receives the uniforms.

    ``tails`` is scratch of at least ``m`` entries.
    """
    for j in range(m):
        uj = uniform(keys[j], ctrs[j])
        u[j] = uj
        z[j] = ndtri_central(uj)
    nt = 0
    for j in range(m):
        tails[nt] = j
        nt += abs(u[j] - 0.5) > NDTRI_CENTRAL
    for jj in range(nt):
        j = tails[jj]
        z[j] = ndtri(u[j])
