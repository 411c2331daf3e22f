"""Estimators of Monte Carlo output: P(bookings >= target) with its standard error and Wilson
interval, the standard error of a quantile, and the precision of a result's headline numbers.

Plain numpy on arrays of per-draw figures; imports nothing of simengine, so every layer that
reports an estimate (the run driver, the analyses, the report) uses the same formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


@dataclass(frozen=True)
class GoalProbability:
    """P(annual bookings >= target) estimated from the draws.

    Attributes
    ----------
    p : float
        Share of draws that reach the target.
    se : float
        Monte Carlo standard error, sqrt(p (1 - p) / n).
    n : int
        Draws used (failed draws excluded).
    low, high : float
        95 % Wilson score interval, honest also when p is 0 or 1.
    target : float
        The threshold the share is of.
    """

    p: float
    se: float
    n: int
    low: float
    high: float
    target: float

    def draws_for(self, se: float) -> int:
        """Draws needed for a standard error of ``se`` at this p (at least p = 0.5 if unknown)."""
        p = self.p if 0 < self.p < 1 else 0.5
        return int(math.ceil(p * (1 - p) / se**2))

    def __str__(self) -> str:
        return f"{self.p:.1%} ± {self.se:.1%}"


def goal_probability(x: np.ndarray, target: float) -> GoalProbability:
    """Share of the values ``x`` (one per successful draw) at or above ``target``.

    Returns the share with its binomial standard error and 95 % Wilson score interval. ``x``
    must not be empty.
    """
    x = np.asarray(x)
    n = len(x)
    k = int(np.sum(x >= target))
    p = k / n
    z = Z95
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return GoalProbability(p, math.sqrt(p * (1 - p) / n), n, max(0.0, centre - half),
                           min(1.0, centre + half), float(target))


def quantile_se(x: np.ndarray, q: float) -> float:
    """Monte Carlo standard error of the q-quantile from the order-statistic (binomial) interval."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    if n < 10:
        return float("nan")
    lo = int(max(0, math.floor(n * q - math.sqrt(n * q * (1 - q)))))
    hi = int(min(n - 1, math.ceil(n * q + math.sqrt(n * q * (1 - q)))))
    return float((x[hi] - x[lo]) / 2)


@dataclass(frozen=True)
class Precision:
    """Monte Carlo standard errors of the two headline numbers of a result.

    Attributes
    ----------
    draws : int
        Successful draws.
    prob_goal, prob_goal_se : float
        P(bookings >= goal) and its standard error (NaN without a goal).
    p50, p50_se : float
        Median of bookings over the horizon and its standard error (currency).
    method : str
        ``"binomial"`` (independent draws: ``sqrt(p (1 - p) / n)`` and the order-statistic
        interval of :func:`quantile_se`) or ``"blocks"`` (quasi-random sampling: the spread of
        the estimates of the independent design blocks, scaled to the whole run).
    blocks : int
        Blocks behind a ``"blocks"`` estimate.
    """

    draws: int
    prob_goal: float
    prob_goal_se: float
    p50: float
    p50_se: float
    method: str
    blocks: int = 0

    @property
    def p50_relative_se(self) -> float:
        return self.p50_se / abs(self.p50) if self.p50 else (0.0 if self.p50_se == 0 else
                                                              math.inf)

    def met(self, target: float) -> bool:
        """Both standard errors at most ``target`` (P(goal) absolute, P50 relative). A P(goal)
        of 0 or 1 counts as having a standard error of at least 1 / draws."""
        if math.isfinite(self.prob_goal):
            if max(self.prob_goal_se, 1.0 / max(self.draws, 1)) > target:
                return False
        return self.p50_relative_se <= target


__all__ = ["GoalProbability", "goal_probability", "quantile_se", "Precision"]
