"""Errors raised by simengine.

Every error a user can cause derives from :class:`SimEngineError`; the CLI prints its message on
one line of stderr and exits with code 2. Anything else is an internal error (exit code 1).
"""

from __future__ import annotations


class SimEngineError(ValueError):
    """Base class of every error caused by user input."""


class ScenarioError(SimEngineError):
    """A scenario file (or override) is invalid.

    Parameters
    ----------
    problems
        One line per problem, each ``file[:line]: dotted.path: expected ..., found ...``.
    """

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class RunSizeError(SimEngineError):
    """A run would not fit in memory or in the allowed time."""
