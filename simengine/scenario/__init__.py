"""Scenario layer: the YAML format as typed, validated, immutable objects."""

from simengine.scenario.loader import (
    canonical_json,
    load_scenario,
    scenario_sha256,
    to_raw,
    to_yaml,
    validate,
    with_values,
)
from simengine.scenario.model import Scenario

__all__ = ["Scenario", "load_scenario", "validate", "with_values", "to_raw", "to_yaml",
           "canonical_json", "scenario_sha256"]
