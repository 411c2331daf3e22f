"""Parameters as levers and factors: what goal seek moves and what sensitivity analyses vary.

A *lever* is one parameter path of the compiled parameter table. A fixed lever takes the value
directly. An uncertain lever keeps its spread and moves its centre: the distribution's own
location parameter is set (``mean`` of normal, beta, lognormal, gamma, exponential; the whole
of uniform / triangular / PERT / empirical shifted; the scale of a Weibull) and the draw keeps its
uniform, so a draw's value moves monotonically with the centre and the copula is preserved.

A *factor* is what a sensitivity analysis varies as one unit: an uncertain parameter (with the
parameters it is correlated with, which cannot be varied apart), a risk event (a friction
window that happens with some probability) or, in Sobol analyses, the process noise.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from simengine.compile import Compiled
from simengine.engine.sampling import param_uniforms
from simengine.errors import SimEngineError
from simengine.scenario import Scenario, to_raw, with_values
from simengine.scenario import paths as raw_paths
from simengine.scenario.distributions import (
    Beta,
    Dist,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Normal,
    Pert,
    Triangular,
    Uniform,
    Weibull,
)

# last parts of paths whose values are probabilities (search bounds [0, 1])
_PROBABILITY_KEYS = ("no_decision", "p", "response_rate", "selling_time", "probability", "lost")
# denominators: a value of 0 would mean infinitely many prospects
_DENOMINATOR_KEYS = ("cost_per_lead",)


def is_probability(path: str) -> bool:
    parts = path.split(".")
    if ".next." in f".{path}." and parts[0] == "stages" and len(parts) == 4:
        return True
    if parts[0] == "friction" and parts[-1] in ("no_decision", "lost", "probability"):
        return True
    return parts[-1] in _PROBABILITY_KEYS and not path.startswith("friction.")


def suggest(cs: Compiled, path: str, n: int = 4) -> str:
    """' (did you mean a, b?)' for a path that is not a parameter of the scenario."""
    near = difflib.get_close_matches(path, cs.params.paths, n=n, cutoff=0.6)
    if not near:
        near = [p for p in cs.params.paths if p.startswith(path + ".")][:n]
    return f" (did you mean {', '.join(near)}?)" if near else ""


def column(cs: Compiled, path: str, what: str = "lever") -> int:
    """The parameter-table column of ``path``, or an error that says what the path is."""
    try:
        return cs.params.col(path)
    except KeyError:
        pass
    try:
        node = raw_paths.get_raw(to_raw(cs.scenario), path)
    except KeyError as exc:
        raise SimEngineError(f"{what} {path}: expected a parameter path of the scenario, found "
                             f"none ({exc.args[0]}){suggest(cs, path)}") from None
    inner = [p for p in cs.params.paths if p.startswith(path + ".") or
             p.endswith("." + path + ".value") or p.endswith("." + path)]
    if isinstance(node, dict) and "dist" in node:
        found = f"a {node['dist']} distribution; name one of its parameters"
    elif isinstance(node, dict):
        found = "a section, not a number"
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        found = f"{node:g}, a per-prospect quantity the engine reads under another path"
    else:
        found = f"{node!r}, which is not a number"
    hint = f": {', '.join(inner[:6])}" if inner else suggest(cs, path)
    raise SimEngineError(f"{what} {path}: expected a numeric parameter, found {found}{hint}")


def centre(d: Dist) -> float:
    """The value a lever reports for a distribution: its mean (the mean parameter of a
    truncated normal)."""
    if isinstance(d, Normal):
        return float(d.mean_)
    return float(d.mean())


def _num(v: Any) -> float:
    return float(v)


def centred_raw(d: Dist, x: float) -> Any:
    """The scenario value (a number or a distribution mapping) of ``d`` moved to centre ``x``."""
    if isinstance(d, Fixed):
        return float(x)
    raw = d.model_dump(mode="json", by_alias=True, exclude_none=True)
    shift = x - centre(d)
    if isinstance(d, (Normal, Beta, Lognormal, Gamma, Exponential)):
        raw["mean"] = float(x)
    elif isinstance(d, (Uniform, Triangular, Pert)):
        for k in ("low", "mode", "high"):
            if k in raw:
                raw[k] = _num(raw[k]) + shift
    elif isinstance(d, Empirical):
        raw["values"] = [float(v) + shift for v in d.values]
    elif isinstance(d, Weibull):
        raw["scale"] = _num(d.scale) * x / centre(d)
    else:  # pragma: no cover - every distribution is listed above
        raise SimEngineError(f"a lever with a {d.dist} distribution is not supported")
    return raw


def centred_values(d: Dist, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per-draw values of ``d`` moved to centres ``x`` (one per draw) at uniforms ``u``.

    NaN where the moved distribution is impossible (e.g. a beta whose sd is too large for its
    new mean), which marks the draw as failed.
    """
    x = np.asarray(x, dtype=float)
    u = np.clip(np.asarray(u, dtype=float), 1e-15, 1 - 1e-15)
    if isinstance(d, Fixed):
        return x.copy()
    shift = x - centre(d)
    if isinstance(d, (Uniform, Triangular, Pert, Empirical)):
        return d.ppf(u) + shift
    p = {k: np.full(len(x), float(v)) for k, v in d.params().items()}
    if isinstance(d, (Normal, Beta, Lognormal, Gamma, Exponential)):
        p["mean"] = x
    elif isinstance(d, Weibull):
        p["scale"] = p["scale"] * x / centre(d)
    nat = d.natural(p)
    out = np.full(len(x), np.nan)
    ok = ~np.isnan(nat).any(axis=1)
    if ok.any():
        out[ok] = np.asarray(d.frozen(nat[ok]).ppf(u[ok]), dtype=float)
    return out


@dataclass(frozen=True)
class Lever:
    """A parameter that goal seek moves.

    Attributes
    ----------
    path : str
        Parameter path.
    col : int
        Its column in the parameter table.
    dist : Dist
        Its per-draw distribution (:class:`Fixed` for a number).
    current : float
        Its value (or centre) in the scenario.
    bounds : (float, float)
        The range searched.
    """

    path: str
    col: int
    dist: Dist
    current: float
    bounds: tuple[float, float]

    @property
    def uncertain(self) -> bool:
        return not isinstance(self.dist, Fixed)

    def values(self, x: np.ndarray, u: np.ndarray | None) -> np.ndarray:
        """Per-draw values at centres ``x``; ``u`` are the lever's uniforms in each draw."""
        if not self.uncertain:
            return np.asarray(x, dtype=float)
        return centred_values(self.dist, x, u)

    def theta(self, theta: np.ndarray, x: float) -> np.ndarray:
        """A parameter row with the lever at centre ``x`` (for the expected-value model)."""
        out = np.array(theta, dtype=float)
        if self.uncertain:
            moved = centred_raw(self.dist, x)
            out[self.col] = type(self.dist).model_validate(moved).mean()
        else:
            out[self.col] = x
        return out

    def apply(self, sc: Scenario, x: float) -> Scenario:
        """The scenario with the lever at ``x`` (an uncertain lever: centre ``x``)."""
        path = self.path
        if path.endswith(".value") and not self.uncertain:
            # a fixed per-prospect quantity (``stages.a.dwell: 3``, a top-level deal value):
            # the table names it PATH.value, the file PATH
            path = path[: -len(".value")]
        return with_values(sc, {path: centred_raw(self.dist, x)})


def lever(cs: Compiled, path: str, bounds: tuple[float, float] | None = None) -> Lever:
    """Resolve a lever path, with default search bounds.

    Default bounds: [0, 1] for probabilities; otherwise [0, 10 x current] ([current / 10,
    10 x current] for a cost per lead, which divides a budget). An uncertain beta's centre is
    kept where its sd is still possible.
    """
    col = column(cs, path)
    d = cs.params.dists[col]
    if path.startswith("friction.") and path.endswith(".start"):
        raise SimEngineError(f"lever {path}: expected a numeric parameter, found a date")
    cur = centre(d)
    if bounds is None:
        last = path.split(".")[-1]
        if is_probability(path):
            lo, hi = 0.0, 1.0
        elif last in _DENOMINATOR_KEYS:
            lo, hi = cur / 10, cur * 10
        elif path.startswith("drift") and last == "phi":  # a persistence, below 1
            lo, hi = 0.0, 0.99
        elif path.startswith("drift") and last == "trend":  # a drift per period, either sign
            lo, hi = -max(abs(cur) * 10, 0.1), max(abs(cur) * 10, 0.1)
        else:
            lo, hi = 0.0, max(cur * 10, 1.0)
        if isinstance(d, Beta):
            sd = float(d.sd)
            half = math.sqrt(max(1 - 4 * sd * sd, 0.0)) / 2
            lo, hi = max(lo, 0.5 - half + 1e-9), min(hi, 0.5 + half - 1e-9)
        elif isinstance(d, (Uniform, Triangular, Pert)) and is_probability(path):
            a, b = d.support()
            lo, hi = max(lo, cur - a), min(hi, 1 - (b - cur))
    else:
        lo, hi = (float(b) for b in bounds)
        if not lo < hi:
            raise SimEngineError(f"bounds: expected low < high, found {lo:g} and {hi:g}")
    return Lever(path, col, d, cur, (lo, hi))


def lever_uniforms(cs: Compiled, lv: Lever, seed: int, draws: int) -> np.ndarray | None:
    """The lever's uniform in each draw (after the copula), or None for a fixed lever."""
    if not lv.uncertain:
        return None
    return param_uniforms(cs.params, seed, np.arange(draws, dtype=np.int64))[:, lv.col]


# --- factors of sensitivity analyses -----------------------------------------------------------
NOISE = "process noise"

GROUP_ORDER = ("demand", "conversion", "capacity", "friction", "deal size", "timing",
               "open pipeline", "drift", "other")


def default_group(path: str) -> str:
    """The default group of a parameter path (demand, conversion, ...)."""
    parts = path.split(".")
    head = parts[0].split("[")[0]
    if head == "campaigns":
        return "demand"
    if head == "pools" or (head == "stages" and "patience" in parts):
        return "capacity"
    if head == "friction":
        return "friction"
    if head == "deal_value" or (head == "segments" and len(parts) > 2
                                and parts[2] == "deal_value"):
        return "deal size"
    if "dwell" in parts or "delay" in parts:
        return "timing"
    if head == "stages" or (head == "segments" and len(parts) > 2 and parts[2] == "advance"):
        return "conversion"
    if head == "initial_pipeline":
        return "open pipeline"
    if head == "drift":  # the numbers of a parameter that moves over time
        return "drift"
    return "other"


@dataclass(frozen=True)
class Factor:
    """One input a sensitivity analysis varies as a unit.

    ``kind`` is ``"parameter"`` (``cols`` are parameter columns, ``dists`` their marginal
    distributions, ``corr`` the normal-score correlation among them), ``"event"`` (``cols`` is
    the window's probability column, ``p`` its chance of happening) or ``"noise"``.
    """

    name: str
    kind: str
    paths: tuple[str, ...] = ()
    cols: tuple[int, ...] = ()
    dists: tuple[Dist, ...] = ()
    corr: np.ndarray = field(default_factory=lambda: np.eye(0))
    p: float = float("nan")
    group: str = "other"

    @property
    def width(self) -> int:
        """Uniforms the factor takes from a design."""
        return max(len(self.cols), 1)

    def values(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """``{parameter path: per-draw values}`` from uniforms ``u`` of shape (n, width)."""
        u = np.clip(np.atleast_2d(np.asarray(u, dtype=float)), 1e-12, 1 - 1e-12)
        if self.kind == "noise":
            return {}
        if self.kind == "event":
            return {self.paths[0]: (u[:, 0] < self.p).astype(float)}
        if len(self.cols) > 1:  # a Gaussian copula among the correlated parameters
            chol = np.linalg.cholesky(self.corr)
            u = special.ndtr(special.ndtri(u) @ chol.T)
            u = np.clip(u, 1e-16, 1 - 1e-16)
        return {p: d.ppf(u[:, k]) for k, (p, d) in enumerate(zip(self.paths, self.dists,
                                                                  strict=True))}


def _components(cs: Compiled, cols: list[int]) -> list[list[int]]:
    """Connected sets of columns under the scenario's correlations (singletons otherwise)."""
    params = cs.params
    parent = {c: c for c in cols}

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    cc = list(params.corr_cols)
    for i, a in enumerate(cc):
        for j, b in enumerate(cc):
            if j > i and abs(params.corr_matrix[i, j]) > 1e-12 and a in parent and b in parent:
                parent[find(a)] = find(b)
    out: dict[int, list[int]] = {}
    for c in cols:
        out.setdefault(find(c), []).append(c)
    return list(out.values())


def _event_paths(cs: Compiled) -> dict[str, int]:
    """Risk events: friction windows that do not surely happen -> their probability column."""
    out = {}
    for f, name in enumerate(cs.friction_names):
        col = cs.fr_prob_col[f]
        d = cs.params.dists[col]
        if not (isinstance(d, Fixed) and d.value >= 1.0):
            out[f"friction.{name}.occurs"] = int(col)
    return out


def factors(cs: Compiled, params: list[str] | None = None, *, correlated_together: bool = True,
            fixed_spread: float = 0.2) -> list[Factor]:
    """The factors of an analysis.

    Parameters
    ----------
    params
        Parameter paths and risk events (``friction.NAME.occurs``); default every uncertain
        parameter and every risk event. A listed fixed parameter varies uniformly over
        +-``fixed_spread`` of its value; a risk event's probability parameter is part of the
        event.
    correlated_together
        Join correlated parameters into one factor (Sobol analyses need independent factors);
        a parameter listed alone brings its correlated partners with it.
    """
    events = _event_paths(cs)
    event_cols = set(events.values())
    if params is None:
        cols = [int(j) for j in cs.params.uncertain if int(j) not in event_cols]
        chosen_events = list(events)
    else:
        cols, chosen_events = [], []
        for p in params:
            if p in events:
                chosen_events.append(p)
            elif p.endswith(".occurs"):
                known = ", ".join(events) or "(none: every window surely happens)"
                raise SimEngineError(f"params {p}: expected a risk event, one of {known}")
            else:
                cols.append(column(cs, p, what="params"))
        if len(set(cols)) != len(cols):
            raise SimEngineError("params: expected each parameter once, found duplicates")
    if correlated_together:
        extra = [int(c) for c in cs.params.corr_cols if int(c) not in cols]
        comps = [c for c in _components(cs, cols + extra) if any(x in cols for x in c)]
    else:
        comps = [[c] for c in cols]
    out: list[Factor] = []
    params_t = cs.params
    for comp in comps:
        comp = sorted(comp)  # scenario order
        dists = []
        for c in comp:
            d = params_t.dists[c]
            if isinstance(d, Fixed):
                v = float(d.value)
                lo, hi = sorted((v * (1 - fixed_spread), v * (1 + fixed_spread)))
                if is_probability(params_t.paths[c]):
                    hi = min(hi, 1.0)
                d = Uniform(dist="uniform", low=lo, high=hi) if hi > lo else d
            dists.append(d)
        corr = np.eye(len(comp))
        if len(comp) > 1:
            idx = [list(params_t.corr_cols).index(c) for c in comp]
            corr = params_t.corr_matrix[np.ix_(idx, idx)]
        paths = tuple(params_t.paths[c] for c in comp)
        groups = sorted({default_group(p) for p in paths}, key=_group_rank)
        out.append(Factor(" + ".join(paths), "parameter", paths, tuple(comp), tuple(dists),
                          corr, group=" + ".join(groups)))
    for name in chosen_events:
        col = events[name]
        p = float(params_t.dists[col].mean())
        out.append(Factor(name, "event", (params_t.paths[col],), (col,), p=p, group="friction"))
    return out


def _group_rank(g: str) -> int:
    return GROUP_ORDER.index(g) if g in GROUP_ORDER else len(GROUP_ORDER)


def assign_groups(fs: list[Factor], groups: dict[str, list[str]] | None) -> list[str]:
    """The group of each factor: the first user group with a pattern (fnmatch) matching one of
    its paths or its name, else its default group."""
    out = []
    for f in fs:
        g = f.group
        if groups:
            for name, patterns in groups.items():
                pats = [patterns] if isinstance(patterns, str) else list(patterns)
                if any(fnmatch.fnmatchcase(x, pat) for pat in pats for x in (f.name, *f.paths)):
                    g = name
                    break
        out.append(g)
    return out


OUT_OF_REACH_EXIT = 3  # the CLI's exit code when the goal is out of reach within the bounds


def scenario_and_target(scenario, target: float | None) -> tuple[Scenario, float]:
    """The scenario (loaded when a path is given) and the bookings target of a search: the one
    given, else the scenario's ``goal.revenue``; a clear error when there is none or it is not
    positive."""
    from simengine.scenario import load_scenario

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if target is None:
        if sc.goal is None:
            raise SimEngineError("target: expected a target (or goal.revenue in the scenario), "
                                 "found none")
        target = float(sc.goal.revenue)
    target = float(target)
    if not target > 0:
        raise SimEngineError(f"target: expected bookings > 0, found {target:g}")
    return sc, target
