"""Sensitivity analyses against known answers.

* Sobol plumbing on the Ishigami function, whose indices are known in closed form.
* Sobol indices of an additive scenario: bookings = sum of independent campaigns' arrivals
  (deal value 1, every lead won at once), each Poisson with an uncertain mean L_c. Then
  Var(bookings) = sum Var(L_c) + sum E[L_c]; the first-order and total index of L_c are
  Var(L_c) / Var (up to an interaction with the Poisson noise of order Var(sqrt L_c), below
  1e-4 here), and the total index of the process noise is sum E[L_c] / Var exactly.
* A dominant parameter is ranked first by the tornado and by Sobol.

Tolerances come from the reported intervals: |estimate - truth| < 4 x (half-width / 1.96).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import simengine as se  # noqa: E402
from simengine.analysis.sensitivity import run_design, sobol_design, sobol_indices  # noqa: E402
from simengine.cli import main  # noqa: E402
from simengine.scenario import validate  # noqa: E402

K_SIGMA = 4 / 1.96  # tolerance in units of the reported 95 % half-width

LEADS = {"c1": (200, 1800), "c2": (500, 1500), "c3": (900, 1100)}


def additive() -> dict:
    return {
        "name": "additive",
        "horizon": {"start": "2027-01-01", "days": 365, "period": "quarter"},
        "deal_value": 1.0,
        "goal": {"revenue": 3000},
        "stages": [{"name": "deal", "dwell": 0.0, "next": {"won": 1.0}}],
        "campaigns": [{"name": c, "enters": "deal",
                       "schedule": {"start": "2027-01-01", "end": "2027-06-30"},
                       "volume": {"leads": {"dist": "uniform", "low": lo, "high": hi}}}
                      for c, (lo, hi) in LEADS.items()],
    }


def dominant() -> dict:
    """Lead volume uniform on [300, 1700] dwarfs two conversion rates known to +-2 points, a
    +-10 % deal value and a risk event."""
    return {
        "name": "dominant",
        "horizon": {"start": "2027-01-01", "days": 365, "period": "quarter"},
        "deal_value": {"dist": "lognormal", "mean": {"dist": "uniform", "low": 900,
                                                     "high": 1100}, "cv": 0.3},
        "goal": {"revenue": 200_000},
        "stages": [{"name": "lead", "dwell": 1.0,
                    "next": {"deal": {"dist": "beta", "mean": 0.5, "sd": 0.02}}},
                   {"name": "deal", "dwell": 2.0,
                    "next": {"won": {"dist": "beta", "mean": 0.4, "sd": 0.02}}}],
        "campaigns": [{"name": "main", "enters": "lead",
                       "schedule": {"start": "2027-01-01", "end": "2027-06-30"},
                       "volume": {"leads": {"dist": "uniform", "low": 300, "high": 1700}},
                       "cost": {"per_lead": 50}}],
        "friction": [{"name": "shock", "probability": 0.3, "stages": ["deal"],
                      "start": "2027-03-01", "days": 60, "lost": 0.2}],
    }


def _close(est, conf, truth):
    return abs(est - truth) < K_SIGMA * conf + 1e-12


def test_sobol_plumbing_on_the_ishigami_function():
    a, b = 7.0, 0.1
    V = a**2 / 8 + b * np.pi**4 / 5 + b**2 * np.pi**8 / 18 + 0.5
    V1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    V2 = a**2 / 8
    V13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    s1, st = np.array([V1, V2, 0]) / V, np.array([V1 + V13, V2, V13]) / V

    def ishigami(block, u):
        x = -np.pi + 2 * np.pi * u
        return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])

    d = sobol_design([("x1", 1), ("x2", 1), ("x3", 1)], 2048, seed=3)
    assert d.blocks.shape == (2048, 5, 3)
    t = sobol_indices(d, run_design(d, ishigami), seed=3)
    for i in range(3):
        assert _close(t.S1[i], t.S1_conf[i], s1[i]), (i, t.S1[i], s1[i])
        assert _close(t.ST[i], t.ST_conf[i], st[i]), (i, t.ST[i], st[i])
    # a unit of two columns is analysed as one factor: x1 with x3 explains V1 + V13
    d2 = sobol_design([("x13", 2), ("x2", 1)], 2048, seed=4)
    t2 = sobol_indices(d2, run_design(d2, lambda blk, u: ishigami(blk, u[:, [0, 2, 1]])),
                       seed=4)
    assert _close(t2.S1[0], t2.S1_conf[0], (V1 + V13) / V)
    assert _close(t2.ST[1], t2.ST_conf[1], V2 / V)


def test_sobol_design_rounds_to_a_power_of_two_and_layout():
    d = sobol_design([("a", 1), ("b", 2)], 100, seed=0)
    assert d.n == 128 and d.blocks.shape == (128, 4, 3)
    # A_B^i takes unit i's columns from B and the rest from A
    A, ab_b, B = d.blocks[:, 0], d.blocks[:, 2], d.blocks[:, 3]
    np.testing.assert_array_equal(ab_b[:, 0], A[:, 0])
    np.testing.assert_array_equal(ab_b[:, 1:], B[:, 1:])


@pytest.fixture(scope="module")
def additive_sobol():
    return se.sensitivity(validate(additive()), "sobol", draws=1024, seed=5,
                          groups={"big": ["campaigns.c1.*", "campaigns.c2.*"]})


def test_sobol_indices_of_an_additive_scenario_match_the_analytic_values(additive_sobol):
    var = {c: (hi - lo) ** 2 / 12 for c, (lo, hi) in LEADS.items()}
    mean = {c: (hi + lo) / 2 for c, (lo, hi) in LEADS.items()}
    V = sum(var.values()) + sum(mean.values())
    t = additive_sobol.table
    p = t[t.level == "parameter"].set_index("factor")
    for c in LEADS:
        r = p.loc[f"campaigns.{c}.volume.leads"]
        assert _close(r.S1, r.S1_conf, var[c] / V), (c, r.S1, var[c] / V, r.S1_conf)
        assert _close(r.ST, r.ST_conf, var[c] / V), (c, r.ST, var[c] / V, r.ST_conf)
    noise = p.loc["process noise"]
    assert _close(noise.ST, noise.ST_conf, sum(mean.values()) / V)
    g = t[t.level == "group"].set_index("factor")
    big = g.loc["big"]
    assert _close(big.S1, big.S1_conf, (var["c1"] + var["c2"]) / V)
    assert _close(big.ST, big.ST_conf, (var["c1"] + var["c2"]) / V)
    assert g.loc["demand", "members"] == "campaigns.c3.volume.leads"
    # the design really varied the inputs: the variance over the design is the analytic one
    assert additive_sobol.base["variance_parameter"] == pytest.approx(V, rel=0.1)
    assert additive_sobol.simulated == (6 + 5) * 1024  # (units + 2) blocks per level


@pytest.fixture(scope="module")
def dom():
    return validate(dominant())


@pytest.fixture(scope="module")
def dom_tornado(dom):
    return se.sensitivity(dom, "tornado", draws=300, seed=2)


def test_a_dominant_parameter_is_ranked_first_by_the_tornado(dom_tornado):
    t = dom_tornado.table
    assert t.factor.iloc[0] == "campaigns.main.volume.leads"
    first, second = t.iloc[0], t.iloc[1]
    # by more than its Monte Carlo error (paired bootstrap of the P50 swing)
    gap = abs(first.p50_swing) - abs(second.p50_swing)
    assert gap > 4 * np.hypot(first.p50_swing_se, second.p50_swing_se)
    assert first.low == pytest.approx(440) and first.high == pytest.approx(1560)  # P10, P90
    assert first.p_goal_high > dom_tornado.base["p_goal"] > first.p_goal_low
    assert list(t.p50_swing.abs()) == sorted(t.p50_swing.abs(), reverse=True)
    ev = t.set_index("factor").loc["friction.shock.occurs"]
    assert (ev.low, ev.high, ev.kind) == (0.0, 1.0, "event")
    assert ev.p50_swing < 0  # the shock always happening costs bookings


def test_a_dominant_parameter_is_ranked_first_by_sobol(dom):
    r = se.sensitivity(dom, "sobol", draws=256, seed=2, level="parameter")
    p = r.table
    assert p.factor.iloc[0] == "campaigns.main.volume.leads"
    lead, rest = p.iloc[0], p.iloc[1:]
    assert lead.ST - K_SIGMA * lead.ST_conf > (rest.ST + K_SIGMA * rest.ST_conf).max()
    assert r.ranking()[0] == "campaigns.main.volume.leads"


def test_tornado_of_fixed_parameters_swings_twenty_percent(dom):
    r = se.sensitivity(dom, "tornado", ["campaigns.main.cost.per_lead", "stages.lead.dwell.value"],
                       draws=40, seed=1)
    t = r.table.set_index("factor")
    assert (t.loc["campaigns.main.cost.per_lead", "low"],
            t.loc["campaigns.main.cost.per_lead", "high"]) == pytest.approx((40, 60))
    # spend does not book anything: on common random numbers the swing is exactly zero
    assert t.loc["campaigns.main.cost.per_lead", "p50_swing"] == 0
    assert r.simulated == 40 * 5


def test_correlated_parameters_are_one_sobol_factor():
    raw = dominant()
    raw["correlations"] = [{"between": ["stages.lead.next.deal", "stages.deal.next.won"],
                            "rho": 0.7}]
    sc = validate(raw)
    r = se.sensitivity(sc, "sobol", ["stages.deal.next.won"], draws=64, seed=1,
                       level="parameter")
    assert set(r.table.factor) == {"stages.lead.next.deal + stages.deal.next.won",
                                   "process noise"}
    assert r.notes and "correlated" in r.notes[0]
    with pytest.raises(se.SimEngineError, match="at least two factors"):
        se.sensitivity(sc, "sobol", ["stages.deal.next.won"], draws=8, noise=False)


ERRORS = [
    ({"method": "morris"}, r"method: expected one of tornado, sobol, found 'morris'"),
    ({"params": ["stages.nope.next.won"]}, r"params stages.nope.next.won: expected a "
     r"parameter path of the scenario"),
    ({"params": ["friction.nope.occurs"]}, r"params friction.nope.occurs: expected a risk "
     r"event, one of friction.shock.occurs"),
    ({"method": "sobol", "level": "stage"}, r"level: expected both, parameter or group"),
    ({"spread": 2}, r"spread: expected a fraction in \(0, 1\), found 2"),
    ({"colour": 1}, r"tornado: unknown option\(s\) colour"),
    ({"groups": {"a": ["x"]}}, r"groups: only the Sobol method groups factors"),
]


@pytest.mark.parametrize("kw,message", ERRORS)
def test_refuses_clearly(dom, kw, message):
    with pytest.raises(se.SimEngineError, match=message):
        se.sensitivity(dom, draws=8, **kw)


def test_plots_render(dom_tornado, additive_sobol):
    fig = se.plot.tornado(dom_tornado)
    assert all(ax.has_data() for ax in fig.axes if ax.get_visible())
    plt.close(fig)
    fig = se.plot.sobol(additive_sobol)
    assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
    plt.close(fig)
    fig = se.plot.sobol(additive_sobol, output="goal")
    plt.close(fig)
    with pytest.raises(se.SimEngineError, match="expected a tornado result"):
        se.plot.tornado(additive_sobol)
    with pytest.raises(se.SimEngineError, match="expected a Sobol result"):
        se.plot.sobol(dom_tornado)


def test_cli_sensitivity(dom, tmp_path, capsys):
    path = tmp_path / "dominant.yaml"
    path.write_text(se.to_yaml(dom))
    code = main(["sensitivity", str(path), "-n", "30", "--plot", str(tmp_path / "t.png")])
    text = capsys.readouterr().out
    assert code == 0, text
    flat = " ".join(text.split())  # rich wraps long lines
    assert "tornado on common random numbers" in flat and "never" in flat and "always" in flat
    assert (tmp_path / "t.png").stat().st_size > 10_000
    code = main(["sensitivity", str(path), "--method", "sobol", "-n", "16", "--level", "group",
                 "--group", "volume=campaigns.*"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "Sobol indices by group" in " ".join(text.split()) and "volume" in text
    assert main(["sensitivity", str(path), "--params", "nope.x", "-n", "4"]) == 2
