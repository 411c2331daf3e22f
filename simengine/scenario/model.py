"""The scenario, as typed immutable objects (the YAML format of docs/scenario-reference.md).

Field-level rules live on the fields; rules that relate fields (names that must exist, dates in
order, probabilities that must not sum over 1) live in :meth:`Scenario._cross_check`. Nothing
downstream validates again.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator

from simengine.scenario.base import Model, Problems, fmt
from simengine.scenario.distributions import (
    DateDist,
    DateValue,
    Dist,
    Fixed,
    Normal,
    Value,
    normal_hint,
)

TERMINALS = ("won", "lost", "no_decision")
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*$"


# --- constrained values ---------------------------------------------------------------------------
def _scalar(lo: float, hi: float, lo_open: bool, hi_open: bool, what: str):
    """A per-draw value (a number or a flat distribution) whose every value lies in an interval."""

    def check(v: Dist) -> Dist:
        probs = Problems()
        if not v.is_flat():
            probs.add("", "a number or a distribution with numeric parameters (only per-prospect "
                      "quantities such as dwell or deal value take uncertain parameters)",
                      f"{v.dist} with distributed parameters", raw=True)
        else:
            _in_range(probs, v, lo, hi, lo_open, hi_open, what)
        probs.raise_if_any()
        return v

    return AfterValidator(check)


def _quantity(what: str):
    """A per-prospect quantity (duration or money): non-negative; parameters may be per-draw."""

    def check(v: Dist) -> Dist:
        probs = Problems()
        for name, p in v.params().items():
            if isinstance(p, Dist) and not p.is_flat():
                probs.add(name, "a number or a distribution with numeric parameters "
                          "(two levels of uncertainty at most)", p.dist)
        _in_range(probs, v, 0.0, float("inf"), False, False, what)
        probs.raise_if_any()
        return v

    return AfterValidator(check)


def _in_range(probs: Problems, v: Dist, lo: float, hi: float, lo_open: bool, hi_open: bool,
              what: str) -> None:
    a, b = v.support()
    if isinstance(v, Fixed):
        x = v.value
        if x < lo or x > hi or (lo_open and x <= lo) or (hi_open and x >= hi):
            probs.add("", what, x)
        return
    if a < lo or b > hi:
        hint = ""
        if isinstance(v, Normal):
            hint = normal_hint(lo, hi)
        probs.add("", f"{what}{hint}",
                  f"{v.dist} ranging over [{fmt(a)}, {fmt(b)}]", raw=True)


Probability = Annotated[Value, _scalar(0, 1, False, False, "a probability in [0, 1]")]
Positive = Annotated[Value, _scalar(0, float("inf"), True, False, "a number > 0")]
NonNegative = Annotated[Value, _scalar(0, float("inf"), False, False, "a number >= 0")]
Duration = Annotated[Value, _quantity("a non-negative duration in days")]
Money = Annotated[Value, _quantity("a non-negative amount of money")]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
Real = Annotated[Value, _scalar(-float("inf"), float("inf"), False, False, "a number")]
Persistence = Annotated[Value, _scalar(0, 1, False, True, "a persistence phi in [0, 1)")]


def _multiplier_tag(v: Any) -> str:
    return "per:stage" if isinstance(v, dict) and "dist" not in v else "per:all"


Multiplier = Annotated[
    Annotated[Positive, Tag("per:all")] | Annotated[dict[str, Positive], Tag("per:stage")],
    Discriminator(_multiplier_tag),
]
"""A positive multiplier for every stage, or a mapping {stage: multiplier}."""


class Overall(Model):
    """A multiplier of the lead-to-win rate as a whole, ``{overall: 1.1}``: solved (at the mean
    parameters) for the one multiplier of every stage's advance probabilities that gives it."""

    overall: float = Field(gt=0, description="factor on the lead-to-win rate")


def _overall_tag(v: Any) -> str:
    if isinstance(v, Overall) or (isinstance(v, dict) and "overall" in v):
        return "overall"
    return _multiplier_tag(v)


AdvanceMultiplier = Annotated[
    Annotated[Positive, Tag("per:all")] | Annotated[dict[str, Positive], Tag("per:stage")]
    | Annotated[Overall, Tag("overall")],
    Discriminator(_overall_tag),
]
"""A segment's advance: every stage, per stage, or {overall: factor on lead-to-win}."""

Quality = Annotated[
    Annotated[Positive, Tag("per:all")] | Annotated[Overall, Tag("overall")],
    Discriminator(lambda v: "overall" if _overall_tag(v) == "overall" else "per:all"),
]
"""A campaign's quality: a multiplier of every stage, or {overall: factor on lead-to-win}."""


# --- sections -------------------------------------------------------------------------------------
class Horizon(Model):
    start: dt.date = Field(description="first day simulated (ISO date)")
    days: int = Field(365, gt=0, le=3660, description="length of the simulated horizon, days")
    period: Literal["week", "month", "quarter"] = Field("month", description="reporting grid")
    fiscal_year_start: int | None = Field(
        None, ge=1, le=12, description="month the fiscal year starts (1 = January, the "
        "default): quarters, month_of_quarter calendars and the report's checkpoints follow it")
    warm_start: bool | None = Field(
        None, description="true: stages without an initial_pipeline entry start at the steady "
        "state of the campaigns' first-period arrival rates instead of empty")


class Goal(Model):
    revenue: float = Field(gt=0, description="bookings target over the horizon, currency units")
    phasing: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, description="relative weight of each period in the goal trajectory (default: "
        "pro rata to days)")


class Segment(Model):
    share: float | None = Field(None, ge=0, le=1, description="default share of prospects")
    deal_value: Money | None = Field(None, description="deal value of the segment's prospects")
    advance: AdvanceMultiplier = Field(
        default_factory=lambda: Fixed(value=1.0),
        description="multiplier on advance probabilities (or per stage, or {overall: factor})")
    dwell: Multiplier = Field(default_factory=lambda: Fixed(value=1.0),
                              description="multiplier on dwell times (or per stage)")


class Recycle(Model):
    p: Probability = Field(description="probability that a visit ends in nurture")
    to: str = Field(description="stage the prospect comes back to")
    delay: Duration = Field(default_factory=lambda: Fixed(value=0.0),
                            description="days in nurture before coming back")


class Calendar(Model):
    """Speeds of the stage clock, each normalised to mean 1 over its cycle."""

    month_of_quarter: list[Annotated[float, Field(gt=0)]] | None = Field(
        None, min_length=3, max_length=3)
    month: list[Annotated[float, Field(gt=0)]] | None = Field(None, min_length=12, max_length=12)
    weekday: list[Annotated[float, Field(gt=0)]] | None = Field(None, min_length=7, max_length=7)


class Stage(Model):
    name: Name
    dwell: Duration = Field(description="days in the stage, on the stage clock")
    next: dict[str, Probability] = Field(default_factory=dict,
                                         description="probability of each later stage or won")
    no_decision: Probability = Field(default_factory=lambda: Fixed(value=0.0))
    no_decision_from: Literal["lost", "advance"] = Field(
        "lost", description="lost: no decision is carved out of lost (advance and bookings "
        "unchanged); advance: taken from the next probabilities in proportion")
    recycle: Recycle | None = None
    worked_by: str | None = Field(None, description="pool whose reps work this stage")
    patience: Duration | None = Field(None, description="days a prospect waits for a rep")
    calendar: Calendar | None = None


class Ramp(Model):
    days: float = Field(gt=0, description="days for a new hire to reach full productivity")
    start: float = Field(ge=0, le=1, description="productivity on the first day")


class Hire(Model):
    date: dt.date
    count: Positive


class Pool(Model):
    headcount: Positive
    slots_per_rep: float = Field(1.0, gt=0, description="prospects one rep works at once")
    selling_time: Probability = Field(default_factory=lambda: Fixed(value=1.0))
    ramp: Ramp | None = None
    attrition: NonNegative = Field(default_factory=lambda: Fixed(value=0.0),
                                   description="leavers per rep per year")
    hiring_lag_days: float = Field(0.0, ge=0)
    hires: list[Hire] = Field(default_factory=list)
    cost_per_rep_year: NonNegative = Field(default_factory=lambda: Fixed(value=0.0))


class Spike(Model):
    date: dt.date
    share: float = Field(gt=0, le=1, description="share of the campaign volume in this spike")
    days: int = Field(1, ge=1, le=366, description="days the spike is spread over")


class Schedule(Model):
    start: dt.date | None = None
    end: dt.date | None = None
    shape: Literal["uniform", "monthly"] = "uniform"
    weights: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, min_length=12, max_length=12,
        description="relative daily intensity by calendar month, Jan..Dec (shape: monthly)")
    spikes: list[Spike] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Schedule:
        probs = Problems()
        if (self.start is None) != (self.end is None):
            probs.add("end" if self.end is None else "start",
                      "both start and end (or neither, for a schedule of spikes only)", "one")
        if self.start is not None and self.end is not None and self.end < self.start:
            probs.add("end", f"a date on or after start ({self.start})", str(self.end), raw=True)
        if self.shape == "monthly" and self.weights is None:
            probs.add("weights", "12 monthly weights for shape: monthly", "nothing", raw=True)
        if self.shape == "uniform" and self.weights is not None:
            probs.add("weights", "shape: monthly when weights are given", "shape: uniform",
                      raw=True)
        if self.weights is not None and sum(self.weights) <= 0:
            probs.add("weights", "weights with a positive sum", self.weights)
        total = sum(s.share for s in self.spikes)
        if total > 1 + 1e-9:
            probs.add("spikes", "spike shares summing to at most 1", f"{total:g}", raw=True)
        if self.start is None and self.spikes and abs(total - 1) > 1e-9:
            probs.add("spikes", "spike shares summing to 1 (there is no start/end for the rest)",
                      f"{total:g}", raw=True)
        if self.start is None and not self.spikes:
            probs.add("", "start and end, or spikes", "neither", raw=True)
        probs.raise_if_any()
        return self


class LeadsVolume(Model):
    leads: Positive = Field(description="expected number of prospects")


class BudgetVolume(Model):
    budget: Positive = Field(description="media budget, currency units")
    cost_per_lead: Positive
    saturation: Positive | None = Field(
        None, description="diminishing returns, currency units: expected leads "
        "(saturation / cost_per_lead) * (1 - exp(-budget / saturation))")


class AudienceVolume(Model):
    audience: Positive = Field(description="targets contacted")
    response_rate: Probability


def _volume_tag(v: Any) -> str | None:
    keys = set(v) if isinstance(v, dict) else set(type(v).model_fields) if isinstance(v, Model) \
        else set()
    return next((f"volume:{k}" for k in ("leads", "budget", "audience") if k in keys), None)


Volume = Annotated[
    Annotated[LeadsVolume, Tag("volume:leads")] | Annotated[BudgetVolume, Tag("volume:budget")]
    | Annotated[AudienceVolume, Tag("volume:audience")],
    Discriminator(_volume_tag, custom_error_type="se_volume",
                  custom_error_message="expected one of {leads: N}, {budget: B, cost_per_lead: "
                  "X} or {audience: N, response_rate: P}"),
]


class Cost(Model):
    fixed: NonNegative = Field(default_factory=lambda: Fixed(value=0.0))
    per_lead: NonNegative = Field(default_factory=lambda: Fixed(value=0.0))


class Campaign(Model):
    name: Name
    channel: str | None = None
    enters: str = Field(description="stage its prospects enter")
    priority: Literal["inbound", "outbound"] = "inbound"
    schedule: Schedule
    volume: Volume
    cost: Cost = Field(default_factory=Cost)
    segment_mix: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = None
    quality: Quality = Field(default_factory=lambda: Fixed(value=1.0),
                             description="multiplier on advance probabilities (or {overall: "
                             "factor on lead-to-win})")


class InitialEntry(Model):
    stage: str
    count: NonNegative
    age: Duration | None = Field(None, description="days already spent in the stage at start")
    segment: str | None = None
    segment_mix: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = None
    quality: Positive | None = Field(None, description="multiplier on the advance probabilities "
                                     "of these prospects (default 1)")
    dwell: Positive | None = Field(None, description="multiplier on the residual dwell of these "
                                   "prospects (default 1)")


class Drift(Model):
    """A parameter that moves over the periods of a draw (see docs: parameters that move over
    time)."""

    name: Name | None = Field(None, description="name: its numbers are drift.NAME.sd, ...")
    param: str = Field(description="parameter path of the scalar that moves")
    model: Literal["ar1", "random_walk", "local_trend"]
    by: Literal["cohort", "period"] = Field(
        "cohort", description="cohort: prospects arriving in a period share its value; period: "
        "the value in force in the calendar period")
    sd: NonNegative = Field(description="innovation s.d. per period, on the transformed scale")
    phi: Persistence | None = Field(None, description="ar1 only: persistence in [0, 1)")
    trend: Real | None = Field(None, description="local_trend only: drift per period")
    trend_sd: NonNegative | None = Field(None, description="local_trend only: s.d. of the "
                                         "innovation of the drift")

    @model_validator(mode="after")
    def _check(self) -> Drift:
        probs = Problems()
        if self.model == "ar1" and self.phi is None:
            probs.add("phi", "a persistence phi in [0, 1) for model ar1", "nothing", raw=True)
        if self.model != "ar1" and self.phi is not None:
            probs.add("phi", "phi only with model ar1", f"model {self.model}", raw=True)
        for key in ("trend", "trend_sd"):
            if self.model != "local_trend" and getattr(self, key) is not None:
                probs.add(key, f"{key} only with model local_trend", f"model {self.model}",
                          raw=True)
        probs.raise_if_any()
        return self


class Friction(Model):
    name: Name
    stages: list[str] = Field(min_length=1)
    probability: Probability = Field(default_factory=lambda: Fixed(value=1.0),
                                     description="chance the window happens in a draw")
    start: DateValue
    end: dt.date | None = None
    days: Positive | None = Field(None, description="length of the window, days")
    dwell: Positive = Field(default_factory=lambda: Fixed(value=1.0),
                            description="multiplier on dwell (clock runs at 1/dwell)")
    no_decision: Probability = Field(default_factory=lambda: Fixed(value=0.0))
    lost: Probability = Field(default_factory=lambda: Fixed(value=0.0))
    cost: NonNegative = Field(default_factory=lambda: Fixed(value=0.0),
                              description="cost of the window (an intervention's spend)")

    @model_validator(mode="after")
    def _check(self) -> Friction:
        probs = Problems()
        if (self.end is None) == (self.days is None):
            probs.add("end", "exactly one of end or days", "both" if self.end else "neither",
                      raw=True)
        if self.end is not None:
            latest_start = self.start.high if isinstance(self.start, DateDist) else self.start
            if isinstance(self.start, DateDist) and self.start.dist == "empirical":
                latest_start = max(self.start.values)
            if latest_start is not None and self.end < latest_start:
                probs.add("end", f"a date on or after start ({latest_start})", str(self.end),
                          raw=True)
        probs.raise_if_any()
        return self


class Correlation(Model):
    between: list[str] = Field(min_length=2, max_length=2,
                               description="two parameter paths")
    rho: float = Field(gt=-1, lt=1, description="rank (Spearman) correlation")


class Scenario(Model):
    """A complete, validated scenario. Build it with :func:`simengine.load_scenario`."""

    name: str
    description: str = ""
    extends: str | None = None
    horizon: Horizon
    goal: Goal | None = None
    currency: str = "USD"
    deal_value: Money | None = Field(None, description="deal value when a segment has none")
    pipeline_from: str | None = Field(
        None, description="first stage whose open prospects count in pipeline_value")
    segments: dict[Name, Segment] = Field(default_factory=lambda: {"all": Segment()})
    stages: list[Stage] = Field(min_length=1)
    pools: dict[Name, Pool] = Field(default_factory=dict)
    campaigns: list[Campaign] = Field(default_factory=list)
    initial_pipeline: list[InitialEntry] = Field(default_factory=list)
    friction: list[Friction] = Field(default_factory=list)
    correlations: list[Correlation] = Field(default_factory=list)
    drift: list[Drift] = Field(default_factory=list,
                               description="parameters that move over the periods of a draw")

    # -- look-ups -----------------------------------------------------------------------------
    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def uses_pools(self) -> bool:
        return any(s.worked_by is not None for s in self.stages)

    @property
    def end(self) -> dt.date:
        return self.horizon.start + dt.timedelta(days=self.horizon.days)

    # -- rules between fields -----------------------------------------------------------------
    @model_validator(mode="after")
    def _cross_check(self) -> Scenario:
        probs = Problems()
        stages = self.stage_names
        order = {n: i for i, n in enumerate(stages)}
        segs = list(self.segments)
        _unique(probs, "stages", stages)
        _unique(probs, "campaigns", [c.name for c in self.campaigns])
        _unique(probs, "friction", [f.name for f in self.friction])
        for name in stages:
            if name in TERMINALS:
                probs.add(f"stages[{order[name]}].name",
                          f"a stage name other than the built-in {', '.join(TERMINALS)}", name)

        for i, st in enumerate(self.stages):
            at = f"stages[{i}]"
            for target in st.next:
                if target == "won":
                    continue
                if target in ("lost", "no_decision"):
                    probs.add(f"{at}.next.{target}", "a later stage or won (lost is the "
                              "remainder; no decision has its own key no_decision)", target)
                elif target not in order:
                    probs.add(f"{at}.next.{target}", "a later stage or won (stages: "
                              f"{', '.join(stages)}){did_you_mean(target, stages + ['won'])}",
                              target)
                elif order[target] <= i:
                    probs.add(f"{at}.next.{target}", "a later stage (skips allowed; going back "
                              "is recycle)", f"'{target}', which is not after '{st.name}'",
                              raw=True)
            if st.recycle is not None and st.recycle.to not in order:
                probs.add(f"{at}.recycle.to", _one_of("a stage", stages, st.recycle.to),
                          st.recycle.to)
            if st.worked_by is not None and st.worked_by not in self.pools:
                probs.add(f"{at}.worked_by", _one_of("a pool", list(self.pools), st.worked_by),
                          st.worked_by)
            if st.patience is not None and st.worked_by is None:
                probs.add(f"{at}.patience", "patience only on a stage with worked_by",
                          "no worked_by", raw=True)
            total = sum(_hi_mean(p) for p in st.next.values()) + _hi_mean(st.no_decision)
            if st.recycle is not None:
                total += _hi_mean(st.recycle.p)
            if st.no_decision_from == "advance":
                # the no decision comes out of next: the total is next + recycle.p
                total -= _hi_mean(st.no_decision)
                adv = sum(_hi_mean(p) for p in st.next.values())
                if _hi_mean(st.no_decision) > adv + 1e-9:
                    probs.add(f"{at}.no_decision", "a no-decision rate at most the sum of next "
                              f"({adv:.4g}) when no_decision_from: advance",
                              f"{_hi_mean(st.no_decision):.4g}", raw=True)
            if total > 1 + 1e-9:
                probs.add(f"{at}.next", "next + no_decision + recycle.p summing to at most 1",
                          f"a sum of {total:.4g}", raw=True)
            if not st.next and st.no_decision.is_fixed() and st.recycle is None:
                pass  # a stage where everything is lost is legal (e.g. a disqualification step)

        for name, seg in self.segments.items():
            if seg.deal_value is None and self.deal_value is None:
                probs.add(f"segments.{name}.deal_value",
                          "a deal value (here or a top-level deal_value)", "nothing", raw=True)
            if isinstance(seg.advance, Overall) and "overall" in order:
                probs.add(f"segments.{name}.advance", "a per-stage mapping without the key "
                          "'overall' (a stage is named overall, so {overall: x} is ambiguous: "
                          "name every stage, or rename that stage)", "{overall: ...}", raw=True)
            for key in ("advance", "dwell"):
                mult = getattr(seg, key)
                if isinstance(mult, dict):
                    for st_name in mult:
                        if st_name not in order:
                            probs.add(f"segments.{name}.{key}.{st_name}",
                                      _one_of("a stage", stages, st_name), st_name)
        shares = [s.share for s in self.segments.values() if s.share is not None]
        if shares and (len(shares) != len(self.segments) or abs(sum(shares) - 1) > 1e-6):
            probs.add("segments", "a share for every segment, summing to 1 (or no shares)",
                      f"shares summing to {sum(shares):g} on {len(shares)} of "
                      f"{len(self.segments)} segments", raw=True)

        for i, c in enumerate(self.campaigns):
            at = f"campaigns[{i}]"
            if c.enters not in order:
                probs.add(f"{at}.enters", _one_of("a stage", stages, c.enters), c.enters)
            _check_mix(probs, f"{at}.segment_mix", c.segment_mix, segs)
            sch = c.schedule
            for k, s in enumerate(sch.spikes):
                if s.date < self.horizon.start - dt.timedelta(days=3660):
                    probs.add(f"{at}.schedule.spikes[{k}].date", "a date near the horizon",
                              str(s.date), raw=True)

        for i, e in enumerate(self.initial_pipeline):
            at = f"initial_pipeline[{i}]"
            if e.stage not in order:
                probs.add(f"{at}.stage", _one_of("a stage", stages, e.stage), e.stage)
            if e.segment is not None and e.segment not in self.segments:
                probs.add(f"{at}.segment", _one_of("a segment", segs, e.segment), e.segment)
            if e.segment is not None and e.segment_mix is not None:
                probs.add(f"{at}.segment_mix", "segment or segment_mix, not both", "both",
                          raw=True)
            _check_mix(probs, f"{at}.segment_mix", e.segment_mix, segs)

        for i, f in enumerate(self.friction):
            for k, st_name in enumerate(f.stages):
                if st_name not in order:
                    probs.add(f"friction[{i}].stages[{k}]", _one_of("a stage", stages, st_name),
                              st_name)

        _check_drift(probs, self)

        if self.pipeline_from is not None and self.pipeline_from not in order:
            probs.add("pipeline_from", _one_of("a stage", stages, self.pipeline_from),
                      self.pipeline_from)
        if self.goal is not None and self.goal.phasing is not None and sum(self.goal.phasing) <= 0:
            probs.add("goal.phasing", "weights with a positive sum", self.goal.phasing)
        if not probs.items and (any(isinstance(s.advance, Overall) for s in self.segments.values())
                                or any(isinstance(c.quality, Overall) for c in self.campaigns)):
            from simengine.scenario.rules import overall_problems

            for path, expected, found in overall_problems(self):
                probs.add(path, expected, found, raw=True)
        probs.raise_if_any()
        return self


def _check_drift(probs: Problems, sc: Scenario) -> None:
    import simengine.scenario.drift as drift_paths

    named: set[str] = set()
    for i, d in enumerate(sc.drift):
        if d.name is not None and d.name in named:
            probs.add(f"drift[{i}].name", "a name not used before in this list", d.name)
        named.add(d.name)
    seen: dict[str, int] = {}
    clocks: dict[tuple[str, int], tuple[int, str]] = {}  # (effect, stage) -> (entry, by)
    for i, d in enumerate(sc.drift):
        t = drift_paths.resolve(sc, d.param)
        if not isinstance(t, drift_paths.Target):
            probs.add(f"drift[{i}].param", t[0], t[1], raw=True)
            continue
        if t.path in seen:
            probs.add(f"drift[{i}].param", f"one drift entry per parameter (drift[{seen[t.path]}] "
                      f"already moves {t.path})", d.param)
            continue
        seen[t.path] = i
        if (t.kind in (drift_paths.NEXT, drift_paths.NO_DECISION)
                and sc.stages[t.index].no_decision_from == "advance"):
            probs.add(f"drift[{i}].param", "a parameter of a stage whose no decision comes "
                      "from lost (a drifting next or no_decision with no_decision_from: advance "
                      "is not supported)", d.param)
            continue
        effect = ("routing" if t.kind in drift_paths.ROUTING
                  else "dwell" if t.kind in drift_paths.DWELLS else None)
        if effect is None:
            continue
        for s in t.stages:
            j, by = clocks.setdefault((effect, s), (i, d.by))
            if by != d.by:
                probs.add(f"drift[{i}].by", f"by: {by} like drift[{j}], which also moves the "
                          f"{effect} of stage '{sc.stages[s].name}' (one clock per stage and "
                          "effect)", d.by)
                break


def _hi_mean(v: Dist) -> float:
    """The value used for the sum-to-one check: a number, or an uncertain value's mean."""
    return float(v.value) if isinstance(v, Fixed) else v.mean()


def _one_of(what: str, names: list[str], found: Any = None) -> str:
    shown = ", ".join(names) if names else "none defined"
    return f"{what} defined in the scenario ({shown}){did_you_mean(found, names)}"


def did_you_mean(found: Any, names: list[str]) -> str:
    """`` (did you mean 'x'?)`` when ``found`` is a near miss of one of ``names``, else ``""``."""
    if not isinstance(found, str) or not names:
        return ""
    hint = difflib.get_close_matches(found, [str(n) for n in names], n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def _unique(probs: Problems, where: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            probs.add(f"{where}[{i}].name", "a name not used before in this list", n)
        seen.add(n)


def _check_mix(probs: Problems, at: str, mix: dict[str, float] | None, segs: list[str]) -> None:
    if mix is None:
        return
    for name in mix:
        if name not in segs:
            probs.add(f"{at}.{name}", _one_of("a segment", segs, name), name)
    total = sum(mix.values())
    if abs(total - 1) > 1e-6:
        probs.add(at, "shares summing to 1", f"shares summing to {total:g}", raw=True)


__all__ = ["Scenario", "Stage", "Campaign", "Segment", "Pool", "Friction", "Horizon", "Goal",
           "InitialEntry", "Drift", "Correlation", "Schedule", "Overall", "TERMINALS"]
