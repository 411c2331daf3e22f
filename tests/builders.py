"""Small scenario builders for tests: plain dicts, validated by the real loader."""

from __future__ import annotations

import copy
from typing import Any

from simengine.scenario import validate


def funnel(stages: list[dict[str, Any]], *, days: int = 3650, campaigns=None, initial=None,
           deal_value: Any = 1000.0, **extra: Any) -> dict[str, Any]:
    raw = {
        "name": "test",
        "horizon": {"start": "2027-01-01", "days": days, "period": "quarter"},
        "deal_value": deal_value,
        "stages": copy.deepcopy(stages),
        "campaigns": copy.deepcopy(campaigns or []),
        "initial_pipeline": copy.deepcopy(initial or []),
    }
    raw.update(extra)
    return raw


def scenario(*args, **kw):
    return validate(funnel(*args, **kw))
