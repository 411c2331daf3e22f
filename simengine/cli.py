"""The ``simengine`` command: parse, call the API, print with rich. No logic of its own.

Exit codes: 0 ok, 2 invalid input (one clear message, nothing written), 1 internal error.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from simengine.cli_common import (
    FIGURE_SUFFIXES,
    RESULT_SUFFIXES,
    WORKBOOK_SUFFIXES,
    Parser,
    add_format,
    add_overrides,
    add_run_options,
    check_output,
    emit_table,
    err,
    load_result,
    out,
    save_figure,
    without_dask,
)
from simengine.errors import SimEngineError


def _money(x: float, currency: str = "USD") -> str:
    from simengine.fmt import money  # numpy: not for `simengine --version`

    return money(x, currency)


def print_summary(ds, fmt: str = "table") -> None:
    from rich.table import Table

    from simengine.analysis.summary import summarize

    if fmt != "table":
        from simengine.export import summary

        emit_table(summary(ds), fmt)
        return
    s = summarize(ds)
    cur = s.currency
    t = Table(title=f"{s.scenario}: {s.draws:,} draws, seed {ds.attrs.get('seed')}",
              title_justify="left")
    for col in ("", "P5", "P50", "P95", "mean ± s.e."):
        t.add_column(col, justify="right" if col else "left")

    def row(name, ser, fmt):
        t.add_row(name, fmt(ser["P5"]), fmt(ser["P50"]), fmt(ser["P95"]),
                  f"{fmt(ser['mean'])} ± {fmt(ser['se'])}")

    from simengine.plot.sources import ratio

    by_unit = {cur: lambda x: _money(x, cur), "1": lambda x: f"{x:.0%}",
               "days": lambda x: f"{x:,.1f}", f"{cur} per {cur}": lambda x: ratio(x, cur)}
    labels = {"campaign return (per 1 spent)": "bookings per {one} of campaigns",
              "campaign return all-in (with reps)": "… per {one} all-in (+ reps)"}
    for name, r in s.kpis.iterrows():  # counts (deals, prospects) as whole numbers
        row(labels.get(name, name).format(one=_money(1, cur)), r,
            by_unit.get(r["unit"], lambda x: f"{x:,.0f}"))
    out.print(t)
    if s.goal is not None:
        g = s.goal
        out.print(f"P(goal {_money(g.target, cur)}) = [bold]{g.p:.1%}[/bold] ± {g.se:.1%} "
                  f"(95 % interval {g.low:.1%}–{g.high:.1%}; {g.draws_for(0.01):,} draws give "
                  f"± 1 point)")
    failed = int(ds.attrs.get("failed_draws", 0))
    if failed:
        err.print(f"[yellow]warning:[/yellow] {failed} draw(s) had impossible parameter values "
                  "and were not simulated (NaN in the result)")
    clipped = float(ds.clipped.sum())
    if clipped:
        stages = [str(s) for s in ds.stage.values[(ds.clipped.sum("draw") > 0).values]]
        err.print(f"[yellow]warning:[/yellow] outcome probabilities summed over 1 in "
                  f"{clipped:,.0f} stage exits ({', '.join(stages)}) and were clipped (lost "
                  "set to 0, advance reduced)")


RUN_PLOTS = ("fan", "goal", "funnel", "pipeline", "capacity")  # what `run --plots` writes


def _write_plots(ds, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    from simengine import plot

    return [save_figure(plot.KINDS[kind](ds), folder / f"{kind}.png") for kind in RUN_PLOTS
            if kind != "capacity" or "pool" in ds.dims]


def load_checked(path: str, overrides: list[str]):
    """Load a scenario and compile it once, so that problems found only when the parameters are
    laid out (correlations) are reported against the file too. Returns (scenario, compiled)."""
    import simengine as se
    from simengine.compile import compile_scenario
    from simengine.errors import ScenarioError

    sc = se.load_scenario(path, overrides)
    try:
        return sc, compile_scenario(sc)
    except ScenarioError as exc:
        raise ScenarioError([f"{path}: {p}" for p in exc.problems]) from None


def cmd_run(a: argparse.Namespace) -> int:
    import simengine as se
    from simengine import api

    sc, _ = load_checked(a.scenario, a.set)
    stream = False
    if a.output:  # every output is checked before the simulation, which it would otherwise lose
        check_output(a.output, "-o", RESULT_SUFFIXES)
        stream = Path(a.output).suffix.lower() == ".zarr"  # a store takes chunks as they finish
    if a.plots:
        check_output(a.plots, "--plots", folder=True)
    if a.resume and not stream:
        raise SimEngineError(f"--resume: expected -o OUT.zarr, the store of the interrupted run, "
                             f"found {a.output or 'no -o'}")
    if a.report:
        from simengine.report.document import check_path

        check_path(a.report)
    backend = a.backend or ("dask" if a.scheduler else "threads")
    progress = None if a.progress else False
    if a.resume:
        _check_resume(a)
        ds = api.resume(a.output, sc, backend=backend, scheduler=a.scheduler,
                        threads=a.threads, progress=progress)
    else:
        ds = se.simulate(sc, draws=1000 if a.draws is None else a.draws,
                         seed=0 if a.seed is None else a.seed, progress=progress,
                         chunk_draws=a.chunk_draws, threads=a.threads, backend=backend,
                         scheduler=a.scheduler, sampling=a.sampling or "random",
                         until_se=a.until_se, max_draws=a.max_draws,
                         store=a.output if stream else None)
    print_summary(ds, a.format)
    if "until_se" in ds.attrs:
        state = "reached" if ds.attrs["converged"] else "not reached (max draws)"
        out.print(f"precision {ds.attrs['until_se']:g} {state} with {ds.attrs['draws']:,} draws: "
                  f"s.e. of P(goal) {ds.attrs['prob_goal_se']:.2%}, of P50 bookings "
                  f"{_money(ds.attrs['bookings_p50_se'], ds.attrs.get('currency', ''))}")
    if ds.attrs.get("sampling", "random") != "random":
        prec = api.precision(ds)
        out.print(f"{ds.attrs['sampling']} sampling: s.e. from {prec.method}"
                  f"{f' ({prec.blocks} blocks)' if prec.blocks else ''}: P(goal) "
                  f"± {prec.prob_goal_se:.2%}, P50 bookings ± "
                  f"{_money(prec.p50_se, ds.attrs.get('currency', ''))}")
    out.print(f"simulated {ds.attrs['prospects']:,.0f} prospects in "
              f"{ds.attrs['elapsed_seconds']:.2f} s")
    if stream:
        out.print(f"wrote {a.output}")
    elif a.output:
        path = se.save(ds, a.output)
        out.print(f"wrote {path}")
    if (a.plots or a.report) and stream and ds.nbytes < 2**30:
        ds = ds.load()  # figures read every draw; a streamed result that fits is read once
    if a.plots:
        for p in _write_plots(ds, Path(a.plots)):
            out.print(f"wrote {p}")
    if a.report:
        import matplotlib

        matplotlib.use("Agg")
        out.print(f"wrote {se.write_report(ds, a.report)}")
    return 0


def _check_resume(a: argparse.Namespace) -> None:
    """Options given with --resume must be the interrupted run's (they are read from it)."""
    from simengine.engine.stream import settings

    if not Path(a.output).exists():
        raise SimEngineError(f"--resume: expected the store of an interrupted run at "
                             f"{a.output}, found nothing there")
    st = settings(a.output)
    if st is None:
        raise SimEngineError(f"--resume: {a.output} holds a finished run, nothing to resume")
    for flag, given, stored in (("-n", a.draws, st["draws"]), ("--seed", a.seed, st["seed"]),
                                ("--sampling", a.sampling, st["sampling"]),
                                ("--until-se", a.until_se, st["until_se"]),
                                ("--max-draws", a.max_draws, st["max_draws"])):
        if given is not None and given != stored:
            raise SimEngineError(f"--resume {flag}: expected the interrupted run's value "
                                 f"{stored} (or none), found {given}")


def cmd_validate(a: argparse.Namespace) -> int:
    import numpy as np

    # numba-free: checking a file does not load the kernels (a second of start-up)
    from simengine.engine.planning import check_size, default_threads, expected_prospects
    from simengine.errors import RunSizeError

    sc, cs = load_checked(a.scenario, a.set)
    unc = len(cs.params.uncertain)
    out.print(f"{a.scenario}: valid — {len(sc.stages)} stages, {len(sc.campaigns)} campaigns, "
              f"{len(sc.segments)} segments, {unc} uncertain parameters, about "
              f"{expected_prospects(cs):,.0f} prospects per draw")
    if sc.uses_pools:
        out.print(f"capacity path: {', '.join(sc.pools)} pool(s) work "
                  f"{', '.join(st.name for st in sc.stages if st.worked_by)}")
    from simengine.scenario.rules import statements

    said = statements(sc)
    if said:
        out.print("what the multipliers and no-decision rates do (at the mean parameters):")
        for line in said:
            out.print(f"  {line}", highlight=False)
    draws = 1000 if a.draws is None else a.draws
    try:  # the file is valid, but `run` would refuse it: say so now, not after the edit loop
        check_size(cs, draws, default_threads())
    except RunSizeError as exc:
        raise SimEngineError(f"{a.scenario}: `simengine run` with {draws:,} draws would be "
                             f"refused: {exc}") from None
    from simengine.engine.planning import natural_params, volumes
    from simengine.engine.warmup import empty_stages

    theta = np.array([[d.mean() for d in cs.params.dists]], dtype=float)
    empty = empty_stages(cs, theta, natural_params(cs, theta), volumes(cs, theta))
    if empty:
        names, held, fill = (", ".join(x) for x in zip(*[
            (n, f"{m:,.0f}", f"{d:,.0f}") for n, m, d in empty], strict=True))
        err.print(f"[yellow]warning:[/yellow] stage(s) {names} start empty on day 0 (no "
                  f"initial_pipeline entry) but hold about {held} prospects once the campaigns "
                  f"run, and take about {fill} days to fill: the first months under-forecast. "
                  "horizon.warm_start: true starts them at that steady state", highlight=False)
    return 0


def cmd_plot(a: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from simengine import plot

    check_output(a.output, "-o", FIGURE_SUFFIXES)
    if getattr(a, "standalone", False):
        without_dask(a.result)
    ds = load_result(a.result)
    out.print(f"wrote {save_figure(plot.KINDS[a.kind](ds), a.output)}")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    if getattr(a, "standalone", False):
        without_dask(a.result)  # before xarray is imported
    from simengine import export

    if not (a.csv or a.xlsx):
        raise SimEngineError("export: expected --csv DIR and/or --xlsx FILE.xlsx, found neither")
    if a.csv:
        check_output(a.csv, "--csv", folder=True)
    if a.xlsx:
        check_output(a.xlsx, "--xlsx", WORKBOOK_SUFFIXES)
    ds = load_result(a.result)
    tabs = export.tables(ds)
    if a.csv:
        for p in export.to_csv(tabs, a.csv):
            out.print(f"wrote {p}")
    if a.xlsx:
        out.print(f"wrote {export.to_xlsx(tabs, a.xlsx)} (sheets: {', '.join(tabs)})")
    return 0


# Feature modules that add subcommands: each has ``register(subparsers)`` and handlers that
# call the API. Listed here so the CLI's shape stays visible in one place.
COMMAND_MODULES: tuple[str, ...] = ("simengine.cli_report", "simengine.cli_calibrate",
                                     "simengine.cli_analysis", "simengine.cli_explore")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="simengine", description="Monte Carlo forecasts of a B2B "
               "demand-generation funnel.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="simulate a scenario and print the forecast summary")
    r.add_argument("scenario", help="scenario YAML file")
    add_run_options(r, progress=True, unset=True)
    r.add_argument("-o", "--output", help="write the result to OUT.nc, or stream it to "
                   "OUT.zarr chunk by chunk as it is computed (bounded memory)")
    r.add_argument("--plots", metavar="DIR", help="write "
                   f"{', '.join(f'{k}.png' for k in RUN_PLOTS if k != 'capacity')} and (with "
                   "pools) capacity.png into this folder")
    r.add_argument("--report", metavar="REPORT.html",
                   help="write the HTML report of the result (one self-contained file)")
    r.add_argument("--chunk-draws", type=int, default=None, help="draws per kernel call")
    r.add_argument("--backend", choices=("threads", "dask"), default=None,
                   help="threads (default) or dask: chunks of draws as tasks on a Dask cluster")
    r.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask scheduler to use, e.g. tcp://10.0.0.5:8786 (implies --backend "
                   "dask; without it a local cluster is started)")
    r.add_argument("--until-se", type=float, default=None, metavar="SE",
                   help="add draws until the standard error of P(goal) is at most SE (e.g. "
                   "0.005) and that of the P50 of bookings at most SE relative to it")
    r.add_argument("--max-draws", type=int, default=None,
                   help="cap of an --until-se run (default 100000)")
    r.add_argument("--sampling", choices=("random", "lhs", "sobol"), default=None,
                   help="per-draw parameter sampling: random (default), lhs (Latin hypercube) "
                   "or sobol (scrambled Sobol')")
    r.add_argument("--resume", action="store_true",
                   help="complete the interrupted run streamed to -o OUT.zarr (same bits as "
                   "an uninterrupted run)")
    add_format(r)
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", help="check a scenario file and report every problem")
    v.add_argument("scenario", help="scenario YAML file")
    add_overrides(v)
    v.add_argument("-n", "--draws", type=int, default=None,
                   help="also check that a run of this many draws fits (default 1000)")
    v.set_defaults(func=cmd_validate)

    pl = sub.add_parser("plot", help="draw a figure of a saved result")
    pl.add_argument("result", help="RESULT.nc or RESULT.zarr")
    from simengine.plot import KINDS

    pl.add_argument("--kind", default="fan", choices=list(KINDS),
                    help="the figure (default fan; capacity needs a result with pools)")
    pl.add_argument("-o", "--output", required=True,
                    help=f"FIG{FIGURE_SUFFIXES[0]} (or {', '.join(FIGURE_SUFFIXES[1:])})")
    pl.set_defaults(func=cmd_plot)

    ex = sub.add_parser("export", help="write a saved result as CSV files or an Excel workbook")
    ex.add_argument("result", help="RESULT.nc or RESULT.zarr (from simengine run or compare -o)")
    ex.add_argument("--csv", metavar="DIR", help="write about, summary, periods, draws, "
                    "campaigns and pools .csv (a comparison: scenarios, differences, draws) "
                    "into this folder")
    ex.add_argument("--xlsx", metavar="FILE.xlsx", help="write the same tables as the sheets "
                    "of one workbook")
    ex.set_defaults(func=cmd_export)

    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return p


def _version() -> str:
    from simengine._version import __version__

    return f"simengine {__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return int(exc.code or 0)
        out.stderr = getattr(args, "format", "table") != "table"  # the table alone on stdout
        args.standalone = argv is None  # the command line's own process, which ends with it
        return args.func(args)
    except SimEngineError as exc:
        for line in str(exc).splitlines():
            err.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
        return 2
    except (PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
        # a file the user named cannot be written or read: their input, not our bug
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"[red]error:[/red] {where}{exc.strerror or exc}", highlight=False,
                  soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception:  # an internal error: say so, with the traceback for a bug report
        err.print("[red]internal error[/red] (please report it with the traceback below)")
        err.print(traceback.format_exc(), highlight=False, soft_wrap=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
