"""Dump or compare every output of the kernels on three scenarios (not a pytest module).

    PYTHONPATH=<tree> python benchmarks/kernel_bits.py dump REF.npz      # from the reference tree
    PYTHONPATH=<tree> python benchmarks/kernel_bits.py check REF.npz     # from the changed tree

Counts (won, arrivals, entered, exits, pipeline, reached, open at the end, pool waits and
abandonments, ...) must be bit-identical; sums of continuous values (revenue, times, areas) may
differ in the last bits from the order of addition, so they are compared to 1e-9 relative.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from simengine.compile import compile_scenario
from simengine.engine.chunks import simulate_draws
from simengine.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
RUNS = {"baseline": 64, "bench_funnel": 4, "bench_capacity": 3, "stress": 16,
        "hiring_freeze": 16}
SUMS = {"revenue", "pipeline_value", "revenue_by_campaign", "revenue_by_segment", "stage_time",
        "cycle_time_sum", "wait_sum", "busy_area", "queue_area", "trace"}


def outputs() -> dict[str, np.ndarray]:
    res = {}
    for name, draws in RUNS.items():
        cs = compile_scenario(load_scenario(ROOT / "scenarios" / f"{name}.yaml"))
        r = simulate_draws(cs, 11, 0, draws, trace=50)
        for k, v in r.out._asdict().items():
            res[f"{name}.{k}"] = v
        if r.pools is not None:
            for k, v in r.pools._asdict().items():
                res[f"{name}.pool.{k}"] = v
    return res


def main() -> int:
    mode, path = sys.argv[1], sys.argv[2]
    res = outputs()
    if mode == "dump":
        np.savez_compressed(path, **res)
        print(f"wrote {len(res)} arrays to {path}")
        return 0
    ref = np.load(path)
    bad = 0
    for k in sorted(set(ref.files) | set(res)):
        if k not in ref.files or k not in res:
            print(f"MISSING {k}")
            bad += 1
            continue
        a, b = ref[k], res[k]
        field = k.rsplit(".", 1)[1]
        if field in SUMS:
            ok = a.shape == b.shape and np.allclose(a, b, rtol=1e-9, atol=1e-9)
        else:
            ok = a.shape == b.shape and np.array_equal(a, b)
        if not ok:
            bad += 1
            diff = np.abs(a - b).max() if a.shape == b.shape else "shape"
            print(f"DIFF {k}: max abs difference {diff}")
    print(f"{len(res)} arrays, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
