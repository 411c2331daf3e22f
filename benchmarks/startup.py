"""Start-up cost of the ``simengine`` command, in CPU seconds of the child process.

    python benchmarks/startup.py [--rounds 5]

Times ``simengine --version``, ``simengine validate scenarios/baseline.yaml`` and ``simengine
plot`` of a saved result (fan and funnel), each in a new interpreter, and prints the best and
the median round with the targets (validate under 1 s, a plot under 2 s). The saved result is
made first (200 draws, not timed). CPU time, not wall time: the machine is shared, and the
neighbours' load lengthens wall time but not the CPU time this process spends. Not a test: the
figures depend on the machine and on what is installed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def _cpu_of(argv: list[str], env: dict[str, str]) -> float:
    """CPU seconds (user + system) that the command ``argv`` spends, children included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds of each command (default 5)")
    a = ap.parse_args()
    env = dict(os.environ, MPLBACKEND="Agg")
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    cli = [sys.executable, "-m", "simengine.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "baseline.nc"
        subprocess.run([*cli, "run", str(BASELINE), "-n", "200", "--seed", "1", "-o",
                        str(result), "--no-progress"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        cases = [
            ("simengine --version", ["--version"], None),
            ("simengine validate baseline.yaml", ["validate", str(BASELINE)], 1.0),
            ("simengine plot (fan)", ["plot", str(result), "-o", f"{tmp}/fan.png"], 2.0),
            ("simengine plot --kind funnel",
             ["plot", str(result), "--kind", "funnel", "-o", f"{tmp}/funnel.png"], 2.0),
        ]
        _cpu_of([*cli, "--version"], env)  # warm the file cache
        print(f"{'command':<36}{'best':>8}{'median':>9}{'target':>9}   (CPU seconds, "
              f"{a.rounds} rounds, load average {os.getloadavg()[0]:.1f})")
        for label, args, target in cases:
            times = [_cpu_of([*cli, *args], env) for _ in range(a.rounds)]
            goal = f"< {target:g}" if target else ""
            print(f"{label:<36}{min(times):>8.2f}{statistics.median(times):>9.2f}{goal:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
