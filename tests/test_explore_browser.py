"""End to end in a real browser: ``simengine explore`` in a subprocess, Playwright driving Debian's
chromium (``.ci/run`` installs it; here the test skips without it, but CI always runs it).

It opens the page, waits for the scenario as loaded, moves the webinar budget lever with the
keyboard, waits for the new result and checks that P(goal) changed, that the change against the
loaded scenario is shown, that no request left this machine, and takes a screenshot.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
BUDGET_LOADED, BUDGET_MAX = 240_000.0, 720_000.0  # webinar-series budget, its slider's end
DRAWS = 96  # small: a test, not a benchmark (CI's two cores are shared)
START_TIMEOUT = 300  # the first start may compile the kernels


@pytest.fixture
def chromium() -> str:
    """The browser's path; skip without it (or without playwright / panel), fail in CI."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[test]')"
    try:
        import panel  # noqa: F401
    except ImportError:
        missing = missing or "panel is not installed (pip install -e '.[test]')"
    exe = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if missing is None and exe is None:
        missing = "no chromium at /usr/bin/chromium (apt-get install -y chromium; .ci/run does)"
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the browser test, but {missing}")
        pytest.skip(f"browser test skipped: {missing}")
    return exe


@pytest.fixture
def app():
    """``simengine explore scenarios/baseline.yaml`` on a free port; yields its address."""
    from simengine.explore.server import free_port

    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "simengine.cli", "explore", "scenarios/baseline.yaml",
         "--port", str(port), "--draws", str(DRAWS)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
    reader.start()
    seen, url = [], None
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line)
            m = re.search(r"open (http://\S+)", line)
            url = m.group(1) if m else None
        assert url, f"the explorer did not print its address:\n{''.join(seen)}"
        assert url == f"http://127.0.0.1:{port}/"  # loopback by default, no token
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl+C does
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("the explorer did not stop on Ctrl+C")
        finally:
            reader.join(10)
            proc.stdout.close()


def _state(page) -> tuple[str, int]:
    el = page.locator("#status")
    return el.get_attribute("data-state"), int(el.get_attribute("data-generation"))


def test_move_budget_lever_and_see_p_goal_change(chromium, app, tmp_path):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    errors: list[str] = []

    def only_this_machine(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "blob:", "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.route("**/*", only_this_machine)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(app, wait_until="load")
            page.wait_for_selector("#status[data-state=final]", timeout=120_000)
            before = page.locator("#p-goal").inner_text()
            assert re.fullmatch(r"\d+\.\d\s%", before), before
            assert page.locator("#d-p-goal").inner_text() == "none"
            _, gen = _state(page)

            # the webinar budget's slider: move it to its end with the keyboard
            handles = page.locator(".noUi-handle")
            attrs = handles.evaluate_all(
                "hs => hs.map(h => [h.getAttribute('aria-valuenow'), "
                "h.getAttribute('aria-valuemax')])")
            i = next(k for k, (now, top) in enumerate(attrs)
                     if float(now) == BUDGET_LOADED and float(top) == BUDGET_MAX)
            handle = handles.nth(i)
            handle.focus()
            t0 = time.perf_counter()
            page.keyboard.press("End")
            page.wait_for_selector(
                f"#status[data-state=final]:not([data-generation='{gen}'])", timeout=120_000)
            seconds = time.perf_counter() - t0
            assert float(handle.get_attribute("aria-valuenow")) == BUDGET_MAX
            after = page.locator("#p-goal").inner_text()
            change = page.locator("#d-p-goal").inner_text()
            moved = page.locator(".changes").inner_text()
            shot = tmp_path / "explore.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"\nP(goal) {before} -> {after} ({change}) {seconds:.1f} s after the key press "
          f"({DRAWS} draws)")
    assert after != before
    assert re.fullmatch(r"[+-]\d+\.\d points", change), change
    assert "webinar-series budget $240k → $720k" in moved
    assert outside == []
    assert errors == []
    assert shot.stat().st_size > 50_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_token_guards_the_page_and_its_websocket(chromium):
    """Off loopback the explorer needs its token: the page refuses a visit without it; with
    it the page loads and its websocket (which carries no token in its address) connects."""
    from playwright.sync_api import sync_playwright

    from simengine.explore.server import Access, free_port, serve
    from simengine.explore.session import Explorer

    ex = Explorer(ROOT / "scenarios" / "baseline.yaml", draws=24, seed=0)
    acc = Access("127.0.0.1", free_port(), "t0ken-for-the-test")  # as --host would require
    server = serve(ex, acc, threaded=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
            try:
                page = browser.new_page()
                for _ in range(100):  # the server thread starts listening
                    try:
                        refused = page.goto(f"http://127.0.0.1:{acc.port}/", wait_until="load")
                        break
                    except Exception:  # noqa: BLE001 - connection refused while starting
                        time.sleep(0.1)
                assert refused.status == 403
                assert "needs the token" in page.inner_text("body")
                assert page.goto(acc.url, wait_until="load").status == 200
                page.wait_for_selector("#status[data-state=final]", timeout=120_000)
                assert page.locator("#p-goal").inner_text().endswith("%")
            finally:
                browser.close()
    finally:
        server.stop()
