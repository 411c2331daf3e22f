"""Figures. Each function returns a matplotlib Figure and takes optional Axes to draw on.

``se.plot.fan(ds)``; the functions live in :mod:`~simengine.plot.forecast` (fan, goal),
:mod:`~simengine.plot.stages` (funnel, pipeline), :mod:`~simengine.plot.pools` (capacity),
:mod:`~simengine.plot.sources` (campaigns), :mod:`~simengine.plot.decision` (compare, tornado,
sobol), :mod:`~simengine.plot.plans` (frontier) and :mod:`~simengine.plot.history`
(backtest), one style in :mod:`~simengine.plot.style`. Each is imported on first use (a
figure of a saved result does not load the engine).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

# figure name -> the module that draws it
_HOME = {
    "fan": "simengine.plot.forecast",
    "goal": "simengine.plot.forecast",
    "funnel": "simengine.plot.stages",
    "pipeline": "simengine.plot.stages",
    "capacity": "simengine.plot.pools",
    "campaigns": "simengine.plot.sources",
    "backtest": "simengine.plot.history",
    "compare": "simengine.plot.decision",
    "tornado": "simengine.plot.decision",
    "sobol": "simengine.plot.decision",
    "frontier": "simengine.plot.plans",
    "styled": "simengine.plot.style",
    "money": "simengine.fmt",
}


class _Kinds(Mapping):
    """The figures of one result, by the name ``simengine plot --kind`` takes."""

    names = ("fan", "goal", "funnel", "pipeline", "capacity", "campaigns")

    def __getitem__(self, kind: str):
        if kind not in self.names:
            raise KeyError(kind)
        return __getattr__(kind)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


KINDS = _Kinds()

__all__ = [*_HOME, "KINDS"]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'simengine.plot' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
