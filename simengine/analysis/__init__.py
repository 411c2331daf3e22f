"""Analyses of results and of scenarios.

- :mod:`~simengine.analysis.summary`: quantile bands, P(goal) and key figures of a result;
- :mod:`~simengine.analysis.compare`: scenarios on common random numbers, paired differences;
- :mod:`~simengine.analysis.sensitivity`: tornado and Sobol' indices of the assumptions;
- :mod:`~simengine.analysis.goal_seek`: the lever value that reaches a target with a confidence;
- :mod:`~simengine.analysis.optimize`: the cheapest plan of several levers that reaches it;
- :mod:`~simengine.analysis.levers`, :mod:`~simengine.analysis.expected`: levers and the
  expected-value model the searches start from.

The public functions are re-exported by :mod:`simengine` (``se.compare``, ``se.goal_seek``...).
"""
