"""CLI subcommands ``calibrate`` and ``backtest``: parse, call the API, print. No logic here."""

from __future__ import annotations

import argparse
from pathlib import Path

from simengine.errors import SimEngineError


def _mapping(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise SimEngineError(f"--map {item}: expected ROLE=COLUMN (e.g. entered=CreatedDate), "
                                 "found no '='")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _common(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("csv", help="CRM export: one row per opportunity, or one row per stage "
                    "change")
    sp.add_argument("--map", action="append", default=[], metavar="ROLE=COLUMN",
                    help="column of a role (id, stage, entered, closed, value, outcome, "
                    "segment) when it has another name")
    sp.add_argument("--layout", default="auto", choices=["auto", "opportunities", "stages"],
                    help="export layout (default: stages when ids repeat)")
    sp.add_argument("--segment-by", metavar="COLUMN",
                    help="one segment per value of this column (e.g. product), each with its "
                    "own deal values")
    sp.add_argument("--no-split", dest="split", action="store_false",
                    help="one dwell per stage instead of one per way out (won / lost / next)")
    sp.add_argument("--calendar", choices=["auto", "yes", "no"], default="auto",
                    help="month-of-quarter clock (default auto: when each month of the quarter "
                    "was seen twice)")
    sp.add_argument("--components", choices=["auto", "1"], default="auto",
                    help="fast / slow components per way out (default auto: kept when AIC "
                    "prefers)")
    sp.add_argument("--stale-after", type=float, metavar="DAYS",
                    help="days after which a still-open deal counts as no decision (default: "
                    "the longest dwell of any deal that ended)")
    sp.add_argument("--observed-from", metavar="DATE",
                    help="first day the export covers (default: detected)")
    sp.add_argument("--date-format", choices=("iso", "mdy", "dmy"), default=None,
                    help="order of numeric dates: iso (YYYY-MM-DD), mdy (MM/DD/YYYY) or dmy "
                    "(DD/MM/YYYY); default: read from the file, which must show a day over 12")


def _check_csv(path: str) -> None:
    suffix = Path(path).suffix.lower()
    if suffix in (".yaml", ".yml", ".nc", ".zarr", ".html", ".xlsx"):
        kind = {".yaml": "a scenario", ".yml": "a scenario", ".html": "a report",
                ".xlsx": "a workbook (save the sheet as CSV)"}.get(suffix, "a result")
        raise SimEngineError(f"{path}: expected a CRM export (a CSV file), found {kind}")


def _kw(a: argparse.Namespace) -> dict:
    return {"mapping": _mapping(a.map), "layout": a.layout, "segment_by": a.segment_by,
            "split": a.split, "calendar": {"auto": None, "yes": True, "no": False}[a.calendar],
            "components": "auto" if a.components == "auto" else 1,
            "stale_after": a.stale_after, "observed_from": a.observed_from}


def _history(a: argparse.Namespace):
    """Read the export once, saying which date format it was read with."""
    from simengine.calibrate.read import read
    from simengine.cli_common import out

    kw = _kw(a)
    h = read(a.csv, kw["mapping"], layout=kw["layout"], segment_by=kw["segment_by"],
             date_format=a.date_format)
    how = "given" if a.date_format else "read from the file"
    out.print(f"{a.csv}: {h.rows:,} rows; dates {h.date_format} ({how})", highlight=False)
    return h


def cmd_calibrate(a: argparse.Namespace) -> int:
    from simengine.calibrate.core import calibrate
    from simengine.cli_common import SCENARIO_SUFFIXES, check_output, err, out

    out_path = check_output(a.output, "-o", SCENARIO_SUFFIXES)
    _check_csv(a.csv)
    res = calibrate(_history(a), as_of=a.as_of, horizon_days=a.horizon_days, name=a.name,
                    **_kw(a))
    path = res.write(out_path)
    out.print(res.report, highlight=False, soft_wrap=True)
    for w in res.fitted.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}", highlight=False, soft_wrap=True)
    out.print(f"wrote {path}")
    return 0


def print_backtest(res) -> None:
    import numpy as np
    from rich import box
    from rich.table import Table

    from simengine.cli_common import out
    from simengine.fmt import money

    t = Table(title=f"Back-test: {res.draws:,} draws, seed {res.seed}; naive = average of the "
              f"last {res.naive_months} complete months", title_justify="left",
              box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    widths = {"as of": 10, "": 8, "mo.": 3, "P5–P95": 6, "P25–P75": 7, "P50 err": 7,
              "CRPS": 6, "naive": 6, "skill": 5}
    for col in ("as of", "", "mo.", "P5–P95", "P25–P75", "P50 err", "CRPS", "naive",
                "skill"):
        t.add_column(col, justify="left" if col in ("as of", "") else "right",
                     min_width=widths.get(col), no_wrap=True)
    for r in res.summary.itertuples(index=False):
        cur = r.variable == "revenue"

        def f(x, cur=cur):
            return money(x) if cur else f"{x:,.1f}"

        t.add_row(r.as_of, "bookings" if cur else "won", f"{r.months}", f"{r.cover90:.0%}",
                  f"{r.cover50:.0%}", f"{r.p50_pct_error:.0%}", f(r.crps), f(r.crps_naive),
                  f"{r.skill:+.0%}")
    out.print(t)
    out.print("in P5–P95 / P25–P75: share of months whose actual fell inside the band; P50 err: "
              "mean |P50 - actual| / actual; CRPS: mean continuous ranked probability score "
              "(lower is better), naive: the same for the naive forecast; skill: 1 - CRPS / "
              "naive", highlight=False, soft_wrap=True)
    from simengine.calibrate.backtest import BENCHMARKS
    from simengine.calibrate.benchmarks import ETS_MIN_MONTHS

    b = Table(title="CRPS of each method on the same months (lower is better)",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
              collapse_padding=True)
    b.add_column("", justify="left", no_wrap=True)
    b.add_column("engine", justify="right", no_wrap=True)
    for name in BENCHMARKS.values():
        b.add_column(name, justify="right", no_wrap=True)
    for r in res.benchmark_crps().itertuples(index=False):
        cur = r.variable == "revenue"
        cells = [r.engine, *(getattr(r, k) for k in BENCHMARKS)]
        b.add_row("bookings" if cur else "won",
                  *[("—" if not np.isfinite(x) else money(x) if cur else f"{x:,.1f}")
                    for x in cells])
    out.print(b)
    if not res.benchmark_crps()["ets"].notna().all():
        out.print(f"ETS needs at least {ETS_MIN_MONTHS} complete months of history at a "
                  "cut-off; — marks a method that could not forecast every month.",
                  highlight=False, soft_wrap=True)
    out.print(res.coverage_line(), highlight=False)


def cmd_backtest(a: argparse.Namespace) -> int:
    from simengine.calibrate.backtest import backtest
    from simengine.cli_common import out

    if a.draws < 10:
        raise SimEngineError(f"-n {a.draws}: expected at least 10 draws, found {a.draws}")
    from simengine.cli_common import FIGURE_SUFFIXES, check_output

    if a.plot:
        check_output(a.plot, "--plot", FIGURE_SUFFIXES)
    if a.table:
        from simengine.cli_common import TABLE_SUFFIXES

        check_output(a.table, "--table", TABLE_SUFFIXES)
    _check_csv(a.csv)
    res = backtest(_history(a), as_of=a.as_of, until=a.until, draws=a.draws, seed=a.seed,
                   naive_months=a.naive_months, **_kw(a))
    if a.format != "table":
        from simengine.cli_common import emit_table

        emit_table(res.summary, a.format)
    else:
        print_backtest(res)
    if a.table:
        from simengine.files import write_atomic

        path = write_atomic(a.table, lambda p: res.table.to_csv(p, index=False))
        out.print(f"wrote {path}")
    if a.plot:
        import matplotlib

        matplotlib.use("Agg")
        from simengine import plot
        from simengine.cli_common import save_figure

        fig = plot.backtest(res)
        out.print(f"wrote {save_figure(fig, a.plot)}")
    return 0


def register(sub) -> None:
    c = sub.add_parser("calibrate", help="fit a scenario to a CRM export")
    _common(c)
    c.add_argument("-o", "--output", required=True, help="SCENARIO.yaml to write")
    c.add_argument("--as-of", metavar="DATE", help="use only what was known on this date "
                   "(default: the last date in the export)")
    c.add_argument("--horizon-days", type=int, default=365, help="horizon of the scenario "
                   "(default 365)")
    c.add_argument("--name", help="scenario name")
    c.set_defaults(func=cmd_calibrate)

    b = sub.add_parser("backtest", help="calibrate at past dates and score the forecasts "
                       "against what happened")
    _common(b)
    b.add_argument("--as-of", action="append", required=True, metavar="DATE",
                   help="a cut-off date (repeat for several)")
    b.add_argument("--until", required=True, metavar="DATE", help="last day forecast")
    from simengine.cli_common import add_format, add_run_options

    add_run_options(b, draws=500, draws_help="draws per cut-off", threads=False,
                    overrides=False)
    b.add_argument("--naive-months", type=int, default=3,
                   help="complete months averaged by the naive forecast (default 3)")
    b.add_argument("--plot", metavar="FIG.png", help="draw the back-test")
    b.add_argument("--table", metavar="TABLE.csv", help="write the month-by-month table")
    add_format(b)
    b.set_defaults(func=cmd_backtest)
