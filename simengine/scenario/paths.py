"""Parameter paths: names for any scalar of a scenario, written with the names in the file.

``stages.mql.next.sal``, ``campaigns.webinar-series.volume.budget``, ``pools.ae.headcount``,
``segments.smb.deal_value.mean``, ``initial_pipeline[0].count``, ``drift.won-share.sd``. Items of
the named lists (stages, campaigns, friction, drift) are addressed by name, or by index as
``stages[2]``.
"""

from __future__ import annotations

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
                    raise KeyError(f"{'.'.join(shown)}.{part}: expected one of "
                                   f"{', '.join(map(str, names))}, found '{part}'")
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
                    raise KeyError(f"{'.'.join(shown + [part])}: no such key; "
                                   f"expected one of {keys}")
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
