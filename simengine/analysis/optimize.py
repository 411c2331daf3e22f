"""The plan optimizer: the cheapest mix of levers that reaches the goal with a confidence, and the
frontier of cost against P(goal).

Method: surrogate-guided sample-average approximation on common random numbers.

Every plan is *scored* by simulating it on the same draws (same seed, so draw i sees the same
prospects, dwells and routes under every plan) without recompiling the scenario: the levers'
per-draw values go to the engine as given parameter columns, as goal seek does. P(goal) and the
cost of a plan are therefore sample averages over one shared set of draws, and two plans differ
by what the levers do, not by noise.

A full simulation of the shipped baseline at 1,000 draws costs about 13 CPU seconds, so a
search that scores every candidate by simulation (a genetic algorithm, differential evolution
on the sample-average problem: thousands of plans, as RISKOptimizer and OptQuest do) would take
hours. The work is split so that simulations go only to plans that are reported:

1. *Allocation* (cheap, deterministic): for a required level ``m`` of expected bookings, the
   cheapest plan within the bounds in the expected-value model of the funnel (the absorbing
   chain and fluid capacity model of :mod:`simengine.analysis.expected`, the one goal seek's
   reverse waterfall uses). A path of plans is built by marginal analysis: from the cheapest
   plan, each step moves the lever (or a count together with a budget: capacity and demand
   are complements) that adds the most expected bookings per unit of cost; the last step is
   cut to the level and the continuous levers are polished by SLSQP. With concave returns and
   linear costs this is the cheapest plan at every level (equal marginal returns per dollar);
   counts stay whole, hire dates move by months. The path takes a few thousand model
   evaluations, which is why the model is fast (a few milliseconds each: routing that no
   budget or pool changes is computed once, the capacity fixed point iterates on the pools'
   work only, the pools' supply is cached).
2. *Level* (simulated): a one-dimensional search on ``m`` on the common random numbers --
   false position on the draws' ``(1 - confidence)`` quantile of bookings minus the target --
   finds the smallest level whose plan has a simulated P(goal) at or above the confidence.
   The answer is the cheapest simulated plan that reaches the confidence (the scenario as
   loaded among them, when it is within the bounds).
3. *Frontier* (simulated, none wasted): the search's plans are points of the frontier; until
   there are ``frontier`` of them, the plan at the level that fills the widest gap in P(goal)
   is simulated. That level is read off the plans already simulated, by *re-scoring* their
   draws: on common random numbers draw i of every plan is the same year, so between two
   simulated levels each draw's bookings are interpolated and P(goal) at any level between
   them is estimated without a simulation. A frontier plan may beat the search's answer on
   the same draws; it is then the answer.
4. *Honest answer*: the chosen plan is simulated again on fresh random numbers (seed + 1) and
   that run's P(goal) and standard error are reported, so the optimizer's curse (the best of
   many noisy plans looks better than it is) does not reach the user.

The expected-value model chooses how the money is split; the simulation decides how much is
needed. Where the fluid model is exact in the mean (no capacity limit binds) the allocation is
the cheapest one; where queues bind it is optimistic about capacity, and the plan found is
feasible (simulated) but may not be the cheapest.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize as sopt

from simengine.analysis.expected import expected_model, mean_theta
from simengine.analysis.levers import OUT_OF_REACH_EXIT as OUT_OF_REACH_EXIT  # the CLI's code
from simengine.analysis.levers import Lever, is_probability, lever_uniforms, scenario_and_target
from simengine.analysis.levers import lever as resolve_lever
from simengine.compile import Compiled, compile_scenario
from simengine.dataset import campaign_cost, pool_cost
from simengine.engine.run import run
from simengine.errors import SimEngineError
from simengine.scenario import Scenario, load_scenario, to_raw, with_values
from simengine.scenario import paths as raw_paths

OBJECTIVES = ("min_cost", "max_probability")
_INTEGER_KEYS = ("headcount", "count")


class PlanOutOfReach(SimEngineError):
    """No plan within the bounds reaches the confidence; ``result`` holds the best plan found
    (the largest simulated P(goal)). The CLI prints it and exits with code 3."""

    def __init__(self, message: str, result: OptimizeResult):
        super().__init__(message)
        self.result = result


# --- levers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanLever:
    """One lever of a plan: a parameter column, or a hire date (whole months from the start of
    the horizon's first month)."""

    path: str
    bounds: tuple[float, float]
    integer: bool
    current: float
    lever: Lever | None = None  # None for a hire date

    @property
    def is_date(self) -> bool:
        return self.lever is None

    def display(self, x: float, origin: dt.date) -> Any:
        """The value as a user reads it (a date for a hire date, an int for a count)."""
        if self.is_date:
            return _month(origin, int(round(x)))
        return int(round(x)) if self.integer else float(x)


def _month(origin: dt.date, k: int) -> dt.date:
    m = origin.month - 1 + k
    return dt.date(origin.year + m // 12, m % 12 + 1, 1)


def _month_index(origin: dt.date, d: dt.date) -> int:
    return (d.year - origin.year) * 12 + d.month - origin.month


def _as_date(v: Any, what: str) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    text = str(v).strip()
    try:
        if len(text) == 7:  # YYYY-MM
            text += "-01"
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SimEngineError(f"{what}: expected a date (YYYY-MM or YYYY-MM-DD), found "
                             f"{v!r}") from None


def _is_hire_date(path: str) -> bool:
    parts = raw_paths.split(path) if path else []
    return (len(parts) == 5 and parts[0] == "pools" and parts[2] == "hires"
            and isinstance(parts[3], int) and parts[4] == "date")


def plan_levers(sc: Scenario, cs: Compiled, levers: dict[str, tuple[Any, Any]]
                ) -> list[PlanLever]:
    """Resolve and check the levers of a plan (paths and bounds).

    Raises
    ------
    SimEngineError
        An unknown path, a path that is not a number, reversed bounds, or bounds the scenario
        does not allow (a budget of 0, a rate above 1).
    """
    if not levers:
        raise SimEngineError("levers: expected at least one lever PATH=LOW:HIGH, found none")
    origin = sc.horizon.start.replace(day=1)
    out: list[PlanLever] = []
    from simengine.scenario.rules import inert

    for path, b in levers.items():
        if why := inert(sc, path):
            raise SimEngineError(f"lever {path}: expected a parameter that can move bookings, "
                                 f"found one that cannot: {why}")
        try:
            lo_raw, hi_raw = b
        except (TypeError, ValueError):
            raise SimEngineError(f"lever {path}: expected bounds (low, high), found {b!r}") \
                from None
        if _is_hire_date(path):
            try:
                cur = raw_paths.get_raw(to_raw(sc), path)
            except KeyError as exc:
                raise SimEngineError(f"lever {path}: expected a parameter path of the "
                                     f"scenario, found none ({exc.args[0]})") from None
            lo = _month_index(origin, _as_date(lo_raw, f"lever {path} low"))
            hi = _month_index(origin, _as_date(hi_raw, f"lever {path} high"))
            if not lo < hi:
                raise SimEngineError(f"lever {path}: expected low < high, found "
                                     f"{lo_raw} and {hi_raw}")
            if lo < 0:
                raise SimEngineError(f"lever {path}: expected dates from the horizon's start "
                                     f"({sc.horizon.start}), found {lo_raw}")
            cur_i = _month_index(origin, _as_date(cur, path))
            out.append(PlanLever(path, (float(lo), float(hi)), True, float(cur_i)))
            continue
        try:
            lo, hi = float(lo_raw), float(hi_raw)
        except (TypeError, ValueError):
            raise SimEngineError(f"lever {path}: expected numeric bounds, found "
                                 f"{lo_raw!r} and {hi_raw!r}") from None
        if not lo < hi:
            raise SimEngineError(f"lever {path}: expected low < high, found {lo:g} and {hi:g}")
        lv = resolve_lever(cs, path, (lo, hi))
        if is_probability(path) and (lo < 0 or hi > 1):
            raise SimEngineError(f"lever {path}: expected bounds within [0, 1] (a "
                                 f"probability), found {lo:g} and {hi:g}")
        for x in (lo, hi):  # the scenario must accept both ends (e.g. a budget of 0 is not)
            try:
                lv.apply(sc, x)
            except SimEngineError as exc:
                first = str(exc).splitlines()[0]
                raise SimEngineError(f"lever {path}: bound {x:g} is not a valid value "
                                     f"({first})") from None
        integer = path.split(".")[-1] in _INTEGER_KEYS
        if integer and (lo != round(lo) or hi != round(hi)):
            raise SimEngineError(f"lever {path}: expected whole-number bounds for a count, "
                                 f"found {lo:g} and {hi:g}")
        out.append(PlanLever(path, (lo, hi), integer, lv.current, lv))
    return out


# --- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimizeResult:
    """The plan found.

    Attributes
    ----------
    values : dict
        Lever path -> value of the plan (a date for a hire date, an int for a count).
    probability, probability_se : float
        P(goal) of the plan re-simulated on fresh random numbers (``seed + 1``) and its Monte
        Carlo standard error: the figure to quote.
    search_probability : float
        P(goal) of the plan on the draws of the search (optimistically biased: the plan was
        chosen on them).
    cost : float
        Expected campaign spend plus pool cost over the horizon (the figures the summary prints
        as "campaign spend" and "<pool> cost"), on the draws of the search.
    reached : bool
        Whether the plan meets the objective's constraint on the search draws.
    frontier : DataFrame
        One row per simulated plan, cheapest first: ``cost``, ``probability``,
        ``probability_se``, ``expected_bookings`` (the model's level), ``role`` (loaded,
        search, frontier, chosen), ``efficient`` (no other plan is cheaper with at least its
        P(goal)), and one column per lever.
    loaded : dict
        The plan as loaded: ``values``, ``cost``, ``probability``, ``probability_se``.
    """

    objective: str
    target: float
    confidence: float
    budget: float
    values: dict[str, Any]
    probability: float
    probability_se: float
    search_probability: float
    cost: float
    reached: bool
    frontier: pd.DataFrame
    loaded: dict[str, Any]
    draws: int
    seed: int
    plans_scored: int
    model_evaluations: int
    elapsed: float
    cpu_seconds: float
    currency: str = "USD"
    levers: tuple[PlanLever, ...] = field(default=(), repr=False)
    source: Scenario | None = field(default=None, repr=False, compare=False)
    note: str = ""

    def scenario(self, scenario: Scenario | str | Path | None = None) -> Scenario:
        """The plan as a scenario (``scenario``, default the one optimized, with the levers at
        the plan's values)."""
        sc = self.source if scenario is None else scenario
        if sc is None:
            raise SimEngineError("scenario: expected the scenario the plan was optimized on")
        sc = sc if isinstance(sc, Scenario) else load_scenario(sc)
        return apply_plan(sc, self.levers, [self._x(p) for p in self.levers])

    def _x(self, p: PlanLever) -> float:
        v = self.values[p.path]
        if p.is_date:
            return float(_month_index(self.source.horizon.start.replace(day=1), v))
        return float(v)

    def sentence(self) -> str:
        """The answer in words."""
        from simengine.fmt import money

        cur = self.currency
        head = (f"cheapest plan with P(bookings >= {money(self.target, cur)}) >= "
                f"{self.confidence:.0%}" if self.objective == "min_cost" else
                f"largest P(bookings >= {money(self.target, cur)}) with cost <= "
                f"{money(self.budget, cur)}")
        text = (f"{head}: cost {money(self.cost, cur)} (as loaded "
                f"{money(self.loaded['cost'], cur)}), P(goal) {self.probability:.1%} ± "
                f"{self.probability_se:.1%} on {self.draws:,} fresh draws (as loaded "
                f"{self.loaded['probability']:.1%} ± {self.loaded['probability_se']:.1%})")
        if not self.reached:
            text += "; no plan within the bounds reaches it: this is the best found"
        return text + "."

    def __str__(self) -> str:
        return self.sentence()


def apply_plan(sc: Scenario, levers: tuple[PlanLever, ...] | list[PlanLever],
               x: list[float] | np.ndarray) -> Scenario:
    """``sc`` with each lever at its value in ``x``."""
    origin = sc.horizon.start.replace(day=1)
    out = sc
    dates = {p.path: _month(origin, int(round(v))) for p, v in zip(levers, x, strict=True)
             if p.is_date}
    if dates:
        out = with_values(out, dates)
    for p, v in zip(levers, x, strict=True):
        if not p.is_date:
            out = p.lever.apply(out, float(round(v)) if p.integer else float(v))
    return out


# --- the problem --------------------------------------------------------------------------------
@dataclass
class _Score:
    x: np.ndarray
    cost: float
    probability: float
    se: float
    quantile: float  # the draws' k-th largest bookings, k = ceil(confidence x n)
    bookings: np.ndarray
    level: float  # expected bookings of the model at the plan
    role: str
    served: np.ndarray | None = None  # share of visits to each pool's stages served
    draws: np.ndarray = field(default_factory=lambda: np.zeros(0))  # bookings, NaN: failed


class _Problem:
    def __init__(self, sc: Scenario, levers: list[PlanLever], target: float, confidence: float,
                 draws: int, seed: int, threads: int | None, n_steps: int = 20):
        self.sc, self.levers = sc, levers
        self.target, self.confidence = target, confidence
        self.draws, self.seed, self.threads = draws, seed, threads
        self.base = compile_scenario(sc)
        self.dates = [i for i, p in enumerate(levers) if p.is_date]
        self._compiled: dict[tuple, Compiled] = {}
        self._model: dict[tuple, tuple[float, float]] = {}
        self._means: dict[int, np.ndarray] = {}
        self._u: dict[tuple[int, int], dict[int, np.ndarray | None]] = {}
        self.model_evaluations = 0
        self.scores: list[_Score] = []
        lo = np.array([p.bounds[0] for p in levers])
        hi = np.array([p.bounds[1] for p in levers])
        self.lo, self.hi = lo, hi
        self.integer = np.array([p.integer for p in levers])
        self.current = np.array([p.current for p in levers])
        self.n_steps = n_steps
        self._path: list[tuple[np.ndarray, float, float]] | None = None
        self.kappa = np.ones(len(getattr(self.base, "pool_names", ())))
        self.loaded_in_bounds = bool(np.all((self.current >= lo) & (self.current <= hi)))

    # -- compiled scenario of a plan (recompiled only when a hire date moves) -------------------
    def compiled(self, x: np.ndarray) -> Compiled:
        if not self.dates:
            return self.base
        key = tuple(int(round(x[i])) for i in self.dates)
        if key not in self._compiled:
            origin = self.sc.horizon.start.replace(day=1)
            sc = with_values(self.sc, {self.levers[i].path: _month(origin, k)
                                       for i, k in zip(self.dates, key, strict=True)})
            self._compiled[key] = compile_scenario(sc)
        return self._compiled[key]

    def snap(self, x: np.ndarray) -> np.ndarray:
        x = np.clip(np.asarray(x, dtype=float), self.lo, self.hi)
        return np.where(self.integer, np.round(x), x)

    # -- the expected-value model --------------------------------------------------------------
    def model(self, x: np.ndarray, clip: bool = True) -> tuple[float, float]:
        """(expected bookings, expected cost) of plan ``x`` in the expected-value model."""
        x = self.snap(x) if clip else np.asarray(x, dtype=float)
        key = tuple(np.round(x, 9))
        hit = self._model.get(key)
        if hit is not None:
            return hit
        self.model_evaluations += 1
        cs = self.compiled(x)
        fs, cap = self._expected(x, self.kappa)
        th = self._theta(x)
        bookings = float(sum(s.bookings for s in fs))
        cost = 0.0
        C = cs.n_campaigns
        share_in = cs.camp_shape.sum(axis=1)
        for c in range(C):
            budget = th[cs.vol_cols[c, 0]] if cs.vol_kind[c] == 1 else 0.0
            cost += (th[cs.cost_fixed_col[c]] * (share_in[c] > 0)
                     + th[cs.cost_per_lead_col[c]] * fs[c].prospects + budget * share_in[c])
        if len(cap.pools):
            cost += float(np.sum(cap.reps * cs.grid.days / 365.0 * th[cs.pool_cost_col]))
        self._model[key] = (bookings, float(cost))
        return self._model[key]

    def _theta(self, x: np.ndarray) -> np.ndarray:
        cs = self.compiled(x)
        if id(cs) not in self._means:  # the compiled scenarios live as long as the problem
            self._means[id(cs)] = mean_theta(cs)
        th = self._means[id(cs)].copy()
        for p, v in zip(self.levers, x, strict=True):
            if not p.is_date:
                th = p.lever.theta(th, v)
        return th

    def _expected(self, x: np.ndarray, kappa: np.ndarray):
        cs = self.compiled(x)
        th = self._theta(x)
        if len(kappa):
            th[cs.pool_selling_col] = th[cs.pool_selling_col] * kappa
        return expected_model(cs, th)

    def fit_capacity(self, s: _Score) -> bool:
        """Scale each pool's capacity in the model to what the simulation saw at plan ``s``.

        The fluid model of :mod:`simengine.analysis.expected` ignores that prospects go cold
        while they wait before a pool is fully busy, and that waiting for a rep delays deals
        past the horizon. A pool whose prospects go cold gets the capacity at which the model
        serves the share of visits the simulation served; the pools where prospects wait share
        one factor, the one at which the model's expected bookings equal the simulated mean
        (only when the model is above it). True when the model changed."""
        if s.served is None or not len(s.served):
            return False
        ones = np.ones(len(s.served))
        _, cap = self._expected(s.x, ones)
        cold = (s.served < 0.995) | (cap.served < 0.995)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(cold, s.served * cap.demand / cap.supply, 1.0)
        k = np.clip(np.nan_to_num(k, nan=1.0), 0.05, 1.0)
        wait = ~cold
        mean = float(np.mean(s.bookings))
        if wait.any():
            def gap(f: float) -> float:
                fs, _ = self._expected(s.x, np.where(wait, f, k))
                return float(sum(t.bookings for t in fs)) - mean

            if gap(1.0) > 0.01 * mean:
                f = 0.05 if gap(0.05) > 0 else sopt.brentq(gap, 0.05, 1.0, xtol=1e-3)
                k = np.where(wait, f, k)
        if np.allclose(k, self.kappa, rtol=0.02):
            return False
        self.kappa = k
        self._model.clear()
        self._path = None
        for t in self.scores:
            t.level = self.model(t.x, clip=t.role != "loaded")[0]
        return True

    # -- simulation on common random numbers ---------------------------------------------------
    def simulate(self, x: np.ndarray, seed: int | None = None, role: str = "search") -> _Score:
        # the scenario as loaded is simulated as it is, even outside the bounds
        x = np.asarray(x, dtype=float) if role == "loaded" else self.snap(x)
        seed = self.seed if seed is None else seed
        cs = self.compiled(x)
        ukey = (seed, id(cs))
        if ukey not in self._u:
            self._u[ukey] = {j: lever_uniforms(cs, p.lever, seed, self.draws)
                             for j, p in enumerate(self.levers) if not p.is_date}
        u = self._u[ukey]
        given = {p.lever.col: p.lever.values(np.full(self.draws, x[j]), u[j])
                 for j, p in enumerate(self.levers) if not p.is_date}
        raw = run(cs, self.draws, seed, threads=self.threads, given=given)
        ok = ~raw.failed
        if not ok.any():
            raise SimEngineError("optimize: every draw failed (impossible parameter values)")
        bookings = raw.out.revenue.sum(axis=1)[ok]
        spend = campaign_cost(raw).sum(axis=1)[ok]
        if raw.headcount is not None:
            spend = spend + pool_cost(raw).sum(axis=1)[ok]
        n = len(bookings)
        p = float(np.mean(bookings >= self.target))
        k = min(max(int(math.ceil(self.confidence * n - 1e-9)), 1), n)
        q = float(np.sort(bookings)[::-1][k - 1])
        served = None
        if raw.pools is not None:
            sp = cs.stage_pool
            entered = raw.out.entered[ok].sum(axis=(0, 1))
            gone = raw.pools.abandoned[ok].sum(axis=(0, 1))
            work = np.array([entered[sp == j].sum() for j in range(len(cs.pool_names))])
            with np.errstate(divide="ignore", invalid="ignore"):
                served = np.where(work > 0, 1.0 - gone / work, 1.0)
        aligned = np.where(ok, raw.out.revenue.sum(axis=1), np.nan)
        s = _Score(x, float(np.mean(spend)), p, math.sqrt(p * (1 - p) / n), q, bookings,
                   self.model(x, clip=role != "loaded")[0], role, served, aligned)
        if seed == self.seed:
            self.scores.append(s)
        return s

    # -- the allocation: the path of cheapest plans, by marginal analysis ---------------------
    def steps(self) -> np.ndarray:
        span = self.hi - self.lo
        return np.where(self.integer, np.maximum(1.0, np.ceil(span / self.n_steps)),
                        span / self.n_steps)

    def path(self) -> list[tuple[np.ndarray, float, float]]:
        """Plans from the cheapest to the one with the most expected bookings: from the
        cheapest plan, each step moves the one lever (up or down by a step) that adds the most
        expected bookings per unit of cost (a move that adds bookings and saves cost first).

        Marginal analysis of this kind gives the cheapest plan at every level when returns are
        concave and costs linear in each lever (diminishing returns); the capacity limits of the
        model make budgets and hires complements, which the step-by-step path follows as a
        hire's marginal return rises with the leads it can serve."""
        if self._path is not None:
            return self._path
        x = self.cheapest()
        m, k = self.model(x)
        out = [(x, m, k)]
        step = self.steps()
        seen = {tuple(x)}
        d = len(self.levers)
        moves = [{j: sign} for j in range(d) for sign in (1.0, -1.0)]
        # a count (a hire) together with another lever: capacity and demand are complements,
        # and at the edge of capacity neither step alone adds bookings
        moves += [{i: 1.0, j: 1.0} for i in range(d) if self.integer[i]
                  for j in range(d) if j != i and not self.integer[j]]
        for _ in range(int(self.n_steps * d * 3)):
            best, best_score = None, -np.inf
            for mv in moves:
                y = x.copy()
                for j, sign in mv.items():
                    y[j] = min(max(y[j] + sign * step[j], self.lo[j]), self.hi[j])
                if np.array_equal(y, x) or tuple(y) in seen:
                    continue
                my, ky = self.model(y)
                dm, dk = my - m, ky - k
                if dm <= 1e-9 * max(abs(m), 1.0):
                    continue
                score = np.inf if dk <= 0 else dm / dk
                if score > best_score:
                    best, best_score = (y, my, ky), score
            if best is None:
                break
            x, m, k = best
            seen.add(tuple(x))
            out.append(best)
        self._path = out
        return out

    def cheapest(self) -> np.ndarray:
        """Each lever at its cheaper bound (at the bound with more expected bookings when both
        cost the same, as a rate does)."""
        x = self.current.clip(self.lo, self.hi).copy()
        x = np.where(self.integer, np.round(x), x)
        for j in range(len(self.levers)):
            a, b = x.copy(), x.copy()
            a[j], b[j] = self.lo[j], self.hi[j]
            (ma, ka), (mb, kb) = self.model(a), self.model(b)
            if abs(ka - kb) <= 1e-9 * max(abs(ka), abs(kb), 1.0):
                x[j] = a[j] if ma >= mb else b[j]
            else:
                x[j] = a[j] if ka < kb else b[j]
        return x

    def corner(self) -> np.ndarray:
        """Each lever at the bound with more expected bookings, judged from the path's plan
        with the most (where capacity is least likely to bind in the model)."""
        base = self.most()
        x = base.copy()
        for j in range(len(self.levers)):
            a, b = base.copy(), base.copy()
            a[j], b[j] = self.lo[j], self.hi[j]
            x[j] = self.hi[j] if self.model(b)[0] >= self.model(a)[0] else self.lo[j]
        return x

    def most(self) -> np.ndarray:
        """The plan of the path with the most expected bookings."""
        return max(self.path(), key=lambda t: t[1])[0]

    def plan(self, level: float, polish: bool = True) -> np.ndarray:
        """The cheapest plan with expected bookings >= ``level`` on the path (the last step
        taken only as far as needed), polished by SLSQP on the continuous levers."""
        path = self.path()
        i = next((i for i, t in enumerate(path) if t[1] >= level), None)
        if i is None:
            return self.most()
        if i == 0:
            return path[0][0]
        (xa, ma, _), (xb, mb, _) = path[i - 1], path[i]
        x = xb
        # the step's count moves whole; its continuous lever only as far as needed
        xa = np.where(self.integer, xb, xa)
        ma = self.model(xa)[0]
        diff = np.flatnonzero(xa != xb)
        if ma >= level:
            x = xa
        elif len(diff) and mb > ma:
            j = int(diff[0])

            def gap(v: float) -> float:
                y = xa.copy()
                y[j] = v
                return self.model(y)[0] - level

            if gap(xa[j]) < 0 < gap(xb[j]):
                v = sopt.brentq(gap, xa[j], xb[j], xtol=1e-9 * max(abs(xb[j]), 1.0))
                x = xa.copy()
                x[j] = v
                # brentq may stop a hair below the level: take the side that reaches it
                if self.model(x)[0] < level:
                    x = xb
        return self._polish(x, level) if polish else x

    def _polish(self, x: np.ndarray, level: float) -> np.ndarray:
        """SLSQP on the continuous levers (counts and dates held), from the path's plan."""
        free = ~self.integer
        if not free.any():
            return x
        scale = np.where(self.hi > self.lo, self.hi - self.lo, 1.0)[free]
        cost_scale = max(abs(self.model(x)[1]), 1.0)

        def full(z: np.ndarray) -> np.ndarray:
            y = x.copy()
            y[free] = self.lo[free] + np.clip(z, 0.0, 1.0) * scale
            return y

        z0 = (x[free] - self.lo[free]) / scale
        try:
            res = sopt.minimize(
                lambda z: self.model(full(z))[1] / cost_scale, z0, method="SLSQP",
                bounds=[(0.0, 1.0)] * int(free.sum()),
                constraints=[{"type": "ineq",
                              "fun": lambda z: (self.model(full(z))[0] - level)
                              / max(abs(level), 1.0)}],
                options={"maxiter": 20, "ftol": 1e-10, "eps": 1e-7})
        except (ValueError, np.linalg.LinAlgError):  # pragma: no cover - keep the path's plan
            return x
        y = self.snap(full(res.x))
        (my, ky), (_, k0) = self.model(y), self.model(x)
        if my >= level - 1e-9 * max(abs(level), 1.0) and ky < k0:
            return y
        return x

    def within_budget(self, budget: float) -> np.ndarray:
        """The plan of the path with the most expected bookings whose model cost is at most
        ``budget`` (the last step taken only as far as the budget allows)."""
        path = self.path()
        i = next((i for i, t in enumerate(path) if t[2] > budget), None)
        if i is None:
            return self.most()
        if i == 0:
            return path[0][0]
        (xa, _, ka), (xb, _, kb) = path[i - 1], path[i]
        diff = np.flatnonzero(xa != xb)
        if len(diff) != 1 or self.integer[diff[0]] or kb <= ka:
            return xa
        j = int(diff[0])

        def over(v: float) -> float:
            y = xa.copy()
            y[j] = v
            return self.model(y)[1] - budget

        if over(xa[j]) <= 0 < over(xb[j]):
            v = sopt.brentq(over, xa[j], xb[j], xtol=1e-9 * max(abs(xb[j]), 1.0))
            x = xa.copy()
            x[j] = v
            return x if self.model(x)[1] <= budget else xa
        return xa


# --- the optimizer ------------------------------------------------------------------------------
def optimize(scenario: Scenario | str | Path, levers: dict[str, tuple[Any, Any]],
             objective: str = "min_cost", confidence: float = 0.8, target: float | None = None,
             budget: float | None = None, *, draws: int = 1000, seed: int = 0,
             frontier: int = 8, rtol: float = 0.005, max_runs: int = 10,
             threads: int | None = None) -> OptimizeResult:
    """The cheapest plan that reaches the goal with ``confidence`` (or the largest P(goal)
    within ``budget``), and the frontier of cost against P(goal).

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of a scenario file.
    levers
        ``{parameter path: (low, high)}``: campaign budgets, lead volumes and audiences, pool
        headcounts and hire counts (kept whole), hire dates (``pools.ae.hires[0].date``,
        bounds as dates, searched by month), rates. An uncertain lever keeps its spread and
        moves its centre, as in goal seek.
    objective
        ``"min_cost"``: the smallest cost with P(goal) >= ``confidence``;
        ``"max_probability"``: the largest P(goal) with cost <= ``budget``.
    target
        Bookings goal over the horizon (default the scenario's ``goal.revenue``).
    draws, seed
        Every plan is simulated on draws ``0 .. draws - 1`` of ``seed`` (common random
        numbers); the chosen plan is simulated again with ``seed + 1`` for the figure reported.
    frontier
        Simulated plans on the frontier besides the scenario as loaded (0: only those of the
        search). The search's plans count: plans at levels spread over P(goal) are added
        until there are this many.
    rtol
        Precision of the search on the level of expected bookings, relative.
    max_runs
        At most this many simulations in the search for the level (the frontier and the
        fresh-seed check come on top).

    Returns
    -------
    OptimizeResult

    Raises
    ------
    SimEngineError
        Bad input: an unknown path, a path that is not a number, reversed bounds, a confidence
        outside (0, 1), no target, ...
    PlanOutOfReach
        No plan within the bounds reaches the confidence (min_cost) or fits the budget
        (max_probability); ``.result`` holds the best plan found.

    Notes
    -----
    Method (see the module docstring): surrogate-guided sample-average approximation. The
    split between levers comes from marginal analysis on the expected-value model of the
    funnel (:mod:`simengine.analysis.expected`), cost = expected campaign spend plus pool cost;
    the level of spending comes from a one-dimensional search on simulated plans that share
    their random numbers, and the frontier's extra plans are placed by re-scoring the draws of
    the plans already simulated. Every plan reported is simulated, once; the answer's P(goal)
    is from a fresh seed.

    Examples
    --------
    >>> r = optimize("scenarios/baseline_plan.yaml",           # doctest: +SKIP
    ...              {"campaigns.paid-search.volume.budget": (100e3, 1.5e6)}, draws=200)
    >>> r.values, r.cost, r.probability                         # doctest: +SKIP
    """
    t0, c0 = time.perf_counter(), time.process_time()
    if objective not in OBJECTIVES:
        raise SimEngineError(f"objective: expected one of {', '.join(OBJECTIVES)}, found "
                             f"{objective!r}")
    if not 0 < confidence < 1:
        raise SimEngineError(f"confidence: expected a probability in (0, 1), found {confidence}")
    if objective == "max_probability":
        if budget is None or not budget > 0:
            raise SimEngineError(f"budget: expected a cost > 0 for max_probability, found "
                                 f"{budget}")
    elif budget is not None:
        raise SimEngineError("budget: only the max_probability objective takes a budget")
    if int(draws) < 10:
        raise SimEngineError(f"draws: expected at least 10, found {draws}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SimEngineError(f"seed: expected a non-negative integer, found {seed!r}")
    if int(frontier) < 0:
        raise SimEngineError(f"frontier: expected a number of plans >= 0, found {frontier}")
    sc, target = scenario_and_target(scenario, target)
    cs = compile_scenario(sc)
    pls = plan_levers(sc, cs, levers)
    pr = _Problem(sc, pls, target, confidence, int(draws), int(seed), threads)

    cur_in = pr.loaded_in_bounds
    loaded = pr.simulate(pr.current, role="loaded")
    pr.fit_capacity(loaded)
    note = ""

    if objective == "min_cost":
        chosen, reached = _min_cost(pr, loaded, rtol, max_runs)
    else:
        chosen, reached = _max_probability(pr, float(budget), max_runs)
    if cur_in and objective == "min_cost" and loaded.probability >= confidence \
            and loaded.cost <= chosen.cost:
        chosen, reached = loaded, True
        note = "the scenario as loaded is the cheapest plan found that reaches the confidence"

    # the frontier: the search's plans and, until there are ``frontier`` of them, plans at
    # levels spread over P(goal), placed by re-scoring the simulated plans' draws
    for lvl in _frontier_levels(pr, int(frontier)):
        x = pr.plan(lvl, polish=False)
        if not any(np.allclose(x, t.x) for t in pr.scores):
            pr.simulate(x, role="frontier")
    # a frontier plan may beat the search's answer on the same draws
    eligible = [t for t in pr.scores if t.role != "loaded" or pr.loaded_in_bounds]
    if objective == "min_cost":
        ok = [t for t in eligible if t.probability >= confidence]
        if ok and min(t.cost for t in ok) < chosen.cost:
            chosen, reached, note = min(ok, key=lambda t: t.cost), True, ""
    else:
        fit = [t for t in eligible if t.cost <= float(budget) * (1 + 1e-9)]
        if fit:
            best = max(fit, key=lambda t: (t.probability, -t.cost))
            if best.probability > chosen.probability or not reached:
                chosen, reached = best, True
    fresh = pr.simulate(chosen.x, seed=int(seed) + 1, role="check")
    origin = sc.horizon.start.replace(day=1)
    table = _table(pr, chosen, origin)
    values = {p.path: p.display(v, origin) for p, v in zip(pls, chosen.x, strict=True)}
    res = OptimizeResult(
        objective=objective, target=target, confidence=float(confidence),
        budget=float(budget) if budget is not None else math.nan, values=values,
        probability=fresh.probability, probability_se=fresh.se,
        search_probability=chosen.probability, cost=chosen.cost, reached=bool(reached),
        frontier=table,
        loaded={"values": {p.path: p.display(v, origin) for p, v in zip(pls, pr.current,
                                                                        strict=True)},
                "cost": loaded.cost, "probability": loaded.probability,
                "probability_se": loaded.se, "within_bounds": cur_in},
        draws=int(draws), seed=int(seed), plans_scored=len(pr.scores) + 1,
        model_evaluations=pr.model_evaluations, elapsed=time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0, currency=sc.currency, levers=tuple(pls),
        source=sc, note=note)
    if not reached:
        from simengine.fmt import money

        if objective == "min_cost":
            msg = (f"optimize: no plan within the bounds reaches P(bookings >= "
                   f"{money(target, sc.currency)}) >= {confidence:.0%}: the best found has "
                   f"{chosen.probability:.1%} ± {chosen.se:.1%} at cost "
                   f"{money(chosen.cost, sc.currency)} (widen the bounds, add levers or lower "
                   f"the confidence)")
        else:
            msg = (f"optimize: no plan within the bounds costs at most "
                   f"{money(float(budget), sc.currency)}: the cheapest found costs "
                   f"{money(chosen.cost, sc.currency)} (raise the budget or lower the bounds)")
        raise PlanOutOfReach(msg, res)
    return res


def _min_cost(pr: _Problem, loaded: _Score, rtol: float, max_runs: int) -> tuple[_Score, bool]:
    """The smallest level of expected bookings whose plan reaches the confidence (simulated):
    false position on the draws' k-th largest bookings minus the target, over plans of the
    path."""
    T = pr.target
    path = pr.path()
    level = loaded.level + (T - loaded.quantile)  # shift the loaded plan's draws to the target
    level = min(max(level, path[0][1]), pr.model(pr.most())[0])
    refits = 2 if len(pr.kappa) else 0
    for _ in range(max_runs):
        x = pr.plan(level)
        s = next((t for t in pr.scores if t.role == "search" and np.allclose(t.x, x)), None) \
            or pr.simulate(x)
        if refits:  # at the first plans of the search: the capacity seen there
            refits -= 1
            pr.fit_capacity(s)
        m_least, m_most = pr.path()[0][1], pr.model(pr.most())[0]
        pts = [t for t in pr.scores if t.role == "search"]
        ok = [t for t in pts if t.quantile >= T]
        hi = min(ok, key=lambda t: t.level) if ok else None
        below = [t for t in pts if t.quantile < T and (hi is None or t.level < hi.level)]
        lo = max(below, key=lambda t: t.level) if below else None
        if hi is None and s.level >= m_most * (1 - 1e-9):
            break  # the plan with the most expected bookings falls short
        if hi is not None and lo is not None:
            # the bracket is narrow, or its ends differ by one draw reaching the target
            if hi.level - lo.level <= rtol * abs(hi.level) \
                    or hi.probability - lo.probability <= 1.5 / pr.draws:
                break
            a, ga, b, gb = lo.level, lo.quantile - T, hi.level, hi.quantile - T
            new = a + (b - a) * (-ga) / (gb - ga) if gb != ga else (a + b) / 2
            w = b - a
            new = min(max(new, a + 0.1 * w), b - 0.1 * w)
        elif hi is not None:  # step down
            if hi.level <= m_least * (1 + 1e-9):
                break
            new = max(hi.level - max(hi.quantile - T, 0.02 * abs(hi.level)), m_least)
        else:  # step up
            new = min(lo.level - 1.3 * (lo.quantile - T) + 0.005 * abs(lo.level), m_most)
        if abs(new - level) <= 1e-9 * max(abs(level), 1.0):
            break
        level = new
    eligible = [t for t in pr.scores if t.role != "loaded" or pr.loaded_in_bounds]
    ok = [t for t in eligible if t.probability >= pr.confidence]
    if not ok:
        # the path's plans fall short: try every lever at the bound with more bookings (the
        # model may have missed a complement the simulation sees)
        corner = pr.corner()
        if not any(np.allclose(t.x, corner) for t in pr.scores):
            eligible.append(pr.simulate(corner, role="bounds"))
        ok = [t for t in eligible if t.probability >= pr.confidence]
    if ok:
        return min(ok, key=lambda t: t.cost), True
    return max(eligible, key=lambda t: (t.probability, -t.cost)), False


def _max_probability(pr: _Problem, budget: float, max_runs: int) -> tuple[_Score, bool]:
    """The plan with the most expected bookings within the budget, its cost simulated; the
    model's budget is lowered when the simulated cost exceeds it."""
    b = budget
    for _ in range(max(min(max_runs, 4), 1)):
        x = pr.within_budget(b)
        s = next((t for t in pr.scores if np.allclose(t.x, x)), None) or pr.simulate(x)
        if s.cost <= budget * (1 + 1e-9):
            break
        b = b - (s.cost - budget) * 1.05
    eligible = [t for t in pr.scores if t.role != "loaded" or pr.loaded_in_bounds]
    fit = [t for t in eligible if t.cost <= budget * (1 + 1e-9)]
    if fit:
        return max(fit, key=lambda t: (t.probability, -t.cost)), True
    return min(eligible, key=lambda t: t.cost), False


def _frontier_levels(pr: _Problem, n: int):
    """Levels of expected bookings for the plans the frontier still needs (it has ``n``
    simulated plans besides the loaded one when done), yielded one at a time: each aims at the
    middle of the widest gap in P(goal) left by the plans simulated so far (from 2 % to the
    largest P(goal) simulated).

    The level of a P(goal) is read off the simulated plans themselves, on their common random
    numbers: between two simulated levels each draw's bookings are interpolated linearly, and
    beyond them shifted by the change in the model's expected bookings (a re-scoring of the
    draws, not a simulation). Every level yielded is then simulated by the caller."""
    if n <= 0:
        return
    m_least, m_most = pr.path()[0][1], pr.model(pr.most())[0]
    spent: set[tuple[float, float]] = set()  # gaps already aimed at
    tried: list[float] = []
    for _ in range(3 * n):
        on = [t for t in pr.scores if t.role != "loaded"]
        if len(on) >= n:
            return
        pts = on or list(pr.scores)
        ps = sorted({round(t.probability, 6) for t in pts} | {0.02})
        gaps = [(b - a, a, b) for a, b in zip(ps, ps[1:], strict=False)
                if (a, b) not in spent]
        if not gaps:
            return
        _, a, b = max(gaps)
        spent.add((a, b))
        lvl = _level_for(pr, pts, (a + b) / 2, m_least, m_most)
        if lvl is None or any(abs(lvl - v) <= 1e-6 * max(abs(v), 1.0) for v in tried):
            continue
        tried.append(lvl)
        yield lvl


def _level_for(pr: _Problem, pts: list[_Score], p: float, m_least: float, m_most: float
               ) -> float | None:
    """The level of expected bookings at which the draws of the simulated plans ``pts``,
    re-scored, give P(goal) = ``p`` (None when the plans' draws are not aligned)."""
    n = pr.draws
    pts = sorted((t for t in pts if len(t.draws) == n), key=lambda t: t.level)
    if not pts:
        return None
    lv = np.array([t.level for t in pts])
    b = np.array([t.draws for t in pts])  # (plans, draws), NaN where a draw failed

    def prob(m: float) -> float:
        j = int(np.searchsorted(lv, m))
        if j == 0:
            y = b[0] + (m - lv[0])
        elif j == len(lv):
            y = b[-1] + (m - lv[-1])
        else:
            w = (m - lv[j - 1]) / (lv[j] - lv[j - 1]) if lv[j] > lv[j - 1] else 1.0
            y = b[j - 1] + w * (b[j] - b[j - 1])
        ok = np.isfinite(y)
        return float(np.mean(y[ok] >= pr.target)) if ok.any() else 0.0

    lo, hi = m_least, m_most
    if prob(hi) < p:
        return hi
    if prob(lo) >= p:
        return lo
    for _ in range(50):  # bisection: P(goal) of the re-scored draws grows with the level
        mid = (lo + hi) / 2
        if prob(mid) >= p:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-4 * max(abs(hi), 1.0):
            break
    return hi


def _table(pr: _Problem, chosen: _Score, origin: dt.date) -> pd.DataFrame:
    rows = []
    for s in pr.scores:
        role = "chosen" if s is chosen else s.role
        row = {"cost": s.cost, "probability": s.probability, "probability_se": s.se,
               "expected_bookings": s.level, "role": role}
        for p, v in zip(pr.levers, s.x, strict=True):
            row[p.path] = p.display(v, origin)
        rows.append(row)
    t = pd.DataFrame(rows).sort_values(["cost", "probability"]).reset_index(drop=True)
    best = -np.inf
    eff = []
    for p in t["probability"]:
        eff.append(bool(p > best))
        best = max(best, p)
    t.insert(5, "efficient", eff)
    return t


# --- the plan as a scenario file ----------------------------------------------------------------
def _fragment(node: Any, parts: list, raw_parent_key: str | None = None) -> Any:
    """The smallest override of ``node`` (a raw mapping of the plan) that sets the value at
    ``parts``, in the form ``extends`` merges: named list items by name, and a distribution, a
    campaign's volume or a plain list given whole (the merge replaces them)."""
    if not parts:
        return node
    key = parts[0]
    if isinstance(node, list):
        if raw_parent_key in raw_paths.NAMED_LISTS:
            names = [item.get("name") for item in node]
            i = names.index(key) if isinstance(key, str) else int(key)
            item = node[i]
            return [{"name": item["name"], **_fragment(item, parts[1:])}]
        return node
    child = node[key]
    if key == "volume" or isinstance(child, list) and key not in raw_paths.NAMED_LISTS \
            or isinstance(child, dict) and "dist" in child:
        return {key: child}
    return {key: _fragment(child, parts[1:], key)}


def plan_yaml(res: OptimizeResult, source: str | Path, out: str | Path) -> str:
    """The plan as a scenario file that ``extends`` ``source`` (the path written relative to
    ``out``'s folder) and sets only the levers."""
    import os

    import yaml

    from simengine.scenario.loader import merge

    plan = to_raw(res.scenario())
    over: dict[str, Any] = {}
    for p in res.levers:
        path = p.path[: -len(".value")] if p.path.endswith(".value") else p.path
        parts = raw_paths.split(path)
        over = merge(over, _fragment(plan, parts), None) if over else _fragment(plan, parts)
    rel = os.path.relpath(Path(source).resolve(), Path(out).resolve().parent)
    head = {"name": f"{res.source.name}-plan",
            "description": f"Plan optimizer: {res.sentence()}"[:400],
            "extends": rel}
    text = yaml.safe_dump({**head, **over}, sort_keys=False, default_flow_style=None,
                          width=100)
    return (f"# Written by simengine optimize ({res.objective}, {res.draws:,} draws, seed "
            f"{res.seed}): the levers at the plan found; everything else from {rel}.\n"
            + text)


def write_plan(res: OptimizeResult, source: str | Path, out: str | Path) -> Path:
    """Write :func:`plan_yaml` to ``out`` atomically, after checking that the file loads to
    the plan."""
    from simengine.files import write_text
    from simengine.scenario import canonical_json

    def check(tmp: Path) -> None:
        got = load_scenario(tmp)
        want = res.scenario()
        a = {**to_raw(got), "name": "", "description": ""}
        b = {**to_raw(want), "name": "", "description": ""}
        if canonical_json(Scenario.model_validate(a)) != canonical_json(
                Scenario.model_validate(b)):  # pragma: no cover - a bug, not bad input
            raise RuntimeError("the plan file does not load to the plan")

    return write_text(out, plan_yaml(res, source, Path(out)), check=check)
