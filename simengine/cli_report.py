"""``simengine report RESULT.nc|RESULT.zarr -o REPORT.html``: the HTML report of a saved result."""

from __future__ import annotations

import argparse


def cmd_report(a: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import simengine as se
    from simengine.cli_common import check_output, load_result, out, without_dask

    if getattr(a, "standalone", False):
        without_dask(a.result)  # before xarray is imported
    from simengine.report.document import check_path

    check_path(a.output)
    check_output(a.output, "-o")
    ds = load_result(a.result)
    path = se.write_report(ds, a.output)
    out.print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    r = subparsers.add_parser(
        "report", help="write the HTML report of a saved result (one self-contained file)")
    r.add_argument("result", help="RESULT.nc or RESULT.zarr (from simengine run -o)")
    r.add_argument("-o", "--output", required=True, metavar="REPORT.html",
                   help="the report to write")
    r.set_defaults(func=cmd_report)
