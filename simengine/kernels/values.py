"""Per-prospect values of a distribution slot (dwell, deal value, delay, patience), one way.

A slot is either a parametric distribution (natural parameters ``nat[i, slot, :4]``, drawn by
:func:`samplers.sample`) or an empirical table (``slot_emp[slot] = (offset, count)`` into
``emp_values`` / ``emp_cum``). Every kernel draws a slot's value through :func:`sample_at`, so a
prospect draws the same number for the same purpose on every path. Its arguments are scalars
but for the two empirical tables: a call that takes arrays costs reference counting.
"""

from __future__ import annotations

from numba import njit

from simengine import codes
from simengine.kernels.known import nonneg
from simengine.kernels.rng import counter, uniform
from simengine.kernels.samplers import empirical, sample


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def sample_at(kind, p0, p1, p2, p3, key, visit, purpose, emp_values, emp_cum, e0, e1):
    """One value of a per-prospect distribution slot (empirical ones from their table)."""
    if kind == codes.EMPIRICAL:
        return empirical(emp_values, emp_cum, e0, e1, uniform(key, counter(visit, purpose, 0)))
    return sample(kind, p0, p1, p2, p3, key, visit, purpose)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def slot_value(slot_kind, nat, i, slot, key, visit, purpose, emp_values, emp_cum, slot_emp):
    """:func:`sample_at` of slot ``slot`` in draw ``i``, its parameters read from the tables."""
    slot = nonneg(slot)  # read from a table of slots; -1 (no patience) is never passed
    return sample_at(slot_kind[slot], nat[i, slot, 0], nat[i, slot, 1], nat[i, slot, 2],
                     nat[i, slot, 3], key, visit, purpose, emp_values, emp_cum,
                     slot_emp[slot, 0], slot_emp[slot, 1])
