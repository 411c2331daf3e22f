"""The what-if explorer: move a lever, see the chance of reaching the goal move, in the browser.

- :mod:`~simengine.explore.levers`: which parameter paths are levers, their labels and ranges;
- :mod:`~simengine.explore.session`: the scenario as loaded, a setting's outcome on common
  random numbers, save as scenario, export the report (no browser needed);
- :mod:`~simengine.explore.runner`: the newest setting runs, older runs are superseded;
- :mod:`~simengine.explore.server`: address, token and the Panel server;
- :mod:`~simengine.explore.app`: the page (Panel and Bokeh; the ``app`` extra).

Only ``server`` and ``app`` need Panel; everything else is plain simengine.
"""

DEFAULT_DRAWS = 625  # draws per update: the standard error of P(goal) is at most 2 points
