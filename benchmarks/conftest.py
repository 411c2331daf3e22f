"""Shared fixtures of the benchmarks and the figures printed at the end of a run.

Each benchmark records what it measured in :data:`FIGURES`; ``pytest_terminal_summary`` turns
them into rates and ratios (engine vs NumPy vs SimPy, 2 threads vs 1), so the comparisons come
from one run on one machine. JIT compilation happens in the fixtures, outside every timed region.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # peers, bench_common (importlib mode)

from bench_common import FIGURES, SCENARIO  # noqa: E402


@pytest.fixture(scope="session")
def compiled():
    """The compiled reference scenario, with the kernel compiled (or loaded from the numba
    cache) by a small warm-up run on 1 and on 2 threads."""
    import simengine as se
    from simengine.compile import compile_scenario
    from simengine.engine.run import run

    cs = compile_scenario(se.load_scenario(SCENARIO))
    run(cs, 2, 0, threads=1)
    run(cs, 2, 0, threads=2)
    return cs


@pytest.fixture(scope="session")
def engine_out(compiled):
    """The engine's raw output of 4 draws (4 million prospects): the reference the peers must
    match within Monte Carlo error. The scenario has no per-draw uncertainty, so the draws
    pool into one sample of independent prospects."""
    from simengine.engine.run import run

    return run(compiled, 4, 2024).out


@pytest.fixture(scope="session")
def engine_reference(engine_out):
    """The tally of :func:`engine_out` (see ``peers.engine_tally``)."""
    import peers

    return peers.engine_tally(engine_out)


def _fmt_rate(x: float) -> str:
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.1f} k"


def pytest_sessionstart(session):
    FIGURES["load_start"] = os.getloadavg()[0]


def pytest_terminal_summary(terminalreporter):
    f = FIGURES
    if not any(k.startswith(("engine_", "threads_", "peer_", "rss_")) for k in f):
        return  # none of the bench_funnel benchmarks ran
    w = terminalreporter.write_line
    w("")
    w(f"simengine figures ({SCENARIO.name}; best round; wall clock, and in brackets per second "
      "of process CPU time, which a busy machine does not inflate)")
    w(f"  load average     : {f.get('load_start', float('nan')):.1f} at the start, "
      f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores (above the core count, "
      "wall-clock rates and thread scaling are not this code's)")
    if "engine_s" in f:
        n, v = f["engine_prospects"], f["engine_visits"]
        w(f"  engine, 1 thread : {_fmt_rate(n / f['engine_s'])} prospects/s "
          f"({_fmt_rate(n / f['engine_cpu_s'])}), {_fmt_rate(v / f['engine_s'])} stage visits/s "
          f"({_fmt_rate(v / f['engine_cpu_s'])}) per core; {v / n:.2f} visits per prospect")
    if "threads_1_s" in f and "threads_2_s" in f:
        w(f"  thread scaling   : 1 -> 2 threads {f['threads_1_s'] / f['threads_2_s']:.2f}x "
          f"({_fmt_rate(f['threads_2_visits'] / f['threads_2_s'])} stage visits/s on 2 threads)")
    if "peer_engine_s" in f:
        eng = f["peer_engine_prospects"] / f["peer_engine_s"]
        eng_cpu = f["peer_engine_prospects"] / f["peer_engine_cpu_s"]
        w(f"  engine, 1 draw   : {_fmt_rate(eng)} prospects/s ({_fmt_rate(eng_cpu)})")
        for name, label in [("numpy", "NumPy, outputs"), ("numpytally", "NumPy, tally"),
                            ("simpy", "SimPy")]:
            if f"peer_{name}_s" in f:
                rate = f[f"peer_{name}_prospects"] / f[f"peer_{name}_s"]
                rate_cpu = f[f"peer_{name}_prospects"] / f[f"peer_{name}_cpu_s"]
                w(f"  {label:<16} : {_fmt_rate(rate)} prospects/s "
                  f"({_fmt_rate(rate_cpu)}); engine is {eng / rate:.1f}x faster "
                  f"({eng_cpu / rate_cpu:.1f}x)")
    sizes = sorted(int(k.split("_")[1]) for k in f if k.startswith("rss_"))
    if sizes:
        parts = [f"{n:.0e} prospects {f[f'rss_{n}'] / 2**20:.0f} MB" for n in sizes]
        w("  peak memory      : " + ", ".join(parts) + " (whole process, one draw)")
