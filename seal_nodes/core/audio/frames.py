"""Audio frames and PCM helpers shared by the audio source, perception, TTS and speaker."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENCODING_S16LE = "S16LE"


# The rate every perception stage works at (Silero VAD, Whisper, echo cancelling, analysis).
RATE = 16_000


class AudioFormatError(ValueError):
    """Audio that cannot be used: wrong encoding, odd byte count, bad rate …"""


def check_pcm(x: object, what: str, error: type[ValueError] = AudioFormatError) -> np.ndarray:
    """``x`` if it is a non-empty 1-D int16 array, else ``error`` saying what ``what`` is."""
    if not isinstance(x, np.ndarray) or x.dtype != np.int16 or x.ndim != 1:
        desc = f"{x.dtype} shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise error(f"{what} must be a 1-D int16 array, got {desc}")
    if len(x) == 0:
        raise error(f"{what} is empty")
    return x


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


def s16_duration_ns(n_bytes: int, channels: int, sample_rate: int) -> int:
    """How long ``n_bytes`` of interleaved S16 audio play (an AudioChunk's span from its stamp)."""
    return n_bytes // (2 * max(1, channels)) * 1_000_000_000 // max(1, sample_rate)


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
    """Resample a whole buffer of int16 mono audio (linear interpolation, no anti-alias filter).

    For a stream cut into chunks use ``StreamResampler``: resampling chunks independently puts a
    seam at every chunk edge.
    """
    return StreamResampler(src_rate, dst_rate).process(pcm, final=True)


class StreamResampler:
    """Linear-interpolation resampler that keeps its phase across chunks (no seams, no drift)."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.src_rate, self.dst_rate = int(src_rate), int(dst_rate)
        self._step = self.src_rate / self.dst_rate  # input samples per output sample
        self._pos = 0.0  # next output position, in input samples relative to _tail's start
        self._tail = np.zeros(0, np.float64)  # input not yet fully used

    def process(self, pcm: np.ndarray, final: bool = False) -> np.ndarray:
        """Resample the next chunk; ``final`` also flushes the last input sample."""
        if self.src_rate == self.dst_rate:
            return pcm
        x = np.concatenate([self._tail, np.asarray(pcm, np.float64)])
        if len(x) == 0:
            return np.zeros(0, np.int16)
        if final:  # the whole rest: len·dst/src samples, the last ones holding the last input
            n = max(0, int(round((len(x) - self._pos) / self._step)))
        else:  # only positions whose right-hand neighbour has arrived
            limit = len(x) - 1 - 1e-9
            n = int(np.floor((limit - self._pos) / self._step)) + 1 if limit >= self._pos else 0
        pos = self._pos + self._step * np.arange(n)
        out = np.interp(pos, np.arange(len(x)), x)
        next_pos = self._pos + self._step * n
        keep = min(int(np.floor(next_pos)), len(x) - 1)  # keep the sample the next output needs
        self._tail, self._pos = x[keep:], next_pos - keep
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)


class CaptureClock:
    """Stamps for a capture stream from its sample count, not from when chunks arrive.

    Audio drivers hand over chunks in bursts (several in a millisecond, then a wait), so
    "now minus the chunk's duration" jitters by a chunk or more; echo cancelling against the
    loudspeaker stream needs the stamps to advance exactly with the samples. The clock is
    anchored on the first chunk and moved only when the count and the arrival times disagree:
    a stamp later than the arrival allows (the anchor was late) or lagging by more than
    ``resync_ms`` (samples were lost, or the device clock drifted).
    """

    def __init__(self, rate: int, resync_ms: float = 100.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.resync_ns = int(resync_ms * 1e6)
        self._anchor_ns: int | None = None
        self._samples = 0  # samples stamped since the anchor
        self.resyncs = 0
        self.lost_ns = 0  # audio the count fell behind the arrivals by, over every resync: samples lost

    def stamp(self, n: int, arrived_ns: int) -> int:
        """Stamp of the first sample of a chunk of ``n`` samples that arrived at ``arrived_ns``."""
        latest = arrived_ns - int(n * 1e9 / self.rate)  # it cannot have started later than this
        predicted = None if self._anchor_ns is None else \
            self._anchor_ns + int(round(self._samples * 1e9 / self.rate))
        if predicted is None or predicted > latest or latest - predicted > self.resync_ns:
            if predicted is not None:
                self.resyncs += 1
                self.lost_ns += max(0, latest - predicted)
            self._anchor_ns, self._samples, predicted = latest, 0, latest
        self._samples += n
        return predicted
