"""Deal values: the family and parameters of a stage's or segment's deal values
(:func:`fit_values`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from simengine.calibrate.families import (
    FAMILIES,
    logpdf_logsf,
    mean_cv,
    scenario_params,
    scipy_censored_start,
    start_from_moments,
)
from simengine.calibrate.stage_model import covariance, numeric_hessian


@dataclass
class ValueFit:
    family: str
    a: float
    b: float
    cov: np.ndarray
    n: int
    sample_mean: float
    sample_sd: float
    aic: dict[str, float]

    def params(self) -> dict[str, float]:
        if self.family == "fixed":
            return {"value": self.a}
        return scenario_params(self.family, self.a, self.b)

    def param_se(self) -> dict[str, float]:
        p = self.params()
        if self.family == "fixed":
            return {"value": 0.0}
        names = list(p)
        return {names[0]: p[names[0]] * math.sqrt(self.cov[0, 0]),
                names[1]: p[names[1]] * math.sqrt(self.cov[1, 1])}

    def mean(self) -> float:
        if self.family == "fixed":
            return self.a
        return mean_cv(self.family, self.a, self.b)[0]


def fit_values(x: np.ndarray, families: tuple[str, ...] = FAMILIES) -> ValueFit:
    """Deal values (all observed: won deals' close values) by maximum likelihood, AIC choice."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x > 0)]
    if len(x) == 0:
        raise ValueError("no values")
    if len(x) < 3 or np.ptp(x) == 0:  # one value (e.g. a list price): a fixed deal value
        return ValueFit("fixed", float(np.median(x)), 0.0, np.zeros((2, 2)), len(x),
                        float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0, {})
    fits = {}
    for fam in families:
        got = scipy_censored_start(fam, x, np.zeros(0)) or start_from_moments(
            fam, x.mean(), x.std() / x.mean())

        def nll(p, fam=fam):
            lp, _ = logpdf_logsf(fam, p[0], p[1], x)
            v = -float(lp.sum())
            return v if np.isfinite(v) else 1e300

        bounds = [(-5.0, 5.0), (-10.0, 25.0)] if fam == "weibull" else [(-10.0, 25.0),
                                                                       (-6.0, 4.0)]
        res = optimize.minimize(nll, np.clip(np.array(got), *np.array(bounds).T),
                                method="L-BFGS-B", bounds=bounds)
        fits[fam] = (res.x, float(res.fun), nll)
    aic = {fam: 4 + 2 * f for fam, (_, f, _) in fits.items()}
    fam = min(aic, key=aic.get)
    p, _, nll = fits[fam]
    cov, _ = covariance(numeric_hessian(nll, p))
    return ValueFit(fam, float(p[0]), float(p[1]), cov, len(x), float(x.mean()),
                    float(x.std(ddof=1)) if len(x) > 1 else 0.0, aic)
