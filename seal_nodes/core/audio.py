"""Audio frames and PCM helpers shared by the audio source, perception, TTS and speaker."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENCODING_S16LE = "S16LE"


class AudioFormatError(ValueError):
    """Audio that cannot be used: wrong encoding, odd byte count, bad rate …"""


@dataclass
class AudioFrame:
    """Mono int16 PCM. ``stamp_ns``: wall time of the first sample (capture or play-out)."""

    samples: np.ndarray  # int16, shape (n,)
    sample_rate: int
    stamp_ns: int
    trace_id: str = ""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate)

    @property
    def end_ns(self) -> int:
        return self.stamp_ns + int(round(self.duration_s * 1e9))


def pcm_from_bytes(data: bytes, sample_rate: int, channels: int, encoding: str) -> np.ndarray:
    """Decode an AudioChunk payload to mono int16; raises AudioFormatError on bad input."""
    if encoding != ENCODING_S16LE:
        raise AudioFormatError(f"unsupported encoding {encoding!r}; only {ENCODING_S16LE} is accepted")
    if sample_rate <= 0 or sample_rate > 192_000:
        raise AudioFormatError(f"sample_rate {sample_rate} out of range")
    if channels < 1 or channels > 8:
        raise AudioFormatError(f"channels {channels} out of range")
    if len(data) % (2 * channels):
        raise AudioFormatError(f"{len(data)} bytes is not a whole number of {channels}-channel S16LE frames")
    pcm = np.frombuffer(bytes(data), dtype="<i2")
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return pcm.astype(np.int16, copy=False)


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Linear-interpolation resampling of int16 mono audio (adequate for speech at 16 kHz)."""
    if src_rate == dst_rate or len(pcm) == 0:
        return pcm
    n_out = int(round(len(pcm) * dst_rate / src_rate))
    x_src = np.arange(len(pcm), dtype=np.float64)
    x_dst = np.linspace(0.0, len(pcm) - 1, n_out)
    return np.interp(x_dst, x_src, pcm.astype(np.float64)).round().astype(np.int16)
