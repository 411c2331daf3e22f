"""Compile a Scenario into flat, typed arrays (a frozen dataclass) for the engine and kernels.

Everything that varies between draws is a column of the parameter table; everything here is
static. Dtypes are fixed once: float64 and int64, C-contiguous.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields

import numpy as np

from simengine import codes
from simengine.compile.grid import (
    Grid,
    build_grid,
    calendar_speed,
    fiscal_offset,
    schedule_shape,
)
from simengine.compile.params import ParamTable, TableBuilder, path_key
from simengine.compile.records import (
    CampaignArrays,
    FrictionArrays,
    InitialArrays,
    PoolArrays,
    SegmentArrays,
    StageArrays,
)
from simengine.errors import ScenarioError
from simengine.scenario import drift as drift_paths
from simengine.scenario import rules
from simengine.scenario.distributions import DateDist, Dist, Empirical, Fixed
from simengine.scenario.model import (
    AudienceVolume,
    BudgetVolume,
    LeadsVolume,
    Overall,
    Scenario,
)

INITIAL = "initial_pipeline"
VOL_LEADS, VOL_BUDGET, VOL_AUDIENCE = 0, 1, 2


def _i64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def _f64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


@dataclass(frozen=True, kw_only=True)
class Compiled(StageArrays, SegmentArrays, CampaignArrays, InitialArrays,
               FrictionArrays, PoolArrays):
    """A scenario as arrays. Shapes: S stages, K next targets, G segments, C campaigns (the
    last one is the initial pipeline), I initial-pipeline entries, F friction windows,
    N per-prospect distribution slots, D days, P periods. The sections' arrays are declared
    in their records (simengine.compile.records), which this class inherits."""

    scenario: Scenario
    grid: Grid
    params: ParamTable
    stage_names: tuple[str, ...]
    campaign_names: tuple[str, ...]
    segment_names: tuple[str, ...]
    friction_names: tuple[str, ...]
    # per-prospect distribution slots
    slot_dists: tuple[Dist, ...]
    slot_kind: np.ndarray  # (N,)
    slot_cols: np.ndarray  # (N, 4) theta columns of the user parameters, -1 unused
    emp_values: np.ndarray
    emp_cum: np.ndarray
    slot_emp: np.ndarray  # (N, 2) offset, count into the empirical tables
    goal_cum: np.ndarray  # (P,) share of the goal due by the end of each period
    # parameters that move over time: Z drift entries, T = 1 + P time slots when any moves
    # routing or dwell (slot 0: the base values; slot 1 + p: period p), else T = 1
    drift_targets: tuple = ()  # (Z,) simengine.scenario.drift.Target
    dz_model: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (Z,) codes
    dz_by: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (Z,) codes
    dz_cols: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    # (Z, 4) theta columns of sd, phi, trend, trend_sd; -1 unused
    dz_key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # (Z,)
    rt_mode: np.ndarray | None = None  # (S,) clock of each stage's routing (codes.DRIFT_*)
    dw_mode: np.ndarray | None = None  # (S,) clock of each stage's dwell
    dz_slots: int = 1  # T

    @property
    def n_stages(self) -> int:
        return len(self.stage_names)

    @property
    def n_campaigns(self) -> int:
        return len(self.camp_enters)

    def section(self, record: type):
        """The arrays of one section as its frozen record (``cs.section(StageArrays)``)."""
        return record(**{f.name: getattr(self, f.name) for f in fields(record)})


def _date_dist(v, origin: dt.date) -> Dist:
    if isinstance(v, DateDist):
        return v.to_days(origin)
    return Fixed(value=float((v - origin).days))


class _Slots:
    """The per-prospect distribution slots, in the order they are added; their per-draw
    parameters become columns of the parameter table."""

    def __init__(self, tb: TableBuilder) -> None:
        self.tb = tb
        self.dists: list[Dist] = []
        self.cols: list[list[int]] = []
        self.emp_values: list[float] = []
        self.emp_cum: list[float] = []
        self.emp: list[tuple[int, int]] = []

    def add(self, path: str, d: Dist) -> int:
        cols = [-1] * 4
        off = cnt = 0
        if isinstance(d, Empirical):
            v, cum = d.table()
            off, cnt = len(self.emp_values), len(v)
            self.emp_values.extend(v)
            self.emp_cum.extend(cum)
        else:
            for k, (pname, pv) in enumerate(d.params().items()):
                cols[k] = self.tb.add(f"{path}.{pname}", pv)
        self.dists.append(d)
        self.cols.append(cols)
        self.emp.append((off, cnt))
        return len(self.dists) - 1

    def fields(self) -> dict:
        return dict(
            slot_dists=tuple(self.dists), slot_kind=_i64([d.kind for d in self.dists]),
            slot_cols=_i64(np.array(self.cols).reshape(-1, 4)),
            emp_values=_f64(self.emp_values or [0.0]), emp_cum=_f64(self.emp_cum or [1.0]),
            slot_emp=_i64(np.array(self.emp).reshape(-1, 2)))


def _fields(rec) -> dict:
    """A record's fields by name (shallow: the arrays themselves)."""
    return {f.name: getattr(rec, f.name) for f in fields(rec)}


def build_stages(sc: Scenario, grid: Grid, tb: TableBuilder, slots: _Slots) -> StageArrays:
    stages = sc.stage_names
    S = len(stages)
    K = max(1, max(len(s.next) for s in sc.stages))
    next_target = np.zeros((S, K), np.int64)
    next_col = np.full((S, K), -1, np.int64)
    n_next = np.zeros(S, np.int64)
    nd_col, rc_col, rc_to, delay_slot, dwell_slot = (np.full(S, -1, np.int64) for _ in range(5))
    cal = np.ones((S, grid.days))
    for i, st in enumerate(sc.stages):
        base = f"stages.{st.name}"
        dwell_slot[i] = slots.add(f"{base}.dwell", st.dwell)
        for k, (target, p) in enumerate(st.next.items()):
            next_target[i, k] = codes.WON if target == "won" else stages.index(target)
            next_col[i, k] = tb.add(f"{base}.next.{target}", p)
        n_next[i] = len(st.next)
        nd_col[i] = tb.add(f"{base}.no_decision", st.no_decision)
        if st.recycle is not None:
            rc_col[i] = tb.add(f"{base}.recycle.p", st.recycle.p)
            rc_to[i] = stages.index(st.recycle.to)
            delay_slot[i] = slots.add(f"{base}.recycle.delay", st.recycle.delay)
        cal[i] = calendar_speed(st.calendar, grid, fiscal_offset(sc.horizon))
    first_pv = stages.index(sc.pipeline_from) if sc.pipeline_from else 0
    return StageArrays(
        dwell_slot=dwell_slot, next_target=next_target, next_col=next_col, n_next=n_next,
        nd_col=nd_col, rc_col=rc_col, rc_to=rc_to, delay_slot=delay_slot,
        in_pipeline_value=(np.arange(S) >= first_pv).astype(np.int64), calendar=_f64(cal),
        nd_from_advance=_i64([st.no_decision_from == "advance" for st in sc.stages]))


def _has_overall(sc: Scenario) -> bool:
    return (any(isinstance(x.advance, Overall) for x in sc.segments.values())
            or any(isinstance(c.quality, Overall) for c in sc.campaigns))


def build_segments(sc: Scenario, tb: TableBuilder, slots: _Slots,
                   seg_adv: dict[str, np.ndarray]) -> SegmentArrays:
    """``seg_adv``: the solved multiplier of each segment given in the overall form."""
    stages = sc.stage_names
    S, G = len(stages), len(sc.segments)
    value_slot = np.zeros(G, np.int64)
    adv_col = np.zeros((G, S), np.int64)
    dwell_mult_col = np.zeros((G, S), np.int64)
    shared_value = -1  # the top-level deal_value: one slot (one draw) for every segment using it
    for g, (name, seg) in enumerate(sc.segments.items()):
        base = f"segments.{name}"
        if seg.deal_value is not None:
            value_slot[g] = slots.add(f"{base}.deal_value", seg.deal_value)
        else:
            if shared_value < 0:
                shared_value = slots.add("deal_value", sc.deal_value)
            value_slot[g] = shared_value
        for key, out in (("advance", adv_col), ("dwell", dwell_mult_col)):
            mult = getattr(seg, key)
            if isinstance(mult, Overall):
                mult = Fixed(value=float(seg_adv[name][0]))
            if isinstance(mult, dict):
                for s_i, s_name in enumerate(stages):
                    out[g, s_i] = tb.add(f"{base}.{key}.{s_name}", mult.get(s_name, 1.0))
            else:
                out[g, :] = tb.add(f"{base}.{key}", mult)
    return SegmentArrays(value_slot=value_slot, adv_col=adv_col, dwell_mult_col=dwell_mult_col)


def _mix_cum(sc: Scenario, mix: dict[str, float] | None) -> np.ndarray:
    """Cumulative segment shares of a segment_mix (the segments' shares when None)."""
    G = len(sc.segments)
    shares = [s.share for s in sc.segments.values()]
    default = (np.asarray(shares, float) if all(x is not None for x in shares)
               else np.full(G, 1.0 / G))
    m = default if mix is None else np.array([mix.get(n, 0.0) for n in sc.segments])
    cum = np.cumsum(m / m.sum())
    cum[-1] = 1.0
    return cum


def build_campaigns(sc: Scenario, grid: Grid, tb: TableBuilder, camp_quality: list[float]
                    ) -> CampaignArrays:
    """``camp_quality``: the solved quality of each campaign given in the overall form."""
    stages = sc.stage_names
    G, C = len(sc.segments), len(sc.campaigns)
    camp_enters = np.zeros(C, np.int64)
    camp_shape = np.zeros((C, grid.days))
    vol_kind = np.zeros(C, np.int64)
    vol_cols = np.full((C, 2), -1, np.int64)
    quality_col, cost_fixed_col, cost_per_lead_col = (np.zeros(C, np.int64) for _ in range(3))
    camp_mix = np.zeros((C, G))
    for c, camp in enumerate(sc.campaigns):
        base = f"campaigns.{camp.name}"
        camp_enters[c] = stages.index(camp.enters)
        camp_shape[c] = schedule_shape(camp.schedule, grid)
        v = camp.volume
        if isinstance(v, LeadsVolume):
            vol_kind[c] = VOL_LEADS
            vol_cols[c, 0] = tb.add(f"{base}.volume.leads", v.leads)
        elif isinstance(v, BudgetVolume):
            vol_kind[c] = VOL_BUDGET
            vol_cols[c, 0] = tb.add(f"{base}.volume.budget", v.budget)
            vol_cols[c, 1] = tb.add(f"{base}.volume.cost_per_lead", v.cost_per_lead)
            if v.saturation is not None:  # read by engine.prepare.volumes under this path
                tb.add(f"{base}.volume.saturation", v.saturation)
        elif isinstance(v, AudienceVolume):
            vol_kind[c] = VOL_AUDIENCE
            vol_cols[c, 0] = tb.add(f"{base}.volume.audience", v.audience)
            vol_cols[c, 1] = tb.add(f"{base}.volume.response_rate", v.response_rate)
        quality = camp.quality
        if isinstance(quality, Overall):
            quality = Fixed(value=camp_quality[c])
        quality_col[c] = tb.add(f"{base}.quality", quality)
        cost_fixed_col[c] = tb.add(f"{base}.cost.fixed", camp.cost.fixed)
        cost_per_lead_col[c] = tb.add(f"{base}.cost.per_lead", camp.cost.per_lead)
        camp_mix[c] = _mix_cum(sc, camp.segment_mix)
    active = camp_shape > 0
    camp_first = np.where(active.any(1), active.argmax(1), 0)
    camp_last = np.where(active.any(1), grid.days - active[:, ::-1].argmax(1), 0)
    return CampaignArrays(
        camp_enters=camp_enters, camp_shape=_f64(camp_shape.reshape(C, grid.days)),
        camp_first_day=_i64(camp_first), camp_last_day=_i64(camp_last),
        vol_kind=vol_kind, vol_cols=vol_cols, quality_col=quality_col,
        camp_mix_cum=_f64(camp_mix.reshape(C, G)), cost_fixed_col=cost_fixed_col,
        cost_per_lead_col=cost_per_lead_col,
        camp_key=np.array([path_key(f"campaigns.{c.name}") for c in sc.campaigns],
                          dtype=np.uint64))


def build_initial(sc: Scenario, tb: TableBuilder, slots: _Slots) -> InitialArrays:
    stages = sc.stage_names
    G = len(sc.segments)
    seg_names = list(sc.segments)
    I_ = len(sc.initial_pipeline)
    init_stage, init_count_col = np.zeros(I_, np.int64), np.zeros(I_, np.int64)
    init_age_slot = np.full(I_, -1, np.int64)
    init_mix = np.zeros((I_, G))
    init_quality_col, init_dwell_col = np.zeros(I_, np.int64), np.zeros(I_, np.int64)
    for i, e in enumerate(sc.initial_pipeline):
        base = f"initial_pipeline[{i}]"
        init_stage[i] = stages.index(e.stage)
        init_count_col[i] = tb.add(f"{base}.count", e.count)
        init_quality_col[i] = tb.add(f"{base}.quality", 1.0 if e.quality is None else e.quality)
        init_dwell_col[i] = tb.add(f"{base}.dwell", 1.0 if e.dwell is None else e.dwell)
        if e.age is not None:
            init_age_slot[i] = slots.add(f"{base}.age", e.age)
        if e.segment is not None:
            init_mix[i] = (np.arange(G) >= seg_names.index(e.segment)).astype(float)
        else:
            init_mix[i] = _mix_cum(sc, e.segment_mix)
    pairs = []
    if sc.horizon.warm_start:
        listed = {e.stage for e in sc.initial_pipeline}
        pairs = [(s, c) for s, st in enumerate(sc.stages) if st.name not in listed
                 for c in range(len(sc.campaigns))]
    return InitialArrays(
        init_stage=init_stage, init_count_col=init_count_col, init_age_slot=init_age_slot,
        init_mix_cum=_f64(init_mix.reshape(I_, G)),
        init_key=np.array([path_key(f"initial_pipeline[{i}]") for i in range(I_)],
                          dtype=np.uint64),
        init_quality_col=init_quality_col, init_dwell_col=init_dwell_col,
        warm_stage=_i64([s for s, _ in pairs]), warm_camp=_i64([c for _, c in pairs]),
        warm_key=np.array([path_key(f"warm_start:{sc.stages[s].name}:{sc.campaigns[c].name}")
                           for s, c in pairs], dtype=np.uint64))


def build_friction(sc: Scenario, tb: TableBuilder) -> FrictionArrays:
    stages = sc.stage_names
    F = len(sc.friction)
    fr = {k: np.full(F, -1, np.int64) for k in ("prob", "start", "len", "dwell", "nd", "lost",
                                                 "cost")}
    fr_end_day = np.full(F, np.nan)
    fr_stages = np.zeros((F, len(stages)), np.int64)
    for f, w in enumerate(sc.friction):
        base = f"friction.{w.name}"
        fr["prob"][f] = tb.add(f"{base}.probability", w.probability)
        fr["start"][f] = tb.add(f"{base}.start", _date_dist(w.start, sc.horizon.start))
        if w.days is not None:
            fr["len"][f] = tb.add(f"{base}.days", w.days)
        else:
            fr_end_day[f] = (w.end - sc.horizon.start).days + 1  # the end date is included
        fr["dwell"][f] = tb.add(f"{base}.dwell", w.dwell)
        fr["nd"][f] = tb.add(f"{base}.no_decision", w.no_decision)
        fr["lost"][f] = tb.add(f"{base}.lost", w.lost)
        fr["cost"][f] = tb.add(f"{base}.cost", w.cost)
        for s_name in w.stages:
            fr_stages[f, stages.index(s_name)] = 1
    return FrictionArrays(
        fr_prob_col=fr["prob"], fr_start_col=fr["start"], fr_len_col=fr["len"],
        fr_end_day=fr_end_day, fr_dwell_col=fr["dwell"], fr_nd_col=fr["nd"],
        fr_lost_col=fr["lost"], fr_cost_col=fr["cost"], fr_stages=fr_stages,
        fr_key=np.array([path_key(f"friction.{w.name}") for w in sc.friction], dtype=np.uint64))


def goal_trajectory(sc: Scenario, grid: Grid) -> np.ndarray:
    """(P,) share of the goal due by the end of each period."""
    P = grid.periods
    if sc.goal is not None and sc.goal.phasing is not None:
        if len(sc.goal.phasing) != P:
            raise ScenarioError(f"goal.phasing: expected {P} weights (one per {sc.horizon.period}"
                                f" of the horizon), found {len(sc.goal.phasing)}")
        w = np.asarray(sc.goal.phasing, float)
    else:
        w = np.diff(np.concatenate([[0], grid.period_end_day])).astype(float)
    return _f64(np.cumsum(w) / w.sum())


def build_pools(sc: Scenario, tb: TableBuilder, slots: _Slots) -> PoolArrays:
    pool_names = list(sc.pools)
    NP = len(pool_names)
    H = max([len(p.hires) for p in sc.pools.values()] + [1])
    stage_pool = np.array([pool_names.index(st.worked_by) if st.worked_by else -1
                           for st in sc.stages], np.int64)
    patience_slot = np.full(len(sc.stages), -1, np.int64)
    for i, st in enumerate(sc.stages):
        if st.patience is not None:
            patience_slot[i] = slots.add(f"stages.{st.name}.patience", st.patience)
    pool_cols = {k: np.zeros(NP, np.int64) for k in ("head", "sell", "attr", "cost")}
    hire_day = np.full((NP, H), -1, np.int64)
    hire_col = np.full((NP, H), -1, np.int64)
    for k, (name, pool) in enumerate(sc.pools.items()):
        base = f"pools.{name}"
        pool_cols["head"][k] = tb.add(f"{base}.headcount", pool.headcount)
        pool_cols["sell"][k] = tb.add(f"{base}.selling_time", pool.selling_time)
        pool_cols["attr"][k] = tb.add(f"{base}.attrition", pool.attrition)
        pool_cols["cost"][k] = tb.add(f"{base}.cost_per_rep_year", pool.cost_per_rep_year)
        for h, hire in enumerate(pool.hires):
            hire_day[k, h] = (hire.date - sc.horizon.start).days
            hire_col[k, h] = tb.add(f"{base}.hires[{h}].count", hire.count)
    pools = sc.pools.values()
    return PoolArrays(
        pool_names=tuple(pool_names), stage_pool=stage_pool, patience_slot=patience_slot,
        camp_priority=np.array([codes.INBOUND if c.priority == "inbound" else codes.OUTBOUND
                                for c in sc.campaigns] + [codes.INBOUND], np.int64),
        pool_key=np.array([path_key(f"pools.{n}") for n in pool_names], dtype=np.uint64),
        pool_slots=_f64([p.slots_per_rep for p in pools]),
        pool_ramp_days=_f64([p.ramp.days if p.ramp else 0.0 for p in pools]),
        pool_ramp_start=_f64([p.ramp.start if p.ramp else 1.0 for p in pools]),
        pool_lag=_f64([p.hiring_lag_days for p in pools]),
        pool_headcount_col=pool_cols["head"], pool_selling_col=pool_cols["sell"],
        pool_attrition_col=pool_cols["attr"], pool_cost_col=pool_cols["cost"],
        hire_day=hire_day, hire_col=hire_col)


def compile_scenario(sc: Scenario) -> Compiled:
    """Lay a validated scenario out as arrays (the static part of the model).

    One builder per section, called in a fixed order: the order in which they add parameter
    columns and per-prospect slots is the layout of the parameter table.
    """
    grid = build_grid(sc.horizon)
    tb = TableBuilder()
    slots = _Slots(tb)
    # overall forms ({overall: f}) solved to the per-stage multiplier, at the mean parameters
    seg_adv = rules.segment_advance(sc) if _has_overall(sc) else {}
    camp_quality = rules.campaign_quality(sc, seg=seg_adv) if _has_overall(sc) else []
    stages = build_stages(sc, grid, tb, slots)
    segments = build_segments(sc, tb, slots, seg_adv)
    campaigns = build_campaigns(sc, grid, tb, camp_quality)
    initial = build_initial(sc, tb, slots)
    friction = build_friction(sc, tb)
    goal_cum = goal_trajectory(sc, grid)
    pools = build_pools(sc, tb, slots)
    drift = _compile_drift(sc, tb, len(sc.stages), grid.periods)
    params = tb.build([(c.between[0], c.between[1], c.rho) for c in sc.correlations])
    return Compiled(
        scenario=sc, grid=grid, params=params,
        stage_names=tuple(sc.stage_names),
        campaign_names=tuple(c.name for c in sc.campaigns) + (INITIAL,),
        segment_names=tuple(sc.segments),
        friction_names=tuple(w.name for w in sc.friction),
        goal_cum=goal_cum, **slots.fields(), **_fields(stages), **_fields(segments),
        **_fields(campaigns), **_fields(initial), **_fields(friction), **_fields(pools),
        **drift)


def take_no_decision(cs: Compiled, p_next: np.ndarray, p_nd: np.ndarray) -> np.ndarray:
    """The ``next`` probabilities (``(..., S, K)``) of the stages whose no decision is taken
    from advance (``no_decision_from: advance``) scaled by ``max(A - nd, 0) / A``, A their sum;
    ``p_nd`` is ``(..., S)``. The other stages, and every stage of a scenario without such a
    stage, are returned untouched (the same array, bit for bit)."""
    flag = cs.nd_from_advance
    if not len(flag) or not flag.any():
        return p_next
    f = rules.no_decision_factor(p_next.sum(axis=-1), p_nd)
    f = np.where(flag == 1, f, 1.0)
    return np.ascontiguousarray(p_next * f[..., None])


_MODELS = {"random_walk": codes.RANDOM_WALK, "ar1": codes.AR1, "local_trend": codes.LOCAL_TREND}
_CLOCKS = {None: codes.DRIFT_NONE, "cohort": codes.DRIFT_COHORT, "period": codes.DRIFT_PERIOD}


def _compile_drift(sc: Scenario, tb: TableBuilder, S: int, P: int) -> dict:
    """Drift entries as arrays; their numbers (sd, phi, trend, trend_sd) as parameter columns
    named ``drift.NAME.sd`` (``drift[i].sd`` when the entry has no name)."""
    Z = len(sc.drift)
    targets = []
    model = np.zeros(Z, np.int64)
    by = np.zeros(Z, np.int64)
    cols = np.full((Z, 4), -1, np.int64)
    for i, d in enumerate(sc.drift):
        t = drift_paths.resolve(sc, d.param)
        assert isinstance(t, drift_paths.Target)  # validated with the scenario
        targets.append(t)
        base = f"drift.{d.name}" if d.name is not None else f"drift[{i}]"
        model[i] = _MODELS[d.model]
        by[i] = _CLOCKS[d.by]
        cols[i, 0] = tb.add(f"{base}.sd", d.sd)
        if d.model == "ar1":
            cols[i, 1] = tb.add(f"{base}.phi", d.phi)
        if d.model == "local_trend":
            cols[i, 2] = tb.add(f"{base}.trend", 0.0 if d.trend is None else d.trend)
            cols[i, 3] = tb.add(f"{base}.trend_sd", 0.0 if d.trend_sd is None else d.trend_sd)
    route, dwell = drift_paths.clock_of_stages(sc)
    rt_mode = _i64([_CLOCKS[b] for b in route]).reshape(S)
    dw_mode = _i64([_CLOCKS[b] for b in dwell]).reshape(S)
    moves = bool(rt_mode.any() or dw_mode.any())
    return dict(
        drift_targets=tuple(targets), dz_model=model, dz_by=by, dz_cols=cols,
        dz_key=np.array([path_key(f"drift:{t.path}") for t in targets], dtype=np.uint64),
        rt_mode=rt_mode, dw_mode=dw_mode, dz_slots=1 + P if moves else 1,
    )
