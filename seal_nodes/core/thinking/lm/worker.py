"""One generation at a time on a worker thread, shared by the threaded backends.

A model can serve one generation at a time (a CPU has no room for two, and the thinker only
ever wants the newest): ``SingleFlight.launch`` cancels the running one and returns at once;
the new worker waits for the old one to let go. The caller is the thinker's
event loop, which must never block: llama.cpp only notices a cancel at its next token, which
can be far off while it reads a long prompt. Worker exceptions become ``gen.error``.
"""
from __future__ import annotations

import threading
import time
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
    may set ``gen.finish_reason`` and raises (``ModelError`` for a clean message) on failure.

    Only one worker is ever inside ``work``: a model that is slow to notice a cancel (llama.cpp
    reading a long prompt on a starved CPU) would otherwise queue every new request behind it,
    and the threads waiting there pile up for as long as the overload lasts. A new worker waits
    for the one inside to let go; it leaves at once when it is itself superseded, and fails with
    a clear error after ``busy_wait_s``, so at most one worker runs and one waits.
    """

    POLL_S = 0.05  # how often a waiting worker looks whether it was superseded

    def __init__(self, name: str, busy_wait_s: float = 10.0) -> None:
        self._name = name
        self._busy_wait_s = busy_wait_s
        self._lock = threading.Lock()  # guards the fields below
        self._inside = threading.Lock()  # held by the one worker inside ``work``
        self._current: WorkerGeneration | None = None
        self._threads: list[threading.Thread] = []  # started and not yet seen to end

    def launch(self, gen: WorkerGeneration, work: Callable[[WorkerGeneration], None]) -> WorkerGeneration:
        with self._lock:
            if self._current is not None:
                self._current.cancel()
            self._current = gen
            thread = threading.Thread(target=self._run, args=(gen, work), name=self._name, daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        return gen

    @property
    def threads(self) -> int:
        """Worker threads alive now (one inside the model, at most one waiting, and any that
        were superseded in the last ``POLL_S``)."""
        with self._lock:
            return sum(t.is_alive() for t in self._threads)

    def close(self, wait_s: float = 10.0) -> bool:
        """Cancel the running generation and wait for its workers; False if one is still running."""
        with self._lock:
            if self._current is not None:
                self._current.cancel()
            threads, self._threads, self._current = self._threads, [], None
        deadline = time.monotonic() + wait_s
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def _run(self, gen: WorkerGeneration, work: Callable[[WorkerGeneration], None]) -> None:
        deadline = time.monotonic() + self._busy_wait_s
        while not self._inside.acquire(timeout=self.POLL_S):
            if gen.cancelled:  # superseded while it waited
                gen.finish_reason = "cancelled"
                gen.finish()
                return
            if time.monotonic() > deadline:
                gen.finish_reason = "error"
                gen.finish(f"{self._name}: the model is still busy with a cancelled generation "
                           f"after {self._busy_wait_s:.0f} s")
                return
        try:
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
        finally:
            self._inside.release()
