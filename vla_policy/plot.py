"""A line plot as PNG with numpy only (matplotlib is not a dependency of this project)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from seal_nodes.tools.images import write_png

# 3x5 digit glyphs for the axis labels.
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "e": "000111111100111",
    "-": "000000111000000",
}


def _text(img: np.ndarray, x: int, y: int, s: str, scale: int = 2) -> None:
    for ch in s:
        g = _GLYPHS.get(ch)
        if g is not None:
            bits = np.array([int(b) for b in g], bool).reshape(5, 3)
            block = np.kron(bits, np.ones((scale, scale), bool))
            h, w = block.shape
            if 0 <= y and y + h <= img.shape[0] and 0 <= x and x + w <= img.shape[1]:
                img[y:y + h, x:x + w][block] = 0
        x += 4 * scale


def line_plot_png(path: str | Path, values: np.ndarray, title: str = "", log_y: bool = False,
                  size: tuple[int, int] = (300, 480)) -> None:
    """Plot ``values`` against their index; y axis labelled with its min and max."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if log_y:
        v = np.log10(np.maximum(v, 1e-12))
    h, w = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 60, w - 10, 20, h - 20
    img[top:bottom, left] = 0
    img[bottom, left:right] = 0
    if len(v) >= 2:
        lo, hi = float(v.min()), float(v.max())
        hi = hi if hi > lo else lo + 1.0
        xs = np.linspace(left, right - 1, len(v))
        ys = bottom - 1 - (v - lo) / (hi - lo) * (bottom - top - 2)
        fine = np.linspace(0, len(v) - 1, 8 * w)  # dense samples draw a connected line
        px = np.interp(fine, np.arange(len(v)), xs).astype(int)
        py = np.interp(fine, np.arange(len(v)), ys).astype(int)
        for dy in (0, 1):
            img[np.clip(py + dy, 0, h - 1), px] = (200, 30, 30)
        fmt = (lambda t: f"{10 ** t:.3g}") if log_y else (lambda t: f"{t:.3g}")
        _text(img, 2, top, fmt(hi))
        _text(img, 2, bottom - 10, fmt(lo))
        _text(img, right - 40, bottom + 5, str(len(v)))
    write_png(path, img)
