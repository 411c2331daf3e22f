"""Run the latest lever setting in the background; a newer setting supersedes an older run.

Every submitted setting gets a *generation* number. One worker thread simulates the newest
pending setting; the run asks between chunks of draws whether its generation is still the
newest and stops if not (:class:`~simengine.explore.session.Superseded`). Each stage of an
outcome is handed to ``publish`` with its generation, and the page shows it only if that is
still the newest generation: a result of an older setting is never shown as the current one.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from simengine.errors import SimEngineError
from simengine.explore.session import Explorer, Outcome, Superseded


@dataclass(frozen=True)
class Failure:
    """A setting that could not be simulated: ``message`` says why (one line per problem)."""

    message: str
    internal: bool = False


class Runner:
    """Simulates lever settings one at a time, newest first, in a daemon thread.

    Parameters
    ----------
    explorer
        What to simulate with.
    publish
        Called from the worker thread as ``publish(generation, outcome_or_failure)``; it must
        hand the result to the page's own thread (e.g. ``doc.add_next_tick_callback``) and show
        it only if ``runner.is_current(generation)``.
    """

    def __init__(self, explorer: Explorer, publish: Callable[[int, Outcome | Failure], None]):
        self.explorer = explorer
        self.publish = publish
        self._cond = threading.Condition()
        self._generation = 0
        self._pending: tuple[int, dict[str, float]] | None = None
        self._closed = False
        self.busy = False
        self._thread = threading.Thread(target=self._loop, name="simengine-explore", daemon=True)
        self._thread.start()

    @property
    def generation(self) -> int:
        """The newest generation submitted."""
        return self._generation

    def is_current(self, generation: int) -> bool:
        return generation == self._generation

    def submit(self, values: dict[str, float]) -> int:
        """Queue a setting (replacing any queued one, stopping the running one); its
        generation."""
        with self._cond:
            if self._closed:
                raise RuntimeError("runner closed")
            self._generation += 1
            self._pending = (self._generation, dict(values))
            self._cond.notify_all()
            return self._generation

    def close(self, timeout: float | None = None) -> None:
        """Stop the worker (a run in progress stops at its next chunk)."""
        with self._cond:
            self._closed = True
            self._generation += 1
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (for tests and scripts)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self.busy,
                                       timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                gen, values = self._pending
                self._pending = None
                self.busy = True
            try:
                self._run(gen, values)
            finally:
                with self._cond:
                    self.busy = False
                    self._cond.notify_all()

    def _run(self, gen: int, values: dict[str, float]) -> None:
        try:
            for outcome in self.explorer.evaluate(values,
                                                  cancelled=lambda: not self.is_current(gen)):
                if not self.is_current(gen):
                    return
                self.publish(gen, outcome)
        except Superseded:
            return
        except SimEngineError as exc:
            self.publish(gen, Failure(str(exc)))
        except Exception:  # an internal error: show it on the page, keep serving
            self.publish(gen, Failure(traceback.format_exc(), internal=True))
