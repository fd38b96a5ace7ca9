"""Where a benchmark ran, so that figures from different machines can be compared.

The host record names the CPU and its cores; the calibration adds the time of a fixed workload
the stack itself runs (one piper synthesis of a fixed sentence and one Whisper tiny.en decode of
that audio): a figure divided by it travels between machines better than the figure alone.
"""
from __future__ import annotations

import functools
import os
import platform
import time
from pathlib import Path
from typing import Callable

CALIBRATION_TEXT = "Pick up the green cube and put it in the bin."
REPEATS = 3


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass  # not Linux: fall back to what the platform says
    return platform.processor() or platform.machine() or "unknown"


def host() -> dict[str, object]:
    """CPU model and core count (those this process may run on, and all of the machine's)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_model": cpu_model(), "cores": os.cpu_count(), "cores_usable": usable}


def best_of_ms(work: Callable[[], object], repeats: int = REPEATS) -> float:
    """The fastest of ``repeats`` runs of ``work`` in ms (the least disturbed by other load)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        work()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return round(best, 1)


@functools.lru_cache(maxsize=1)
def calibration() -> dict[str, object]:
    """The fixed workload's times, measured once per process (models load outside the timing)."""
    import numpy as np

    from seal_nodes.core.perception.whisper import WhisperRecognizer
    from seal_nodes.core.voice.piper import PiperSynthesizer
    from seal_nodes.core.voice.speech_tags import SpeechPart

    synth = PiperSynthesizer(noise_scale=0.0, noise_w_scale=0.0)  # no noise: the same audio each time
    part = SpeechPart(text=CALIBRATION_TEXT)

    def synthesize() -> np.ndarray:
        return np.concatenate([pcm for pcm, _ in synth.synthesize(part)])

    pcm = synthesize()
    recognizer = WhisperRecognizer()
    return {"text": CALIBRATION_TEXT, "repeats": REPEATS, "audio_s": round(len(pcm) / synth.sample_rate, 2),
            "piper_synthesis_ms": best_of_ms(synthesize),
            "whisper_decode_ms": best_of_ms(lambda: recognizer.transcribe(pcm, sample_rate=synth.sample_rate))}
