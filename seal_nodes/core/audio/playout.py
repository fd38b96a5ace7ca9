"""The loudspeaker's jitter buffer: chunks pushed as they arrive, pulled by the device's callback.

A blocking write to PortAudio loses audio on a busy machine: a write that comes late finds the
device underflowed, and the samples of the late write were gone from the recording (the speaker
node, measured beside the suite's CPU hog). Pulled from here, the device gets silence while
nothing is waiting, never an error, and a late chunk plays late but whole. Bounded: beyond
``max_s`` of waiting audio the oldest is dropped (and counted), so a stalled device cannot grow
memory.
"""
from __future__ import annotations

import threading
from collections import deque

import numpy as np


class PlayoutBuffer:
    """16-bit mono samples between a producer thread and the device's callback thread."""

    def __init__(self, rate: int, max_s: float = 10.0) -> None:
        if rate <= 0 or not max_s > 0:
            raise ValueError(f"rate and max_s must be positive, got {rate}, {max_s}")
        self.max_samples = int(rate * max_s)
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._queued = 0
        self.dropped = 0  # samples dropped because more than max_s waited

    @property
    def queued(self) -> int:
        with self._lock:
            return self._queued

    def push(self, pcm: np.ndarray) -> None:
        samples = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
        if not len(samples):
            return
        with self._lock:
            self._chunks.append(samples)
            self._queued += len(samples)
            while self._queued > self.max_samples:
                excess = self._queued - self.max_samples
                head = self._chunks[0]
                if len(head) <= excess:
                    self._chunks.popleft()
                    cut = len(head)
                else:
                    self._chunks[0] = head[excess:]
                    cut = excess
                self._queued -= cut
                self.dropped += cut

    def pull(self, n: int) -> bytes:
        """``n`` samples as bytes: what waits, then silence."""
        out = np.zeros(n, dtype=np.int16)
        filled = 0
        with self._lock:
            while filled < n and self._chunks:
                head = self._chunks[0]
                take = min(n - filled, len(head))
                out[filled:filled + take] = head[:take]
                filled += take
                if take == len(head):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = head[take:]
            self._queued -= filled
        return out.tobytes()
