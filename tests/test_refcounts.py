"""The hot loops do not count references: numba's reference counting is the kernels' known trap.

An array that a loop rebinds, or that an inlined helper with a branch takes, gets an atomic
increment and decrement (``NRT_incref`` / ``NRT_decref``) at every use. Twice such counting
slipped in unseen and cost 10-16 % of the capacity path (a heap helper, then the sweep's
hand-over records). The LLVM IR shows it: these tests compile the kernels afresh in a
subprocess (numba does not keep the IR of cached code) and read which values are counted.

Checked are the event loop and the writer of the sweep's records. ``sweep.sweep`` itself is not:
it rightly counts references on its record arrays once a block, where it grows them, and on a
few output arrays when a deal is won, which its IR does not tell apart from counting per member.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import json, re, sys
    from pathlib import Path
    from simengine.compile import compile_scenario
    from simengine.engine.chunks import simulate_draws
    from simengine.kernels import capacity, sweep
    from simengine.scenario import load_scenario

    simulate_draws(compile_scenario(load_scenario(Path(sys.argv[1]))), 7, 0, 1)
    counted = {}
    for f in (capacity._events, sweep._hand_over):
        body = re.split(r"\\ndefine ", f.inspect_llvm(f.signatures[0]))[1]
        values = re.findall(r"call void @NRT_incref\\(ptr (?:noundef )?(?:nonnull )?([^)]*)\\)",
                            body)
        counted[f.__name__] = sorted({v for v in values if not v.startswith("%arg.")})
    print(json.dumps(counted))
""")


@pytest.mark.slow
def test_event_loop_and_hand_over_count_references_only_on_their_arguments(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "scenarios/baseline.yaml")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    counted = json.loads(run.stdout.strip().splitlines()[-1])
    # an argument is counted once on entry; anything else is counted inside the function
    assert counted == {"_events": [], "_hand_over": []}
