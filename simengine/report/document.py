"""The report of a result as one HTML document, and writing it atomically."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from simengine.errors import SimEngineError
from simengine.files import write_text
from simengine.report.page import CSS, PAGE
from simengine.report.sections import build
from simengine.report.words import esc

SUFFIXES = (".html", ".htm")


def check_path(path: str | Path) -> Path:
    """The report's path, or a :class:`SimEngineError` saying what was expected (before a run)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise SimEngineError(f"{path}: expected a report path ending in .html, found "
                             f"'{path.suffix or 'no suffix'}'")
    if path.exists() and path.is_dir():
        raise SimEngineError(f"{path}: expected a file name for the report, found a folder")
    return path


def render(ds: xr.Dataset, plan=None) -> str:
    """The report of a result as one HTML document (a string).

    Parameters
    ----------
    ds
        A result of :func:`simengine.simulate` or :func:`simengine.load` (optionally with a
        ``pool`` dimension for the capacity section and a ``scenario`` dimension for the
        comparison).
    plan
        An :class:`~simengine.analysis.optimize.OptimizeResult`: the page then shows the plan
        next to the scenario as loaded, with the frontier (second section).

    Returns
    -------
    str
        The page: styles inline and every figure an inline SVG data URI, so it references
        nothing outside itself.
    """
    ds = ds.load()
    c, sections = build(ds, plan)
    a = c.ds.attrs  # the scenario shown in detail (with its own name, goal and fingerprint)
    name = str(a.get("scenario", "")) or "simengine result"
    if c.shown:
        name = " vs ".join(map(str, ds.scenario.values))
    desc = c.scenario.get("description") or ""
    subtitle = (f"{esc(desc) + ' · ' if desc else ''}plan period {c.span} · "
                f"{int(c.ds.sizes['draw']):,} simulated {c.years} · created "
                f"{esc(str(a.get('created', ''))[:10])}")
    nav = "".join(f'<a href="#{s.id}">{esc(s.title.split(":")[0])}</a>' for s in sections)
    body = "\n".join(f'<section id="{s.id}"><h2>{esc(s.title)}</h2>{s.html}</section>'
                     for s in sections)
    footer = (f"simengine {esc(a.get('simengine_version', ''))} · scenario "
              f"{esc(name)} · fingerprint {esc(str(a.get('scenario_sha256', ''))[:12])} · seed "
              f"{esc(a.get('seed', ''))}. A Monte Carlo forecast: every number is a summary of "
              f"{int(c.ds.sizes['draw']):,} simulated {c.years}, not a promise.")
    return PAGE.substitute(title=esc(f"Bookings forecast: {name}"), subtitle=subtitle,
                           css=CSS, nav=nav, body=body, footer=footer,
                           version=esc(a.get("simengine_version", "")))


def write_report(ds: xr.Dataset, path: str | Path, plan=None) -> Path:
    """Write the report of a result to ``path`` (an ``.html`` file), atomically.

    The page is written to a temporary file in the same folder and renamed, so a crash never
    leaves half a report under the final name.

    Parameters
    ----------
    ds
        A result (see :func:`render`).
    path
        Where to write; the folder is created if needed.
    plan
        An optimizer result to show (see :func:`render`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    SimEngineError
        The path does not end in ``.html`` (or ``.htm``).
    """
    path = check_path(path)
    html = render(ds, plan)
    return write_text(path, html)


__all__ = ["write_report", "render", "check_path"]
