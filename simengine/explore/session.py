"""What the explorer computes, without a browser: the scenario as loaded, a lever setting's
outcome on common random numbers, saving a what-if as a scenario, exporting its report.

The scenario as loaded is simulated once (the *reference*). A lever setting is simulated with the
same seed and draws, so draw i of the what-if shares every random number of draw i of the
reference that the levers do not touch (random numbers are keyed by what is drawn); the change
is the per-draw difference, whose spread is the lever's effect, not the noise of two forecasts.
An outcome comes in stages — a first look at :data:`FIRST_LOOK` draws, then all of them — and a
caller that has a newer setting stops a run between chunks of draws (:class:`Superseded`).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

from simengine.compile import compile_scenario
from simengine.dataset import assemble
from simengine.engine.run import concat_raw, run
from simengine.errors import SimEngineError
from simengine.explore import DEFAULT_DRAWS
from simengine.explore import levers as lv
from simengine.files import write_text
from simengine.fmt import lever_value
from simengine.scenario import Scenario, canonical_json, load_scenario, to_raw
from simengine.scenario.paths import NAMED_LISTS

# P(goal) has standard error sqrt(p (1 - p) / n) <= 2 points at any p when n >= 0.5**2 / 0.02**2
FIRST_LOOK = 128  # draws of the first look at a new setting (two chunks on two threads)
MIN_DRAWS = 20
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

# One kernel at a time in this process: the machine's cores are shared by every browser tab,
# and numba's parallel kernels are not meant to be entered from several threads at once.
ENGINE_LOCK = threading.Lock()


class Superseded(Exception):  # noqa: N818 - a signal, not an error
    """A newer lever setting replaced the one being simulated."""


# --- outcomes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What the page shows for one lever setting, on ``draws`` draws (``target`` when final).

    Money is in the scenario's currency. ``d_*`` are paired, per-draw differences what-if minus
    the scenario as loaded on the same draws; ``*_se`` their Monte Carlo standard errors.
    """

    changes: tuple[tuple[str, float, float], ...]  # (path, loaded, now) of each moved lever
    draws: int
    target: int
    seconds: float
    goal: float
    currency: str
    p_goal: float
    p_goal_se: float
    ref_p_goal: float
    d_p_goal: float
    d_p_goal_se: float
    bookings: np.ndarray  # per draw (failed draws left out)
    reference: np.ndarray  # the scenario as loaded, the same draws
    d_mean: float
    d_mean_se: float
    d_p5: float
    d_p95: float
    d_spend: float  # mean change of campaign spend
    period_start: np.ndarray  # datetime64, (P,)
    period_end: np.ndarray  # datetime64, (P,)
    monthly: np.ndarray  # (len(QUANTILES), P) quantiles of bookings per period
    cumulative: np.ndarray  # (len(QUANTILES), P + 1) quantiles of cumulative bookings, from 0
    ref_monthly: np.ndarray  # (P,) median per period of the scenario as loaded
    ref_cumulative: np.ndarray  # (P + 1,) median cumulative of the scenario as loaded
    goal_path: np.ndarray  # (P + 1,) goal trajectory (NaN without a goal)
    failed: int = 0
    dataset: xr.Dataset | None = field(default=None, repr=False, compare=False)
    cost: float = math.nan  # mean campaign spend plus pool cost (what the optimizer minimises)
    ref_cost: float = math.nan  # the same of the scenario as loaded, the same draws

    @property
    def final(self) -> bool:
        return self.draws >= self.target

    @property
    def moved(self) -> bool:
        return bool(self.changes)

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.bookings, q)) if len(self.bookings) else math.nan


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def total_cost(ds: xr.Dataset) -> np.ndarray:
    """Campaign spend plus pool cost per draw (NaN for failed draws): the cost the optimizer
    minimises and the summary prints as "campaign spend" and "<pool> cost"."""
    cost = np.array(ds.campaign_cost.sum("campaign").values, dtype=float)
    if "pool_cost" in ds:
        cost = cost + np.array(ds.pool_cost.sum("pool").values, dtype=float)
    if "failed" in ds:
        cost[ds.failed.values != 0] = np.nan
    return cost


def per_draw(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bookings per draw, campaign spend per draw, revenue per draw and period); NaN rows for
    failed draws, so draw i stays at row i."""
    rev = np.array(ds.revenue.values, dtype=float)
    spend = np.array(ds.campaign_cost.sum("campaign").values, dtype=float)
    if "failed" in ds:
        bad = ds.failed.values != 0
        rev[bad] = np.nan
        spend[bad] = np.nan
    return rev.sum(axis=1), spend, rev


@dataclass(frozen=True)
class _Reference:
    ds: xr.Dataset
    bookings: np.ndarray
    spend: np.ndarray
    revenue: np.ndarray
    seconds: float


@dataclass(frozen=True)
class Plan:
    """A plan opened next to the scenario: a scenario file that resolves to the explored one
    with some parameters moved (what ``simengine optimize -o`` and the explorer's save write).

    Attributes
    ----------
    path : Path
        The plan file.
    name, description : str
        As the file gives them (the optimizer writes its answer in the description).
    levers : tuple of (path, loaded, plan)
        Each parameter the plan moves, a lever of the explorer (added when it was not one).
    other : tuple of str
        What the plan changes besides parameters (a hire date, say), ``path: value``: not a
        slider, so applying the plan leaves it out.
    """

    path: Path
    name: str
    description: str
    levers: tuple[tuple[str, float, float], ...]
    other: tuple[str, ...] = ()

    @property
    def values(self) -> dict[str, float]:
        """``{lever path: value}`` of the plan (what :meth:`Explorer.evaluate` takes)."""
        return {p: b for p, _, b in self.levers}


# --- the explorer -----------------------------------------------------------------------------
class Explorer:
    """One scenario file opened for what-ifs.

    Parameters
    ----------
    path
        The scenario file. It is read once, here; nothing is written except by :meth:`save` and
        :meth:`export`, to the paths they are given.
    draws, seed
        Draws of every outcome (default :data:`DEFAULT_DRAWS`: the standard error of P(goal)
        is at most 2 points) and the seed shared by all of them.
    threads
        Threads of the kernel (default: all cores).
    first_look
        Draws of the first, preliminary result of a new setting (0: none).
    out_dir
        The one folder :meth:`save` and :meth:`export` write to (default: the scenario's).
    plan
        A plan of the scenario (a file that resolves to it with some parameters moved, as
        ``simengine optimize -o`` writes): :attr:`plan` lists what it moves, and
        :meth:`plan_outcome` simulates it on the same draws.

    Examples
    --------
    >>> ex = Explorer("scenarios/baseline.yaml", draws=40, seed=1)
    >>> budget = "campaigns.webinar-series.volume.budget"
    >>> out = list(ex.evaluate({budget: 360_000}))[-1]
    >>> out.draws, out.changes[0][1:]
    (40, (240000.0, 360000.0))
    """

    def __init__(self, path: str | Path, draws: int = DEFAULT_DRAWS, seed: int = 0, *,
                 threads: int | None = None, first_look: int = FIRST_LOOK,
                 out_dir: str | Path | None = None, plan: str | Path | None = None):
        if int(draws) < MIN_DRAWS:
            raise SimEngineError(f"--draws: expected at least {MIN_DRAWS}, found {draws}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SimEngineError(f"--seed: expected a non-negative integer, found {seed!r}")
        self.path = Path(path)
        self.scenario = load_scenario(self.path)
        # every file the explorer writes goes here: off loopback, whoever holds the token names
        # the files, and must not be able to name one anywhere else on the machine
        self.out_dir = Path(out_dir) if out_dir is not None else self.path.parent
        if not self.out_dir.is_dir():
            raise SimEngineError(f"--out-dir {self.out_dir}: expected an existing folder, found "
                                 f"{'a file' if self.out_dir.exists() else 'nothing'}")
        self.compiled = compile_scenario(self.scenario)
        self.draws = int(draws)
        self.seed = int(seed)
        self.threads = threads
        self.first_look = int(first_look)
        self.levers = lv.discover(self.scenario, self.compiled)
        self.specs: dict[str, lv.LeverSpec] = {s.path: s for s in self.levers}
        self._ref: _Reference | None = None
        self._ref_lock = threading.Lock()
        self._written: set[Path] = set()
        self.plan: Plan | None = self._read_plan(Path(plan)) if plan is not None else None
        self._plan_outcome: Outcome | None = None

    # -- a plan next to the scenario -----------------------------------------------------------
    def _read_plan(self, path: Path) -> Plan:
        """The plan in ``path``: the parameters it moves become levers (their sliders widened
        to hold the plan's value).

        Raises
        ------
        SimEngineError
            The file is not a scenario, or not a plan of the explored scenario (other
            parameters: other stages, campaigns or pools).
        """
        what = f"--plan {path}"
        if not path.is_file():
            raise SimEngineError(f"{what}: expected a plan file (a scenario written by "
                                 f"simengine optimize -o), found "
                                 f"{'a folder' if path.exists() else 'nothing'}")
        plan_sc = load_scenario(path)
        cp = compile_scenario(plan_sc)
        mine, theirs = list(self.compiled.params.paths), list(cp.params.paths)
        if mine != theirs:
            odd = next((p for p in theirs if p not in mine),
                       next((p for p in mine if p not in theirs), "their order"))
            raise SimEngineError(f"{what}: expected a plan of {self.path.name} (the same "
                                 f"parameters, some of them moved), found a scenario with "
                                 f"other parameters ({odd})")
        from simengine.analysis.levers import centre

        levers = []
        for j, p in enumerate(mine):
            a, b = self.compiled.params.dists[j], cp.params.dists[j]
            if a == b or p.startswith("friction.") and p.endswith(".start"):
                continue
            s = self.specs.get(p)
            if s is None:
                s = self.add_lever(p)
                self.levers.append(s)
            v = float(centre(b))
            if not s.start <= v <= s.end:  # the slider must be able to hold the plan
                s = replace(s, start=min(s.start, v), end=max(s.end, v))
                self.specs[p] = s
                self.levers = [s if x.path == p else x for x in self.levers]
            levers.append((p, s.value, v))
        plan = Plan(path, plan_sc.name, plan_sc.description or "", tuple(levers))
        # what the sliders cannot set: the rest of the difference, in words
        body = overlay(to_raw(self.scenario_with(plan.values)), to_raw(plan_sc))
        for k in ("name", "description", "extends"):
            body.pop(k, None)
        return replace(plan, other=tuple(_flat(body)))

    def plan_outcome(self) -> Outcome:
        """The plan simulated on the explorer's draws and seed (computed once): its P(goal)
        and cost next to the scenario as loaded's, on the same draws."""
        if self.plan is None:
            raise SimEngineError("plan: expected a plan (simengine explore --plan PLAN.yaml), "
                                 "found none")
        if self._plan_outcome is None:
            *_, last = self.evaluate(self.plan.values)
            self._plan_outcome = last
        return self._plan_outcome

    # -- levers --------------------------------------------------------------------------------
    @property
    def goal(self) -> float:
        g = self.scenario.goal
        return float(g.revenue) if g is not None else math.nan

    def searchable(self) -> list[str]:
        """Parameter paths a user may add as levers."""
        return lv.searchable(self.compiled)

    def add_lever(self, path: str) -> lv.LeverSpec:
        """Make any numeric parameter path a lever (group "Added"); its spec."""
        path = path.strip()
        if path in self.specs:
            return self.specs[path]
        s = lv.spec(self.scenario, self.compiled, path, group="Added")
        self.specs[path] = s
        return s

    def format(self, path: str, x: float) -> str:
        """A lever's value as the page writes it ($240k, 45.0 %, 28, x1.15)."""
        return lever_value(self.specs[path].kind, x, self.scenario.currency)

    def loaded_values(self) -> dict[str, float]:
        return {p: s.value for p, s in self.specs.items()}

    def _changes(self, values: dict[str, float]) -> tuple[tuple[str, float, float], ...]:
        unknown = [p for p in values if p not in self.specs]
        if unknown:
            raise SimEngineError(f"lever {unknown[0]}: expected a lever of the explorer "
                                 f"(add it first), found an unknown path")
        return tuple((p, self.specs[p].value, float(x)) for p, x in values.items()
                     if float(x) != self.specs[p].value)

    def scenario_with(self, values: dict[str, float]) -> Scenario:
        """The scenario with the levers at ``values`` (a :class:`ScenarioError` if invalid)."""
        self._changes(values)
        return lv.moved(self.scenario, self.specs, values)

    def stages(self) -> list[int]:
        """Draws after each stage of an outcome: the first look, then all draws."""
        if 0 < self.first_look < self.draws:
            return [self.first_look, self.draws]
        return [self.draws]

    # -- simulation ----------------------------------------------------------------------------
    def reference(self) -> _Reference:
        """The scenario as loaded, simulated once (all draws)."""
        with self._ref_lock:
            if self._ref is None:
                t0 = time.perf_counter()
                with ENGINE_LOCK:
                    raw = run(self.compiled, self.draws, self.seed, threads=self.threads)
                ds = assemble(raw)
                b, s, r = per_draw(ds)
                self._ref = _Reference(ds, b, s, r, time.perf_counter() - t0)
            return self._ref

    def evaluate(self, values: dict[str, float], *,
                 cancelled: Callable[[], bool] | None = None) -> Iterator[Outcome]:
        """The outcome of a lever setting, stage by stage (the last one has every draw).

        Parameters
        ----------
        values
            ``{lever path: value}``; levers not given stay as loaded.
        cancelled
            Asked between chunks of draws; when it returns True the run stops and
            :class:`Superseded` is raised.

        Raises
        ------
        ScenarioError
            The setting is not a valid scenario (e.g. conversion rates adding up to over 1).
        Superseded
            ``cancelled()`` became true.
        """
        changes = self._changes(values)
        ref = self.reference()

        def check(_n: int = 0) -> None:
            if cancelled is not None and cancelled():
                raise Superseded

        check()
        if not changes:
            yield self._outcome(ref.ds, changes, self.draws, ref.seconds)
            return
        t0 = time.perf_counter()
        cs = compile_scenario(self.scenario_with(values))
        parts, done = [], 0
        for target in self.stages():
            check()
            with ENGINE_LOCK:
                parts.append(run(cs, target - done, self.seed, first_draw=done,
                                 threads=self.threads, on_chunk=check))
            done = target
            ds = assemble(concat_raw(parts))
            yield self._outcome(ds, changes, self.draws, time.perf_counter() - t0)

    def _outcome(self, ds: xr.Dataset, changes, target: int, seconds: float) -> Outcome:
        ref = self.reference()
        b, spend, rev = per_draw(ds)
        n = len(b)
        rb, rs, rr = ref.bookings[:n], ref.spend[:n], ref.revenue[:n]
        ok = np.isfinite(b) & np.isfinite(rb)
        x, y = b[ok], rb[ok]
        g = self.goal
        if math.isfinite(g) and len(x):
            hx, hy = (x >= g).astype(float), (y >= g).astype(float)
            p, pr = float(hx.mean()), float(hy.mean())
            p_se = math.sqrt(p * (1 - p) / len(x))
            dp, dp_se = float((hx - hy).mean()), _se(hx - hy)
        else:
            p = pr = p_se = dp = dp_se = math.nan
        d = x - y
        q = np.array(QUANTILES)
        mon, rmon = rev[ok], rr[ok]
        cum = np.concatenate([np.zeros((len(mon), 1)), np.cumsum(mon, axis=1)], axis=1)
        rcum = np.concatenate([np.zeros((len(rmon), 1)), np.cumsum(rmon, axis=1)], axis=1)
        starts = ds.period.values
        ends = ds.period_end.values if "period_end" in ds.coords else starts
        share = np.concatenate([[0.0], ds.goal_share.values]) if "goal_share" in ds.coords \
            else np.linspace(0, 1, len(starts) + 1)
        empty = np.full((len(q), mon.shape[1]), np.nan)
        return Outcome(
            changes=changes, draws=n, target=target, seconds=seconds, goal=g,
            currency=self.scenario.currency, p_goal=p, p_goal_se=p_se, ref_p_goal=pr,
            d_p_goal=dp, d_p_goal_se=dp_se, bookings=x, reference=y,
            d_mean=float(d.mean()) if len(d) else math.nan, d_mean_se=_se(d),
            d_p5=float(np.quantile(d, 0.05)) if len(d) else math.nan,
            d_p95=float(np.quantile(d, 0.95)) if len(d) else math.nan,
            d_spend=float(np.mean(spend[ok] - rs[ok])) if len(d) else math.nan,
            period_start=starts, period_end=ends,
            monthly=np.quantile(mon, q, axis=0) if len(mon) else empty,
            cumulative=np.quantile(cum, q, axis=0) if len(cum) else
            np.full((len(q), cum.shape[1]), np.nan),
            ref_monthly=np.median(rmon, axis=0) if len(rmon) else empty[0],
            ref_cumulative=np.median(rcum, axis=0) if len(rcum) else
            np.full(cum.shape[1], np.nan),
            goal_path=g * share, failed=int(n - ok.sum()), dataset=ds,
            cost=float(np.nanmean(total_cost(ds)[ok])) if len(d) else math.nan,
            ref_cost=float(np.nanmean(total_cost(ref.ds)[:n][ok])) if len(d) else math.nan)

    # -- writing -------------------------------------------------------------------------------
    def target(self, name: str | Path) -> Path:
        """The path of ``name`` inside :attr:`out_dir`, the one folder the explorer writes to.

        Raises
        ------
        SimEngineError
            ``name`` is absolute, starts with ``~``, has a ``..`` part, or leads outside the
            folder through a symbolic link.
        """
        text = str(name).strip()
        rel = Path(text)
        where = f"a file name inside {self.out_dir} (the explorer writes only there; choose " \
            "the folder with simengine explore --out-dir)"
        if not text or rel == Path("."):
            raise SimEngineError(f"expected {where}, found an empty name")
        if rel.is_absolute() or text.startswith(("~", "/", "\\")) or rel.drive:
            raise SimEngineError(f"{text}: expected {where}, found an absolute path")
        if ".." in rel.parts:
            raise SimEngineError(f"{text}: expected {where}, found '..' in the path")
        path = self.out_dir / rel
        root = self.out_dir.resolve()
        if root != path.resolve() and root not in path.resolve().parents:
            raise SimEngineError(f"{text}: expected {where}, found a path that leads outside "
                                 "it")
        return path

    def _check_target(self, path: Path, suffixes: tuple[str, ...], what: str) -> Path:
        path = self.target(path)
        if path.suffix.lower() not in suffixes:
            raise SimEngineError(f"{path}: expected a {what} path ending in "
                                 f"{' or '.join(suffixes)}, found "
                                 f"'{path.suffix or 'no suffix'}'")
        if path.is_dir():
            raise SimEngineError(f"{path}: expected a file name, found a folder")
        if path.resolve() == self.path.resolve():
            raise SimEngineError(f"{path}: expected a new file, found the scenario being "
                                 f"explored (the explorer never writes it)")
        if path.exists() and path.resolve() not in self._written:
            raise SimEngineError(f"{path}: expected a new file, found an existing one (choose "
                                 f"another name)")
        if not path.parent.exists():
            raise SimEngineError(f"{path}: expected an existing folder, found none at "
                                 f"{path.parent}")
        return path

    def save(self, values: dict[str, float], path: str | Path, name: str | None = None) -> Path:
        """Write the setting as a scenario that ``extends`` the explored file.

        The file holds only what the levers changed, under ``extends:`` the explored file's
        path relative to it; it is loaded and checked to resolve to the what-if scenario
        before it replaces anything.

        ``path`` is a name inside :attr:`out_dir` (see :meth:`target`).

        Raises
        ------
        SimEngineError
            The path is not a new ``.yaml`` file in an existing folder inside the output
            folder, or the setting is not a valid scenario.
        """
        path = self._check_target(Path(path), (".yaml", ".yml"), "scenario")
        changes = self._changes(values)
        whatif = self.scenario_with(values)
        base = to_raw(self.scenario)
        diff = overlay(base, to_raw(whatif))
        for k in ("name", "description", "extends"):
            diff.pop(k, None)
        rel = os.path.relpath(self.path.resolve(), path.parent.resolve())
        moved = [f"{self.specs[p].label} {self.format(p, a)} -> {self.format(p, b)}"
                 for p, a, b in changes]
        doc: dict[str, Any] = {
            "name": name or f"{self.scenario.name}-whatif",
            "description": f"What-if of {self.scenario.name}: "
                           f"{'; '.join(moved) if moved else 'no lever moved'}",
            "extends": Path(rel).as_posix(),
            **_tidy(diff),
        }
        head = [f"# Saved by `simengine explore {self.path.name}` on {dt.date.today()}:",
                "# the scenario as loaded, with these levers moved:"]
        head += [f"#   {p}: {a:g} -> {b:g}" for p, a, b in changes] or ["#   (none moved)"]
        text = "\n".join(head) + "\n" + yaml.safe_dump(doc, sort_keys=False,
                                                        default_flow_style=None, width=100,
                                                        allow_unicode=True)
        write_text(path, text, check=lambda tmp: self._same(load_scenario(tmp), whatif))
        self._written.add(path.resolve())
        return path

    @staticmethod
    def _same(a: Scenario, b: Scenario) -> None:
        def body(sc: Scenario) -> str:
            return canonical_json(sc.model_copy(update={"name": "", "description": ""}))

        if body(a) != body(b):
            raise SimEngineError("save: the written scenario does not resolve to the what-if "
                                 "(please report this)")

    def export(self, values: dict[str, float], path: str | Path) -> Path:
        """Write the HTML report of the setting: the what-if against the scenario as loaded
        (one report of the scenario when no lever moved), at a name inside :attr:`out_dir`."""
        from simengine.analysis.compare import compare
        from simengine.report.document import check_path, write_report

        path = self._check_target(path, (".html", ".htm"), "report")
        check_path(path)
        changes = self._changes(values)
        if not changes:
            ds = self.reference().ds
        else:
            whatif = self.scenario_with(values)
            with ENGINE_LOCK:
                ds = compare({"as loaded": self.scenario, "what-if": whatif},
                             draws=self.draws, seed=self.seed, threads=self.threads)
        out = write_report(ds, path)
        self._written.add(Path(out).resolve())
        return Path(out)


def overlay(base: Any, new: Any, key: str | None = None) -> Any:
    """What a scenario file that ``extends`` ``base`` must say to resolve to ``new`` (the
    inverse of :func:`simengine.scenario.loader.merge`): changed keys of mappings, changed
    items (by name) of the named lists, other lists and values whole; ``None`` removes a key.
    A distribution (``{dist: ...}``) and a campaign's ``volume`` are values: written whole."""
    whole = isinstance(new, dict) and ("dist" in new or key == "volume")
    if isinstance(base, dict) and isinstance(new, dict) and not whole:
        out = {k: overlay(base[k], v, k) if k in base else v for k, v in new.items()
               if k not in base or base[k] != v}
        out.update({k: None for k in base if k not in new})
        return out
    if key in NAMED_LISTS and isinstance(base, list) and isinstance(new, list):
        names = [b.get("name") for b in base if isinstance(b, dict)]
        if [n.get("name") for n in new if isinstance(n, dict)][:len(names)] == names:
            return [{"name": n["name"], **overlay(b, n)} for b, n in zip(base, new, strict=False)
                    if b != n] + new[len(base):]
    return new


def _flat(x: Any, prefix: str = "") -> list[str]:
    """``path: value`` lines of a nested override (named list items by name)."""
    if isinstance(x, dict):
        out = []
        for k, v in x.items():
            out += _flat(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(x, list) and x and all(isinstance(i, dict) and "name" in i for i in x):
        out = []
        for i in x:
            rest = {k: v for k, v in i.items() if k != "name"}
            out += _flat(rest, f"{prefix}.{i['name']}")
        return out
    if isinstance(x, list) and x and all(isinstance(i, dict) for i in x):
        out = []
        for n, i in enumerate(x):
            out += _flat(i, f"{prefix}[{n}]")
        return out
    return [f"{prefix}: {x}"]


def _tidy(x: Any) -> Any:
    """Whole numbers written as integers (``count: 7``, not ``7.0``)."""
    if isinstance(x, dict):
        return {k: _tidy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_tidy(v) for v in x]
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x

