"""Compile layer: a validated Scenario as flat numeric arrays and a parameter table."""

from simengine.compile.build import INITIAL, Compiled, compile_scenario
from simengine.compile.grid import Grid, build_grid
from simengine.compile.params import ParamTable, nearest_correlation, path_key

__all__ = ["Compiled", "compile_scenario", "INITIAL", "Grid", "build_grid", "ParamTable",
           "nearest_correlation", "path_key"]
