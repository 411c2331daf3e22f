"""``simengine compare``, ``simengine goal-seek`` and ``simengine sensitivity``: the decision
analyses on the command line (parse, call the API, print with rich)."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from simengine._lazy import LazyModule
from simengine.cli_common import save_figure
from simengine.errors import SimEngineError

if TYPE_CHECKING:
    from rich.table import Table

# imported when a command prints (numpy and rich's tables): `simengine --version` needs neither
fmt = LazyModule("simengine.fmt")
rich_table = LazyModule("rich.table")


def _money(x: float, currency: str = "USD") -> str:
    return fmt.money(x, currency)


def _pct(p: float) -> str:
    return fmt.pct(p, 1)


def _narrow_table(title: str) -> Table:
    """A table that fits 80 columns: no vertical rules, one space between columns."""
    from rich import box

    return rich_table.Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                 padding=(0, 1), collapse_padding=True)


def _agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


def _check_figure_path(path: str | None) -> None:
    from simengine.cli_common import FIGURE_SUFFIXES, check_output

    if path:
        check_output(path, "--plot", FIGURE_SUFFIXES)


# --- compare ------------------------------------------------------------------------------------
def cmd_compare(a: argparse.Namespace) -> int:
    import simengine as se
    from simengine.analysis.compare import summarize_comparison
    from simengine.cli_common import out

    if len(a.scenarios) < 2:
        raise SimEngineError(f"compare: expected two or more scenario files, found "
                             f"{len(a.scenarios)}")
    if a.output:
        from simengine.cli_common import RESULT_SUFFIXES, check_output

        check_output(a.output, "-o", RESULT_SUFFIXES)
    _check_figure_path(a.plot)
    scs = [se.load_scenario(p, a.set) for p in a.scenarios]
    cmp = se.compare(scs, draws=a.draws, seed=a.seed, threads=a.threads,
                     progress=None if a.progress else False)
    s = summarize_comparison(cmp)
    cur = s.currency
    if a.format != "table":
        from simengine.cli_common import emit_table

        emit_table({"scenarios": s.scenarios.rename_axis("scenario").reset_index(),
                    "differences": s.differences.rename_axis("scenario").reset_index()},
                   a.format)
    t = _narrow_table(f"{s.draws:,} draws per scenario, seed {a.seed}, common random numbers")
    longest = max((len(str(n)) for n in s.scenarios.index), default=8)
    t.add_column("scenario", min_width=min(longest, 22), ratio=1, overflow="fold")
    for col in ("P5", "P50", "P95", "mean ± s.e.", "P(goal) ± s.e."):
        t.add_column(col, justify="right", no_wrap=True)
    for name, r in s.scenarios.iterrows():
        t.add_row(str(name), _money(r["P5"], cur), _money(r["P50"], cur), _money(r["P95"], cur),
                  f"{_money(r['mean'], cur)} ± {_money(r['mean_se'], cur)}",
                  f"{_pct(r['p_goal'])} ± {_pct(r['p_goal_se'])}")
    d = _narrow_table(f"paired difference against {s.reference}, draw by draw")
    longest = max((len(str(n)) for n in s.differences.index), default=8)
    d.add_column("scenario", min_width=min(longest, 22), ratio=1, overflow="fold")
    for col in ("mean ± s.e.", "P50", "P(goal) change", "CRN gain"):  # P5–P95: the sentence
        d.add_column(col, justify="right", no_wrap=True)
    for name, r in s.differences.iterrows():
        change = (f"{r['p_goal_diff'] * 100:+.1f} ± {r['p_goal_diff_se'] * 100:.1f} pt"
                  if math.isfinite(r["p_goal_diff"]) else "–")
        d.add_row(str(name), f"{_money(r['mean'], cur)} ± {_money(r['mean_se'], cur)}",
                  _money(r["P50"], cur), change,
                  f"{r['crn_variance_ratio']:.1f}x" if math.isfinite(r["crn_variance_ratio"])
                  else "–")
    if a.format == "table":
        out.print(t)
        out.print(d)
    for line in s.sentences():
        out.print(line)
    if a.output:
        out.print(f"wrote {se.save(cmp, a.output)}")
    if a.plot:
        _agg()
        out.print(f"wrote {save_figure(se.plot.compare(cmp), a.plot)}")
    return 0


# --- goal seek ----------------------------------------------------------------------------------
# simengine.analysis.levers.OUT_OF_REACH_EXIT, written out: the parser is built at start-up,
# before any analysis module is imported (a test checks that the two agree)
_OUT_OF_REACH = 3


def _exit_codes(found: str, out_of_reach: str) -> str:
    """The epilog of a command whose out-of-reach answer has its own exit code."""
    return f"exit codes: 0 {found}; 2 bad input; {_OUT_OF_REACH} {out_of_reach}"

# goal seek's argument names as its flags, in messages
_GOAL_SEEK_FLAGS = (("bounds:", "--bounds:"), ("confidence:", "--confidence:"),
                    ("target:", "--target:"), ("lever ", "--lever "), ("lever:", "--lever:"),
                    ("level:", "--level:"), ("rtol:", "--rtol:"))


def _as_flags(message: str) -> str:
    for name, flag in _GOAL_SEEK_FLAGS:
        if message.startswith(name):
            message = flag + message[len(name):]
            break
    return message.replace("widen bounds=", "widen --bounds")


def cmd_goal_seek(a: argparse.Namespace) -> int:
    import simengine as se
    from simengine.analysis.goal_seek import GoalOutOfReach
    from simengine.analysis.levers import OUT_OF_REACH_EXIT
    from simengine.cli_common import err, out

    _check_figure_path(a.plot)
    sc = se.load_scenario(a.scenario, a.set)
    try:
        r = se.goal_seek(sc, a.lever, confidence=a.confidence, target=a.target,
                         draws=a.draws, seed=a.seed,
                         bounds=tuple(a.bounds) if a.bounds else None, rtol=a.rtol,
                         max_runs=a.max_runs, threads=a.threads)
    except GoalOutOfReach as exc:  # an answer, not bad input: the worksheet, then why
        if exc.waterfall is not None:
            out.print(_waterfall(exc.waterfall, a.lever, sc.currency))
        err.print(f"[yellow]{_as_flags(str(exc))}[/yellow]", highlight=False, soft_wrap=True)
        return OUT_OF_REACH_EXIT
    except SimEngineError as exc:
        raise SimEngineError(_as_flags(str(exc))) from None
    out.print(_waterfall(r.waterfall, r.lever, r.currency))
    out.print(f"[bold]{r.sentence()}[/bold]")
    if r.note:
        out.print(r.note)
    if r.bottleneck:
        out.print(r.bottleneck)
    if not r.converged:
        out.print(f"[yellow]note:[/yellow] the search stopped after {r.runs} runs before "
                  f"reaching the requested precision (raise --max-runs)")
    out.print(f"{r.runs} simulations of {r.draws:,} draws in {r.elapsed:.1f} s")
    if a.plot:
        _agg()
        from simengine.plot.decision import goal_seek as goal_seek_plot

        out.print(f"wrote {save_figure(goal_seek_plot(r), a.plot)}")
    return 0


def _waterfall(w, lever: str, cur: str) -> Table:
    from simengine.fmt import lever_formatter

    fmt = lever_formatter(lever, cur)
    t = rich_table.Table(title="reverse waterfall in expected values (parameters at their means)",
              title_justify="left")
    for col in ("step", "expected", "conversion", "note"):
        t.add_column(col, justify="left" if col in ("step", "note") else "right")
    money_rows = 3 if "gap for" in " ".join(w.step) else 1
    for i, row in w.reset_index(drop=True).iterrows():
        v = row["expected"]
        if i < money_rows:
            text = _money(v, cur)
        elif i == len(w) - 1:
            text = fmt(v)
        else:
            text = f"{v:,.0f}"
        conv = row["conversion"]
        t.add_row(str(row["step"]), text, f"{conv:.1%}" if math.isfinite(conv) else "",
                  str(row["note"]))
    return t


# --- sensitivity --------------------------------------------------------------------------------
def _groups(items: list[str]) -> dict[str, list[str]] | None:
    if not items:
        return None
    out: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise SimEngineError(f"--group {item}: expected NAME=PATTERN[,PATTERN...], found "
                                 f"no '='")
        name, pats = item.split("=", 1)
        out.setdefault(name.strip(), []).extend(p.strip() for p in pats.split(",") if p.strip())
    return out


def cmd_sensitivity(a: argparse.Namespace) -> int:
    import simengine as se
    from simengine.cli_common import out
    from simengine.scenario.paths import value_text

    _check_figure_path(a.plot)
    sc = se.load_scenario(a.scenario, a.set)
    opts = {}
    if a.method == "sobol":
        opts["level"] = a.level
    elif a.level != "both":
        raise SimEngineError("--level: only the Sobol method has levels")
    r = se.sensitivity(sc, a.method, a.params or None, draws=a.draws, seed=a.seed,
                       groups=_groups(a.group), target=a.target, threads=a.threads, **opts)
    cur = r.currency
    if a.format != "table":
        from simengine.cli_common import emit_table

        emit_table(r.table, a.format)
    elif r.method == "tornado":
        from simengine.scenario.paths import label
        from simengine.scenario.rules import note

        b = r.base
        t = _narrow_table(f"tornado on common random numbers: {r.draws:,} draws per run, base "
                          f"P50 {_money(b['p50'], cur)}, P(goal) {_pct(b['p_goal'])}")
        t.add_column("factor", min_width=16, ratio=1)
        for col in ("low → high", "P50 bookings", "swing ± s.e.", "P(goal)"):
            t.add_column(col, justify="right", no_wrap=True)
        for _, row in r.table.iterrows():
            if row.kind == "event":
                inputs = "never → always"
            else:
                inputs = (f"{value_text(row.factor, row.low, cur)} → "
                          f"{value_text(row.factor, row.high, cur)}")
            t.add_row(label(row.factor) + note(sc, row.factor), inputs,
                      f"{_money(row.p50_low, cur)} → {_money(row.p50_high, cur)}",
                      f"{_money(row.p50_swing, cur)} ± {_money(row.p50_swing_se, cur)}",
                      f"{row.p_goal_low:.0%} → {row.p_goal_high:.0%}")
        out.print(t)
        for n in r.notes:
            out.print(f"note: {n}")
    else:
        for lv in ("group", "parameter"):
            sub = r.table[r.table.level == lv]
            if sub.empty:
                continue
            from simengine.scenario.paths import label

            t = _narrow_table(f"Sobol indices by {lv} ({r.draws:,} base rows, "
                              f"{r.simulated:,} draws; ± {r.conf_level:.0%} interval)")
            t.add_column("factor", min_width=16, ratio=1)
            for col in ("first order", "total", "first, P(goal)", "total, P(goal)"):
                t.add_column(col, justify="right", no_wrap=True)
            for _, row in sub.iterrows():
                t.add_row(label(row.factor), f"{row.S1:.1%} ± {row.S1_conf:.1%}",
                          f"{row.ST:.1%} ± {row.ST_conf:.1%}",
                          f"{row.get('S1_goal', float('nan')):.1%} ± "
                          f"{row.get('S1_conf_goal', float('nan')):.1%}",
                          f"{row.get('ST_goal', float('nan')):.1%} ± "
                          f"{row.get('ST_conf_goal', float('nan')):.1%}")
            out.print(t)
        for note in r.notes:
            out.print(f"note: {note}")
    for line in r.sentences():
        out.print(line)
    out.print(f"{r.simulated:,} draws simulated in {r.elapsed:.1f} s")
    if a.plot:
        _agg()
        fig = se.plot.tornado(r) if r.method == "tornado" else se.plot.sobol(r)
        out.print(f"wrote {save_figure(fig, a.plot)}")
    return 0


# --- optimize -----------------------------------------------------------------------------------
def _levers(items: list[str]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for item in items:
        if "=" not in item or ":" not in item.split("=", 1)[1]:
            raise SimEngineError(f"--lever {item}: expected PATH=LOW:HIGH, e.g. "
                                 f"campaigns.webinar-series.volume.budget=100000:600000")
        path, bounds = item.split("=", 1)
        lo, hi = bounds.split(":", 1)
        if path.strip() in out:
            raise SimEngineError(f"--lever {path.strip()}: expected each lever once, found it "
                                 f"twice")
        out[path.strip()] = (lo.strip(), hi.strip())
    return out


def _value(v, path: str, cur: str) -> str:
    from simengine.fmt import lever_formatter

    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return lever_formatter(path, cur)(float(v)) if not isinstance(v, int) else f"{v:,}"
    return str(v)


def cmd_optimize(a: argparse.Namespace) -> int:
    import simengine as se
    from simengine.analysis.optimize import OUT_OF_REACH_EXIT, PlanOutOfReach, write_plan
    from simengine.cli_common import SCENARIO_SUFFIXES, check_output, err, out

    _check_figure_path(a.plot)
    if a.output:
        check_output(a.output, "-o", SCENARIO_SUFFIXES)
    if a.report:
        from simengine.report.document import check_path

        check_path(a.report)
    if a.budget is not None and a.confidence is not None:
        raise SimEngineError("--budget: expected either --confidence or --budget, found both")
    levers = _levers(a.lever)
    sc = se.load_scenario(a.scenario, a.set)
    objective = "max_probability" if a.budget is not None else "min_cost"
    code = 0
    try:
        r = se.optimize(sc, levers, objective=objective,
                        confidence=a.confidence if a.confidence is not None else 0.8,
                        target=a.target, budget=a.budget, draws=a.draws, seed=a.seed,
                        frontier=a.frontier, max_runs=a.max_runs, threads=a.threads)
    except PlanOutOfReach as exc:  # an answer: the best plan found, with its own exit code
        r = exc.result
        code = OUT_OF_REACH_EXIT
        err.print(f"[yellow]{exc}[/yellow]", highlight=False, soft_wrap=True)
    cur = r.currency
    t = rich_table.Table(title=f"the plan next to the scenario as loaded ({r.draws:,} draws, seed "
              f"{r.seed}, common random numbers)", title_justify="left")
    for col in ("", "as loaded", "plan"):
        t.add_column(col, justify="left" if not col else "right")
    for p in r.levers:
        t.add_row(p.path, _value(r.loaded["values"][p.path], p.path, cur),
                  _value(r.values[p.path], p.path, cur))
    t.add_row("cost (campaign spend + pool cost)", _money(r.loaded["cost"], cur),
              _money(r.cost, cur))
    t.add_row("P(goal) ± s.e.",
              f"{_pct(r.loaded['probability'])} ± {_pct(r.loaded['probability_se'])}",
              f"{_pct(r.probability)} ± {_pct(r.probability_se)} (fresh draws; "
              f"{_pct(r.search_probability)} on the search draws)")
    out.print(t)
    f = rich_table.Table(title="frontier: every plan simulated, cheapest first (* efficient)",
              title_justify="left")
    for col in ("cost", "P(goal) ± s.e.", "plan",
                *[p.path.split(".", 1)[-1] for p in r.levers]):
        f.add_column(col, justify="right")
    for _, row in r.frontier.iterrows():
        f.add_row(("* " if row["efficient"] else "") + _money(row["cost"], cur),
                  f"{_pct(row['probability'])} ± {_pct(row['probability_se'])}", row["role"],
                  *[_value(row[p.path], p.path, cur) for p in r.levers])
    out.print(f)
    out.print(f"[bold]{r.sentence()}[/bold]")
    if r.note:
        out.print(r.note)
    out.print(f"{r.plans_scored} plans simulated ({r.model_evaluations:,} evaluations of the "
              f"expected-value model) in {r.elapsed:.1f} s, {r.cpu_seconds:.1f} CPU s")
    if a.output:
        out.print(f"wrote {write_plan(r, a.scenario, a.output)}")
    if a.plot:
        _agg()
        out.print(f"wrote {save_figure(se.plot.frontier(r), a.plot)}")
    if a.report:  # the plan's forecast (the fresh seed of the check), with the plan shown
        _agg()
        ds = se.simulate(r.scenario(), draws=r.draws, seed=r.seed + 1, progress=False)
        out.print(f"wrote {se.write_report(ds, a.report, plan=r)}")
    return code


def register(subparsers) -> None:
    from simengine.cli_common import add_format, add_overrides, add_run_options

    c = subparsers.add_parser("compare", help="compare scenarios on common random numbers")
    c.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario files; the first is the reference of the differences")
    add_run_options(c, draws_help="draws per scenario", progress=True, overrides=False)
    add_overrides(c, "every scenario")
    c.add_argument("-o", "--output", help="write the comparison to OUT.nc or OUT.zarr")
    c.add_argument("--plot", metavar="FIG.png", help="draw the comparison")
    add_format(c)
    c.set_defaults(func=cmd_compare)

    g = subparsers.add_parser("goal-seek", help="the lever value that reaches the goal with "
                              "the requested confidence",
                              epilog=_exit_codes("the value was found", "the goal is out of "
                                                 "reach within the bounds (an answer: the "
                                                 "worksheet and P(goal) at the bound are "
                                                 "printed)"))
    g.add_argument("scenario", help="scenario YAML file")
    g.add_argument("--lever", required=True, metavar="PATH",
                   help="parameter path, e.g. campaigns.webinar-series.volume.budget")
    g.add_argument("--confidence", type=float, default=0.8, help="required P(goal) (0.8)")
    g.add_argument("--target", type=float, default=None,
                   help="bookings target (default the scenario's goal.revenue)")
    g.add_argument("--bounds", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="lever values searched (default [0, 1] for a probability, "
                   "[0, 10 x current] otherwise)")
    g.add_argument("--rtol", type=float, default=0.005,
                   help="search precision relative to the answer (0.005)")
    g.add_argument("--max-runs", type=int, default=30, help="at most this many simulations")
    add_run_options(g, draws_help="draws per simulation")
    g.add_argument("--plot", metavar="FIG.png", help="draw P(goal) against the lever")
    g.set_defaults(func=cmd_goal_seek)

    o = subparsers.add_parser("optimize", help="the cheapest plan (campaign budgets, hires, "
                              "...) that reaches the goal with a confidence, and the frontier",
                              epilog=_exit_codes("a plan was found", "no plan within the "
                                                 "bounds reaches the goal (an answer: the "
                                                 "best plan found is printed and written)"))
    o.add_argument("scenario", help="scenario YAML file")
    o.add_argument("--lever", action="append", default=[], required=True,
                   metavar="PATH=LOW:HIGH",
                   help="a lever and its bounds, repeatable, e.g. "
                   "campaigns.paid-search.volume.budget=100000:1500000, pools.sdr.headcount=4:12"
                   ", pools.ae.hires[0].date=2027-02:2027-09")
    o.add_argument("--confidence", type=float, default=None,
                   help="required P(goal) of the cheapest plan (default 0.8)")
    o.add_argument("--budget", type=float, default=None,
                   help="instead: the largest P(goal) with a cost at most this")
    o.add_argument("--target", type=float, default=None,
                   help="bookings target (default the scenario's goal.revenue)")
    o.add_argument("--frontier", type=int, default=8,
                   help="simulated plans on the frontier, the search's included (default 8)")
    o.add_argument("--max-runs", type=int, default=10,
                   help="at most this many simulations in the search (10)")
    add_run_options(o, draws_help="draws per plan")
    o.add_argument("-o", "--output", metavar="PLAN.yaml",
                   help="write the plan as a scenario that extends SCENARIO")
    o.add_argument("--plot", metavar="FIG.png", help="draw the frontier")
    o.add_argument("--report", metavar="REPORT.html",
                   help="write the HTML report of the plan's forecast, with the plan shown")
    o.set_defaults(func=cmd_optimize)

    s = subparsers.add_parser("sensitivity", help="tornado or Sobol indices of bookings")
    s.add_argument("scenario", help="scenario YAML file")
    s.add_argument("--method", choices=("tornado", "sobol"), default="tornado")
    s.add_argument("--params", nargs="+", metavar="PATH",
                   help="parameters and risk events (friction.NAME.occurs); default every "
                   "uncertain parameter and risk event")
    s.add_argument("--group", action="append", default=[], metavar="NAME=PATTERN,...",
                   help="Sobol group of parameter paths (fnmatch patterns), repeatable")
    s.add_argument("--level", choices=("both", "parameter", "group"), default="both",
                   help="Sobol: indices of single factors, of groups or both")
    s.add_argument("--target", type=float, default=None,
                   help="bookings goal for P(goal) (default the scenario's goal.revenue)")
    add_run_options(s, draws=None,
                    draws_help="tornado: draws per run (default 1000); Sobol: base rows "
                    "(default 1024)")
    s.add_argument("--plot", metavar="FIG.png", help="draw the tornado or the Sobol indices")
    add_format(s)
    s.set_defaults(func=cmd_sensitivity)
