"""How precise a run is, and how many draws an ``until_se`` run aims for next.

The standard errors are those of P(goal) and of the P50 of bookings. Under quasi-random sampling
the draws are not independent; the blocks of the design are, so the spread of their estimates
gives the error (:func:`estimate`).
"""

from __future__ import annotations

import math

import numpy as np

from simengine.compile import Compiled
from simengine.engine.chunks import RawResult
from simengine.engine.plan import RunPlan
from simengine.engine.sampling import BLOCK, block_of
from simengine.errors import SimEngineError
from simengine.stats import Precision, goal_probability, quantile_se

MIN_BLOCKS = 8  # quasi-random runs: blocks needed before their spread gives the standard error


def annual(raw: RawResult) -> np.ndarray:
    """Bookings over the horizon per draw (row sums: the same bits whatever the chunk)."""
    return np.ascontiguousarray(raw.out.revenue).sum(axis=1)


class Tracker:
    """Bookings and success of every draw so far, gathered from parts in any order."""

    def __init__(self, annual: np.ndarray | None = None, ok: np.ndarray | None = None):
        self._annual = [np.zeros(0) if annual is None else annual]
        self._ok = [np.zeros(0, bool) if ok is None else ok]
        self._n = len(self._annual[0])
        self._parts: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, raw: RawResult) -> None:
        self._parts[raw.first_draw] = (annual(raw), ~raw.failed)
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


def estimate(annual: np.ndarray, ok: np.ndarray, goal: float, sampling: str,
             draw_ids: np.ndarray | None = None) -> Precision:
    """The precision of a run from its bookings per draw (``ok``: the draws that succeeded)."""
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


def next_target(cs: Compiled, track: Tracker, n: int, plan: RunPlan
                ) -> tuple[Precision, int | None]:
    """The precision after ``n`` draws and the size of the run to aim for next (None: stop).

    A function of the first ``n`` draws only, so a resumed run takes the same steps. Sizes are
    multiples of the design block: the same whatever the chunking or backend.
    """
    goal = float(cs.scenario.goal.revenue) if cs.scenario.goal else math.nan
    prec = estimate(track.annual[:n], track.ok[:n], goal, plan.sampling)
    target, cap = plan.until_se, plan.max_draws
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
