"""Loading: extends, --set overrides (numbers, dates, distributions), parameter paths, and the
YAML <-> model round trip."""

from __future__ import annotations

import pytest

import simengine as se
from simengine.errors import ScenarioError
from simengine.scenario import to_raw, to_yaml, validate
from simengine.scenario.distributions import Beta, Fixed
from simengine.scenario.paths import split


def test_stress_extends_the_baseline_key_by_key():
    base = se.load_scenario("scenarios/baseline.yaml")
    stress = se.load_scenario("scenarios/stress.yaml")
    assert stress.name == "fy2027-stress"
    web = {c.name: c for c in stress.campaigns}["webinar-series"]
    assert web.volume.cost_per_lead.mean_.value == 85  # overridden
    assert web.quality.value == 0.85
    assert web.schedule == {c.name: c for c in base.campaigns}["webinar-series"].schedule  # kept
    assert [c.name for c in stress.campaigns] == [c.name for c in base.campaigns]
    fr = {f.name: f for f in stress.friction}
    assert fr["recession"].probability.value == 0.45 and fr["recession"].dwell.value == 1.5
    assert stress.stages == base.stages


def test_set_overrides_numbers_dates_and_distributions():
    sc = se.load_scenario("scenarios/baseline.yaml", [
        "goal.revenue=2e7", "horizon.start=2027-04-01",
        "stages.mql.next.sal={dist: beta, mean: 0.5, sd: 0.04}",
        "campaigns.webinar-series.volume.budget=300000",
    ])
    assert sc.goal.revenue == 2e7
    assert str(sc.horizon.start) == "2027-04-01"
    assert sc.stages[1].next["sal"] == Beta(dist="beta", mean=0.5, sd=0.04)
    assert sc.campaigns[0].volume.budget == Fixed(value=300000)


def test_with_values_is_the_api_form_of_set():
    sc = se.load_scenario("scenarios/baseline.yaml")
    sc2 = se.with_values(sc, {"segments.smb.dwell": 0.8})
    assert sc2.segments["smb"].dwell.value == 0.8
    with pytest.raises(ScenarioError, match="segments.nope"):
        se.with_values(sc, {"segments.nope.dwell": 0.8})


def test_yaml_round_trip_gives_the_same_scenario():
    sc = se.load_scenario("tests/scenarios/all_features.yaml")
    import yaml

    again = validate(yaml.safe_load(to_yaml(sc)))
    assert to_raw(again) == {k: v for k, v in to_raw(sc).items()}


@pytest.mark.parametrize("path,parts", [
    ("stages.mql.next.sal", ["stages", "mql", "next", "sal"]),
    ("initial_pipeline[0].age.high", ["initial_pipeline", 0, "age", "high"]),
    ("campaigns.webinar-series.volume.budget", ["campaigns", "webinar-series", "volume",
                                                "budget"]),
])
def test_parameter_paths(path, parts):
    assert split(path) == parts


@pytest.mark.parametrize("bad", ["", ".a", "a..b", "a.b.", "a[x]"])
def test_bad_parameter_paths(bad):
    with pytest.raises(KeyError):
        split(bad)


def test_every_uncertain_parameter_has_a_path_in_the_result():
    ds = se.simulate("scenarios/baseline.yaml", draws=4, seed=0, progress=False)
    params = set(ds.parameter.values)
    assert {"stages.mql.next.sal", "stages.opportunity.dwell.mean",
            "segments.midmarket.deal_value.mean", "campaigns.trade-show.volume.leads",
            "friction.recession.start", "friction.recession.days"} <= params
