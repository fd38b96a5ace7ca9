"""Offline test speech: espeak-ng → WAV → 16 kHz int16, plus padding/noise helpers."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.core.audio import AudioFrame, resample
from seal_nodes.core.wav import iter_chunks, read_wav

RATE = 16_000


def synth(text: str, out_dir: Path, voice: str = "en-us", speed: int = 150) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return 16 kHz mono int16 (skips if espeak-ng is absent)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng CLI not installed")
    path = out_dir / f"tts_{abs(hash((text, voice, speed)))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True,
                   capture_output=True)
    pcm, rate = read_wav(path)
    return resample(pcm, rate, RATE)


def true_onset(pcm: np.ndarray, level: int = 300) -> int:
    """First sample whose magnitude exceeds ``level`` (espeak output is clean, so this is the onset)."""
    return int(np.argmax(np.abs(pcm.astype(np.int32)) > level))


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


def true_offset(pcm: np.ndarray, level: int = 300) -> int:
    """One past the last sample whose magnitude exceeds ``level`` (espeak pads its output with silence)."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > level)
    return int(loud[-1]) + 1 if len(loud) else 0
