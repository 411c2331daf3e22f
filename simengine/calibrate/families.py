"""The three dwell and value families (lognormal, gamma, Weibull), parametrised for the
optimiser: scenario parameters, starting values, and the log density and log survival function
with their derivatives."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special, stats

FAMILIES = ("lognormal", "gamma", "weibull")
SCIPY = {"lognormal": stats.lognorm, "gamma": stats.gamma, "weibull": stats.weibull_min}


# --- the three families, parametrised for the optimiser ---------------------------------------
# lognormal and gamma: (log mean, log cv); Weibull: (log shape, log scale). These are the
# scenario's own parameters on the log scale, so the delta method to them is a plain exp.
def scenario_params(family: str, a: float, b: float) -> dict[str, float]:
    """The scenario's parameters (``mean``/``cv`` or ``shape``/``scale``)."""
    if family == "weibull":
        return {"shape": math.exp(a), "scale": math.exp(b)}
    return {"mean": math.exp(a), "cv": math.exp(b)}


def start_from_moments(family: str, mean: float, cv: float) -> tuple[float, float]:
    mean, cv = max(mean, 1e-6), min(max(cv, 0.05), 20.0)
    if family == "weibull":
        k = min(max(cv ** -1.086, 0.1), 50.0)  # Justus et al. (1978) approximation
        return math.log(k), math.log(mean / math.gamma(1 + 1 / k))
    return math.log(mean), math.log(cv)


def mean_cv(family: str, a: float, b: float) -> tuple[float, float]:
    if family == "weibull":
        k, lam = math.exp(a), math.exp(b)
        g1, g2 = math.gamma(1 + 1 / k), math.gamma(1 + 2 / k)
        return lam * g1, math.sqrt(max(g2 / (g1 * g1) - 1, 0.0))
    return math.exp(a), math.exp(b)


def frozen(family: str, a: float, b: float):
    """The fitted distribution as a frozen ``scipy.stats`` object."""
    if family == "lognormal":
        s2 = math.log1p(math.exp(2 * b))
        return stats.lognorm(s=math.sqrt(s2), scale=math.exp(a - s2 / 2))
    if family == "gamma":
        k = math.exp(-2 * b)
        return stats.gamma(k, scale=math.exp(a + 2 * b))
    return stats.weibull_min(math.exp(a), scale=math.exp(b))


def scipy_censored_start(family: str, events: np.ndarray, censored: np.ndarray
                         ) -> tuple[float, float] | None:
    """Starting values from ``scipy.stats`` on ``CensoredData`` (right-censored, loc 0)."""
    events = events[events > 0]
    if len(events) < 3:
        return None
    if np.ptp(events) == 0:
        return None
    data = stats.CensoredData(uncensored=events, right=censored[censored > 0])
    try:
        # only a starting point: scipy's own warnings about its optimiser do not matter here
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            shape, _, scale = SCIPY[family].fit(data, floc=0)
    except (ValueError, RuntimeError, FloatingPointError):
        return None
    if not (np.isfinite(shape) and np.isfinite(scale) and shape > 0 and scale > 0):
        return None
    if family == "lognormal":
        s2 = shape * shape
        return math.log(scale) + s2 / 2, 0.5 * math.log(math.expm1(s2))
    if family == "gamma":
        return math.log(shape * scale), -0.5 * math.log(shape)
    return math.log(shape), math.log(scale)


# --- derivatives of the log density and log survival function ------------------------------
def pdf_d(family: str, a: float, b: float, x: np.ndarray):
    """log f(x) and its partial derivatives in a, b and x."""
    lx = np.log(x)
    if family == "lognormal":
        e2 = math.exp(2 * b)
        s2 = math.log1p(e2)
        s = math.sqrt(s2)
        D = 2 * e2 / (1 + e2)  # d sigma^2 / db
        s_b = D / (2 * s)
        z = (lx - a + s2 / 2) / s
        g = -lx - math.log(s) - 0.5 * math.log(2 * math.pi) - 0.5 * z * z
        ga = z / s
        gb = -s_b / s - z * D / (2 * s) + z * z * s_b / s
        gx = (-1.0 - z / s) / x
        return g, ga, gb, gx
    if family == "gamma":
        k = math.exp(-2 * b)
        lth = a + 2 * b
        y = x * math.exp(-lth)
        ly = lx - lth
        g = (k - 1) * ly - y - special.gammaln(k) - lth
        ga = y - k
        gb = (ly - special.digamma(k)) * (-2 * k) + 2 * (y - k)
        gx = (k - 1) / x - math.exp(-lth)
        return g, ga, gb, gx
    k = math.exp(a)
    ly = lx - b
    y = np.exp(k * ly)
    g = a - b + (k - 1) * ly - y
    ga = 1 + k * ly - k * ly * y
    gb = -k + k * y
    gx = ((k - 1) - k * y) / x
    return g, ga, gb, gx


def sf_d(family: str, a: float, b: float, x: np.ndarray):
    """log S(x) and its partial derivatives in a, b and x."""
    lx = np.log(x)
    if family == "lognormal":
        e2 = math.exp(2 * b)
        s2 = math.log1p(e2)
        s = math.sqrt(s2)
        D = 2 * e2 / (1 + e2)
        s_b = D / (2 * s)
        z = (lx - a + s2 / 2) / s
        h = special.log_ndtr(-z)
        lam = np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - h)  # phi(z) / Phi(-z)
        ha = lam / s
        hb = -lam * (D / (2 * s) - z * s_b / s)
        hx = -lam / (s * x)
        return h, ha, hb, hx
    if family == "gamma":
        k = math.exp(-2 * b)
        lth = a + 2 * b
        y = x * math.exp(-lth)
        with np.errstate(divide="ignore", under="ignore"):
            h = np.log(np.maximum(special.gammaincc(k, y), 1e-300))
            dk = 1e-5 * k
            hk = (np.log(np.maximum(special.gammaincc(k + dk, y), 1e-300))
                  - np.log(np.maximum(special.gammaincc(k - dk, y), 1e-300))) / (2 * dk)
            d_lth = np.exp(k * np.log(y) - y - special.gammaln(k) - h)
        ha = d_lth
        hb = hk * (-2 * k) + 2 * d_lth
        hx = -d_lth / x
        return h, ha, hb, hx
    k = math.exp(a)
    ly = lx - b
    y = np.exp(k * ly)
    return -y, -k * ly * y, k * y, -k * y / x


def logpdf_logsf(family: str, a: float, b: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log density and log survival function at ``x`` (> 0)."""
    return pdf_d(family, a, b, x)[0], sf_d(family, a, b, x)[0]
