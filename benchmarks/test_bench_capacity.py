"""The capacity path against Ciw and SimPy on ``scenarios/bench_capacity.yaml``.

Prospects per second per core (one thread) of the engine on the full model (about a million
prospects a year, 1,220 + 3,050 servers at about 90 % load), and of the engine, SimPy and Ciw on
the same model scaled down by ``SIMENGINE_BENCH_CAPACITY_FACTOR`` (default 20: arrivals and
servers divided alike, 50,000 prospects a year on 61 + 152 servers, the load per server of the
full model; the peers would take minutes on the full one). The ratios engine / SimPy and
engine / Ciw come from the scaled model, identical for all three, in the same run; before each
peer round the engine runs the scaled model once more outside the timed region, so each ratio
compares rates measured under the same load of a shared machine.

Each benchmark round is one independent year (its own seed; the engine's rounds are many draws,
each a year), so the rounds are also the replications of the correctness check: the share of
``qualify`` arrivals that renege, the mean waits at ``qualify`` and ``deal`` and the entries into
``deal`` per prospect must agree between the three within 4 standard errors (two-sample, from
the pooled spread between replications; 4 widened to the t quantile of the same tail probability
when the replications are few). Rates are the best round: the engine's from
``ds.attrs["elapsed_seconds"]`` (the kernel; the whole ``simulate`` call is shown too), the
peers' from the whole call. The figures and the load average are printed at the end of the run::

    pytest benchmarks/test_bench_capacity.py -q --benchmark-only

``SIMENGINE_BENCH_SIMPY_REPS`` (default 20) and ``SIMENGINE_BENCH_CIW_REPS`` (default 10) set the
peers' rounds; the engine's ratio to SimPy grows as the factor shrinks (SimPy's cost per prospect
grows with the model), so a larger factor is the peers' favourable side.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import peers_capacity as pc
import pytest
from bench_common import ROOT

import simengine as se

SCENARIO = ROOT / "scenarios" / "bench_capacity.yaml"
FACTOR = float(os.environ.get("SIMENGINE_BENCH_CAPACITY_FACTOR", "20"))
SIMPY_REPS = int(os.environ.get("SIMENGINE_BENCH_SIMPY_REPS", "20"))
CIW_REPS = int(os.environ.get("SIMENGINE_BENCH_CIW_REPS", "10"))
ENGINE_ROUNDS = 10
FULL_DRAWS = 2                       # about 2 million prospects a round
SCALED_DRAWS = max(2, round(FACTOR))  # about as many prospects a round as one full draw
REFERENCE_DRAWS = 10 * SCALED_DRAWS  # the engine's replications for the check
K_SE = 4.0
TARGETS = {"engine": 3e6, "simpy": 50.0, "ciw": 100.0}
GROUP = "capacity: bench_capacity, 1 thread"
SCALED_GROUP = (GROUP + f", scaled 1/{FACTOR:g} (engine {SCALED_DRAWS} years a round, peers 1; "
                "compare prospects/s in the summary)")

_RESULTS: dict[str, dict] = {}  # what each benchmark measured, for the summary


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def full():
    return se.load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def scaled(full):
    return pc.scaled_scenario(full, FACTOR)


@pytest.fixture(scope="module")
def spec(scaled):
    return pc.capacity_spec(scaled)


@pytest.fixture(scope="module")
def warm(full, scaled):
    """Compile the capacity kernel (or load it from numba's cache), outside every timed region."""
    for sc in (full, scaled):
        se.simulate(sc, draws=2, seed=0, progress=False, threads=1)


@pytest.fixture(scope="module")
def engine_reference(warm, scaled):
    """The engine's replications of the scaled model: the reference the peers must match."""
    ds = se.simulate(scaled, draws=REFERENCE_DRAWS, seed=2024, progress=False, threads=1)
    return pc.engine_tallies(ds)


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    """Print the figures next to the other benchmarks' at the end of the run."""
    pm = request.config.pluginmanager
    if not pm.is_registered(_SUMMARY):
        pm.register(_SUMMARY, "capacity-summary")
    _RESULTS["load_start"] = os.getloadavg()


# --- helpers -----------------------------------------------------------------------------------

def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def _conserved(ds) -> None:
    """Every prospect is won, lost, no decision or open at the end, in every draw."""
    ends = (ds.won.sum("period") + ds.exited_lost.sum(("period", "stage"))
            + ds.exited_no_decision.sum(("period", "stage")) + ds.open_at_end.sum("stage"))
    start = ds.arrivals.sum(("period", "campaign")) + ds.initial_pipeline.sum("stage")
    np.testing.assert_array_equal(ends.values, start.values)


def _engine_rounds(benchmark, sc, draws: int, seed0: int) -> list:
    """Benchmark ``simulate`` on one thread, a new seed each round; the Datasets and the wall
    time of each call."""
    done = []
    seeds = iter(range(seed0, seed0 + 10_000))

    def one(seed):
        t, c = time.perf_counter(), time.process_time()
        ds = se.simulate(sc, draws=draws, seed=seed, progress=False, threads=1)
        done.append((ds, time.perf_counter() - t, time.process_time() - c))
        return ds

    benchmark.pedantic(one, setup=lambda: ((next(seeds),), {}), rounds=ENGINE_ROUNDS)
    return done


def _engine_figures(done) -> dict:
    kernel = max(ds.attrs["prospects"] / ds.attrs["elapsed_seconds"] for ds, _, _ in done)
    wall = max(ds.attrs["prospects"] / s for ds, s, _ in done)
    cpu = max(ds.attrs["prospects"] / c for ds, _, c in done)
    return {"rate": kernel, "wall_rate": wall, "cpu_rate": cpu, "rounds": len(done),
            "prospects": done[0][0].attrs["prospects"], "load": _load()}


def _peer_rounds(benchmark, fn, spec, scaled, reps: int, seed0: int) -> tuple[list, list, list]:
    """Benchmark a peer, one year with a new seed per round: its tallies and times. Before each
    round, outside its timed region, the engine runs the same scaled model once (its kernel
    rates are returned too), so the ratio compares the two under the same load of a shared
    machine. When the benchmarks are disabled (one untimed call) the remaining replications are
    run untimed."""
    tallies, seconds, engine = [], [], []
    seeds = iter(range(seed0, seed0 + 10_000))

    def one(seed):
        t, c = time.perf_counter(), time.process_time()
        tally = fn(spec, seed)
        seconds.append((time.perf_counter() - t, time.process_time() - c))
        tallies.append(tally)
        return tally

    def setup():
        seed = next(seeds)
        c = time.process_time()
        ds = se.simulate(scaled, draws=SCALED_DRAWS, seed=seed, progress=False, threads=1)
        engine.append((ds.attrs["prospects"] / ds.attrs["elapsed_seconds"],
                       ds.attrs["prospects"] / (time.process_time() - c)))
        return (seed,), {}

    benchmark.pedantic(one, setup=setup, rounds=reps)
    while len(tallies) < reps:
        one(next(seeds))
    return tallies, seconds, engine


def _check(name: str, engine: list, peer: list) -> list[str]:
    lines, bad = pc.agreement(engine, peer, K_SE)
    _RESULTS.setdefault("agreement", {})[name] = (lines, len(engine), len(peer))
    return bad


# --- the benchmarks ----------------------------------------------------------------------------

def test_engine_full(benchmark, warm, full):
    """The engine on the full model: ~1 M prospects a draw, 1,220 + 3,050 servers."""
    benchmark.group = GROUP + f", full size ({FULL_DRAWS} years a round)"
    done = _engine_rounds(benchmark, full, FULL_DRAWS, 100)
    spec = pc.capacity_spec(full)
    for ds, _, _ in done:
        _conserved(ds)
        np.testing.assert_array_equal(ds.capacity.sel(pool="sdr").values, spec.sdr)
        np.testing.assert_array_equal(ds.capacity.sel(pool="ae").values, spec.ae)
        # the offered load per server, once the funnel has filled (February on); nobody waits
        # long with a thousand servers, so next to nobody goes cold
        lam = spec.rate * spec.p_qualify
        util = ds.utilization.isel(period=slice(1, None)).mean(("draw", "period"))
        assert abs(float(util.sel(pool="sdr")) - lam * spec.qualify_mean / spec.sdr) < 0.015
        deal_load = lam * spec.p_deal * math.exp(spec.deal[0] + spec.deal[1] ** 2 / 2) / spec.ae
        assert abs(float(util.sel(pool="ae")) - deal_load) < 0.015
        assert float(ds.abandoned.sum() / ds.entered.sel(stage="qualify").sum()) < 1e-3
    _RESULTS["engine_full"] = _engine_figures(done)
    benchmark.extra_info.update(_RESULTS["engine_full"])


def test_engine_scaled(benchmark, warm, scaled, spec, engine_reference):
    """The engine on the scaled model, the workload the peers run."""
    benchmark.group = SCALED_GROUP
    done = _engine_rounds(benchmark, scaled, SCALED_DRAWS, 200)
    for ds, _, _ in done:
        _conserved(ds)
        np.testing.assert_array_equal(ds.capacity.sel(pool="sdr").values, spec.sdr)
        np.testing.assert_array_equal(ds.capacity.sel(pool="ae").values, spec.ae)
    # the timed rounds are replications too: they must agree with the reference draws
    timed = [t for ds, _, _ in done for t in pc.engine_tallies(ds)]
    assert _check("engine rounds vs engine reference", engine_reference, timed) == []
    _RESULTS["engine_scaled"] = _engine_figures(done)
    benchmark.extra_info.update(_RESULTS["engine_scaled"])


def _peer(name, fn, reps, benchmark, spec, scaled, engine_reference, seed0):
    benchmark.group = SCALED_GROUP
    tallies, seconds, engine = _peer_rounds(benchmark, fn, spec, scaled, reps, seed0)
    rates = [t["prospects"] / s for t, (s, _) in zip(tallies, seconds, strict=True)]
    cpu = [t["prospects"] / c for t, (_, c) in zip(tallies, seconds, strict=True)]
    nan = float("nan")
    _RESULTS[name] = {"rate": max(rates), "cpu_rate": max(cpu), "rounds": len(seconds),
                      "load": _load(),
                      "engine_alongside": max(e[0] for e in engine) if engine else nan,
                      "engine_alongside_cpu": max(e[1] for e in engine) if engine else nan,
                      "prospects": float(np.mean([t["prospects"] for t in tallies])),
                      "tallies": tallies}
    benchmark.extra_info.update({k: v for k, v in _RESULTS[name].items() if k != "tallies"})
    bad = _check(f"engine vs {name}", engine_reference, tallies)
    other = {"simpy": "ciw", "ciw": "simpy"}[name]
    if other in _RESULTS:  # the two peers against each other too
        bad += _check(f"{other} vs {name}", _RESULTS[other]["tallies"], tallies)
    assert bad == []


def test_simpy_scaled(benchmark, warm, spec, scaled, engine_reference):
    """SimPy: a process per prospect, ``Resource`` per pool, ``req | timeout`` for patience."""
    _peer("simpy", pc.simpy_capacity, SIMPY_REPS, benchmark, spec, scaled, engine_reference,
          300)


def test_ciw_scaled(benchmark, warm, spec, scaled, engine_reference):
    """Ciw: a three-node network with reneging at ``qualify``."""
    _peer("ciw", pc.ciw_capacity, CIW_REPS, benchmark, spec, scaled, engine_reference,
          400)


# --- the figures at the end of the run ---------------------------------------------------------

def _rate(x: float) -> str:
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.1f} k"


class _Summary:
    """A plugin registered by the module: prints what the capacity benchmarks measured."""

    def pytest_terminal_summary(self, terminalreporter):
        r = _RESULTS
        if not any(k in r for k in ("engine_full", "engine_scaled", "simpy", "ciw")):
            return
        w = terminalreporter.write_line
        try:
            spec = pc.capacity_spec(pc.scaled_scenario(se.load_scenario(SCENARIO), FACTOR))
            what = (f"scaled 1/{FACTOR:g}: {spec.prospects:,.0f} prospects a year, "
                    f"{spec.sdr} + {spec.ae} servers")
        except Exception as exc:  # noqa: BLE001 - the summary must not fail the run
            what = f"scaled 1/{FACTOR:g} ({exc})"
        w("")
        w(f"simengine capacity figures ({SCENARIO.name}; {what}), best round, 1 thread")
        if "load_start" in r:
            s = r["load_start"]
            w(f"  load average at start {s[0]:.2f}, {s[1]:.2f}, {s[2]:.2f}; at end {_load()}")
            w("  rates: best round, per second of wall time and per CPU-second of the process "
              "(not inflated by waiting for a core)")
        for key, label in (("engine_full", "engine, full size"),
                           ("engine_scaled", "engine, scaled")):
            if key in r:
                e = r[key]
                met = "met" if e["rate"] >= TARGETS["engine"] else "NOT met"
                w(f"  {label:<18}: {_rate(e['rate'])} prospects/s per core (kernel; "
                  f">= 3 M/s {met}), {_rate(e['wall_rate'])} whole simulate call, "
                  f"{_rate(e['cpu_rate'])} per CPU-s [{e['rounds']} rounds, load {e['load']}]")
        for name, label in (("simpy", "SimPy"), ("ciw", "Ciw")):
            if name not in r:
                continue
            p = r[name]
            w(f"  {label + ', scaled':<18}: {_rate(p['rate'])} prospects/s per core, "
              f"{_rate(p['cpu_rate'])} per CPU-s [{p['rounds']} rounds, load {p['load']}]")
            ratio = p["engine_alongside"] / p["rate"]
            cpu = p["engine_alongside_cpu"] / p["cpu_rate"]
            met = "met" if ratio >= TARGETS[name] else "NOT met"
            w(f"    engine / {label}: {ratio:.0f}x (>= {TARGETS[name]:.0f}x {met}), "
              f"{cpu:.0f}x per CPU-s; the engine run between its rounds: "
              f"{_rate(p['engine_alongside'])} prospects/s, "
              f"{_rate(p['engine_alongside_cpu'])} per CPU-s")
            if "engine_scaled" in r:
                e = r["engine_scaled"]
                w(f"    against the engine's own benchmark: {e['rate'] / p['rate']:.0f}x "
                  f"({e['wall_rate'] / p['rate']:.0f}x whole call, "
                  f"{e['cpu_rate'] / p['cpu_rate']:.0f}x per CPU-s)")
        for name, (lines, n1, n2) in r.get("agreement", {}).items():
            w(f"  agreement, {name} ({n1} vs {n2} years; mean +- s.e.; |diff| in pooled s.e.):")
            for line in lines:
                w(f"    {line}")


_SUMMARY = _Summary()
