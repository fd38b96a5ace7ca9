"""Finished user turns → ``voice`` events (the turn's speaker embedding), off the hot path.

A node hands each ``speech_end`` it has already published, with the turn's audio, to
``VoiceEvents.submit``; a thread of its own embeds it (``SpeakerEncoder``, loaded
there on first use) and emits a ``voice`` event with the speech_end's trace id and stamp.
The turn-taking events never wait for it: at most ``max_pending`` turns wait (the oldest is
dropped and reported), and an encoder that cannot load or run is reported once and switches
the feature off. Audio too short or silent for a voice print gets no event.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable

import numpy as np

from seal_nodes.core.audio.frames import RATE
from seal_nodes.core.events import VOICE, Event
from seal_nodes.core.perception.speaker import MODEL, SpeakerEncoder

MAX_PENDING = 2  # turns waiting for an embedding; a backlog beyond means the cores are needed elsewhere
# Not niced down: the thread shares the GIL with the real-time perception thread, and a niced
# thread that holds it when the machine is busy keeps that thread waiting (priority inversion;
# measured in docs/perception.md). A voice print is one short burst per turn.
NICENESS = 0
DECIMALS = 5  # embedding values on the wire: far finer than cosine thresholds need


class VoiceEvents:
    """``emit(event)`` gets each ``voice`` event; ``report(text, trace_id)`` each drop or failure.
    Both are called from the worker thread (a drop report from the submitting one)."""

    def __init__(self, emit: Callable[[Event], None], report: Callable[[str, str], None], *,
                 encoder: SpeakerEncoder | None = None, max_pending: int = MAX_PENDING,
                 niceness: int = NICENESS) -> None:
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError(f"max_pending must be a positive int, got {max_pending!r}")
        self._emit, self._report = emit, report
        self._encoder = encoder or SpeakerEncoder(threads=1)
        self._max_pending = max_pending
        self._niceness = niceness
        self._pending: deque[tuple[Event, np.ndarray, int]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.enabled = True  # False once the encoder failed: submissions are ignored

    def start(self) -> None:
        """Run the worker thread (it loads the encoder first, behind everything real-time)."""
        with self._cond:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._work, name="voice_events", daemon=True)
                self._thread.start()

    def submit(self, end: Event, audio: np.ndarray, rate: int = RATE) -> None:
        """Queue the speaker embedding of the turn ``end`` (a published speech_end) closes."""
        dropped = None
        with self._cond:
            if not self.enabled or self._closed:
                return
            if len(self._pending) >= self._max_pending:
                dropped = self._pending.popleft()[0]
            self._pending.append((end, audio, int(rate)))
            self._cond.notify()
        if dropped is not None:
            self._report(f"speaker embedding behind: turn {dropped.trace_id} gets no voice event", dropped.trace_id)

    def process_one(self) -> bool:
        """Embed the oldest waiting turn on this thread; False if none waited."""
        with self._cond:
            if not self._pending or not self.enabled:
                return False
            end, audio, rate = self._pending.popleft()
        try:
            embedding = self._encoder.embed(audio, rate)
        except ValueError:
            return True  # too short or silent for a voice print: this turn has none
        except Exception as exc:  # noqa: BLE001 - weights missing or unreadable, torch broken
            with self._cond:
                self.enabled = False
                self._pending.clear()
            self._report(f"speaker embedding off: {type(exc).__name__}: {exc}", end.trace_id)
            return True
        self._emit(Event(type=VOICE, stamp_ns=end.stamp_ns, source=end.source, trace_id=end.trace_id,
                         payload={"embedding": [round(float(v), DECIMALS) for v in embedding],
                                  "seconds": round(len(audio) / rate, 2), "model": MODEL}))
        return True

    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker (a turn being embedded finishes; waiting ones are dropped)."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _work(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._niceness)
        except OSError:  # not permitted here: it runs at the process's priority
            pass
        try:
            self._encoder.load()  # now, not on the first turn: that turn's speaker is known in time
        except Exception as exc:  # noqa: BLE001 - weights missing or unreadable, torch broken
            with self._cond:
                self.enabled = False
            self._report(f"speaker embedding off: {type(exc).__name__}: {exc}", "")
            return
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
            try:
                self.process_one()
            except Exception as exc:  # noqa: BLE001 - emit failed (shutting down): the next turn tries again
                self._report(f"voice event not sent: {type(exc).__name__}: {exc}", "")
