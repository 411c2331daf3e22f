"""The month-of-quarter clock: calendar time between two dates split by month of quarter,
and the clock speeds of the three months."""

from __future__ import annotations

import numpy as np


class Clock:
    """Days spent in each month of the quarter between day points (for month-of-quarter speeds).

    Dates are day numbers (days since 1970-01-01). ``span(x0, x1)`` is an (n, 3) array: the
    time between the points ``x0`` and ``x1`` (fractional days) split by month of quarter.
    """

    def __init__(self, first: int, last: int):
        self.first = int(first) - 2
        days = np.arange(self.first, int(last) + 3)
        months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        self.moq_of = (months % 12) % 3
        onehot = np.zeros((len(days) + 1, 3))
        onehot[1:][np.arange(len(days)), self.moq_of] = 1.0
        self.cum = np.cumsum(onehot, axis=0)  # cum[d - first] = days before day d, by moq

    def moq(self, day: np.ndarray) -> np.ndarray:
        return self.moq_of[np.asarray(day, np.int64) - self.first]

    def at(self, x: np.ndarray) -> np.ndarray:
        """Cumulative days by month of quarter up to the point ``x`` (fractional day number)."""
        x = np.asarray(x, float)
        d = np.floor(x).astype(np.int64)
        frac = (x - d)[:, None]
        base = self.cum[d - self.first]
        step = np.zeros((len(x), 3))
        step[np.arange(len(x)), self.moq(d)] = 1.0
        return base + frac * step

    def span(self, x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
        return np.maximum(self.at(x1) - self.at(x0), 0.0)


def speeds(eta: np.ndarray) -> np.ndarray:
    """Month-of-quarter clock speeds with mean 1 from two free log-speeds (the third is 0)."""
    e = np.exp(np.array([eta[0], eta[1], 0.0]))
    return e / e.mean()


def dspeeds(sp: np.ndarray) -> np.ndarray:
    """d speeds[m] / d eta[j] for the two free log-speeds: shape (3, 2)."""
    J = -np.outer(sp, sp[:2]) / 3.0
    J[0, 0] += sp[0]
    J[1, 1] += sp[1]
    return J
