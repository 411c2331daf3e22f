"""A small battery for the counter-based generator and the per-prospect samplers.

A hash of structured counters is a classic source of silent bias, so every generator test walks
*neighbouring* keys, built exactly as the kernel builds them (``kernels/funnel.py``)::

    key = derive(derive(derive(draw_key(seed_key(seed), draw), campaign), day), k)
    u   = uniform(key, counter(visit, purpose, attempt))

and steps one coordinate at a time: adjacent seeds, draws, campaigns, days, prospects, visits,
purposes and attempts.

Every test uses fixed seeds; nothing is tuned to pass.

- exact (tier a/c): bit-identical to a pure-Python SplitMix64 written from the published
  algorithm; degenerate inputs with exact answers.
- goodness of fit: Kolmogorov-Smirnov and chi-square tests at ``ALPHA = 1e-3`` each.
- correlation of neighbours: ``|r| < 4 / sqrt(n)`` (under independence r ~ N(0, 1/n), so the
  two-sided level is 6.3e-5).
- moments: ``|mean - exact| < 4 sd / sqrt(n)`` and ``|var - exact| < 4 sqrt((m4 - s^4) / n)``,
  sd, s^2 and m4 estimated from the sample (normal approximation, level about 6e-5 each).
- collisions: the probability of a false alarm is stated at the test.

The samplers are driven through the scenario's distribution classes (``natural()``), so the
conversion from user parameters (mean / cv, mean / sd, low / mode / high) is tested with them:
the exact moments are written from the *user* parameters, not from the natural ones.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit, uint64
from scipy import special, stats

from simengine import codes
from simengine.engine import rng_np
from simengine.kernels import rng
from simengine.kernels.rng import counter, derive, draw_key, seed_key, uniform
from simengine.kernels.samplers import empirical, ndtri, poisson, sample
from simengine.scenario import distributions as dists

ALPHA = 1e-3  # level of every KS / chi-square test
K_SIGMA = 4.0  # tolerance in Monte Carlo standard errors
# Root keys with the top bit set (0, 1, 7, 2**62, 2**63 - 1) and clear (42): the two once
# produced different numba types and silently different numbers.
SEEDS = (0, 1, 7, 42, 2**62, 2**63 - 1)
MAX_SEED = 2**63 - 1

AXES = ("seed", "draw", "campaign", "day", "k", "visit", "purpose", "attempt")
SEED, DRAW, CAMPAIGN, DAY, K, VISIT, PURPOSE, ATTEMPT = range(8)


# --- a pure-Python SplitMix64 (Steele, Lea & Flood 2014), the independent reference --------------
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z: int) -> int:
    z &= _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _derive(key: int, x: int) -> int:
    return _mix64(key ^ _mix64(x * _GOLDEN + 0x632BE59BD9B4E019))


def _ref_uniform(c) -> float:
    seed, draw, campaign, day, k, visit, purpose, attempt = (int(v) for v in c)
    key = _mix64(seed + 0x243F6A8885A308D3)
    for label in (draw, campaign, day, k):
        key = _derive(key, label)
    ctr = (visit << 16) | (purpose << 8) | attempt
    return ((_mix64(key + (ctr + 1) * _GOLDEN) >> 11) + 0.5) / 2.0**53


# --- jitted helpers: the kernel's key path, with the kernel's argument types ---------------------
@njit
def _key(seed, draw, campaign, day, k):
    dk = draw_key(seed_key(uint64(seed)), draw)
    return derive(derive(derive(dk, uint64(campaign)), uint64(day)), uint64(k))


@njit
def _block(base, axis_a, na, axis_b, nb):
    """``out[i, j]``: the uniform at ``base`` with coordinate ``axis_a`` + i and ``axis_b`` + j."""
    out = np.empty((na, nb))
    c = base.copy()
    for i in range(na):
        c[axis_a] = base[axis_a] + i
        for j in range(nb):
            c[axis_b] = base[axis_b] + j
            key = _key(c[0], c[1], c[2], c[3], c[4])
            out[i, j] = uniform(key, counter(c[5], c[6], c[7]))
    return out


@njit
def _all_keys(seeds, n_draws, n_campaigns, n_days, n_k, out_keys, out_bits):
    """Every key of every level (root, draw, campaign, day, prospect), and the 53 bits of one
    uniform per prospect key."""
    nk = 0
    nb = 0
    for s in range(seeds.shape[0]):
        root = seed_key(uint64(seeds[s]))
        out_keys[nk] = root
        nk += 1
        for d in range(n_draws):
            dk = draw_key(root, d)
            out_keys[nk] = dk
            nk += 1
            for c in range(n_campaigns):
                ck = derive(dk, uint64(c))
                out_keys[nk] = ck
                nk += 1
                for day in range(n_days):
                    bk = derive(ck, uint64(day))
                    out_keys[nk] = bk
                    nk += 1
                    for k in range(n_k):
                        key = derive(bk, uint64(k))
                        out_keys[nk] = key
                        nk += 1
                        u = uniform(key, counter(0, codes.P_VALUE, 0))
                        out_bits[nb] = np.int64(u * 9007199254740992.0)  # the 53 bits of z >> 11
                        nb += 1
    return nk, nb


@njit
def _samples(kind, nat, seed, visit, purpose, n):
    """n values of one per-prospect distribution, prospects k = 0..n-1 of one (campaign, day)."""
    bk = _key(seed, 3, 11, 17, 0)
    out = np.empty(n)
    for k in range(n):
        out[k] = sample(kind, nat[0], nat[1], nat[2], nat[3], derive(bk, uint64(k)), visit,
                        purpose)
    return out


@njit
def _empirical_samples(values, cum, offset, count, seed, n):
    bk = _key(seed, 3, 11, 17, 0)
    out = np.empty(n)
    for k in range(n):
        u = uniform(derive(bk, uint64(k)), counter(0, codes.P_VALUE, 0))
        out[k] = empirical(values, cum, offset, count, u)
    return out


@njit
def _poisson_counts(lam, seed, n):
    """Arrival counts of one campaign on days 0..n-1, drawn as the kernel draws them."""
    ck = derive(draw_key(seed_key(uint64(seed)), 3), uint64(11))
    out = np.empty(n, np.int64)
    for day in range(n):
        out[day] = poisson(lam, uniform(derive(ck, uint64(day)), counter(0, codes.P_ARRIVALS, 0)))
    return out


# --- statistics --------------------------------------------------------------------------------
def _check_corr(a: np.ndarray, b: np.ndarray, what: str) -> None:
    n = a.size
    r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert abs(r) < K_SIGMA / math.sqrt(n), f"{what}: r = {r:.3g} over n = {n}"


def _check_uniform(u: np.ndarray, what: str) -> None:
    u = u.ravel()
    assert 0.0 < u.min() and u.max() < 1.0, f"{what}: a value outside (0, 1)"
    ks = stats.kstest(u, "uniform")
    assert ks.pvalue > ALPHA, f"{what}: KS p = {ks.pvalue:.2g}"
    counts = np.bincount((u * 1024).astype(np.int64), minlength=1024)
    chi = stats.chisquare(counts)
    assert chi.pvalue > ALPHA, f"{what}: chi-square (1024 cells) p = {chi.pvalue:.2g}"


def _check_pairs(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Joint uniformity of independent pairs on a 16 x 16 grid: catches non-linear dependence
    that a correlation misses."""
    cell = (a.ravel() * 16).astype(np.int64) * 16 + (b.ravel() * 16).astype(np.int64)
    chi = stats.chisquare(np.bincount(cell, minlength=256))
    assert chi.pvalue > ALPHA, f"{what}: pairs chi-square (16 x 16) p = {chi.pvalue:.2g}"


def _check_moments(x: np.ndarray, mean: float, var: float, what: str) -> None:
    n = x.size
    m = x.mean()
    d = x - m
    s2 = np.mean(d * d)
    m4 = np.mean(d**4)
    se_mean = math.sqrt(s2 / n)
    se_var = math.sqrt(max(m4 - s2 * s2, 0.0) / n)
    assert abs(m - mean) < K_SIGMA * se_mean, \
        f"{what}: mean {m:.6g}, exact {mean:.6g}, tolerance {K_SIGMA * se_mean:.3g}"
    assert abs(s2 - var) < K_SIGMA * se_var, \
        f"{what}: variance {s2:.6g}, exact {var:.6g}, tolerance {K_SIGMA * se_var:.3g}"


def _check_discrete_fit(x: np.ndarray, pmf: np.ndarray, what: str) -> None:
    """Chi-square of integer outcomes 0..len(pmf)-1 against ``pmf``, adjacent cells merged until
    each expects at least 20; the mass beyond the table joins the last cell."""
    n = x.size
    assert x.min() >= 0 and x.max() < len(pmf), f"{what}: outcome outside the table"
    counts = np.bincount(x, minlength=len(pmf)).astype(float)
    expected = pmf * n
    expected[-1] += max(0.0, n - expected.sum())
    obs_cells, exp_cells = [], []
    o = e = 0.0
    for ci, ei in zip(counts, expected, strict=True):
        o, e = o + ci, e + ei
        if e >= 20.0:
            obs_cells.append(o)
            exp_cells.append(e)
            o = e = 0.0
    obs_cells[-1] += o
    exp_cells[-1] += e
    obs, exp = np.array(obs_cells), np.array(exp_cells)
    stat = float(np.sum((obs - exp) ** 2 / exp))
    p = stats.chi2.sf(stat, len(obs) - 1)
    assert p > ALPHA, f"{what}: chi-square over {len(obs)} cells p = {p:.2g}"


# --- the generator: exact ----------------------------------------------------------------------
def test_mix64_is_splitmix64():
    """The finaliser reproduces the published SplitMix64 stream started at 0 (Vigna's
    splitmix64.c): mix64(i * GOLDEN) for i = 1, 2, 3."""
    expected = (0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F)
    for i, z in enumerate(expected, start=1):
        assert _mix64(i * _GOLDEN) == z
        assert int(rng.mix64(np.uint64((i * _GOLDEN) & _M64))) == z


@pytest.mark.parametrize("seed", SEEDS)
def test_kernel_key_path_matches_reference(seed):
    """Bit-identical to the pure-Python reference on neighbouring keys, including labels that
    straddle 2**32 and 2**63 (where a signed / float promotion would show)."""
    bases = [
        [seed, 0, 0, 0, 0, 0, 0, 0],
        [seed, 7, 2**32 - 2, 364, 2**31 - 1, 3, codes.P_DWELL, 0],
        [seed, 2**62, 2**63 - 2, 2**32 - 1, 2**63 - 3, 2**40 - 2, 255, 254],
    ]
    for base in bases:
        b = np.array(base, np.int64)
        for axis in (DRAW, CAMPAIGN, DAY, K, VISIT, ATTEMPT):
            outer = VISIT if axis == K else K
            got = _block(b, outer, 2, axis, 2)
            for i in range(2):
                for j in range(2):
                    c = list(base)
                    c[outer] += i
                    c[axis] += j
                    assert got[i, j] == _ref_uniform(c), (base, AXES[axis], i, j)


@pytest.mark.parametrize("seed", SEEDS)
def test_public_uniforms_matches_reference(seed):
    """``rng.uniforms`` (per-draw parameters, risk events) is the same function of
    (seed, draw, key, purpose), bit for bit, for small and top-bit-set keys."""
    draws = np.array([0, 1, 2, 999])
    keys = np.array([0, 1, 2**63 - 1, 2**63, 2**64 - 1], np.uint64)
    got = rng.uniforms(seed, draws, keys, codes.P_PARAM)
    for i, d in enumerate(draws):
        for j, key in enumerate(keys):
            ref_key = _derive(_derive(_mix64(seed + 0x243F6A8885A308D3), int(d)), int(key))
            ctr = codes.P_PARAM << 8
            ref = ((_mix64(ref_key + (ctr + 1) * _GOLDEN) >> 11) + 0.5) / 2.0**53
            assert got[i, j] == ref, (d, int(key))


@pytest.mark.parametrize("seed", SEEDS)
def test_numpy_copy_is_bit_identical(seed):
    """The NumPy copy of the generator (per-draw parameters, the size check) gives the numba
    ``uniforms``' numbers bit for bit: random 64-bit keys, keys at the ends of the range and
    straddling 2**63, large and neighbouring draw numbers, every purpose."""
    gen = np.random.default_rng(seed % 2**32)
    keys = np.concatenate([gen.integers(0, 2**64, 200, dtype=np.uint64, endpoint=False),
                           np.array([0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1],
                                    np.uint64)])
    draws = np.concatenate([np.arange(50), gen.integers(0, 2**63 - 1, 50),
                            [2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1]]).astype(np.int64)
    for purpose in (0, codes.P_PARAM, codes.P_OCCURS, 255):
        want = rng.uniforms(seed, draws, keys, purpose)
        got = rng_np.uniforms(seed, draws, keys, purpose)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got.view(np.uint64), want.view(np.uint64)), purpose
    # and the reference, on a few (draw, key) pairs
    for d, key in ((0, 0), (999, 2**63), (2**63 - 1, 2**64 - 1)):
        ref_key = _derive(_derive(_mix64(seed + 0x243F6A8885A308D3), d), key)
        ctr = codes.P_PARAM << 8
        ref = ((_mix64(ref_key + (ctr + 1) * _GOLDEN) >> 11) + 0.5) / 2.0**53
        got = rng_np.uniforms(seed, np.array([d]), np.array([key], np.uint64), codes.P_PARAM)
        assert got[0, 0] == ref, (d, key)


def test_numpy_copy_empty_and_shapes():
    assert rng_np.uniforms(3, np.array([], np.int64), np.arange(4, dtype=np.uint64),
                           codes.P_PARAM).shape == (0, 4)
    assert rng_np.uniforms(3, np.arange(5), np.array([], np.uint64), 1).shape == (5, 0)


_PY_LEVEL_SCRIPT = textwrap.dedent("""
    import json, sys
    from simengine.kernels.rng import counter, derive, draw_key, seed_key, uniform
    out = []
    for seed in json.loads(sys.argv[1]):
        try:
            key = derive(derive(derive(draw_key(seed_key(seed), 3), 11), 17), 5)
            out.append(uniform(key, counter(2, 5, 0)))
        except Exception as exc:  # report, do not hide
            out.append(repr(exc))
    print(json.dumps(out))
""")


def test_python_level_calls_match_kernel(tmp_path):
    """The documented chain, called from plain Python (in a fresh interpreter, so the numba
    specialisations are created in this order, and with a private cache so the package's own
    numba cache is left alone), gives the kernel's numbers for every seed."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", _PY_LEVEL_SCRIPT, json.dumps(list(SEEDS))],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    got = json.loads(res.stdout)
    ref = [_ref_uniform([s, 3, 11, 17, 5, 2, 5, 0]) for s in SEEDS]
    assert got == ref


# --- the generator: statistics on neighbouring keys ---------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("axis", AXES)
def test_neighbouring_keys(axis, seed):
    """512 x 256 uniforms: 256 adjacent values of ``axis`` (a full byte for purpose and attempt)
    for each of 512 adjacent prospects (adjacent visits when the axis is the prospect).

    Uniformity: KS and chi-square (1024 cells) at ALPHA. Neighbours: lag-1 correlation along the
    axis |r| < 4/sqrt(n) (n = 512 x 255 overlapping pairs), and the non-overlapping pairs
    (j, j+1) jointly uniform (chi-square, 16 x 16 cells, at ALPHA).
    """
    a = AXES.index(axis)
    outer = VISIT if a == K else K
    na, nb = 512, 256
    base = np.array([seed, 5, 11, 17, 0, 0, codes.P_DWELL, 0], np.int64)
    if a in (PURPOSE, ATTEMPT, VISIT, DAY, DRAW):
        base[a] = 0
    if a == SEED:
        base[SEED] = min(seed, MAX_SEED - nb)  # seeds stay in [0, 2**63)
    u = _block(base, outer, na, a, nb)
    what = f"adjacent {axis}s, seed {seed}"
    _check_uniform(u, what)
    _check_corr(u[:, :-1], u[:, 1:], what)
    _check_pairs(u[:, 0::2], u[:, 1::2], what)


@pytest.mark.parametrize("seed", (0, 42, MAX_SEED))
def test_streams_of_neighbouring_prospects_uncorrelated(seed):
    """Cross-key correlation of whole streams: for prospects k and k+1, the numbers of the same
    (visit, purpose) — what a kernel reads side by side — over 64 visits x 4 purposes x 1024
    prospects; |r| < 4/sqrt(n) and joint uniformity (chi-square 16 x 16 at ALPHA) for
    prospects (k, k+1) and for purposes (p, p+1) of one prospect."""
    n_k, n_v = 1024, 64
    purposes = (codes.P_DWELL, codes.P_ROUTE, codes.P_DELAY, codes.P_PATIENCE)  # adjacent codes
    u = np.empty((len(purposes), n_k, n_v))
    for i, p in enumerate(purposes):
        base = np.array([seed, 9, 2**40 + 3, 200, 0, 0, p, 0], np.int64)
        u[i] = _block(base, K, n_k, VISIT, n_v)
    what = f"seed {seed}"
    _check_corr(u[:, 0::2, :], u[:, 1::2, :], f"prospects (k, k+1), {what}")
    _check_pairs(u[:, 0::2, :], u[:, 1::2, :], f"prospects (k, k+1), {what}")
    _check_corr(u[0::2], u[1::2], f"purposes (p, p+1), {what}")
    _check_pairs(u[0::2], u[1::2], f"purposes (p, p+1), {what}")


def test_no_collisions_among_keys_and_numbers():
    """6 seeds x 4 draws x 4 campaigns x 16 days x 1024 prospects: every key of every level is
    distinct (a false alarm has probability n^2 / 2^65 < 1e-7 for n = 1.6e6 random 64-bit keys),
    and so are the 53-bit uniforms of the prospects (false alarm n^2 / 2^54 = 1.4e-4)."""
    seeds = np.array(SEEDS, np.int64)
    shape = (4, 4, 16, 1024)
    n_prospects = len(SEEDS) * int(np.prod(shape))
    n_keys = len(SEEDS) * (1 + 4 * (1 + 4 * (1 + 16 * (1 + 1024))))
    keys = np.empty(n_keys, np.uint64)
    bits = np.empty(n_prospects, np.int64)
    nk, nb = _all_keys(seeds, *shape, keys, bits)
    assert (nk, nb) == (n_keys, n_prospects)
    assert np.unique(keys).size == n_keys
    assert np.unique(bits).size == n_prospects


# --- ndtri ------------------------------------------------------------------------------------
def test_ndtri_matches_scipy():
    """Relative error below 1e-15 against scipy.special.ndtri over the body, both tails down to
    the smallest normal and subnormal doubles, and the branch points of AS241 (|p - 0.5| = 0.425
    and r = 5, i.e. p = exp(-25))."""
    edges = [0.075, 0.925, np.nextafter(0.075, 0), np.nextafter(0.925, 1), math.exp(-25),
             -math.expm1(-25), 2.0**-1074, 2.0**-1022, 2.0**-54, 1 - 2.0**-53]
    p = np.concatenate([
        np.logspace(-320, np.log10(0.49), 3000),
        1.0 - np.logspace(-16, np.log10(0.49), 1500),
        np.linspace(0.001, 0.999, 4001),
        edges,
    ])
    p = p[(p > 0) & (p < 1) & (p != 0.5)]
    got = np.array([ndtri(x) for x in p])
    ref = special.ndtri(p)
    np.testing.assert_allclose(got, ref, rtol=1e-15, atol=0)
    assert ndtri(0.5) == 0.0
    q = np.arange(1, 2**11) / 2.0**12  # 1 - q is exact: the inverse is odd about 0.5
    assert np.array_equal([ndtri(1 - x) for x in q], [-ndtri(x) for x in q])


# --- samplers -----------------------------------------------------------------------------------
def _truncnorm(mean, sd, low, high):
    a = -np.inf if low is None else (low - mean) / sd
    b = np.inf if high is None else (high - mean) / sd
    return stats.truncnorm(a, b, loc=mean, scale=sd)


def _weibull_moments(k, lam):
    g1, g2 = math.gamma(1 + 1 / k), math.gamma(1 + 2 / k)
    return lam * g1, lam * lam * (g2 - g1 * g1)


# (id, distribution, user parameters, exact mean, exact variance, independent scipy reference)
# Exact moments come from the user parameters by textbook formulas; the scipy reference for KS is
# the class's own ``frozen(natural)`` unless an independent one is given.
_pert_mu = (2 + 4 * 3 + 10) / 6
_tn = _truncnorm(10.0, 3.0, 8.0, 20.0)
_tn1 = _truncnorm(1.0, 2.0, 0.0, None)
CASES = [
    ("uniform", dists.Uniform(dist="uniform", low=-2, high=5), {"low": -2.0, "high": 5.0},
     1.5, 49 / 12, None),
    ("triangular", dists.Triangular(dist="triangular", low=1, mode=2, high=6),
     {"low": 1.0, "mode": 2.0, "high": 6.0}, 3.0, (1 + 4 + 36 - 2 - 6 - 12) / 18, None),
    ("pert", dists.Pert(dist="pert", low=2, mode=3, high=10),
     {"low": 2.0, "mode": 3.0, "high": 10.0}, _pert_mu, (_pert_mu - 2) * (10 - _pert_mu) / 7, None),
    ("normal", dists.Normal(dist="normal", mean=10, sd=3), {"mean": 10.0, "sd": 3.0},
     10.0, 9.0, stats.norm(10, 3)),
    ("normal-truncated", dists.Normal(dist="normal", mean=10, sd=3, low=8, high=20),
     {"mean": 10.0, "sd": 3.0}, _tn.mean(), _tn.var(), _tn),
    ("normal-low-only", dists.Normal(dist="normal", mean=1, sd=2, low=0),
     {"mean": 1.0, "sd": 2.0}, _tn1.mean(), _tn1.var(), _tn1),
    ("lognormal", dists.Lognormal(dist="lognormal", mean=5, cv=0.8), {"mean": 5.0, "cv": 0.8},
     5.0, (0.8 * 5) ** 2, None),
    ("gamma-shape-4", dists.Gamma(dist="gamma", mean=20, cv=0.5), {"mean": 20.0, "cv": 0.5},
     20.0, (0.5 * 20) ** 2, None),
    ("gamma-shape-0.44", dists.Gamma(dist="gamma", mean=3, cv=1.5), {"mean": 3.0, "cv": 1.5},
     3.0, (1.5 * 3) ** 2, None),
    ("weibull-0.7", dists.Weibull(dist="weibull", shape=0.7, scale=4),
     {"shape": 0.7, "scale": 4.0}, *_weibull_moments(0.7, 4.0), None),
    ("weibull-2.5", dists.Weibull(dist="weibull", shape=2.5, scale=30),
     {"shape": 2.5, "scale": 30.0}, *_weibull_moments(2.5, 30.0), None),
    ("exponential", dists.Exponential(dist="exponential", mean=3), {"mean": 3.0}, 3.0, 9.0, None),
    ("beta-6-14", dists.Beta(dist="beta", mean=0.3, sd=0.1), {"mean": 0.3, "sd": 0.1},
     0.3, 0.01, None),
    ("beta-U-shaped", dists.Beta(dist="beta", mean=0.2, sd=0.3), {"mean": 0.2, "sd": 0.3},
     0.2, 0.09, None),
]
N_SAMPLES = 200_000
SAMPLER_SEEDS = (42, MAX_SEED)  # root key top bit clear / set


@pytest.mark.parametrize("seed", SAMPLER_SEEDS)
@pytest.mark.parametrize(("case", "dist", "params", "mean", "var", "ref"), CASES,
                         ids=[c[0] for c in CASES])
def test_sampler_moments_and_fit(case, dist, params, mean, var, ref, seed):
    """200,000 prospects of one (campaign, day): mean and variance within 4 Monte Carlo standard
    errors of the exact values, every value in the support, KS against scipy at ALPHA."""
    nat = dist.natural({k: np.array([v]) for k, v in params.items()})[0]
    assert np.all(np.isfinite(nat)), nat
    x = _samples(dist.kind, nat, seed, 2, codes.P_DWELL, N_SAMPLES)
    lo, hi = dist.support()
    assert np.all(np.isfinite(x)) and x.min() >= lo and x.max() <= hi, (x.min(), x.max())
    _check_moments(x, mean, var, f"{case}, seed {seed}")
    frozen = ref if ref is not None else dist.frozen(nat)
    ks = stats.kstest(x, frozen.cdf)
    assert ks.pvalue > ALPHA, f"{case}, seed {seed}: KS p = {ks.pvalue:.2g}"


def test_fixed_is_exact():
    d = dists.Fixed(dist="fixed", value=3.5)
    nat = d.natural({"value": np.array([3.5])})[0]
    x = _samples(d.kind, nat, 0, 0, codes.P_VALUE, 1000)
    assert np.all(x == 3.5)


@pytest.mark.parametrize("seed", SAMPLER_SEEDS)
def test_empirical(seed):
    """Unsorted values with weights, laid out after another table as the compiler does (offset
    > 0): exact mean and variance within 4 standard errors, frequencies by chi-square at ALPHA."""
    d = dists.Empirical(dist="empirical", values=[5, 1, 3, 10], weights=[1, 2, 3, 4])
    other = dists.Empirical(dist="empirical", values=[100, 200, 300])
    v0, c0 = other.table()
    v1, c1 = d.table()
    values, cum = np.concatenate([v0, v1]), np.concatenate([c0, c1])
    x = _empirical_samples(values, cum, len(v0), len(v1), seed, N_SAMPLES)
    mean = (5 * 1 + 1 * 2 + 3 * 3 + 10 * 4) / 10
    var = (25 * 1 + 1 * 2 + 9 * 3 + 100 * 4) / 10 - mean**2
    _check_moments(x, mean, var, f"empirical, seed {seed}")
    assert set(np.unique(x)) == {1.0, 3.0, 5.0, 10.0}
    probs = {1.0: 0.2, 3.0: 0.3, 5.0: 0.1, 10.0: 0.4}
    idx = np.searchsorted([1.0, 3.0, 5.0, 10.0], x)
    _check_discrete_fit(idx, np.array([probs[v] for v in (1.0, 3.0, 5.0, 10.0)]),
                        f"empirical, seed {seed}")


def test_empirical_single_value():
    x = _empirical_samples(np.array([7.0]), np.array([1.0]), 0, 1, 1, 1000)
    assert np.all(x == 7.0)


@pytest.mark.parametrize("seed", SAMPLER_SEEDS)
@pytest.mark.parametrize("lam", [0.3, 7.0, 45.0, 2740.0])
def test_poisson_moments_and_fit(lam, seed):
    """200,000 (campaign, day) arrival counts: mean and variance (both lam) within 4 standard
    errors, and the distribution by chi-square at ALPHA. 45 exercises lam > 30 with the sum still
    started at 0; 2740 (about a million arrivals a year) the sum started at lam - 13 sqrt(lam)."""
    x = _poisson_counts(lam, seed, N_SAMPLES)
    _check_moments(x.astype(float), lam, lam, f"poisson({lam}), seed {seed}")
    top = int(lam + 40 * math.sqrt(lam) + 101)
    _check_discrete_fit(x, stats.poisson(lam).pmf(np.arange(top)), f"poisson({lam}), seed {seed}")


def test_poisson_degenerate():
    assert poisson(0.0, 0.999) == 0
    assert poisson(-1.0, 0.5) == 0
    assert poisson(1e-300, 1 - 2.0**-54) == 0
    assert poisson(1.0, np.exp(-1.0) * (1 - 1e-12)) == 0
    assert poisson(1.0, np.exp(-1.0) * (1 + 1e-12)) == 1


def _poisson_isf(lam: float, tail: float) -> int:
    """Smallest k with P(X > k) <= tail (scipy's log survival function, accurate in the tail)."""
    k = int(lam)
    while stats.poisson(lam).logsf(k) > math.log(tail):
        k += 1
    return k


@pytest.mark.parametrize(("lam", "tail"), [
    (0.3, 1e-12), (7.0, 1e-12), (45.0, 1e-12), (500.0, 1e-12),
    (2740.0, 1e-12),
    (0.3, 2.0**-54), (7.0, 2.0**-54), (20.0, 2.0**-54),
    (30.5, 2.0**-54),
    (168.0, 2.0**-54),
    (2740.0, 2.0**-54),
])
def test_poisson_upper_tail(lam, tail):
    """At u = 1 - tail (1 - 2**-54 is the largest uniform the generator makes) the inverse CDF is
    the true quantile, up to 1 (the CDF summed in double precision is only good to ~1e-15), and
    never beyond it by more than 1."""
    got = poisson(lam, 1.0 - tail)
    true = _poisson_isf(lam, tail)
    if tail >= 1e-12:
        assert abs(got - true) <= 1, (got, true)
    assert got <= true + 1, (got, true)
