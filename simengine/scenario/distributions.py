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
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import BeforeValidator, Discriminator, Field, Tag, model_serializer, model_validator
from scipy import stats

from simengine import codes
from simengine.scenario.base import Model, Problems, fmt

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

    # -- sampling once per draw ----------------------------------------------------------
    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF at ``u`` (a flat distribution: numeric parameters)."""
        nat = self.natural({k: np.atleast_1d(float(v)) for k, v in self.params().items()})
        return np.asarray(self.frozen(nat[0]).ppf(u), dtype=float)

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


class Pert(Dist):
    """PERT(low, mode, high): a beta on [low, high] with shape 4 (the classic three-point estimate)."""

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
            out[:, 2] = stats.norm.cdf(a)
            out[:, 3] = stats.norm.cdf(b)
        out[~((s > 0) & (out[:, 3] > out[:, 2]))] = np.nan
        return out

    @staticmethod
    def frozen(nat):
        return _TruncNormal(nat)

    def ppf(self, u):
        nat = self.natural({"mean": np.atleast_1d(float(self.mean_)),
                            "sd": np.atleast_1d(float(self.sd))})
        return _TruncNormal(nat[0]).ppf(u)


class _TruncNormal:
    """Inverse-CDF view of a normal truncated to the probability band [Phi(a), Phi(b)]."""

    def __init__(self, nat: np.ndarray):
        self.m, self.s, self.pa, self.pb = (nat[..., i] for i in range(4))

    def ppf(self, u):
        return self.m + self.s * stats.norm.ppf(self.pa + np.asarray(u) * (self.pb - self.pa))

    def cdf(self, x):
        c = (stats.norm.cdf((np.asarray(x) - self.m) / self.s) - self.pa) / (self.pb - self.pa)
        return np.clip(c, 0.0, 1.0)

    def mean(self):
        a, b = stats.norm.ppf(self.pa), stats.norm.ppf(self.pb)
        return self.m + self.s * (stats.norm.pdf(a) - stats.norm.pdf(b)) / (self.pb - self.pa)


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
    return v


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
