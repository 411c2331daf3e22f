"""The capacity path against exact queueing results and an independent simulator:
Erlang C, Little's law, Erlang A, non-preemptive priorities (Cobham), Ciw, monotonicity,
conservation and determinism with pools, and c(t) from headcount, ramp and hires."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import simengine as se
from simengine.scenario import validate
from tests.test_invariants import _strip, conservation_gap

LONG = 1000  # days: start-up effects are a few days, the bias they leave is < 0.5 %


def mmc(c: int, lam: float, mu: float, *, patience=None, classes=None, days=LONG,
        period="quarter", dwell=None) -> dict:
    stage = {"name": "work", "worked_by": "reps",
             "dwell": dwell or {"dist": "exponential", "mean": 1.0 / mu}, "next": {"won": 1.0}}
    if patience is not None:
        stage["patience"] = {"dist": "exponential", "mean": patience}
    end = f"{2027 + (days - 1) // 365}-12-31"
    classes = classes or {"inbound": 1.0}
    camps = [{"name": f"c-{k}", "enters": "work", "priority": k,
              "schedule": {"start": "2027-01-01", "end": end},
              "volume": {"leads": lam * share * _span_days(end)}} for k, share in classes.items()]
    return {"name": "mmc", "horizon": {"start": "2027-01-01", "days": days, "period": period},
            "deal_value": 1.0, "stages": [stage],
            "pools": {"reps": {"headcount": c, "slots_per_rep": 1}}, "campaigns": camps}


def _span_days(end: str) -> int:
    import datetime as dt

    return (dt.date.fromisoformat(end) - dt.date(2027, 1, 1)).days + 1


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c (Kleinrock vol. 1, eq. 3.40)."""
    s = sum(a**k / math.factorial(k) for k in range(c))
    last = a**c / math.factorial(c) * c / (c - a)
    return last / (s + last)


def _mean_se(x) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    return x.mean(), x.std(ddof=1) / np.sqrt(len(x))


@pytest.mark.parametrize("c,lam", [(1, 0.7), (5, 4.0), (12, 10.5)])
def test_erlang_c_mean_wait_and_probability_of_waiting(c, lam):
    ds = se.simulate(validate(mmc(c, lam, 1.0)), draws=24, seed=7, progress=False)
    pw = erlang_c(c, lam)
    wq = pw / (c - lam)
    m, s = _mean_se(ds.queue_wait.sel(pool="reps"))
    assert abs(m - wq) < 4 * s + 0.005 * wq, (m, wq, s)
    m, s = _mean_se(ds.waited_share.sel(pool="reps"))
    assert abs(m - pw) < 4 * s + 0.005 * pw, (m, pw, s)
    # utilisation is the offered load per server
    m, s = _mean_se(ds.utilization.sel(pool="reps").isel(period=slice(1, None)).mean("period"))
    assert abs(m - lam / c) < 4 * s + 0.005


def test_littles_law_per_pooled_stage():
    ds = se.simulate(validate(mmc(4, 3.4, 1.0, patience=2.0, period="week")), draws=20, seed=3,
                     progress=False)
    # L: prospects in the stage at the weekly snapshots; lambda: entries per day; W: days
    L = ds.pipeline.sel(stage="work").isel(period=slice(4, -1)).mean("period")
    lam = ds.entered.sel(stage="work").sum("period") / LONG
    W = ds.time_in_stage.sel(stage="work")
    m, s = _mean_se(L - lam * W)
    assert abs(m) < 4 * s, (m, s)


def test_erlang_a_abandonment_probability():
    c, lam, mu, patience = 3, 4.0, 1.0, 2.0
    theta = 1 / patience
    # birth-death chain of M/M/c+M: death rate min(n, c) mu + max(n - c, 0) theta
    n = np.arange(400)
    death = np.minimum(n, c) * mu + np.maximum(n - c, 0) * theta
    logp = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(death[1:]))])
    pi = np.exp(logp - logp.max())
    pi /= pi.sum()
    p_abandon = float(np.sum(pi * np.maximum(n - c, 0) * theta) / lam)
    ds = se.simulate(validate(mmc(c, lam, mu, patience=patience)), draws=24, seed=11,
                     progress=False)
    share = ds.abandoned.sel(pool="reps").sum("period") / ds.arrivals.sum(("period", "campaign"))
    m, s = _mean_se(share)
    assert abs(m - p_abandon) < 4 * s + 0.005 * p_abandon, (m, p_abandon, s)
    # those who went cold are lost from the stage, and counted in exited_lost
    assert np.all(ds.exited_lost.sel(stage="work").sum("period")
                  == ds.abandoned.sel(pool="reps").sum("period"))


def test_inbound_is_served_before_outbound():
    # non-preemptive priority M/M/c with equal service rates (Cobham 1954):
    # W_1 = W0 / (1 - s1), W_2 = W0 / ((1 - s1)(1 - s)), W0 = C(c, a) / (c mu), s = load shares
    c, mu, lam1, lam2 = 4, 1.0, 1.6, 2.0
    ds = se.simulate(validate(mmc(c, lam1 + lam2, mu, classes={"inbound": lam1 / 3.6,
                                                                "outbound": lam2 / 3.6})),
                     draws=24, seed=5, progress=False)
    w0 = erlang_c(c, (lam1 + lam2) / mu) / (c * mu)
    s1, s_all = lam1 / (c * mu), (lam1 + lam2) / (c * mu)
    exact = {"inbound": w0 / (1 - s1), "outbound": w0 / ((1 - s1) * (1 - s_all))}
    w = ds.queue_wait_by_priority.sel(pool="reps")
    for cls, value in exact.items():
        m, s = _mean_se(w.sel(priority=cls))
        assert abs(m - value) < 4 * s + 0.005 * value, (cls, m, value, s)
    assert np.all(w.sel(priority="inbound") < w.sel(priority="outbound"))


def test_more_reps_never_raise_the_wait_on_common_random_numbers():
    # FIFO with service times attached to prospects: waits are monotone in servers, path by path
    waits = [se.simulate(validate(mmc(c, 3.5, 1.0, days=300)), draws=10, seed=2,
                         progress=False).queue_wait.sel(pool="reps").values for c in (4, 5, 6)]
    assert np.all(waits[1] <= waits[0] + 1e-12) and np.all(waits[2] <= waits[1] + 1e-12)


def test_capacity_follows_headcount_ramp_and_hires():
    raw = mmc(4, 1.0, 1.0, days=365, period="month")
    raw["pools"]["reps"] = {"headcount": 4, "slots_per_rep": 10, "selling_time": 0.5,
                            "ramp": {"days": 100, "start": 0.2},
                            "hires": [{"date": "2027-02-20", "count": 2}]}
    ds = se.simulate(validate(raw), draws=2, seed=0, progress=False)
    day = np.arange(365)
    hire = 50  # 2027-02-20
    ramp = np.where(day >= hire, 0.2 + 0.8 * np.minimum((day + 0.5 - hire) / 100, 1.0), 0.0)
    slots = np.floor(4 * 10 * 0.5 + 2 * 10 * 0.5 * ramp + 1e-9)
    month = ds.period.values.astype("datetime64[M]")
    dates = np.datetime64("2027-01-01") + day
    expected = [slots[dates.astype("datetime64[M]") == m].mean() for m in month]
    np.testing.assert_allclose(ds.capacity.sel(pool="reps").isel(draw=0), expected, rtol=1e-12)
    np.testing.assert_allclose(ds.headcount.sel(pool="reps").isel(draw=1)[-1], 6.0)


def test_attrition_with_replacement_lag_is_a_renewal_process():
    # each seat alternates: a rep for Exp(365 / a) days, then vacant for the lag:
    # long-run share of seats filled = (365 / a) / (365 / a + lag) (renewal-reward theorem)
    a, lag, heads, years = 0.5, 60.0, 50, 8
    raw = mmc(2, 1.0, 1.0, days=365 * years, period="quarter")
    raw["pools"]["reps"] = {"headcount": heads, "attrition": a, "hiring_lag_days": lag}
    ds = se.simulate(validate(raw), draws=12, seed=4, progress=False)
    later = ds.headcount.sel(pool="reps").isel(period=slice(8, None)).mean("period") / heads
    m, s = _mean_se(later)
    exact = (365 / a) / (365 / a + lag)
    assert abs(m - exact) < 4 * s, (m, exact, s)


@pytest.fixture(scope="module")
def pooled_all_features():
    import yaml

    raw = yaml.safe_load(Path("tests/scenarios/all_features.yaml").read_text())
    raw["pools"] = {
        "sdr": {"headcount": 3, "slots_per_rep": 4, "selling_time": 0.5, "attrition": 0.3,
                "hiring_lag_days": 20, "ramp": {"days": 30, "start": 0.3}},
        "ae": {"headcount": {"dist": "uniform", "low": 2, "high": 4}, "slots_per_rep": 6,
               "hires": [{"date": "2027-03-01", "count": 2}], "attrition": 0.25},
    }
    raw["stages"][0]["worked_by"] = "sdr"
    raw["stages"][0]["patience"] = {"dist": "gamma", "mean": 3, "cv": 1.0}
    raw["stages"][1]["worked_by"] = "ae"
    raw["stages"][2]["worked_by"] = "ae"
    raw["stages"][2]["patience"] = {"dist": "empirical", "values": [2, 10, 40]}
    return validate(raw)


def test_conservation_and_determinism_with_pools(pooled_all_features):
    ds = se.simulate(pooled_all_features, draws=12, seed=8, progress=False, threads=2,
                     chunk_draws=5)
    assert np.all(conservation_gap(ds) == 0)
    assert float(ds.abandoned.sum()) > 0 and float(ds.queue_wait.max()) > 0
    again = se.simulate(pooled_all_features, draws=12, seed=8, progress=False, threads=1,
                        chunk_draws=12)
    xr.testing.assert_identical(_strip(ds), _strip(again))


def test_ample_capacity_gives_the_fast_path(all_features_path, pooled_all_features):
    import yaml

    raw = yaml.safe_load(Path(all_features_path).read_text())
    fast = se.simulate(validate(raw), draws=6, seed=1, progress=False)
    raw["pools"] = {"big": {"headcount": 1000, "slots_per_rep": 100}}
    for st in raw["stages"]:
        st["worked_by"] = "big"
    slow = se.simulate(validate(raw), draws=6, seed=1, progress=False)
    for v in ("won", "arrivals", "entered", "exited_lost", "exited_no_decision", "pipeline",
              "open_at_end", "recycled", "reached", "nurture", "initial_pipeline"):
        np.testing.assert_array_equal(fast[v].values, slow[v].values, err_msg=v)
    np.testing.assert_allclose(fast.revenue, slow.revenue, rtol=1e-12)
    assert float(slow.queue_wait.max()) == 0


def test_tandem_network_agrees_with_ciw():
    ciw = pytest.importorskip("ciw")
    lam, days, warm = 2.0, 400, 50
    s1 = {"mean": 1.2, "cv": 0.5, "c": 3}
    s2 = {"mean": 0.8, "cv": 0.8, "c": 2}
    raw = {"name": "tandem", "horizon": {"start": "2027-01-01", "days": days},
           "deal_value": 1.0,
           "stages": [{"name": "one", "worked_by": "p1", "next": {"two": 1.0},
                       "dwell": {"dist": "lognormal", "mean": s1["mean"], "cv": s1["cv"]}},
                      {"name": "two", "worked_by": "p2", "next": {"won": 1.0},
                       "dwell": {"dist": "lognormal", "mean": s2["mean"], "cv": s2["cv"]}}],
           "pools": {"p1": {"headcount": s1["c"]}, "p2": {"headcount": s2["c"]}},
           "campaigns": [{"name": "c", "enters": "one",
                          "schedule": {"start": "2027-01-01", "end": "2028-12-31"},
                          "volume": {"leads": lam * 731}}]}
    ds = se.simulate(validate(raw), draws=12, seed=6, progress=False, trace=2000)
    tr = ds.trace.values
    ours, ours_means = [], []
    for d in range(tr.shape[0]):
        rows = tr[d][(tr[d, :, 0] >= warm) & (tr[d, :, 2] == -1)]
        ours.append((rows[:, 1] - rows[:, 0])[::10])  # thinned: waits are autocorrelated
        ours_means.append((rows[:, 1] - rows[:, 0]).mean())

    def lognormal(m, cv):
        sigma = math.sqrt(math.log1p(cv * cv))
        return ciw.dists.Lognormal(math.log(m) - sigma * sigma / 2, sigma)

    theirs, theirs_means = [], []
    for rep in range(12):
        net = ciw.create_network(
            arrival_distributions=[ciw.dists.Exponential(lam), None],
            service_distributions=[lognormal(s1["mean"], s1["cv"]),
                                   lognormal(s2["mean"], s2["cv"])],
            number_of_servers=[s1["c"], s2["c"]],
            routing=[[0.0, 1.0], [0.0, 0.0]])
        ciw.seed(rep)
        q = ciw.Simulation(net)
        q.simulate_until_max_time(days)
        recs = q.get_all_records()
        first = {}
        for r in recs:
            if r.node == 1:
                first[r.id_number] = r.arrival_date
        t = np.array([r.exit_date - first[r.id_number] for r in recs
                      if r.node == 2 and first.get(r.id_number, -1) >= warm
                      and r.exit_date < days])
        theirs.append(t[::10])
        theirs_means.append(t.mean())
    m1, se1 = _mean_se(ours_means)
    m2, se2 = _mean_se(theirs_means)
    assert abs(m1 - m2) < 4 * math.hypot(se1, se2), (m1, m2, se1, se2)
    ks = stats.ks_2samp(np.concatenate(ours), np.concatenate(theirs))
    assert ks.pvalue > 1e-3, ks
