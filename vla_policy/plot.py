"""Line and bar plots as PNG with numpy only (matplotlib is not a dependency of this project)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from seal_nodes.tools.images import write_png

# 3x5 digit glyphs for the axis labels.
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "e": "111100110100111",
    "-": "000000111000000",
}
# 3x5 letters for labels, lower case drawn as capitals (as "e" above).
_GLYPHS.update({
    "a": "010101111101101", "b": "110101110101110", "c": "011100100100011", "d": "110101101101110",
    "f": "111100110100100", "g": "011100101101011", "h": "101101111101101", "i": "111010010010111",
    "j": "001001001101010", "k": "101101110101101", "l": "100100100100111", "m": "101111111101101",
    "n": "110101101101101", "o": "010101101101010", "p": "110101110100100", "q": "010101101011001",
    "r": "110101110101101", "s": "011100010001110", "t": "111010010010010", "u": "101101101101111",
    "v": "101101101101010", "w": "101101111111101", "x": "101101010101101", "y": "101101010010010",
    "z": "111001010100111", "_": "000000000000111", "%": "101001010100101", "/": "001001010100100",
    ":": "000010000010000", "(": "010100100100010", ")": "010001001001010",
})


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


_SERIES_COLORS = ((150, 150, 150), (40, 90, 200), (40, 160, 80), (200, 140, 30))


def bar_chart_png(path: str | Path, labels: list[str], series: dict[str, list[float | None]],
                  on_top: dict[str, list[float | None]] | None = None, title: str = "",
                  size: tuple[int, int] = (360, 960)) -> None:
    """Grouped bars of values in [0, 1], one group per label and one colour per series (legend
    on top); ``on_top``: per series, a red segment stacked on each of its bars."""
    h, w = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 40, w - 10, 50, h - 30
    img[top:bottom, left] = 0
    img[bottom, left:right] = 0
    for frac in (0.0, 0.5, 1.0):  # the y axis in percent, with light grid lines
        y = int(bottom - frac * (bottom - top))
        img[y, left + 1:right][img[y, left + 1:right].sum(axis=1) == 765] = (225, 225, 225)
        _text(img, 4, y - 4, f"{round(frac * 100)}%", scale=1)
    _text(img, left, 6, title.lower())
    x = left
    for k, name in enumerate(series):
        color = _SERIES_COLORS[k % len(_SERIES_COLORS)]
        img[24:32, x:x + 8] = color
        _text(img, x + 12, 26, name.lower(), scale=1)
        x += 20 + 4 * len(name)
    group = (right - left) / max(1, len(labels))
    bar = max(2, int(group * 0.8 / max(1, len(series))))
    for i, label in enumerate(labels):
        x0 = int(left + i * group + group * 0.1)
        for k, name in enumerate(series):
            xs = slice(x0 + k * bar, x0 + (k + 1) * bar - 1)
            base = 0.0
            for value, color in ((series[name][i], _SERIES_COLORS[k % len(_SERIES_COLORS)]),
                                 ((on_top or {}).get(name, [None] * len(labels))[i], (210, 30, 30))):
                if value:
                    y0, y1 = (int(bottom - min(1.0, v) * (bottom - top)) for v in (base + value, base))
                    img[y0:y1, xs] = color
                    base += value
        _text(img, x0, bottom + 6 + 8 * (i % 2), label.lower(), scale=1)  # alternate rows: long labels fit
    write_png(path, img)
