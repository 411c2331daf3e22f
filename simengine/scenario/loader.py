"""Load a scenario file: YAML -> ``extends`` merge -> ``--set`` overrides -> validated Scenario.

Every problem is reported as ``file:line: dotted.path: expected ..., found ...``; all problems of
a file are reported together.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

import simengine.scenario.paths as paths
from simengine.errors import ScenarioError
from simengine.scenario.base import PROBLEM, join_path
from simengine.scenario.distributions import DIST_CLASSES
from simengine.scenario.model import Scenario

MAX_EXTENDS_DEPTH = 10


# --- YAML with line numbers -------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so pydantic reports a bad date with its path."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Source:
    """One YAML file: its data and the line of every key/item (by path tuple)."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines: dict[tuple, int] = {}
        try:
            node = yaml.compose(text, Loader=_Loader)
            self.data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f":{mark.line + 1}" if mark else ""
            what = exc.problem or "invalid YAML"
            raise ScenarioError(f"{path}{line}: YAML syntax error: {what}"
                                f"{' ' + exc.context if exc.context else ''}") from None
        except yaml.YAMLError as exc:
            raise ScenarioError(f"{path}: YAML error: {exc}") from None
        self.duplicates: list[str] = []
        if node is not None:
            self._index(node, ())
        if self.duplicates:  # YAML keeps the last silently: a typo must not become a value
            raise ScenarioError(self.duplicates)

    def _index(self, node: yaml.Node, at: tuple) -> None:
        self.lines.setdefault(at, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for k, v in node.value:
                key = (k.value,)
                line = k.start_mark.line + 1
                if k.value in first:
                    where = dotted(tuple(at) + key)
                    self.duplicates.append(
                        f"{self.path}:{line}: {where}: expected each key once in a mapping, found "
                        f"'{k.value}' again (first at line {first[k.value]})")
                    continue
                first[k.value] = line
                self.lines[at + key] = line
                self._index(v, at + key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._index(v, at + (i,))

    def line_of(self, loc: tuple) -> int | None:
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return None


# What a file that is not a scenario probably is, by its suffix, and what to do with it.
_NOT_SCENARIOS = {
    ".csv": "a CSV table (a CRM export is turned into a scenario by simengine calibrate)",
    ".tsv": "a table", ".xlsx": "a workbook", ".xls": "a workbook",
    ".nc": "a result (simengine plot / report / export read it)",
    ".zarr": "a result (simengine plot / report / export read it)",
    ".html": "a report", ".png": "a figure", ".svg": "a figure", ".pdf": "a PDF document",
}


def _read(path: Path) -> _Source:
    kind = _NOT_SCENARIOS.get(path.suffix.lower())
    if kind is not None:
        raise ScenarioError(f"{path}: expected a scenario YAML file, found {kind}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the file ({exc})") from None
    src = _Source(path, text)
    if src.data is None:
        raise ScenarioError(f"{path}: expected a scenario (a YAML mapping), found an empty file")
    if not isinstance(src.data, dict):
        found = {"str": "a line of text", "list": "a list"}.get(type(src.data).__name__,
                                                              type(src.data).__name__)
        raise ScenarioError(f"{path}:1: expected a scenario (a YAML mapping of keys such as "
                            f"name, horizon, stages), found {found}")
    return src


# --- extends ----------------------------------------------------------------------------------
def merge(base: Any, over: Any, key: str | None = None) -> Any:
    """Merge ``over`` into ``base`` key by key.

    Mappings merge recursively (a ``null`` removes the key); the named lists (stages, campaigns,
    friction, drift) merge item by item by ``name`` (new names are appended); other lists and
    scalars are replaced, and so are values written as mappings: a distribution
    (``{dist: ...}``) and a campaign's ``volume`` form.
    """
    if isinstance(over, dict) and ("dist" in over or key == "volume"):
        return copy.deepcopy(over)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = merge(out[k], v, k)
            else:
                out[k] = copy.deepcopy(v)
        return out
    if key in paths.NAMED_LISTS and isinstance(base, list) and isinstance(over, list):
        out = [copy.deepcopy(item) for item in base]
        names = [item.get("name") if isinstance(item, dict) else None for item in out]
        for item in over:
            name = item.get("name") if isinstance(item, dict) else None
            if name is not None and name in names:
                i = names.index(name)
                out[i] = merge(out[i], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(over)


def _resolve(path: Path, depth: int = 0) -> tuple[dict[str, Any], list[_Source]]:
    src = _read(path)
    data = dict(src.data)
    chain = [src]
    parent = data.get("extends")
    if parent is not None:
        if not isinstance(parent, str):
            line = src.line_of(("extends",))
            raise ScenarioError(f"{path}:{line}: extends: expected the path of a base scenario, "
                                f"found {parent!r}")
        if depth >= MAX_EXTENDS_DEPTH:
            raise ScenarioError(f"{path}: extends: expected at most {MAX_EXTENDS_DEPTH} levels "
                                f"of extends, found a longer (circular?) chain")
        base_path = (path.parent / parent).resolve()
        if not base_path.exists():
            line = src.line_of(("extends",))
            raise ScenarioError(f"{path}:{line}: extends: expected an existing scenario file, "
                                f"found '{parent}' ({base_path} does not exist)")
        base, base_chain = _resolve(base_path, depth + 1)
        data = merge(base, data)
        chain += base_chain
    return data, chain


# --- overrides --------------------------------------------------------------------------------
def parse_set(item: str) -> tuple[str, Any]:
    """Split ``PATH=VALUE``; the value is YAML (a number, a date, or ``{dist: ...}``)."""
    if "=" not in item:
        raise ScenarioError(f"--set {item}: expected PATH=VALUE, found no '='")
    path, text = item.split("=", 1)
    try:  # dates stay text, so that a bad one is reported by validation like one in a file
        value = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"--set {item}: expected a YAML value, found a syntax error "
                            f"({str(exc).splitlines()[0]})") from None
    return path.strip(), value


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any] | list[str] | None,
                    origin: str = "--set", applied: dict[str, str] | None = None
                    ) -> dict[str, Any]:
    """Apply ``{path: value}`` (or ``["path=value", ...]``) to a raw scenario mapping.

    ``applied``, when given, receives ``{dotted path: "--set PATH"}`` so that a problem with an
    overridden value is reported against the override, not the file.
    """
    raw = copy.deepcopy(raw)
    if not overrides:
        return raw
    items = overrides.items() if isinstance(overrides, dict) else map(parse_set, overrides)
    for path, value in items:
        try:
            dotted_path = paths.set_raw(raw, path, value)
        except KeyError as exc:
            raise ScenarioError(f"{origin} {path}: {exc.args[0]}") from None
        if applied is not None:
            applied[dotted_path] = f"{origin} {path}"
    return raw


# --- validation errors ------------------------------------------------------------------------
_TAG_PREFIXES = ("dist:", "per:", "volume:", "date:")


def _clean_loc(loc: tuple) -> tuple:
    return tuple(x for x in loc if not (isinstance(x, str) and x.startswith(_TAG_PREFIXES)))


def dotted(loc: tuple) -> str:
    """``('stages', 3, 'next', 'sql')`` -> ``stages[3].next.sql``."""
    out = ""
    for x in loc:
        out = join_path(out, f"[{x}]" if isinstance(x, int) else str(x))
    return out


def _found(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, dict) and value.get("dist") and len(value) > 1:
        return f"{value['dist']} " + json.dumps({k: v for k, v in value.items() if k != "dist"},
                                              default=str)
    if isinstance(value, str):
        return repr(value)
    text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _allowed_keys(loc: tuple) -> list[str] | None:
    """The keys allowed at ``loc`` by walking the model's type annotations."""
    tp: Any = Scenario
    for x in loc:
        tp = _step(tp, x)
        if tp is None:
            return None
    tp = _unwrap_model(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return None


def _unwrap_model(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            models = [a for a in typing.get_args(tp)
                      if isinstance(_unwrap_model(a), type)
                      and issubclass(_unwrap_model(a), BaseModel)]
            if len(models) != 1:
                return tp
            tp = models[0]
        else:
            return tp


def _step(tp: Any, x: Any) -> Any:
    if isinstance(x, str) and x.startswith("dist:"):
        return DIST_CLASSES.get(x[5:])
    if isinstance(x, str) and x.startswith("volume:"):
        from simengine.scenario.model import AudienceVolume, BudgetVolume, LeadsVolume

        return {"leads": LeadsVolume, "budget": BudgetVolume, "audience": AudienceVolume}[x[7:]]
    if isinstance(x, str) and x.startswith(("per:", "date:")):
        return tp
    tp = _unwrap_model(tp)
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, f in tp.model_fields.items():
            if x in (name, f.alias):
                return f.annotation
        return None
    if origin is list and isinstance(x, int):
        return typing.get_args(tp)[0]
    if origin is dict and isinstance(x, str):
        return typing.get_args(tp)[1]
    return None


def _expectation(err: dict[str, Any], loc: tuple) -> tuple[str, str]:
    """(expected, found) phrases for one pydantic error (``loc`` without union tags)."""
    typ, ctx, inp = err["type"], err.get("ctx") or {}, err.get("input")
    found = _found(inp)
    if typ == "missing":
        return f"a value for the required key '{loc[-1]}'", "nothing"
    if typ == "extra_forbidden":
        allowed = _allowed_keys(tuple(err["loc"])[:-1]) or []
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        did = f" (did you mean '{hint[0]}'?)" if hint else ""
        return (f"one of the keys {', '.join(allowed)}{did}" if allowed else "no such key",
                f"unknown key '{loc[-1]}'")
    if typ == "se_dist":
        if isinstance(inp, dict) and "dist" in inp:
            return f"a distribution name, one of {', '.join(DIST_CLASSES)}", repr(inp["dist"])
        return "a number or a distribution {dist: NAME, ...}", found
    if typ == "se_volume":
        return ("one of {leads: N}, {budget: B, cost_per_lead: X} or "
                "{audience: N, response_rate: P}"), found
    if typ in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}[typ]
        bound = next(iter(ctx.values()))
        return f"a number {op} {bound}", found
    if typ in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float",
               "finite_number"):
        return ("a whole number" if "int" in typ else "a number"), found
    if typ.startswith("date") or typ.startswith("datetime"):
        return "an ISO date (YYYY-MM-DD)", found
    if typ == "literal_error":
        return f"one of {ctx.get('expected')}", found
    if typ == "string_pattern_mismatch":
        return "a name of letters, digits, '-' and '_' that starts with a letter", found
    if typ in ("too_short", "too_long"):
        n = ctx.get("min_length") if typ == "too_short" else ctx.get("max_length")
        return f"{'at least' if typ == 'too_short' else 'at most'} {n} items", \
            f"{ctx.get('actual_length')} items"
    if typ in ("dict_type", "model_type", "model_attributes_type"):
        return "a mapping of keys to values", found
    if typ == "list_type":
        return "a list", found
    if typ in ("string_type", "string_too_long"):
        return "a short text", found
    if typ == "union_tag_not_found":
        return "a mapping with the keys of one of the accepted forms", found
    return err["msg"][0].lower() + err["msg"][1:], found


def format_errors(exc: ValidationError, chain: list[_Source], origin: str,
                  applied: dict[str, str] | None = None) -> list[str]:
    """One line per problem: ``file:line: path: expected ..., found ...`` (or ``--set PATH: ...``
    when the value came from an override)."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        if err["type"] == PROBLEM:
            items = [(join_path(dotted(loc), sub), exp, fnd)
                     for sub, exp, fnd in err["ctx"]["problems"]]
        else:
            exp, fnd = _expectation(err, loc)
            items = [(dotted(loc), exp, fnd)]
        for where, exp, fnd in items:
            over = next((v for k, v in (applied or {}).items()
                         if where == k or where.startswith((k + ".", k + "["))), None)
            if over is not None:
                lines.append(f"{over}: {where}: expected {exp}, found {fnd}")
                continue
            where_loc = tuple(paths.split(where)) if where else ()
            src, line = _locate_line(chain, where_loc)
            file = src.path if src else origin
            lines.append(f"{file}{f':{line}' if line else ''}: {where or '(top level)'}: "
                         f"expected {exp}, found {fnd}")
    return list(dict.fromkeys(lines))


def _locate_line(chain: list[_Source], loc: tuple) -> tuple[_Source | None, int | None]:
    for src in chain:
        if loc in src.lines:
            return src, src.lines[loc]
    for src in chain:  # nearest enclosing key in the first file that has one
        line = src.line_of(loc)
        if line is not None and loc[:1] and loc[:1] in src.lines:
            return src, line
    return (chain[0], None) if chain else (None, None)


# --- public API -------------------------------------------------------------------------------
def load_scenario(path: str | Path, overrides: dict[str, Any] | list[str] | None = None
                  ) -> Scenario:
    """Read, merge and validate a scenario file.

    Parameters
    ----------
    path
        A scenario YAML file. Its ``extends:`` base (a path relative to the file) is merged
        under it first.
    overrides
        ``{parameter path: value}`` or ``["path=value", ...]`` (the CLI's ``--set``), applied
        after the merge; values may be numbers, dates or distributions.

    Returns
    -------
    Scenario
        The validated, immutable scenario.

    Raises
    ------
    ScenarioError
        With one line per problem: file, line, dotted path, what was expected, what was found.

    Examples
    --------
    >>> sc = load_scenario("scenarios/baseline.yaml", {"goal.revenue": 10_000_000})
    >>> sc.goal.revenue
    10000000.0
    """
    path = Path(path)
    raw, chain = _resolve(path)
    applied: dict[str, str] = {}
    raw = apply_overrides(raw, overrides, applied=applied)
    return validate(raw, chain=chain, origin=str(path), applied=applied)


def validate(raw: dict[str, Any], chain: list[_Source] | None = None,
             origin: str = "<scenario>", applied: dict[str, str] | None = None) -> Scenario:
    """Validate a raw scenario mapping (what YAML gives) into a :class:`Scenario`."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc, chain or [], origin, applied)) from None


def to_raw(sc: Scenario) -> dict[str, Any]:
    """The scenario as plain data (numbers, strings, dates), as it would be written in YAML."""
    raw = sc.model_dump(mode="json", exclude_none=True, by_alias=True)
    if not raw.get("drift"):  # no drift: the same data (and fingerprint) as before drift existed
        raw.pop("drift", None)
    for st in raw.get("stages", []):  # the default rule: the data as before it could be chosen
        if st.get("no_decision_from") == "lost":
            st.pop("no_decision_from")
    return raw


def with_values(sc: Scenario, values: dict[str, Any]) -> Scenario:
    """A copy of ``sc`` with parameter paths set to new values (numbers or distributions)."""
    return validate(apply_overrides(to_raw(sc), values, origin="parameter"), origin=sc.name)


def to_yaml(sc: Scenario) -> str:
    """The resolved scenario as YAML (``extends`` already merged)."""
    raw = to_raw(sc)
    raw.pop("extends", None)
    return yaml.safe_dump(raw, sort_keys=False, default_flow_style=None, width=100)


def canonical_json(sc: Scenario) -> str:
    """Canonical JSON of the resolved scenario (sorted keys): what ``scenario_sha256`` hashes."""
    raw = to_raw(sc)
    raw.pop("extends", None)
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)


def scenario_sha256(sc: Scenario) -> str:
    return hashlib.sha256(canonical_json(sc).encode()).hexdigest()
