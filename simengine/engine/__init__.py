"""Engine layer: sample per-draw parameters, chunk the draws, call the kernels.

:mod:`~simengine.engine.plan` says what a run is (:class:`~simengine.engine.plan.RunPlan`),
:mod:`~simengine.engine.chunks` runs one chunk of draws, :mod:`~simengine.engine.backends` runs
chunks on threads or a Dask cluster, :mod:`~simengine.engine.run` drives a run into a sink
(memory, or a zarr store written by :mod:`~simengine.engine.stream`) and
:mod:`~simengine.engine.precision` says when a run that aims at a standard error may stop.
"""
