"""The HTML report: every section, nothing external, written atomically, drawn by a real browser."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

import simengine as se  # noqa: E402
from simengine.analysis.summary import annual  # noqa: E402
from simengine.cli import main  # noqa: E402
from simengine.errors import SimEngineError  # noqa: E402
from simengine.report import words as w  # noqa: E402
from simengine.report.document import check_path, render  # noqa: E402

ALWAYS = ["answer", "forecast", "distribution", "funnel", "campaigns", "assumptions",
          "provenance"]
ALL_FEATURES = Path(__file__).resolve().parent / "scenarios" / "all_features.yaml"
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ds():
    # a goal near the middle of the outcomes, so the chance of reaching it is neither 0 nor 1
    sc = se.load_scenario(ALL_FEATURES, ["goal.revenue=15e6"])
    return se.simulate(sc, draws=40, seed=7, progress=False)


@pytest.fixture(scope="module")
def page(ds, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "all_features.html"
    se.write_report(ds, path)
    return path


def with_pools(ds: xr.Dataset) -> xr.Dataset:
    """The capacity variables of a result with pools added by hand to a result without pools, with
    known answers: 'ae' is the busier pool and waits longer."""
    rng = np.random.default_rng(0)
    n, t = ds.sizes["draw"], ds.sizes["period"]
    pools = ["sdr", "ae"]
    dims3, dims2 = ("draw", "period", "pool"), ("draw", "pool")
    util = np.clip(rng.normal([0.7, 0.93], 0.08, (n, t, 2)), 0, 1)

    def var(dims, data, units, long_name):
        return dims, data, {"units": units, "long_name": long_name}

    return ds.assign_coords(pool=np.array(pools, dtype=object)).assign(
        utilization=var(dims3, util, "1", "busy slots / capacity"),
        capacity=var(dims3, np.broadcast_to([40.0, 25.0], (n, t, 2)).copy(), "slots",
                     "slots available"),
        headcount=var(dims3, np.broadcast_to([8.0, 25.0], (n, t, 2)).copy(), "reps", "reps"),
        abandoned=var(dims3, rng.poisson(3.0, (n, t, 2)).astype(float), "prospects",
                      "went cold while waiting"),
        queue_length=var(dims3, rng.gamma(2.0, [1.0, 5.0], (n, t, 2)), "prospects",
                         "prospects waiting for a rep"),
        queue_wait=var(dims2, rng.gamma(4.0, [0.5, 2.0], (n, 2)), "days",
                       "mean days waited for a rep"),
        waited_share=var(dims2, rng.uniform(0.1, 0.6, (n, 2)), "1", "share that waited"),
        pool_cost=var(dims2, np.broadcast_to([5e5, 6e6], (n, 2)).copy(), "USD", "cost"))


def with_scenarios(ds: xr.Dataset) -> xr.Dataset:
    """A `scenario` dimension as compare builds it (per-scenario goal, names and fingerprints;
    no single resolved scenario): a second scenario that books 10 % less in every draw, so the
    paired difference is known exactly."""
    cut = ds.copy()
    for v in ("revenue", "revenue_by_campaign"):
        cut[v] = ds[v] * 0.9
    both = xr.concat([ds, cut], dim=pd.Index(["base", "cut"], name="scenario"),
                     data_vars="all", coords="minimal", compat="override", join="exact",
                     combine_attrs="override")
    both = both.assign_coords(
        scenario_name=("scenario", np.array([ds.attrs["scenario"], "cut"], dtype=object)),
        scenario_sha256=("scenario", np.array(["a" * 64, "b" * 64], dtype=object)))
    both["goal"] = ("scenario", np.array([ds.attrs["goal"]] * 2))
    both.attrs = {k: v for k, v in ds.attrs.items()
                  if k not in ("scenario", "scenario_sha256", "scenario_json")}
    return both


def sections(html: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)">', html)


# --- what the page says -------------------------------------------------------------------------
def test_every_section_in_reading_order(page, ds):
    html = page.read_text()
    assert sections(html) == ALWAYS  # no pools and no scenario dim: those sections are left out
    g = se.prob_goal(ds)
    assert f"There is a <strong>{w.pct(g.p)} chance</strong> ({w.points(g.se)})" in html
    q5, q95 = np.quantile(annual(ds), [0.05, 0.95])
    assert f"<strong>{se.plot.money(q5)}</strong> and <strong>{se.plot.money(q95)}</strong>" \
        in html
    for path in map(str, ds.parameter.values):  # every uncertain parameter with its distribution
        assert f"<code>{path}</code>" in html
    assert ds.attrs["scenario_sha256"] in html and f"{ds.attrs['draws']:,}" in html


def test_no_external_reference(page):
    html = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(?!data:|#)", html)
    assert not re.search(r"<(script|iframe|object|embed|link(?![^>]*href=\"data:))", html)
    figs = re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(figs) == html.count("<img") >= 5
    for b64 in figs:  # inside each figure, only references to its own ids
        svg = base64.b64decode(b64).decode()
        refs = re.findall(r'(?:xlink:)?href="([^"]*)"', svg) + re.findall(r"url\(([^)]*)\)", svg)
        assert all(r.startswith("#") for r in refs), [r for r in refs if not r.startswith("#")]


def test_capacity_and_comparison_sections_render_when_present(ds):
    both = with_scenarios(with_pools(ds))
    html = render(both)
    assert sections(html) == ALWAYS[:5] + ["capacity", "comparison"] + ALWAYS[5:]
    cap = html.split('<section id="capacity">')[1].split("</section>")[0]
    busiest = "ae"  # utilisation drawn around 93 % against 70 % for sdr
    assert f"The busiest team is <strong>{busiest}</strong>" in cap
    comp = html.split('<section id="comparison">')[1].split("</section>")[0]
    diff = np.median(0.1 * np.asarray(annual(ds)))  # exactly 10 % less per draw
    assert f"<strong>cut</strong> books {w.amount(diff)} less than base" in comp
    assert "compares 2 scenarios" in html


def test_capacity_section_of_a_simulated_result_with_pools(tmp_path):
    pooled = se.simulate("scenarios/baseline.yaml", draws=12, seed=3, progress=False)
    assert "pool" in pooled.dims  # the shipped baseline has its SDR and AE pools
    html = render(pooled)
    assert sections(html) == ALWAYS[:5] + ["capacity"] + ALWAYS[5:]
    cap = html.split('<section id="capacity">')[1].split("</section>")[0]
    assert cap.count("<img") == 1 and all(f">{p}<" in cap for p in map(str, pooled.pool.values))


def test_without_goal_and_with_failed_draws(ds):
    d = ds.copy(deep=True)
    d.attrs["goal"] = float("nan")
    d["failed"][0] = 1
    for v in d.data_vars:
        if "draw" in d[v].dims and v != "failed" and d[v].dtype.kind == "f":
            d[v][{"draw": 0}] = np.nan
    d.attrs["failed_draws"] = 1
    html = render(d)
    assert "chance of reaching" not in html and "Checkpoints" in html
    assert "1 draws had impossible parameter values" in html
    assert f"{ds.sizes['draw'] - 1:,} simulated" in html


@pytest.mark.parametrize(("path", "message"), [
    ("r.pdf", r"r\.pdf: expected a report path ending in \.html, found '\.pdf'"),
    ("report", r"report: expected a report path ending in \.html, found 'no suffix'"),
])
def test_bad_report_path(tmp_path, path, message):
    with pytest.raises(SimEngineError, match=message):
        check_path(path)


def test_written_atomically(ds, tmp_path, monkeypatch):
    path = tmp_path / "sub" / "r.html"
    assert se.write_report(ds, path) == path and path.read_text().startswith("<!DOCTYPE html>")
    assert os.listdir(path.parent) == ["r.html"]
    before = path.read_text()

    def full_disk(_fd):  # fails after the page was written to the temporary file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        se.write_report(ds, path)
    assert path.read_text() == before and os.listdir(path.parent) == ["r.html"]


@pytest.mark.parametrize(("value", "fn", "expected"), [
    (0.437, w.pct, "44\u00a0%"), (0.034, w.pct, "3.4\u00a0%"), (0.0157, w.points,
                                                                "±\u00a01.6\u00a0points"),
    (1304.2, w.amount, "$1,304"), (912_000, w.amount, "$912k"), (25.1e6, w.amount, "$25.1M"),
    (0.9, w.odds, "9 in 10"),
    ({"dist": "triangular", "low": 30, "mode": 40, "high": 55}, lambda v: w.describe_dist(
        v, "days"), "triangular, 30\u00a0days to 55\u00a0days, most likely 40\u00a0days"),
    ({"dist": "beta", "mean": 0.6, "sd": 0.05}, lambda v: w.describe_dist(v, "share"),
     "beta, mean 60\u00a0%, sd 5.0\u00a0%"),
])
def test_words(value, fn, expected):
    assert fn(value) == expected


# --- command line -------------------------------------------------------------------------------
def test_cli_report_and_run_report(ds, tmp_path, capsys):
    zarr = se.save(ds, tmp_path / "r.zarr")
    assert main(["report", str(zarr), "-o", str(tmp_path / "z.html")]) == 0
    assert sections((tmp_path / "z.html").read_text()) == ALWAYS
    assert main(["report", str(zarr), "-o", str(tmp_path / "z.pdf")]) == 2
    assert main(["run", "tests/scenarios/all_features.yaml", "-n", "20", "--seed", "1",
                 "--report", str(tmp_path / "r.txt")]) == 2  # refused before simulating
    assert "expected a report path ending in .html" in capsys.readouterr().err
    assert main(["run", "tests/scenarios/all_features.yaml", "-n", "20", "--seed", "1",
                 "--no-progress", "--report", str(tmp_path / "run.html")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert sections((tmp_path / "run.html").read_text()) == ALWAYS
    assert not (tmp_path / "r.txt").exists() and not (tmp_path / "z.pdf").exists()


def test_report_command_smoke(ds, tmp_path):
    nc = se.save(ds, tmp_path / "r.nc")
    r = subprocess.run([sys.executable, "-m", "simengine.cli", "report", str(nc), "-o",
                        str(tmp_path / "r.html")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r.html").stat().st_size > 50_000


# --- a real browser -----------------------------------------------------------------------------
def _browser_or_skip():
    missing = None
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[test]')"
    if missing is None and not (CHROMIUM.exists() or shutil.which("chromium")):
        missing = "no chromium at /usr/bin/chromium (apt-get install -y chromium; .ci/run does)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test, but {missing}")
        pytest.skip(f"browser test skipped: {missing}")


def test_renders_in_headless_chromium(ds, tmp_path):
    """Loads without console errors or requests off the page, and draws every figure."""
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    path = tmp_path / "both.html"
    path.write_text(render(with_scenarios(with_pools(ds))))  # every section, pools and scenarios
    exe = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors, requests = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            figs = page.evaluate("""() => Array.from(document.images).map(i => {
                const r = i.getBoundingClientRect();
                return {alt: i.alt, complete: i.complete, natural: i.naturalWidth,
                        w: r.width, h: r.height};
            })""")
            ids = page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert ids == ALWAYS[:5] + ["capacity", "comparison"] + ALWAYS[5:]
    assert len(figs) == 7  # fan, goal, funnel, pipeline, campaigns, capacity, comparison
    for f in figs:
        assert f["complete"] and f["natural"] > 0 and f["w"] > 100 and f["h"] > 100, f
