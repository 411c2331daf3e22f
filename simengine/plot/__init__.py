"""Figures. Each function returns a matplotlib Figure and takes optional Axes to draw on."""

from simengine.plot.forecast import fan, goal
from simengine.plot.funnel import funnel, pipeline
from simengine.plot.style import money, styled

KINDS = {"fan": fan, "goal": goal, "funnel": funnel, "pipeline": pipeline}

__all__ = ["fan", "goal", "funnel", "pipeline", "money", "styled", "KINDS"]
