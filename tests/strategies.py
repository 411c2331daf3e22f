"""Hypothesis strategies that build scenario mappings: mostly valid, sometimes not."""

from __future__ import annotations

from hypothesis import strategies as st

prob = st.floats(0, 1, allow_nan=False)
small_prob = st.floats(0, 0.6, allow_nan=False)


def dist_positive():
    return st.one_of(
        st.floats(0.1, 30),
        st.builds(lambda m, cv: {"dist": "lognormal", "mean": m, "cv": cv},
                  st.floats(0.5, 30), st.floats(0.1, 2)),
        st.builds(lambda m, cv: {"dist": "gamma", "mean": m, "cv": cv},
                  st.floats(0.5, 30), st.floats(0.1, 2)),
        st.builds(lambda m: {"dist": "exponential", "mean": m}, st.floats(0.5, 30)),
        st.builds(lambda a, b: {"dist": "uniform", "low": a, "high": a + b},
                  st.floats(0, 10), st.floats(0.1, 10)),
        st.builds(lambda a, b, c: {"dist": "pert", "low": a, "mode": a + b, "high": a + b + c},
                  st.floats(0, 10), st.floats(0, 5), st.floats(0.1, 5)),
        st.builds(lambda k, s: {"dist": "weibull", "shape": k, "scale": s},
                  st.floats(0.5, 3), st.floats(0.5, 20)),
        st.builds(lambda vs: {"dist": "empirical", "values": vs},
                  st.lists(st.floats(0, 40), min_size=1, max_size=4)),
    )


def dist_prob():
    return st.one_of(
        small_prob,
        st.builds(lambda m, f: {"dist": "beta", "mean": m, "sd": f * (m * (1 - m)) ** 0.5},
                  st.floats(0.05, 0.6), st.floats(0.05, 0.9)),
        st.builds(lambda a, b: {"dist": "uniform", "low": a, "high": a + b},
                  st.floats(0, 0.3), st.floats(0.01, 0.3)),
        prob,  # may break a sum-to-one rule: the loader must say so, not crash
    )


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 4))
    names = [f"s{i}" for i in range(n)]
    stages = []
    for i, name in enumerate(names):
        stage = {"name": name, "dwell": draw(dist_positive())}
        targets = names[i + 1:] + ["won"]
        nxt = draw(st.lists(st.sampled_from(targets), min_size=0, max_size=2, unique=True))
        stage["next"] = {t: draw(dist_prob()) for t in nxt}
        if draw(st.booleans()):
            stage["no_decision"] = draw(small_prob)
        if draw(st.integers(0, 4)) == 0:
            stage["recycle"] = {"p": draw(st.floats(0, 0.3)), "to": draw(st.sampled_from(names)),
                                "delay": draw(dist_positive())}
        stages.append(stage)
    campaigns = []
    for c in range(draw(st.integers(0, 2))):
        start = draw(st.integers(1, 9))
        campaigns.append({
            "name": f"c{c}", "enters": draw(st.sampled_from(names)),
            "schedule": {"start": f"2027-{start:02d}-01", "end": f"2027-{start + 2:02d}-28"},
            "volume": draw(st.one_of(
                st.builds(lambda x: {"leads": x}, st.floats(1, 400)),
                st.builds(lambda b, c: {"budget": b, "cost_per_lead": c},
                          st.floats(100, 10000), st.floats(10, 200)),
                st.builds(lambda a, r: {"audience": a, "response_rate": r},
                          st.floats(10, 5000), dist_prob()))),
            "quality": draw(st.floats(0.5, 1.5)),
        })
    initial = [{"stage": draw(st.sampled_from(names)), "count": draw(st.integers(0, 30)),
                "age": draw(dist_positive())} for _ in range(draw(st.integers(0, 2)))]
    friction = []
    if draw(st.booleans()):
        friction.append({"name": "f", "stages": [draw(st.sampled_from(names))],
                         "probability": draw(prob), "start": "2027-03-01",
                         "days": draw(st.floats(1, 200)), "dwell": draw(st.floats(0.5, 3)),
                         "no_decision": draw(small_prob), "lost": draw(small_prob)})
    return {
        "name": "generated",
        "horizon": {"start": "2027-01-01", "days": draw(st.integers(30, 400)),
                    "period": draw(st.sampled_from(["week", "month", "quarter"]))},
        "deal_value": draw(dist_positive()),
        "stages": stages, "campaigns": campaigns, "initial_pipeline": initial,
        "friction": friction,
    }
