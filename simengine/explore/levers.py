"""The explorer's controls: which parameter paths it offers as levers, with labels and ranges.

A lever is a parameter path of the compiled scenario (:mod:`simengine.analysis.levers`); this
module decides which ones a strategy team moves in a meeting — campaign budgets and lead volumes,
pool headcounts and hires, stage conversion rates, deal values, friction strength — and gives each
a label, a group, a unit and a slider range that stays inside what the scenario format accepts.
An uncertain parameter keeps its spread: its slider moves the centre of its distribution.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from simengine.analysis import levers as alv
from simengine.compile import Compiled
from simengine.errors import SimEngineError
from simengine.scenario import Scenario, with_values
from simengine.scenario.distributions import Empirical, Fixed, Normal, Pert, Triangular, Uniform

GROUPS = ("Demand", "Capacity", "Conversion", "Deal size", "Friction", "Added")

# last keys of paths whose values are money (the scenario's currency)
_MONEY_KEYS = ("budget", "cost_per_lead", "fixed", "per_lead", "cost_per_rep_year", "cost")
# last keys of paths that count whole things (prospects, reps)
_COUNT_KEYS = ("headcount", "count", "leads", "audience")
_RANGE_FACTOR = 3.0  # sliders of amounts run up to 3 x the loaded value
_BISECT = 8  # halvings towards the loaded value when a range end is not a valid scenario


@dataclass(frozen=True)
class LeverSpec:
    """One slider of the explorer.

    Attributes
    ----------
    path : str
        Parameter path (the compiled table's name, e.g. ``pools.ae.hires[0].count``).
    label : str
        Short name shown above the slider (``webinar-series budget``).
    group : str
        One of :data:`GROUPS`.
    kind : str
        ``"money"``, ``"count"``, ``"probability"``, ``"multiplier"`` or ``"number"``: how the
        value is written.
    value : float
        The value in the scenario as loaded (the centre of an uncertain parameter).
    start, end, step : float
        Slider range and step; both ends give a valid scenario.
    note : str
        What the slider moves, e.g. ``triangular 26–30: the centre moves, the spread stays``.
    lever : simengine.analysis.levers.Lever
        The lever that applies a value to the scenario.
    """

    path: str
    label: str
    group: str
    kind: str
    value: float
    start: float
    end: float
    step: float
    note: str
    lever: alv.Lever

    @property
    def uncertain(self) -> bool:
        return self.lever.uncertain


# --- which paths ------------------------------------------------------------------------------
_DEFAULT_PATTERNS = (
    r"campaigns\.[^.]+\.volume\.(budget|leads|audience)",
    r"pools\.[^.]+\.headcount",
    r"pools\.[^.]+\.hires\[\d+\]\.count",
    r"stages\.[^.]+\.next\.[^.]+",
    r"(segments\.[^.]+\.)?deal_value\.(mean|value)",
    r"friction\.[^.]+\.(dwell|no_decision|lost|probability)",
)


def _is_default(cs: Compiled, path: str) -> bool:
    if not any(re.fullmatch(p, path) for p in _DEFAULT_PATTERNS):
        return False
    if path.startswith("friction."):
        d = cs.params.dists[cs.params.col(path)]
        v = alv.centre(d)
        last = path.rsplit(".", 1)[1]
        # a friction window's strength: only what the window does (a dwell multiplier other
        # than 1, an added rate other than 0) and the chance of a risk event
        return (last == "dwell" and v != 1.0) or (last in ("no_decision", "lost") and v != 0.0) \
            or (last == "probability" and v < 1.0)
    return True


def searchable(cs: Compiled) -> list[str]:
    """Every parameter path a user may add as a lever (numbers, not dates)."""
    return [p for p in cs.params.paths
            if not (p.startswith("friction.") and p.endswith(".start"))]


# --- labels, groups, kinds --------------------------------------------------------------------
def _group(path: str) -> str:
    head = path.split(".")[0]
    if head == "campaigns":
        return "Demand"
    if head == "pools":
        return "Capacity"
    if head == "friction":
        return "Friction"
    if "deal_value" in path.split("."):
        return "Deal size"
    return "Conversion"


def _kind(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    parts = path.split(".")
    if alv.is_probability(path):
        return "probability"
    if last in _MONEY_KEYS or "deal_value" in parts:
        return "money"
    if re.sub(r"\[\d+\]$", "", last) in _COUNT_KEYS:
        return "count"
    if path.startswith("friction.") and last == "dwell":
        return "multiplier"
    return "number"


def _label(sc: Scenario, path: str) -> str:
    parts = path.split(".")
    if parts[0] == "campaigns" and len(parts) == 4 and parts[2] == "volume":
        return f"{parts[1]} {parts[3].replace('_', ' ')}"
    if parts[0] == "pools" and len(parts) == 3:
        return f"{parts[1]} {parts[2].replace('_', ' ')}"
    m = re.fullmatch(r"pools\.([^.]+)\.hires\[(\d+)\]\.count", path)
    if m:
        hire = sc.pools[m.group(1)].hires[int(m.group(2))]
        return f"{m.group(1)} hires on {hire.date:%d %b %Y}"
    if parts[0] == "stages" and len(parts) == 4 and parts[2] == "next":
        return f"{parts[1]} → {parts[3]}"
    if parts[0] == "stages" and len(parts) >= 3 and parts[2] == "no_decision":
        from simengine.scenario.rules import note

        return f"{parts[1]} no decision{note(sc, path)}"
    if parts[-2:] in (["deal_value", "mean"], ["deal_value", "value"]):
        return f"{parts[1]} deal value" if parts[0] == "segments" else "deal value"
    m = re.fullmatch(r"drift(?:\.([^.\[\]]+)|\[(\d+)\])\.(sd|phi|trend|trend_sd)", path)
    if m:  # a number of a parameter that moves over time: named after what moves
        d = (next(x for x in sc.drift if x.name == m.group(1)) if m.group(1)
             else sc.drift[int(m.group(2))])
        what = {"sd": "drift s.d.", "phi": "drift persistence", "trend": "trend per period",
                "trend_sd": "s.d. of the trend"}[m.group(3)]
        return f"{d.param}: {what}"
    if parts[0] == "friction" and len(parts) == 3:
        what = {"dwell": "dwell ×", "no_decision": "+ no decision", "lost": "+ lost",
                "probability": "chance it happens"}.get(parts[2], parts[2].replace("_", " "))
        return f"{parts[1]}: {what}"
    return path


# --- ranges -----------------------------------------------------------------------------------
def nice_step(span: float) -> float:
    """A round step (1, 2 or 5 x a power of ten) of about ``span / 200``."""
    if not span > 0:
        return 1.0
    raw = span / 200
    p = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * p:
            return m * p
    return 10 * p  # pragma: no cover


def _valid(sc: Scenario, lv: alv.Lever, x: float) -> bool:
    try:
        lv.apply(sc, x)
    except SimEngineError:
        return False
    return True


def _towards(sc: Scenario, lv: alv.Lever, end: float, step: float) -> float:
    """``end``, or the valid value nearest to it on the way to the loaded value."""
    cur = lv.current
    if _valid(sc, lv, end):
        return end
    good, bad = cur, end
    for _ in range(_BISECT):
        mid = (good + bad) / 2
        if _valid(sc, lv, mid):
            good = mid
        else:
            bad = mid
    # round inwards to the step, so the slider's end is a value the slider can take
    snapped = math.floor(good / step) * step if good > cur else math.ceil(good / step) * step
    return snapped if _valid(sc, lv, snapped) else good


def _range(sc: Scenario, lv: alv.Lever, kind: str) -> tuple[float, float, float]:
    cur = lv.current
    lo_b, hi_b = lv.bounds
    d = lv.dist
    last = lv.path.rsplit(".", 1)[-1]
    if kind == "probability":
        lo, hi = lo_b, hi_b
        if lv.path.startswith("friction.") and last in ("no_decision", "lost"):
            hi = min(hi, max(0.3, _RANGE_FACTOR * cur))  # an added rate: up to 30 points
        step = 0.001 if max(abs(cur), hi - lo) < 0.1 else 0.005
        lo, hi = math.ceil(lo / step - 1e-9) * step, math.floor(hi / step + 1e-9) * step
    elif kind == "multiplier":
        step = 0.01
        lo, hi = math.ceil(min(1.0, cur / 2) / step) * step, max(2.0, 2 * cur)
    else:
        hi = _RANGE_FACTOR * cur if cur > 0 else 1.0
        lo = cur / _RANGE_FACTOR if last in ("cost_per_lead",) else 0.0
        step = nice_step(hi - lo)
        if kind == "count":
            step = max(1.0, step)
        lo = max(lo, step)  # amounts are positive in the scenario format
        if isinstance(d, (Uniform, Triangular, Pert, Empirical)):
            # the whole distribution shifts with its centre: keep its lowest value positive
            lo = max(lo, cur - d.support()[0] + step)
        elif isinstance(d, Normal) and d.low is not None and math.isfinite(d.low):
            lo = max(lo, float(d.low))  # a truncated normal: its mean above the cut
        lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    lo, hi = min(lo, cur), max(hi, cur)
    return _towards(sc, lv, lo, step), _towards(sc, lv, hi, step), step


def _note(lv: alv.Lever) -> str:
    d = lv.dist
    if isinstance(d, Fixed):
        return lv.path
    raw = alv.centred_raw(d, lv.current)
    params = ", ".join(f"{k} {v:g}" for k, v in raw.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool))
    return f"{lv.path}: {d.dist} ({params}); the centre moves, the spread stays"


def spec(sc: Scenario, cs: Compiled, path: str, group: str | None = None) -> LeverSpec:
    """The slider of one parameter path.

    Raises
    ------
    SimEngineError
        ``path`` is not a numeric parameter of the scenario (with near matches).
    """
    lv = alv.lever(cs, path)
    kind = _kind(path)
    start, end, step = _range(sc, lv, kind)
    return LeverSpec(path, _label(sc, path), group or _group(path), kind, lv.current, start,
                     end, step, _note(lv), lv)


def discover(sc: Scenario, cs: Compiled) -> list[LeverSpec]:
    """The levers a user would move, found from the scenario's parameter paths, by group.

    Campaign budgets, lead volumes and audiences; pool headcounts and hires; stage conversion
    rates; deal values; friction strength (dwell multipliers and added rates of the windows
    that have them, the chance of each risk event).
    """
    out = [spec(sc, cs, p) for p in cs.params.paths if _is_default(cs, p)]
    return sorted(out, key=lambda s: GROUPS.index(s.group))


def overrides(specs: dict[str, LeverSpec], values: dict[str, float]) -> dict[str, object]:
    """``{scenario path: number or distribution}`` for the levers moved from their loaded
    value (what :func:`simengine.scenario.with_values` takes)."""
    out: dict[str, object] = {}
    for path, x in values.items():
        s = specs[path]
        if float(x) == s.value:
            continue
        target = path
        if path.endswith(".value") and not s.uncertain:
            target = path[: -len(".value")]  # a fixed per-prospect quantity: PATH in the file
        out[target] = alv.centred_raw(s.lever.dist, float(x))
    return out


def moved(sc: Scenario, specs: dict[str, LeverSpec], values: dict[str, float]) -> Scenario:
    """The scenario with the levers at ``values`` (the loaded scenario when none moved)."""
    ov = overrides(specs, values)
    return with_values(sc, ov) if ov else sc
