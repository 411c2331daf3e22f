"""Goal seek: the smallest value of a lever at which P(bookings >= target) >= confidence.

Two steps:

1. A deterministic **reverse waterfall** in expected values (every parameter at its mean, the
   absorbing-chain routing of :mod:`simengine.analysis.expected`): target bookings -> won deals
   (average deal value) -> deals that close in the horizon -> prospects reaching each stage,
   backwards -> leads -> the lever (budget, audience, ...). It gives a first value and the
   planning worksheet.
2. A **stochastic root search on common random numbers**. Every evaluation simulates the same
   draws with the same seed, so draw i sees the same prospects, dwells and routes at every lever
   value, and its bookings move monotonically with a volume lever (a larger Poisson mean keeps
   every prospect and adds some). Each draw therefore has a *threshold* t_i, the lever value
   from which it reaches the target, and P(goal | lever = x) estimated on these draws is the
   share of draws with t_i <= x. The search brackets every draw's threshold at once (each run
   gives every draw its own lever value through ``param_values``; false position with the
   Illinois modification inside a bracket, a slope step outside), until the thresholds that
   decide the answer are known to ``rtol``. The answer is the ceil(confidence x n)-th smallest
   threshold; the Monte Carlo interval of lever values consistent with the confidence is the
   distribution-free confidence interval of that quantile (order statistics with binomial
   ranks).

An uncertain lever keeps its spread and moves its centre (see :mod:`simengine.analysis.levers`).
A lever that lowers bookings as it grows (a cost per lead, a loss rate) is searched the other
way: the answer is then the *largest* value that still gives the confidence.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from simengine.analysis.expected import expected_bookings, expected_model, mean_theta
from simengine.analysis.levers import Lever, lever_uniforms, scenario_and_target
from simengine.analysis.levers import lever as resolve_lever
from simengine.api import simulate
from simengine.compile import Compiled, compile_scenario
from simengine.errors import SimEngineError
from simengine.fmt import lever_formatter, money
from simengine.scenario import Scenario, load_scenario

_VOLUME_KEYS = ("budget", "leads", "audience", "response_rate", "cost_per_lead")


class GoalOutOfReach(SimEngineError):
    """The goal cannot be reached with the confidence within the lever's bounds: an answer,
    not bad input (the CLI exits with :data:`~simengine.analysis.levers.OUT_OF_REACH_EXIT`).

    ``waterfall`` is the reverse waterfall computed before the search (the planning worksheet
    is still worth showing); ``bottleneck`` names the pool that saturates as the lever grows,
    when one does ("" otherwise).
    """

    def __init__(self, message: str, waterfall: pd.DataFrame | None = None,
                 bottleneck: str = ""):
        super().__init__(message)
        self.waterfall = waterfall
        self.bottleneck = bottleneck


@dataclass(frozen=True)
class GoalSeekResult:
    """What it takes to reach the target with the requested confidence.

    Attributes
    ----------
    value : float
        The lever value (an uncertain lever: its centre) found.
    probability, probability_se : float
        P(bookings >= target) simulated at ``value`` (same draws and seed) and its Monte Carlo
        standard error.
    interval : (float, float)
        Lever values consistent with the confidence given the Monte Carlo error (a
        distribution-free ``level`` confidence interval of the answer).
    precision : float
        Width of the bracket of the answer left by the search (<= ``rtol`` x value when
        ``converged``).
    waterfall : DataFrame
        The deterministic reverse waterfall: ``step``, ``expected``, ``conversion`` (share of
        this row that becomes the row above), ``note``.
    deterministic_value : float
        The lever value at which expected bookings equal the target (NaN when out of reach).
    bottleneck : str
        When a pool saturates between the smallest and the largest lever value simulated for
        every draw (its share of visits gone cold, or of prospects that waited, rises), which
        one, in words; "" otherwise.
    """

    lever: str
    target: float
    confidence: float
    value: float
    probability: float
    probability_se: float
    interval: tuple[float, float]
    level: float
    precision: float
    converged: bool
    direction: int
    deterministic_value: float
    waterfall: pd.DataFrame
    current: float
    bounds: tuple[float, float]
    draws: int
    seed: int
    runs: int
    elapsed: float
    currency: str = "USD"
    thresholds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)), repr=False)
    note: str = ""
    bottleneck: str = ""
    checks: tuple[tuple[float, float], ...] = ()

    def scenario(self, scenario: Scenario | str | Path) -> Scenario:
        """``scenario`` with the lever at the value found (an uncertain lever: its centre)."""
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        return resolve_lever(compile_scenario(sc), self.lever).apply(sc, self.value)

    def curve(self) -> pd.DataFrame:
        """P(goal) against the lever as bounded by the search: for each lever value where some
        draw's threshold is known, the share of draws known to reach the target
        (``p_low``) and the share that may (``p_high``), assuming each draw's bookings grow
        with the lever (``checks`` holds what simulating every draw at one value gave)."""
        lo, hi = self.thresholds[:, 0], self.thresholds[:, 1]
        xs = np.unique(np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]]))
        n = len(lo)
        if self.direction > 0:
            p_low = np.array([np.sum(hi <= x) for x in xs]) / n
            p_high = np.array([np.sum(lo < x) for x in xs]) / n
        else:
            p_low = np.array([np.sum(lo >= x) for x in xs]) / n
            p_high = np.array([np.sum(hi > x) for x in xs]) / n
        return pd.DataFrame({"value": xs, "p_low": p_low, "p_high": p_high})

    def sentence(self) -> str:
        """The answer in words, e.g. 'budget $310k–$325k gives P(goal) >= 80 %'."""
        fmt = lever_formatter(self.lever, self.currency)
        word = "smallest" if self.direction > 0 else "largest"
        lo, hi = self.interval
        text = (f"{self.lever} = {fmt(self.value)} is the {word} value with P(bookings >= "
                f"{money(self.target, self.currency)}) >= {self.confidence:.0%}: simulated "
                f"{self.probability:.1%} ± {self.probability_se:.1%} on {self.draws:,} draws; "
                f"{fmt(lo)} to {fmt(hi)} is consistent with {self.confidence:.0%} "
                f"({self.level:.{0 if self.level <= 0.99 else 2}%} Monte Carlo interval); "
                + (f"search precision ±{fmt(self.precision / 2)}" if self.precision > 0
                   else "exact on these draws"))
        if np.isfinite(self.deterministic_value):
            text += f"; expected-value waterfall: {fmt(self.deterministic_value)}"
        return text + "."

    def __str__(self) -> str:
        return self.sentence()


# --- the deterministic reverse waterfall --------------------------------------------------------
def _campaign_of(cs: Compiled, path: str) -> int | None:
    parts = path.split(".")
    if len(parts) == 4 and parts[0] == "campaigns" and parts[2] == "volume" \
            and parts[3] in _VOLUME_KEYS:
        names = list(cs.campaign_names[:-1])
        return names.index(parts[1]) if parts[1] in names else None
    return None


def reverse_waterfall(cs: Compiled, lv: Lever, target: float) -> tuple[pd.DataFrame, float]:
    """The planning worksheet backwards from ``target`` and the lever value it implies.

    Returns the table and the lever value at which expected bookings equal the target (NaN when
    no value within the lever's bounds gets there; the table then shows the better bound).
    """
    th0 = mean_theta(cs)
    lo, hi = lv.bounds

    def expected(x: float) -> float:
        return expected_bookings(cs, lv.theta(th0, x))

    e_lo, e_hi = expected(lo), expected(hi)
    worse, better = (lo, hi) if e_hi >= e_lo else (hi, lo)
    met = False
    if (e_lo - target) * (e_hi - target) <= 0 and e_lo != e_hi:
        x_det = optimize.brentq(lambda x: expected(x) - target, lo, hi,
                                xtol=1e-9 * max(abs(hi), 1.0), rtol=1e-10)
        at = x_det
    elif min(e_lo, e_hi) >= target:  # met in expected values whatever the lever
        x_det = at = worse
        met = True
    else:
        x_det = float("nan")
        at = better
    fs, cap = expected_model(cs, lv.theta(th0, at))
    stages = cs.stage_names
    cur = cs.scenario.currency
    fmt = lever_formatter(lv.path, cur)
    rows: list[dict] = []

    def row(step: str, value: float, note: str = "", funnel: bool = False) -> None:
        rows.append({"step": step, "expected": float(value), "note": note, "funnel": funnel})

    row("bookings goal", target)
    c = _campaign_of(cs, lv.path)
    if c is not None:
        own = fs[c]
        others = [s for s in fs if s.campaign != c]
        other = sum(s.bookings for s in others)
        top = sorted(others, key=lambda s: -s.bookings)[:3]
        row("expected from other sources", other,
            "; ".join(f"{s.name} {money(s.bookings, cur)}" for s in top) + _capacity_note(cap)
            + _warm_note(cs))
        row(f"gap for {own.name}", own.bookings, "what the lever's campaign must book")
        sources = [own]
    else:
        sources = fs
    won_h = sum(s.won_in_horizon for s in sources)
    won = sum(s.won for s in sources)
    book = sum(s.bookings for s in sources)
    row("won deals closing in the horizon", won_h,
        f"average deal {money(book / won_h, cur)}" if won_h > 0 else "", funnel=True)
    row("won deals (some close after the horizon)", won,
        f"{won_h / won:.0%} close within the horizon" if won > 0 else "", funnel=True)
    reach = sum(s.reach for s in sources)
    entry = min(s.stage for s in sources)
    for s in range(len(stages) - 1, entry - 1, -1):
        if reach[s] <= 0:
            continue
        label = f"reach {stages[s]}"
        if c is not None and s == entry:
            label = f"leads entering {stages[s]}"
        row(label, reach[s], funnel=True)
    if c is None:
        leads = sum(s.prospects for s in fs if s.campaign >= 0)
        init = sum(s.prospects for s in fs if s.campaign < 0)
        row("leads from campaigns", leads)
        if init:
            row("open pipeline on day 0", init)
    last = lv.path.split(".")[-1]
    if c is not None:
        share = float(cs.camp_shape[c].sum())
        note = ""
        if last == "budget":
            cpl = th0[cs.vol_cols[c, 1]]
            note = f"leads x cost per lead {money(cpl, cur) if cpl >= 1000 else f'{cpl:,.2f}'}"
        elif last == "audience":
            note = f"leads / response rate {th0[cs.vol_cols[c, 1]]:.2%}"
        if share < 1 - 1e-9:
            note += f"{'; ' if note else ''}{share:.0%} of the schedule falls in the horizon"
        row(lv.path, at, note)
    else:
        row(lv.path, at, "")
    if met:
        rows[-1]["note"] = ("the goal is met in expected values already at this bound of the "
                            "lever")
    elif not np.isfinite(x_det):
        rows[-1]["note"] = (f"the goal is out of reach in expected values: "
                            f"{money(min(e_lo, e_hi), cur)} to "
                            f"{money(max(e_lo, e_hi), cur)} over the bounds "
                            f"{fmt(lo)} to {fmt(hi)}")
    table = pd.DataFrame(rows)
    conv = np.full(len(table), np.nan)
    vals = table["expected"].to_numpy()
    funnel_rows = [i for i, r in enumerate(rows) if r.get("funnel")]
    for i in funnel_rows[1:]:  # share of this row that becomes the row above
        conv[i] = vals[i - 1] / vals[i] if vals[i] > 0 else np.nan
    table = table.drop(columns="funnel")
    table.insert(2, "conversion", conv)
    return table, x_det


def _capacity_note(cap) -> str:
    """What the worksheet's capacity model did, when a pool binds in it: the share of the
    campaigns' visits it serves, and what it leaves out."""
    short = [(p, float(v)) for p, v in zip(cap.pools, cap.served, strict=True) if v < 0.995]
    if not short:
        return ""
    said = ", ".join(f"{p} serves {v:.0%}" for p, v in short)
    return (f" (fluid capacity: {said} of the campaigns' visits over the year, the open "
            f"pipeline first; queues, peaks and prospects going cold within the year are left "
            f"out, so the simulation books from each source otherwise)")


def _warm_note(cs: Compiled) -> str:
    """The warm start's pipeline on day 0 is not in the worksheet: say so."""
    if not len(getattr(cs, "warm_stage", ())):
        return ""
    return ("; the warm start's pipeline on day 0 is left out (the simulation books it too, "
            "by its campaigns)")


def pool_shares(ds, stage_pool: np.ndarray) -> np.ndarray | None:
    """(NP, 2) of a simulated dataset: each pool's share of visits to its stages that went cold
    waiting for a rep, and share of served prospects that had to wait (None without pools);
    ``stage_pool`` is the compiled scenario's pool of each stage."""
    if "abandoned" not in ds or "pool" not in ds.dims:
        return None
    sp = np.asarray(stage_pool)
    entered = ds.entered.sum(("draw", "period")).values
    gone = ds.abandoned.sum(("draw", "period")).values.astype(float)
    work = np.array([entered[sp == j].sum() for j in range(ds.sizes["pool"])], dtype=float)
    w = np.asarray(ds.waited_share.values, dtype=float)
    ok = np.isfinite(w)  # a draw whose pool served nobody has no waited share
    cold = np.where(work > 0, gone / np.maximum(work, 1.0), 0.0)
    waited = np.where(ok, w, 0.0).sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
    return np.column_stack([cold, waited])


def bottleneck(pools: tuple[str, ...], seen: dict[float, np.ndarray], fmt) -> str:
    """The pool that saturates between the smallest and the largest lever value simulated for
    every draw (``seen``: value -> :func:`pool_shares`), in words; "" when none does."""
    if len(seen) < 2 or not pools:
        return ""
    (a, sa), (b, sb) = min(seen.items()), max(seen.items())
    d_cold, d_wait = sb[:, 0] - sa[:, 0], sb[:, 1] - sa[:, 1]
    j = int(np.argmax(d_cold))
    if d_cold[j] >= 0.02 and sb[j, 0] >= 0.05:
        return (f"pool {pools[j]} is the bottleneck: the share of visits to its stages that "
                f"went cold waiting for a rep rises from {sa[j, 0]:.0%} at {fmt(a)} to "
                f"{sb[j, 0]:.0%} at {fmt(b)} (waited for a rep: {sa[j, 1]:.0%} to "
                f"{sb[j, 1]:.0%}), so more of this lever adds prospects that the pool cannot "
                f"work")
    j = int(np.argmax(d_wait))
    if d_wait[j] >= 0.1 and sb[j, 1] >= 0.5:
        return (f"pool {pools[j]} is the bottleneck: the share of its prospects that waited "
                f"for a rep rises from {sa[j, 1]:.0%} at {fmt(a)} to {sb[j, 1]:.0%} at "
                f"{fmt(b)}, so more of this lever lengthens its queue (deals close later)")
    return ""


# --- the stochastic root search -----------------------------------------------------------------
def _ranks(n: int, c: float, level: float) -> tuple[int, int, int]:
    """1-based ranks (r, k, s): the answer is the k-th smallest threshold, [t_(r), t_(s)] a
    distribution-free ``level`` confidence interval of the c-quantile."""
    k = min(max(int(math.ceil(c * n - 1e-9)), 1), n)
    a = (1 - level) / 2
    r = int(stats.binom.ppf(a, n, c))
    s = int(stats.binom.ppf(1 - a, n, c)) + 1
    return max(r, 1), k, min(s, n)


def goal_seek(scenario: Scenario | str | Path, lever: str, confidence: float = 0.8,
              target: float | None = None, *, draws: int = 1000, seed: int = 0,
              bounds: tuple[float, float] | None = None, rtol: float = 0.005,
              level: float = 0.95, max_runs: int = 30, verify: bool = True,
              threads: int | None = None) -> GoalSeekResult:
    """The smallest lever value for which P(bookings over the horizon >= target) >= confidence.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of a scenario file.
    lever
        A parameter path: a campaign budget, lead volume or audience,
        a rate such as ``stages.proposal.next.won``, a deal value mean, ... An uncertain lever
        keeps its spread and moves its centre.
    confidence
        The required P(goal), in (0, 1).
    target
        Bookings over the horizon; default the scenario's ``goal.revenue``.
    draws, seed
        Draws of every evaluation (the same draws and seed each time: common random numbers).
    bounds
        The lever values searched; default [0, 1] for a probability, [0, 10 x current]
        otherwise ([current / 10, 10 x current] for a cost per lead).
    rtol
        Search precision: stop when the answer is bracketed to within ``rtol`` x value.
    level
        Confidence level of the Monte Carlo interval of the answer.
    max_runs
        At most this many simulations; the result says whether the precision was reached.
    verify
        Simulate once more at the answer to report its P(goal) (otherwise it is counted from
        the search's brackets).

    Returns
    -------
    GoalSeekResult

    Raises
    ------
    GoalOutOfReach
        The goal is out of reach within the lever's bounds (a :class:`SimEngineError` that
        carries the reverse waterfall).
    SimEngineError
        The lever path does not exist or is not numeric; confidence or bounds are invalid; the
        scenario has no goal and no target is given.

    Examples
    --------
    >>> r = goal_seek("scenarios/baseline.yaml", "stages.proposal.next.won",
    ...               confidence=0.5, draws=200, seed=1)   # doctest: +SKIP
    >>> print(r.sentence())                                # doctest: +SKIP
    stages.proposal.next.won = 0.50 is the smallest value with P(bookings >= $26.0M) >= 50%: ...
    """
    path = lever
    if not path:
        raise SimEngineError("lever: expected a parameter path, found none")
    if not 0 < confidence < 1:
        raise SimEngineError(f"confidence: expected a probability in (0, 1), found {confidence}")
    if not 0 < level < 1:
        raise SimEngineError(f"level: expected a probability in (0, 1), found {level}")
    if not rtol > 0:
        raise SimEngineError(f"rtol: expected a number > 0, found {rtol}")
    t0 = time.perf_counter()
    sc, target = scenario_and_target(scenario, target)
    from simengine.scenario.rules import inert

    if why := inert(sc, path):
        raise SimEngineError(f"lever {path}: expected a parameter that can move bookings, found "
                             f"one that cannot: {why}")
    cs = compile_scenario(sc)
    lv = resolve_lever(cs, path, bounds)
    table, x_det = reverse_waterfall(cs, lv, target)

    # lever direction and slope from the expected-value model
    th0 = mean_theta(cs)
    lo, hi = lv.bounds
    e_lo = expected_bookings(cs, lv.theta(th0, lo))
    e_hi = expected_bookings(cs, lv.theta(th0, hi))
    u = lever_uniforms(cs, lv, seed, draws)
    runs = 0

    seen: dict[float, np.ndarray] = {}  # lever value of every draw -> pool_shares there

    def bookings_at(x: np.ndarray) -> np.ndarray:
        nonlocal runs
        runs += 1
        x = np.broadcast_to(np.asarray(x, dtype=float), (draws,))
        ds = simulate(sc, draws=draws, seed=seed, progress=False, threads=threads,
                      param_values={lv.path: lv.values(x, u)})
        if np.all(x == x[0]):
            shares = pool_shares(ds, cs.stage_pool) if hasattr(cs, "stage_pool") else None
            if shares is not None:
                seen[float(x[0])] = shares
        return ds.revenue.sum("period", skipna=False).values

    first: list[tuple[float, np.ndarray]] = []  # evaluations made to find the direction
    if abs(e_hi - e_lo) > 1e-9 * max(abs(e_hi), abs(e_lo), 1.0):
        direction = 1 if e_hi > e_lo else -1
    else:  # the expected-value model does not see the lever (timing, say): simulate the ends
        first = [(lo, bookings_at(np.full(draws, lo))), (hi, bookings_at(np.full(draws, hi)))]
        r_lo, r_hi = (float(np.nanmean(r)) for _, r in first)
        if r_lo == r_hi:
            raise SimEngineError(f"lever {lv.path}: expected a parameter that moves bookings, "
                                 f"found the same mean bookings at {lo:g} and {hi:g}")
        direction = 1 if r_hi > r_lo else -1

    # search in y = direction * x, where bookings grow with y
    ylo, yhi = sorted((direction * lo, direction * hi))
    y0 = direction * (x_det if np.isfinite(x_det) else lv.current)
    y0 = min(max(y0, ylo), yhi)
    h = 1e-3 * max(abs(y0), (yhi - ylo) * 1e-3)
    model_slope = (expected_bookings(cs, lv.theta(th0, direction * min(y0 + h, yhi)))
                   - expected_bookings(cs, lv.theta(th0, direction * max(y0 - h, ylo)))) \
        / (min(y0 + h, yhi) - max(y0 - h, ylo))
    search = _Search(draws, target, confidence, level, ylo, yhi, rtol, model_slope)
    if first:
        search.start(np.isfinite(first[0][1]) & np.isfinite(first[1][1]))
        for x, rev in first:
            search.update(np.full(draws, direction * x), rev)
    else:
        f0 = bookings_at(np.full(draws, direction * y0))
        search.start(np.isfinite(f0))
        search.update(np.full(draws, y0), f0)
    while not search.done() and runs < max_runs:
        y = search.propose()
        search.update(y, bookings_at(direction * y))
    if not search.out_of_reach() and not np.isfinite(search.order_stats()[1][1]):
        # out of runs before any evaluation at the bound: settle reachability there
        y = np.where(np.isfinite(search.H), search.H, yhi)
        search.update(y, bookings_at(direction * y))
    pools = tuple(getattr(cs, "pool_names", ()))
    fmt = lever_formatter(lv.path, cs.scenario.currency)
    if search.out_of_reach():  # say what the bound gives: one run with every draw there
        at_bound = bookings_at(np.full(draws, direction * yhi))
        try:
            search.refuse(lv, direction, cs.scenario.currency, target, at_bound)
        except SimEngineError as exc:
            neck = bottleneck(pools, seen, fmt)
            raise GoalOutOfReach(str(exc) + (f"\n{neck}" if neck else ""), table,
                                 neck) from None
    ans_y, (int_lo, int_hi), prec = search.answer()
    converged = search.done()
    n = search.n
    note = ""
    if verify:
        # simulate every draw at the answer; where bookings are not monotone in the lever (a
        # capacity limit: more leads crowd out others in the queue) the share can fall short of
        # the per-draw count, then step up to the next thresholds until it is reached
        tried: dict[float, float] = {}
        y = ans_y
        while True:
            f = bookings_at(np.full(draws, direction * y))
            ok = np.isfinite(f) & search.valid
            tried[y] = float(np.mean(f[ok] >= target))
            if tried[y] >= confidence or y >= yhi or runs >= max_runs:
                break
            short = int(math.ceil((confidence - tried[y]) * n))
            _, ub = search.bounds()
            ub = np.sort(ub[np.isfinite(ub)])
            k = _ranks(n, confidence, level)[1]
            nxt = ub[min(k - 1 + short, len(ub) - 1)] if len(ub) else yhi
            y = float(min(max(nxt, y + search.tol()), yhi))
        good = [v for v, pv in tried.items() if pv >= confidence]
        if good:
            ans_y = min(good)
            below = [v for v, pv in tried.items() if pv < confidence and v < ans_y]
            if below:
                prec = max(prec, ans_y - max(below))
                note = ("bookings are not monotone in this lever on every draw (capacity "
                        "limits); the value was raised until the simulated P(goal) reached the "
                        "confidence")
        else:
            converged = False
            note = (f"the simulated P(goal) at the value found is below {confidence:.0%}; "
                    "raise max_runs")
        p = tried[ans_y]
    else:
        p = search.known_share(ans_y)
    value = direction * ans_y
    interval = tuple(sorted((direction * int_lo, direction * int_hi)))
    if not interval[0] <= value <= interval[1]:
        interval = (min(interval[0], value), max(interval[1], value))
    if ans_y <= ylo and search.meets_at_low():
        note = "the goal is met with this confidence already at the lever's lower bound"
    return GoalSeekResult(
        lever=lv.path, target=target, confidence=confidence, value=float(value),
        probability=p, probability_se=math.sqrt(p * (1 - p) / n), interval=interval,
        level=level, precision=float(prec), converged=bool(converged),
        direction=direction, deterministic_value=float(x_det), waterfall=table,
        current=lv.current, bounds=lv.bounds, draws=n, seed=seed, runs=runs,
        elapsed=time.perf_counter() - t0, currency=cs.scenario.currency,
        thresholds=search.thresholds(direction), note=note,
        bottleneck=bottleneck(pools, seen, fmt),
        checks=tuple(sorted((direction * y, pv) for y, pv in tried.items())) if verify else ())


class _Search:
    """Brackets [L_i, H_i] of every draw's threshold (in y, where bookings grow with y)."""

    def __init__(self, draws, target, confidence, level, ylo, yhi, rtol, model_slope):
        self.target, self.c, self.level = target, confidence, level
        self.ylo, self.yhi, self.rtol = ylo, yhi, rtol
        self.model_slope = model_slope if np.isfinite(model_slope) and model_slope > 0 else None
        n = draws
        self.L = np.full(n, -np.inf)
        self.H = np.full(n, np.inf)
        self.fL = np.full(n, -np.inf)
        self.fH = np.full(n, np.inf)
        self.gL = np.full(n, -np.inf)  # Illinois-scaled values at the ends
        self.gH = np.full(n, np.inf)
        self.L2 = np.full(n, -np.inf)  # the previous ends, for a per-draw secant outside
        self.fL2 = np.full(n, -np.inf)  # a bracket
        self.H2 = np.full(n, np.inf)
        self.fH2 = np.full(n, np.inf)
        self.side = np.zeros(n, np.int64)
        self.valid = np.ones(n, bool)
        self.widths = [np.full(n, np.inf), np.full(n, np.inf)]  # bracket widths, last two

    # -- state ---------------------------------------------------------------------------
    def start(self, valid: np.ndarray) -> None:
        """Draws that failed at the first lever value (impossible parameters) are left out."""
        self.valid = np.asarray(valid, bool)
        if not self.valid.any():
            raise SimEngineError("goal seek: every draw failed (impossible parameter values)")

    @property
    def n(self) -> int:
        return int(self.valid.sum())

    def update(self, y: np.ndarray, rev: np.ndarray) -> None:
        f = np.where(np.isfinite(rev), rev - self.target, -np.inf)
        v = self.valid
        ok = v & (f >= 0) & (y < self.H)
        bad = v & (f < 0) & (y > self.L)
        # a draw whose bookings are not monotone in the lever: keep the newest information
        drop_l = ok & (y <= self.L)
        drop_h = bad & (y >= self.H)
        self.L, self.fL, self.gL = (np.where(drop_l, -np.inf, a) for a in (self.L, self.fL,
                                                                          self.gL))
        self.H, self.fH, self.gH = (np.where(drop_h, np.inf, a) for a in (self.H, self.fH,
                                                                         self.gH))
        # Illinois: when the same end is replaced twice running, halve the other end's value
        self.gL = np.where(ok & (self.side == 1), self.gL / 2, self.gL)
        self.gH = np.where(bad & (self.side == -1), self.gH / 2, self.gH)
        self.H2 = np.where(ok, self.H, self.H2)
        self.fH2 = np.where(ok, self.fH, self.fH2)
        self.L2 = np.where(bad, self.L, self.L2)
        self.fL2 = np.where(bad, self.fL, self.fL2)
        self.H = np.where(ok, y, self.H)
        self.fH = np.where(ok, f, self.fH)
        self.gH = np.where(ok, f, self.gH)
        self.L = np.where(bad, y, self.L)
        self.fL = np.where(bad, f, self.fL)
        self.gL = np.where(bad, f, self.gL)
        self.side = np.where(ok, 1, np.where(bad, -1, self.side))
        self.widths = [self.widths[1], self.H - self.L]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per valid draw: threshold lower and upper bounds (a threshold at or below the lower
        bound of the lever counts as that bound; +inf: not reached within the bounds)."""
        lb = np.where(np.isfinite(self.L), self.L, self.ylo)
        ub = np.where(np.isfinite(self.H), self.H, np.inf)
        lb = np.where(np.isfinite(self.H) & (self.H <= self.ylo), self.ylo, lb)
        return lb[self.valid], ub[self.valid]

    def order_stats(self) -> list[tuple[float, float]]:
        lb, ub = self.bounds()
        lb, ub = np.sort(lb), np.sort(ub)
        return [(lb[j - 1], ub[j - 1]) for j in _ranks(self.n, self.c, self.level)]

    def tol(self) -> float:
        """The precision the search aims at: ``rtol`` x the answer, or a tenth of the Monte
        Carlo interval when that is wider (a finer answer would be noise)."""
        (rl, _), (kl, kh), (_, sh) = self.order_stats()
        centre = kh if np.isfinite(kh) else kl
        mc = (min(sh, self.yhi) - rl) / 10
        return max(self.rtol * max(abs(centre), 1e-9 * max(abs(self.ylo), abs(self.yhi), 1.0)),
                   mc)

    def out_of_reach(self) -> bool:
        lb, _ = self.bounds()
        k = _ranks(self.n, self.c, self.level)[1]
        return int(np.sum(lb >= self.yhi)) > self.n - k

    def done(self) -> bool:
        if self.out_of_reach():
            return True
        tol = self.tol()
        for lo, hi in self.order_stats():
            unreachable = not np.isfinite(hi) and lo >= self.yhi
            if not (hi - lo <= tol or unreachable):
                return False
        return True

    # -- next lever value of every draw ----------------------------------------------------
    def propose(self) -> np.ndarray:
        L, H = self.L, self.H
        both = np.isfinite(L) & np.isfinite(H)
        with np.errstate(invalid="ignore", divide="ignore"):
            slopes = (self.fH - self.fL) / (H - L)
        pop = slopes[both & self.valid & np.isfinite(slopes) & (slopes > 0)]
        slope = float(np.median(pop)) if len(pop) else self.model_slope
        if slope is None:
            slope = np.nan
        # a step estimate: where the guess of the answer is now
        guess = self.order_stats()[1]
        y_mid = guess[1] if np.isfinite(guess[1]) else guess[0]
        y = np.full(len(L), y_mid)
        # inside a bracket: false position on the Illinois-scaled values
        # (inf - inf in the rows that are not used is expected: silence it)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            w = H - L
            rf = L + w * (-self.gL) / (self.gH - self.gL)
            rf = np.where(np.isfinite(rf), rf, L + w / 2)
            rf = np.clip(rf, L + 0.01 * w, H - 0.01 * w)
            # bisect when false position has not halved the bracket in two steps (bookings
            # that are noisy in the lever, as when reps are the limit)
            slow = w > 0.5 * self.widths[0]
            rf = np.where(slow, L + w / 2, rf)
            y = np.where(both, rf, y)
            # one-sided: a slope step past the target, 30 % beyond, at least 1 % of the value
            # the draw's own secant when it has two points on the same side, else the
            # median slope of the bracketed draws, else the expected-value model's
            span = self.yhi - self.ylo
            floor = np.maximum(0.01 * np.abs(np.where(np.isfinite(L), L, H)), 1e-3 * span)
            s_up = (self.fL - self.fL2) / (L - self.L2)
            s_down = (self.fH2 - self.fH) / (self.H2 - H)
            s_up = np.where(np.isfinite(s_up), s_up, slope)
            s_down = np.where(np.isfinite(s_down), s_down, slope)
            if np.isfinite(slope) and slope > 0:
                up = L + np.maximum(1.3 * (-self.fL) / s_up, floor)
                down = H - np.maximum(1.3 * self.fH / s_down, floor)
            else:
                up = L + np.maximum(0.5 * np.abs(L), 0.05 * span)
                down = H - np.maximum(0.5 * np.abs(H), 0.05 * span)
            # bookings that stopped growing with the lever (a capacity limit): try the bound
            up = np.where(np.isfinite(s_up) & (s_up <= 0), self.yhi, up)
            down = np.where(np.isfinite(s_down) & (s_down <= 0), self.ylo, down)
        only_l = np.isfinite(L) & ~np.isfinite(H)
        only_h = np.isfinite(H) & ~np.isfinite(L)
        y = np.where(only_l, np.minimum(up, self.yhi), y)
        y = np.where(only_h, np.maximum(down, self.ylo), y)
        # decided draws (beyond a bound) and invalid ones: evaluate at the current guess
        decided = (only_l & (L >= self.yhi)) | (only_h & (H <= self.ylo)) | ~self.valid
        y = np.where(decided, y_mid, y)
        return np.clip(y, self.ylo, self.yhi)

    # -- answers -----------------------------------------------------------------------------
    def meets_at_low(self) -> bool:
        lo, hi = self.order_stats()[1]
        return hi <= self.ylo

    def refuse(self, lv: Lever, direction: int, currency: str, target: float,
               at_bound: np.ndarray) -> None:
        ok = self.valid & np.isfinite(at_bound)
        n = int(ok.sum())
        p = float(np.mean(at_bound[ok] >= target)) if n else 0.0
        se = math.sqrt(p * (1 - p) / n) if n else 0.0
        fmt = lever_formatter(lv.path, currency)
        raise SimEngineError(
            f"lever {lv.path}: the goal is out of reach within the lever's bounds: at "
            f"{fmt(direction * self.yhi)} P(bookings >= {money(target, currency)}) is "
            f"{p:.1%} ± {se:.1%} on {n:,} draws, below the required {self.c:.0%} (widen "
            f"bounds=, lower the target or the confidence, or choose another lever)")

    def answer(self) -> tuple[float, tuple[float, float], float]:
        (rl, rh), (kl, kh), (sl, sh) = self.order_stats()
        if not np.isfinite(kh):
            kh = self.yhi
        return kh, (rl, sh if np.isfinite(sh) else self.yhi), kh - kl

    def known_share(self, y: float) -> float:
        lb, ub = self.bounds()
        return float(np.mean(ub <= y))

    def thresholds(self, direction: int) -> np.ndarray:
        lb, ub = self.bounds()
        if direction > 0:
            return np.column_stack([lb, ub])
        return np.column_stack([-ub, -lb])
