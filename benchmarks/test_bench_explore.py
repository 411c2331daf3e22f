"""Update latency of the what-if explorer on the baseline: a benchmark, not a test.

An *update* is a lever moved -> the new numbers on screen. The explorer simulates the default
625 draws (the standard error of P(goal) is then at most 2 points) on common random numbers in
two stages: a first look at 128 draws, then all 625. Measured here, on 2 threads:

- ``engine``: the re-simulation and the page update (tiles and figure data), without a browser:
  seconds to the first look and to all draws, wall clock and process CPU. On a machine shared
  with other jobs the wall clock includes waiting for a core; CPU seconds / 2 is what the same
  update takes on two idle cores.
- ``browser``: a key press on the budget slider in headless chromium -> the first look and the
  final numbers on the page (skipped without chromium).

Checks: the staged result is bit for bit one run of the moved scenario, and
P(goal)'s standard error is at most 2 points. Run with
``pytest benchmarks/test_bench_explore.py --benchmark-only -s`` to see the figures.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from bench_common import FIGURES, ROOT

import simengine as se
from simengine.explore.session import DEFAULT_DRAWS, FIRST_LOOK, Explorer

BASELINE = ROOT / "scenarios" / "baseline.yaml"
BUDGET = "campaigns.webinar-series.volume.budget"
THREADS = 2
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def explorer():
    ex = Explorer(BASELINE, draws=DEFAULT_DRAWS, seed=0, threads=THREADS)
    ex.reference()  # JIT compile and the scenario as loaded, outside every timed region
    return ex


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


@pytest.mark.benchmark(group="explore update")
def test_update_engine(benchmark, explorer):
    from simengine.explore.app import Page

    page = Page(explorer)  # its runner shows the scenario as loaded; then we drive it by hand
    assert page.runner.wait_idle(600)
    budgets = itertools.cycle([260_000.0, 300_000.0, 340_000.0])
    marks: list[tuple[float, float, float, float]] = []

    def update():
        values = {BUDGET: next(budgets)}
        t0, c0 = time.perf_counter(), time.process_time()
        first = None
        for o in explorer.evaluate(values):
            page._show(page.runner.generation, o)
            if first is None:
                first = (time.perf_counter() - t0, time.process_time() - c0)
        marks.append((*first, time.perf_counter() - t0, time.process_time() - c0))
        return values, o

    try:
        values, o = benchmark.pedantic(update, rounds=3, iterations=1)
    finally:
        page.runner.close(5)
    # the update is what one plain run of the moved scenario gives, and precise enough
    ds = se.simulate(explorer.scenario_with(values), draws=DEFAULT_DRAWS, seed=0,
                     progress=False, threads=THREADS)
    np.testing.assert_array_equal(o.bookings, ds.revenue.sum("period").values)
    assert o.draws == DEFAULT_DRAWS and o.p_goal_se <= 0.02 + 1e-12
    assert "data-state=\"final\"" in page.status.object
    best = [min(m[k] for m in marks) for k in range(4)]
    FIGURES.update(explore_first_s=best[0], explore_first_cpu=best[1], explore_final_s=best[2],
                   explore_final_cpu=best[3])
    benchmark.extra_info.update(first_look_s=best[0], final_s=best[2], first_look_cpu=best[1],
                                final_cpu=best[3], draws=DEFAULT_DRAWS, threads=THREADS)
    print(f"\nexplore update, baseline, {DEFAULT_DRAWS} draws on {THREADS} threads ({_load()}):"
          f"\n  first look ({FIRST_LOOK} draws): {best[0]:.2f} s wall, {best[1]:.2f} s CPU "
          f"(~{best[1] / THREADS:.2f} s on {THREADS} idle cores)"
          f"\n  all {DEFAULT_DRAWS} draws      : {best[2]:.2f} s wall, {best[3]:.2f} s CPU "
          f"(~{best[3] / THREADS:.2f} s on {THREADS} idle cores)"
          f"\n  P(goal) {o.p_goal:.1%} ± {o.p_goal_se:.1%}, change {o.d_p_goal * 100:+.1f} "
          f"points ± {o.d_p_goal_se * 100:.1f} (paired)")


@pytest.mark.benchmark(group="explore update")
def test_update_in_the_browser(benchmark, explorer):
    exe = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        exe = None
    if exe is None:
        pytest.skip("no chromium / playwright: the browser half of the benchmark is skipped")
    from simengine.explore.server import access, serve

    acc = access("127.0.0.1", 0)
    server = serve(explorer, acc, threaded=True)
    marks: list[tuple[float, float]] = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", acc.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=BROWSER_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.goto(acc.url, wait_until="load")
                page.wait_for_selector("#status[data-state=final]", timeout=600_000)
                handle = page.locator(".noUi-handle").first  # the webinar budget
                handle.focus()

                def update():
                    gen = int(page.locator("#status").get_attribute("data-generation"))
                    t0 = time.perf_counter()
                    page.keyboard.press("ArrowRight")
                    page.wait_for_selector(
                        f"#tiles:not([data-generation='{gen}'])", timeout=600_000)
                    first = time.perf_counter() - t0
                    page.wait_for_selector(
                        f"#tiles[data-state=final]:not([data-generation='{gen}'])",
                        timeout=600_000)
                    marks.append((first, time.perf_counter() - t0))

                benchmark.pedantic(update, rounds=3, iterations=1)
                text = page.locator("#p-goal").inner_text()
            finally:
                browser.close()
    finally:
        server.stop()
    assert text.endswith("%")
    first, final = min(m[0] for m in marks), min(m[1] for m in marks)
    FIGURES.update(explore_browser_first_s=first, explore_browser_final_s=final)
    benchmark.extra_info.update(first_look_s=first, final_s=final)
    print(f"\nexplore in chromium ({_load()}): key press -> first look on screen {first:.2f} s, "
          f"-> all {DEFAULT_DRAWS} draws on screen {final:.2f} s")
