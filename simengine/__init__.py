"""simengine: a numba-accelerated Monte Carlo engine for B2B demand generation.

>>> import simengine as se
>>> sc = se.load_scenario("scenarios/baseline.yaml")
>>> ds = se.simulate(sc, draws=200, seed=42, progress=False)
>>> 0.0 <= se.prob_goal(ds).p <= 1.0
True
"""

from simengine._version import __version__
from simengine.analysis import GoalProbability, Summary, prob_goal, summarize
from simengine.analysis import GoalSeekResult, SensitivityResult, compare, goal_seek, sensitivity
from simengine.analysis import OptimizeResult, optimize
from simengine.api import simulate
from simengine.calibrate import calibrate
from simengine.dataset import load, save
from simengine.errors import RunSizeError, ScenarioError, SimEngineError
from simengine.scenario import Scenario, load_scenario, to_yaml, with_values
from simengine import plot  # noqa: E402  (after the API it draws)
from simengine.report import report  # noqa: E402  (the function; simengine.report the package)

__all__ = ["__version__", "load_scenario", "simulate", "summarize", "prob_goal", "save", "load",
           "Scenario", "ScenarioError", "SimEngineError", "RunSizeError", "GoalProbability",
           "Summary", "with_values", "to_yaml", "plot", "report", "calibrate"]
__all__ += ["compare", "goal_seek", "sensitivity", "GoalSeekResult", "SensitivityResult"]
__all__ += ["optimize", "OptimizeResult"]
