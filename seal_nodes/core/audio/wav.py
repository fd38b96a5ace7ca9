"""WAV file I/O (stdlib ``wave``) and fixed-duration chunking for streaming tests and tools."""
from __future__ import annotations

import os
import wave
from collections.abc import Iterator

import numpy as np

from seal_nodes.core.audio.frames import AudioFormatError


def _to_int16(raw: bytes, width: int) -> np.ndarray:
    """Convert little-endian PCM of ``width`` bytes per sample to int16 (keeps the top 16 bits)."""
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if width == 1:  # WAV 8-bit is unsigned, centred on 128
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        # the two high bytes of a 24-bit little-endian sample are already a signed int16
        return (b[:, 1].astype(np.uint16) | (b[:, 2].astype(np.uint16) << 8)).view(np.int16)
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    raise AudioFormatError(f"unsupported sample width {width * 8} bit; expected 8/16/24/32-bit PCM")


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file as mono int16 (channels averaged) and its sample rate.

    Raises AudioFormatError for a missing file, a non-WAV or compressed file, or an empty one.
    16-bit PCM is native; 8/24/32-bit integer PCM is converted to 16 bit.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioFormatError(f"{path}: no such WAV file")
    try:
        with wave.open(path, "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as exc:  # wave.Error covers non-RIFF and non-PCM (e.g. float) files
        raise AudioFormatError(f"{path}: not a readable PCM WAV file ({exc})") from exc
    except OSError as exc:  # unreadable: permissions, a directory, I/O error
        raise AudioFormatError(f"{path}: cannot read ({exc})") from exc
    if n == 0 or not raw:
        raise AudioFormatError(f"{path}: WAV file has no audio frames")
    if rate <= 0 or channels < 1:
        raise AudioFormatError(f"{path}: bad WAV header (rate={rate}, channels={channels})")
    usable = len(raw) - len(raw) % (width * channels)  # tolerate a truncated last frame
    if usable == 0:
        raise AudioFormatError(f"{path}: WAV file has no complete audio frame")
    try:
        pcm = _to_int16(raw[:usable], width)
    except AudioFormatError as exc:
        raise AudioFormatError(f"{path}: {exc}") from exc
    if channels > 1:
        pcm = pcm.reshape(-1, channels).astype(np.int32).mean(axis=1).round().astype(np.int16)
    return pcm, rate


def write_wav(path: str | os.PathLike[str], pcm: np.ndarray, rate: int) -> None:
    """Write mono int16 PCM as a 16-bit WAV file."""
    pcm = np.asarray(pcm)
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise AudioFormatError(f"write_wav needs 1-D int16 samples, got {pcm.dtype} shape {pcm.shape}")
    if rate <= 0:
        raise AudioFormatError(f"sample rate {rate} must be positive")
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.astype("<i2").tobytes())


def iter_chunks(pcm: np.ndarray, rate: int, chunk_ms: int = 20) -> Iterator[np.ndarray]:
    """Yield consecutive ``chunk_ms`` slices (the last one may be shorter), like a live capture."""
    if chunk_ms <= 0 or rate <= 0:
        raise ValueError("chunk_ms and rate must be positive")
    step = max(1, int(round(rate * chunk_ms / 1000)))
    for i in range(0, len(pcm), step):
        yield pcm[i : i + step]
