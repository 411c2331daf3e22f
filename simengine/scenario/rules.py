"""What the routing rules of a stage visit amount to over the whole funnel, at the mean parameters.

A stage visit ends in advance (the ``next`` targets), no decision, nurture or lost (see the
scenario reference, "how the probabilities of a stage visit combine"). Two rules there are easy
to misread, and this module states them in numbers:

- a stage's ``no_decision`` comes out of *lost* unless the stage says
  ``no_decision_from: advance`` (then it is taken from the ``next`` probabilities in proportion);
- a segment's ``advance`` and a campaign's ``quality`` multiply *every* stage, so 0.9 over five
  stages is about 0.59 of the lead-to-win rate.

The lead-to-win rate here is the probability that a prospect entering a stage is eventually won,
from the absorbing Markov chain of the stage routing (recycling included, clipping as the engine
clips), every per-draw value at its mean, without friction windows and drift. The overall form
``{overall: f}`` is solved on it: the one multiplier m of every stage's advance probabilities for
which the lead-to-win rate is f times what it is with m = 1. The rate rises with m, so the root
is found by bisection; clipping caps it (advance cannot exceed 1 - no decision - nurture), which
can make a factor unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simengine.scenario.distributions import Dist, Fixed

if TYPE_CHECKING:
    from simengine.scenario.model import Scenario

WON = -1


def mean_of(v: Dist | float) -> float:
    """A per-draw value at its mean (a number as it is)."""
    if isinstance(v, (int, float)):
        return float(v)
    return float(v.value) if isinstance(v, Fixed) else float(v.mean())


@dataclass(frozen=True)
class Routing:
    """The stage routing of a scenario at the mean parameters, before any multiplier.

    ``targets[s]`` and ``p_next[s]`` are the ``next`` targets of stage s (stage index, or
    :data:`WON`) and their probabilities after the stage's own no-decision rule; ``nd``, ``rc``
    the no-decision and nurture probabilities; ``rc_to`` where nurture returns (-1: none).
    """

    names: tuple[str, ...]
    targets: tuple[tuple[int, ...], ...]
    p_next: tuple[np.ndarray, ...]
    nd: np.ndarray
    rc: np.ndarray
    rc_to: np.ndarray

    def lead_to_win(self, start: int, mult: np.ndarray) -> float:
        """P(won | entering stage ``start``) with stage s's advance probabilities multiplied by
        ``mult[s]`` (clipped to 1 - no decision - nurture as the engine clips)."""
        S = len(self.names)
        Q = np.zeros((S, S))
        won = np.zeros(S)
        for s in range(S):
            a = self.p_next[s] * mult[s]
            a_total = float(a.sum())
            q_nd, q_rc = float(self.nd[s]), float(self.rc[s])
            if a_total + q_nd + q_rc > 1.0:
                if q_nd + q_rc < 1.0:
                    a = a * ((1.0 - q_nd - q_rc) / a_total)
                else:
                    a = a * 0.0
                    q_nd, q_rc = q_nd / (q_nd + q_rc), q_rc / (q_nd + q_rc)
            for t, p in zip(self.targets[s], a, strict=True):
                if t == WON:
                    won[s] += p
                else:
                    Q[s, t] += p
            if self.rc_to[s] >= 0:
                Q[s, self.rc_to[s]] += q_rc
        try:
            x = np.linalg.solve(np.eye(S) - Q, won)
        except np.linalg.LinAlgError:  # a loop that is never left: nothing is ever won from it
            x = np.linalg.lstsq(np.eye(S) - Q, won, rcond=None)[0]
        return float(x[start])

    def stages_with_advance(self, start: int) -> int:
        """How many stages from ``start`` on have advance probabilities (what a multiplier of
        every stage multiplies on a prospect's way)."""
        return sum(1 for s in range(start, len(self.names)) if self.p_next[s].sum() > 0)


def routing(sc: Scenario) -> Routing:
    """The scenario's stage routing at the mean parameters (see :class:`Routing`)."""
    names = tuple(sc.stage_names)
    targets, p_next = [], []
    nd = np.zeros(len(names))
    rc = np.zeros(len(names))
    rc_to = np.full(len(names), -1, np.int64)
    for s, st in enumerate(sc.stages):
        targets.append(tuple(WON if t == "won" else names.index(t) for t in st.next))
        p = np.array([mean_of(v) for v in st.next.values()], dtype=float)
        nd[s] = mean_of(st.no_decision)
        if st.no_decision_from == "advance":
            p = p * no_decision_factor(float(p.sum()), nd[s])
        p_next.append(p)
        if st.recycle is not None:
            rc[s] = mean_of(st.recycle.p)
            rc_to[s] = names.index(st.recycle.to)
    return Routing(names, tuple(targets), tuple(p_next), nd, rc, rc_to)


def no_decision_factor(advance, no_decision):
    """The factor on a stage's ``next`` probabilities that takes its no decision from them
    (``no_decision_from: advance``): ``max(advance - no_decision, 0) / advance``, 1 where the
    stage has no advance. Works on numbers and on arrays alike."""
    adv = np.asarray(advance, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(adv > 0.0, np.maximum(adv - no_decision, 0.0) / adv, 1.0)
    return float(f) if f.ndim == 0 else f


def _bisect(fn, goal: float) -> float:
    """The m > 0 with fn(m) = goal for a non-decreasing fn (on a log scale)."""
    lo, hi = -30.0, 30.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if fn(np.exp(mid)) < goal:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return float(np.exp(0.5 * (lo + hi)))


class Unreachable(ValueError):
    """An overall factor that no per-stage multiplier reaches (clipping caps the rate)."""


def solve_overall(r: Routing, factor: float, sources: list[tuple[float, int, np.ndarray]]
                  ) -> float:
    """The multiplier m of every stage for which sum_j w_j W(start_j, m base_j) equals ``factor``
    times sum_j w_j W(start_j, base_j), over ``sources`` (w_j, start_j, base_j).

    Raises :class:`Unreachable` when no m gets there (the largest factor is in the message)."""
    def rate(m: float) -> float:
        return sum(w * r.lead_to_win(s, m * b) for w, s, b in sources)

    base = rate(1.0)
    if base <= 0.0:
        raise Unreachable("a funnel that can reach won (none of its prospects can be won, so "
                          "no factor applies)")
    goal = factor * base
    top = rate(1e12)
    if goal > top * (1 + 1e-9):
        raise Unreachable(f"an overall factor of at most {top / base:.3g} (clipping caps every "
                          "stage's advance at 1 - no_decision - recycle.p)")
    if abs(factor - 1.0) < 1e-15:
        return 1.0
    return _bisect(rate, goal)


def _is_overall(v) -> bool:
    """An overall form ({overall: f}, scenario.model.Overall), by its one field (this module is
    imported by the model, so it does not import the model)."""
    return isinstance(getattr(v, "overall", None), float)


def _segment_base(sc: Scenario, name: str) -> np.ndarray:
    """A segment's per-stage advance multipliers as given (1 for an overall form)."""
    adv = sc.segments[name].advance
    S = len(sc.stages)
    if _is_overall(adv):
        return np.ones(S)
    if isinstance(adv, dict):
        return np.array([mean_of(adv.get(n, 1.0)) for n in sc.stage_names])
    return np.full(S, mean_of(adv))


def segment_advance(sc: Scenario, r: Routing | None = None) -> dict[str, np.ndarray]:
    """Each segment's advance multiplier of every stage at the mean parameters, an overall form
    solved for a prospect entering the first stage."""
    r = r or routing(sc)
    out = {}
    for name, seg in sc.segments.items():
        if _is_overall(seg.advance):
            m = solve_overall(r, seg.advance.overall, [(1.0, 0, np.ones(len(sc.stages)))])
            out[name] = np.full(len(sc.stages), m)
        else:
            out[name] = _segment_base(sc, name)
    return out


def _mix(sc: Scenario, mix: dict[str, float] | None) -> dict[str, float]:
    if mix is not None:
        return {n: float(mix.get(n, 0.0)) for n in sc.segments}
    shares = [s.share for s in sc.segments.values()]
    if all(x is not None for x in shares):
        return {n: float(s) for n, s in zip(sc.segments, shares, strict=True)}
    return {n: 1.0 / len(sc.segments) for n in sc.segments}


def _campaign_sources(sc: Scenario, c: int, seg: dict[str, np.ndarray]
                      ) -> list[tuple[float, int, np.ndarray]]:
    camp = sc.campaigns[c]
    start = sc.stage_names.index(camp.enters)
    return [(w, start, seg[g]) for g, w in _mix(sc, camp.segment_mix).items() if w > 0]


def campaign_quality(sc: Scenario, r: Routing | None = None,
                     seg: dict[str, np.ndarray] | None = None) -> list[float]:
    """Each campaign's quality multiplier at the mean parameters, an overall form solved over
    the campaign's segment mix from its entry stage."""
    r = r or routing(sc)
    seg = seg if seg is not None else segment_advance(sc, r)
    out = []
    for c, camp in enumerate(sc.campaigns):
        q = camp.quality
        if _is_overall(q):
            out.append(solve_overall(r, q.overall, _campaign_sources(sc, c, seg)))
        else:
            out.append(mean_of(q))
    return out


def overall_problems(sc: Scenario) -> list[tuple[str, str, str]]:
    """(path, expected, found) of every overall form that cannot be solved."""
    r = routing(sc)
    probs = []
    seg = {}
    for name, s in sc.segments.items():
        seg[name] = _segment_base(sc, name)
        if _is_overall(s.advance):
            try:
                seg[name] *= solve_overall(r, s.advance.overall, [(1.0, 0, seg[name])])
            except Unreachable as exc:
                probs.append((f"segments.{name}.advance.overall", str(exc),
                              f"{s.advance.overall:g}"))
    for c, camp in enumerate(sc.campaigns):
        if _is_overall(camp.quality):
            try:
                solve_overall(r, camp.quality.overall, _campaign_sources(sc, c, seg))
            except Unreachable as exc:
                probs.append((f"campaigns[{c}].quality.overall", str(exc),
                              f"{camp.quality.overall:g}"))
    return probs


def _num(x: float) -> str:
    return f"{x:.3g}"


def statements(sc: Scenario) -> list[str]:
    """The routing rules of the scenario in words and numbers, one line each: what a segment's
    advance and a campaign's quality do to the lead-to-win rate, and where each stage's no
    decision comes from."""
    r = routing(sc)
    S = len(sc.stages)
    seg = segment_advance(sc, r)
    out = []
    ones = np.ones(S)
    for name, s in sc.segments.items():
        m = seg[name]
        if np.allclose(m, 1.0):
            continue
        base = r.lead_to_win(0, ones)
        ratio = r.lead_to_win(0, m) / base if base > 0 else float("nan")
        n = r.stages_with_advance(0)
        if _is_overall(s.advance):
            how = (f"advance {{overall: {_num(s.advance.overall)}}} = {m[0]:.4g} at each of "
                   f"{n} stages")
        elif isinstance(s.advance, dict):
            how = "advance " + ", ".join(f"{k} {_num(mean_of(v))}" for k, v in s.advance.items())
        else:
            how = f"advance {_num(m[0])} at each of {n} stages"
        out.append(f"segment {name}: {how} = {ratio:.2f}x lead-to-win")
    quality = campaign_quality(sc, r, seg)
    for c, camp in enumerate(sc.campaigns):
        q = quality[c]
        if abs(q - 1.0) < 1e-12:
            continue
        src = _campaign_sources(sc, c, seg)
        base = sum(w * r.lead_to_win(st, b) for w, st, b in src)
        ratio = sum(w * r.lead_to_win(st, q * b) for w, st, b in src) / base if base > 0 \
            else float("nan")
        n = r.stages_with_advance(sc.stage_names.index(camp.enters))
        head = (f"quality {{overall: {_num(camp.quality.overall)}}} = {q:.4g}"
                if _is_overall(camp.quality) else f"quality {_num(q)}")
        out.append(f"campaign {camp.name}: {head} at each of {n} stages = {ratio:.2f}x "
                   "lead-to-win")
    from_lost = False
    for s, st in enumerate(sc.stages):
        nd = r.nd[s]
        if nd <= 0:
            continue
        adv = sum(mean_of(v) for v in st.next.values())
        if st.no_decision_from == "advance":
            out.append(f"stage {st.name}: no decision {_num(nd)} taken from advance "
                       f"({_num(adv)} -> {_num(r.p_next[s].sum())})")
        else:
            from_lost = True
            out.append(f"stage {st.name}: no decision {_num(nd)} comes out of lost (bookings "
                       "unaffected)")
    if from_lost:
        out.append("(no_decision_from: advance on a stage takes its no decision from next)")
    if sc.horizon.warm_start:
        listed = {e.stage for e in sc.initial_pipeline}
        warm = [n for n in sc.stage_names if n not in listed]
        if warm and sc.campaigns:
            out.append(f"warm start: {', '.join(warm)} start at the steady state of the "
                       "campaigns' first-period rates")
    return out


def inert(sc: Scenario, path: str) -> str | None:
    """Why the parameter at ``path`` cannot move bookings, or None when it can.

    A stage's ``no_decision`` taken from lost changes only how the visits that do not advance
    are labelled (except where probabilities are clipped)."""
    parts = path.split(".")
    if len(parts) >= 3 and parts[0] == "stages" and parts[2] == "no_decision":
        st = next((x for x in sc.stages if x.name == parts[1]), None)
        if st is not None and st.no_decision_from == "lost":
            return (f"stages.{st.name}.no_decision comes out of lost (no_decision_from: lost), "
                    "so it moves neither advance nor bookings; set "
                    f"stages.{st.name}.no_decision_from: advance to take it from next")
    return None


def note(sc: Scenario, path: str) -> str:
    """A short tag for a parameter's label that says what it moves (``""`` when nothing needs
    saying): ``" (from lost: bookings unaffected)"`` for a stage's no decision taken from lost,
    ``" (taken from advance)"`` for one taken from advance."""
    parts = path.split(" + ")[0].split(".")
    if len(parts) >= 3 and parts[0] == "stages" and parts[2] == "no_decision":
        st = next((x for x in sc.stages if x.name == parts[1]), None)
        if st is not None:
            return (" (from lost: bookings unaffected)" if st.no_decision_from == "lost"
                    else " (taken from advance)")
    return ""


__all__ = ["note", "Routing", "routing", "no_decision_factor", "solve_overall", "segment_advance",
           "campaign_quality", "overall_problems", "statements", "inert", "Unreachable",
           "mean_of"]
