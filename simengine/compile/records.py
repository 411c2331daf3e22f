"""The compiled scenario's sections as small frozen records: the arrays one section builder
(``simengine.compile.build``) returns. ``Compiled`` inherits every section, so each array is
declared once, here, and read flat (``cs.dwell_slot``) or as its record
(``cs.section(StageArrays)``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class StageArrays:
    """The stages section: S stages, K next targets at most, D days."""

    dwell_slot: np.ndarray  # (S,)
    next_target: np.ndarray  # (S, K) stage index or codes.WON
    next_col: np.ndarray  # (S, K)
    n_next: np.ndarray  # (S,)
    nd_col: np.ndarray  # (S,)
    rc_col: np.ndarray  # (S,) -1 when no recycle
    rc_to: np.ndarray  # (S,)
    delay_slot: np.ndarray  # (S,)
    in_pipeline_value: np.ndarray  # (S,) 1 when open prospects count in pipeline_value
    calendar: np.ndarray  # (S, D) static clock speed
    nd_from_advance: np.ndarray  # (S,) 1 where no decision is taken from next



@dataclass(frozen=True, kw_only=True)
class SegmentArrays:
    """The segments section: G segments."""

    value_slot: np.ndarray  # (G,)
    adv_col: np.ndarray  # (G, S)
    dwell_mult_col: np.ndarray  # (G, S)



@dataclass(frozen=True, kw_only=True)
class CampaignArrays:
    """The campaigns section: C campaigns (the initial pipeline is route source C on)."""

    camp_enters: np.ndarray  # (C,)
    camp_shape: np.ndarray  # (C, D) share of the volume arriving each day
    camp_first_day: np.ndarray  # (C,) first day with arrivals
    camp_last_day: np.ndarray  # (C,) last day with arrivals + 1
    vol_kind: np.ndarray  # (C,)
    vol_cols: np.ndarray  # (C, 2)
    quality_col: np.ndarray  # (C,)
    camp_mix_cum: np.ndarray  # (C, G)
    cost_fixed_col: np.ndarray  # (C,)
    cost_per_lead_col: np.ndarray  # (C,)
    camp_key: np.ndarray  # (C,) uint64



@dataclass(frozen=True, kw_only=True)
class InitialArrays:
    """The initial_pipeline section (I entries) and the warm start (W entries: one per stage
    without an initial_pipeline entry and campaign; route sources C + I + w)."""

    init_stage: np.ndarray  # (I,)
    init_count_col: np.ndarray  # (I,)
    init_age_slot: np.ndarray  # (I,) -1 when age 0
    init_mix_cum: np.ndarray  # (I, G)
    init_key: np.ndarray  # (I,) uint64
    init_quality_col: np.ndarray  # (I,)
    init_dwell_col: np.ndarray  # (I,)
    warm_stage: np.ndarray  # (W,)
    warm_camp: np.ndarray  # (W,)
    warm_key: np.ndarray  # (W,) uint64



@dataclass(frozen=True, kw_only=True)
class FrictionArrays:
    """The friction section: F windows."""

    fr_prob_col: np.ndarray  # (F,)
    fr_start_col: np.ndarray  # (F,) day offset of the start
    fr_len_col: np.ndarray  # (F,) -1 when an end date is given
    fr_end_day: np.ndarray  # (F,) end day (exclusive) when given, else nan
    fr_dwell_col: np.ndarray
    fr_nd_col: np.ndarray
    fr_lost_col: np.ndarray
    fr_cost_col: np.ndarray
    fr_stages: np.ndarray  # (F, S) 0/1
    fr_key: np.ndarray  # (F,) uint64



@dataclass(frozen=True, kw_only=True)
class PoolArrays:
    """The pools section (the capacity path): NP pools, H dated hires at most per pool."""

    pool_names: tuple[str, ...]
    stage_pool: np.ndarray  # (S,) pool working the stage, -1 when none
    patience_slot: np.ndarray  # (S,) per-prospect distribution slot of patience, -1 when none
    camp_priority: np.ndarray  # (C + 1,) codes.INBOUND / OUTBOUND; the open pipeline inbound
    pool_key: np.ndarray  # (NP,) uint64
    pool_slots: np.ndarray  # (NP,)
    pool_ramp_days: np.ndarray  # (NP,)
    pool_ramp_start: np.ndarray  # (NP,)
    pool_lag: np.ndarray  # (NP,)
    pool_headcount_col: np.ndarray  # (NP,)
    pool_selling_col: np.ndarray  # (NP,)
    pool_attrition_col: np.ndarray  # (NP,)
    pool_cost_col: np.ndarray  # (NP,)
    hire_day: np.ndarray  # (NP, H)
    hire_col: np.ndarray  # (NP, H)
