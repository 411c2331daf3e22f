"""What every ``simengine`` subcommand shares: the consoles, the options of commands that
simulate, the checks of input and output paths, tables for scripts (``--format``) and the figure
writer.

:mod:`simengine.cli` and the feature modules that add subcommands (``cli_*``) import these from
here, never from each other.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from simengine.errors import SimEngineError

# ``out`` writes to stderr instead while ``--format json|csv`` writes a table to stdout
out = Console()
err = Console(stderr=True)


def emit_table(table, fmt: str) -> None:
    """Write a DataFrame (or ``{name: DataFrame}``) to stdout as CSV or JSON records, for
    scripts; several tables are one CSV with a leading ``table`` column, or one JSON object."""
    import json

    import pandas as pd

    if isinstance(table, dict):
        if fmt == "csv":
            table = pd.concat([t.assign(table=k)[["table", *t.columns]]
                               for k, t in table.items()], ignore_index=True)
        else:
            sys.stdout.write(json.dumps({k: json.loads(t.to_json(orient="records",
                                                                 date_format="iso"))
                                         for k, t in table.items()}, indent=1) + "\n")
            sys.stdout.flush()
            return
    if fmt == "csv":
        sys.stdout.write(table.to_csv(index=False))
    else:
        sys.stdout.write(table.to_json(orient="records", date_format="iso", indent=1) + "\n")
    sys.stdout.flush()


class Parser(argparse.ArgumentParser):
    """argparse, speaking the CLI's one language of errors: a bad option is a
    :class:`SimEngineError` (one line, exit code 2), a bad choice says what was expected."""

    def _check_value(self, action, value):
        if action.choices is not None and value not in action.choices:
            raise argparse.ArgumentError(action, f"expected one of "
                                         f"{', '.join(map(str, action.choices))}, found "
                                         f"{value!r}")

    def error(self, message: str):
        raise SimEngineError(f"{self.prog}: {message.removeprefix('argument ')}")


def add_overrides(sp: argparse.ArgumentParser, what: str = "the scenario") -> None:
    """``--set PATH=VALUE`` (repeatable): parameter values that replace the file's."""
    sp.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                    help=f"override a parameter of {what}, e.g. --set goal.revenue=15e6 or "
                    "--set 'stages.mql.next.sal={dist: beta, mean: 0.5, sd: 0.05}'")


def add_run_options(sp: argparse.ArgumentParser, *, draws: int | None = 1000,
                    draws_help: str = "draws", seed_help: str = "random seed",
                    threads: bool = True, progress: bool = False, overrides: bool = True,
                    unset: bool = False) -> None:
    """The options of a command that simulates, named and explained the same everywhere:
    ``-n/--draws``, ``--seed``, ``--threads``, ``--no-progress`` and ``--set``.

    Parameters
    ----------
    draws
        The default number of draws (said in the help).
    draws_help, seed_help
        What the draws and the seed are for, in this command.
    threads, progress, overrides
        Whether the command takes ``--threads``, ``--no-progress`` (it shows a progress bar)
        and ``--set``.
    unset
        Leave ``--draws`` and ``--seed`` None when not given (the command tells "not given" from
        the defaults, as ``run --resume`` does).
    """
    sp.add_argument("-n", "--draws", type=int, default=None if unset else draws,
                    help=f"{draws_help} (default {draws:,})" if draws is not None else draws_help)
    sp.add_argument("--seed", type=int, default=None if unset else 0,
                    help=f"{seed_help} (default 0)")
    if threads:
        sp.add_argument("--threads", type=int, default=None,
                        help="threads (default: all cores)")
    if progress:
        sp.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar (there is none when stderr is not a terminal)")
    if overrides:
        add_overrides(sp)


def add_format(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--format", choices=("table", "json", "csv"), default="table",
                    help="table (default, for people), or json / csv on stdout for scripts "
                    "(everything else then goes to stderr)")


# the endings each kind of output may have (checked by :func:`check_output`)
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
RESULT_SUFFIXES = (".nc", ".zarr")
SCENARIO_SUFFIXES = (".yaml", ".yml")
REPORT_SUFFIXES = (".html", ".htm")
TABLE_SUFFIXES = (".csv",)
WORKBOOK_SUFFIXES = (".xlsx",)
_KNOWN_INPUTS = {".yaml": "a scenario", ".yml": "a scenario", ".csv": "a CSV table",
                 ".tsv": "a table", ".xlsx": "a workbook", ".html": "a report",
                 ".nc": "a result", ".zarr": "a result", ".png": "a figure"}


def _kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return _KNOWN_INPUTS.get(suffix, f"a '{suffix}' file" if suffix else "a file without suffix")


def check_output(path: str | Path, flag: str, suffixes: tuple[str, ...] | None = None,
                 folder: bool = False) -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    ``suffixes``: the accepted endings; ``folder``: the path is a folder to write files into.
    """
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise SimEngineError(f"{flag} {path}: expected a path ending in "
                             f"{' or '.join(suffixes)}, found '{p.suffix or 'no suffix'}'")
    if folder and p.exists() and not p.is_dir():
        raise SimEngineError(f"{flag} {path}: expected a folder to write into, found an "
                             "existing file")
    if not folder and p.is_dir() and p.suffix.lower() != ".zarr":
        raise SimEngineError(f"{flag} {path}: expected a file name, found a folder")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SimEngineError(f"{flag} {path}: expected {parent} to be a folder, found "
                                     "a file")
            break
    return p


def load_result(path: str | Path):
    """Open a saved result, or say in one line why the file is not one."""
    import simengine as se

    p = Path(path)
    if p.suffix.lower() not in RESULT_SUFFIXES:
        hint = {"a scenario": " (simulate it first: simengine run SCENARIO -o RESULT.nc)",
                "a CSV table": " (a CRM export is read by simengine calibrate)"}
        kind = _kind_of(p)
        raise SimEngineError(f"{path}: expected a result (RESULT.nc or RESULT.zarr, written by "
                             f"simengine run -o), found {kind}{hint.get(kind, '')}")
    try:
        ds = se.load(p)
    except SimEngineError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise SimEngineError(f"{path}: expected a result written by simengine run -o, found a "
                             f"file that cannot be read as one ({first})") from None
    if "revenue" not in ds:
        raise SimEngineError(f"{path}: expected a result written by simengine run -o, found a "
                             "dataset without a simengine scenario")
    return ds


def without_dask(result: str | Path) -> None:
    """Keep dask out of a process that only reads the result file ``result``, if it is a
    ``.nc`` file (read into memory whole; a ``.zarr`` store is read lazily, through dask).

    Whenever dask is installed, xarray imports ``dask.array`` (half a CPU second, a quarter of a
    ``plot``) on the first variable it builds, to test whether it is a dask array. Call this
    only in a process that ends with the command and before xarray is imported: xarray then
    takes dask for not installed.
    """
    if Path(result).suffix.lower() == ".nc" and not {"dask", "xarray"} & set(sys.modules):
        sys.modules["dask"] = None  # type: ignore[assignment]  # import dask: ImportError


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure to ``path`` atomically (:func:`simengine.files.write_atomic`)
    and close it; the folder is created if needed."""
    import matplotlib.pyplot as plt

    from simengine.files import write_atomic

    try:
        return write_atomic(path, fig.savefig)
    finally:
        plt.close(fig)
