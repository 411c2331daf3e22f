"""Numbers and assumptions in words a budget owner reads: money, chances, dates, distributions."""

from __future__ import annotations

import math
from html import escape
from typing import Any

import numpy as np

from simengine.fmt import NBSP, amount, date, days, money
from simengine.fmt import param_value as format_value
from simengine.fmt import pct as _pct

__all__ = ["money", "amount", "pct", "points", "count", "days", "date", "odds", "describe_dist",
           "parameter_label", "format_value", "esc"]


def esc(x: Any) -> str:
    """HTML-escaped text of anything."""
    return escape(str(x), quote=True)


def pct(p: float, decimals: int | None = None) -> str:
    """47 %, 3.5 %, 0.4 % (a non-breaking space before the sign, as in the brief)."""
    return _pct(p, decimals, NBSP)


def points(se: float) -> str:
    """A standard error of a share in percentage points: '± 1.6 points'."""
    return f"±{NBSP}{100 * se:.1f}{NBSP}points"


def count(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:,.0f}"


def odds(p: float) -> str:
    """A probability as a frequency a non-statistician reads: '9 years out of 10'."""
    for k, n in ((1, 20), (1, 10), (1, 5), (1, 4), (1, 3), (1, 2), (2, 3), (3, 4), (4, 5),
                 (9, 10), (19, 20)):
        if abs(p - k / n) < 0.01:
            return f"{k} in {n}"
    return pct(p)


# --- assumptions --------------------------------------------------------------------------------
_MONEY_KEYS = {"deal_value", "cost_per_lead", "budget", "fixed", "per_lead", "cost",
               "cost_per_rep_year", "revenue"}
_SHARE_KEYS = {"no_decision", "response_rate", "p", "lost", "share", "selling_time",
               "probability"}
_DAY_KEYS = {"dwell", "delay", "patience", "age", "days", "hiring_lag_days"}
_SHAPE_KEYS = {"cv", "shape", "rho", "sd_log", "weights"}


def _kind(path: str) -> str:
    parts = path.replace("[", ".").replace("]", "").split(".")
    keys, last = set(parts), parts[-1]
    if parts[0] == "friction" and last in ("start", "end"):
        return "date"
    if last in _SHAPE_KEYS:
        return "number"
    if keys & _MONEY_KEYS:
        return "money"
    if last in _SHARE_KEYS or (len(parts) > 2 and parts[-2] == "next"):
        return "share"
    # dwell is in days on a stage, a multiplier on a segment or a friction window
    if keys & _DAY_KEYS and (parts[0] in ("stages", "initial_pipeline") or last == "days"):
        return "days"
    return "number"


def _num(v: Any, kind: str, currency: str) -> str:
    if isinstance(v, str):
        return date(v)
    if isinstance(v, dict):
        return f"({describe_dist(v, kind, currency)})"
    if isinstance(v, list):
        return "[" + ", ".join(_num(x, kind, currency) for x in v) + "]"
    return format_value(float(v), kind, currency)


def describe_dist(spec: Any, kind: str = "number", currency: str = "USD") -> str:
    """A distribution in words: ``{dist: triangular, low: 30, mode: 40, high: 55}`` (days) →
    'triangular, 30 days to 55 days, most likely 40 days'."""
    if not isinstance(spec, dict) or "dist" not in spec:
        return _num(spec, kind, currency)
    spec = dict(spec)
    name = spec.pop("dist")

    def v(key: str, k: str = kind) -> str:
        return _num(spec.pop(key), k, currency)

    bits: list[str] = []
    if name in ("triangular", "pert") and {"low", "mode", "high"} <= spec.keys():
        bits.append(f"{v('low')} to {v('high')}, most likely {v('mode')}")
    elif name == "uniform" and {"low", "high"} <= spec.keys():
        bits.append(f"between {v('low')} and {v('high')}")
    elif name == "empirical" and "values" in spec:
        bits.append(f"one of {v('values')[1:-1]}")
        if "weights" in spec:
            bits.append(f"weights {v('weights', 'number')[1:-1]}")
    else:
        for key in ("mean", "sd", "cv", "shape", "scale", "median"):
            if key in spec:
                bits.append(f"{key} {v(key, 'number' if key in ('cv', 'shape') else kind)}")
        if "low" in spec:
            bits.append(f"at least {v('low')}")
        if "high" in spec:
            bits.append(f"at most {v('high')}")
    bits += [f"{key} {_num(val, kind, currency)}" for key, val in spec.items()]
    return f"{name}, " + ", ".join(bits) if bits else name


def parameter_label(path: str) -> str:
    """A plain description of a parameter path (the path itself is shown next to it)."""
    p = path.split(".")
    try:
        if p[0] == "stages":
            stage = p[1]
            if p[2] == "next":
                return f"share of {stage} that moves on to {p[3]}"
            if p[2] == "no_decision":
                return f"share of {stage} that ends in no decision"
            if p[2] == "dwell":
                return f"days in {stage} ({' '.join(p[3:])})"
            if p[2] == "recycle":
                return f"{stage} sent to nurture ({' '.join(p[3:])})"
        if p[0] == "campaigns":
            what = {"cost_per_lead": "cost per lead", "leads": "leads",
                    "response_rate": "response rate", "budget": "budget",
                    "audience": "audience", "quality": "lead quality multiplier"}.get(
                        p[-1], " ".join(p[2:]).replace("_", " "))
            return f"{p[1]}: {what}"
        if p[0] == "segments":
            what = {"dwell": "time-in-stage multiplier", "advance": "conversion multiplier",
                    "share": "share of prospects"}.get(p[2], " ".join(p[2:]).replace("_", " "))
            if p[2:] == ["deal_value", "mean"]:
                what = "mean deal value"
            return f"{p[1]} segment: {what}"
        if p[0] == "friction":
            what = {"start": "start date", "days": "duration", "probability": "chance it "
                    "happens", "dwell": "time-in-stage multiplier", "lost": "extra loss rate",
                    "no_decision": "extra no-decision rate"}.get(p[-1], p[-1].replace("_", " "))
            return f"{p[1]}: {what}"
        if p[0].startswith("initial_pipeline["):
            k = int(p[0].split("[")[1].rstrip("]"))
            return f"pipeline open at the start, entry {k + 1}: {' '.join(p[1:])}"
        if p[0] == "pools":
            return f"{p[1]} team: {' '.join(p[2:]).replace('_', ' ')}"
    except IndexError:
        pass
    return path.replace(".", " › ").replace("_", " ")


def kind_of(path: str) -> str:
    """'money', 'share', 'days', 'date' or 'number': how to print the parameter's values."""
    return _kind(path)


def lookup(scenario: dict, path: str) -> Any:
    """The value at a parameter path in a resolved scenario (named list items by name)."""
    node: Any = scenario
    for part in path.replace("[", ".").replace("]", "").split("."):
        if isinstance(node, list):
            if part.isdigit():
                node = node[int(part)]
            else:
                node = next(x for x in node if isinstance(x, dict) and x.get("name") == part)
        else:
            node = node[part]
    return node


def nice_thresholds(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round amounts between ``lo`` and ``hi`` (for 'chance of at least ...' tables)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return []
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(n + 1) if first + i * step <= hi]
