"""The same funnel in the engine, in vectorised NumPy and in SimPy, in one benchmark group.

Each peer must agree with the engine within Monte Carlo error (won fraction, fraction reaching
and open at the end in each stage, mean deal value; 4 standard errors) before its speed counts;
the NumPy version that computes the engine's outputs is checked on those too (entries and
pipeline per period and stage, won deals per period). NumPy runs twice: computing the outputs
the engine computes (the like-for-like comparison), and computing only the tally (the least
any implementation must do, so the hardest comparison for the engine). SimPy simulates 5 % of
the arrivals (a million prospects would take minutes); rates are per prospect, so the ratio is
unaffected.
"""

from __future__ import annotations

import peers
import pytest
from bench_common import FIGURES, CpuTimed, best_seconds, prospects

from simengine.engine.run import run

SIMPY_SHARE = 0.05


@pytest.fixture(scope="module")
def spec(compiled):
    return peers.funnel_spec(compiled)


def test_engine(benchmark, compiled):
    benchmark.group = "peers: bench_funnel, one draw"
    timed = CpuTimed(run)
    raw = benchmark.pedantic(timed, args=(compiled, 1, 3), kwargs={"threads": 1},
                             rounds=5, iterations=1)
    if (s := best_seconds(benchmark)) is not None:
        FIGURES.update(peer_engine_s=s, peer_engine_cpu_s=timed.best,
                       peer_engine_prospects=prospects(raw.out))


def test_numpy(benchmark, spec, engine_out, engine_reference):
    benchmark.group = "peers: bench_funnel, one draw"
    timed = CpuTimed(peers.numpy_funnel)
    result = benchmark.pedantic(timed, args=(spec, 3), rounds=5, iterations=1)
    assert peers.agreement(engine_reference, result) == []
    assert peers.agreement_outputs(engine_out, result) == []
    if (s := best_seconds(benchmark)) is not None:
        FIGURES.update(peer_numpy_s=s, peer_numpy_cpu_s=timed.best,
                       peer_numpy_prospects=result["prospects"])


def test_numpy_tally_only(benchmark, spec, engine_reference):
    benchmark.group = "peers: bench_funnel, one draw"
    timed = CpuTimed(peers.numpy_funnel)
    tally = benchmark.pedantic(timed, args=(spec, 3), kwargs={"outputs": False}, rounds=5,
                               iterations=1)
    assert peers.agreement(engine_reference, tally) == []
    if (s := best_seconds(benchmark)) is not None:
        FIGURES.update(peer_numpytally_s=s, peer_numpytally_cpu_s=timed.best,
                       peer_numpytally_prospects=tally["prospects"])


def test_simpy(benchmark, spec, engine_reference):
    benchmark.group = "peers: bench_funnel, one draw"
    timed = CpuTimed(peers.simpy_funnel)
    tally = benchmark.pedantic(timed, args=(spec.scaled(SIMPY_SHARE), 3), rounds=2, iterations=1)
    assert peers.agreement(engine_reference, tally) == []
    if (s := best_seconds(benchmark)) is not None:
        FIGURES.update(peer_simpy_s=s, peer_simpy_cpu_s=timed.best,
                       peer_simpy_prospects=tally["prospects"])
