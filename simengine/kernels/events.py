"""The capacity path's event list: a calendar queue in arrays, ordered by (time, sequence number).

Time is cut into ``BUCKETS_PER_DAY`` buckets a day (Brown 1988, "Calendar queues"). An event is
a node of ``e_t`` (its time) and ``e_int`` (sequence number, id, aux, next node, bucket); each
bucket is a linked list of its nodes in (time, sequence number) order, starting at
``head[bucket]``, and free nodes are chained from ``free``. :func:`push` links an event into its
bucket, behind those that come before it; the earliest event is the head of the first bucket
that is not empty (:func:`first`), and :func:`pop` unlinks it (:func:`remove` unlinks any
other). Events are only ever added at or after the time being handled, so the buckets before it
are empty and the search moves forward only. With a few events a bucket, adding and taking cost
a handful of steps whatever the number waiting, where a binary heap of the capacity path's
thousand events sifts through ten levels each time.

Sequence numbers are unique, so the events come out in exactly the order of any other priority
queue on (time, sequence number). All of it is inlined into the kernel, which borrows the arrays
(:mod:`borrow`): a call that takes arrays would cost reference counting on every event.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simengine import codes
from simengine.kernels.known import nonneg

SEQ, ID, AUX, NEXT, BUCKET = 0, 1, 2, 3, 4  # columns of e_int
N_EINT = 5
BUCKETS_PER_DAY = 256  # a few events a bucket on the shipped scenarios, bench_capacity's too


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
def empty(days, capacity):
    """An empty event list for a horizon of ``days`` with room for ``capacity`` events:
    ``(head, e_t, e_int)``; its free chain starts at node 0."""
    head = np.full(days * BUCKETS_PER_DAY + 1, -1, np.int64)
    e_t = np.zeros(capacity)
    e_int = np.zeros((capacity, N_EINT), np.int64)
    for k in range(capacity):
        e_int[k, NEXT] = k + 1
    e_int[capacity - 1, NEXT] = -1
    return head, e_t, e_int


@njit(cache=True, nogil=True)
def grown(e_t, e_int, free):
    """The node arrays at twice the size, the new nodes chained in front of ``free``:
    ``(e_t, e_int, free)``."""
    n = e_t.shape[0]
    t2 = np.zeros(2 * n)
    i2 = np.zeros((2 * n, N_EINT), np.int64)
    t2[:n] = e_t
    i2[:n] = e_int
    for k in range(n, 2 * n - 1):
        i2[k, NEXT] = k + 1
    i2[2 * n - 1, NEXT] = free
    return t2, i2, n


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def push(head, e_t, e_int, free, cur, seq, t, ident, aux):
    """Add event ``(t, seq, ident, aux)`` at or after bucket ``cur`` (the caller makes room
    with :func:`grown` while ``free`` is -1). Returns ``(free, seq + 1)``."""
    node = nonneg(free)
    free = e_int[node, NEXT]
    e_t[node] = t
    e_int[node, SEQ] = seq
    e_int[node, ID] = ident
    e_int[node, AUX] = aux
    b = nonneg(min(max(int(t * BUCKETS_PER_DAY), cur), head.shape[0] - 1))
    e_int[node, BUCKET] = b
    prev = -1
    k = head[b]
    while k >= 0 and e_t[k] <= t:  # its sequence number is the newest: behind equal times
        prev = k
        k = e_int[k, NEXT]
    e_int[node, NEXT] = k
    if prev < 0:
        head[b] = node
    else:
        e_int[prev, NEXT] = node
    return free, seq + 1


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def first(head, cur):
    """The first bucket from ``cur`` on that holds an event (there must be one)."""
    while head[cur] < 0:
        cur += 1
    return cur


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def pop(head, e_int, cur, free):
    """Unlink the earliest event, the head of bucket ``cur`` (see :func:`first`), and free its
    node (the caller has read its fields); returns the new ``free``."""
    node = nonneg(head[cur])
    head[cur] = e_int[node, NEXT]
    e_int[node, NEXT] = free
    return node


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def remove(head, e_int, node, free):
    """Unlink event ``node`` from its bucket and free it (an event that no longer matters);
    returns the new ``free``."""
    b = nonneg(e_int[node, BUCKET])
    k = head[b]
    if k == node:
        head[b] = e_int[node, NEXT]
    else:
        while e_int[k, NEXT] != node:
            k = e_int[k, NEXT]
        e_int[k, NEXT] = e_int[node, NEXT]
    e_int[node, NEXT] = free
    return node
