"""Numba kernels: plain arrays in, preallocated outputs filled in place.

Imports numpy, numba and :mod:`simengine.codes` only; nothing of the layers above.
"""
