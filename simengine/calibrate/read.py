"""Read a CRM export into one table of stage visits, with errors that name the row and column.

Two layouts are read:

* **opportunities** — one row per opportunity: id, status/stage, the date it entered the modelled
  stage (``engage_date``, ``created_date`` ...), the close date and the close value. Won and lost
  rows are closed visits; any other status with an entry date is an open visit; rows without
  any date cannot be placed in time and are counted, not used.
* **stages** — one row per stage change: id, stage, the date the stage was entered, and optional
  exit date, outcome and value columns. A row whose stage is a won / lost / no-decision label
  closes the visit before it.

Both become a :class:`History`: one row per visit with ``entered``, ``exited`` (NaT while open),
``outcome`` (the next stage, ``won``, ``lost``, ``no_decision``, or ``""`` while open) and the
deal value. :func:`cut` then keeps only what was known on a date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from simengine.errors import SimEngineError

MAX_REPORTED = 10

WON_LABELS = ("won", "closed won", "closed-won", "closed_won", "closedwon", "win")
LOST_LABELS = ("lost", "closed lost", "closed-lost", "closed_lost", "closedlost", "loss")
ND_LABELS = ("no decision", "no_decision", "no-decision", "closed no decision", "stalled",
             "closed - no decision")

# Column names recognised without a mapping (lower case), by role.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("opportunity_id", "opportunityid", "opp_id", "deal_id", "dealid", "id",
           "record_id", "opportunity"),
    "stage": ("deal_stage", "stage", "stagename", "stage_name", "status", "dealstage"),
    "entered": ("engage_date", "engaged_date", "entered_at", "entered", "created_date",
                "createddate", "create_date", "created_at", "created", "open_date",
                "stage_entered_at", "date"),
    "closed": ("close_date", "closedate", "closed_date", "closed_at", "exited_at", "exit_date",
               "left_at"),
    "value": ("close_value", "amount", "value", "deal_value", "closevalue", "revenue"),
    "outcome": ("outcome", "result", "final_outcome"),
    "segment": (),
}
ROLES = tuple(ALIASES)
REQUIRED = {"opportunities": ("id", "stage", "entered", "closed", "value"),
            "stages": ("id", "stage", "entered")}

# Date orders an export may use besides ISO (YYYY-MM-DD); the names are what messages show.
DATE_FORMATS = {"iso": "YYYY-MM-DD", "mdy": "MM/DD/YYYY", "dmy": "DD/MM/YYYY"}
_DATE_FORMAT_ALIASES = {"iso": "iso", "yyyy-mm-dd": "iso", "mdy": "mdy", "mm/dd/yyyy": "mdy",
                        "us": "mdy", "dmy": "dmy", "dd/mm/yyyy": "dmy"}
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\b")


class CalibrationError(SimEngineError):
    """A CRM export (or a calibration option) is invalid.

    The message has one line per problem: ``file:line (row n): column 'c': expected ..., found
    ...``.
    """

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class History:
    """Stage visits read from a CRM export.

    Attributes
    ----------
    source : str
        File name, or ``<DataFrame>``.
    layout : str
        ``"opportunities"`` or ``"stages"``.
    visits : pandas.DataFrame
        One row per stage visit: ``id`` (str), ``stage`` (str, a scenario stage name),
        ``entered`` and ``exited`` (datetime64, ``exited`` NaT while open), ``outcome``
        (str: a later stage, ``won``, ``lost``, ``no_decision``, ``""`` while open), ``value``
        (float, the deal's close value, NaN if unknown), ``segment`` (str or None) and ``row``
        (the 1-based data row the visit came from).
    stages : list of str
        The process stages in order.
    undated : int
        Rows that carry no date and cannot be placed in time (left out).
    labels : dict
        Stage label in the file -> scenario stage name (or won / lost / no_decision).
    columns : dict
        Role -> column name used.
    """

    source: str
    layout: str
    visits: pd.DataFrame
    stages: list[str]
    undated: int = 0
    undated_labels: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    date_format: str = "YYYY-MM-DD"

    @property
    def last_date(self) -> pd.Timestamp:
        """The latest date in the export (its effective 'as of')."""
        d = pd.concat([self.visits.entered, self.visits.exited]).max()
        return pd.Timestamp(d)


def slug(label: str) -> str:
    """A scenario name from a label: ``'GTX Plus Basic'`` -> ``'gtx-plus-basic'``."""
    s = re.sub(r"[^A-Za-z0-9]+", "-", str(label).strip()).strip("-").lower()
    if not s or not s[0].isalpha():
        s = f"s-{s}" if s else "unnamed"
    return s[:48]


def _where(source: str, i: int, col: str) -> str:
    """``crm.csv:18 (row 17): column 'close_date'`` for the 0-based data row ``i``."""
    if source.endswith(">"):
        return f"{source} row {i + 1}: column '{col}'"
    return f"{source}:{i + 2} (row {i + 1}): column '{col}'"


class _Problems:
    def __init__(self, source: str):
        self.source = source
        self.items: list[str] = []
        self.count = 0

    def cell(self, i: int, col: str, expected: str, found: object) -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED:
            self.items.append(f"{_where(self.source, i, col)}: expected {expected}, found "
                              f"{_show(found)}")

    def add(self, line: str) -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED:
            self.items.append(line)

    def raise_if_any(self) -> None:
        if self.items:
            more = self.count - len(self.items)
            lines = self.items + ([f"{self.source}: ... and {more} more problem(s) of the same "
                                   "kinds"] if more > 0 else [])
            raise CalibrationError(lines)


def _show(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "nothing (an empty cell)"
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    text = str(v)
    return repr(text if len(text) <= 40 else text[:37] + "...")


# --- reading ---------------------------------------------------------------------------------
def read_table(data: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The export as a DataFrame of strings, and a name for messages."""
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True).copy(), "<DataFrame>"
    path = Path(data)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                         skipinitialspace=True)
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no such file") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path}: expected a CSV file, found one that cannot be parsed "
                               f"({str(exc).splitlines()[0]})") from None
    except pd.errors.EmptyDataError:
        raise CalibrationError(f"{path}: expected a CSV file with a header row, found an "
                               "empty file") from None
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read the file ({exc})") from None
    return df, str(path)


def resolve_columns(df: pd.DataFrame, source: str, layout: str,
                    mapping: Mapping[str, str] | None) -> dict[str, str]:
    """Role -> column: the mapping first, then the usual names of CRM exports."""
    mapping = dict(mapping or {})
    bad = [k for k in mapping if k not in ROLES]
    if bad:
        raise CalibrationError(f"mapping: expected keys among {', '.join(ROLES)}, found "
                               f"{', '.join(repr(b) for b in bad)}")
    cols = {str(c).strip().lower(): c for c in df.columns}
    out: dict[str, str] = {}
    problems = []
    for role, col in mapping.items():
        if col not in df.columns:
            problems.append(f"{source}: mapping {role}={col}: expected a column of the file, "
                            f"found no column '{col}' (columns: {', '.join(map(str, df.columns))})")
        else:
            out[role] = col
    if problems:
        raise CalibrationError(problems)
    taken = set(out.values())
    for role in ROLES:
        if role in out:
            continue
        if layout == "stages" and role == "closed":
            names = ("exited_at", "exit_date", "left_at", "exited")
        elif layout == "opportunities" and role == "entered":
            names = tuple(n for n in ALIASES[role] if n not in ("entered_at", "stage_entered_at"))\
                + ("entered_at",)
        else:
            names = ALIASES[role]
        for n in names:
            if n in cols and cols[n] not in taken:
                out[role] = cols[n]
                taken.add(cols[n])
                break
    missing = [r for r in REQUIRED[layout] if r not in out]
    if missing:
        lines = []
        for r in missing:
            what = {"id": "the record id", "stage": "the stage or status",
                    "entered": "the date the record entered the stage",
                    "closed": "the close date", "value": "the close value"}[r]
            lines.append(f"{source}: expected a column with {what} (named one of "
                         f"{', '.join(ALIASES[r][:6])}, or mapped with {r}=COLUMN), found none "
                         f"among the columns {', '.join(map(str, df.columns))}")
        raise CalibrationError(lines)
    return out


def detect_layout(df: pd.DataFrame, mapping: Mapping[str, str] | None) -> str:
    """``stages`` when ids repeat (a stage-change log), else ``opportunities``."""
    mapping = mapping or {}
    cols = {str(c).strip().lower(): c for c in df.columns}
    id_col = mapping.get("id") or next((cols[n] for n in ALIASES["id"] if n in cols), None)
    if id_col is not None and id_col in df.columns and df[id_col].dropna().duplicated().any():
        return "stages"
    return "opportunities"


def date_order(df: pd.DataFrame, columns: list[str], source: str,
               given: str | None = None) -> str:
    """The order of the numeric dates (``03/01/2017``) in ``columns``: ``iso``, ``mdy`` or
    ``dmy``, read from the values that only one order can explain, or ``given``.

    Raises
    ------
    CalibrationError
        ``given`` is not a known order; or the order is ambiguous (every day is 12 or less) or
        inconsistent (both orders seen) and ``given`` is None.
    """
    if given is not None:
        key = _DATE_FORMAT_ALIASES.get(str(given).strip().lower())
        if key is None:
            raise CalibrationError(f"date_format: expected one of {', '.join(DATE_FORMATS)} "
                                   f"({', '.join(DATE_FORMATS.values())}), found {given!r}")
        return key
    parts, example = [], ""
    for col in columns:
        text = df[col].dropna().astype(str)
        m = text.str.extract(_NUMERIC_DATE).dropna()
        parts.append(m.astype(int))
        if len(m) and not example:
            example = text[m.index[0]].strip()
    nums = pd.concat(parts) if parts else pd.DataFrame()
    if nums.empty:
        return "iso"
    a, b = nums[0], nums[1]
    mdy = bool(((a <= 12) & (b <= 31)).all())
    dmy = bool(((b <= 12) & (a <= 31)).all())
    cols = ", ".join(f"'{c}'" for c in columns)
    if mdy and dmy:
        raise CalibrationError(
            f"{source}: columns {cols}: expected dates whose order of day and month can be "
            f"told, found {len(nums):,} dates like {example} with every day and month 12 or "
            "less; say which order with --date-format mdy "
            "(MM/DD/YYYY) or dmy (DD/MM/YYYY)")
    if not (mdy or dmy):
        raise CalibrationError(
            f"{source}: columns {cols}: expected dates in one order, found both MM/DD/YYYY "
            "and DD/MM/YYYY (a day over 12 in each position); fix the export or give "
            "--date-format mdy|dmy to read one order and report the others")
    return "mdy" if mdy else "dmy"


def _dates(df: pd.DataFrame, col: str, probs: _Problems, order: str = "iso") -> pd.Series:
    raw = df[col]
    parsed = pd.to_datetime(raw, errors="coerce", format="ISO8601")
    bad = parsed.isna() & raw.notna()
    if bad.any():
        text = raw[bad].astype(str)
        m = text.str.extract(_NUMERIC_DATE)
        numeric = m[0].notna()
        first, second = pd.to_numeric(m[0], errors="coerce"), pd.to_numeric(m[1], errors="coerce")
        day, month = (second, first) if order == "mdy" else (first, second)
        ok = numeric & (order != "iso") & (month <= 12) & (day <= 31)
        # month names (1 Mar 2017, March 1 2017) are unambiguous; numeric dates follow ``order``
        ok |= ~numeric
        alt = pd.to_datetime(text[ok], errors="coerce", format="mixed", dayfirst=order == "dmy")
        parsed[alt.index] = alt
        bad = parsed.isna() & raw.notna()
    what = f"a date ({DATE_FORMATS[order]})"
    for i in np.flatnonzero(bad.to_numpy()):
        probs.cell(int(i), col, what, raw.iloc[i])
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.dt.normalize()


def _values(df: pd.DataFrame, col: str, probs: _Problems) -> pd.Series:
    raw = df[col]
    clean = raw.astype("string").str.replace(r"[,$€£\s]", "", regex=True) \
        if raw.dtype == object or str(raw.dtype).startswith("str") else raw
    num = pd.to_numeric(clean, errors="coerce").astype(float)
    for i in np.flatnonzero((num.isna() & raw.notna()).to_numpy()):
        probs.cell(int(i), col, "a number (the close value)", raw.iloc[i])
    for i in np.flatnonzero((num < 0).to_numpy()):
        probs.cell(int(i), col, "a non-negative close value", raw.iloc[i])
    return num


def _kind(label: object, won: set[str], lost: set[str], nd: set[str]) -> str:
    s = str(label).strip().lower()
    if s in won:
        return "won"
    if s in lost:
        return "lost"
    if s in nd:
        return "no_decision"
    return "open"


def read(data: str | Path | pd.DataFrame, mapping: Mapping[str, str] | None = None, *,
         layout: str = "auto", won: tuple[str, ...] = (), lost: tuple[str, ...] = (),
         no_decision: tuple[str, ...] = (), stage_name: str = "opportunity",
         segment_by: str | None = None, stages: list[str] | None = None,
         date_format: str | None = None) -> History:
    """Read an opportunity-level or stage-history CRM export.

    Parameters
    ----------
    data
        A CSV path or a DataFrame.
    mapping
        ``{role: column}`` for columns with other names; roles are ``id``, ``stage``,
        ``entered``, ``closed`` (close date; the exit date of a stage-history row), ``value``,
        ``outcome`` and ``segment``.
    layout
        ``"opportunities"``, ``"stages"`` or ``"auto"`` (stages when ids repeat).
    won, lost, no_decision
        Extra status labels meaning won / lost / no decision (case-insensitive; the usual ones
        such as ``Won`` and ``Closed Lost`` are known).
    stage_name
        Name of the modelled stage of an opportunity-level export.
    segment_by
        A column (e.g. ``product``) whose values become the scenario's segments.
    stages
        Stage labels of a stage-history export in process order (default: by the order in
        which deals pass through them).
    date_format
        ``"iso"``, ``"mdy"`` (MM/DD/YYYY) or ``"dmy"`` (DD/MM/YYYY). Default: ISO dates, or the
        order of numeric dates that the file's values prove (a day over 12 somewhere); an
        export whose every day is 12 or less is refused as ambiguous.

    Raises
    ------
    CalibrationError
        With the file, row and column of each problem, what was expected and what was found.
    """
    df, source = read_table(data)
    if df.empty:
        raise CalibrationError(f"{source}: expected at least one data row, found none")
    mapping = dict(mapping or {})
    if segment_by is not None:
        if "segment" in mapping and mapping["segment"] != segment_by:
            raise CalibrationError(f"segment_by={segment_by!r} and mapping segment="
                                   f"{mapping['segment']!r}: expected one segment column, "
                                   "found two")
        mapping["segment"] = segment_by
    if layout == "auto":
        layout = detect_layout(df, mapping)
    if layout not in REQUIRED:
        raise CalibrationError(f"layout: expected one of auto, opportunities, stages, found "
                               f"{layout!r}")
    cols = resolve_columns(df, source, layout, mapping)
    if "segment" not in mapping:
        cols.pop("segment", None)
    order = date_order(df, [cols[r] for r in ("entered", "closed") if r in cols], source,
                       date_format)
    wset = set(WON_LABELS) | {w.lower() for w in won}
    lset = set(LOST_LABELS) | {x.lower() for x in lost}
    nset = set(ND_LABELS) | {x.lower() for x in no_decision}
    if layout == "opportunities":
        h = _read_opportunities(df, source, cols, wset, lset, nset, stage_name, order)
    else:
        h = _read_stages(df, source, cols, wset, lset, nset, stages, order)
    return replace(h, date_format=DATE_FORMATS[order])


def _base(df: pd.DataFrame, source: str, cols: dict[str, str], probs: _Problems,
          order: str = "iso"):
    ids = df[cols["id"]]
    for i in np.flatnonzero(ids.isna().to_numpy()):
        probs.cell(int(i), cols["id"], "a record id", None)
    stage = df[cols["stage"]]
    for i in np.flatnonzero(stage.isna().to_numpy()):
        probs.cell(int(i), cols["stage"], "a stage or status label", None)
    entered = _dates(df, cols["entered"], probs, order)
    seg = df[cols["segment"]].fillna("unknown").astype(str) if "segment" in cols else None
    return ids.astype("string"), stage.astype("string"), entered, seg


def _read_opportunities(df, source, cols, wset, lset, nset, stage_name, order="iso") -> History:
    probs = _Problems(source)
    ids, stage, entered, seg = _base(df, source, cols, probs, order)
    closed = _dates(df, cols["closed"], probs, order)
    value = _values(df, cols["value"], probs)
    kind = stage.map(lambda s: _kind(s, wset, lset, nset))
    c_ent, c_clo, c_val = cols["entered"], cols["closed"], cols["value"]
    closed_kind = kind.isin(["won", "lost", "no_decision"]).to_numpy()
    for i in np.flatnonzero(closed_kind & entered.isna().to_numpy()
                            & df[c_ent].isna().to_numpy()):
        probs.cell(int(i), c_ent, f"the date a {stage.iloc[i]} deal was engaged", None)
    for i in np.flatnonzero(closed_kind & closed.isna().to_numpy()
                            & df[c_clo].isna().to_numpy()):
        probs.cell(int(i), c_clo, f"a close date for a {stage.iloc[i]} deal", None)
    won_mask = (kind == "won").to_numpy()
    for i in np.flatnonzero(won_mask & df[c_val].isna().to_numpy()):
        probs.cell(int(i), c_val, "the close value of a won deal", None)
    open_mask = (kind == "open").to_numpy()
    for i in np.flatnonzero(open_mask & closed.notna().to_numpy()):
        probs.cell(int(i), c_clo, f"no close date for an open deal (status "
                   f"{stage.iloc[i]!s})", closed.iloc[i])
    before = (closed < entered).to_numpy()
    for i in np.flatnonzero(before):
        probs.cell(int(i), c_clo, f"a date on or after {c_ent} "
                   f"({entered.iloc[i].date().isoformat()})", closed.iloc[i])
    dup = ids.duplicated(keep="first") & ids.notna()
    probs.raise_if_any()
    if dup.any():  # repeated ids in an opportunity export: a stage log read as the wrong layout
        i = int(np.flatnonzero(dup.to_numpy())[0])
        probs.cell(i, cols["id"], "each opportunity once (or layout='stages' for a log of stage "
                   "changes)", ids.iloc[i])
        probs.raise_if_any()

    dated = entered.notna().to_numpy()
    undated_labels = stage[~dated].value_counts().to_dict()
    keep = np.flatnonzero(dated)
    outcome = kind.where(kind != "open", "").to_numpy()[keep]
    visits = pd.DataFrame({
        "id": ids.to_numpy()[keep].astype(str),
        "stage": stage_name,
        "entered": entered.to_numpy()[keep],
        "exited": np.where(outcome != "", closed.to_numpy()[keep], np.datetime64("NaT")),
        "outcome": outcome.astype(str),
        "value": np.where(outcome == "won", value.to_numpy()[keep], np.nan),
        "segment": (seg.to_numpy()[keep] if seg is not None else None),
        "row": keep + 1,
    })
    visits["exited"] = pd.to_datetime(visits["exited"])
    labels = {}
    for lab in stage.dropna().unique():
        k = _kind(lab, wset, lset, nset)
        labels[str(lab)] = stage_name if k == "open" else k
    return History(source=source, layout="opportunities", visits=visits, stages=[stage_name],
                   undated=int((~dated).sum()), undated_labels={str(k): int(v) for k, v in
                                                                 undated_labels.items()},
                   labels=labels, columns=cols, rows=len(df))


def _read_stages(df, source, cols, wset, lset, nset, order, date_order="iso") -> History:
    probs = _Problems(source)
    ids, stage, entered, seg = _base(df, source, cols, probs, date_order)
    exited = _dates(df, cols["closed"], probs, date_order) if "closed" in cols else None
    value = _values(df, cols["value"], probs) if "value" in cols else None
    outc = df[cols["outcome"]] if "outcome" in cols else None
    c_ent = cols["entered"]
    for i in np.flatnonzero(entered.isna().to_numpy() & df[c_ent].isna().to_numpy()):
        probs.cell(int(i), c_ent, "the date the stage was entered", None)
    if exited is not None:
        for i in np.flatnonzero((exited < entered).to_numpy()):
            probs.cell(int(i), cols["closed"], f"a date on or after {c_ent} "
                       f"({entered.iloc[i].date().isoformat()})", exited.iloc[i])
    okind = None
    if outc is not None:
        okind = outc.map(lambda s: "" if pd.isna(s) else _kind(s, wset, lset, nset))
        for i in np.flatnonzero((okind == "open").to_numpy()):
            probs.cell(int(i), cols["outcome"], "won, lost, no decision or an empty cell",
                       outc.iloc[i])
    probs.raise_if_any()

    kind = stage.map(lambda s: _kind(s, wset, lset, nset))
    t = pd.DataFrame({"id": ids.astype(str), "label": stage.astype(str), "kind": kind,
                      "entered": entered, "row": np.arange(len(df)) + 1})
    t["exited"] = exited if exited is not None else pd.NaT
    t["okind"] = okind if okind is not None else ""
    t["value"] = value if value is not None else np.nan
    t["segment"] = seg if seg is not None else None
    t = t.sort_values(["id", "entered", "row"], kind="stable").reset_index(drop=True)

    open_labels = [lab for lab in t.label[t.kind == "open"].unique()]
    if order is None:
        # process order: the mean position of each stage within its deals' histories
        pos = t[t.kind == "open"].groupby("id").cumcount()
        mean_pos = pos.groupby(t.label[t.kind == "open"]).mean()
        first_seen = t[t.kind == "open"].groupby("label").entered.min()
        order = sorted(open_labels, key=lambda lab: (mean_pos[lab], first_seen[lab]))
    else:
        missing = [lab for lab in open_labels if lab not in order]
        if missing:
            raise CalibrationError(f"stages: expected every stage label of the file in the "
                                   f"order given, found {', '.join(map(repr, missing))} missing")
    names = {lab: slug(lab) for lab in order}
    rank = {lab: k for k, lab in enumerate(order)}

    rows = []
    backwards = 0
    for _id, g in t.groupby("id", sort=False):
        recs = g.to_dict("records")
        value_known = g.value.dropna()
        val = float(value_known.iloc[-1]) if len(value_known) else np.nan
        segment = recs[0]["segment"]
        for j, r in enumerate(recs):
            if r["kind"] != "open":
                continue  # a terminal row closes the visit before it
            nxt = recs[j + 1] if j + 1 < len(recs) else None
            ex, out = pd.NaT, ""
            if nxt is not None:
                ex = nxt["entered"]
                if nxt["kind"] == "open":
                    if rank[nxt["label"]] <= rank[r["label"]]:
                        backwards += 1  # a move back: observed up to then, outcome unknown
                        ex, out = nxt["entered"], "censored"
                    else:
                        out = names[nxt["label"]]
                else:
                    out = nxt["kind"]
            elif r["okind"]:
                out = r["okind"]
                ex = r["exited"] if pd.notna(r["exited"]) else pd.NaT
                if pd.isna(ex):
                    probs.cell(int(r["row"]) - 1, cols.get("closed", cols["entered"]),
                               f"the date the deal was {out.replace('_', ' ')}", None)
            if pd.notna(r["exited"]) and nxt is not None and nxt["kind"] == "open" \
                    and r["exited"] > nxt["entered"]:
                probs.cell(int(r["row"]) - 1, cols["closed"], f"an exit on or before the next "
                           f"stage's entry ({nxt['entered'].date().isoformat()})", r["exited"])
            rows.append((str(_id), names[r["label"]], r["entered"], ex, out,
                         val if out == "won" else np.nan, segment, int(r["row"])))
    probs.raise_if_any()
    visits = pd.DataFrame(rows, columns=["id", "stage", "entered", "exited", "outcome",
                                         "value", "segment", "row"])
    visits["exited"] = pd.to_datetime(visits["exited"])
    bad = (visits.exited < visits.entered).to_numpy()
    for k in np.flatnonzero(bad):
        r = visits.iloc[k]
        probs.cell(int(r.row) - 1, cols["entered"], "stage changes in time order",
                   r.entered)
    probs.raise_if_any()
    labels = {lab: names[lab] for lab in order}
    for lab, k in t[["label", "kind"]].drop_duplicates().itertuples(index=False):
        if k != "open":
            labels[lab] = k
    h = History(source=source, layout="stages", visits=visits,
                stages=[names[lab] for lab in order], labels=labels, columns=cols,
                rows=len(df))
    return replace(h, undated=0) if not backwards else replace(h, undated=0, labels={
        **labels, "(moves back to an earlier stage)": f"{backwards} visits, censored"})


# --- what was known on a date ------------------------------------------------------------------
def cut(h: History, as_of: dt.date | str | pd.Timestamp | None) -> tuple[History, pd.Timestamp]:
    """The history as it was known at the end of ``as_of``.

    Visits entered later disappear; exits after ``as_of`` become open visits; a deal's value is
    known only once it is won. With ``as_of=None`` the last date of the export is used.
    """
    if as_of is None:
        return h, h.last_date
    try:
        t = pd.Timestamp(as_of).normalize()
    except (ValueError, TypeError):
        raise CalibrationError(f"as_of: expected a date (YYYY-MM-DD), found {as_of!r}") from None
    v = h.visits
    first = v.entered.min()
    if t < first:
        raise CalibrationError(f"as_of: expected a date on or after the first entry in "
                               f"{h.source} ({first.date().isoformat()}), found "
                               f"{t.date().isoformat()}")
    v = v[v.entered <= t].copy()
    later = v.exited > t
    v.loc[later, "exited"] = pd.NaT
    v.loc[later, "outcome"] = ""
    v.loc[v.outcome != "won", "value"] = np.nan
    return replace(h, visits=v.reset_index(drop=True)), t
