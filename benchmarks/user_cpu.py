"""CPU seconds of what users wait for, on the baseline (not a pytest module).

    .venv/bin/python benchmarks/user_cpu.py [explore tornado run capacity]

Process CPU seconds (``time.process_time``), which a machine shared with other jobs does not
inflate; on two idle cores a two-thread job takes about half of it in wall time. Each figure is
one call after a warm-up that compiles the kernels:

- ``explore``: the explorer's re-simulation after the budget slider moves (625 draws on two
  threads, first look at 128 then all; without the page update), best of 3;
- ``tornado``: the 10-factor tornado of ``test_bench_analysis.py`` (21 runs of 1,000 draws);
- ``run``: ``make run``'s simulation, 1,000 draws of the baseline, seed 42 (no files);
- ``capacity``: bench_capacity at full size, 2 draws on one thread, best of 3, as prospects per
  CPU-second (the figure the SimPy and Ciw ratios of ``test_bench_capacity.py`` are made of).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import simengine as se

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def cpu(fn) -> float:
    c0 = time.process_time()
    fn()
    return time.process_time() - c0


def explore() -> None:
    from simengine.explore.session import DEFAULT_DRAWS, Explorer

    ex = Explorer(BASELINE, draws=DEFAULT_DRAWS, seed=0, threads=2)
    budget = "campaigns.webinar-series.volume.budget"
    values = iter(np.linspace(250_000, 400_000, 8))
    list(ex.evaluate({budget: 240_000}))  # compile and settle

    best = min(cpu(lambda: list(ex.evaluate({budget: float(next(values))}))) for _ in range(3))
    print(f"explore update (625 draws, 2 threads): {best:.2f} CPU s", flush=True)


def tornado() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from test_bench_analysis import TEN

    sc = se.load_scenario(BASELINE)
    se.simulate(sc, draws=4, seed=0, progress=False)
    sec = cpu(lambda: se.sensitivity(sc, "tornado", TEN, draws=1000, seed=1))
    print(f"tornado, 10 factors x 1,000 draws: {sec:.1f} CPU s", flush=True)


def run() -> None:
    sc = se.load_scenario(BASELINE)
    se.simulate(sc, draws=4, seed=0, progress=False)
    sec = cpu(lambda: se.simulate(sc, draws=1000, seed=42, progress=False))
    print(f"make run's simulation (1,000 draws): {sec:.2f} CPU s", flush=True)


def capacity() -> None:
    sc = se.load_scenario(ROOT / "scenarios" / "bench_capacity.yaml")
    se.simulate(sc, draws=2, seed=0, progress=False, threads=1)
    best, n = float("inf"), 0.0
    for seed in (100, 101, 102):
        c0 = time.process_time()
        ds = se.simulate(sc, draws=2, seed=seed, progress=False, threads=1)
        best = min(best, time.process_time() - c0)
        n = ds.attrs["prospects"]
    print(f"bench_capacity full size, 2 draws, 1 thread: {best:.2f} CPU s, "
          f"{n / best / 1e6:.2f} M prospects/CPU s", flush=True)


if __name__ == "__main__":
    for name in sys.argv[1:] or ["explore", "run", "capacity", "tornado"]:
        globals()[name]()
