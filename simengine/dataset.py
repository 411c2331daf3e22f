"""Assemble the engine's arrays into one labelled xarray.Dataset, and save / load it atomically.

The variables, their dimensions, ``units`` and ``long_name`` are declared once, in
:mod:`simengine.kernels.outputs`; every dimension has a coordinate, and the global attributes
carry the provenance (seed, scenario fingerprint, version).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from simengine._version import __version__
from simengine.errors import SimEngineError
from simengine.files import write_atomic
from simengine.kernels.outputs import (
    CAMPAIGN,
    CURRENCY,
    DERIVED,
    DRAW,
    FRICTION,
    FUNNEL,
    PARAMETER,
    PERIOD,
    POOL,
    POOLS,
    PRIORITY,
    SEGMENT,
    STAGE,
    TRACE_FIELD,
    Output,
)

if TYPE_CHECKING:  # the engine (numba) is not needed to read or write a saved result
    from simengine.engine.chunks import RawResult


def _variables(table: tuple[Output, ...], arrays, cur: str) -> dict[str, xr.Variable]:
    """The Dataset variables of the outputs a table labels (accumulators have no label)."""
    return {o.variable: xr.Variable((DRAW, *o.dims), getattr(arrays, o.name),
                                    attrs={"units": cur if o.units == CURRENCY else o.units,
                                           "long_name": o.long_name})
            for o in table if o.units is not None}


def _derived(data: dict[str, np.ndarray], cur: str) -> dict[str, xr.Variable]:
    """The Dataset variables computed here, labelled as :data:`DERIVED` declares them."""
    out = {}
    for name, values in data.items():
        d = DERIVED[name]
        out[name] = xr.Variable((DRAW, *d.dims), values, attrs={
            "units": cur if d.units == CURRENCY else d.units, "long_name": d.long_name})
    return out


def assemble(raw: RawResult) -> xr.Dataset:
    """The Dataset of a run. Failed draws are NaN in every variable."""
    from simengine.scenario.loader import canonical_json, scenario_sha256  # a run has it loaded

    cs, o = raw.compiled, raw.out
    sc = cs.scenario
    cur = sc.currency
    n = raw.draws
    bad = raw.failed

    def nanfail(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=float)
        if bad.any():
            a = a.copy()
            a[bad] = np.nan
        return a

    with np.errstate(invalid="ignore", divide="ignore"):
        time_in_stage = o.stage_time / o.stage_exits
        cycle = o.cycle_time_sum / o.cycle_time_n
    cost = campaign_cost(raw)
    fr_cost = np.where(raw.fr_on, raw.theta[:, cs.fr_cost_col], 0.0) if len(cs.fr_cost_col) \
        else np.zeros((n, 0))
    params = cs.params
    unc = params.uncertain

    v = _variables(FUNNEL, o, cur)
    v["pipeline_value"].attrs["description"] = (
        f"stages from '{cs.stage_names[int(np.argmax(cs.in_pipeline_value))]}' on")
    v.update(_derived({
        "campaign_cost": cost, "time_in_stage": time_in_stage, "cycle_time": cycle,
        "friction_active": raw.fr_on.astype(float), "friction_cost": fr_cost,
        "parameters": raw.theta[:, unc]}, cur))
    if raw.pools is not None:
        v.update(_pool_variables(raw, cur))
    for name, var in v.items():
        if name not in ("friction_active", "parameters"):
            var.values = nanfail(var.values)
    v.update(_derived({"failed": bad.astype(np.int8)}, cur))

    coords = {
        DRAW: np.arange(raw.first_draw, raw.first_draw + n, dtype=np.int64),
        PERIOD: cs.grid.period_start.astype("datetime64[ns]"),
        STAGE: np.array(cs.stage_names, dtype=object),
        CAMPAIGN: np.array(cs.campaign_names, dtype=object),
        SEGMENT: np.array(cs.segment_names, dtype=object),
        FRICTION: np.array(cs.friction_names, dtype=object),
        PARAMETER: np.array([params.paths[j] for j in unc], dtype=object),
        POOL: np.array(cs.pool_names, dtype=object),
        PRIORITY: np.array(["inbound", "outbound"], dtype=object),
        "period_end": (PERIOD, (cs.grid.period_start.astype("datetime64[D]")
                                + np.diff(np.concatenate([[0], cs.grid.period_end_day]))
                                ).astype("datetime64[ns]")),
        "goal_share": (PERIOD, cs.goal_cum),
    }
    if raw.pools is None:
        coords.pop(POOL)
        coords.pop(PRIORITY)
    elif raw.pools.trace.shape[1]:
        coords[TRACE_FIELD] = np.array(["arrival", "exit", "outcome"], dtype=object)
    ds = xr.Dataset(v, coords=coords)
    ds["goal_share"].attrs = {"units": "1", "long_name": "share of the goal due by period end"}
    ds["period_end"].attrs = {"long_name": "first day after the period"}
    prospects = float(np.nansum(o.arrivals) + np.nansum(o.initial))
    ds.attrs = {
        "scenario": sc.name,
        "scenario_sha256": scenario_sha256(sc),
        "scenario_json": canonical_json(sc),
        "seed": int(raw.seed),
        "simengine_version": __version__,
        "draws": int(n),
        "prospects": prospects,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "currency": sc.currency,
        "horizon_start": str(sc.horizon.start),
        "horizon_days": int(sc.horizon.days),
        "period": sc.horizon.period,
        "goal": float(sc.goal.revenue) if sc.goal else float("nan"),
        "failed_draws": int(bad.sum()),
        "capped_prospects": float(np.sum(o.capped)),
        "elapsed_seconds": float(raw.elapsed),
    }
    return ds


def _pool_variables(raw: RawResult, cur: str) -> dict[str, xr.Variable]:
    """Queueing and capacity figures of the capacity path, per draw, period and pool."""
    cs, po = raw.compiled, raw.pools
    days_in = np.diff(np.concatenate([[0], cs.grid.period_end_day])).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        wait_all = po.wait_sum.sum(axis=2) / po.wait_n.sum(axis=2)
        wait_class = po.wait_sum / po.wait_n
        util = po.busy_area / po.cap_area
        waited = po.waited / po.wait_n.sum(axis=2)
    out = _variables(POOLS, po, cur)
    if not po.trace.shape[1]:
        del out["trace"]
    out.update(_derived({
        "queue_wait": wait_all, "queue_wait_by_priority": wait_class, "waited_share": waited,
        "utilization": util, "capacity": raw.capacity, "headcount": raw.headcount,
        "queue_length": po.queue_area / days_in[None, :, None], "pool_cost": pool_cost(raw)},
        cur))
    return out


def pool_cost(raw: RawResult) -> np.ndarray:
    """Cost per draw and pool of its reps over the horizon: rep-years x cost per rep-year."""
    cs = raw.compiled
    days_in = np.diff(np.concatenate([[0], cs.grid.period_end_day])).astype(float)
    heads_year = raw.headcount.transpose(0, 2, 1) @ days_in / 365.0  # rep-years per pool
    return heads_year * raw.theta[:, cs.pool_cost_col]


def campaign_cost(raw: RawResult) -> np.ndarray:
    """Spend per draw and campaign: fixed + per lead x arrivals + the budget spent in the
    horizon."""
    cs, th = raw.compiled, raw.theta
    C = cs.n_campaigns
    cost = np.zeros((raw.draws, C + 1))
    if C:
        leads = raw.out.arrivals[:, :, :C].sum(axis=1)
        share_in = cs.camp_shape.sum(axis=1)
        budget = np.where(cs.vol_kind == 1, th[:, np.maximum(cs.vol_cols[:, 0], 0)], 0.0)
        active = (share_in > 0).astype(float)
        cost[:, :C] = (th[:, cs.cost_fixed_col] * active + th[:, cs.cost_per_lead_col] * leads
                       + budget * share_in)
    return cost


# --- saving and loading -------------------------------------------------------------------------
def _encodable(ds: xr.Dataset) -> xr.Dataset:
    out = ds.copy()
    for name in (STAGE, CAMPAIGN, SEGMENT, FRICTION, PARAMETER, POOL, PRIORITY, TRACE_FIELD):
        if name in out.coords:
            out.coords[name] = out.coords[name].astype(str)
    return out


def save(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``.nc`` (netCDF4 via h5netcdf) or ``.zarr`` atomically: a temporary name in the same
    folder, then a rename, so a crash never leaves a half-written file under the final name."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".nc", ".zarr"):
        raise SimEngineError(f"{path}: expected an output ending in .nc or .zarr, found "
                             f"'{suffix or 'no suffix'}'")
    enc = _encodable(ds)

    def write(tmp: Path) -> None:
        if suffix == ".nc":
            enc.to_netcdf(tmp, engine="h5netcdf")
            return
        with warnings.catch_warnings():  # zarr 3 on fixed-width text coordinates: harmless
            warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 spec")
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently")
            enc.to_zarr(tmp, mode="w", consolidated=True)

    return write_atomic(path, write)


encodable = _encodable  # the form a result takes in a file (streamed stores too)


def load(path: str | Path, *, partial: bool = False) -> xr.Dataset:
    """Open a result written by :func:`save` or streamed by a run (lazily for ``.zarr``).

    A zarr result is read lazily (dask arrays; only ``failed``, one byte per draw, is read at
    once so summaries can drop failed draws without computing anything else).

    Parameters
    ----------
    partial
        Open the draws written so far of a streamed run that did not finish (otherwise that is
        an error: complete it with ``simengine run ... --resume``).
    """
    path = Path(path)
    if not path.exists():
        raise SimEngineError(f"{path}: no such result file")
    if path.suffix.lower() == ".zarr":
        from simengine.engine.stream import COMMITTED, INCOMPLETE, quiet_zarr

        with quiet_zarr():
            ds = xr.open_zarr(path)
        if INCOMPLETE in ds.attrs:
            done = int(ds.attrs.get(COMMITTED, 0))
            if not partial:
                target = json.loads(ds.attrs[INCOMPLETE]).get("draws")
                raise SimEngineError(
                    f"{path}: expected a finished result, found an interrupted run ({done:,} of "
                    f"{target:,} draws written); complete it with `simengine run SCENARIO -o "
                    f"{path} --resume`, or read what is there with load(..., partial=True)")
            ds = ds.isel({DRAW: slice(0, done)})
        if "failed" in ds:
            ds["failed"] = ds["failed"].load()
        return ds
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
