"""The arrival level and trend: a state-space model of the monthly arrival counts.

A trailing mean lags behind a lead flow that steps up or grows; a local level follows it. The
log of each complete month's arrivals per day is modelled as a local level (a random walk plus
month-to-month noise) or, when the history is long enough and AIC prefers it, a local level with
a drift (a random walk with drift plus noise: the lead flow grows or shrinks by a steady
percentage a month). Both are fitted by maximum likelihood with statsmodels'
``UnobservedComponents`` (Kalman filter, diffuse initial state). The forecast of each future
month gives the median arrival rate and the variance of its log, which grows with the horizon
by the level's random walk and, with a drift, by the uncertainty of the drift itself.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_MONTHS_TREND = 6  # fewer complete months: a drift is not considered (it would be noise)
MIN_MONTHS = 3  # fewer: no state-space fit; the plain rate with its month-to-month spread


@dataclass
class LevelFit:
    """Fitted arrival level (and drift) on the log scale of arrivals per day.

    Attributes
    ----------
    model : str
        ``"local level"``, ``"local level with drift"`` or ``"constant"`` (too few months).
    level, level_var : float
        Filtered log level at the last complete month and its variance.
    drift, drift_se : float
        Drift per month of the log level (0 without one) and its standard error.
    level_sd, noise_sd : float
        s.d. of the level's monthly random-walk step and of the month-to-month noise.
    months : int
        Complete months used.
    aic : dict
        AIC of each model tried.
    """

    model: str
    level: float
    level_var: float
    drift: float
    drift_se: float
    level_sd: float
    noise_sd: float
    months: int
    aic: dict
    level_drift_cov: float = 0.0
    poisson_var: float = 0.0  # the part of the noise variance that counting alone explains

    def forecast(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Median log rate and variance of the log rate ``h`` months after the last one."""
        h = np.asarray(h, float)
        mean = self.level + self.drift * h
        var = (self.level_var + 2 * h * self.level_drift_cov + self.drift_se ** 2 * h ** 2
               + self.level_sd ** 2 * h + self.noise_sd ** 2)
        return mean, var


def fit_level(rates: pd.Series, counts: pd.Series) -> LevelFit:
    """Fit the level of the monthly arrival rates (per day) of complete months, in order.

    Parameters
    ----------
    rates
        Arrivals per day of each complete month (after any month-of-year pattern is taken out).
    counts
        Arrivals of each of those months (for the Poisson part of the month-to-month noise).
    """
    y = np.log(np.maximum(np.asarray(rates, float), 1e-9))
    n = len(y)
    poisson_var = float(np.mean(1.0 / np.maximum(np.asarray(counts, float), 1.0)))
    if n < MIN_MONTHS:
        var = float(np.var(y, ddof=1)) if n > 1 else 0.0
        return LevelFit("constant", float(np.mean(y)), var / max(n, 1), 0.0, 0.0, 0.0,
                        math.sqrt(max(var, poisson_var)), n, {}, 0.0, poisson_var)
    import statsmodels.api as sm

    fits = {}
    specs = {"local level": "llevel"}
    if n >= MIN_MONTHS_TREND:
        specs["local level with drift"] = "lldtrend"
    for name, spec in specs.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on short series
            res = sm.tsa.UnobservedComponents(y, level=spec).fit(disp=False)
        fits[name] = res
    aic = {k: float(r.aic) for k, r in fits.items()}
    name = min(aic, key=lambda k: (aic[k], k != "local level"))
    res = fits[name]
    p = dict(zip(res.model.param_names, np.asarray(res.params, float), strict=True))
    state = np.asarray(res.filtered_state)[:, -1]
    cov = np.asarray(res.filtered_state_cov)[:, :, -1]
    noise_var = max(p.get("sigma2.irregular", 0.0), poisson_var)
    level_var_step = max(p.get("sigma2.level", 0.0), 0.0)
    drift, drift_se, cross = 0.0, 0.0, 0.0
    if name != "local level":
        drift, drift_se = float(state[1]), math.sqrt(max(cov[1, 1], 0.0))
        cross = float(cov[0, 1])
    return LevelFit(name, float(state[0]), float(max(cov[0, 0], 0.0)), drift, drift_se,
                    math.sqrt(level_var_step), math.sqrt(noise_var), n, aic, cross, poisson_var)
