"""Minimal image output without extra dependencies: PNG encoding and a contact sheet."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def encode_png(rgb: np.ndarray) -> bytes:
    """HxWx3 uint8 → PNG bytes (8-bit RGB, no interlace)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected HxWx3 uint8, got {rgb.dtype} {rgb.shape}")
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    Path(path).write_bytes(encode_png(rgb))


def contact_sheet(frames: list[np.ndarray], columns: int = 4) -> np.ndarray:
    """Tile equally sized frames into one image, row by row, with a 2-pixel gap."""
    if not frames:
        raise ValueError("no frames")
    h, w, _ = frames[0].shape
    rows = (len(frames) + columns - 1) // columns
    sheet = np.full((rows * (h + 2), columns * (w + 2), 3), 255, np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, columns)
        sheet[r * (h + 2): r * (h + 2) + h, c * (w + 2): c * (w + 2) + w] = f
    return sheet
