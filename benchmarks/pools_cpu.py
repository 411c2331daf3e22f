"""CPU seconds of the baseline with and without its pools, against bench_funnel (not pytest).

    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/pools_cpu.py

One thread, one process, the kernels compiled before the timed rounds; each figure is the best
of ``ROUNDS`` (default 3) rounds in process CPU seconds. Printed: the pooled baseline (625
draws, the capacity path), the same scenario with its pools removed (no ``pools:``, no stage
``worked_by`` / ``patience``: the fast path), their ratio, the pooled run's CPU beyond the
pool-free run's per pooled visit (a visit that took a rep's slot), bench_funnel's prospects per
CPU-second (4 draws) and the pool-free baseline's as a fraction of it; then where the pooled
and pool-free runs spend their time (parameter sampling, ``prepare``, pool capacity, kernel).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import yaml

from simengine.compile import compile_scenario
from simengine.engine import chunks as engine_run
from simengine.engine.chunks import simulate_draws
from simengine.scenario import load_scenario
from simengine.scenario.loader import validate

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 64


def pool_free(path: Path):
    """The scenario of ``path`` with its pools stripped: every stage as its own dwell."""
    raw = yaml.safe_load(path.read_text())
    raw.pop("pools", None)
    for st in raw.get("stages", []):
        st.pop("worked_by", None)
        st.pop("patience", None)
    for c in raw.get("campaigns", []):
        c.pop("priority", None)
    return validate(raw)


def cpu(cs, draws: int, rounds: int, seed: int = 7) -> tuple[float, float, float,
                                                              dict[str, float]]:
    """Best CPU seconds of ``rounds`` runs of ``draws`` draws in chunks, prospects and pooled
    visits (those that took a rep's slot) per run, and the split of the best round's time between
    the stages of ``simulate_draws``."""
    simulate_draws(cs, 1, 0, 2)
    best, prospects, visits, split = float("inf"), 0.0, 0.0, {}
    for _ in range(rounds):
        parts = {"sample": 0.0, "prepare": 0.0, "pool_draws": 0.0, "kernel": 0.0}
        wrapped = {}
        for mod_name, key in (("sample_params", "sample"), ("prepare", "prepare"),
                              ("pool_draws", "pool_draws"), ("simulate_chunk", "kernel"),
                              ("simulate_capacity_chunk", "kernel")):
            fn = getattr(engine_run, mod_name)
            wrapped[mod_name] = fn

            def timed(*a, _fn=fn, _key=key, _parts=parts, **kw):
                c0 = time.process_time()
                try:
                    return _fn(*a, **kw)
                finally:
                    _parts[_key] += time.process_time() - c0
            setattr(engine_run, mod_name, timed)
        try:
            c0 = time.process_time()
            prospects = visits = 0.0
            for lo in range(0, draws, CHUNK):
                r = simulate_draws(cs, seed, lo, min(lo + CHUNK, draws))
                prospects += float(r.out.arrivals.sum() + r.out.initial.sum())
                if r.pools is not None:
                    visits += float(r.pools.wait_n.sum())
            sec = time.process_time() - c0
        finally:
            for k, fn in wrapped.items():
                setattr(engine_run, k, fn)
        if sec < best:
            best, split = sec, dict(parts, total=sec)
    return best, prospects, visits, split


def main() -> None:
    rounds = int(os.environ.get("ROUNDS", 3))
    base = ROOT / "scenarios" / "baseline.yaml"
    runs = [("baseline, pooled", compile_scenario(load_scenario(base)), 625),
            ("baseline, pool-free", compile_scenario(pool_free(base)), 625),
            ("bench_funnel", compile_scenario(load_scenario(ROOT / "scenarios"
                                                            / "bench_funnel.yaml")), 4)]
    res = {}
    for label, cs, draws in runs:
        sec, n, visits, split = cpu(cs, draws, rounds)
        res[label] = (sec, n, visits)
        other = split["total"] - sum(v for k, v in split.items() if k != "total")
        print(f"{label:20s} {sec:7.3f} CPU s  {n / 1e6:6.2f} M prospects  "
              f"{n / sec / 1e6:6.2f} M prospects/CPU s   [sample {split['sample']:.3f}, "
              f"prepare {split['prepare']:.3f}, pool capacity {split['pool_draws']:.3f}, "
              f"kernel {split['kernel']:.3f}, other {other:.3f}]", flush=True)
    pooled, free = res["baseline, pooled"], res["baseline, pool-free"]
    funnel = res["bench_funnel"]
    print(f"pooled / pool-free CPU: {pooled[0] / free[0]:.2f}x (bar 1.6, goal 1.25)")
    print(f"pooled visits: {pooled[2] / 1e6:.2f} M; the pooled run's CPU beyond the pool-free "
          f"run's: {(pooled[0] - free[0]) / pooled[2] * 1e9:.0f} ns a pooled visit")
    print(f"pool-free prospects/CPU s vs bench_funnel: "
          f"{(free[1] / free[0]) / (funnel[1] / funnel[0]):.2f} (bar 0.5, goal 0.8)")
    np.seterr(all="ignore")


if __name__ == "__main__":
    main()
