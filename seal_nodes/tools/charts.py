"""The project's charts as PNG files, drawn with matplotlib: lines over time or steps, grouped
bars of shares, latency histograms against their budgets.

Figures are built as ``matplotlib.figure.Figure`` objects and saved through the Agg canvas, never
through pyplot: no display, no backend choice and no figure registry that a long-running process
(a soak run, a training loop) would have to close.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

# A series: (x, y) pairs, or y values against their index.
Series = Sequence[tuple[float, float]] | Sequence[float] | np.ndarray

# matplotlib's default cycle ("tab10"), named so a report can say which line is which.
COLOR_NAMES = ("blue", "orange", "green", "red", "purple", "brown", "pink", "grey", "olive", "cyan")
WRONG_COLOR = "tab:red"
DPI = 100


def _figure(size: tuple[int, int], **kw) -> Figure:
    width, height = size
    if width < 100 or height < 100:
        raise ValueError(f"a chart needs at least 100x100 pixels, got {width}x{height}")
    return Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained", **kw)


def _xy(series: Series) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(series, dtype=float)
    if a.size == 0:
        return np.empty(0), np.empty(0)
    if a.ndim == 1:
        return np.arange(len(a), dtype=float), a
    if a.ndim == 2 and a.shape[1] == 2:
        return a[:, 0], a[:, 1]
    raise ValueError(f"a series is y values or (x, y) pairs, got an array of shape {a.shape}")


def line_chart(path: str | os.PathLike, lines: Mapping[str, Series], title: str = "", xlabel: str = "",
               ylabel: str = "", log_y: bool = False, limits: Mapping[str, float] | None = None,
               y_from_zero: bool = False, size: tuple[int, int] = (640, 320)) -> list[str]:
    """One line per series on shared axes, each ``limits`` value as a dashed horizontal line;
    returns the colour name of each series, in order (a series with no points keeps its colour)."""
    fig = _figure(size)
    ax = fig.add_subplot()
    names = []
    for i, (label, series) in enumerate(lines.items()):
        name = COLOR_NAMES[i % len(COLOR_NAMES)]
        x, y = _xy(series)
        ax.plot(x, y, color=f"tab:{name}", linewidth=1.5, label=label)
        names.append(name)
    for j, (label, value) in enumerate((limits or {}).items()):
        ax.axhline(value, color=("black", "dimgrey")[j % 2], linestyle="--", linewidth=1.2, label=label)
    if log_y:
        ax.set_yscale("log")
    elif y_from_zero:
        ax.set_ylim(bottom=0)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(True, which="major", alpha=0.3)
    if len(lines) + len(limits or {}) > 1:
        ax.legend(loc="best", fontsize="small")
    fig.savefig(path, format="png")
    return names


def bar_chart(path: str | os.PathLike, labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
              on_top: Mapping[str, Sequence[float | None]] | None = None, title: str = "", ylabel: str = "",
              on_top_label: str = "", size: tuple[int, int] = (960, 360)) -> None:
    """Grouped bars of shares in [0, 1], one group per label and one colour per series; ``on_top``:
    per series, a red segment stacked on each of its bars. None draws no bar."""
    for name, values in {**series, **(on_top or {})}.items():
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    fig = _figure(size)
    ax = fig.add_subplot()
    x = np.arange(len(labels), dtype=float)
    width = 0.8 / max(1, len(series))
    for k, (name, values) in enumerate(series.items()):
        base = np.array([v or 0.0 for v in values], dtype=float)
        pos = x - 0.4 + width * (k + 0.5)
        ax.bar(pos, base, width, color=f"tab:{COLOR_NAMES[k % len(COLOR_NAMES)]}", label=name)
        extra = (on_top or {}).get(name)
        if extra is not None:
            ax.bar(pos, [v or 0.0 for v in extra], width, bottom=base, color=WRONG_COLOR,
                   label=on_top_label if k == len(series) - 1 and on_top_label else None)
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.05)
    ax.set(title=title, ylabel=ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    fig.savefig(path, format="png")


def latency_histograms(path: str | os.PathLike, histograms: Mapping[str, Mapping[str, object]],
                       budgets_ms: Mapping[str, float], size_per_path: tuple[int, int] = (420, 320)) -> None:
    """One panel per latency path: each named sample set's counts on the shared bin edges
    (``{"edges_ms": [...], "counts": {name: [...]}}``), overlaid, and the path's budget as a
    vertical line."""
    if not histograms:
        raise ValueError("no histograms to draw")
    width, height = size_per_path
    fig = _figure((width * len(histograms), height))
    for ax, (latency_path, hist) in zip(fig.subplots(1, len(histograms), squeeze=False)[0], histograms.items()):
        edges, counts = hist["edges_ms"], hist["counts"]
        if edges:
            for k, (name, cs) in enumerate(counts.items()):
                color = f"tab:{COLOR_NAMES[k % len(COLOR_NAMES)]}"
                ax.stairs(cs, edges, fill=True, alpha=0.35, color=color)
                ax.stairs(cs, edges, color=color, linewidth=1.5, label=name)
        else:
            ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
        budget = budgets_ms.get(latency_path)
        if budget is not None:
            ax.axvline(budget, color="black", linestyle="--", linewidth=1.2, label=f"budget {budget:g} ms")
        ax.set(title=latency_path, xlabel="ms", ylabel="samples")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
    fig.savefig(path, format="png")
