"""Engine layer: sample per-draw parameters, chunk the draws, call the kernels."""

from simengine.engine.run import RawResult, check_size, expected_prospects, run

__all__ = ["RawResult", "run", "check_size", "expected_prospects"]
