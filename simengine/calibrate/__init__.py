"""Calibration: fit a scenario to a CRM export, and back-test its forecasts (DESIGN section 6).

``read`` turns an export into stage visits, ``fit`` holds the censored likelihoods, ``emit``
writes the scenario YAML with comments, ``backtest`` scores forecasts made at past dates.
"""

from simengine.calibrate.backtest import BacktestResult, backtest, crps_sample
from simengine.calibrate.core import CalibrationResult, calibrate
from simengine.calibrate.read import CalibrationError, History, cut, read

__all__ = ["calibrate", "CalibrationResult", "backtest", "BacktestResult", "crps_sample",
           "CalibrationError", "History", "read", "cut"]
