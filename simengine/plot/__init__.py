"""Figures. Each function returns a matplotlib Figure and takes optional Axes to draw on."""

from simengine.plot.backtest import backtest
from simengine.plot.campaigns import campaigns
from simengine.plot.capacity import capacity
from simengine.plot.decision import compare, sobol, tornado
from simengine.plot.forecast import fan, goal
from simengine.plot.frontier import frontier
from simengine.plot.funnel import funnel, pipeline
from simengine.plot.style import money, styled

KINDS = {"fan": fan, "goal": goal, "funnel": funnel, "pipeline": pipeline, "capacity": capacity,
         "campaigns": campaigns}

__all__ = ["fan", "goal", "funnel", "pipeline", "capacity", "campaigns", "backtest", "money",
           "styled", "KINDS"]
__all__ += ["compare", "tornado", "sobol"]
__all__ += ["frontier"]
