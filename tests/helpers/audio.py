"""Offline test speech: espeak-ng → WAV → 16 kHz int16, plus padding/noise helpers."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.core.audio.frames import AudioFrame
from seal_nodes.tools.spoken import synthesize, true_offset, true_onset  # noqa: F401 (re-exported)
from seal_nodes.core.audio.wav import iter_chunks

RATE = 16_000


def synth(text: str, out_dir: Path, voice: str = "en-us", speed: int = 150) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return 16 kHz mono int16 (skips if espeak-ng is absent)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng CLI not installed")
    return synthesize(text, voice, speed).pcm


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def noise(seconds: float, std: float = 100.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.0, std, int(seconds * RATE)), -32768, 32767).astype(np.int16)


def frames(pcm: np.ndarray, rate: int = RATE, t0_ns: int = 10**18, chunk_ms: int = 20) -> list[AudioFrame]:
    """Split a signal into contiguous stamped frames as a capture node would publish them."""
    out, n = [], 0
    for chunk in iter_chunks(pcm, rate, chunk_ms):
        out.append(AudioFrame(chunk, rate, t0_ns + int(round(n * 1e9 / rate))))
        n += len(chunk)
    return out


def piper(text: str, length_scale: float = 1.0) -> np.ndarray:
    """``text`` in the piper joe voice (the natural one), 16 kHz mono int16."""
    from seal_nodes.tools.speechset import Voice, speak

    return np.clip(np.round(speak(Voice.parse(f"piper:joe@{length_scale:g}"), text) * 32768), -32768, 32767).astype(np.int16)
