"""What the benchmark modules share besides fixtures: paths, the figures registry, helpers.

A plain module on ``sys.path`` (conftest puts this folder there), so that the conftest and the
test modules see one and the same :data:`FIGURES` dict.
"""

from __future__ import annotations

import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIO = ROOT / "scenarios" / "bench_funnel.yaml"

FIGURES: dict[str, float] = {}


def best_seconds(benchmark) -> float | None:
    """Fastest round of a finished benchmark (None when benchmarks are disabled)."""
    stats = getattr(benchmark, "stats", None)
    return None if stats is None else stats.stats.min


def visits(out) -> float:
    """Stage visits of a raw result: every visit either exits its stage or is open at the end."""
    return float(out.stage_exits.sum() + out.open_at_end.sum())


def prospects(out) -> float:
    return float(out.arrivals.sum() + out.initial.sum())


class CpuTimed:
    """``fn`` that also remembers the least process CPU time of its calls.

    For a one-thread run this is the per-core cost even on a machine shared with other jobs,
    where wall-clock time includes waiting for a core.
    """

    def __init__(self, fn):
        self.fn = fn
        self.best = float("inf")

    def __call__(self, *args, **kwargs):
        c0 = time.process_time()
        result = self.fn(*args, **kwargs)
        self.best = min(self.best, time.process_time() - c0)
        return result
