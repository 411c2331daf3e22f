"""The parameter table: every scalar of a scenario as one column of per-draw values.

A fixed number is a constant column; a distribution is sampled once per draw. Kernels read
``theta[draw, column]``; the columns are named by parameter path, and each path has a stable
64-bit key, so a parameter keeps its random numbers when other parameters are added, removed
or changed (common random numbers across scenarios).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from simengine.errors import ScenarioError
from simengine.scenario.distributions import Dist, Fixed


def path_key(text: str) -> int:
    """A stable 64-bit key of a string (the same in every process and version)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class ParamTable:
    """Columns of per-draw parameters.

    Attributes
    ----------
    paths : tuple of str
        Parameter path of each column.
    dists : tuple of Dist
        Per-draw distribution of each column (:class:`Fixed` for a constant).
    keys : ndarray of uint64
        Random-number key of each column (hash of its path).
    corr_cols : ndarray of int64
        Columns joined by a Gaussian copula, in the order of ``corr_matrix``.
    corr_matrix : ndarray of float64
        Correlation of the normal scores of ``corr_cols`` (converted from rank correlations).
    """

    paths: tuple[str, ...]
    dists: tuple[Dist, ...]
    keys: np.ndarray
    corr_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    corr_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def col(self, path: str) -> int:
        try:
            return self.paths.index(path)
        except ValueError:
            raise KeyError(path) from None

    @property
    def uncertain(self) -> np.ndarray:
        """Indices of the columns that vary between draws."""
        return np.array([i for i, d in enumerate(self.dists) if not isinstance(d, Fixed)],
                        dtype=np.int64)


class TableBuilder:
    """Registers scalars while the compiler walks a scenario."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.dists: list[Dist] = []

    def add(self, path: str, value: Dist | float) -> int:
        if not isinstance(value, Dist):
            value = Fixed(value=float(value))
        if path in self.paths:
            raise ValueError(f"parameter path registered twice: {path}")
        self.paths.append(path)
        self.dists.append(value)
        return len(self.paths) - 1

    def build(self, correlations: list[tuple[str, str, float]]) -> ParamTable:
        keys = np.array([path_key(p) for p in self.paths], dtype=np.uint64)
        cols, matrix = _copula(self.paths, self.dists, correlations)
        return ParamTable(tuple(self.paths), tuple(self.dists), keys, cols, matrix)


def _copula(paths: list[str], dists: list[Dist], correlations: list[tuple[str, str, float]]
            ) -> tuple[np.ndarray, np.ndarray]:
    if not correlations:
        return np.zeros(0, np.int64), np.zeros((0, 0))
    problems: list[str] = []
    cols: list[int] = []
    pairs: list[tuple[int, int, float]] = []
    for i, (a, b, rho) in enumerate(correlations):
        idx = []
        for k, p in enumerate((a, b)):
            where = f"correlations[{i}].between[{k}]"
            if p not in paths:
                near = [q for q in paths if q.split(".")[:2] == p.split(".")[:2]][:6]
                problems.append(f"{where}: expected the path of a parameter"
                                f"{' such as ' + ', '.join(near) if near else ''}, found '{p}'")
            elif isinstance(dists[paths.index(p)], Fixed):
                problems.append(f"{where}: expected an uncertain parameter (a distribution), "
                                f"found '{p}', which is a fixed number")
            else:
                c = paths.index(p)
                if c not in cols:
                    cols.append(c)
                idx.append(cols.index(c))
        if len(idx) == 2:
            if idx[0] == idx[1]:
                problems.append(f"correlations[{i}].between: expected two different parameters, "
                                f"found '{a}' twice")
            else:
                pairs.append((idx[0], idx[1], rho))
    if problems:
        raise ScenarioError(problems)
    n = len(cols)
    rank = np.eye(n)
    for i, j, rho in pairs:
        if rank[i, j] != 0 and rank[i, j] != rho:
            raise ScenarioError(f"correlations: expected one rho per pair, found two for "
                                f"'{paths[cols[i]]}' and '{paths[cols[j]]}'")
        rank[i, j] = rank[j, i] = rho
    if np.linalg.eigvalsh(rank).min() < -1e-12:
        near = nearest_correlation(rank)
        names = [paths[c] for c in cols]
        shown = "; ".join(f"{names[i]} ~ {names[j]}: {near[i, j]:.3f}"
                          for i in range(n) for j in range(i + 1, n) if abs(near[i, j]) > 5e-4)
        raise ScenarioError(
            "correlations: expected a valid correlation matrix (positive semi-definite), found "
            f"one with smallest eigenvalue {np.linalg.eigvalsh(rank).min():.3f}; the nearest "
            f"valid one is: {shown}")
    # rank (Spearman) correlation -> correlation of the normal scores (Pearson's formula)
    normal = 2 * np.sin(np.pi * rank / 6)
    np.fill_diagonal(normal, 1.0)
    if np.linalg.eigvalsh(normal).min() < 1e-10:
        normal = nearest_correlation(normal, floor=1e-8)
    return np.array(cols, dtype=np.int64), normal


def nearest_correlation(a: np.ndarray, floor: float = 0.0, iters: int = 500) -> np.ndarray:
    """The nearest correlation matrix in Frobenius norm (Higham 2002, alternating projections).

    ``floor`` keeps the smallest eigenvalue at least that large (for a Cholesky factor).
    """
    y = np.array(a, dtype=float)
    ds = np.zeros_like(y)
    for _ in range(iters):
        r = y - ds
        w, v = np.linalg.eigh(r)
        x = (v * np.maximum(w, floor)) @ v.T
        ds = x - r
        y = x.copy()
        np.fill_diagonal(y, 1.0)
        if np.linalg.norm(y - x) < 1e-12:
            break
    w, v = np.linalg.eigh(y)
    y = (v * np.maximum(w, floor)) @ v.T
    d = np.sqrt(np.diag(y))
    y = y / np.outer(d, d)
    np.fill_diagonal(y, 1.0)
    return y
