"""What a run is asked to do: :class:`RunPlan`, checked once when it is made."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from simengine.engine.sampling import check_sampling
from simengine.errors import SimEngineError

DEFAULT_MAX_DRAWS = 100_000  # the cap of an until_se run when none is given


@dataclass(frozen=True)
class RunPlan:
    """The settings of a run: the draws, how their parameters are drawn, when it stops.

    A streamed run keeps them (:meth:`settings`) in its store, so that it can be resumed with the
    same ones. Make one with :meth:`checked`, which validates and fills the defaults.

    Attributes
    ----------
    draws
        Draws of the run; with ``until_se``, its first batch.
    seed
        The random seed, a non-negative integer.
    sampling
        ``"random"``, ``"lhs"`` or ``"sobol"`` (:mod:`simengine.engine.sampling`).
    until_se
        Stop when the standard errors of P(goal) and of the relative P50 of bookings are at
        most this (None: run ``draws`` draws).
    max_draws
        Cap of an ``until_se`` run (None without ``until_se``).
    chunk_draws
        Draws per chunk (None: the backend's default).
    trace
        Prospects recorded per draw by the capacity path.
    """

    draws: int
    seed: int
    sampling: str = "random"
    until_se: float | None = None
    max_draws: int | None = None
    chunk_draws: int | None = None
    trace: int = 0

    @classmethod
    def checked(cls, draws: int, seed: int, *, sampling: str = "random",
                until_se: float | None = None, max_draws: int | None = None,
                chunk_draws: int | None = None, trace: int = 0) -> RunPlan:
        """A plan from a caller's arguments; :class:`SimEngineError` names a bad one."""
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SimEngineError(f"seed: expected a non-negative integer, found {seed!r}")
        if chunk_draws and int(chunk_draws) < 1:
            raise SimEngineError(f"chunk_draws: expected at least 1, found {chunk_draws}")
        check_sampling(sampling)
        return cls(int(draws), int(seed), sampling, until_se,
                   _max_draws(until_se, max_draws, draws),
                   None if chunk_draws is None else int(chunk_draws), int(trace))

    def settings(self) -> dict:
        """The plan as JSON-ready values."""
        return asdict(self)

    @classmethod
    def from_settings(cls, settings: dict) -> RunPlan:
        """The plan kept in a store's settings (other keys are ignored)."""
        return cls(**{f.name: settings[f.name] for f in fields(cls) if f.name in settings})


def _max_draws(until_se, max_draws, draws) -> int | None:
    if until_se is None:
        if max_draws is not None:
            raise SimEngineError(f"max_draws: only with until_se, found max_draws={max_draws} "
                                 "and no until_se")
        return None
    if not (isinstance(until_se, (int, float)) and 0 < until_se < 1):
        raise SimEngineError(f"until_se: expected a standard error in (0, 1), e.g. 0.005, "
                             f"found {until_se!r}")
    cap = DEFAULT_MAX_DRAWS if max_draws is None else int(max_draws)
    if max_draws is not None and cap < draws:
        raise SimEngineError(f"max_draws: expected at least the first batch of {draws:,} draws, "
                             f"found {cap:,}")
    return max(cap, int(draws))
