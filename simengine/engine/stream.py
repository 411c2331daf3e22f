"""Stream a run to a zarr store as its chunks complete, and pick an interrupted run up again.

The store always holds a prefix of the run, draws ``0 .. k - 1``: parts that complete out of
order (Dask) wait in a buffer until the draws before them are there, then go out in appends of
at least ``flush_draws`` draws along ``draw`` (the store's chunk length: appends of whole
chunks of draws stay aligned with it). Memory is bounded by the buffer, not by the run.

Until the run is finished the store's attributes carry :data:`INCOMPLETE` (the run's settings as
JSON, what ``--resume`` needs) and :data:`COMMITTED` (draws fully written; an append cut short
is cut back to it on resume). Finishing replaces the attributes by the result's own, so a
finished store reads back identical to the in-memory result saved with
:func:`simengine.save`.

This module knows zarr and xarray, not the model: the caller hands it Datasets of consecutive
draws (already assembled, in store form) and says which attributes add up over draws.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import xarray as xr

from simengine.errors import SimEngineError

INCOMPLETE = "simengine_incomplete"
COMMITTED = "simengine_committed_draws"
DRAW = "draw"
# attributes that are totals over draws (summed over the appends)
ADDITIVE = ("draws", "prospects", "failed_draws", "capped_prospects")
FLUSH_BYTES = 32 * 2**20  # about this much result per append


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Named zarr-format notices that say nothing about this run: consolidated metadata and
    fixed-width strings are not in the zarr v3 specification yet (both read back fine)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*Consolidated metadata.*", UserWarning)
        warnings.filterwarnings("ignore", ".*does not have a Zarr V3 specification.*")
        yield


def flush_draws_for(bytes_per_draw: float, chunk: int) -> int:
    """Draws per append: a multiple of ``chunk`` holding about :data:`FLUSH_BYTES`."""
    k = max(1, int(FLUSH_BYTES // max(bytes_per_draw * chunk, 1)))
    return k * chunk


def settings(path: str | Path) -> dict | None:
    """The settings of an unfinished streamed run, None when the store is finished."""
    import zarr

    with quiet_zarr():
        attrs = dict(zarr.open_group(str(path), mode="r").attrs)
    if INCOMPLETE not in attrs:
        return None
    out = json.loads(attrs[INCOMPLETE])
    out["committed"] = int(attrs.get(COMMITTED, 0))
    return out


class StoreWriter:
    """Appends consecutive draws to a zarr store (see the module docstring)."""

    def __init__(self, path: str | Path, flush_draws: int, run_settings: dict,
                 committed: int = 0, totals: dict | None = None, attrs: dict | None = None):
        self.path = Path(path)
        self.flush_draws = int(flush_draws)
        self.run_settings = run_settings
        self.committed = committed
        self.totals = dict(totals or {})
        self.attrs = dict(attrs or {})  # the non-additive attributes of the result
        self._parts: dict[int, xr.Dataset] = {}
        self._created = committed > 0 or bool(attrs)
        self._schema: Callable[[xr.Dataset], xr.Dataset] | None = None
        self._elapsed_before = float(self.attrs.get("elapsed_seconds", 0.0))
        self._t0 = time.perf_counter()

    # --- opening ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, flush_draws: int, run_settings: dict,
               schema: Callable[[xr.Dataset], xr.Dataset] | None = None) -> StoreWriter:
        """A new store at ``path`` (an old finished result there is replaced when the first
        draws are written; an unfinished run is refused: resume it or remove it).

        ``schema`` turns the first part into the store's form (coordinates without a ``draw``
        dimension are written once, from it; later parts append their draw variables only).
        """
        path = Path(path)
        if path.suffix.lower() != ".zarr":
            raise SimEngineError(f"{path}: expected a store ending in .zarr, found "
                                 f"'{path.suffix or 'no suffix'}'")
        if path.exists():
            if not (path / "zarr.json").exists() and not (path / ".zgroup").exists():
                raise SimEngineError(f"{path}: expected a zarr store or a new path, found "
                                     "something else there")
            if settings(path) is not None:
                raise SimEngineError(f"{path}: holds an unfinished run; complete it with "
                                     "--resume (simengine.api.resume) or remove it")
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cls(path, flush_draws, run_settings)
        writer._schema = schema
        return writer

    @classmethod
    def reopen(cls, path: str | Path) -> StoreWriter:
        """The writer of an unfinished run, with any append cut short cut back."""
        import zarr

        path = Path(path)
        if not path.exists():
            raise SimEngineError(f"{path}: no such store to resume")
        st = settings(path)
        if st is None:
            raise SimEngineError(f"{path}: the run is already complete, nothing to resume")
        committed = st.pop("committed")
        with quiet_zarr():
            group = zarr.open_group(str(path), mode="r+", use_consolidated=False)
            for _, arr in group.arrays():
                dims = _dims(arr)
                if dims and dims[0] == DRAW and arr.shape[0] != committed:
                    arr.resize((committed, *arr.shape[1:]))
            attrs = dict(group.attrs)
            zarr.consolidate_metadata(str(path))
        totals = {k: attrs[k] for k in ADDITIVE if k in attrs}
        rest = {k: v for k, v in attrs.items()
                if k not in ADDITIVE and k not in (INCOMPLETE, COMMITTED)}
        return cls(path, st["flush_draws"], st, committed, totals, rest)

    # --- writing ---------------------------------------------------------------------------------
    def add(self, part: xr.Dataset) -> None:
        """Buffer a part (consecutive draws); write out whatever now continues the store."""
        lo = int(part[DRAW].values[0])
        if lo < self.committed or lo in self._parts:
            raise ValueError(f"draw {lo} was written already")
        if not self._created:
            self._create(part)
        self._parts[lo] = part
        self._flush(final=False)

    def _create(self, part: xr.Dataset) -> None:
        """The store with no draws yet: its variables, coordinates and settings."""
        self.attrs = {k: v for k, v in part.attrs.items() if k not in ADDITIVE}
        empty = (self._schema(part) if self._schema else part).isel({DRAW: slice(0, 0)})
        empty.attrs = {**self.attrs, **{k: 0 for k in ADDITIVE if k in part.attrs},
                       INCOMPLETE: json.dumps(self.run_settings), COMMITTED: 0}
        enc = {name: {"chunks": (self.flush_draws, *v.shape[1:])}
               for name, v in empty.variables.items() if v.dims[:1] == (DRAW,)}
        with quiet_zarr():
            if self.path.exists():  # an old finished result: replaced from here on
                shutil.rmtree(self.path)
            empty.to_zarr(self.path, mode="w-", consolidated=True, encoding=enc)
        self._created = True

    def checkpoint(self) -> None:
        """Write the draws that continue the store, however few (on an interruption)."""
        self._flush(final=True)

    def _contiguous(self) -> list[xr.Dataset]:
        out, nxt = [], self.committed
        while nxt in self._parts:
            out.append(self._parts[nxt])
            nxt += self._parts[nxt].sizes[DRAW]
        return out

    def _flush(self, final: bool) -> None:
        parts = self._contiguous()
        n = sum(p.sizes[DRAW] for p in parts)
        if n == 0 or (n < self.flush_draws and not final):
            return
        for p in parts:
            del self._parts[int(p[DRAW].values[0])]
        totals = dict(self.totals)
        for p in parts:
            for key in ADDITIVE:
                if key in p.attrs:
                    totals[key] = totals.get(key, 0) + p.attrs[key]
        ds = parts[0] if len(parts) == 1 else xr.concat(
            parts, DRAW, data_vars="minimal", coords="minimal", compat="override",
            join="override", combine_attrs="override")
        self.attrs["elapsed_seconds"] = self._elapsed_before + time.perf_counter() - self._t0
        ds = ds.copy()
        # the attributes as they were: an append cut short is cut back to them on resume
        ds.attrs = {**self.attrs, **self.totals, INCOMPLETE: json.dumps(self.run_settings),
                    COMMITTED: self.committed}
        with quiet_zarr():
            ds = ds.drop_vars([k for k, v in ds.variables.items() if DRAW not in v.dims])
            # consolidated metadata moves with the commit below, not with the data
            ds.to_zarr(self.path, mode="a", append_dim=DRAW, consolidated=False)
            # the commit: totals and the committed draws move together, after the data
            self.committed += n
            self.totals = totals
            self._set_attrs({**self.attrs, **self.totals,
                             INCOMPLETE: json.dumps(self.run_settings), COMMITTED: self.committed})

    def finish(self, attrs: dict) -> Path:
        """Write what is buffered and mark the store finished with the result's attributes
        (``attrs`` update the ones the parts carried; totals are summed over the parts)."""
        self._flush(final=True)
        if self._parts:
            raise ValueError(f"draws missing before {min(self._parts)}")
        self.attrs["elapsed_seconds"] = self._elapsed_before + time.perf_counter() - self._t0
        self._set_attrs({**self.attrs, **self.totals, **attrs})
        return self.path

    def _set_attrs(self, attrs: dict) -> None:
        import zarr

        with quiet_zarr():
            group = zarr.open_group(str(self.path), mode="r+")
            group.attrs.put(_jsonable(attrs))
            zarr.consolidate_metadata(str(self.path))


def _dims(arr) -> tuple[str, ...]:
    names = getattr(arr.metadata, "dimension_names", None)
    if names:
        return tuple(names)
    return tuple(arr.attrs.get("_ARRAY_DIMENSIONS", ()))


def _jsonable(attrs: dict) -> dict:
    out = {}
    for k, v in attrs.items():
        if hasattr(v, "item"):
            v = v.item()
        out[k] = v
    return out
