"""Calibration: fit a scenario to a CRM export, and back-test its forecasts.

``read`` turns an export into stage visits, ``fit`` holds the censored likelihoods, ``cohorts``
and ``level`` the drift between cohorts and the arrival level, ``core`` estimates everything at a
cut-off, ``emit`` writes the scenario YAML with comments, ``benchmarks`` and ``backtest`` score
forecasts made at past dates. Import from the submodules; ``se.calibrate(...)`` is the function.
"""

import sys
import types


class _Package(types.ModuleType):
    """The package, callable as the function it is named after.

    ``simengine.calibrate`` is the public function :func:`simengine.calibrate.core.calibrate`;
    importing any submodule makes Python bind the package itself to that attribute of
    ``simengine``. Calling the package calls the function, so ``se.calibrate(...)`` works
    whichever of the two the name holds.
    """

    def __call__(self, *args, **kwargs):
        from simengine.calibrate.core import calibrate

        return calibrate(*args, **kwargs)


sys.modules[__name__].__class__ = _Package
