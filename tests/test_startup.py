"""What keeps ``simengine validate`` and ``plot`` quick to start, checked for its results, not
its speed (the timings are in benchmarks/startup.py):

- the inverse CDFs and means written with scipy.special give scipy.stats' numbers bit for bit;
- the size check (numba-free) gives the figures the engine's own sampling gives;
- ``validate`` does not import numba, the kernels or scipy.stats, and ``plot`` of a saved result
  none of numba, dask, panel or scipy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simengine.scenario import distributions as dists

ROOT = Path(__file__).resolve().parents[1]


def _bits(x) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=float)).view(np.uint64)


def _same(got, want) -> bool:
    got, want = np.broadcast_arrays(np.asarray(got, float), np.asarray(want, float))
    return bool(np.array_equal(_bits(got), _bits(want)))


def _nat_rows(kind: str, gen: np.random.Generator, n: int) -> np.ndarray:
    """n rows of natural parameters of ``kind`` across the range scenarios use (and beyond)."""
    nat = np.zeros((n, 4))
    if kind == "uniform":
        lo = gen.normal(0, 1e3, n)
        nat[:, 0], nat[:, 1] = lo, lo + gen.lognormal(0, 3, n)
    elif kind == "triangular":
        lo = gen.normal(0, 100, n)
        w = gen.lognormal(0, 2, n)
        nat[:, 0], nat[:, 1], nat[:, 2] = lo, lo + w * gen.random(n), lo + w
        nat[:5, 1] = nat[:5, 0]  # mode at an end
        nat[5:10, 1] = nat[5:10, 2]
    elif kind in ("pert", "beta"):
        a, b = gen.lognormal(0.5, 1.2, n), gen.lognormal(0.5, 1.2, n)
        if kind == "beta":
            nat[:, 0], nat[:, 1] = a, b
        else:
            nat[:, 0], nat[:, 1], nat[:, 2], nat[:, 3] = gen.normal(0, 50, n), \
                gen.lognormal(2, 1, n), 1 + 4 * a / (a + b), 1 + 4 * b / (a + b)
    elif kind == "normal":
        m, s = gen.normal(0, 100, n), gen.lognormal(1, 1, n)
        lo = m - s * gen.exponential(1.5, n)
        hi = m + s * gen.exponential(1.5, n)
        nat[:, 0], nat[:, 1] = m, s
        nat[:, 2], nat[:, 3] = stats.norm.cdf((lo - m) / s), stats.norm.cdf((hi - m) / s)
        nat[: n // 3, 2], nat[: n // 3, 3] = 0.0, 1.0  # untruncated
    elif kind == "lognormal":
        nat[:, 0], nat[:, 1] = gen.normal(3, 3, n), gen.lognormal(-1, 1, n)
    elif kind in ("gamma", "weibull"):
        nat[:, 0], nat[:, 1] = gen.lognormal(0, 1.5, n), gen.lognormal(2, 2, n)
    elif kind == "exponential":
        nat[:, 0] = gen.lognormal(2, 2, n)
    return nat


KINDS = {"uniform": dists.Uniform, "triangular": dists.Triangular, "pert": dists.Pert,
         "beta": dists.Beta, "normal": dists.Normal, "lognormal": dists.Lognormal,
         "gamma": dists.Gamma, "weibull": dists.Weibull, "exponential": dists.Exponential}


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("kind", list(KINDS))
def test_inverse_cdf_and_mean_are_scipy_stats_bit_for_bit(kind):
    """Per row of natural parameters and at the sampling's uniforms (open interval, copula
    clips, quasi-random design ends), at 0 and 1 (the support's ends) and outside [0, 1]."""
    cls = KINDS[kind]
    gen = np.random.default_rng(zlib.crc32(kind.encode()))
    nat = _nat_rows(kind, gen, 300)
    nat[0, :2] = (0.05, 3.0) if kind == "weibull" else nat[0, :2]  # a shape whose ppf overflows
    u = np.concatenate([gen.random(200), [1e-16, 1 - 1e-16, 2.0**-53, 1 - 2.0**-53, 0.5, 0.0,
                                          1.0, -0.1, 1.1, np.nan]])
    with np.errstate(all="ignore"):  # scipy warns of overflow at tiny Weibull shapes
        for row in nat:
            assert _same(cls.nat_ppf(row, u), cls.frozen(row).ppf(u)), (kind, row)
    # broadcast over rows as the warm start and the initial pipeline call it: (n, 1, 4) x (m,)
    assert _same(cls.nat_ppf(nat[:, None, :], u[:50]), cls.frozen(nat[:, None, :]).ppf(u[:50]))
    assert _same(cls.nat_mean(nat[:, None, :]), cls.frozen(nat[:, None, :]).mean())
    assert _same(cls.nat_mean(nat[0]), cls.frozen(nat[0]).mean())
    # impossible parameters (a failed draw) give NaN, as scipy does
    bad = np.full(4, np.nan)
    assert np.isnan(cls.nat_ppf(bad, u[:3])).all() and np.isnan(cls.frozen(bad).ppf(u[:3])).all()


def test_normal_helpers_are_scipy_stats():
    x = np.concatenate([np.linspace(-40, 40, 2001), [-np.inf, np.inf, np.nan, -0.0]])
    assert _same(dists.norm_cdf(x), stats.norm.cdf(x))
    assert _same(dists.norm_pdf(x), stats.norm.pdf(x))
    q = np.concatenate([np.linspace(0, 1, 2001), [1e-300, 1 - 1e-16, -1.0, 2.0, np.nan]])
    assert _same(dists.norm_ppf(q), stats.norm.ppf(q))
    assert _same(dists.norm_ppf(0.3), stats.norm.ppf(0.3)) and np.ndim(dists.norm_ppf(0.3)) == 0


def test_flat_ppf_of_every_shipped_parameter_is_unchanged():
    """``Dist.ppf`` (each draw's parameters) on the shipped scenarios' parameter tables equals
    the frozen scipy distribution's, column by column."""
    import simengine as se
    from simengine.compile import compile_scenario

    u = np.random.default_rng(5).random(500)
    for f in sorted((ROOT / "scenarios").glob("*.yaml")) + [ROOT / "tests/scenarios/"
                                                           "all_features.yaml"]:
        cs = compile_scenario(se.load_scenario(f))
        for d in cs.params.dists:
            if isinstance(d, (dists.Fixed, dists.Empirical)):
                continue
            nat = d.natural({k: np.atleast_1d(float(v)) for k, v in d.params().items()})
            assert _same(d.ppf(u), d.frozen(nat[0]).ppf(u)), (f.name, d)


def _compiled(name: str):
    import simengine as se
    from simengine.compile import compile_scenario

    return compile_scenario(se.load_scenario(ROOT / name))


@pytest.mark.parametrize("name", ["scenarios/baseline.yaml", "scenarios/baseline_plan.yaml",
                                  "tests/scenarios/all_features.yaml"])
def test_size_check_is_the_engines(name, monkeypatch):
    """The numba-free size check gives, bit for bit, the expected prospects of the engine's
    kernels' generator and scipy.stats' inverse CDFs, and an output shape for each field of the
    kernel's ``Out``."""
    from simengine.engine import planning, sampling
    from simengine.kernels import rng
    from simengine.kernels.funnel import Out

    cs = _compiled(name)
    got = planning.expected_prospects(cs)
    assert tuple(planning.out_shapes(cs, 3)) == Out._fields
    monkeypatch.setattr(sampling, "uniforms", rng.uniforms)
    for cls in KINDS.values():
        if cls is not dists.Normal:
            monkeypatch.setattr(cls, "nat_ppf", staticmethod(
                lambda nat, u, cls=cls: np.asarray(cls.frozen(nat).ppf(u), float)))
    monkeypatch.setattr(dists, "norm_ppf", stats.norm.ppf)
    want = planning.expected_prospects(cs)
    assert got > 0 and got.hex() == want.hex()


def test_default_threads_are_numbas():
    import numba

    from simengine.engine.planning import default_threads

    assert default_threads() == numba.config.NUMBA_NUM_THREADS


def _imported(args: list[str]) -> set[str]:
    """The modules a ``simengine`` command imports, in a fresh interpreter."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "simengine.cli", *args],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in r.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def _heavy(mods: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in mods if m.split(".")[0] in roots or m in roots)


def test_validate_imports_no_kernels_numba_or_scipy_stats():
    mods = _imported(["validate", "scenarios/baseline.yaml"])
    assert "simengine.scenario.model" in mods  # the check sees what was imported
    assert not _heavy(mods, ("numba", "llvmlite", "dask", "xarray", "matplotlib", "panel"))
    assert not [m for m in mods if m.startswith("scipy.stats")]
    assert not [m for m in mods if m.startswith("simengine.kernels.")
                and m != "simengine.kernels.outputs"]


def test_plot_of_a_saved_result_imports_no_engine(tmp_path):
    """A figure of a saved .nc reads it with xarray and draws it with matplotlib: no numba, no
    scipy, no dask (xarray would import it to test for dask arrays), no panel. And the figure
    is the one drawn in a process that has all of them loaded."""
    import simengine as se

    ds = se.simulate(ROOT / "scenarios/baseline.yaml", draws=30, seed=4, progress=False)
    res = se.save(ds, tmp_path / "r.nc")
    for kind in ("fan", "funnel"):
        mods = _imported(["plot", str(res), "--kind", kind, "-o", str(tmp_path / f"{kind}.png")])
        assert "matplotlib.pyplot" in mods and "xarray" in mods
        assert not _heavy(mods, ("numba", "llvmlite", "dask", "scipy", "panel", "distributed"))
    from simengine.cli import main

    assert main(["plot", str(res), "-o", str(tmp_path / "fan_here.png")]) == 0
    assert (tmp_path / "fan.png").read_bytes() == (tmp_path / "fan_here.png").read_bytes()
    # export reads the file the same way: the same tables without dask as with it
    mods = _imported(["export", str(res), "--csv", str(tmp_path / "csv")])
    assert not _heavy(mods, ("numba", "dask"))
    assert main(["export", str(res), "--csv", str(tmp_path / "csv_here")]) == 0
    names = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert names and names == sorted(p.name for p in (tmp_path / "csv_here").iterdir())
    for n in names:
        assert (tmp_path / "csv" / n).read_bytes() == (tmp_path / "csv_here" / n).read_bytes()
