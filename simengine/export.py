"""Results out to tables: CSV files in a folder, or one Excel workbook (openpyxl).

:func:`tables` lays a result out as plain DataFrames, one per sheet: ``about`` (where the
result came from), ``summary`` (quantiles of the key figures), ``periods`` (per-period bands,
cumulative bands and pipeline coverage), ``draws`` (one row per draw: the annual figures and
the sampled parameters), ``campaigns`` and ``pools``. A comparison (a result with a
``scenario`` dimension) gives ``scenarios`` and ``differences`` instead of ``summary``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from simengine.errors import SimEngineError
from simengine.files import write_atomic

QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
_QCOLS = [f"P{round(q * 100)}" for q in QUANTILES]


def _ok(ds: xr.Dataset) -> xr.Dataset:
    if "failed" in ds and bool((ds.failed != 0).any()):
        return ds.where(ds.failed == 0, drop=True)
    return ds


def _bands(x: xr.DataArray, dim: str = "draw") -> pd.DataFrame:
    q = x.quantile(list(QUANTILES), dim=dim).transpose(..., "quantile")
    return pd.DataFrame(np.atleast_2d(q.values), columns=_QCOLS)


def about(ds: xr.Dataset) -> pd.DataFrame:
    keys = ("scenario", "scenario_sha256", "simengine_version", "created", "seed", "draws",
            "sampling", "currency", "horizon_start", "horizon_days", "period", "goal",
            "failed_draws")
    rows = [(k, ds.attrs[k]) for k in keys if k in ds.attrs]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def summary(ds: xr.Dataset) -> pd.DataFrame:
    """One row per key figure (as ``simengine run`` prints), P5..P95, mean and its s.e.; the
    chance of reaching the goal as a last row."""
    from simengine.analysis.summary import prob_goal, summarize

    s = summarize(ds, QUANTILES)
    t = s.kpis.copy()
    t.index.name = "figure"
    t = t.reset_index()
    if s.goal is not None:
        g = prob_goal(ds)
        t = pd.concat([t, pd.DataFrame([{"figure": "P(bookings >= goal)", "P50": g.p,
                                         "mean": g.p, "se": g.se, "unit": "1"}])],
                      ignore_index=True)
    return t


def periods(ds: xr.Dataset) -> pd.DataFrame:
    """Per period: bookings and cumulative bookings bands, the goal due by the period end and
    the open pipeline's coverage of what is left of the goal (median over draws)."""
    from simengine.analysis.summary import pipeline_coverage

    ok = _ok(ds)
    out = pd.DataFrame({"period_start": pd.to_datetime(ok.period.values).date})
    if "period_end" in ok.coords:
        out["period_end"] = (pd.to_datetime(ok.period_end.values)
                             - pd.Timedelta(days=1)).date
    rev = _bands(ok.revenue.transpose("period", "draw"))
    cum = _bands(ok.revenue.cumsum("period").transpose("period", "draw"))
    out = pd.concat([out, rev.add_prefix("bookings "),
                     pd.DataFrame({"bookings mean": ok.revenue.mean("draw").values}),
                     cum.add_prefix("cumulative bookings ")], axis=1)
    goal = float(ds.attrs.get("goal", np.nan))
    if np.isfinite(goal):
        share = ok.goal_share.values if "goal_share" in ok.coords else \
            np.arange(1, ok.sizes["period"] + 1) / ok.sizes["period"]
        cum_draws = ok.revenue.cumsum("period")
        out["goal due"] = goal * share
        out["P(on or ahead)"] = (cum_draws >= goal * xr.DataArray(share, dims="period")
                                 * (1 - 1e-12)).mean("draw").values
        cov = pipeline_coverage(ok, goal)
        out["pipeline coverage P50"] = np.median(cov.transpose("period", "draw").values, axis=1)
    if "pipeline_value" in ok:
        out["open pipeline value P50"] = ok.pipeline_value.median("draw").values
    return out


def draws(ds: xr.Dataset) -> pd.DataFrame:
    """One row per draw: annual figures and the sampled uncertain parameters."""
    out = pd.DataFrame({"draw": ds.draw.values})
    if "failed" in ds:
        out["failed"] = ds.failed.values.astype(int)
    out["bookings"] = ds.revenue.sum("period", skipna=False).values
    out["won deals"] = ds.won.sum("period", skipna=False).values
    if "cycle_time" in ds:
        out["cycle time (days)"] = ds.cycle_time.values
    if "campaign_cost" in ds:
        out["campaign spend"] = ds.campaign_cost.sum("campaign").values
    if "pipeline_value" in ds:
        out["pipeline value at end"] = ds.pipeline_value.isel(period=-1).values
    if "pool_cost" in ds:
        out["rep cost"] = ds.pool_cost.sum("pool").values
    if "revenue_by_campaign" in ds:
        for c in ds.campaign.values:
            out[f"bookings from {c}"] = ds.revenue_by_campaign.sel(campaign=c).values
    if "parameters" in ds and ds.sizes.get("parameter", 0):
        for p in ds.parameter.values:
            out[str(p)] = ds.parameters.sel(parameter=p).values
    return out


def campaigns(ds: xr.Dataset) -> pd.DataFrame | None:
    if "campaign_cost" not in ds or ds.sizes.get("campaign", 0) == 0:
        return None
    from simengine.plot.sources import campaign_table

    t = campaign_table(_ok(ds))
    words = {"spend": "spend", "bookings": "sourced bookings", "won": "won deals",
             "roi": "return per 1 spent", "cost_per_deal": "cost per deal"}
    t.columns = [f"{words.get(m, m)} P{round(q * 100)}" for m, q in t.columns]
    t.index.name = "campaign"
    return t.reset_index()


def pools(ds: xr.Dataset) -> pd.DataFrame | None:
    if "pool" not in ds.dims:
        return None
    ok = _ok(ds)
    rows = []
    for p in ok.pool.values:
        sel = ok.sel(pool=p)
        figures = {}
        if "utilization" in ok and "capacity" in ok:
            figures["utilisation"] = (sel.utilization * sel.capacity).sum("period") / \
                sel.capacity.sum("period")
        for var, name in (("queue_wait", "queue wait (days)"), ("pool_cost", "cost")):
            if var in ok:
                figures[name] = sel[var]
        if "abandoned" in ok:
            figures["gone cold"] = sel.abandoned.sum("period")
        for name, x in figures.items():
            row = _bands(x).iloc[0].to_dict()
            rows.append({"pool": str(p), "figure": name, **row, "mean": float(x.mean())})
    return pd.DataFrame(rows)


def comparison(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    from simengine.analysis.compare import summarize_comparison

    s = summarize_comparison(ds)
    out = {"scenarios": s.scenarios.rename_axis("scenario").reset_index(),
           "differences": s.differences.rename_axis("scenario").reset_index()}
    total = ds.revenue.sum("period", skipna=False).transpose("draw", "scenario")
    out["draws"] = pd.DataFrame(total.values, columns=[str(x) for x in ds.scenario.values]) \
        .assign(draw=ds.draw.values).set_index("draw").reset_index()
    return out


def tables(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """The result as named tables (the sheets of :func:`to_xlsx`, the files of :func:`to_csv`).

    Parameters
    ----------
    ds
        A result of :func:`simengine.simulate`, :func:`simengine.load` or
        :func:`simengine.compare`.
    """
    ds = ds.load()
    out = {"about": about(ds)}
    if "scenario" in ds.dims:
        out.update(comparison(ds))
        return out
    out["summary"] = summary(ds)
    out["periods"] = periods(ds)
    out["draws"] = draws(ds)
    for name, fn in (("campaigns", campaigns), ("pools", pools)):
        t = fn(ds)
        if t is not None:
            out[name] = t
    return out


def to_csv(ds: xr.Dataset | dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Write each table as ``NAME.csv`` in ``folder`` (created), each file atomically."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SimEngineError(f"{folder}: expected a folder for the CSV files, found a file")
    tabs = ds if isinstance(ds, dict) else tables(ds)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, t in tabs.items():
        written.append(write_atomic(folder / f"{name}.csv",
                                    lambda p, t=t: t.to_csv(p, index=False)))
    return written


def to_xlsx(ds: xr.Dataset | dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write every table as a sheet of one workbook, written to a temporary name then renamed.

    Raises
    ------
    SimEngineError
        The path does not end in ``.xlsx``, or openpyxl is not installed.
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise SimEngineError(f"{path}: expected a workbook path ending in .xlsx, found "
                             f"'{path.suffix or 'no suffix'}'")
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise SimEngineError("export --xlsx: expected the openpyxl package (pip install "
                             "openpyxl), found none") from None
    tabs = ds if isinstance(ds, dict) else tables(ds)

    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
            for name, t in tabs.items():
                t.to_excel(xw, sheet_name=name[:31], index=False)
                sheet = xw.sheets[name[:31]]
                sheet.freeze_panes = "B2"
                for k, col in enumerate(t.columns, start=1):
                    width = max([len(str(col))] + [len(_cell(v)) for v in t[col].head(50)])
                    letter = sheet.cell(1, k).column_letter
                    sheet.column_dimensions[letter].width = min(max(width + 2, 8), 40)
                    number = _number_format(str(col))
                    if number and pd.api.types.is_float_dtype(t[col]):
                        for cell in sheet[letter][1:]:
                            cell.number_format = number

    return write_atomic(path, write)


def _number_format(col: str) -> str | None:
    """Excel format of a column, from its name: shares as percentages, money and counts with
    thousands separators (the summary sheet mixes units by row and keeps plain numbers)."""
    low = col.lower()
    if low.startswith("p(") or "share" in low or "utilisation" in low:
        return "0.0%"
    if "return per" in low:
        return "0.0"
    if any(w in low for w in ("bookings", "spend", "cost", "value", "goal due", "deals",
                              "won", "leads")):
        return "#,##0"
    if "coverage" in low:
        return '0.0"x"'
    return None


def _cell(v) -> str:
    return f"{v:,.2f}" if isinstance(v, float) else str(v)
