"""Distributions of the scenario format: validation, moments, support and inverse CDFs.

A *value* in a scenario is a number or ``{dist: NAME, ...params}``. Where a value is a
per-prospect quantity (dwell, deal value, recycle delay, patience, age), each parameter of its
distribution may itself be a per-draw distribution; everywhere else a distribution is sampled once
per draw and its parameters must be numbers.

Each distribution converts its (per-draw) parameters to *natural parameters*, a row of four floats
that the kernels' samplers read (layout in :mod:`simengine.codes`), and to a frozen
``scipy.stats`` distribution for vectorised CDFs and inverse CDFs.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import BeforeValidator, Discriminator, Field, Tag, model_serializer, model_validator

from simengine import codes
from simengine._lazy import LazyModule
from simengine.scenario.base import Model, Problems, fmt

stats = LazyModule("scipy.stats")  # a second of imports that reading a scenario never needs
# Sampling a draw's parameters and the size check need only these special functions (a third of
# a second to import): the inverse CDFs and means below are scipy.stats' own formulas, written
# out so that they give scipy.stats' numbers bit for bit without importing it.
special = LazyModule("scipy.special")
_NORM_PDF_C = np.sqrt(2 * np.pi)

INF = math.inf


def _is_number(v: Any) -> bool:
    """A plain number, or a parameter that was given as one (read as :class:`Fixed`)."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) or isinstance(v, Fixed)


def _to_number(v: Any) -> Any:
    """YAML 1.1 reads ``1e6`` as a string; accept numeric strings as numbers."""
    if isinstance(v, str):
        try:
            return float(v.replace("_", ""))
        except ValueError:
            return v
    return v


def _lo(x: Any) -> float:
    return float(x) if _is_number(x) else x.support()[0]


def _hi(x: Any) -> float:
    return float(x) if _is_number(x) else x.support()[1]


def _mean(x: Any) -> float:
    return float(x) if _is_number(x) else x.mean()


def _inverse(q: Any, core, ok: Any, scale: Any, loc: Any, a: float, b: float) -> np.ndarray:
    """``rv_continuous.ppf`` of scipy.stats around the standard inverse CDF ``core(q)``: the
    support's ends (``a``, ``b`` of the standard form) at q = 0 and 1, NaN outside [0, 1] or
    where the parameters are impossible (not ``ok``), ``core(q) * scale + loc`` inside."""
    q = np.asarray(q, dtype=float)
    ok = np.asarray(ok) & (np.asarray(scale) > 0) & (np.asarray(loc) == np.asarray(loc))
    with np.errstate(all="ignore"):
        inner = np.clip(q, 0.5 ** 1074, 1.0 - 2.0 ** -53)  # core is not read where q is 0 or 1
        x = core(inner) * scale + loc
        out = np.where(ok & (q == 0), a * scale + loc, np.nan)
        out = np.where(ok & (q == 1), b * scale + loc, out)
        out = np.where(ok & (q > 0) & (q < 1), x, out)
    return out[()] if out.ndim == 0 else out


def _moment(mu: Any, ok: Any, scale: Any, loc: Any) -> np.ndarray:
    """``rv_continuous.mean`` of scipy.stats from the standard form's mean ``mu``."""
    ok = np.asarray(ok) & (np.asarray(scale) > 0) & (np.asarray(loc) == np.asarray(loc))
    with np.errstate(all="ignore"):
        out = np.where(ok, mu * scale + loc, np.nan)
    return out[()] if out.ndim == 0 else out


def norm_ppf(q: Any) -> np.ndarray:
    """``scipy.stats.norm.ppf``, bit for bit (scipy.special only)."""
    return _inverse(q, special.ndtri, True, 1.0, 0.0, -INF, INF)


def norm_cdf(x: Any) -> np.ndarray:
    """``scipy.stats.norm.cdf``, bit for bit (scipy.special only)."""
    x = (np.asarray(x, dtype=float) - 0.0) / 1.0
    out = special.ndtr(x)
    return out[()] if np.ndim(out) == 0 else out


def norm_pdf(x: Any) -> np.ndarray:
    """``scipy.stats.norm.pdf``, bit for bit (NumPy only)."""
    x = (np.asarray(x, dtype=float) - 0.0) / 1.0
    out = np.where(np.isnan(x), np.nan, np.exp(-x ** 2 / 2.0) / _NORM_PDF_C / 1.0)
    return out[()] if np.ndim(out) == 0 else out


def normal_hint(lo: float, hi: float) -> str:
    """How to keep an (unbounded) normal inside [lo, hi]: the keys to add, and the alternatives."""
    bounds = ", ".join(f"{k}: {fmt(v)}" for k, v in (("low", lo), ("high", hi)) if math.isfinite(v))
    others = "beta/uniform/pert" if hi <= 1 else "lognormal/gamma"
    return f" (a normal is unbounded: add {bounds} to truncate it, or use {others})"


class Dist(Model):
    """Common behaviour of every distribution."""

    kind: ClassVar[int]
    param_names: ClassVar[tuple[str, ...]]

    # -- parameters -------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """Numeric parameters by name: numbers or (per-draw) distributions."""
        return {name: getattr(self, name) for name in self.param_names}

    def is_flat(self) -> bool:
        """True when every parameter is a number (so it can be sampled once per draw)."""
        return all(_is_number(v) for v in self.params().values())

    def is_fixed(self) -> bool:
        return False

    # -- moments and support (with nested parameters at their extremes / means) -----------
    def support(self) -> tuple[float, float]:
        raise NotImplementedError

    def mean(self) -> float:
        raise NotImplementedError

    # -- natural parameters ---------------------------------------------------------------
    def natural(self, p: dict[str, np.ndarray]) -> np.ndarray:
        """Natural parameters, shape (n, 4), from per-draw parameter arrays of shape (n,).

        Rows whose parameters are impossible (e.g. a beta whose sd is too large for its mean)
        are NaN, which marks that draw as failed.
        """
        raise NotImplementedError

    @staticmethod
    def frozen(nat: np.ndarray) -> Any:
        """A frozen scipy distribution broadcasting over natural parameters ``nat[..., 4]``."""
        raise NotImplementedError

    @staticmethod
    def nat_ppf(nat: np.ndarray, u: Any) -> np.ndarray:
        """``frozen(nat).ppf(u)``, the same numbers, without importing scipy.stats."""
        raise NotImplementedError

    @staticmethod
    def nat_mean(nat: np.ndarray) -> np.ndarray:
        """``frozen(nat).mean()``, the same numbers, without importing scipy.stats."""
        raise NotImplementedError

    # -- sampling once per draw ----------------------------------------------------------
    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF at ``u`` (a flat distribution: numeric parameters)."""
        nat = self.natural({k: np.atleast_1d(float(v)) for k, v in self.params().items()})
        return np.asarray(self.nat_ppf(nat[0], u), dtype=float)

    # -- validation -----------------------------------------------------------------------
    def _check(self, probs: Problems) -> None:
        """Parameter constraints; nested distributions are checked through their support."""

    @model_validator(mode="after")
    def _validate(self) -> Dist:
        probs = Problems()
        self._check(probs)
        probs.raise_if_any()
        return self

    def _need(self, probs: Problems, name: str, lo: float = -INF, hi: float = INF,
              lo_open: bool = False, hi_open: bool = False, what: str = "") -> None:
        """Require parameter ``name`` (number or nested distribution) to lie in the interval."""
        v = getattr(self, name)
        name = name.rstrip("_")
        a, b = _lo(v), _hi(v)
        if not _is_number(v) and not isinstance(v, Empirical):
            lo_open = hi_open = False  # a continuous distribution does not attain its end points
        bad = (a < lo or (lo_open and a <= lo)) or (b > hi or (hi_open and b >= hi))
        if bad:
            interval = f"{'(' if lo_open else '['}{fmt(lo)}, {fmt(hi)}{')' if hi_open else ']'}"
            expected = what or f"a number in {interval}"
            if _is_number(v):
                probs.add(name, expected, v)
            elif isinstance(v, Normal):
                probs.add(name, f"{expected}{normal_hint(lo, hi)}",
                          f"{v.dist} ranging over [{fmt(a)}, {fmt(b)}]", raw=True)
            else:
                probs.add(name, f"{expected} (a distribution whose every value is in it)",
                          f"{v.dist} ranging over [{fmt(a)}, {fmt(b)}]", raw=True)


class Fixed(Dist):
    """A number that does not vary; a bare number in a scenario is read as this."""

    dist: Literal["fixed"] = "fixed"
    value: float
    kind: ClassVar[int] = codes.FIXED
    param_names: ClassVar[tuple[str, ...]] = ("value",)

    @model_serializer(mode="plain")
    def _as_number(self) -> float:
        v = self.value
        return int(v) if float(v).is_integer() and abs(v) < 1e15 else v

    def is_fixed(self) -> bool:
        return True

    def __float__(self) -> float:
        return float(self.value)

    def support(self):
        return (self.value, self.value)

    def mean(self):
        return self.value

    def natural(self, p):
        n = len(p["value"])
        out = np.full((n, 4), 0.0)
        out[:, 0] = p["value"]
        return out

    def ppf(self, u):
        return np.full(np.shape(u), float(self.value))


class Uniform(Dist):
    dist: Literal["uniform"]
    low: Value
    high: Value
    kind: ClassVar[int] = codes.UNIFORM
    param_names: ClassVar[tuple[str, ...]] = ("low", "high")

    def _check(self, probs):
        if _is_number(self.low) and _is_number(self.high) and not _hi(self.low) < _lo(self.high):
            probs.add("high", f"a number > low ({fmt(self.low)})", self.high)

    def support(self):
        return (_lo(self.low), _hi(self.high))

    def mean(self):
        return (_mean(self.low) + _mean(self.high)) / 2

    def natural(self, p):
        lo, hi = p["low"], p["high"]
        out = np.zeros((len(lo), 4))
        out[:, 0], out[:, 1] = lo, hi
        out[~(hi > lo)] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        return stats.uniform(loc=nat[..., 0], scale=nat[..., 1] - nat[..., 0])

    @staticmethod
    def nat_ppf(nat, u):
        lo, hi = nat[..., 0], nat[..., 1]
        return _inverse(u, lambda q: q, True, hi - lo, lo, 0.0, 1.0)

    @staticmethod
    def nat_mean(nat):
        lo, hi = nat[..., 0], nat[..., 1]
        return _moment(0.5, True, hi - lo, lo)


class Triangular(Dist):
    dist: Literal["triangular"]
    low: Value
    mode: Value
    high: Value
    kind: ClassVar[int] = codes.TRIANGULAR
    param_names: ClassVar[tuple[str, ...]] = ("low", "mode", "high")

    def _check(self, probs):
        _check_three_point(self, probs)

    def support(self):
        return (_lo(self.low), _hi(self.high))

    def mean(self):
        return (_mean(self.low) + _mean(self.mode) + _mean(self.high)) / 3

    def natural(self, p):
        lo, mo, hi = p["low"], p["mode"], p["high"]
        out = np.zeros((len(lo), 4))
        out[:, 0], out[:, 1], out[:, 2] = lo, mo, hi
        out[~((lo <= mo) & (mo <= hi) & (lo < hi))] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        lo, mo, hi = nat[..., 0], nat[..., 1], nat[..., 2]
        return stats.triang(c=(mo - lo) / (hi - lo), loc=lo, scale=hi - lo)

    @staticmethod
    def nat_ppf(nat, u):
        lo, mo, hi = nat[..., 0], nat[..., 1], nat[..., 2]
        with np.errstate(all="ignore"):
            c = (mo - lo) / (hi - lo)

        def core(q):
            return np.where(q < c, np.sqrt(c * q), 1 - np.sqrt((1 - c) * (1 - q)))

        return _inverse(u, core, (c >= 0) & (c <= 1), hi - lo, lo, 0.0, 1.0)

    @staticmethod
    def nat_mean(nat):
        lo, mo, hi = nat[..., 0], nat[..., 1], nat[..., 2]
        with np.errstate(all="ignore"):
            c = (mo - lo) / (hi - lo)
            return _moment((c + 1.0) / 3.0, (c >= 0) & (c <= 1), hi - lo, lo)


class Pert(Dist):
    """PERT(low, mode, high): a beta on [low, high] with shape 4 (the classic three-point
    estimate)."""

    dist: Literal["pert"]
    low: Value
    mode: Value
    high: Value
    kind: ClassVar[int] = codes.PERT
    param_names: ClassVar[tuple[str, ...]] = ("low", "mode", "high")

    def _check(self, probs):
        _check_three_point(self, probs)

    def support(self):
        return (_lo(self.low), _hi(self.high))

    def mean(self):
        return (_mean(self.low) + 4 * _mean(self.mode) + _mean(self.high)) / 6

    def natural(self, p):
        lo, mo, hi = p["low"], p["mode"], p["high"]
        width = hi - lo
        out = np.zeros((len(lo), 4))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, 0], out[:, 1] = lo, width
            out[:, 2] = 1 + 4 * (mo - lo) / width
            out[:, 3] = 1 + 4 * (hi - mo) / width
        out[~((lo <= mo) & (mo <= hi) & (lo < hi))] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        return stats.beta(nat[..., 2], nat[..., 3], loc=nat[..., 0], scale=nat[..., 1])

    @staticmethod
    def nat_ppf(nat, u):
        return _beta_ppf(nat[..., 2], nat[..., 3], u, nat[..., 1], nat[..., 0])

    @staticmethod
    def nat_mean(nat):
        return _beta_mean(nat[..., 2], nat[..., 3], nat[..., 1], nat[..., 0])


def _beta_ppf(a, b, u, scale=1.0, loc=0.0):
    return _inverse(u, lambda q: special.betaincinv(a, b, q), (a > 0) & (b > 0), scale, loc,
                    0.0, 1.0)


def _beta_mean(a, b, scale=1.0, loc=0.0):
    with np.errstate(all="ignore"):
        return _moment(a / (a + b), (a > 0) & (b > 0), scale, loc)


def _check_three_point(d: Triangular | Pert, probs: Problems) -> None:
    if all(_is_number(v) for v in (d.low, d.mode, d.high)):
        lo, mo, hi = float(d.low), float(d.mode), float(d.high)
        if not lo < hi:
            probs.add("high", f"a number > low ({fmt(lo)})", hi)
        elif not lo <= mo <= hi:
            probs.add("mode", f"a number in [low, high] = [{fmt(lo)}, {fmt(hi)}]", mo)


class Normal(Dist):
    """Normal(mean, sd), optionally truncated to [low, high] (by inversion, so exactly)."""

    dist: Literal["normal"]
    mean_: Value = Field(alias="mean")
    sd: Value
    low: float | None = None
    high: float | None = None
    kind: ClassVar[int] = codes.NORMAL
    param_names: ClassVar[tuple[str, ...]] = ("mean", "sd")



    def params(self):
        return {"mean": self.mean_, "sd": self.sd}

    def _check(self, probs):
        self._need(probs, "sd", lo=0, lo_open=True)
        if self.low is not None and self.high is not None and not self.low < self.high:
            probs.add("high", f"a number > low ({fmt(self.low)})", self.high)

    def support(self):
        return (-INF if self.low is None else self.low, INF if self.high is None else self.high)

    def mean(self):
        m = _mean(self.mean_)
        if self.low is None and self.high is None:
            return m
        nat = self.natural({"mean": np.array([m]), "sd": np.array([_mean(self.sd)])})
        return float(self.frozen(nat[0]).mean())

    def natural(self, p):
        m, s = p["mean"], p["sd"]
        out = np.zeros((len(m), 4))
        out[:, 0], out[:, 1] = m, s
        with np.errstate(divide="ignore", invalid="ignore"):
            a = -np.inf if self.low is None else (self.low - m) / s
            b = np.inf if self.high is None else (self.high - m) / s
            out[:, 2] = norm_cdf(a)
            out[:, 3] = norm_cdf(b)
        out[~((s > 0) & (out[:, 3] > out[:, 2]))] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        return _TruncNormal(nat)

    @staticmethod
    def nat_ppf(nat, u):
        return _TruncNormal(nat).ppf(u)

    @staticmethod
    def nat_mean(nat):
        return _TruncNormal(nat).mean()

    def ppf(self, u):
        nat = self.natural({"mean": np.atleast_1d(float(self.mean_)),
                            "sd": np.atleast_1d(float(self.sd))})
        return _TruncNormal(nat[0]).ppf(u)


class _TruncNormal:
    """Inverse-CDF view of a normal truncated to the probability band [Phi(a), Phi(b)]."""

    def __init__(self, nat: np.ndarray):
        self.m, self.s, self.pa, self.pb = (nat[..., i] for i in range(4))

    def ppf(self, u):
        return self.m + self.s * norm_ppf(self.pa + np.asarray(u) * (self.pb - self.pa))

    def cdf(self, x):
        c = (norm_cdf((np.asarray(x) - self.m) / self.s) - self.pa) / (self.pb - self.pa)
        return np.clip(c, 0.0, 1.0)

    def mean(self):
        a, b = norm_ppf(self.pa), norm_ppf(self.pb)
        return self.m + self.s * (norm_pdf(a) - norm_pdf(b)) / (self.pb - self.pa)


class _MeanCV(Dist):
    """A positive distribution given by its mean and coefficient of variation."""

    dist: str
    mean_: Value = Field(alias="mean")
    cv: Value
    param_names: ClassVar[tuple[str, ...]] = ("mean", "cv")

    def params(self):
        return {"mean": self.mean_, "cv": self.cv}

    def _check(self, probs):
        self._need(probs, "mean_", lo=0, lo_open=True, what="a mean > 0")
        self._need(probs, "cv", lo=0, lo_open=True, what="a coefficient of variation > 0")

    def support(self):
        return (0.0, INF)

    def mean(self):
        return _mean(self.mean_)


class Lognormal(_MeanCV):
    """Lognormal given by its mean and coefficient of variation on the natural scale."""

    dist: Literal["lognormal"]
    kind: ClassVar[int] = codes.LOGNORMAL

    def natural(self, p):
        m, cv = p["mean"], p["cv"]
        out = np.zeros((len(m), 4))
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma = np.sqrt(np.log1p(cv * cv))
            out[:, 0] = np.log(m) - sigma * sigma / 2
            out[:, 1] = sigma
        out[~((m > 0) & (cv > 0))] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        return stats.lognorm(s=nat[..., 1], scale=np.exp(nat[..., 0]))

    @staticmethod
    def nat_ppf(nat, u):
        s = nat[..., 1]
        return _inverse(u, lambda q: np.exp(s * special.ndtri(q)), s > 0, np.exp(nat[..., 0]),
                        0.0, 0.0, INF)

    @staticmethod
    def nat_mean(nat):
        s = nat[..., 1]
        with np.errstate(all="ignore"):
            return _moment(np.sqrt(np.exp(s * s)), s > 0, np.exp(nat[..., 0]), 0.0)


class Gamma(_MeanCV):
    """Gamma given by its mean and coefficient of variation."""

    dist: Literal["gamma"]
    kind: ClassVar[int] = codes.GAMMA

    def natural(self, p):
        m, cv = p["mean"], p["cv"]
        out = np.zeros((len(m), 4))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, 0] = 1.0 / (cv * cv)
            out[:, 1] = m * cv * cv
        out[~((m > 0) & (cv > 0))] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        return stats.gamma(nat[..., 0], scale=nat[..., 1])

    @staticmethod
    def nat_ppf(nat, u):
        a = nat[..., 0]
        return _inverse(u, lambda q: special.gammaincinv(a, q), a > 0, nat[..., 1], 0.0, 0.0,
                        INF)

    @staticmethod
    def nat_mean(nat):
        a = nat[..., 0]
        return _moment(a, a > 0, nat[..., 1], 0.0)


class Weibull(Dist):
    dist: Literal["weibull"]
    shape: Value
    scale: Value
    kind: ClassVar[int] = codes.WEIBULL
    param_names: ClassVar[tuple[str, ...]] = ("shape", "scale")

    def _check(self, probs):
        self._need(probs, "shape", lo=0, lo_open=True)
        self._need(probs, "scale", lo=0, lo_open=True)

    def support(self):
        return (0.0, INF)

    def mean(self):
        return _mean(self.scale) * math.gamma(1 + 1 / _mean(self.shape))

    def natural(self, p):
        k, lam = p["shape"], p["scale"]
        out = np.zeros((len(k), 4))
        out[:, 0], out[:, 1] = k, lam
        out[~((k > 0) & (lam > 0))] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        return stats.weibull_min(nat[..., 0], scale=nat[..., 1])

    @staticmethod
    def nat_ppf(nat, u):
        c = nat[..., 0]
        return _inverse(u, lambda q: pow(-special.log1p(-q), 1.0 / c), c > 0, nat[..., 1], 0.0,
                        0.0, INF)

    @staticmethod
    def nat_mean(nat):
        c = nat[..., 0]
        with np.errstate(all="ignore"):
            return _moment(special.gamma(1.0 + 1 * 1.0 / c), c > 0, nat[..., 1], 0.0)


class Exponential(Dist):
    dist: Literal["exponential"]
    mean_: Value = Field(alias="mean")
    kind: ClassVar[int] = codes.EXPONENTIAL
    param_names: ClassVar[tuple[str, ...]] = ("mean",)



    def params(self):
        return {"mean": self.mean_}

    def _check(self, probs):
        self._need(probs, "mean_", lo=0, lo_open=True, what="a mean > 0")

    def support(self):
        return (0.0, INF)

    def mean(self):
        return _mean(self.mean_)

    def natural(self, p):
        m = p["mean"]
        out = np.zeros((len(m), 4))
        out[:, 0] = m
        out[~(m > 0)] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        return stats.expon(scale=nat[..., 0])

    @staticmethod
    def nat_ppf(nat, u):
        return _inverse(u, lambda q: -special.log1p(-q), True, nat[..., 0], 0.0, 0.0, INF)

    @staticmethod
    def nat_mean(nat):
        return _moment(1.0, True, nat[..., 0], 0.0)


class Beta(Dist):
    """Beta given by mean and standard deviation (for probabilities)."""

    dist: Literal["beta"]
    mean_: Value = Field(alias="mean")
    sd: Value
    kind: ClassVar[int] = codes.BETA
    param_names: ClassVar[tuple[str, ...]] = ("mean", "sd")



    def params(self):
        return {"mean": self.mean_, "sd": self.sd}

    def _check(self, probs):
        m, s = self.mean_, self.sd
        if _is_number(m) and _is_number(s):
            m, s = float(m), float(s)
        self._need(probs, "mean_", lo=0, hi=1, lo_open=True, hi_open=True,
                   what="a mean in (0, 1)")
        self._need(probs, "sd", lo=0, lo_open=True)
        if _is_number(m) and _is_number(s) and 0 < m < 1 and s > 0 and s * s >= m * (1 - m):
            limit = math.sqrt(m * (1 - m))
            probs.add("sd", f"an sd < sqrt(mean*(1-mean)) = {limit:.4g} for a beta with mean "
                      f"{fmt(m)} (a larger spread is impossible)", s)

    def support(self):
        return (0.0, 1.0)

    def mean(self):
        return _mean(self.mean_)

    def natural(self, p):
        m, s = p["mean"], p["sd"]
        out = np.zeros((len(m), 4))
        with np.errstate(divide="ignore", invalid="ignore"):
            nu = m * (1 - m) / (s * s) - 1
            out[:, 0], out[:, 1] = m * nu, (1 - m) * nu
        out[~((m > 0) & (m < 1) & (s > 0) & (nu > 0))] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        return stats.beta(nat[..., 0], nat[..., 1])

    @staticmethod
    def nat_ppf(nat, u):
        return _beta_ppf(nat[..., 0], nat[..., 1], u)

    @staticmethod
    def nat_mean(nat):
        return _beta_mean(nat[..., 0], nat[..., 1])


class Empirical(Dist):
    """Draws one of ``values`` (with optional relative ``weights``)."""

    dist: Literal["empirical"]
    values: list[float]
    weights: list[float] | None = None
    kind: ClassVar[int] = codes.EMPIRICAL
    param_names: ClassVar[tuple[str, ...]] = ()

    def _check(self, probs):
        if not self.values:
            probs.add("values", "a non-empty list of numbers", self.values)
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                probs.add("weights", f"{len(self.values)} weights (one per value)",
                          f"{len(self.weights)} weights", raw=True)
            elif any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                probs.add("weights", "non-negative weights with a positive sum", self.weights)

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted values and their cumulative probabilities."""
        v = np.asarray(self.values, dtype=float)
        w = np.ones_like(v) if self.weights is None else np.asarray(self.weights, dtype=float)
        order = np.argsort(v, kind="stable")
        v, w = v[order], w[order]
        cum = np.cumsum(w) / w.sum()
        cum[-1] = 1.0
        return v, cum

    def support(self):
        return (min(self.values), max(self.values)) if self.values else (0.0, 0.0)

    def mean(self):
        v, cum = self.table()
        return float(np.sum(v * np.diff(np.concatenate([[0.0], cum]))))

    def natural(self, p):
        raise TypeError("empirical tables are laid out by the compiler")

    def ppf(self, u):
        v, cum = self.table()
        idx = np.searchsorted(cum, np.asarray(u), side="left")
        return v[np.minimum(idx, len(v) - 1)]

    def frozen_table(self):
        return _EmpiricalView(*self.table())


class _EmpiricalView:
    def __init__(self, v, cum):
        self.v, self.cum = v, cum

    def ppf(self, u):
        idx = np.searchsorted(self.cum, np.asarray(u), side="left")
        return self.v[np.minimum(idx, len(self.v) - 1)]

    def cdf(self, x):
        idx = np.searchsorted(self.v, np.asarray(x), side="right")
        return np.where(idx > 0, self.cum[np.maximum(idx - 1, 0)], 0.0)


DIST_CLASSES: dict[str, type[Dist]] = {
    "fixed": Fixed, "uniform": Uniform, "triangular": Triangular, "pert": Pert,
    "normal": Normal, "lognormal": Lognormal, "gamma": Gamma, "weibull": Weibull,
    "exponential": Exponential, "beta": Beta, "empirical": Empirical,
}
DIST_NAMES = tuple(DIST_CLASSES)
KIND_CLASSES: dict[int, type[Dist]] = {c.kind: c for c in DIST_CLASSES.values()}


def _number_to_fixed(v: Any) -> Any:
    v = _to_number(v)
    if _is_number(v):
        return {"dist": "fixed", "value": v}
    if isinstance(v, dict) and any(_PERCENTILE.match(str(k)) for k in v):
        return from_percentiles(v)
    return v


# --- distributions given by percentiles ---------------------------------------------------------
_PERCENTILE = re.compile(r"^[pP](\d{1,2}(?:\.\d+)?)$")
# how many percentiles each distribution takes, and its natural parameters they replace
_BY_PERCENTILES = {"normal": (2, ("mean", "sd")), "lognormal": (2, ("mean", "cv")),
                   "gamma": (2, ("mean", "cv")), "weibull": (2, ("shape", "scale")),
                   "beta": (2, ("mean", "sd")), "uniform": (2, ("low", "high")),
                   "exponential": (1, ("mean",)), "triangular": (3, ("low", "mode", "high")),
                   "pert": (3, ("low", "mode", "high"))}
_SUPPORT = {"lognormal": (0, INF), "gamma": (0, INF), "weibull": (0, INF),
            "exponential": (0, INF), "beta": (0, 1)}


def from_percentiles(spec: dict[str, Any]) -> dict[str, Any]:
    """``{dist: NAME, p10: a, p90: b}`` -> the same distribution in its natural parameters, with
    exactly those percentiles (two for two-parameter distributions, one for the exponential,
    three, e.g. P5 / P50 / P95, for triangular and PERT).

    A normal may keep ``low`` / ``high``: the percentiles are then those of the truncated normal.

    Raises
    ------
    pydantic_core.PydanticCustomError
        One problem per wrong key, in the scenario's ``file:line: path: expected, found`` form.
    """
    probs = Problems()
    name = spec.get("dist")
    levels = sorted((float(_PERCENTILE.match(str(k)).group(1)), str(k)) for k in spec
                    if _PERCENTILE.match(str(k)))
    if name not in _BY_PERCENTILES:
        probs.add("dist", "a distribution given by percentiles, one of "
                  f"{', '.join(_BY_PERCENTILES)}", name)
        probs.raise_if_any()
    need, natural = _BY_PERCENTILES[name]
    extra = [k for k in natural if k in spec]
    if extra:
        probs.add(extra[0], f"either {', '.join(natural)} or percentiles for a {name}",
                  "both", raw=True)
    if len(levels) != need:
        example = {1: "p50", 2: "p10, p90", 3: "p5, p50, p95"}[need]
        probs.add(levels[-1][1], f"{need} percentile{'s' if need > 1 else ''} for a {name} "
                  f"(e.g. {example})",
                  f"{len(levels)} ({', '.join(k for _, k in levels)})", raw=True)
    probs.raise_if_any()
    ps, xs = [], []
    lo, hi = _SUPPORT.get(name, (-INF, INF))
    for level, key in levels:
        x = _to_number(spec[key])
        if not _is_number(x):
            probs.add(key, "a number (percentiles take no distributions)", x)
            continue
        x = float(x)
        if not 0 < level < 100:
            probs.add(key, "a percentile level between 0 and 100 (p1 ... p99)", key)
        elif not (lo <= x <= hi and (lo == -INF or x > lo) and (hi == INF or x < hi)):
            probs.add(key, f"a value in ({fmt(lo)}, {fmt(hi)}) for a {name}", x)
        elif xs and not x > xs[-1]:
            probs.add(key, f"a value above {levels[len(xs) - 1][1]} ({fmt(xs[-1])})", x)
        ps.append(level / 100)
        xs.append(x)
    probs.raise_if_any()
    rest = {k: v for k, v in spec.items() if not _PERCENTILE.match(str(k))}
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # trial points of the solvers
            params = _fit(name, np.array(ps), np.array(xs), rest)
    except (ValueError, ArithmeticError, RuntimeError) as exc:
        probs.add(levels[0][1], f"percentiles that a {name} can have ({exc})",
                  ", ".join(f"{k}: {fmt(x)}" for (_, k), x in zip(levels, xs, strict=True)),
                  raw=True)
        probs.raise_if_any()
    return {**rest, **params}


def _fit(name: str, p: np.ndarray, x: np.ndarray, rest: dict[str, Any]) -> dict[str, float]:
    """Natural parameters of ``name`` whose quantiles at ``p`` are ``x``, checked to 1e-9."""
    from scipy import optimize

    z = stats.norm.ppf(p)
    if name == "normal" and rest.get("low") is None and rest.get("high") is None:
        sd = (x[1] - x[0]) / (z[1] - z[0])
        out = {"mean": x[0] - sd * z[0], "sd": sd}
    elif name == "lognormal":
        lx = np.log(x)
        s = (lx[1] - lx[0]) / (z[1] - z[0])
        mu = lx[0] - s * z[0]
        out = {"mean": math.exp(mu + s * s / 2), "cv": math.sqrt(math.expm1(s * s))}
    elif name == "weibull":
        w = np.log(-np.log1p(-p))
        k = (w[1] - w[0]) / (math.log(x[1]) - math.log(x[0]))
        out = {"shape": k, "scale": x[0] / math.exp(w[0] / k)}
    elif name == "exponential":
        out = {"mean": -x[0] / math.log1p(-p[0])}
    elif name == "uniform":
        width = (x[1] - x[0]) / (p[1] - p[0])
        out = {"low": x[0] - p[0] * width, "high": x[0] - p[0] * width + width}
    elif name == "gamma":
        ratio = math.log(x[1] / x[0])

        def gap(logk: float) -> float:
            k = math.exp(logk)
            return math.log(stats.gamma.ppf(p[1], k) / stats.gamma.ppf(p[0], k)) - ratio

        k = math.exp(optimize.brentq(gap, -3.0, 25.0, xtol=1e-14, rtol=1e-14))
        scale = x[0] / stats.gamma.ppf(p[0], k)
        out = {"mean": k * scale, "cv": 1 / math.sqrt(k)}
    else:
        out = _fit_numeric(name, p, x, rest)
    got = _quantiles(name, out, rest, p)
    if not np.allclose(got, x, rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(x).max()))):
        raise ValueError(f"no {name} has these percentiles" + (
            ": one side is too long for its shape; try " + (
                "pert, lognormal or gamma" if name == "triangular" else "lognormal or gamma")
            if name in ("triangular", "pert") else ""))
    return {k: float(v) for k, v in out.items()}


def _quantiles(name: str, params: dict[str, float], rest: dict[str, Any],
               p: np.ndarray) -> np.ndarray:
    d = DIST_CLASSES[name].model_validate({"dist": name, **rest, **params})
    return d.ppf(p)


def _fit_numeric(name: str, p: np.ndarray, x: np.ndarray, rest: dict[str, Any]
                 ) -> dict[str, float]:
    """Least squares in unconstrained coordinates (beta, triangular, PERT, truncated normal)."""
    from scipy import optimize

    span = float(x[-1] - x[0])
    if name == "beta":
        def unpack(t):
            a, b = np.exp(t)
            return {"mean": a / (a + b), "sd": math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))}
        z = stats.norm.ppf(p)
        starts = []
        for m0 in (float(np.mean(x)), float(np.sqrt(x[0] * x[-1]))):
            for sd0 in (span / (z[-1] - z[0]), span / 2, span / 8):
                nu = m0 * (1 - m0) / sd0**2 - 1
                if nu > 0:
                    starts.append(np.log([m0 * nu, (1 - m0) * nu]))
        starts.append(np.log([1.0, 1.0]))
    elif name == "normal":  # truncated: the percentiles are the truncated distribution's
        z = stats.norm.ppf(p)

        def unpack(t):
            return {"mean": t[0], "sd": math.exp(t[1])}
        sd0 = span / (z[1] - z[0])
        starts = [np.array([x[0] - sd0 * z[0], math.log(sd0)])]
    else:  # triangular, PERT: low < mode < high around the three percentiles
        def unpack(t):
            low = t[0]
            high = low + math.exp(t[1])
            return {"low": low, "mode": low + (high - low) / (1 + math.exp(-t[2])),
                    "high": high}
        starts = [np.array([x[0] - f * span, math.log((1 + 2 * f) * span), c])
                  for f in (0.1, 0.5, 1.0) for c in (-1.0, 0.0, 1.0)]

    def resid(t):
        try:
            return (_quantiles(name, unpack(t), rest, p) - x) / span
        except Exception:  # a trial point outside the distribution's domain
            return np.full(len(p), 1e6)

    best = None
    for t0 in starts:
        sol = optimize.least_squares(resid, t0, xtol=1e-15, ftol=1e-15, gtol=1e-15,
                                     max_nfev=600)
        if best is None or sol.cost < best.cost:
            best = sol
        if best.cost < 1e-24:
            break
    return unpack(best.x)


def _dist_tag(v: Any) -> str | None:
    name = v.get("dist") if isinstance(v, dict) else getattr(v, "dist", None)
    return f"dist:{name}" if name in DIST_CLASSES else None


Value = Annotated[
    Union[tuple(Annotated[cls, Tag(f"dist:{name}")] for name, cls in DIST_CLASSES.items())],  # noqa: UP007
    Discriminator(
        _dist_tag,
        custom_error_type="se_dist",
        custom_error_message="expected a number or a distribution {dist: NAME, ...}",
    ),
    BeforeValidator(_number_to_fixed),
]
"""A number or a distribution (parameters of a per-prospect distribution may be distributions)."""

for _cls in DIST_CLASSES.values():
    _cls.model_rebuild()


# --- dates: a date or a distribution of dates -----------------------------------------------------
class DateDist(Model):
    """An uncertain date: uniform, triangular, PERT or empirical over ISO dates."""

    dist: Literal["uniform", "triangular", "pert", "empirical"]
    low: dt.date | None = None
    mode: dt.date | None = None
    high: dt.date | None = None
    values: list[dt.date] | None = None
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _validate(self) -> DateDist:
        need = {"uniform": ("low", "high"), "triangular": ("low", "mode", "high"),
                "pert": ("low", "mode", "high"), "empirical": ("values",)}[self.dist]
        probs = Problems()
        for k in ("low", "mode", "high", "values", "weights"):
            given = getattr(self, k) is not None
            if k in need and not given:
                probs.add(k, f"a {'list of dates' if k == 'values' else 'date'} "
                          f"for a {self.dist} date", "nothing")
            elif given and k not in need and not (k == "weights" and self.dist == "empirical"):
                probs.add(k, f"only {', '.join(need)} for a {self.dist} date", k)
        probs.raise_if_any()
        try:
            self.to_days(dt.date(2000, 1, 1))
        except Exception as exc:  # the numeric distribution says what is wrong
            probs.add("", "a valid date distribution", str(exc).splitlines()[-1], raw=True)
        probs.raise_if_any()
        return self

    def to_days(self, origin: dt.date) -> Dist:
        """The same distribution over days since ``origin``."""
        def d(x: dt.date) -> float:
            return float((x - origin).days)

        if self.dist == "empirical":
            return Empirical(dist="empirical", values=[d(x) for x in self.values],
                             weights=self.weights)
        kw = {k: d(getattr(self, k)) for k in ("low", "mode", "high") if getattr(self, k)}
        return DIST_CLASSES[self.dist](dist=self.dist, **kw)


def _date_tag(v: Any) -> str:
    return "date:dist" if isinstance(v, (dict, DateDist)) else "date:date"


DateValue = Annotated[
    Annotated[dt.date, Tag("date:date")] | Annotated[DateDist, Tag("date:dist")],
    Discriminator(_date_tag),
]
"""A date, or a distribution of dates (sampled once per draw)."""
