"""Compare scenarios on common random numbers: one Dataset with a ``scenario`` dimension, the
summary of each scenario and of the paired difference against the first.

Every random number of the engine is keyed by (seed, draw, parameter path / campaign, day,
prospect, visit, purpose), so scenarios run with the same seed share every random number that
their differences do not touch: draw i of scenario B is draw i of scenario A with only the change
applied. The difference B - A is then computed draw by draw, and its spread is that of the
change, not of two independent forecasts.

Campaigns, stages, segments, friction windows or parameters present in only some scenarios are
joined (outer join, in order of first appearance). Where a scenario lacks one, counts and money
(variables in prospects, deals, visits or the currency) are 0, because a campaign that does not
run brings no prospects and costs nothing; everything else (days in stage, parameter values) is
NaN, because it is not defined. Failed draws stay NaN everywhere.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from simengine._version import __version__
from simengine.api import simulate
from simengine.errors import SimEngineError
from simengine.scenario import Scenario, load_scenario

SCENARIO = "scenario"
JOINED_DIMS = ("stage", "campaign", "segment", "friction", "parameter")
_ADDITIVE_UNITS = ("prospects", "deals", "visits")
QUANTILES = (0.05, 0.5, 0.95)


def _named(scenarios) -> list[tuple[str, Scenario]]:
    if isinstance(scenarios, (Scenario, str, Path)):
        raise SimEngineError("compare: expected two or more scenarios, found one")
    items = list(scenarios.items()) if isinstance(scenarios, Mapping) else \
        [(None, s) for s in scenarios]
    out: list[tuple[str, Scenario]] = []
    for name, s in items:
        sc = s if isinstance(s, Scenario) else load_scenario(s)
        label = str(name) if name is not None else sc.name
        base, k = label, 2
        while label in [n for n, _ in out]:
            label = f"{base} #{k}"
            k += 1
        out.append((label, sc))
    if len(out) < 2:
        raise SimEngineError(f"compare: expected two or more scenarios, found {len(out)}")
    return out


def _fill_value(var: xr.DataArray, currency: str) -> float:
    units = var.attrs.get("units", "")
    if var.name == "friction_active" or units == currency or units in _ADDITIVE_UNITS:
        return 0.0
    return np.nan


def _union(values: list[np.ndarray]) -> list:
    seen: dict = {}
    for v in values:
        for x in v:
            seen.setdefault(x, None)
    return list(seen)


def compare(scenarios: Mapping[str, Scenario | str | Path] | Sequence[Scenario | str | Path],
            *, draws: int = 1000, seed: int = 0, progress: bool | None = False,
            threads: int | None = None) -> xr.Dataset:
    """Run scenarios on common random numbers and stack them along a ``scenario`` dimension.

    Parameters
    ----------
    scenarios
        ``{label: scenario}`` or a list of scenarios (labelled by their names); scenarios are
        :class:`Scenario` objects or paths. The first is the reference of the differences.
    draws, seed
        The same for every scenario: draw i of each shares every random number the scenarios'
        differences do not touch.

    Returns
    -------
    xarray.Dataset
        The variables of :func:`simengine.simulate` with a leading ``scenario`` dimension (outer
        join of campaigns, stages, segments, friction windows and parameters: 0 for missing
        counts and money, NaN otherwise), ``goal`` per scenario, and the coordinates
        ``scenario_name`` and ``scenario_sha256``.

    Raises
    ------
    SimEngineError
        Fewer than two scenarios, or scenarios with different horizons or currencies.

    Examples
    --------
    >>> import simengine as se
    >>> cmp = se.compare(["scenarios/baseline.yaml", "scenarios/stress.yaml"], draws=40, seed=1)
    >>> cmp.revenue.dims
    ('scenario', 'draw', 'period')
    """
    named = _named(scenarios)
    first = named[0][1]
    for label, sc in named[1:]:
        if sc.horizon != first.horizon:
            raise SimEngineError(f"compare {label}: expected the horizon of '{named[0][0]}' "
                                 f"({first.horizon.start}, {first.horizon.days} days, "
                                 f"{first.horizon.period}), found {sc.horizon.start}, "
                                 f"{sc.horizon.days} days, {sc.horizon.period}")
        if sc.currency != first.currency:
            raise SimEngineError(f"compare {label}: expected the currency of '{named[0][0]}' "
                                 f"({first.currency}), found {sc.currency}")
    runs = [simulate(sc, draws=draws, seed=seed, progress=progress, threads=threads)
            for _, sc in named]
    cur = first.currency
    coords = {d: _union([r[d].values for r in runs]) for d in JOINED_DIMS if d in runs[0].dims}
    aligned = []
    for ds in runs:
        fill = {k: _fill_value(v, cur) for k, v in ds.data_vars.items()}
        r = ds.reindex({d: np.array(c, dtype=object) for d, c in coords.items()},
                       fill_value=fill)
        ok = r["failed"] == 0
        for k, v in r.data_vars.items():
            if k not in ("failed", "friction_active", "parameters") and "draw" in v.dims:
                r[k] = v.where(ok)
            r[k].attrs = ds[k].attrs
        r.attrs = {}
        aligned.append(r)
    out = xr.concat(aligned, dim=SCENARIO, join="exact", combine_attrs="drop_conflicts",
                    data_vars="all", coords="different", compat="equals")
    labels = [n for n, _ in named]
    goals = [float(sc.goal.revenue) if sc.goal else np.nan for _, sc in named]
    out = out.assign_coords({
        SCENARIO: np.array(labels, dtype=object),
        "scenario_name": (SCENARIO, np.array([r.attrs["scenario"] for r in runs], dtype=object)),
        "scenario_sha256": (SCENARIO, np.array([r.attrs["scenario_sha256"] for r in runs],
                                               dtype=object)),
    })
    out["goal"] = xr.Variable((SCENARIO,), np.array(goals),
                              {"units": cur, "long_name": "bookings goal of the scenario"})
    g0 = goals[0]
    same_goal = all((np.isnan(g) and np.isnan(g0)) or g == g0 for g in goals)
    out.attrs = {
        "comparison": "common random numbers: draw i of every scenario shares the random "
                      "numbers the scenarios' differences do not touch",
        "reference": labels[0],
        "seed": int(seed),
        "draws": int(draws),
        "currency": cur,
        "goal": g0 if same_goal else float("nan"),
        "horizon_start": str(first.horizon.start),
        "horizon_days": int(first.horizon.days),
        "period": first.horizon.period,
        "simengine_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "prospects": float(sum(r.attrs["prospects"] for r in runs)),
        "elapsed_seconds": float(sum(r.attrs["elapsed_seconds"] for r in runs)),
    }
    return out


def per_draw_bookings(ds: xr.Dataset) -> np.ndarray:
    """Bookings over the horizon of every draw of a result, NaN for failed draws (keeps the
    draw index, unlike :func:`simengine.analysis.summary.annual`)."""
    return ds.revenue.sum("period", skipna=False).values


def one_scenario(full: xr.Dataset, label: str) -> xr.Dataset:
    """One scenario of a comparison as an ordinary result: its own goal and name in attrs."""
    ds = full.sel(scenario=label, drop=True)
    attrs = dict(full.attrs)
    attrs["scenario"] = str(full.scenario_name.sel(scenario=label).item()) \
        if "scenario_name" in full.coords else label
    if "goal" in full.data_vars:
        attrs["goal"] = float(full.goal.sel(scenario=label))
    if "scenario_sha256" in full.coords:
        attrs["scenario_sha256"] = str(full.scenario_sha256.sel(scenario=label).item())
    ds = ds.drop_vars(["goal", "scenario_name", "scenario_sha256"], errors="ignore")
    ds.attrs = attrs
    return ds


def bookings(cmp: xr.Dataset) -> xr.DataArray:
    """Bookings over the horizon, (scenario, draw); a draw that failed in any scenario is NaN."""
    total = cmp.revenue.sum("period", skipna=False)
    bad = (cmp.failed != 0).any(SCENARIO)
    return total.where(~bad)


def paired_difference(cmp: xr.Dataset, reference: str | None = None) -> xr.DataArray:
    """Bookings of each scenario minus the reference's, draw by draw, (scenario, draw)."""
    b = bookings(cmp)
    ref = reference if reference is not None else str(cmp.scenario.values[0])
    return b - b.sel(scenario=ref)


def _q(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if len(x) else np.nan


@dataclass(frozen=True)
class ComparisonSummary:
    """Summaries of a comparison.

    Attributes
    ----------
    scenarios : DataFrame
        One row per scenario: bookings P5 / P50 / P95, mean and its standard error, P(goal)
        and its standard error, the goal.
    differences : DataFrame
        One row per scenario other than the reference: the paired difference of bookings
        (scenario - reference) as mean with standard error, P5 / P50 / P95, the share of draws
        in which the scenario books more, the difference of P(goal) with its paired standard
        error, and the variance reduction of common random numbers (variance of the
        difference of two independent runs over that of the paired difference).
    reference : str
    currency : str
    draws : int
    """

    scenarios: pd.DataFrame
    differences: pd.DataFrame
    reference: str
    currency: str
    draws: int

    def sentences(self) -> list[str]:
        """The differences in words, e.g. 'stress costs $1.1M against baseline (...)'."""
        from simengine.fmt import money

        cur = self.currency
        out = []
        for name, r in self.differences.iterrows():
            mean = r["mean"]
            if mean < 0:
                verb, lo, hi = "costs", -r["P95"], -r["P5"]
            else:
                verb, lo, hi = "adds", r["P5"], r["P95"]
            text = (f"{name} {verb} {money(abs(mean), cur)} of bookings against "
                    f"{self.reference} (mean of the paired difference ± "
                    f"{money(r['mean_se'], cur)}; P5–P95 {money(lo, cur)} to {money(hi, cur)})")
            if np.isfinite(r.get("p_goal_diff", np.nan)):
                a = self.scenarios.loc[self.reference, "p_goal"]
                b = self.scenarios.loc[name, "p_goal"]
                text += (f"; P(goal) {a:.0%} -> {b:.0%} ({r['p_goal_diff'] * 100:+.1f} points "
                         f"± {r['p_goal_diff_se'] * 100:.1f})")
            out.append(text + ".")
        return out

    def __str__(self) -> str:
        return "\n".join(self.sentences())


def summarize_comparison(cmp: xr.Dataset, reference: str | None = None,
                         quantiles: tuple[float, ...] = QUANTILES) -> ComparisonSummary:
    """Per-scenario bookings and P(goal), and the paired differences against ``reference``
    (default the first scenario).

    Draws that failed in any scenario are left out of every figure (the pairs must match).
    """
    ref = reference if reference is not None else str(cmp.scenario.values[0])
    if ref not in cmp.scenario.values:
        raise SimEngineError(f"reference: expected one of {', '.join(cmp.scenario.values)}, "
                             f"found '{ref}'")
    b = bookings(cmp)
    ok = np.isfinite(b.values).all(axis=0)
    n = int(ok.sum())
    if n < 2:
        raise SimEngineError("compare: expected at least two draws that succeeded in every "
                             f"scenario, found {n}")
    vals = {str(s): b.sel(scenario=s).values[ok] for s in cmp.scenario.values}
    goals = {str(s): float(cmp.goal.sel(scenario=s)) for s in cmp.scenario.values}
    rows = {}
    for s, x in vals.items():
        row = {f"P{round(q * 100)}": _q(x, q) for q in quantiles}
        row["mean"] = float(x.mean())
        row["mean_se"] = float(x.std(ddof=1) / math.sqrt(n))
        g = goals[s]
        if np.isfinite(g):
            p = float(np.mean(x >= g))
            row.update(p_goal=p, p_goal_se=math.sqrt(p * (1 - p) / n), goal=g)
        else:
            row.update(p_goal=np.nan, p_goal_se=np.nan, goal=np.nan)
        rows[s] = row
    scen = pd.DataFrame(rows).T
    scen.index.name = "scenario"
    a = vals[ref]
    diffs = {}
    for s, x in vals.items():
        if s == ref:
            continue
        d = x - a
        row = {f"P{round(q * 100)}": _q(d, q) for q in quantiles}
        row["mean"] = float(d.mean())
        row["mean_se"] = float(d.std(ddof=1) / math.sqrt(n))
        row["p_more"] = float(np.mean(d > 0))
        var_d = float(d.var(ddof=1))
        var_ind = float(a.var(ddof=1) + x.var(ddof=1))
        row["crn_variance_ratio"] = var_ind / var_d if var_d > 0 else np.inf
        if np.isfinite(goals[s]) and np.isfinite(goals[ref]):
            hit = (x >= goals[s]).astype(float) - (a >= goals[ref]).astype(float)
            row["p_goal_diff"] = float(hit.mean())
            row["p_goal_diff_se"] = float(hit.std(ddof=1) / math.sqrt(n))
        else:
            row["p_goal_diff"] = row["p_goal_diff_se"] = np.nan
        diffs[s] = row
    dif = pd.DataFrame(diffs).T
    dif.index.name = "scenario"
    return ComparisonSummary(scen, dif, ref, str(cmp.attrs.get("currency", "")), n)


def variance_reduction(a: Scenario | str | Path, b: Scenario | str | Path, *, draws: int = 1000,
                       seed: int = 0, independent_seed: int | None = None) -> dict[str, float]:
    """How much tighter common random numbers make the estimated difference of mean bookings.

    Runs ``a`` and ``b`` with the same seed (paired) and ``b`` again with an independent seed.
    Returns the variance of the per-draw difference with common random numbers, with
    independent seeds (measured: ``b`` at ``independent_seed`` minus ``a``; and from the two
    marginal variances), and their ratios. The variance of the estimated difference of means
    is each of these over ``draws``, so the ratio is the factor of draws saved.
    """
    independent_seed = seed + 1 if independent_seed is None else independent_seed
    if independent_seed == seed:
        raise SimEngineError("independent_seed: expected a seed other than seed")
    xa, xb, xi = (per_draw_bookings(simulate(s, draws=draws, seed=k, progress=False))
                  for s, k in ((a, seed), (b, seed), (b, independent_seed)))
    ok = np.isfinite(xa) & np.isfinite(xb) & np.isfinite(xi)
    xa, xb, xi, m = xa[ok], xb[ok], xi[ok], int(ok.sum())
    v_crn = float(np.var(xb - xa, ddof=1))
    v_ind = float(np.var(xi - xa, ddof=1))
    v_marg = float(np.var(xa, ddof=1) + np.var(xb, ddof=1))
    return {"var_crn": v_crn, "var_independent": v_ind, "var_independent_marginal": v_marg,
            "ratio": v_ind / v_crn if v_crn > 0 else np.inf,
            "ratio_marginal": v_marg / v_crn if v_crn > 0 else np.inf,
            "mean_difference": float(np.mean(xb - xa)), "draws": m}
