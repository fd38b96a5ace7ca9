"""One generation at a time on a worker thread, shared by the threaded backends.

A model can serve one generation at a time (a CPU has no room for two, and the thinker only
ever wants the newest): ``SingleFlight.launch`` cancels the running one and returns at once;
the new worker first waits (briefly) for the old one to let go. The caller is the thinker's
event loop, which must never block: llama.cpp only notices a cancel at its next token, which
can be far off while it reads a long prompt. Worker exceptions become ``gen.error``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from seal_nodes.core.thinking.lm.base import ModelError, ThreadedGeneration


@dataclass
class WorkerGeneration(ThreadedGeneration):
    """A ``ThreadedGeneration`` with a cancel hook (e.g. close a socket to unblock a read) and
    the count of raw pieces the model produced, including those dropped after a cancel."""

    produced: int = 0
    finish_reason: str | None = None  # "stop", "length", "cancelled" or "error" once finished
    on_cancel: Callable[[], None] | None = None
    sent: tuple[str, str] | None = None  # (the text, the grammar) exactly as sent, where the backend has them

    def put(self, piece: str) -> None:
        self.produced += 1
        super().put(piece)

    def cancel(self) -> None:
        already = self.cancelled
        super().cancel()
        if self.on_cancel is not None and not already:
            try:
                self.on_cancel()
            except Exception:  # the hook only hurries the worker; its failure changes nothing
                pass


class SingleFlight:
    """Runs ``work(gen)`` on a daemon thread, one generation at a time. ``work`` puts pieces,
    may set ``gen.finish_reason`` and raises (``ModelError`` for a clean message) on failure."""

    def __init__(self, name: str, cancel_wait_s: float = 2.0) -> None:
        self._name = name
        self._cancel_wait_s = cancel_wait_s
        self._lock = threading.Lock()
        self._current: WorkerGeneration | None = None
        self._thread: threading.Thread | None = None

    def launch(self, gen: WorkerGeneration, work: Callable[[WorkerGeneration], None]) -> WorkerGeneration:
        with self._lock:
            previous = self._thread
            if self._current is not None:
                self._current.cancel()
            self._current = gen
            self._thread = threading.Thread(target=self._run, args=(gen, work, previous, self._cancel_wait_s),
                                            name=self._name, daemon=True)
            self._thread.start()
        return gen

    def close(self, wait_s: float = 10.0) -> bool:
        """Cancel the running generation and wait for its worker; False if it is still running."""
        with self._lock:
            self._stop_current(wait_s)
            alive = self._thread is not None and self._thread.is_alive()
            self._current = self._thread = None
        return not alive

    def _stop_current(self, wait_s: float | None = None) -> None:
        if self._current is not None:
            self._current.cancel()
        if self._thread is not None:
            # a worker stuck past this keeps running as a daemon but its pieces are dropped
            self._thread.join(self._cancel_wait_s if wait_s is None else wait_s)

    @staticmethod
    def _run(gen: WorkerGeneration, work: Callable[[WorkerGeneration], None], previous: threading.Thread | None,
             wait_s: float) -> None:
        if previous is not None:
            # a worker stuck past this keeps running as a daemon but its pieces are dropped
            previous.join(wait_s)
        if gen.cancelled:  # superseded before it began
            gen.finish_reason = "cancelled"
            gen.finish()
            return
        try:
            work(gen)
        except Exception as e:  # noqa: BLE001 - any backend failure is reported, not raised
            gen.finish_reason = "error"
            gen.finish(str(e) if isinstance(e, ModelError) else f"{type(e).__name__}: {e}")
            return
        if gen.cancelled:
            gen.finish_reason = "cancelled"
        gen.finish()  # no-op if work already finished with an error
