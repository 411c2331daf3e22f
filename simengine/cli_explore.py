"""``simengine explore SCENARIO [--plan PLAN.yaml] [--port N] [--draws N] [--host H]``: the
what-if explorer, a local web page where moving a lever re-runs the forecast on common random
numbers."""

from __future__ import annotations

import argparse
import sys


def cmd_explore(a: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # the report export draws figures in the server's threads
    from simengine.cli_common import out
    from simengine.errors import SimEngineError
    from simengine.fmt import money

    try:
        import panel  # noqa: F401
    except ImportError:
        raise SimEngineError("explore: expected the app extra (pip install 'simengine[app]'), "
                             "found no panel package") from None
    from simengine.explore.server import access, serve
    from simengine.explore.session import Explorer

    acc = access(a.host, a.port)
    ex = Explorer(a.scenario, draws=a.draws, seed=a.seed, threads=a.threads,
                  out_dir=a.out_dir, plan=a.plan)
    out.print(f"{a.scenario}: {len(ex.levers)} levers; simulating the scenario as loaded "
              f"({ex.draws:,} draws, seed {ex.seed})…", soft_wrap=True)
    ref = ex.reference()
    out.print(f"done in {ref.seconds:.1f} s")
    if ex.plan is not None:
        out.print(f"simulating the plan {a.plan} ({len(ex.plan.levers)} levers moved)…",
                  soft_wrap=True)
        po = ex.plan_outcome()
        out.print(f"plan: P(goal) {po.p_goal:.1%} ± {po.p_goal_se:.1%}, cost "
                  f"{money(po.cost, po.currency)} (as loaded {po.ref_p_goal:.1%}, "
                  f"{money(po.ref_cost, po.currency)})", soft_wrap=True)
    if acc.token:
        out.print(f"listening on {acc.host}: requests need the token (in the address below)")
    out.print(f"simengine explore: open {acc.url}", soft_wrap=True, highlight=False)
    out.print("press Ctrl+C to stop")
    sys.stdout.flush()
    serve(ex, acc)
    return 0


def register(subparsers) -> None:
    from simengine.cli_common import add_run_options
    from simengine.explore import DEFAULT_DRAWS

    e = subparsers.add_parser(
        "explore", help="open a scenario in the what-if explorer (a local web page)")
    e.add_argument("scenario", help="scenario YAML file (read once; never written)")
    e.add_argument("--port", type=int, default=5006,
                   help="port to listen on (default 5006; 0 picks a free one)")
    e.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1, this machine only; any other "
                   "address requires the token printed at start)")
    add_run_options(e, draws=DEFAULT_DRAWS, draws_help="draws per update (the standard error "
                    "of P(goal) is at most 2 points)", seed_help="random seed shared by every "
                    "update", overrides=False)
    e.add_argument("--plan", metavar="PLAN.yaml", default=None,
                   help="a plan of the scenario (simengine optimize -o PLAN.yaml, or a saved "
                   "what-if): shown next to the scenario as loaded, with its cost and P(goal), "
                   "and applied with one button")
    e.add_argument("--out-dir", metavar="DIR", default=None,
                   help="the one folder the page may write to (saved scenarios, exported "
                   "reports; default: the scenario's folder)")
    e.set_defaults(func=cmd_explore)
