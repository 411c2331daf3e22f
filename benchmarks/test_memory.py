"""Peak memory of one draw with 10^6, 10^7 and 10^8 prospects, each in a fresh process.

Nothing is stored per prospect, so the peak must not grow with the number of prospects: the
test fails if 10^7 or 10^8 prospects need more than 64 MB over 10^6 (10^7 prospects stored as
a single float64 each would already take 80 MB). The figure reported is the whole process
(Python, numpy, numba, xarray and the kernel), read from VmHWM in /proc/self/status.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from bench_common import FIGURES, ROOT, SCENARIO

GROWTH_LIMIT = 64 * 2**20

CHILD = r"""
import json, resource, sys, time
import simengine as se
from simengine.scenario.model import LeadsVolume

n = float(sys.argv[2])
sc = se.load_scenario(sys.argv[1])
total = sum(c.volume.leads.value for c in sc.campaigns)
over = {f"campaigns.{c.name}.volume.leads": c.volume.leads.value * n / total
        for c in sc.campaigns if isinstance(c.volume, LeadsVolume)}
sc = se.load_scenario(sys.argv[1], over)
t = time.perf_counter()
ds = se.simulate(sc, draws=1, seed=5, progress=False, threads=1)
seconds = time.perf_counter() - t
hwm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
           if line.startswith("VmHWM:"))
print(json.dumps({"peak_bytes": hwm, "seconds": seconds, "prospects": int(ds.attrs["prospects"]),
                  "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

_peaks: dict[int, dict] = {}


def peak(n: int) -> dict:
    """Run one draw of ``n`` expected prospects in a new interpreter; its peak memory."""
    proc = subprocess.run([sys.executable, "-c", CHILD, str(SCENARIO), str(n)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    _peaks[n] = json.loads(proc.stdout.strip().splitlines()[-1])
    return _peaks[n]


@pytest.mark.parametrize("n", [10**6, 10**7, 10**8], ids=["1e6", "1e7", "1e8"])
def test_peak_memory(benchmark, compiled, n):
    benchmark.group = "memory: one draw in a new process (time includes start-up)"
    res = benchmark.pedantic(peak, args=(n,), rounds=1, iterations=1)
    assert abs(res["prospects"] - n) < 6 * n**0.5
    FIGURES[f"rss_{n}"] = res["peak_bytes"]
    benchmark.extra_info.update(res)
    if n > 10**6:
        base = _peaks.get(10**6) or peak(10**6)
        growth = res["peak_bytes"] - base["peak_bytes"]
        assert growth < GROWTH_LIMIT, (
            f"peak memory grew by {growth / 2**20:.0f} MB from 1e6 to {n:.0e} prospects")
