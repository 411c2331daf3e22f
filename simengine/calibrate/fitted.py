"""What calibration estimated, before it is written as a scenario (shared by the estimation in
:mod:`simengine.calibrate.core` and the writer in :mod:`simengine.calibrate.emit`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from simengine.calibrate.arrivals import ArrivalFit
from simengine.calibrate.clock import Clock
from simengine.calibrate.cohorts import CohortFit
from simengine.calibrate.level import LevelFit
from simengine.calibrate.read import History
from simengine.calibrate.stage_model import Episodes, StageFit
from simengine.calibrate.values import ValueFit


@dataclass
class Fitted:
    """Everything estimated, before it is written as a scenario."""

    history: History
    as_of: pd.Timestamp
    observed_from: pd.Timestamp
    truncated: bool
    stages: list[str]
    stage_fits: dict[str, StageFit]
    episodes: dict[str, Episodes]
    stale_after: dict[str, float | None]
    open_visits: dict[str, pd.DataFrame]  # per stage: open at the cut-off, not stale
    stale_counts: dict[str, int]
    values: dict[str, ValueFit]  # scenario segment -> fit
    segment_of: dict[str, str]  # raw segment label -> scenario segment
    won_mix: dict[str, float]
    arrivals: dict[str, ArrivalFit]  # entry stage -> fit
    clock: Clock
    cohorts: dict[str, CohortFit] = field(default_factory=dict)  # stage -> cohort effects
    levels: dict[str, LevelFit] = field(default_factory=dict)  # entry stage -> arrival level
    quarters_seen: int = 0  # fewest times any month of the quarter was seen (clock shrinkage)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
