"""Real-time pacing of PCM audio: what a microphone would deliver, from a buffer."""
from __future__ import annotations

import time
from typing import Callable, Iterator

import numpy as np

from seal_nodes.core.audio.frames import AudioFrame


def paced_frames(
    pcm: np.ndarray,
    sample_rate: int,
    chunk_ms: int = 20,
    start_ns: int | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
    sleep: Callable[[float], None] = time.sleep,
    trace_id: str = "",
) -> Iterator[AudioFrame]:
    """Yield ``chunk_ms`` frames, each released when its last sample would have been captured.

    A live microphone delivers a chunk once it is complete, so frame k is yielded at
    ``start + (k+1)·chunk`` and stamped with the capture time of its first sample. The
    schedule is absolute, so sleep jitter does not accumulate.
    """
    if sample_rate <= 0 or chunk_ms <= 0:
        raise ValueError("sample_rate and chunk_ms must be positive")
    n = max(1, int(sample_rate * chunk_ms / 1000))
    t0 = clock_ns() if start_ns is None else start_ns
    for k, i in enumerate(range(0, len(pcm), n)):
        block = pcm[i:i + n]
        stamp = t0 + int(i * 1e9 / sample_rate)
        due = stamp + int(len(block) * 1e9 / sample_rate)
        delay = (due - clock_ns()) / 1e9
        if delay > 0:
            sleep(delay)
        yield AudioFrame(block, sample_rate, stamp, trace_id)
