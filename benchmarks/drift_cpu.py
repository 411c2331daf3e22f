"""CPU seconds of one-thread runs with and without drift entries (not a pytest module).

    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/drift_cpu.py

Runs bench_funnel (8 draws) and the baseline (625 draws) without drift, with two drift entries
whose sd is 0 (the drift code paths, identical results: their pure cost) and with two real
drift entries; prints the best of a few rounds in process CPU seconds and prospects per
CPU-second. Compilation happens before the timed rounds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from simengine.compile import compile_scenario
from simengine.engine.chunks import simulate_draws
from simengine.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
RUNS = {
    "bench_funnel": (8, "stages.mql.next.sal", "campaigns.paid-search.volume.leads",
                     "random_walk, sd: {s}, by: period"),
    "baseline": (625, "stages.mql.next.sal", "campaigns.webinar-series.volume.budget",
                 "local_trend, sd: {s}, trend: {t}"),
}


def _drift(first: str, second: str, model: str, on: bool) -> list[str]:
    s, t = ("0.1", "0.02") if on else ("0", "0")
    return [f"drift=[{{param: {first}, model: ar1, sd: {0.3 if on else 0}, phi: 0.6}}, "
            f"{{param: {second}, model: {model.format(s=s, t=t)}}}]"]


def cpu(name: str, draws: int, sets: list[str], rounds: int) -> tuple[float, float]:
    cs = compile_scenario(load_scenario(ROOT / "scenarios" / f"{name}.yaml", sets or None))
    simulate_draws(cs, 1, 0, 2)
    best, prospects = float("inf"), 0.0
    for _ in range(rounds):
        c0 = time.process_time()
        prospects = 0.0
        for lo in range(0, draws, 64):
            r = simulate_draws(cs, 7, lo, min(lo + 64, draws))
            prospects += float(r.out.arrivals.sum() + r.out.initial.sum())
        best = min(best, time.process_time() - c0)
    return best, prospects


def main() -> None:
    rounds = int(os.environ.get("ROUNDS", 3))
    for name, (draws, first, second, model) in RUNS.items():
        for label, sets in (("no drift", []), ("drift, sd 0", _drift(first, second, model, False)),
                            ("drift", _drift(first, second, model, True))):
            sec, n = cpu(name, draws, sets, rounds)
            print(f"{name:13s} {label:12s} {sec:7.3f} CPU s  {n / 1e6:6.2f} M prospects  "
                  f"{n / sec / 1e6:6.2f} M prospects/CPU s", flush=True)


if __name__ == "__main__":
    main()
