"""From per-draw parameters (theta) to the kernel's per-chunk arrays.

Derived quantities are computed here once per draw, vectorised over the chunk, so the kernel
never converts a mean and CV to log-scale parameters per prospect. The initial pipeline's
segments, ages and residual dwells are computed here too, with scipy's inverse CDFs.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from simengine import codes
from simengine.compile import Compiled
from simengine.compile.build import take_no_decision
from simengine.engine import warmup
from simengine.engine.planning import _cols, natural_params, volumes  # numba-free
from simengine.kernels.capacity import PoolDraws, PoolStatic, pool_capacity
from simengine.kernels.drift import drift_paths
from simengine.kernels.funnel import Draws, Static, initial_uniforms
from simengine.kernels.rng import uniforms
from simengine.scenario import drift as drift_kinds
from simengine.scenario.distributions import Empirical, Fixed


def static_arrays(cs: Compiled) -> Static:
    return Static(
        days=cs.grid.days, n_periods=cs.grid.periods, day_period=cs.grid.day_period,
        first_end_after=cs.grid.first_end_after,
        slot_kind=cs.slot_kind, emp_values=cs.emp_values, emp_cum=cs.emp_cum,
        slot_emp=cs.slot_emp,
        dwell_slot=cs.dwell_slot, next_target=cs.next_target, n_next=cs.n_next,
        has_recycle=(cs.rc_col >= 0).astype(np.int64), rc_to=cs.rc_to,
        delay_slot=np.maximum(cs.delay_slot, 0), in_pipeline_value=cs.in_pipeline_value,
        calendar=cs.calendar, value_slot=cs.value_slot,
        camp_enters=cs.camp_enters, camp_shape=cs.camp_shape,
        camp_first_day=cs.camp_first_day, camp_last_day=cs.camp_last_day,
        camp_mix_cum=cs.camp_mix_cum, camp_key=cs.camp_key,
        init_stage=warmup.init_stage(cs), init_key=warmup.init_key(cs),
        fr_stages=cs.fr_stages,
        rt_mode=_rt_mode(cs), dw_mode=_dw_mode(cs),
        rt_stages=np.flatnonzero(_rt_mode(cs)).astype(np.int64),
        rt_index=(np.cumsum(_rt_mode(cs) != 0) - 1).astype(np.int64), dz_slots=int(cs.dz_slots),
    )


def _rt_mode(cs: Compiled) -> np.ndarray:
    S = cs.n_stages
    return np.zeros(S, np.int64) if cs.rt_mode is None else cs.rt_mode


def _dw_mode(cs: Compiled) -> np.ndarray:
    S = cs.n_stages
    return np.zeros(S, np.int64) if cs.dw_mode is None else cs.dw_mode


def prepare(cs: Compiled, theta: np.ndarray, seed: int, draw_ids: np.ndarray) -> Draws:
    """The kernel's per-draw arrays for one chunk of draws."""
    n = len(draw_ids)
    F = len(cs.friction_names)
    nat = natural_params(cs, theta)
    failed = (np.isnan(nat).any(axis=(1, 2)) | np.isnan(theta).any(axis=1))
    nat = np.nan_to_num(nat)

    quality = warmup.route_quality(cs, theta)  # route sources: campaigns, open pipeline

    # friction windows of this draw: does it happen, from which day, until which day
    occurs = uniforms(seed, draw_ids, cs.fr_key, codes.P_OCCURS) < theta[:, cs.fr_prob_col]
    start = np.floor(theta[:, cs.fr_start_col]).astype(np.int64) if F else np.zeros((n, 0),
                                                                                     np.int64)
    length = _cols(theta, cs.fr_len_col)
    end = np.where(cs.fr_len_col >= 0, start + np.round(length).astype(np.int64),
                   np.nan_to_num(cs.fr_end_day).astype(np.int64))

    counts, offsets, seg, residual = initial_pipeline(cs, theta, nat, seed, draw_ids)
    p_next = np.ascontiguousarray(_cols(theta, cs.next_col.ravel()).reshape(n, *cs.next_col.shape))
    p_nd = np.ascontiguousarray(theta[:, cs.nd_col])
    p_next = take_no_decision(cs, p_next, p_nd)
    p_rc = np.ascontiguousarray(_cols(theta, cs.rc_col))
    adv = np.ascontiguousarray(theta[:, cs.adv_col])
    dwell_mult = np.ascontiguousarray(theta[:, cs.dwell_mult_col])
    dz = drift_arrays(cs, theta, seed, draw_ids, p_next, p_nd, p_rc, adv, quality, dwell_mult)
    return Draws(
        draw_ids=np.ascontiguousarray(draw_ids, np.int64), failed=failed.astype(np.int64),
        nat=np.ascontiguousarray(nat),
        p_next=p_next, p_nd=p_nd, p_rc=p_rc, adv=adv, dwell_mult=dwell_mult,
        volume=np.ascontiguousarray(volumes(cs, theta)),
        quality=quality,
        fr_on=np.ascontiguousarray(occurs.astype(np.int64)),
        fr_start=np.ascontiguousarray(start), fr_end=np.ascontiguousarray(end),
        fr_dwell=np.ascontiguousarray(theta[:, cs.fr_dwell_col]),
        fr_nd=np.ascontiguousarray(theta[:, cs.fr_nd_col]),
        fr_lost=np.ascontiguousarray(theta[:, cs.fr_lost_col]),
        init_count=counts, init_offset=offsets, init_seg=seg, init_residual=residual, **dz,
    )


def drift_z(cs: Compiled, theta: np.ndarray, seed: int, draw_ids: np.ndarray) -> np.ndarray:
    """(n, Z, P) path of every drift entry in each draw of the chunk, on its transformed scale."""
    n, Z, P = len(draw_ids), len(cs.drift_targets), cs.grid.periods
    z = np.zeros((n, Z, P))
    if Z:
        per = [_cols(theta, cs.dz_cols[:, k]) for k in range(4)]  # sd, phi, trend, trend_sd
        drift_paths(np.int64(seed), np.asarray(draw_ids, np.int64), cs.dz_key, cs.dz_model,
                    *(np.ascontiguousarray(a) for a in per), z)
    return z


def _shift(x: np.ndarray, z: np.ndarray, scale: str) -> np.ndarray:
    """``x`` (n,) moved by paths ``z`` (n, P) on the logit or log scale: (n, P)."""
    x = x[:, None]
    if scale == "log":
        return x * np.exp(z)
    with np.errstate(divide="ignore", over="ignore"):
        return np.where((x > 0.0) & (x < 1.0), special.expit(special.logit(x) + z), x)


def drift_arrays(cs: Compiled, theta: np.ndarray, seed: int, draw_ids: np.ndarray,
                 p_next: np.ndarray, p_nd: np.ndarray, p_rc: np.ndarray, adv: np.ndarray,
                 quality: np.ndarray, dwell_mult: np.ndarray) -> dict[str, np.ndarray]:
    """The kernels' time-slotted parameters: slot 0 the base values (bit for bit), slot 1 + p
    the values of period p where a drift moves them; and the arrival-rate multipliers."""
    n, C, P, T = len(draw_ids), cs.n_campaigns, cs.grid.periods, cs.dz_slots

    def slots(a: np.ndarray, axis: int) -> np.ndarray:
        return np.repeat(np.expand_dims(a, axis), T, axis=axis)

    out = dict(dz_next=slots(p_next, 2), dz_nd=slots(p_nd, 2), dz_rc=slots(p_rc, 2),
               dz_adv=slots(adv, 3), dz_quality=slots(quality, 2),
               dz_dwell=slots(dwell_mult, 3), vol_mult=np.ones((n, C, P)))
    z = drift_z(cs, theta, seed, draw_ids)
    K = drift_kinds
    for e, t in enumerate(cs.drift_targets):
        ze = z[:, e]
        if t.kind == K.VOLUME:
            if t.scale == "logit":  # a response rate: the rate moves with it
                rr = theta[:, cs.vol_cols[t.index, 1]]
                with np.errstate(divide="ignore", invalid="ignore"):
                    m = np.where(rr[:, None] > 0, _shift(rr, ze, "logit") / rr[:, None], 1.0)
            else:
                m = np.exp(t.sign * ze)
            out["vol_mult"][:, t.index] *= m
        elif t.kind == K.NEXT:
            out["dz_next"][:, t.index, 1:, t.k] = _shift(p_next[:, t.index, t.k], ze, t.scale)
        elif t.kind == K.NO_DECISION:
            out["dz_nd"][:, t.index, 1:] = _shift(p_nd[:, t.index], ze, t.scale)
        elif t.kind == K.RECYCLE:
            out["dz_rc"][:, t.index, 1:] = _shift(p_rc[:, t.index], ze, t.scale)
        elif t.kind == K.QUALITY:
            out["dz_quality"][:, t.index, 1:] *= np.exp(ze)
        elif t.kind == K.ADVANCE:
            out["dz_adv"][:, t.index, list(t.stages), 1:] *= np.exp(ze)[:, None, :]
        elif t.kind == K.DWELL:
            out["dz_dwell"][:, :, t.index, 1:] *= np.exp(ze)[:, None, :]
        elif t.kind == K.SEG_DWELL:
            out["dz_dwell"][:, t.index, list(t.stages), 1:] *= np.exp(ze)[:, None, :]
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def initial_pipeline(cs: Compiled, theta: np.ndarray, nat: np.ndarray, seed: int,
                     draw_ids: np.ndarray):
    """Counts, segments and residual dwells of the open pipeline on day 0.

    A prospect aged ``a`` days in a stage whose dwell (after the segment multiplier ``m``) is
    ``m X`` stays a further ``m X - a`` where X is drawn from its distribution conditional on
    ``m X > a``: ``X = F^-1(F(a/m) + u (1 - F(a/m)))``. Ages beyond the support (stale
    prospects) leave at once.
    """
    n, E = len(draw_ids), len(cs.init_stage)
    raw = theta[:, cs.init_count_col] if E else np.zeros((n, 0))
    counts = np.floor(raw + 0.5).astype(np.int64)
    maxc = counts.max(axis=0) if n else np.zeros(E, np.int64)
    offsets = np.concatenate([[0], np.cumsum(maxc)]).astype(np.int64)
    M = int(offsets[-1])
    u_seg, u_age, u_res = (np.zeros((n, M)) for _ in range(3))
    initial_uniforms(np.int64(seed), np.asarray(draw_ids, np.int64), cs.init_key,
                     counts, offsets[:-1].copy(), u_seg, u_age, u_res)
    seg = np.zeros((n, M), np.int64)
    residual = np.zeros((n, M))
    for e in range(E):
        sl = slice(offsets[e], offsets[e + 1])
        if offsets[e + 1] == offsets[e]:
            continue
        seg[:, sl] = np.minimum(np.searchsorted(cs.init_mix_cum[e], u_seg[:, sl], side="right"),
                                len(cs.segment_names) - 1)
        s = cs.init_stage[e]
        mult = np.take_along_axis(theta[:, cs.dwell_mult_col[:, s]], seg[:, sl], axis=1)
        a = cs.init_age_slot[e]
        age = (np.zeros_like(mult) if a < 0
               else np.maximum(_ppf(cs, a, nat, u_age[:, sl]), 0.0))
        residual[:, sl] = _residual(cs, cs.dwell_slot[s], nat, u_res[:, sl], age, mult)
        if len(cs.init_dwell_col):
            residual[:, sl] *= theta[:, cs.init_dwell_col[e]][:, None]
    if warmup.active(cs):
        return warmup.extend(cs, theta, nat, volumes(cs, theta), seed, draw_ids, counts,
                             offsets[:-1].copy(), seg, residual)
    return counts, offsets[:-1].copy(), seg, residual


def _frozen(cs: Compiled, slot: int, nat: np.ndarray):
    d = cs.slot_dists[slot]
    if isinstance(d, Empirical):
        return d.frozen_table()
    return d.frozen(nat[:, slot][:, None, :])


def _ppf(cs: Compiled, slot: int, nat: np.ndarray, u: np.ndarray) -> np.ndarray:
    d = cs.slot_dists[slot]
    if isinstance(d, Fixed):
        return np.broadcast_to(nat[:, slot, :1], u.shape).copy()
    return np.asarray(_frozen(cs, slot, nat).ppf(u), dtype=float)


def _residual(cs: Compiled, slot: int, nat: np.ndarray, u: np.ndarray, age: np.ndarray,
              mult: np.ndarray) -> np.ndarray:
    d = cs.slot_dists[slot]
    x0 = age / mult
    if isinstance(d, Fixed):
        x = np.broadcast_to(nat[:, slot, :1], u.shape)
        return np.maximum(mult * x - age, 0.0)
    dist = _frozen(cs, slot, nat)
    with np.errstate(invalid="ignore", divide="ignore"):
        f0 = np.asarray(dist.cdf(x0), dtype=float)
        q = f0 + u * (1.0 - f0)
        x = np.asarray(dist.ppf(np.minimum(q, 1.0 - 1e-16)), dtype=float)
        out = mult * x - age
    out = np.where((f0 >= 1.0 - 1e-12) | ~np.isfinite(out), 0.0, out)
    return np.ascontiguousarray(np.maximum(out, 0.0))


def pool_static(cs: Compiled, trace: int = 0) -> PoolStatic:
    return PoolStatic(stage_pool=cs.stage_pool, patience_slot=np.maximum(cs.patience_slot, -1),
                      camp_priority=cs.camp_priority, n_pools=len(cs.pool_names),
                      trace_len=int(trace))


def pool_draws(cs: Compiled, theta: np.ndarray, seed: int, draw_ids: np.ndarray
               ) -> tuple[PoolDraws, np.ndarray]:
    """Daily capacity (slots) and headcount of every pool in each draw of the chunk."""
    n, NP, D = len(draw_ids), len(cs.pool_names), cs.grid.days
    cap = np.zeros((n, NP, D), np.int64)
    heads = np.zeros((n, NP, D))
    hire_count = np.where(cs.hire_col[None] >= 0, theta[:, np.maximum(cs.hire_col, 0)], 0.0)
    pool_capacity(np.int64(seed), np.asarray(draw_ids, np.int64), cs.pool_key,
                  np.ascontiguousarray(theta[:, cs.pool_headcount_col]), cs.pool_slots,
                  np.ascontiguousarray(theta[:, cs.pool_selling_col]), cs.pool_ramp_days,
                  cs.pool_ramp_start, np.ascontiguousarray(theta[:, cs.pool_attrition_col]),
                  cs.pool_lag, cs.hire_day, np.ascontiguousarray(hire_count), cap, heads)
    return PoolDraws(capacity=cap), heads
