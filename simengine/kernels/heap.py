"""The capacity path's event queue: a binary heap in arrays, ordered by (time, sequence number).

``h_t[j]`` is an event's time and ``h_int[j] = (sequence number, id, aux)``; the id packs the
object and the event kind (:func:`event_id`). :func:`push` inserts an event (:func:`grown`
doubles full arrays), :func:`pop` removes the earliest, and :func:`put` inserts one while the
earliest is being handled: the first such insert takes the earliest's place, one sift down
instead of a pop and a push. Sequence numbers are unique, so the events come out in the same
order however the heap is arranged. All are inlined into the kernel: a call that takes arrays
would cost reference counting on every event.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simengine import codes

SEQ, ID, AUX = 0, 1, 2  # columns of h_int


@njit(cache=True, nogil=True, inline="always")
def event_id(obj, kind):
    """One integer for an event of ``kind`` about ``obj`` (a prospect slot or a source)."""
    return (obj << codes.EVENT_KIND_BITS) | kind


@njit(cache=True, nogil=True, inline="always")
def event_kind(ident):
    return ident & ((1 << codes.EVENT_KIND_BITS) - 1)


@njit(cache=True, nogil=True, inline="always")
def event_obj(ident):
    return ident >> codes.EVENT_KIND_BITS


@njit(cache=True, nogil=True)
def empty(capacity):
    """Arrays of an empty heap with room for ``capacity`` events."""
    return np.zeros(capacity), np.zeros((capacity, 3), np.int64)


@njit(cache=True, nogil=True)
def grown(h_t, h_int):
    """The heap's arrays at twice the size (called when ``n == h_t.shape[0]``)."""
    n = h_t.shape[0]
    t2 = np.zeros(2 * n)
    i2 = np.zeros((2 * n, 3), np.int64)
    t2[:n] = h_t
    i2[:n] = h_int
    return t2, i2


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def push(h_t, h_int, n, seq, t, ident, aux):
    """Insert event ``(t, seq, ident, aux)`` into the heap of ``n`` events (the caller makes
    room with :func:`grown` when ``n == h_t.shape[0]``: returning arrays from here would cost
    reference counting on every event). Returns ``(n + 1, seq + 1)``.
    """
    j = n
    while j > 0:
        parent = (j - 1) >> 1
        pt = h_t[parent]
        if pt < t or (pt == t and h_int[parent, SEQ] < seq):
            break
        h_t[j] = pt
        h_int[j, SEQ] = h_int[parent, SEQ]
        h_int[j, ID] = h_int[parent, ID]
        h_int[j, AUX] = h_int[parent, AUX]
        j = parent
    h_t[j] = t
    h_int[j, SEQ] = seq
    h_int[j, ID] = ident
    h_int[j, AUX] = aux
    return n + 1, seq + 1


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def pop(h_t, h_int, n):
    """Remove the earliest of ``n`` events (the caller has read its fields); returns ``n - 1``."""
    n -= 1
    if n > 0:
        _sift_down(h_t, h_int, n, h_t[n], h_int[n, SEQ], h_int[n, ID], h_int[n, AUX])
    return n


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def put(h_t, h_int, n, seq, popped, t, ident, aux):
    """:func:`push`, or, while the earliest event is still in the heap (``popped`` false: the
    caller is handling it and pops it with :func:`pop` if nothing was put), the new event in
    its place. Returns ``(n, seq + 1, True)``: the earliest has gone either way."""
    if popped:
        n, seq = push(h_t, h_int, n, seq, t, ident, aux)
        return n, seq, True
    _sift_down(h_t, h_int, n, t, seq, ident, aux)
    return n, seq + 1, True


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _sift_down(h_t, h_int, n, lt, ls, li, la):
    """Event ``(lt, ls, li, la)`` into the root's place of a heap of ``n`` events, moved down
    past every child that comes before it."""
    j = 0
    while True:
        child = 2 * j + 1
        if child >= n:
            break
        if child + 1 < n:
            a, b = h_t[child + 1], h_t[child]
            if a < b or (a == b and h_int[child + 1, SEQ] < h_int[child, SEQ]):
                child += 1
        ct = h_t[child]
        if lt < ct or (lt == ct and ls < h_int[child, SEQ]):
            break
        h_t[j] = ct
        h_int[j, SEQ] = h_int[child, SEQ]
        h_int[j, ID] = h_int[child, ID]
        h_int[j, AUX] = h_int[child, AUX]
        j = child
    h_t[j] = lt
    h_int[j, SEQ] = ls
    h_int[j, ID] = li
    h_int[j, AUX] = la
