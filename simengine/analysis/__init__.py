"""Analyses of results: summaries and P(goal)."""

from simengine.analysis.summary import GoalProbability, Summary, annual, prob_goal, summarize

__all__ = ["summarize", "prob_goal", "annual", "Summary", "GoalProbability"]
