"""Instructions and branch mispredictions of a chunk of the baseline, counted (not pytest).

    .venv/bin/python benchmarks/instructions.py [pooled|free] [--cpu NAME]

The machine is shared and its CPU seconds move by 20-30 % from one run to the next, more than
most kernel changes save. Valgrind's cachegrind counts instead, and the load does not move a
count: repeated runs of the same tree agree within about 0.5 % (the Python around the kernels
varies a little, I expect). Printed for one chunk of 64 baseline draws on one thread,
with its pools (``pooled``, the capacity path) or without (``free``, the fast path; see
``pools_cpu.pool_free``): instructions executed, conditional branches, and the mispredictions
of cachegrind's simulated branch predictor (a simple one: the count ranks changes, it is not
the CPU's own).

How: the kernels are compiled natively for a named CPU (``--cpu``, default ``haswell``, AVX2:
valgrind runs no AVX-512) into a numba cache of their own; then two runs under cachegrind, of
one chunk and of three, load that cache and the difference, halved, is one chunk with the
start-up taken off. A chunk takes about a minute and a half under valgrind; the compile about
four minutes the first time. Needs ``valgrind`` (Debian's package).

To compare two versions of the kernels, run this in a worktree of each: the numba cache is
kept per source tree.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 64
# what the compiled code may use, written out: numba keys its cache on the CPU's features, and
# valgrind reports fewer than the host has, so the host's own would not be found under it
FEATURES = {
    "haswell": "+avx,+avx2,+fma,+bmi,+bmi2,+popcnt,+sse4.2,+lzcnt,+movbe,+f16c,+cx16",
    "generic": "",
}

# the run that is counted: one warm-up draw, then ``chunks`` chunks of 64 draws
RUN = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from benchmarks.pools_cpu import pool_free
from simengine.compile import compile_scenario
from simengine.engine.chunks import simulate_draws
from simengine.scenario import load_scenario
base = Path({root!r}) / "scenarios" / "baseline.yaml"
cs = compile_scenario(pool_free(base) if {which!r} == "free" else load_scenario(base))
simulate_draws(cs, 1, 0, 2)
for j in range({chunks}):
    simulate_draws(cs, 7, {chunk} * j, {chunk} * (j + 1))
"""

# cachegrind's totals; of branches and mispredictions, the conditional ones (the indirect ones
# are mostly the Python interpreter's)
COUNTS = {
    "instructions": r"I\s+refs:\s+([\d,]+)",
    "cond. branches": r"Branches:\s+[\d,]+\s+\(\s*([\d,]+) cond",
    "mispredicted": r"Mispredicts:\s+[\d,]+\s+\(\s*([\d,]+) cond",
}


def environment(cpu: str) -> dict[str, str]:
    """One thread, code for ``cpu``, and a numba cache for this tree and CPU."""
    tree = hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    env = dict(os.environ, NUMBA_NUM_THREADS="1", NUMBA_CPU_NAME=cpu,
               NUMBA_CACHE_DIR=str(Path(tempfile.gettempdir()) / f"simengine-cg-{cpu}-{tree}"),
               PYTHONPATH=str(ROOT))
    if FEATURES[cpu]:
        env["NUMBA_CPU_FEATURES"] = FEATURES[cpu]
    return env


def counted(which: str, chunks: int, env: dict[str, str]) -> dict[str, int]:
    """Cachegrind's totals for a run of ``chunks`` chunks."""
    code = RUN.format(root=str(ROOT), which=which, chunks=chunks, chunk=CHUNK)
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--branch-sim=yes",
             f"--cachegrind-out-file={tmp}/cg.out", sys.executable, "-c", code],
            env=env, capture_output=True, text=True, check=True).stderr
    return {name: int(re.search(pattern, out).group(1).replace(",", ""))
            for name, pattern in COUNTS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", default="pooled", choices=["pooled", "free"])
    parser.add_argument("--cpu", default="haswell", choices=sorted(FEATURES))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("instructions.py: valgrind is not installed (apt install valgrind)")
    env = environment(args.cpu)
    # compiled natively first: numba compiling under valgrind would take hours
    subprocess.run([sys.executable, "-c", RUN.format(root=str(ROOT), which=args.which,
                                                      chunks=0, chunk=CHUNK)],
                   env=env, check=True)
    one, three = counted(args.which, 1, env), counted(args.which, 3, env)
    print(f"{args.which} baseline, one chunk of {CHUNK} draws, code for {args.cpu}:")
    for name in COUNTS:
        print(f"  {name:14s} {(three[name] - one[name]) / 2e6:10,.1f} M")


if __name__ == "__main__":
    main()
