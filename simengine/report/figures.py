"""Figures for the report: embedding as SVG data URIs (the figures are :mod:`simengine.plot`'s)."""

from __future__ import annotations

import base64
import io

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def svg_uri(fig: Figure) -> str:
    """The figure as a ``data:image/svg+xml;base64`` URI (no date, stable ids), then closed.

    An ``<img>`` of a data URI keeps each figure's SVG ids to itself and needs no network.
    """
    buf = io.BytesIO()
    with mpl.rc_context({"svg.hashsalt": "simengine", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
