"""The funnel in expected values: absorbing-chain routing, reach and bookings of every source.

The deterministic half of goal seek (the reverse waterfall) reads this. Routing follows the
kernel exactly (segment advance multipliers, campaign quality, friction taken from advance,
clipping), with every per-draw parameter at its value in ``theta`` (usually its mean) and each
friction window's no-decision and loss additions averaged over the horizon, weighted by the
chance that it happens. Timing enters only through the share of a source's wins that close
inside the horizon, from the expected time to a win of the chain conditioned on winning.

Sales capacity enters as a fluid approximation: a pool's slot-days over the horizon (its mean
daily capacity, from the engine's own headcount / ramp / attrition / hiring model) serve at
most that much work. The open pipeline is first in line, as in the engine, where its prospects
hold the reps from day 0: its visits are served from the whole supply. When the campaigns'
prospects ask for more than is left, the same share of each of their visits is served and the
rest is lost (it goes cold, or waits past the horizon). Peaks within the year and waiting
before a prospect goes cold are ignored, so with pools the model is optimistic where capacity
binds part of the year.

References: absorption probabilities B = (I - Q)^-1 R and hitting probabilities of an absorbing
Markov chain (Kemeny & Snell, *Finite Markov Chains*, 1960, ch. 3); expected time to absorption
conditional on the absorbing state by Doob's h-transform of Q.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from simengine import codes
from simengine.compile import Compiled
from simengine.engine.prepare import volumes
from simengine.scenario.distributions import Empirical, Fixed
from simengine.scenario.rules import no_decision_factor


def mean_theta(cs: Compiled) -> np.ndarray:
    """Every parameter at its mean: one row of the parameter table."""
    return np.array([d.mean() for d in cs.params.dists], dtype=float)


def slot_mean(cs: Compiled, slot: int, theta: np.ndarray) -> float:
    """Mean of a per-prospect distribution whose parameters take the values in ``theta``."""
    d = cs.slot_dists[slot]
    if isinstance(d, Empirical):
        return d.mean()
    values = tuple(float(theta[cs.slot_cols[slot, k]]) for k in range(len(d.params())))
    if isinstance(d, Fixed):
        return values[0]
    try:
        return _dist_mean(d, values)
    except TypeError:  # a distribution that cannot be a cache key
        return _dist_mean.__wrapped__(d, values)


@functools.lru_cache(maxsize=4096)
def _dist_mean(d, values: tuple[float, ...]) -> float:
    # scipy freezes a distribution slowly; the optimizer asks for the same means many times
    p = {name: np.array([v]) for name, v in zip(d.params(), values, strict=True)}
    nat = d.natural(p)
    return float(np.asarray(d.frozen(nat[0]).mean()))


@dataclass(frozen=True)
class Chain:
    """Routing of one segment (and campaign quality) as an absorbing chain over the stages."""

    Q: np.ndarray  # (S, S) stage to stage, recycling included
    won: np.ndarray  # (S,) one-step probability of a win
    lost: np.ndarray  # (S,)
    no_decision: np.ndarray  # (S,)
    recycle: np.ndarray  # (S,) one-step probability of nurture (part of Q)
    dwell: np.ndarray  # (S,) mean days per visit
    delay: np.ndarray  # (S,) mean days in nurture after a recycle from the stage
    rc_to: np.ndarray  # (S,) stage a recycled prospect comes back to, -1 without recycling
    served: np.ndarray  # (S,) share of visits that get a rep (1 on stages without a pool)

    @functools.cached_property
    def fundamental(self) -> np.ndarray:
        """N = (I - Q)^-1: expected visits to each stage from each stage."""
        return np.linalg.inv(np.eye(len(self.Q)) - self.Q)

    def _memo(self, key, compute):
        # a chain is shared by many sources: compute each figure once (read-only results)
        memo = self.__dict__.setdefault("_memo_", {})
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    def p_won(self) -> np.ndarray:
        """P(eventually won | at stage s), B[:, won]."""
        return self._memo("p_won", lambda: self.fundamental @ self.won)

    def reach(self, start: int) -> np.ndarray:
        """P(ever reaching stage s | starting at ``start``) for every s (1 at ``start``)."""
        return self._memo(("reach", start), lambda: self._reach(start))

    def _reach(self, start: int) -> np.ndarray:
        # hitting probabilities from the fundamental matrix: N[i, j] = h[i, j] N[j, j]
        n = self.fundamental
        out = n[start] / np.diag(n)
        out[start] = 1.0
        return out

    def time_to_win(self) -> np.ndarray:
        """Expected days from entering stage s to a win, given that the prospect is won."""
        return self._memo("time_to_win", self._time_to_win)

    def _time_to_win(self) -> np.ndarray:
        w = self.p_won()
        S = len(w)
        ok = w > 1e-15
        qt = np.zeros((S, S))
        m = np.where(ok, self.dwell, 0.0)
        for i in np.flatnonzero(ok):
            qt[i, ok] = self.Q[i, ok] * w[ok] / w[i]
            # a recycle adds the nurture delay to the path that goes through it
            m[i] += self.delay[i] * self.recycle[i] * _at(w, self.rc_to[i]) / w[i]
        t = np.linalg.solve(np.eye(S) - qt, m)
        return np.where(ok, t, np.nan)


def _at(w: np.ndarray, i: int) -> float:
    return float(w[i]) if i >= 0 else 0.0


def friction_adds(cs: Compiled, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S,) expected no-decision and loss added by friction, averaged over the horizon days."""
    S, D = cs.n_stages, cs.grid.days
    nd, lost = np.zeros(S), np.zeros(S)
    for f in range(len(cs.friction_names)):
        start = max(float(np.floor(theta[cs.fr_start_col[f]])), 0.0)
        if cs.fr_len_col[f] >= 0:
            end = start + round(float(theta[cs.fr_len_col[f]]))
        else:
            end = float(cs.fr_end_day[f])
        share = max(min(end, D) - min(start, D), 0.0) / D * float(theta[cs.fr_prob_col[f]])
        on = cs.fr_stages[f] == 1
        nd[on] += share * theta[cs.fr_nd_col[f]]
        lost[on] += share * theta[cs.fr_lost_col[f]]
    return nd, lost


def chain(cs: Compiled, theta: np.ndarray, g: int, quality: float = 1.0,
          friction: tuple[np.ndarray, np.ndarray] | None = None,
          served: np.ndarray | None = None, *, base: tuple | None = None) -> Chain:
    """The absorbing chain of segment ``g`` under campaign quality ``quality`` (as the kernel
    routes a stage exit: advance scaled by segment and quality, friction taken from advance,
    clipped when the outcomes sum over 1); ``served`` is the share of visits to each stage that
    get a rep (the rest is lost). ``base`` is :func:`chain_base` of the same arguments, when
    the caller has it (it does not depend on ``served``)."""
    S = cs.n_stages
    served = np.ones(S) if served is None else np.asarray(served, dtype=float)
    Q0, won0, nd0, rc0, dwell, delay = base if base is not None else \
        chain_base(cs, theta, g, quality, friction)
    Q = Q0 * served[:, None]
    won, nd, rc = won0 * served, nd0 * served, rc0 * served
    lost = np.maximum(1.0 - served * (Q0.sum(axis=1) + won0 + nd0), 0.0)
    return Chain(Q, won, lost, nd, rc, dwell, delay, np.where(cs.rc_col >= 0, cs.rc_to, -1),
                 served)


def chain_base(cs: Compiled, theta: np.ndarray, g: int, quality: float = 1.0,
               friction: tuple[np.ndarray, np.ndarray] | None = None) -> tuple:
    """The routing of :func:`chain` with every visit served: (Q, won, no decision, recycle,
    dwell, delay), each row of Q including the recycle (read-only arrays)."""
    # routing reads neither volumes nor pools: a plan that moves only budgets and reps (the
    # optimizer's thousands of plans) routes as the last one did
    S = cs.n_stages
    fr = friction if friction is not None else (np.zeros(S), np.zeros(S))
    masked = np.array(theta, dtype=float)
    masked[_not_routing(cs)] = 0.0
    key = (id(cs), g, float(quality), masked.tobytes(), fr[0].tobytes(), fr[1].tobytes())
    hit = _BASES.get(key)
    if hit is not None and hit[0] is cs:
        return hit[1]
    out = _chain_base(cs, theta, g, quality, fr)
    for a in out:
        a.flags.writeable = False
    if len(_BASES) >= 4096:
        _BASES.clear()
    _BASES[key] = (cs, out)
    return out


_BASES: dict[tuple, tuple[Compiled, tuple]] = {}


def _not_routing(cs: Compiled) -> np.ndarray:
    """Parameter columns that routing never reads: volumes, costs, pools, open pipeline."""
    cols = [np.asarray(cs.vol_cols).ravel(), np.asarray(cs.cost_fixed_col).ravel(),
            np.asarray(cs.cost_per_lead_col).ravel(), np.asarray(cs.init_count_col).ravel()]
    for name in ("pool_headcount_col", "pool_selling_col", "pool_attrition_col",
                 "pool_cost_col", "hire_col"):
        if hasattr(cs, name):
            cols.append(np.asarray(getattr(cs, name)).ravel())
    c = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, np.int64)
    return c[c >= 0]


def _chain_base(cs: Compiled, theta: np.ndarray, g: int, quality: float,
                friction: tuple[np.ndarray, np.ndarray]) -> tuple:
    S = cs.n_stages
    nd_add, lost_add = friction
    Q = np.zeros((S, S))
    won, nd, rc = (np.zeros(S) for _ in range(3))
    dwell, delay = np.zeros(S), np.zeros(S)
    for s in range(S):
        am = theta[cs.adv_col[g, s]] * quality
        p = np.array([theta[cs.next_col[s, k]] for k in range(cs.n_next[s])])
        if len(cs.nd_from_advance) and cs.nd_from_advance[s]:  # as engine.prepare takes it
            p = p * no_decision_factor(p.sum(), theta[cs.nd_col[s]])
        a = p * am
        a_total = a.sum()
        take = nd_add[s] + lost_add[s]
        f = max(a_total - take, 0.0) / a_total if take > 0 and a_total > 0 else 1.0
        a = a * f
        a_total *= f
        q_nd = theta[cs.nd_col[s]] + nd_add[s]
        q_rc = theta[cs.rc_col[s]] if cs.rc_col[s] >= 0 else 0.0
        if a_total + q_nd + q_rc > 1.0:
            if q_nd + q_rc < 1.0:
                a = a * (1.0 - q_nd - q_rc) / a_total
            else:
                a = a * 0.0
                q_nd, q_rc = q_nd / (q_nd + q_rc), q_rc / (q_nd + q_rc)
        for k in range(cs.n_next[s]):
            tgt = cs.next_target[s, k]
            if tgt == codes.WON:
                won[s] += a[k]
            else:
                Q[s, tgt] += a[k]
        if q_rc > 0:
            Q[s, cs.rc_to[s]] += q_rc
            delay[s] = slot_mean(cs, cs.delay_slot[s], theta)
        rc[s] = q_rc
        nd[s] = q_nd
        dwell[s] = slot_mean(cs, cs.dwell_slot[s], theta) * theta[cs.dwell_mult_col[g, s]]
    return Q, won, nd, rc, dwell, delay


@dataclass(frozen=True)
class SourceFunnel:
    """Expected figures of one source of prospects (a campaign or an initial-pipeline entry).

    ``prospects`` enter at ``stage``; ``reach[s]`` of them reach stage s and make ``visits[s]``
    visits to it, of which ``worked[s]`` slot-days are served by a pool; ``won`` are won
    eventually, ``won_in_horizon`` close before the horizon ends, worth ``bookings``.
    """

    name: str
    campaign: int  # campaign index, -1 for the initial pipeline
    stage: int
    prospects: float
    reach: np.ndarray
    visits: np.ndarray
    worked: np.ndarray
    won: float
    won_in_horizon: float
    bookings: float

    @property
    def deal_value(self) -> float:
        """Average value of the source's deals won in the horizon."""
        return self.bookings / self.won_in_horizon if self.won_in_horizon > 0 else np.nan


@dataclass(frozen=True)
class Capacity:
    """The fluid capacity model of each pool over the horizon (slot-days)."""

    pools: tuple[str, ...]
    supply: np.ndarray  # (NP,) slot-days available
    demand: np.ndarray  # (NP,) slot-days the worked stages ask for
    served: np.ndarray  # (NP,) share of the campaigns' prospects' visits served
    reps: np.ndarray  # (NP,) mean reps on the books
    slots_per_rep: np.ndarray  # (NP,) slots of one fully productive rep (slots x selling time)
    served_open: np.ndarray | None = None  # (NP,) share of the open pipeline's visits served


def _mix(cum: np.ndarray) -> np.ndarray:
    return np.diff(np.concatenate([[0.0], cum]))


def pool_supply(cs: Compiled, theta: np.ndarray, samples: int = 16
                ) -> tuple[np.ndarray, np.ndarray]:
    """(slot-days over the horizon, mean reps on the books) of every pool at parameters
    ``theta``, averaged over ``samples`` attrition histories of the engine's pool model."""
    from simengine.engine.prepare import pool_draws

    NP = len(getattr(cs, "pool_names", ()))
    if NP == 0:
        return np.zeros(0), np.zeros(0)
    theta = np.asarray(theta, dtype=float)
    # the pool model reads only the pools' own columns: a budget lever leaves them alone, and
    # the optimizer asks for the same pools thousands of times
    cols = np.concatenate([cs.pool_headcount_col, cs.pool_selling_col, cs.pool_attrition_col,
                           np.asarray(cs.hire_col).ravel()])
    key = (id(cs), samples, theta[cols[cols >= 0]].tobytes())
    hit = _SUPPLY.get(key)
    if hit is not None and hit[0] is cs:
        return hit[1][0].copy(), hit[1][1].copy()
    th = np.repeat(theta[None, :], samples, axis=0)
    pd_, heads = pool_draws(cs, th, 0, np.arange(samples, dtype=np.int64))
    out = pd_.capacity.sum(axis=2).mean(axis=0).astype(float), heads.mean(axis=(0, 2))
    if len(_SUPPLY) >= 512:
        _SUPPLY.clear()
    _SUPPLY[key] = (cs, out)
    return out[0].copy(), out[1].copy()


_SUPPLY: dict[tuple, tuple[Compiled, tuple[np.ndarray, np.ndarray]]] = {}


def _stage_served(cs: Compiled, served_pool: np.ndarray) -> np.ndarray:
    sp = getattr(cs, "stage_pool", np.full(cs.n_stages, -1))
    return np.where(sp >= 0, served_pool[np.maximum(sp, 0)] if len(served_pool) else 1.0, 1.0)


def expected_funnel(cs: Compiled, theta: np.ndarray | None = None,
                    capacity: bool = True) -> list[SourceFunnel]:
    """Expected prospects, reach, wins and bookings of every source at parameter values
    ``theta`` (default: every parameter at its mean), with the fluid capacity model."""
    return expected_model(cs, theta, capacity)[0]


def expected_model(cs: Compiled, theta: np.ndarray | None = None, capacity: bool = True
                   ) -> tuple[list[SourceFunnel], Capacity]:
    """:func:`expected_funnel` and the capacity model it settled on."""
    theta = mean_theta(cs) if theta is None else np.asarray(theta, dtype=float)
    pools = tuple(getattr(cs, "pool_names", ()))
    NP = len(pools)
    if NP and capacity:
        supply, reps = pool_supply(cs, theta)
    else:
        supply, reps = np.full(NP, np.inf), np.zeros(NP)
    sp = getattr(cs, "stage_pool", np.full(cs.n_stages, -1))
    srcs = _sources(cs, theta)
    is_open = np.array([c < 0 for c in srcs.campaign], dtype=bool)
    served_open, demand_open = np.ones(NP), np.zeros(NP)
    served, demand = np.ones(NP), np.zeros(NP)
    if NP and capacity:
        # the open pipeline is first in line (its prospects hold the reps from day 0): it is
        # served from the whole supply, and the campaigns' prospects share what it leaves
        served_open, demand_open = _settle(
            _PoolWork(cs, theta, srcs, sp, NP, is_open), cs, supply)
        left = np.maximum(supply - demand_open * served_open, 0.0)
        served, demand = _settle(_PoolWork(cs, theta, srcs, sp, NP, ~is_open), cs, left)
    fs = _funnel(cs, theta, _stage_served(cs, served), srcs,
                 _stage_served(cs, served_open))
    if NP and not capacity:
        used = np.zeros(NP)
        for f in fs:
            np.add.at(used, sp[sp >= 0], f.worked[sp >= 0])
        demand, demand_open = used, np.zeros(NP)
    if NP:
        slots = np.asarray(cs.pool_slots, dtype=float) * theta[cs.pool_selling_col]
    else:
        slots = np.zeros(0)
    return fs, Capacity(pools, supply, demand + demand_open, served, reps, slots, served_open)


def _settle(work: _PoolWork, cs: Compiled, supply: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """(served share, demand) of each pool for one class of sources: the share at which the
    work asked of a pool, were every visit served, is cut to its supply (a fixed point: a visit
    not served is lost, and asks nothing downstream)."""
    NP = len(supply)
    served, demand = np.ones(NP), np.zeros(NP)
    for _ in range(60):
        used = work(_stage_served(cs, served))
        # demand: what the visits would ask for if all were served
        with np.errstate(invalid="ignore", divide="ignore"):
            demand = np.where(served > 0, used / served, used)
            new = np.where(demand > supply, supply / demand, 1.0)
        new = np.nan_to_num(new, nan=1.0)
        if np.allclose(new, served, rtol=1e-6, atol=1e-9):
            served = new
            break
        served = np.clip(0.5 * served + 0.5 * new, 0.0, 1.0)
    return served, demand


@dataclass(frozen=True)
class _Sources:
    """What the sources of prospects are, whatever the capacity: one entry per campaign and
    per initial-pipeline entry."""

    names: tuple[str, ...]
    campaign: tuple[int, ...]
    stage: tuple[int, ...]
    prospects: tuple[float, ...]
    mix: tuple[np.ndarray, ...]
    quality: tuple[float, ...]
    in_horizon: tuple  # callables: share of wins that close in the horizon, from the mean time
    values: np.ndarray  # (G,) mean deal value of each segment
    friction: tuple[np.ndarray, np.ndarray]
    bases: dict = field(default_factory=dict)  # (segment, quality) -> chain_base


def _sources(cs: Compiled, theta: np.ndarray) -> _Sources:
    G, D = len(cs.segment_names), cs.grid.days
    values = np.array([slot_mean(cs, cs.value_slot[g], theta) for g in range(G)])
    names, camp, stage, prospects, mix, quality, inh = ([] for _ in range(7))
    C = cs.n_campaigns
    vol = volumes(cs, theta[None, :])[0] if C else np.zeros(0)
    days = np.arange(D) + 0.5
    for c in range(C):
        shape = cs.camp_shape[c]
        names.append(cs.campaign_names[c])
        camp.append(c)
        stage.append(int(cs.camp_enters[c]))
        prospects.append(float(vol[c] * shape.sum()))
        mix.append(_mix(cs.camp_mix_cum[c]))
        quality.append(float(theta[cs.quality_col[c]]))
        inh.append(lambda tau, w=shape: float(np.sum(w[days + tau <= D]) / w.sum())
                   if w.sum() > 0 else 0.0)
    for i in range(len(cs.init_stage)):
        names.append(f"initial_pipeline[{i}]")
        camp.append(-1)
        stage.append(int(cs.init_stage[i]))
        prospects.append(float(np.floor(theta[cs.init_count_col[i]] + 0.5)))
        mix.append(_mix(cs.init_mix_cum[i]))
        quality.append(1.0)
        inh.append(lambda tau: 1.0 if tau <= D else 0.0)
    return _Sources(tuple(names), tuple(camp), tuple(stage), tuple(prospects), tuple(mix),
                    tuple(quality), tuple(inh), values, friction_adds(cs, theta))


def _chains(cs: Compiled, theta: np.ndarray, srcs: _Sources, served: np.ndarray
            ) -> dict[tuple[int, float], Chain]:
    """The chain of every (segment, campaign quality) the sources use."""
    out: dict[tuple[int, float], Chain] = {}
    for q, mix in zip(srcs.quality, srcs.mix, strict=True):
        for g in range(len(mix)):
            if (g, q) not in out:
                if (g, q) not in srcs.bases:
                    srcs.bases[(g, q)] = chain_base(cs, theta, g, q, srcs.friction)
                out[(g, q)] = chain(cs, theta, g, q, srcs.friction, served,
                                    base=srcs.bases[(g, q)])
    return out


class _PoolWork:
    """Slot-days the sources ask of each pool at given served shares (expected visits x served
    x dwell), over every (segment, quality) chain at once."""

    def __init__(self, cs: Compiled, theta: np.ndarray, srcs: _Sources, sp: np.ndarray,
                 NP: int, select: np.ndarray | None = None):
        S = cs.n_stages
        keys: dict[tuple[int, float], int] = {}
        rows = []
        for k, e in enumerate(srcs.stage):
            if select is not None and not select[k]:
                continue
            mix, q, n = srcs.mix[k], srcs.quality[k], srcs.prospects[k]
            for g in range(len(mix)):
                if mix[g] > 0 and n > 0:
                    if (g, q) not in keys:
                        keys[(g, q)] = len(keys)
                        rows.append(np.zeros(S))
                    rows[keys[(g, q)]][e] += n * mix[g]
        self.weights = np.array(rows).reshape(len(rows), S)  # (K, S) prospects entering
        bases = []
        for gq in keys:
            if gq not in srcs.bases:
                srcs.bases[gq] = chain_base(cs, theta, gq[0], gq[1], srcs.friction)
            bases.append(srcs.bases[gq])
        self.Q0 = np.array([b[0] for b in bases]).reshape(len(bases), S, S)
        self.dwell = np.array([b[4] for b in bases]).reshape(len(bases), S)
        self.to_pool = np.zeros((S, NP))
        for s in range(S):
            if sp[s] >= 0:
                self.to_pool[s, sp[s]] = 1.0
        self.eye = np.eye(S)

    def __call__(self, served: np.ndarray) -> np.ndarray:
        if not len(self.weights):
            return np.zeros(self.to_pool.shape[1])
        n = np.linalg.inv(self.eye - self.Q0 * served[None, :, None])  # (K, S, S)
        visits = np.einsum("ks,kst->kt", self.weights, n)
        return (visits * self.dwell * served[None, :]).sum(axis=0) @ self.to_pool


def _funnel(cs: Compiled, theta: np.ndarray, served: np.ndarray,
            srcs: _Sources | None = None, served_open: np.ndarray | None = None
            ) -> list[SourceFunnel]:
    """Every source's funnel; the open pipeline's visits served at ``served_open`` (default
    ``served``), the campaigns' at ``served``."""
    srcs = _sources(cs, theta) if srcs is None else srcs
    chains = _chains(cs, theta, srcs, served)
    opened = chains if served_open is None or np.array_equal(served_open, served) else \
        _chains(cs, theta, srcs, served_open)
    G = len(cs.segment_names)
    return [_source(srcs.names[k], srcs.campaign[k], srcs.stage[k], srcs.prospects[k],
                    srcs.mix[k], [(opened if srcs.campaign[k] < 0 else chains)
                                  [(g, srcs.quality[k])] for g in range(G)],
                    srcs.values, srcs.in_horizon[k]) for k in range(len(srcs.names))]


def _source(name, c, e, prospects, mix, chains, values, in_horizon) -> SourceFunnel:
    S = len(chains[0].Q)
    reach, visits, worked = np.zeros(S), np.zeros(S), np.zeros(S)
    won = won_h = bookings = 0.0
    for g, ch in enumerate(chains):
        if mix[g] <= 0:
            continue
        reach += mix[g] * ch.reach(e)
        n_e = ch.fundamental[e]
        visits += mix[g] * n_e
        worked += mix[g] * n_e * ch.served * ch.dwell
        w = ch.p_won()[e]
        tau = ch.time_to_win()[e] if w > 0 else np.inf
        share = in_horizon(tau) if np.isfinite(tau) else 0.0
        won += mix[g] * w
        won_h += mix[g] * w * share
        bookings += mix[g] * w * share * values[g]
    return SourceFunnel(name, c, e, prospects, prospects * reach, prospects * visits,
                        prospects * worked, prospects * won, prospects * won_h,
                        prospects * bookings)


def expected_bookings(cs: Compiled, theta: np.ndarray | None = None) -> float:
    """Expected bookings in the horizon from every source (the waterfall's model)."""
    return float(sum(s.bookings for s in expected_funnel(cs, theta)))
