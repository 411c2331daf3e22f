"""Every output of a run, declared once: the kernels' accumulators and the Dataset's variables.

A row of :data:`FUNNEL` or :data:`POOLS` is one array the kernel fills: its name (a field of
``funnel.Out`` / ``capacity.PoolOut``, in this order), its dimensions after the draw axis (the
engine shapes it from them) and, when the Dataset shows it as it is, the variable's units and
long name. A row without units is an accumulator the Dataset shows only through a variable
derived from it (``stage_time / stage_exits`` is ``time_in_stage``); those variables, and the
others computed from the sampled parameters, are labelled in :data:`DERIVED`.

The dimension names are the Dataset's. Nothing here imports numba or the layers above the
kernels.
"""

from __future__ import annotations

from typing import NamedTuple

DRAW, PERIOD, STAGE, CAMPAIGN, SEGMENT, POOL, PARAMETER, FRICTION = (
    "draw", "period", "stage", "campaign", "segment", "pool", "parameter", "friction")
PRIORITY, TRACED, TRACE_FIELD = "priority", "traced", "trace_field"

CURRENCY = "{currency}"  # units placeholder: the scenario's currency
PROSPECTS = "prospects"
DAYS = "days"


class Output(NamedTuple):
    """One array a kernel fills, per draw (the draw axis comes first and is not listed)."""

    name: str
    dims: tuple[str, ...]
    units: str | None = None  # None: an accumulator, not a Dataset variable itself
    long_name: str = ""
    var: str = ""  # the Dataset variable's name, when it is not ``name``

    @property
    def variable(self) -> str:
        return self.var or self.name


class Variable(NamedTuple):
    """A Dataset variable computed from the outputs or the sampled parameters."""

    dims: tuple[str, ...]  # after the draw axis
    units: str
    long_name: str


FUNNEL: tuple[Output, ...] = (
    Output("revenue", (PERIOD,), CURRENCY, "bookings of deals won in the period"),
    Output("won", (PERIOD,), "deals", "deals won in the period"),
    Output("arrivals", (PERIOD, CAMPAIGN), PROSPECTS, "new prospects created"),
    Output("entered", (PERIOD, STAGE), PROSPECTS, "prospects entering the stage"),
    Output("exited_lost", (PERIOD, STAGE), PROSPECTS, "lost from the stage"),
    Output("exited_no_decision", (PERIOD, STAGE), PROSPECTS,
           "ended in no decision from the stage"),
    Output("recycled", (PERIOD, STAGE), PROSPECTS, "sent to nurture from the stage"),
    Output("pipeline", (PERIOD, STAGE), PROSPECTS, "prospects in the stage at period end"),
    Output("pipeline_value", (PERIOD,), CURRENCY,
           "deal value of open prospects at period end"),
    Output("nurture", (PERIOD,), PROSPECTS,
           "prospects in nurture (recycled, not yet back) at period end"),
    Output("reached", (CAMPAIGN, STAGE), PROSPECTS,
           "prospects from the campaign that reached the stage"),
    Output("revenue_by_campaign", (CAMPAIGN,), CURRENCY,
           "bookings attributed to the source campaign"),
    Output("won_by_campaign", (CAMPAIGN,), "deals", "deals attributed to the source campaign"),
    Output("revenue_by_segment", (SEGMENT,), CURRENCY, "bookings by segment"),
    Output("stage_time", (STAGE,)),  # -> time_in_stage
    Output("stage_exits", (STAGE,)),
    Output("open_at_end", (STAGE,), PROSPECTS,
           "still open at horizon end (nurtured prospects at the stage they return to)"),
    Output("cycle_time_sum", ()),  # -> cycle_time
    Output("cycle_time_n", ()),
    Output("clipped", (STAGE,), "visits",
           "stage exits whose outcome probabilities summed over 1 and were clipped"),
    Output("initial", (STAGE,), PROSPECTS, "open prospects on the first day",
           var="initial_pipeline"),
    Output("capped", ()),  # -> the attribute capped_prospects
)

POOLS: tuple[Output, ...] = (
    Output("wait_sum", (POOL, PRIORITY)),  # -> queue_wait, queue_wait_by_priority
    Output("wait_n", (POOL, PRIORITY)),
    Output("waited", (POOL,)),  # -> waited_share
    Output("abandoned", (PERIOD, POOL), PROSPECTS,
           "went cold while waiting (part of exited_lost)"),
    Output("busy_area", (PERIOD, POOL)),  # -> utilization
    Output("cap_area", (PERIOD, POOL)),
    Output("queue_area", (PERIOD, POOL)),  # -> queue_length
    Output("trace", (TRACED, TRACE_FIELD), DAYS,
           "first prospects to leave: arrival day (-1: open pipeline), exit day, outcome code "
           "(-1 won, -2 lost, -3 no decision)"),
    Output("trace_n", ()),
)

# Variables the dataset layer computes from the outputs and the sampled parameters.
DERIVED: dict[str, Variable] = {
    "campaign_cost": Variable((CAMPAIGN,), CURRENCY, "spend"),
    "time_in_stage": Variable((STAGE,), DAYS, "mean days spent in the stage per completed visit"),
    "cycle_time": Variable((), DAYS, "mean days from arrival to won, campaign-sourced deals"),
    "friction_active": Variable((FRICTION,), "1",
                                "1 when the friction window happened in the draw"),
    "friction_cost": Variable((FRICTION,), CURRENCY, "cost of the friction window"),
    "parameters": Variable((PARAMETER,), "1", "sampled value of each uncertain parameter"),
    "failed": Variable((), "1", "1 when the draw's parameters were impossible (the draw was not "
                       "simulated)"),
    # the capacity path
    "queue_wait": Variable((POOL,), DAYS, "mean days waited for a rep (prospects that got one)"),
    "queue_wait_by_priority": Variable((POOL, PRIORITY), DAYS,
                                       "mean days waited for a rep, by priority class"),
    "waited_share": Variable((POOL,), "1", "share of served prospects that had to wait"),
    "utilization": Variable((PERIOD, POOL), "1", "busy slots / capacity"),
    "capacity": Variable((PERIOD, POOL), "slots", "slots available (mean over the period's days)"),
    "headcount": Variable((PERIOD, POOL), "reps",
                          "reps on the books (mean over the period's days)"),
    "queue_length": Variable((PERIOD, POOL), PROSPECTS,
                             "prospects waiting for a rep (mean over the period)"),
    "pool_cost": Variable((POOL,), CURRENCY, "cost of the pool's reps over the horizon"),
}

def names(table: tuple[Output, ...]) -> list[str]:
    """The kernel's field names of a table, in order."""
    return [o.name for o in table]


def sizes(periods: int, stages: int, campaigns: int, segments: int, pools: int,
          trace: int = 0) -> dict[str, int]:
    """The length of each dimension an output may have (after the draw axis); ``campaigns``
    counts the open pipeline's own column."""
    return {PERIOD: periods, STAGE: stages, CAMPAIGN: campaigns, SEGMENT: segments,
            POOL: pools, PRIORITY: 2, TRACED: max(trace, 0), TRACE_FIELD: 3}


def shapes(table: tuple[Output, ...], sizes: dict[str, int], n: int
           ) -> dict[str, tuple[int, ...]]:
    """``{name: (n, ...)}``: each output's shape for ``n`` draws, given the size of each
    dimension."""
    return {o.name: (n, *(sizes[d] for d in o.dims)) for o in table}
