"""Which scalar parameters may move over time (a ``drift:`` entry), and what each one moves.

A drift entry names a parameter path (``stages.engaging.next.won``); :func:`resolve` turns it
into a :class:`Target`: the kind of effect in the engine (a routing probability, a dwell scale,
an arrival rate, a quality or advance multiplier), the scale it moves on (logit or log) and the
indices it touches. The same function validates the scenario and compiles it, so a path that
passes validation is always one the engine knows how to move.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simengine.scenario import paths

if TYPE_CHECKING:
    from simengine.scenario.model import Scenario

# kinds of effect
NEXT, NO_DECISION, RECYCLE, DWELL, VOLUME, QUALITY, ADVANCE, SEG_DWELL = (
    "next", "no_decision", "recycle", "dwell", "volume", "quality", "advance", "seg_dwell")
ROUTING = (NEXT, NO_DECISION, RECYCLE, QUALITY, ADVANCE)
"""Kinds that change the outcome probabilities of stage visits."""
DWELLS = (DWELL, SEG_DWELL)

CAN_DRIFT = (
    "stages.NAME.next.TARGET, stages.NAME.no_decision, stages.NAME.recycle.p (logit scale); "
    "stages.NAME.dwell, campaigns.NAME.volume.(leads|budget|audience|cost_per_lead), "
    "campaigns.NAME.quality, segments.NAME.advance[.STAGE], segments.NAME.dwell[.STAGE] "
    "(log scale); campaigns.NAME.volume.response_rate (logit scale)")
"""What can drift, as written in error messages and the scenario reference."""
VOLUME_KEYS = ("leads", "budget", "audience", "cost_per_lead", "response_rate")
"""The volume numbers whose drift moves a campaign's arrival rate."""


@dataclass(frozen=True)
class Target:
    """What one drift entry moves.

    Attributes
    ----------
    path : str
        Canonical parameter path (stages and campaigns by name; ``stages.X.dwell``).
    kind : str
        One of the kind constants of this module.
    scale : str
        ``"logit"`` or ``"log"``.
    stages : tuple of int
        Stage indices whose routing or dwell it changes (every stage for a campaign quality).
    index : int
        Campaign, segment or stage index (the owner of the parameter).
    k : int
        Position of the target in ``next`` (kind ``next``), else -1.
    sign : float
        Exponent of ``exp(z)`` on an arrival rate: -1 for a cost per lead, else 1.
    """

    path: str
    kind: str
    scale: str
    stages: tuple[int, ...]
    index: int
    k: int = -1
    sign: float = 1.0


def _name(items: list[Any], part: str | int) -> str | None:
    """The name of a named-list item addressed by name or index, None if there is none."""
    names = [x.name for x in items]
    if isinstance(part, int):
        return names[part] if 0 <= part < len(names) else None
    return part if part in names else None


def driftable(sc: Scenario) -> list[str]:
    """Every canonical path of ``sc`` that a drift entry may name."""
    out: list[str] = []
    for st in sc.stages:
        b = f"stages.{st.name}"
        out += [f"{b}.next.{t}" for t in st.next] + [f"{b}.no_decision"]
        if st.recycle is not None:
            out.append(f"{b}.recycle.p")
        out.append(f"{b}.dwell")
    for c in sc.campaigns:
        b = f"campaigns.{c.name}"
        out += [f"{b}.volume.{k}" for k in type(c.volume).model_fields if k in VOLUME_KEYS]
        out.append(f"{b}.quality")
    for g in sc.segments:
        for key in ("advance", "dwell"):
            out += [f"segments.{g}.{key}"] + [f"segments.{g}.{key}.{s}" for s in sc.stage_names]
    return out


def resolve(sc: Scenario, path: str) -> Target | tuple[str, str]:
    """The target of a drift ``param``, or ``(expected, found)`` describing why it has none."""
    try:
        parts = paths.split(path)
    except KeyError:
        return "a parameter path (keys separated by dots)", repr(path)
    t = _resolve(sc, parts)
    if t is not None:
        return t
    try:
        node = paths.get_raw(sc.model_dump(mode="json", exclude_none=True), path)
    except (KeyError, TypeError, IndexError):
        node = None
        exists = False
    else:
        exists = True
    if exists and not isinstance(node, (dict, list)):
        return f"a parameter that can drift ({CAN_DRIFT})", f"'{path}', which cannot drift"
    if exists and isinstance(node, dict) and "dist" in node:
        return f"a parameter that can drift ({CAN_DRIFT})", f"'{path}', which cannot drift"
    near = difflib.get_close_matches(path, driftable(sc), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    return (f"the path of a parameter of the scenario that can drift{hint}",
            f"'{path}'" + (", which is a section" if exists else ", which does not exist"))


def _resolve(sc: Scenario, parts: list[str | int]) -> Target | None:
    S = len(sc.stages)
    head = parts[0]
    if head == "stages" and len(parts) >= 3:
        name = _name(sc.stages, parts[1])
        if name is None:
            return None
        s = sc.stage_names.index(name)
        st = sc.stages[s]
        b = f"stages.{name}"
        rest = parts[2:]
        if len(rest) == 2 and rest[0] == "next" and rest[1] in st.next:
            return Target(f"{b}.next.{rest[1]}", NEXT, "logit", (s,), s,
                          k=list(st.next).index(rest[1]))
        if rest == ["no_decision"]:
            return Target(f"{b}.no_decision", NO_DECISION, "logit", (s,), s)
        if rest == ["recycle", "p"] and st.recycle is not None:
            return Target(f"{b}.recycle.p", RECYCLE, "logit", (s,), s)
        if rest in (["dwell"], ["dwell", "mean"]):
            return Target(f"{b}.dwell", DWELL, "log", (s,), s)
        return None
    if head == "campaigns" and len(parts) >= 3:
        name = _name(sc.campaigns, parts[1])
        if name is None:
            return None
        c = [x.name for x in sc.campaigns].index(name)
        camp = sc.campaigns[c]
        b = f"campaigns.{name}"
        rest = parts[2:]
        if rest == ["quality"]:
            return Target(f"{b}.quality", QUALITY, "log", tuple(range(S)), c)
        if (len(rest) == 2 and rest[0] == "volume" and rest[1] in VOLUME_KEYS
                and rest[1] in type(camp.volume).model_fields):
            key = rest[1]
            return Target(f"{b}.volume.{key}", VOLUME,
                          "logit" if key == "response_rate" else "log", (), c,
                          sign=-1.0 if key == "cost_per_lead" else 1.0)
        return None
    if head == "segments" and len(parts) in (3, 4) and parts[1] in sc.segments:
        g = list(sc.segments).index(parts[1])
        key = parts[2]
        if key not in ("advance", "dwell"):
            return None
        kind = ADVANCE if key == "advance" else SEG_DWELL
        if len(parts) == 3:
            return Target(f"segments.{parts[1]}.{key}", kind, "log", tuple(range(S)), g)
        if parts[3] in sc.stage_names:
            return Target(f"segments.{parts[1]}.{key}.{parts[3]}", kind, "log",
                          (sc.stage_names.index(parts[3]),), g)
    return None


def clock_of_stages(sc: Scenario) -> tuple[list[str | None], list[str | None]]:
    """The ``by`` of the drift that moves each stage's routing, and each stage's dwell (None
    where nothing moves). Validation guarantees one ``by`` per stage and effect."""
    route: list[str | None] = [None] * len(sc.stages)
    dwell: list[str | None] = [None] * len(sc.stages)
    for d in sc.drift:
        t = resolve(sc, d.param)
        if not isinstance(t, Target):
            continue
        which = route if t.kind in ROUTING else dwell if t.kind in DWELLS else None
        if which is None:
            continue
        for s in t.stages:
            which[s] = d.by
    return route, dwell
