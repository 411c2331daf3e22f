"""Engine layer: sample per-draw parameters, chunk the draws, call the kernels.

:mod:`~simengine.engine.run` runs draws in memory, :mod:`~simengine.engine.backends` on threads
or a Dask cluster, :mod:`~simengine.engine.stream` writes them to a zarr store chunk by chunk.
"""
