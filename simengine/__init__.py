"""simengine: a numba-accelerated Monte Carlo engine for B2B demand generation.

>>> import simengine as se
>>> sc = se.load_scenario("scenarios/baseline.yaml")
>>> ds = se.simulate(sc, draws=200, seed=42, progress=False)
>>> 0.0 <= se.prob_goal(ds).p <= 1.0
True

The public functions and classes are re-exported here, and only here; the subpackages hold the
layers (see docs/architecture.md). Each name is imported on first use, so that a command that
only validates a scenario does not pay for numba, xarray or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from simengine._version import __version__
from simengine.errors import RunSizeError, ScenarioError, SimEngineError

# public name -> the module that defines it
_HOME = {
    "load_scenario": "simengine.scenario.loader",
    "to_yaml": "simengine.scenario.loader",
    "with_values": "simengine.scenario.loader",
    "Scenario": "simengine.scenario.model",
    "simulate": "simengine.api",
    "resume": "simengine.api",
    "precision": "simengine.api",
    "save": "simengine.dataset",
    "load": "simengine.dataset",
    "summarize": "simengine.analysis.summary",
    "prob_goal": "simengine.analysis.summary",
    "Summary": "simengine.analysis.summary",
    "GoalProbability": "simengine.stats",
    "Precision": "simengine.stats",
    "compare": "simengine.analysis.compare",
    "goal_seek": "simengine.analysis.goal_seek",
    "GoalSeekResult": "simengine.analysis.goal_seek",
    "sensitivity": "simengine.analysis.sensitivity",
    "SensitivityResult": "simengine.analysis.sensitivity",
    "calibrate": "simengine.calibrate.core",
    "optimize": "simengine.analysis.optimize",
    "OptimizeResult": "simengine.analysis.optimize",
    "write_report": "simengine.report.document",
}
# subpackages used as namespaces: ``se.plot.fan(ds)``; ``se.report`` is the report package
_NAMESPACES = ("plot", "report")

__all__ = ["__version__", "RunSizeError", "ScenarioError", "SimEngineError", "load_scenario",
           "to_yaml", "with_values", "Scenario", "simulate", "resume", "precision", "save", "load",
           "summarize", "prob_goal", "Summary", "GoalProbability", "Precision", "compare",
           "goal_seek", "GoalSeekResult", "sensitivity", "SensitivityResult", "calibrate",
           "optimize", "OptimizeResult", "write_report", "plot", "report"]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value  # once imported, a plain attribute
        return value
    if name in _NAMESPACES:
        return importlib.import_module(f"simengine.{name}")
    raise AttributeError(f"module 'simengine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from simengine import plot, report
    from simengine.analysis.compare import compare
    from simengine.analysis.goal_seek import GoalSeekResult, goal_seek
    from simengine.analysis.optimize import OptimizeResult, optimize
    from simengine.analysis.sensitivity import SensitivityResult, sensitivity
    from simengine.analysis.summary import Summary, prob_goal, summarize
    from simengine.api import precision, resume, simulate
    from simengine.calibrate.core import calibrate
    from simengine.dataset import load, save
    from simengine.report.document import write_report
    from simengine.scenario.loader import load_scenario, to_yaml, with_values
    from simengine.scenario.model import Scenario
    from simengine.stats import GoalProbability, Precision
