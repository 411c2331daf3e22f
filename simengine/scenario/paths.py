"""Parameter paths: names for any scalar of a scenario, written with the names in the file.

``stages.mql.next.sal``, ``campaigns.webinar-series.volume.budget``, ``pools.ae.headcount``,
``segments.smb.deal_value.mean``, ``initial_pipeline[0].count``, ``drift.won-share.sd``. Items of
the named lists (stages, campaigns, friction, drift) are addressed by name, or by index as
``stages[2]``.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

NAMED_LISTS = ("stages", "campaigns", "friction", "drift")
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split(path: str) -> list[str | int]:
    """Split a path into keys (str) and list indices (int).

    >>> split("initial_pipeline[0].age.high")
    ['initial_pipeline', 0, 'age', 'high']
    """
    if not path or path.startswith(".") or path.endswith(".") or ".." in path:
        raise KeyError(f"'{path}' is not a parameter path (keys separated by dots)")
    out: list[str | int] = []
    pos = 0
    for m in _TOKEN.finditer(path):
        gap = path[pos:m.start()]
        if gap not in ("", "."):
            raise KeyError(f"'{path}' is not a parameter path")
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if pos != len(path):
        raise KeyError(f"'{path}' is not a parameter path")
    return out


def locate(raw: dict[str, Any], path: str, create: bool = False) -> tuple[Any, Any, str]:
    """Find the container and key of ``path`` in a raw (YAML-loaded) scenario mapping.

    Returns ``(container, key, dotted)`` where ``container[key]`` is the value and ``dotted``
    is the same location written with list indices (``stages[1].next.sal``). With ``create``,
    missing mapping keys on the way are created.

    Raises
    ------
    KeyError
        With a message naming the part of the path that does not exist and what does.
    """
    parts = split(path)
    node: Any = raw
    shown: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        parent_key = parts[i - 1] if i else None
        if isinstance(node, list):
            if isinstance(part, str):
                if parent_key not in NAMED_LISTS:
                    raise KeyError(f"{'.'.join(shown)}: expected an index [n], found '{part}'")
                names = [item.get("name") for item in node if isinstance(item, dict)]
                if part not in names:
                    hint = difflib.get_close_matches(part, [str(n) for n in names], n=1)
                    did = f" (did you mean '{hint[0]}'?)" if hint else ""
                    raise KeyError(f"{'.'.join(shown)}.{part}: expected one of "
                                   f"{', '.join(map(str, names))}{did}, found '{part}'")
                part = names.index(part)
            if not 0 <= part < len(node):
                raise KeyError(f"{''.join(shown)}[{part}]: expected an index below {len(node)}")
            shown[-1] = f"{shown[-1]}[{part}]"
        elif isinstance(node, dict):
            if isinstance(part, int):
                raise KeyError(f"{'.'.join(shown)}: is a mapping, not a list")
            if part not in node:
                if not create:
                    keys = ", ".join(map(str, node)) or "(none)"
                    hint = difflib.get_close_matches(str(part), [str(k) for k in node], n=1)
                    did = f" (did you mean '{hint[0]}'?)" if hint else ""
                    raise KeyError(f"{'.'.join(shown + [part])}: no such key; "
                                   f"expected one of {keys}{did}")
                if not last:
                    node[part] = {}
            shown.append(part)
        else:
            raise KeyError(f"{'.'.join(shown)}: is a value, it has no '{part}'")
        if last:
            return node, part, ".".join(shown)
        node = node[part]
    raise KeyError(path)


def get_raw(raw: dict[str, Any], path: str) -> Any:
    container, key, _ = locate(raw, path)
    return container[key]


def set_raw(raw: dict[str, Any], path: str, value: Any) -> str:
    """Set ``path`` in a raw scenario mapping (creating mapping keys); return the dotted form."""
    container, key, dotted = locate(raw, path, create=True)
    container[key] = value
    return dotted


# --- words for people ---------------------------------------------------------------------------
_LEAF_WORDS = {
    "no_decision": "no decision", "deal_value": "deal value", "cost_per_lead": "cost per lead",
    "response_rate": "response rate", "cost_per_rep": "cost per rep", "slots_per_rep": "slots "
    "per rep", "headcount": "headcount", "leads": "leads", "budget": "budget",
    "audience": "audience", "quality": "quality ×", "advance": "advance ×", "share": "share",
    "occurs": "(risk event)", "days": "length", "start": "start", "revenue": "goal",
    "patience": "patience", "dwell": "dwell", "count": "count", "age": "age",
}


def label(path: str) -> str:
    """A short name for people: ``stages.proposal.next.won`` -> ``proposal → won``,
    ``campaigns.webinar.volume.cost_per_lead`` -> ``webinar cost per lead``,
    ``segments.smb.deal_value.mean`` -> ``smb deal value (mean)``.

    A string that is not a parameter path (a group name) is returned as it is; correlated
    parameters varied together (``a + b``) are labelled one by one.
    """
    if " + " in path:
        return " + ".join(label(p) for p in path.split(" + "))
    try:
        parts = [str(p) for p in split(path)]
    except KeyError:
        return path
    if parts[0] == "drift" and len(parts) == 3:  # drift.NAME.sd, drift[0].phi
        word = {"sd": "s.d.", "phi": "persistence", "trend": "trend",
                "trend_sd": "trend s.d."}.get(parts[2], parts[2])
        name = f"drift[{parts[1]}]" if parts[1].isdigit() else f"{parts[1]} drift"
        return f"{name} {word}"
    stat = ""
    if len(parts) >= 2 and parts[-1] in ("mean", "cv", "sd", "low", "mode", "high", "value"):
        stat = " (mean)" if parts[-1] == "mean" else f" ({parts[-1]})"
        parts = parts[:-1]
    head = parts[0]
    if parts == ["goal", "revenue"]:
        return "goal"
    if head == "stages" and len(parts) >= 4 and parts[2] == "next":
        return f"{parts[1]} → {parts[3]}{stat}"
    if head == "stages" and len(parts) >= 4 and parts[2] == "recycle":
        return f"{parts[1]} recycle{' rate' if parts[3] == 'p' else ' ' + parts[3]}{stat}"
    if head in ("stages", "campaigns", "friction", "segments", "pools") and len(parts) >= 3:
        rest = [p for p in parts[2:] if p not in ("volume", "cost")]
        words = " ".join(_LEAF_WORDS.get(p, p.replace("_", " ")) for p in rest)
        return f"{parts[1]} {words}{stat}".strip()
    return " ".join(_LEAF_WORDS.get(p, p.replace("_", " ")) for p in parts) + stat


def kind(path: str) -> str:
    """What a parameter measures, for formatting its values: ``probability``, ``money``,
    ``days``, ``count``, ``multiplier``, ``event`` or ``number`` (of the first of several
    parameters varied together, ``a + b``)."""
    path = path.split(" + ")[0]
    try:
        parts = [str(p) for p in split(path)]
    except KeyError:
        return "number"
    last = parts[-1]
    if parts[0] == "drift":  # s.d., persistence and trend of a path, on its own scale
        return "number"
    if parts[0] == "initial_pipeline" and last in ("quality", "dwell"):
        return "multiplier"
    if last == "occurs":
        return "event"
    if last == "cv":
        return "number"
    if "next" in parts or last in ("no_decision", "share", "response_rate", "p"):
        return "probability"
    if {"deal_value", "cost_per_lead", "budget", "cost_per_rep", "revenue", "fixed",
            "per_lead"} & set(parts):
        return "money"
    if {"dwell", "patience", "delay", "age"} & set(parts) or last in ("days", "start"):
        return "days"
    if last in ("leads", "audience", "headcount", "count", "slots_per_rep"):
        return "count"
    if last in ("quality", "advance") or "advance" in parts:
        return "multiplier"
    return "number"
