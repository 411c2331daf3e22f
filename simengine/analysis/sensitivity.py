"""Sensitivity: which assumptions move bookings and P(goal) most.

**Tornado** (one at a time, on common random numbers): every factor is set to its low and then
its high value in every draw while everything else is sampled as usual with the same seed, so
the swing between the two runs is the factor's effect and not noise. Low / high are the P10 and
P90 of an uncertain parameter, -20 % / +20 % of a fixed one (a probability is capped at 1) and
"never" / "always" for a risk event (a friction window that happens with some probability: its
P10 and P90 would be the same outcome). Correlated partners of the swung parameter keep their
own sampled values.

**Sobol** (variance-based, SALib): first-order and total indices of bookings over the horizon
and of reaching the goal, with bootstrap confidence intervals, for single factors and for
groups (by default demand / conversion / capacity / friction / deal size / timing, by parameter
path). The design is Saltelli's (``SALib.sample.sobol``, no second-order terms), N base rows
(a power of two) and k factors giving N (k + 2) draws; each row is one simulated draw. A draw's
prospects are a random input too: the *process noise* (arrivals, routes, dwells, deal values,
whether a risk event's uniform fires when it is not a factor, parameters left out of the
analysis). It is a factor of its own: the rows of matrix A and of every A_B^i share their draw
stream (the same seed and draw number: common random numbers), matrix B and the noise column
use another stream. Correlated parameters are one factor (their joint distribution through the
scenario's Gaussian copula), and groups that correlated parameters straddle are merged.

References: Saltelli et al. (2010), *Variance based sensitivity analysis of model output*,
Comput. Phys. Commun. 181, 259-270 (the estimators SALib uses); Herman & Usher (2017), SALib,
JOSS 2(9), 97.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simengine.analysis.levers import NOISE, Factor, assign_groups, factors
from simengine.api import simulate
from simengine.compile import compile_scenario
from simengine.errors import SimEngineError
from simengine.scenario import Scenario, load_scenario
from simengine.scenario.distributions import Fixed

METHODS = ("tornado", "sobol")
_STREAM_B = 0x9E3779B97F4A7C15  # offset of the independent stream of matrix B


@dataclass(frozen=True)
class SensitivityResult:
    """The result of :func:`sensitivity`.

    Attributes
    ----------
    method : str
        ``"tornado"`` or ``"sobol"``.
    table : DataFrame
        Tornado: one row per factor, largest P50 swing first: ``factor``, ``group``,
        ``low`` / ``high`` (the input values), ``p50_low`` / ``p50_high`` / ``p50_swing``
        (and ``p50_swing_se``, paired bootstrap), ``mean_low`` / ``mean_high`` /
        ``mean_swing_se``, ``p_goal_low`` / ``p_goal_high`` / ``p_goal_swing``.
        Sobol: one row per factor and per group (``level``), largest total index first within
        each level: ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` of bookings and ``S1_goal`` ...
        of reaching the goal (``conf``: half-width of the ``conf_level`` interval), ``members``.
    base : dict
        Tornado: P50, mean and P(goal) of the scenario as it is; Sobol: the variance of bookings
        and the share of draws reaching the goal over the design.
    """

    method: str
    table: pd.DataFrame
    base: dict
    scenario: str
    currency: str
    draws: int
    seed: int
    simulated: int
    elapsed: float
    conf_level: float = 0.95
    notes: tuple[str, ...] = field(default=())
    inert: tuple[str, ...] = field(default=())  # factors that cannot move bookings (tornado)

    def ranking(self, level: str = "parameter") -> list[str]:
        """Factors from the most to the least influential (tornado: |P50 swing|; Sobol: total
        index of bookings)."""
        t = self.table
        if self.method == "sobol":
            t = t[t.level == level]
        return list(t.factor)

    def sentences(self) -> list[str]:
        """The result in words."""
        from simengine.fmt import money
        from simengine.scenario.paths import label, value_text

        out = []
        if self.method == "tornado":
            for _, r in self.table.head(3).iterrows():
                span = ("occurring rather than not" if r.kind == "event" else
                        f"from {value_text(r.factor, r.low, self.currency)} to "
                        f"{value_text(r.factor, r.high, self.currency)}")
                out.append(f"{label(r.factor)} {span} moves P50 bookings "
                           f"from {money(r.p50_low, self.currency)} to "
                           f"{money(r.p50_high, self.currency)} and P(goal) from "
                           f"{r.p_goal_low:.0%} to {r.p_goal_high:.0%}")
        else:
            g = self.table[(self.table.level == "group")]
            if len(g):
                parts = [f"{r.S1:.0%} {r.factor}" for _, r in g.iterrows() if r.S1 >= 0.005]
                out.append("Of the variance of bookings, first-order shares: "
                           + ", ".join(parts) + f" (±{g.S1_conf.max():.0%} at "
                           f"{self.conf_level:.0%}); the rest is interactions")
            p = self.table[(self.table.level == "parameter")].head(3)
            for _, r in p.iterrows():
                out.append(f"{label(r.factor)}: first-order {r.S1:.0%} ± {r.S1_conf:.0%}, total "
                           f"{r.ST:.0%} ± {r.ST_conf:.0%}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.sentences())


def sensitivity(scenario: Scenario | str | Path, method: str = "tornado",
                params: Sequence[str] | None = None, *, draws: int | None = None,
                seed: int = 0, groups: dict[str, Sequence[str]] | None = None,
                target: float | None = None, threads: int | None = None,
                **options) -> SensitivityResult:
    """Which assumptions move bookings and P(goal) most.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of a scenario file.
    method
        ``"tornado"`` (one-at-a-time swings on common random numbers) or ``"sobol"``
        (variance-based indices with SALib).
    params
        Parameter paths and risk events (``friction.NAME.occurs``) to analyse; default every
        uncertain parameter and every risk event of the scenario.
    draws
        Tornado: draws of each run (default 1000). Sobol: base rows N of the design, rounded up
        to a power of two (default 1024); the analysis simulates N (k + 2) draws per level.
    seed
        Seed of every run (common random numbers).
    groups
        Sobol: ``{group: [path patterns]}`` (``fnmatch``, e.g. ``"campaigns.*"``); factors that
        match no pattern keep their default group.
    target
        Bookings goal for P(goal); default the scenario's ``goal.revenue``.
    **options
        Tornado: ``spread`` (fixed parameters, default 0.2), ``quantiles`` (default
        (0.1, 0.9)). Sobol: ``level`` (``"both"``, ``"parameter"``, ``"group"``),
        ``conf_level`` (0.95), ``num_resamples`` (200), ``noise`` (True: the process noise as
        a factor).

    Returns
    -------
    SensitivityResult

    Raises
    ------
    SimEngineError
        An unknown method, parameter path or option.
    """
    if method not in METHODS:
        raise SimEngineError(f"method: expected one of {', '.join(METHODS)}, found '{method}'")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if target is None and sc.goal is not None:
        target = float(sc.goal.revenue)
    if method == "tornado":
        allowed = {"spread", "quantiles"}
    else:
        allowed = {"level", "conf_level", "num_resamples", "noise"}
    unknown = set(options) - allowed
    if unknown:
        raise SimEngineError(f"{method}: unknown option(s) {', '.join(sorted(unknown))}; "
                             f"expected {', '.join(sorted(allowed))}")
    if method == "tornado":
        if groups is not None:
            raise SimEngineError("groups: only the Sobol method groups factors")
        return tornado(sc, params, draws=draws or 1000, seed=seed, target=target,
                       threads=threads, **options)
    return sobol(sc, params, draws=draws or 1024, seed=seed, groups=groups, target=target,
                 threads=threads, **options)


# --- tornado ----------------------------------------------------------------------------------
def _bookings(ds) -> np.ndarray:
    return ds.revenue.sum("period", skipna=False).values


def tornado(sc: Scenario, params: Sequence[str] | None = None, *, draws: int = 1000,
            seed: int = 0, target: float | None = None, threads: int | None = None,
            spread: float = 0.2, quantiles: tuple[float, float] = (0.1, 0.9)
            ) -> SensitivityResult:
    """One-at-a-time swings on common random numbers (see :func:`sensitivity`)."""
    t0 = time.perf_counter()
    if not 0 < spread < 1:
        raise SimEngineError(f"spread: expected a fraction in (0, 1), found {spread}")
    q_lo, q_hi = quantiles
    if not 0 < q_lo < q_hi < 1:
        raise SimEngineError(f"quantiles: expected 0 < low < high < 1, found {quantiles}")
    cs = compile_scenario(sc)
    fs = factors(cs, list(params) if params is not None else None, correlated_together=False,
                 fixed_spread=spread)
    if not fs:
        raise SimEngineError("params: expected at least one uncertain parameter or risk event "
                             "(the scenario has none: name fixed parameters with params=)")

    def run(values: dict[str, float] | None) -> np.ndarray:
        pv = {k: np.full(draws, v) for k, v in values.items()} if values else None
        return _bookings(simulate(sc, draws=draws, seed=seed, progress=False, threads=threads,
                                  param_values=pv))

    base = run(None)
    rows = []
    rng = np.random.default_rng(seed)
    boot = rng.integers(0, draws, size=(200, draws))
    for f in fs:
        path = f.paths[0]
        if f.kind == "event":
            lo, hi = 0.0, 1.0
        else:
            d = f.dists[0]
            original = cs.params.dists[f.cols[0]]
            if isinstance(original, Fixed):
                lo, hi = float(d.ppf(np.array([0.0]))[0]), float(d.ppf(np.array([1.0]))[0])
            else:
                lo, hi = (float(v) for v in d.ppf(np.array([q_lo, q_hi])))
        y_lo, y_hi = run({path: lo}), run({path: hi})
        ok = np.isfinite(y_lo) & np.isfinite(y_hi) & np.isfinite(base)
        a, b = y_lo[ok], y_hi[ok]
        n = int(ok.sum())
        d_ = b - a
        med = np.median(b[boot[:, :n] % n], axis=1) - np.median(a[boot[:, :n] % n], axis=1)
        row = {"factor": f.name, "group": f.group, "kind": f.kind, "low": lo, "high": hi,
               "p50_low": float(np.median(a)), "p50_high": float(np.median(b))}
        row["p50_swing"] = row["p50_high"] - row["p50_low"]
        row["p50_swing_se"] = float(np.std(med, ddof=1))
        row["mean_low"], row["mean_high"] = float(a.mean()), float(b.mean())
        row["mean_swing_se"] = float(d_.std(ddof=1) / math.sqrt(n)) if n > 1 else np.nan
        if target is not None:
            row["p_goal_low"] = float(np.mean(a >= target))
            row["p_goal_high"] = float(np.mean(b >= target))
        else:
            row["p_goal_low"] = row["p_goal_high"] = np.nan
        row["p_goal_swing"] = row["p_goal_high"] - row["p_goal_low"]
        rows.append(row)
    table = pd.DataFrame(rows)
    table = table.reindex(table.p50_swing.abs().sort_values(ascending=False, kind="stable")
                          .index).reset_index(drop=True)
    ok = np.isfinite(base)
    base_info = {"p50": float(np.median(base[ok])), "mean": float(base[ok].mean()),
                 "p_goal": float(np.mean(base[ok] >= target)) if target else np.nan,
                 "goal": target if target else np.nan, "draws": int(ok.sum())}
    from simengine.scenario.rules import inert

    notes = tuple(dict.fromkeys(why for f in fs for p in f.paths if (why := inert(sc, p))))
    still = tuple(f.name for f in fs if all(inert(sc, p) for p in f.paths))
    return SensitivityResult("tornado", table, base_info, sc.name, sc.currency, draws, seed,
                             draws * (1 + 2 * len(fs)), time.perf_counter() - t0, notes=notes,
                             inert=still)


# --- Sobol ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SobolDesign:
    """A Saltelli design over units (factors or groups of factors), in SALib's layout.

    ``blocks[:, 0]`` is matrix A, ``blocks[:, 1 + i]`` is A with unit i's columns from B, and
    ``blocks[:, -1]`` is B; ``columns[u]`` are the design columns of unit u.
    """

    problem: dict
    blocks: np.ndarray  # (N, U + 2, D) uniforms
    units: tuple[str, ...]
    columns: tuple[tuple[int, ...], ...]

    @property
    def n(self) -> int:
        return self.blocks.shape[0]


def sobol_design(units: Sequence[tuple[str, int]], n: int, seed: int) -> SobolDesign:
    """A Saltelli design (``SALib.sample.sobol``, no second-order terms) for ``units`` given
    as (name, number of uniforms); ``n`` is rounded up to a power of two."""
    from SALib.sample import sobol as sobol_sample

    if n < 2:
        raise SimEngineError(f"draws: expected at least 2 base rows for a Sobol design, found {n}")
    if len(units) < 2:  # (SALib would silently drop a single group)
        raise SimEngineError("sobol: expected at least two factors (the process noise counts "
                             f"as one), found {len(units)}")
    n = 1 << (int(n) - 1).bit_length()
    names, groups, columns = [], [], []
    for name, width in units:
        cols = []
        for k in range(width):
            cols.append(len(names))
            names.append(f"{name}[{k}]" if width > 1 else name)
            groups.append(name)
        columns.append(tuple(cols))
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names),
               "groups": groups}
    x = sobol_sample.sample(problem, n, calc_second_order=False, scramble=True,
                            seed=int(seed) % (2**32))
    U = len(units)
    return SobolDesign(problem, x.reshape(n, U + 2, len(names)), tuple(n_ for n_, _ in units),
                       tuple(columns))


def sobol_indices(design: SobolDesign, y: np.ndarray, *, conf_level: float = 0.95,
                  num_resamples: int = 200, seed: int = 0) -> pd.DataFrame:
    """First-order and total indices (``SALib.analyze.sobol``) of outputs ``y`` (N, U + 2),
    one row per unit; rows with a NaN output are left out. NaN indices when the output does
    not vary."""
    from SALib.analyze import sobol as sobol_analyze

    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y).all(axis=1)
    y = y[ok]
    U = len(design.units)
    nan = pd.DataFrame({"factor": list(design.units), "S1": np.nan, "S1_conf": np.nan,
                        "ST": np.nan, "ST_conf": np.nan})
    if len(y) < 2 or np.ptp(y) == 0:
        return nan
    # SALib falls back to global random state when seed is 0 ("if seed:"): never give it 0
    s = sobol_analyze.analyze(design.problem, y.ravel(), calc_second_order=False,
                              num_resamples=num_resamples, conf_level=conf_level,
                              seed=int(seed) % (2**31 - 1) + 1)
    out = pd.DataFrame({"factor": list(design.units), "S1": s["S1"][:U],
                        "S1_conf": s["S1_conf"][:U], "ST": s["ST"][:U],
                        "ST_conf": s["ST_conf"][:U]})
    return out


def run_design(design: SobolDesign, evaluate: Callable[[int, np.ndarray], np.ndarray],
               ) -> np.ndarray:
    """Outputs (N, U + 2, ...) of ``evaluate(block, uniforms (N, D))`` for every block."""
    return np.stack([np.asarray(evaluate(b, design.blocks[:, b]), dtype=float)
                     for b in range(design.blocks.shape[1])], axis=1)


def sobol(sc: Scenario, params: Sequence[str] | None = None, *, draws: int = 1024,
          seed: int = 0, groups: dict[str, Sequence[str]] | None = None,
          target: float | None = None, threads: int | None = None, level: str = "both",
          conf_level: float = 0.95, num_resamples: int = 200, noise: bool = True
          ) -> SensitivityResult:
    """Sobol indices of bookings and of reaching the goal (see :func:`sensitivity`)."""
    t0 = time.perf_counter()
    if level not in ("both", "parameter", "group"):
        raise SimEngineError(f"level: expected both, parameter or group, found '{level}'")
    if not 0 < conf_level < 1:
        raise SimEngineError(f"conf_level: expected a probability in (0, 1), found {conf_level}")
    cs = compile_scenario(sc)
    fs = factors(cs, list(params) if params is not None else None, correlated_together=True)
    if not fs:
        raise SimEngineError("params: expected at least one uncertain parameter or risk event "
                             "(the scenario has none: name fixed parameters with params=)")
    group_of = assign_groups(fs, groups)
    seed_b = (int(seed) + _STREAM_B) % (2**63)
    tables, info, simulated = [], {}, 0
    levels = ("parameter", "group") if level == "both" else (level,)
    for lv in levels:
        if lv == "parameter":
            unit_names = [f.name for f in fs]
            members = [f.paths if f.kind == "parameter" else (f.name,) for f in fs]
            unit_factors = [[f] for f in fs]
        else:
            order: dict[str, list[Factor]] = {}
            for f, g in zip(fs, group_of, strict=True):
                order.setdefault(g, []).append(f)
            unit_names = list(order)
            unit_factors = list(order.values())
            members = [tuple(p for f in fl for p in (f.paths if f.kind == "parameter"
                                                       else (f.name,))) for fl in unit_factors]
        widths = [sum(f.width for f in fl) for fl in unit_factors]
        units = list(zip(unit_names, widths, strict=True))
        if noise:
            units.append((NOISE, 1))
            members.append(("draw random numbers",))
        design = sobol_design(units, draws, seed)
        noise_block = len(units) if noise else -1  # block of A with B's noise column

        def evaluate(b: int, u: np.ndarray, design=design, unit_factors=unit_factors,
                     noise_block=noise_block) -> np.ndarray:
            values: dict[str, np.ndarray] = {}
            for k, fl in enumerate(unit_factors):
                cols = list(design.columns[k])
                at = 0
                for f in fl:
                    values.update(f.values(u[:, cols[at:at + f.width]]))
                    at += f.width
            last = design.blocks.shape[1] - 1
            s = seed_b if b in (last, noise_block) else seed
            ds = simulate(sc, draws=design.n, seed=s, progress=False, threads=threads,
                          param_values=values)
            return _bookings(ds)

        y = run_design(design, evaluate)
        simulated += y.size
        t = sobol_indices(design, y, conf_level=conf_level, num_resamples=num_resamples,
                          seed=seed)
        if target is not None:
            hit = np.where(np.isfinite(y), (y >= target).astype(float), np.nan)
            tg = sobol_indices(design, hit, conf_level=conf_level, num_resamples=num_resamples,
                               seed=seed)
            for k in ("S1", "S1_conf", "ST", "ST_conf"):
                t[f"{k}_goal"] = tg[k].to_numpy()
            info[f"p_goal_{lv}"] = float(np.nanmean(hit))
        t.insert(0, "level", lv)
        t["members"] = [", ".join(m) for m in members]
        kinds = [fl[0].kind if lv == "parameter" else "group" for fl in unit_factors]
        t["kind"] = kinds + (["noise"] if noise else [])
        t = t.reindex(t.ST.sort_values(ascending=False, kind="stable", na_position="last")
                      .index)
        tables.append(t)
        info[f"variance_{lv}"] = float(np.nanvar(y))
        info["base_rows"] = design.n
    table = pd.concat(tables, ignore_index=True)
    info["goal"] = target if target is not None else np.nan
    notes = []
    if any(len(f.paths) > 1 for f in fs):
        notes.append("correlated parameters are analysed together: "
                     + "; ".join(f.name for f in fs if len(f.paths) > 1))
    return SensitivityResult("sobol", table, info, sc.name, sc.currency, info["base_rows"],
                             seed, simulated, time.perf_counter() - t0, conf_level,
                             tuple(notes))
