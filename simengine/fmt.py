"""Numbers as people read them: money, percentages, days, dates and parameter or lever values.

Every console table, figure label, report sentence and explorer readout formats through these
functions, so one figure reads the same everywhere. Imports nothing of simengine (a leaf).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

NBSP = "\u00a0"
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}  # other currencies keep their code after the number
DASH = "–"  # what a missing (NaN) figure reads as

__all__ = ["money", "amount", "pct", "days", "date", "param_value", "unit_value", "lever_value",
           "lever_formatter", "SYMBOLS", "NBSP"]


def money(x: float, currency: str = "USD") -> str:
    """$1.2M, $350k, $900 (other currencies keep their code); a missing figure as '–'."""
    if not math.isfinite(x):
        return DASH
    sign = "-" if x < 0 else ""
    x = abs(x)
    sym = SYMBOLS.get(currency, "")
    suffix = "" if sym else f" {currency}"
    if x >= 1e9:
        text = f"{x / 1e9:.1f}B"
    elif x >= 1e6:
        text = f"{x / 1e6:.1f}M"
    elif x >= 1e3:
        text = f"{x / 1e3:.0f}k"
    else:
        text = f"{x:.0f}"
    return f"{sign}{sym}{text}{suffix}"


def amount(x: float, currency: str = "USD") -> str:
    """Money with the precision a reader wants: $1,304 below ten thousand, $912k, $25.1M."""
    if not np.isfinite(x):
        return DASH
    if abs(x) >= 10_000:
        return money(x, currency)
    text = money(x, currency)
    return text.replace(text.lstrip("-$€£").split(" ")[0], f"{abs(x):,.0f}", 1)


def pct(p: float, decimals: int | None = None, sep: str = "") -> str:
    """47%, 3.5%, 0.4%: whole percents from 9.5 % up (where one decimal would round to ten),
    one decimal below; ``sep`` goes between the number and the sign (the report: a non-breaking
    space)."""
    if not np.isfinite(p):
        return DASH
    if decimals is None:
        decimals = 0 if abs(p) >= 0.095 or p == 0 else 1
    return f"{100 * p:.{decimals}f}{sep}%"


def days(x: float) -> str:
    if not np.isfinite(x):
        return DASH
    if x >= 10 or round(x, 1) == round(x):
        return f"{x:,.0f}{NBSP}days"
    return f"{x:,.1f}{NBSP}days"


def date(d: Any) -> str:
    """31 Mar 2027."""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d[:10])
    elif isinstance(d, np.datetime64):
        d = d.astype("datetime64[D]").astype(object)
    return f"{d.day} {d:%b %Y}"


def param_value(x: float, kind: str, currency: str = "USD", start: str | None = None) -> str:
    """A sampled parameter value in the unit its path implies (``kind``: 'money', 'share',
    'days', 'date' relative to ``start``, or 'number')."""
    if not np.isfinite(x):
        return DASH
    if kind == "money":
        if abs(x) >= 100:
            return amount(x, currency)
        text = money(x, currency)  # cents matter on a cost per lead, unless there are none
        cents = f"{abs(x):.0f}" if float(x).is_integer() else f"{abs(x):.2f}"
        return text.replace(text.lstrip("-$€£").split(" ")[0], cents, 1)
    if kind == "share":
        return pct(x, 1 if x < 0.1 else 0, NBSP)
    if kind == "days":
        return days(x)
    if kind == "date" and start:
        return date(dt.date.fromisoformat(start) + dt.timedelta(days=float(x)))
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def lever_value(kind: str, x: float, currency: str) -> str:
    """A lever value in words (``kind``: 'money', 'probability', 'count', 'multiplier' or
    another): money as $240k, probabilities in %, counts whole."""
    if not math.isfinite(x):
        return "n/a"
    if kind == "money":
        return money(x, currency)
    if kind == "probability":
        return f"{100 * x:.1f} %" if x >= 0.01 or x == 0 else f"{100 * x:.2f} %"
    if kind == "count":
        return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 or abs(x) >= 100 else f"{x:,.1f}"
    if kind == "multiplier":
        return f"×{x:.2f}"
    return f"{x:g}"


def unit_value(kind: str, x: float, currency: str = "USD") -> str:
    """A parameter's value in the unit of its ``kind`` (see
    :func:`simengine.scenario.paths.kind`): 45%, $39.9k, 35 d, 1,159, 1.05x."""
    if not np.isfinite(x):
        return DASH
    if kind == "probability":
        return pct(x)
    if kind == "money":
        return money(x, currency)
    if kind == "days":
        return f"{x:,.0f} d" if abs(x) >= 10 else f"{x:.1f} d"
    if kind == "count":
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"
    if kind == "multiplier":
        return f"{x:.2f}x"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def lever_formatter(path: str, currency: str):
    """How the values of the lever at parameter ``path`` read in a goal-seek answer."""
    last = path.split(".")[-1]
    if last in ("budget", "cost_per_lead", "fixed", "per_lead", "cost_per_rep_year", "cost") \
            or "deal_value" in path:
        return lambda x: money(x, currency) if abs(x) >= 1000 else f"{x:,.2f} {currency}"
    if last in ("leads", "audience", "count", "headcount"):
        return lambda x: f"{x:,.0f}"
    return lambda x: f"{x:.4g}"
