"""What every ``simengine`` subcommand shares: the two consoles and the figure writer.

:mod:`simengine.cli` and the feature modules that add subcommands (``cli_*``) import these from
here, never from each other.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

out = Console()
err = Console(stderr=True)


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
