"""``simengine report RESULT.nc|RESULT.zarr -o REPORT.html``: the HTML report of a saved result."""

from __future__ import annotations

import argparse


def cmd_report(a: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import simengine as se
    from simengine.cli import check_output, load_result, out
    from simengine.report import check_path

    check_path(a.output)
    check_output(a.output, "-o")
    ds = load_result(a.result)
    path = se.report(ds, a.output)
    out.print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    r = subparsers.add_parser(
        "report", help="write the HTML report of a saved result (one self-contained file)")
    r.add_argument("result", help="RESULT.nc or RESULT.zarr (from simengine run -o)")
    r.add_argument("-o", "--output", required=True, metavar="REPORT.html",
                   help="the report to write")
    r.set_defaults(func=cmd_report)
