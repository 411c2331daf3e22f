"""The capacitated benchmark (``scenarios/bench_capacity.yaml``) written twice more, independently
of the engine: in Ciw and in SimPy. Both read the same scenario and return the same tallies as the
engine's result reduced by :func:`engine_tallies`, so the benchmark can check that all three
simulate the same queues before comparing their speed.

The model: Poisson arrivals over the horizon into ``lead`` (an unworked stage: a lognormal delay);
a share goes on to ``qualify``, worked by pool ``sdr`` (c servers, exponential work, exponential
patience: a prospect whose wait exceeds its patience reneges); a share of the qualified goes on to
``deal``, worked by pool ``ae`` (c servers, lognormal work, no patience); then won / no decision /
lost. Everything starts empty and stops at the horizon. First come first served in each pool.

Only this shape is supported: :func:`capacity_spec` refuses anything else (uncertain parameters,
ramps, attrition, hires, several campaigns, non-uniform schedules...). Slow as the peers are, the
benchmark runs them on :func:`scaled_scenario`: arrivals and servers divided by the same factor,
so each server carries the same load.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

import simengine as se
from simengine.scenario import Scenario


@dataclass(frozen=True)
class CapacitySpec:
    """The two-pool funnel in plain numbers (days throughout).

    Attributes
    ----------
    days : float
        Horizon; nothing happens at or after it.
    rate : float
        Poisson arrivals per day into ``lead``.
    lead : (mu, sigma)
        Lognormal dwell in ``lead`` (parameters of the underlying normal).
    p_qualify : float
        Share of leads that go on to ``qualify`` (the rest is lost).
    sdr : int
        Servers (slots) of the pool working ``qualify``.
    qualify_mean, patience_mean : float
        Means of the exponential work time and patience at ``qualify``.
    p_deal : float
        Share of the qualified that go on to ``deal``.
    ae : int
        Servers of the pool working ``deal``.
    deal : (mu, sigma)
        Lognormal work time at ``deal``.
    p_won, p_nd : float
        Outcomes after ``deal`` (the rest is lost).
    """

    days: float
    rate: float
    lead: tuple[float, float]
    p_qualify: float
    sdr: int
    qualify_mean: float
    patience_mean: float
    p_deal: float
    ae: int
    deal: tuple[float, float]
    p_won: float
    p_nd: float

    @property
    def prospects(self) -> float:
        """Expected prospects of one year."""
        return self.rate * self.days


def scaled_scenario(sc: Scenario, factor: float) -> Scenario:
    """``sc`` with the campaign's leads and each pool's slots divided by ``factor``.

    Each pool becomes one rep with ``round(slots / factor)`` slots (a whole number of servers,
    whatever the factor), so the load per server stays that of the full model.
    """
    values: dict[str, float] = {}
    for camp in sc.campaigns:
        values[f"campaigns.{camp.name}.volume.leads"] = _fixed(camp.volume.leads) / factor
    for name, pool in sc.pools.items():
        slots = _servers(pool)
        values[f"pools.{name}.headcount"] = 1.0
        values[f"pools.{name}.slots_per_rep"] = float(max(1, round(slots / factor)))
        values[f"pools.{name}.selling_time"] = 1.0
    return se.with_values(sc, values)


def _fixed(v) -> float:
    if getattr(v, "dist", None) != "fixed":
        raise ValueError(f"the peers need fixed parameters, not {v!r}")
    return float(v.value)


def _servers(pool) -> int:
    heads = math.floor(_fixed(pool.headcount) + 0.5)
    return math.floor(heads * pool.slots_per_rep * _fixed(pool.selling_time) + 1e-9)


def _lognormal(d) -> tuple[float, float]:
    if d.dist != "lognormal":
        raise ValueError(f"expected a lognormal, not {d.dist}")
    m, cv = _fixed(d.mean_), _fixed(d.cv)
    sigma = math.sqrt(math.log1p(cv * cv))
    return (math.log(m) - sigma * sigma / 2, sigma)


def _exponential(d) -> float:
    if d.dist != "exponential":
        raise ValueError(f"expected an exponential, not {d.dist}")
    return _fixed(d.mean_)


def capacity_spec(sc: Scenario) -> CapacitySpec:
    """The parameters of a bench_capacity-shaped scenario (fixed values only)."""
    problems = []
    if len(sc.campaigns) != 1:
        problems.append("one campaign")
    camp = sc.campaigns[0]
    days = sc.horizon.days
    sched_days = (camp.schedule.end - camp.schedule.start).days + 1
    if (camp.schedule.start != sc.horizon.start or sched_days != days
            or camp.schedule.shape != "uniform" or camp.schedule.spikes):
        problems.append("a uniform schedule over the whole horizon")
    names = [s.name for s in sc.stages]
    if names != ["lead", "qualify", "deal"] or camp.enters != "lead":
        problems.append("stages lead -> qualify -> deal, entered at lead")
    if problems:
        raise ValueError("the peers cannot simulate: need " + ", ".join(problems))
    lead, qual, deal = sc.stages
    for name, pool in sc.pools.items():
        if pool.ramp is not None or pool.hires or _fixed(pool.attrition) != 0.0:
            raise ValueError(f"the peers need a constant pool {name}")
    if (lead.worked_by, qual.worked_by, deal.worked_by) != (None, "sdr", "ae") \
            or lead.patience is not None or deal.patience is not None \
            or any(_fixed(s.no_decision) for s in (lead, qual)):
        raise ValueError("the peers need qualify worked by sdr (with patience), deal by ae")
    return CapacitySpec(
        days=float(days), rate=_fixed(camp.volume.leads) / sched_days,
        lead=_lognormal(lead.dwell), p_qualify=_fixed(lead.next["qualify"]),
        sdr=_servers(sc.pools["sdr"]), qualify_mean=_exponential(qual.dwell),
        patience_mean=_exponential(qual.patience), p_deal=_fixed(qual.next["deal"]),
        ae=_servers(sc.pools["ae"]), deal=_lognormal(deal.dwell),
        p_won=_fixed(deal.next["won"]), p_nd=_fixed(deal.no_decision))


# --- the tallies -----------------------------------------------------------------------------

FIELDS = ("prospects", "qualify_entered", "abandoned", "qualify_wait_sum", "qualify_wait_n",
          "deal_entered", "deal_wait_sum", "deal_wait_n")


def empty_tally() -> dict[str, float]:
    """Counts of one year: prospects created; entries into ``qualify``; reneged at ``qualify``;
    waits (sum and number) of the prospects that got a rep, at the start of their work, in each
    pool; entries into ``deal``. Everything that happens before the horizon."""
    return dict.fromkeys(FIELDS, 0.0)


def engine_tallies(ds) -> list[dict[str, float]]:
    """The engine's Dataset reduced to one tally per draw (the draws are independent years)."""
    ent = ds.entered.sum("period")
    qw, qn = _wait_sum_n(ds, "sdr")
    dw, dn = _wait_sum_n(ds, "ae")
    cols = {
        "prospects": ds.arrivals.sum(("period", "campaign")).values,
        "qualify_entered": ent.sel(stage="qualify").values,
        "abandoned": ds.abandoned.sel(pool="sdr").sum("period").values,
        "qualify_wait_sum": qw, "qualify_wait_n": qn,
        "deal_entered": ent.sel(stage="deal").values,
        "deal_wait_sum": dw, "deal_wait_n": dn,
    }
    return [{k: float(v[i]) for k, v in cols.items()} for i in range(ds.sizes["draw"])]


def _wait_sum_n(ds, pool: str) -> tuple[np.ndarray, np.ndarray]:
    """The pool's mean wait per draw as (sum, n) = (mean, 1): only the per-year mean is compared,
    and the Dataset holds the mean over the prospects that got a rep, not their number."""
    w = ds.queue_wait.sel(pool=pool).values
    return w, np.ones_like(w)


def metrics(t: dict[str, float]) -> dict[str, float]:
    """What is compared, per replication (one year)."""
    return {
        "abandon share at qualify": t["abandoned"] / t["qualify_entered"],
        "mean wait at qualify (days)": t["qualify_wait_sum"] / t["qualify_wait_n"],
        "mean wait at deal (days)": t["deal_wait_sum"] / t["deal_wait_n"],
        "deal entries per prospect": t["deal_entered"] / t["prospects"],
    }


def _values(tallies: list[dict[str, float]]) -> dict[str, np.ndarray]:
    per = [metrics(t) for t in tallies]
    return {name: np.array([m[name] for m in per]) for name in per[0]}


def summary(tallies: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """Each metric's mean over replications and its standard error (replications independent)."""
    return {name: (float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))))
            for name, x in _values(tallies).items()}


def agreement(a: list[dict], b: list[dict], k: float = 4.0) -> tuple[list[str], list[str]]:
    """Compare two sets of independent replications (years), metric by metric: (lines, failures).

    Two-sample t test with the pooled variance: under the hypothesis that both simulate the same
    model their years have the same spread, so the many engine draws pin down the standard error
    of a peer's few years too (a peer's own spread from a handful of years can be far too small).
    A failure is a difference beyond ``k`` standard errors, ``k`` widened to the t quantile of the
    same tail probability as ``k`` normal standard errors (4.0 -> 4.1 for 200 + 10 years).
    """
    from scipy import stats

    va, vb = _values(a), _values(b)
    lines, bad = [], []
    for name, x in va.items():
        y = vb[name]
        n1, n2 = len(x), len(y)
        dof = n1 + n2 - 2
        pooled = ((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / dof
        se = math.sqrt(pooled * (1 / n1 + 1 / n2))
        diff = abs(float(x.mean() - y.mean()))
        z = diff / se if se > 0 else (0.0 if diff == 0 else math.inf)
        limit = float(stats.t.isf(stats.norm.sf(k), dof))
        line = (f"{name}: {x.mean():.4f} +- {x.std(ddof=1) / math.sqrt(n1):.4f} vs "
                f"{y.mean():.4f} +- {y.std(ddof=1) / math.sqrt(n2):.4f} "
                f"({z:.1f} s.e., limit {limit:.1f})")
        lines.append(line)
        if z > limit:
            bad.append(line)
    return lines, bad


# --- SimPy: a process per prospect -------------------------------------------------------------

def simpy_capacity(spec: CapacitySpec, seed: int) -> dict[str, float]:
    """One year in SimPy: a source process creates a process per prospect; ``qualify`` requests
    an ``sdr`` slot and gives up when its patience runs out first (``req | timeout``); ``deal``
    waits for an ``ae`` slot as long as it takes."""
    import simpy

    rnd = random.Random(seed)
    env = simpy.Environment()
    sdr = simpy.Resource(env, capacity=spec.sdr)
    ae = simpy.Resource(env, capacity=spec.ae)
    t = empty_tally()
    lead_mu, lead_sigma = spec.lead
    deal_mu, deal_sigma = spec.deal
    q_rate, p_rate = 1.0 / spec.qualify_mean, 1.0 / spec.patience_mean
    lognorm, expo, unif, timeout = rnd.lognormvariate, rnd.expovariate, rnd.random, env.timeout

    def prospect():
        yield timeout(lognorm(lead_mu, lead_sigma))
        if unif() >= spec.p_qualify:
            return  # lost at lead
        t["qualify_entered"] += 1
        came = env.now
        req = sdr.request()
        got = yield req | timeout(expo(p_rate))
        if req not in got:  # went cold
            req.cancel()
            t["abandoned"] += 1
            return
        t["qualify_wait_sum"] += env.now - came
        t["qualify_wait_n"] += 1
        yield timeout(expo(q_rate))
        sdr.release(req)
        if unif() >= spec.p_deal:
            return  # lost at qualify
        t["deal_entered"] += 1
        came = env.now
        with ae.request() as req:
            yield req
            t["deal_wait_sum"] += env.now - came
            t["deal_wait_n"] += 1
            yield timeout(lognorm(deal_mu, deal_sigma))
        unif()  # won / no decision / lost: ends the prospect either way

    def source():
        while True:
            yield timeout(expo(spec.rate))
            t["prospects"] += 1
            env.process(prospect())

    env.process(source())
    env.run(until=spec.days)
    return t


# --- Ciw: a three-node network ------------------------------------------------------------------

def ciw_capacity(spec: CapacitySpec, seed: int) -> dict[str, float]:
    """One year in Ciw: node 1 ``lead`` (infinite servers), node 2 ``qualify`` (reneging),
    node 3 ``deal``; routing by probability, exit after ``deal`` (the outcome does not touch the
    queues). Waits of prospects in service at the horizon come from Ciw's incomplete records."""
    import ciw

    ciw.seed(seed)
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=spec.rate), None, None],
        service_distributions=[ciw.dists.Lognormal(*spec.lead),
                               ciw.dists.Exponential(rate=1.0 / spec.qualify_mean),
                               ciw.dists.Lognormal(*spec.deal)],
        number_of_servers=[float("inf"), spec.sdr, spec.ae],
        routing=[[0.0, spec.p_qualify, 0.0], [0.0, 0.0, spec.p_deal], [0.0, 0.0, 0.0]],
        reneging_time_distributions=[
            None, ciw.dists.Exponential(rate=1.0 / spec.patience_mean), None],
    )
    sim = ciw.Simulation(net)
    sim.simulate_until_max_time(spec.days)
    t = empty_tally()
    t["prospects"] = float(sim.nodes[0].number_of_individuals)
    for r in sim.get_all_records(include_incomplete=True):
        if r.record_type == "service":
            if r.node == 1:
                if r.destination == 2:
                    t["qualify_entered"] += 1
            elif r.node == 2:
                t["qualify_wait_sum"] += r.waiting_time
                t["qualify_wait_n"] += 1
                if r.destination == 3:
                    t["deal_entered"] += 1
            else:
                t["deal_wait_sum"] += r.waiting_time
                t["deal_wait_n"] += 1
        elif r.record_type == "renege":
            t["abandoned"] += 1
        elif r.record_type == "incomplete" and r.node > 1 and r.waiting_time is not None:
            key = "qualify" if r.node == 2 else "deal"  # in service at the horizon
            t[f"{key}_wait_sum"] += r.waiting_time
            t[f"{key}_wait_n"] += 1
    return t
