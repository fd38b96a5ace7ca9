"""Camera frames and microphone audio as data URIs, so the trace page fetches nothing."""
from __future__ import annotations

import base64
import io
import struct
import wave
import zlib

from seal_nodes.core.observe.trace.reader import AudioRec, FrameRec

_CHANNELS = {"rgb8": (3, False), "bgr8": (3, True), "mono8": (1, False), "rgba8": (4, False), "bgra8": (4, True)}


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def frame_png(frame: FrameRec) -> bytes | None:
    """The frame as PNG bytes; None for an encoding the trace does not draw."""
    if frame.encoding not in _CHANNELS or frame.width <= 0 or frame.height <= 0:
        return None
    n, swap = _CHANNELS[frame.encoding]
    row = frame.width * n
    if len(frame.data) < row * frame.height:
        return None
    rows = []
    for y in range(frame.height):
        line = bytearray(frame.data[y * row:(y + 1) * row])
        if swap:  # BGR(A) → RGB(A)
            line[0::n], line[2::n] = line[2::n], line[0::n]
        rows.append(b"\x00" + bytes(line))
    color = {1: 0, 3: 2, 4: 6}[n]
    header = struct.pack(">IIBBBBB", frame.width, frame.height, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) \
        + _chunk(b"IEND", b"")


def audio_wav(chunks: list[AudioRec]) -> bytes | None:
    """S16LE chunks of one rate as a WAV file, one after another (silence between them left out);
    None when there are none."""
    if not chunks:
        return None
    rate, channels = chunks[0].rate, chunks[0].channels
    data = b"".join(c.data for c in chunks if c.rate == rate and c.channels == channels)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(max(1, channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)
    return buf.getvalue()


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
