"""One visual style for every figure: palette, fonts, money and date axes.

The palette is Okabe & Ito's (2008), safe for the common forms of colour blindness.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np

PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
    "sky": "#56B4E9", "purple": "#CC79A7", "yellow": "#F0E442", "black": "#000000",
    "grey": "#7F7F7F",
}
CYCLE = [PALETTE[k] for k in ("blue", "orange", "green", "vermillion", "sky", "purple",
                              "yellow", "grey")]
BAND = PALETTE["blue"]
GOAL = PALETTE["vermillion"]

RC = {
    "figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
    "font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold", "axes.titlelocation": "left",
    "axes.labelsize": 10, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#E6E6E6", "grid.linewidth": 0.8, "axes.axisbelow": True,
    "axes.prop_cycle": mpl.cycler(color=CYCLE), "legend.frameon": False,
    "legend.fontsize": 9, "figure.facecolor": "white", "text.parse_math": False,
}


@contextmanager
def styled():
    """Apply the simengine style for the figures made inside the block."""
    with mpl.rc_context(RC):
        yield


def money(x: float, currency: str = "USD") -> str:
    """$1.2M, $350k, $900 (other currencies keep their code)."""
    sign = "-" if x < 0 else ""
    x = abs(x)
    sym = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, "")
    suffix = "" if sym else f" {currency}"
    if x >= 1e9:
        text = f"{x / 1e9:.1f}B"
    elif x >= 1e6:
        text = f"{x / 1e6:.1f}M"
    elif x >= 1e3:
        text = f"{x / 1e3:.0f}k"
    else:
        text = f"{x:.0f}"
    return f"{sign}{sym}{text}{suffix}"


def money_axis(axis, currency: str = "USD") -> None:
    axis.set_major_formatter(mticker.FuncFormatter(lambda x, _: money(x, currency)))


def count_axis(axis) -> None:
    axis.set_major_formatter(mticker.FuncFormatter(
        lambda x, _: f"{x / 1e6:.1f}M" if abs(x) >= 1e6 else f"{x:,.0f}"))


def date_axis(axis, maxticks: int = 14) -> None:
    """Dates on a time axis: month names, the year written once where it changes.

    ``maxticks`` thins the ticks on narrow panels (every second or third month).
    """
    loc = mdates.AutoDateLocator(minticks=3, maxticks=maxticks)
    fmt = mdates.ConciseDateFormatter(loc, formats=["%Y", "%b", "%d", "%H:%M", "%H:%M", "%S.%f"])
    axis.set_major_locator(loc)
    axis.set_major_formatter(fmt)


def pct(p: float) -> str:
    return f"{p:.0%}" if p >= 0.1 or p == 0 else f"{p:.1%}"


def pct_axis(axis, decimals: int = 0) -> None:
    """Shares (0..1) shown as percentages."""
    axis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=decimals))


def period_mid(ds) -> np.ndarray:
    """Mid-point of each period (for bars and lines placed inside their period)."""
    start = ds.period.values
    end = ds.period_end.values if "period_end" in ds.coords else start
    return start + (end - start) / 2


def value_text(path: str, x: float, currency: str = "USD") -> str:
    """A parameter's value in its own unit, from its path: 45%, $39.9k, 35 d, 1,159, 1.05x."""
    from simengine.scenario.paths import kind

    if not np.isfinite(x):
        return "–"
    k = kind(path)
    if k == "probability":
        return f"{x:.0%}" if x >= 0.1 else f"{x:.1%}"
    if k == "money":
        return money(x, currency)
    if k == "days":
        return f"{x:,.0f} d" if abs(x) >= 10 else f"{x:.1f} d"
    if k == "count":
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"
    if k == "multiplier":
        return f"{x:.2f}x"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"
