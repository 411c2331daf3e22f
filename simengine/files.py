"""Files written whole or not at all: a temporary name beside the target, then one rename.

Every file simengine writes for a user (results, figures, reports, tables, scenarios) goes
through :func:`write_atomic`, so an interrupted or failed write never leaves a half-written
file under the final name, and never a temporary one beside it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | Path, write: Callable[[Path], object], *,
                 check: Callable[[Path], object] | None = None) -> Path:
    """Write ``path`` through ``write(tmp)``, then rename ``tmp`` to ``path``.

    Parameters
    ----------
    path
        The file (or folder, such as a ``.zarr`` store) to write; the folders above it are
        created.
    write
        Writes the content at ``tmp``, a new hidden name in the same folder with the same
        suffix (writers such as matplotlib read the format from it; a scenario's relative
        ``extends`` resolves as it will from ``path``).
    check
        Called with ``tmp`` once written; an exception it raises leaves ``path`` as it was.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    tmp = path.with_name(f".{path.stem}.{tag}.tmp{path.suffix}")
    old = path.with_name(f".{path.name}.{tag}.old")
    try:
        write(tmp)
        if tmp.is_file():  # on disk before the rename, so the rename cannot expose a hole
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if check is not None:
            check(tmp)
        if path.exists() and (path.is_dir() or tmp.is_dir()):
            os.replace(path, old)  # a folder cannot be renamed over: move it aside first
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
        else:
            os.replace(tmp, path)
    finally:
        for p in (tmp, old):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str, *,
               check: Callable[[Path], object] | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`write_atomic`)."""
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"), check=check)
