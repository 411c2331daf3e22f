"""Analyses of results: summaries and P(goal)."""

from simengine.analysis.summary import GoalProbability, Summary, annual, prob_goal, summarize
from simengine.analysis.compare import ComparisonSummary, compare, summarize_comparison
from simengine.analysis.goal_seek import GoalSeekResult, goal_seek
from simengine.analysis.sensitivity import SensitivityResult, sensitivity
from simengine.analysis.optimize import OptimizeResult, optimize

__all__ = ["summarize", "prob_goal", "annual", "Summary", "GoalProbability"]
__all__ += ["compare", "summarize_comparison", "ComparisonSummary", "goal_seek", "GoalSeekResult",
            "sensitivity", "SensitivityResult"]
__all__ += ["optimize", "OptimizeResult"]
