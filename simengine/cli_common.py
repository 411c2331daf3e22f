"""What every ``simengine`` subcommand shares: the consoles, the checks of input and output
paths, tables for scripts (``--format``) and the figure writer.

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


def add_format(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--format", choices=("table", "json", "csv"), default="table",
                    help="table (default, for people), or json / csv on stdout for scripts "
                    "(everything else then goes to stderr)")


FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
RESULT_SUFFIXES = (".nc", ".zarr")
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


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure to ``path`` atomically (a temporary name in the same folder,
    then renamed) and close it; the folder is created if needed."""
    import matplotlib.pyplot as plt

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.stem}.tmp{p.suffix}")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(p)
    return p
