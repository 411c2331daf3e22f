"""Shared fixtures and the hypothesis profile (deadline off: the first call JIT-compiles)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
TEST_SCENARIOS = Path(__file__).resolve().parent / "scenarios"

settings.register_profile("ci", deadline=None, max_examples=40, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=15,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _run_from_root(monkeypatch):
    """Paths in tests and docstrings are relative to the repository root."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def all_features_path() -> Path:
    return TEST_SCENARIOS / "all_features.yaml"
