"""Prospects and stage visits per second per core on the reference funnel (one thread)."""

from __future__ import annotations

import numpy as np
from bench_common import FIGURES, CpuTimed, best_seconds, prospects, visits

from simengine.engine.run import run

DRAWS = 4  # about 4 million prospects, 7.6 million stage visits


def test_engine_one_thread(benchmark, compiled):
    benchmark.group = "throughput: bench_funnel, 1 thread, 4 draws"
    timed = CpuTimed(run)
    raw = benchmark.pedantic(timed, args=(compiled, DRAWS, 7), kwargs={"threads": 1},
                             rounds=5, iterations=1)
    out = raw.out
    # every prospect is accounted for, in every draw (conservation)
    ends = (out.won.sum(axis=1) + out.exited_lost.sum(axis=(1, 2))
            + out.exited_no_decision.sum(axis=(1, 2)) + out.open_at_end.sum(axis=1))
    np.testing.assert_array_equal(ends, out.arrivals.sum(axis=(1, 2)) + out.initial.sum(axis=1))
    benchmark.extra_info.update(prospects=prospects(out), visits=visits(out))
    if (s := best_seconds(benchmark)) is not None:
        FIGURES.update(engine_s=s, engine_cpu_s=timed.best, engine_prospects=prospects(out),
                       engine_visits=visits(out))
        benchmark.extra_info.update(prospects_per_s=prospects(out) / s,
                                    visits_per_s=visits(out) / s,
                                    visits_per_cpu_s=visits(out) / timed.best)
