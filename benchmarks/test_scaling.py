"""Thread scaling 1 -> 2 threads: draws run in parallel (prange), one draw per thread at a time.
The results must be bitwise identical whatever the number of threads."""

from __future__ import annotations

import numpy as np
import pytest
from bench_common import FIGURES, best_seconds, visits

from simengine.engine.run import run

DRAWS = 8  # 4 draws per thread on 2 threads
_results = {}


@pytest.mark.parametrize("threads", [1, 2])
def test_threads(benchmark, compiled, threads):
    benchmark.group = "scaling: bench_funnel, 8 draws"
    raw = benchmark.pedantic(run, args=(compiled, DRAWS, 11), kwargs={"threads": threads},
                             rounds=3, iterations=1)
    _results[threads] = raw.out
    if len(_results) == 2:
        for a, b, name in zip(_results[1], _results[2], raw.out._fields, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{name} differs between 1 and 2 threads")
    if (s := best_seconds(benchmark)) is not None:
        FIGURES[f"threads_{threads}_s"] = s
        FIGURES[f"threads_{threads}_visits"] = visits(raw.out)
        benchmark.extra_info["visits_per_s"] = visits(raw.out) / s
