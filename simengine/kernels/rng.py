"""Counter-based random numbers: every number is a pure function of what it is for.

A key is a 64-bit integer derived from (seed, draw, source, day, k) by SplitMix64 mixing; the
i-th number of a key is ``mix64(key + (i + 1) * GOLDEN)``, which is exactly the SplitMix64
sequence started at ``key`` (Steele, Lea & Flood 2014; passes BigCrush). The counter ``i`` packs
(visit, purpose, attempt) so each use of randomness has its own number. Nothing carries state,
so results do not depend on threads, chunking or backend, and a prospect that exists in two
scenarios draws the same numbers in both (common random numbers).
"""

from __future__ import annotations

import numpy as np
from numba import float64, int64, njit, uint64

GOLDEN = uint64(0x9E3779B97F4A7C15)
_M1 = uint64(0xBF58476D1CE4E5B9)
_M2 = uint64(0x94D049BB133111EB)
_TWO53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(uint64(uint64), cache=True, nogil=True, inline="always")
def mix64(z):
    """SplitMix64 finaliser (Stafford's Mix13): a bijection with full avalanche."""
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(uint64(uint64, uint64), cache=True, nogil=True, inline="always")
def derive(key, x):
    """A child key of ``key`` for the integer label ``x`` (a draw, source, day or index)."""
    return mix64(key ^ mix64(x * GOLDEN + uint64(0x632BE59BD9B4E019)))


@njit(uint64(int64, int64, int64), cache=True, nogil=True, inline="always")
def counter(visit, purpose, attempt):
    """Pack (visit < 2**40, purpose < 256, attempt < 256) into one counter."""
    return (uint64(visit) << uint64(16)) | (uint64(purpose) << uint64(8)) | uint64(attempt)


@njit(float64(uint64, uint64), cache=True, nogil=True, inline="always")
def uniform(key, ctr):
    """A float64 in the open interval (0, 1) for (key, counter)."""
    z = mix64(uint64(key) + (uint64(ctr) + uint64(1)) * GOLDEN)  # unsigned throughout
    return (float(z >> uint64(11)) + 0.5) * _TWO53


@njit(uint64(int64), cache=True, nogil=True, inline="always")
def seed_key(seed):
    """Root key of a seed (any integer in [0, 2**63); 0 is a seed like any other)."""
    return mix64(uint64(seed) + uint64(0x243F6A8885A308D3))


@njit(uint64(uint64, int64), cache=True, nogil=True)
def draw_key(root, draw):
    return derive(root, uint64(draw))


@njit(cache=True, nogil=True, error_model="numpy")
def fill_uniforms(seed, draws, keys, purpose, out):
    """``out[i, j]`` = uniform for (draw ``draws[i]``, key ``keys[j]``, purpose).

    Used outside the kernels for per-draw parameters and initial-pipeline quantities.
    """
    root = seed_key(uint64(seed))
    for i in range(draws.shape[0]):
        dk = draw_key(root, draws[i])
        for j in range(keys.shape[0]):
            out[i, j] = uniform(derive(dk, keys[j]), counter(0, purpose, 0))


def uniforms(seed: int, draws: np.ndarray, keys: np.ndarray, purpose: int) -> np.ndarray:
    """Uniforms of shape (len(draws), len(keys)) keyed by (seed, draw, key, purpose)."""
    out = np.empty((len(draws), len(keys)))
    fill_uniforms(np.int64(seed), np.asarray(draws, np.int64),
                  np.asarray(keys, np.uint64), purpose, out)
    return out
