"""Per-prospect samplers for the kernels: a distribution kind, four natural parameters and a
key -> one value. Inversion where it is cheap (monotone in the uniform, which keeps common random
numbers tight when a parameter changes); Marsaglia-Tsang for gamma and the beta family.
"""

from __future__ import annotations

import math

from numba import njit

from simengine import codes
from simengine.kernels.rng import counter, uniform


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def ndtri(p):
    """Inverse of the standard normal CDF (Wichura 1988, AS241 PPND16; relative error 1e-16)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2509.0809287301226727 * r + 33430.575583588128105) * r
                    + 67265.770927008700853) * r + 45921.953931549871457) * r
                  + 13731.693765509461125) * r + 1971.5909503065514427) * r
                + 133.14166789178437745) * r + 3.387132872796366608)
        den = (((((((5226.495278852545925 * r + 28729.085735721942674) * r
                    + 39307.89580009271061) * r + 21213.794301586595867) * r
                  + 5394.1960214247511077) * r + 687.1870074920579083) * r
                + 42.313330701600911252) * r + 1.0)
        return q * num / den
    r = p if q < 0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r
                    + 0.24178072517745061177) * r + 1.27045825245236838258) * r
                  + 3.64784832476320460504) * r + 5.7694972214606914055) * r
                + 4.6303378461565452959) * r + 1.42343711074968357734)
        den = (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r
                    + 0.0151986665636164571966) * r + 0.14810397642748007459) * r
                  + 0.68976733498510000455) * r + 1.6763848301838038494) * r
                + 2.05319162663775882187) * r + 1.0)
    else:
        r -= 5.0
        num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                    + 0.0012426609473880784386) * r + 0.026532189526576123093) * r
                  + 0.29656057182850489123) * r + 1.7848265399172913358) * r
                + 5.4637849111641143699) * r + 6.6579046435011037772)
        den = (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r
                    + 1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r
                  + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
                + 0.59983220655588793769) * r + 1.0)
    x = num / den
    return -x if q < 0 else x


@njit(cache=True, nogil=True, error_model="numpy")
def gamma_unit(shape, key, visit, purpose, first):
    """Gamma(shape, 1) by Marsaglia & Tsang (2000), attempts numbered from ``first``."""
    boost = 1.0
    a = shape
    if a < 1.0:
        # G(a) = G(a + 1) * U**(1/a)
        boost = uniform(key, counter(visit, purpose, first)) ** (1.0 / a)
        first += 1
        a += 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for attempt in range(first, 255, 2):
        x = ndtri(uniform(key, counter(visit, purpose, attempt)))
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(key, counter(visit, purpose, attempt + 1))
        x2 = x * x
        # Marsaglia & Tsang's squeeze: it implies the log test below, so the value is the same,
        # and it accepts about 98 % of candidates without the two logs
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v * boost
        if math.log(u) < 0.5 * x2 + d - d * v + d * math.log(v):
            return d * v * boost
    return d * boost  # not reached in practice: each attempt accepts with probability > 0.95


@njit(cache=True, nogil=True, error_model="numpy")
def beta_unit(a, b, key, visit, purpose):
    x = gamma_unit(a, key, visit, purpose, 0)
    y = gamma_unit(b, key, visit, purpose, 128)
    return x / (x + y)


@njit(cache=True, nogil=True, error_model="numpy")
def sample(kind, p0, p1, p2, p3, key, visit, purpose):
    """One value of the distribution ``kind`` with natural parameters (p0, p1, p2, p3).

    Scalars only: passing array views into a call costs reference counting per prospect.
    Empirical distributions are drawn by :func:`empirical` instead.
    """
    if kind == codes.FIXED:
        return p0
    if kind == codes.GAMMA:
        return p1 * gamma_unit(p0, key, visit, purpose, 0)
    if kind == codes.BETA:
        return beta_unit(p0, p1, key, visit, purpose)
    if kind == codes.PERT:
        return p0 + p1 * beta_unit(p2, p3, key, visit, purpose)
    u = uniform(key, counter(visit, purpose, 0))
    if kind == codes.LOGNORMAL:
        return math.exp(p0 + p1 * ndtri(u))
    if kind == codes.EXPONENTIAL:
        return -p0 * math.log(u)
    if kind == codes.UNIFORM:
        return p0 + (p1 - p0) * u
    if kind == codes.TRIANGULAR:
        f = (p1 - p0) / (p2 - p0)
        if u < f:
            return p0 + math.sqrt(u * (p2 - p0) * (p1 - p0))
        return p2 - math.sqrt((1.0 - u) * (p2 - p0) * (p2 - p1))
    if kind == codes.NORMAL:
        q = min(max(p2 + u * (p3 - p2), 1e-300), 1.0 - 1.1102230246251565e-16)
        return p0 + p1 * ndtri(q)
    if kind == codes.WEIBULL:
        return p1 * (-math.log(u)) ** (1.0 / p0)
    return math.nan


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def empirical(values, cum, offset, count, u):
    """The first value whose cumulative weight reaches u."""
    lo, hi = offset, offset + count - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return values[lo]


@njit(cache=True, nogil=True, error_model="numpy")
def _stirlerr(n):
    """log(n!) - log(sqrt(2 pi n) (n/e)^n) (Loader 2000, as in R's dpois)."""
    if n <= 15.0:
        return math.lgamma(n + 1.0) - (n + 0.5) * math.log(n) + n - 0.9189385332046727
    nn = n * n
    return (0.0833333333333333333 - (0.00277777777777777778 - (0.00079365079365079365
            - (0.000595238095238095238 - 0.0008417508417508417508 / nn) / nn) / nn) / nn) / n


@njit(cache=True, nogil=True, error_model="numpy")
def _bd0(x, m):
    """x log(x/m) + m - x without cancellation (Loader 2000)."""
    if abs(x - m) < 0.1 * (x + m):
        v = (x - m) / (x + m)
        s = (x - m) * v
        ej = 2.0 * x * v
        v = v * v
        for j in range(1, 1000):
            ej *= v
            s1 = s + ej / (2 * j + 1)
            if s1 == s:
                return s1
            s = s1
        return s
    return x * math.log(x / m) + m - x


@njit(cache=True, nogil=True, error_model="numpy")
def poisson_pmf(k, lam):
    """P(X = k) for X ~ Poisson(lam), accurate to a few ulps even far from the mean."""
    if k == 0:
        return math.exp(-lam)
    return math.exp(-_stirlerr(float(k)) - _bd0(float(k), lam)) / math.sqrt(6.283185307179586 * k)


@njit(cache=True, nogil=True, error_model="numpy")
def poisson(lam, u):
    """Inverse CDF of Poisson(lam) at u: monotone in u and in lam (common random numbers).

    For lam <= 30 the CDF is summed from 0. Above, it is anchored at the mode m, whose
    probability Loader's saddle-point formula gives to a few ulps: the mass below m is summed
    downwards to ``m - 13 sqrt(lam)`` (below which it is < 1e-30), then the walk goes down or up
    from m, so the cost is O(sqrt(lam)). Sums are compensated (Kahan); where the remaining mass
    is below rounding (u within ~1e-16 of 1) the walk stops instead of running on.
    """
    if lam <= 0.0:
        return 0
    if lam <= 30.0:
        k = 0
        pmf = math.exp(-lam)
        cdf = pmf
        while cdf < u and (k < lam or pmf > 1e-17 * cdf):
            k += 1
            pmf *= lam / k
            cdf += pmf
        return k
    m = int(lam)
    p_m = poisson_pmf(m, lam)
    lo = max(0, int(lam - 13.0 * math.sqrt(lam)))
    below = 0.0
    comp = 0.0
    p = p_m
    for j in range(m, lo, -1):
        p *= j / lam
        y = p - comp
        t = below + y
        comp = (t - below) - y
        below = t
    cdf = below + p_m
    k = m
    pmf = p_m
    if u <= cdf:  # walk down: cdf(k - 1) = cdf(k) - pmf(k)
        while k > lo and cdf - pmf >= u:
            cdf -= pmf
            pmf *= k / lam
            k -= 1
        return k
    comp = 0.0
    while cdf < u and pmf > 1e-17 * cdf:
        k += 1
        pmf *= lam / k
        y = pmf - comp
        t = cdf + y
        comp = (t - cdf) - y
        cdf = t
    return k
