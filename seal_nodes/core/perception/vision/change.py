"""Image change detection (ROS-free): scene changes on a camera, UI changes on a screen.

Both compare block means of the image (a coarse grid) against a reference that moves on only
once the image has settled, and report one change per burst of activity, stamped with the
frame where the change began. Time comes from frame stamps, never from the wall clock.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seal_nodes.core.perception.vision.features import block_means, components

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels (x1/y1 exclusive)
NS = 1_000_000_000


@dataclass(frozen=True)
class Change:
    stamp_ns: int  # the frame where the change began
    regions: list[Box]  # largest first
    changed_fraction: float  # share of the view that changed
    settled: bool  # False: reported while still moving (something entering, an animation)


def regions_of(mask: np.ndarray, block: int, shape: tuple[int, int], merge: int = 1,
               min_area_px: int = 0, limit: int = 8) -> list[Box]:
    """Pixel boxes of the changed cells, largest first; cells up to ``merge`` cells apart are one region."""
    grown = np.pad(mask, merge)  # padding: every grown box is exactly ``merge`` larger on each side
    for _ in range(merge):
        grown[1:, :] |= grown[:-1, :].copy()
        grown[:-1, :] |= grown[1:, :].copy()
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
    h, w = shape
    out = []
    for x0, y0, x1, y1 in components(grown.astype(np.uint8)).bbox.tolist():
        # padded, grown cells → original cells: x0 stays, x1 loses 2 * merge
        box = (x0 * block, y0 * block, min(w, (x1 - 2 * merge) * block), min(h, (y1 - 2 * merge) * block))
        if (box[2] - box[0]) * (box[3] - box[1]) >= min_area_px:
            out.append(box)
    out.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    return out[:limit]


def box_mask(boxes: list[Box], block: int, grid_shape: tuple[int, int], margin: int = 1) -> np.ndarray:
    """Grid cells covered by pixel boxes, grown by ``margin`` cells."""
    mask = np.zeros(grid_shape, bool)
    for x0, y0, x1, y1 in boxes:
        mask[max(0, y0 // block - margin): -(-y1 // block) + margin,
             max(0, x0 // block - margin): -(-x1 // block) + margin] = True
    return mask


def _diff(a: np.ndarray, b: np.ndarray, level: float) -> np.ndarray:
    """Cells where any channel's block mean differs by more than ``level``."""
    return (np.abs(a - b) > level).any(axis=2)


@dataclass
class SceneChangeConfig:
    grid: int = 56  # cells along the shorter image side (224 px → 4 px blocks)
    diff_level: float = 12.0  # block-mean change (0..255) that counts
    min_cells: int = 2  # fewer changed cells is noise
    settled_min_cells: int = 6  # a small settled change must be about cube-sized (not the arm creeping)
    background_rate: float = 0.05  # per quiet frame: follows slow light drift
    confirm_frames: int = 2  # a one-frame flicker is not a change
    settle_s: float = 0.15  # no frame-to-frame change this long: the scene has settled
    large_fraction: float = 0.004  # unexplained share of the view reported at once (a hand, the arm)
    max_episode_s: float = 10.0  # endless motion: take the picture as the new background anyway


class SceneChangeDetector:
    """Frame differencing against a slowly updated background, split by what explains it.

    ``explained`` boxes (objects the tracker is following) are not reported here: the tracker
    reports them as object events. The rest is reported as soon as it is large (at confirmation,
    not settled) or, if small, once the scene has settled.
    """

    def __init__(self, cfg: SceneChangeConfig | None = None) -> None:
        self.cfg = cfg or SceneChangeConfig()
        self.reset()

    def reset(self) -> None:
        self.bg: np.ndarray | None = None
        self.prev: np.ndarray | None = None
        self.episode: int | None = None  # stamp where the current change began
        self.frames = 0
        self.last_motion = 0
        self.reported = False
        self.explained: np.ndarray | None = None

    def update(self, rgb: np.ndarray, stamp_ns: int, explained: list[Box] = ()) -> list[Change]:
        cfg = self.cfg
        block = max(1, min(rgb.shape[:2]) // cfg.grid)
        grid = block_means(rgb, block)
        if self.bg is None or self.bg.shape != grid.shape:
            self.reset()
            self.bg, self.prev = grid, grid
            return []
        changed = _diff(grid, self.bg, cfg.diff_level)
        moving = _diff(grid, self.prev, cfg.diff_level).sum() >= cfg.min_cells
        self.prev = grid
        if self.episode is None:
            if changed.sum() < cfg.min_cells:
                self.bg += cfg.background_rate * (grid - self.bg)
                return []
            self.episode, self.frames, self.reported = stamp_ns, 0, False
            self.last_motion, self.explained = stamp_ns, np.zeros(changed.shape, bool)
        self.frames += 1
        if moving:
            self.last_motion = stamp_ns
        self.explained |= box_mask(list(explained), block, changed.shape)
        unexplained = changed & ~self.explained
        fraction = float(unexplained.mean())
        out = []
        settled = self.frames >= cfg.confirm_frames and stamp_ns - self.last_motion >= cfg.settle_s * NS
        if not self.reported and self.frames >= cfg.confirm_frames and (
                fraction >= cfg.large_fraction or (settled and unexplained.sum() >= cfg.settled_min_cells)):
            out.append(Change(self.episode, regions_of(unexplained, block, rgb.shape[:2]), fraction, settled))
            self.reported = True
        if settled or stamp_ns - self.episode >= cfg.max_episode_s * NS:
            self.bg, self.episode = grid.copy(), None  # the new picture is the background now
        return out


@dataclass
class UiChangeConfig:
    block: int = 8  # pixels per cell (1280x800 → 160x100 cells)
    diff_level: float = 2.0  # screens are noise-free: small block-mean changes are real
    min_area_px: int = 64  # smaller boxes are not reported
    settle_s: float = 0.3  # no change this long: the screen has settled, report it
    max_wait_s: float = 2.0  # still changing after this: report once, mute what keeps moving
    repeat_s: float = 2.0  # cells reported again this soon are animation (a blinking caret): muted
    unmute_s: float = 2.0  # a muted cell quiet this long counts again
    merge_cells: int = 2  # changed cells this close are one region


class UiChangeDetector:
    """Changed regions of a screen, one report per settled change; animations muted, not flooded."""

    def __init__(self, cfg: UiChangeConfig | None = None) -> None:
        self.cfg = cfg or UiChangeConfig()
        self.reset()

    def reset(self) -> None:
        self.ref: np.ndarray | None = None
        self.prev: np.ndarray | None = None
        self.episode: int | None = None
        self.last_motion = 0
        self.cell_motion = self.cell_report = np.zeros((0, 0), np.int64)  # per cell: last change, last report
        self.muted = np.zeros((0, 0), bool)

    def update(self, rgb: np.ndarray, stamp_ns: int) -> list[Change]:
        cfg = self.cfg
        grid = block_means(rgb, cfg.block)
        if self.ref is None or self.ref.shape != grid.shape:
            self.reset()
            self.ref, self.prev = grid, grid
            self.cell_motion = np.full(grid.shape[:2], np.iinfo(np.int64).min // 2, np.int64)
            self.cell_report = self.cell_motion.copy()
            self.muted = np.zeros(grid.shape[:2], bool)
            return []
        moving = _diff(grid, self.prev, cfg.diff_level)
        self.prev = grid
        self.cell_motion[moving] = stamp_ns
        self.muted &= stamp_ns - self.cell_motion < cfg.unmute_s * NS
        self.ref[self.muted] = grid[self.muted]  # muted cells follow along silently
        if (moving & ~self.muted).any():
            self.last_motion = stamp_ns
            if self.episode is None:
                self.episode = stamp_ns
        if self.episode is None:
            return []
        settled = stamp_ns - self.last_motion >= cfg.settle_s * NS
        if not settled and stamp_ns - self.episode < cfg.max_wait_s * NS:
            return []
        changed = _diff(grid, self.ref, cfg.diff_level) & ~self.muted
        if not settled:  # still moving after max_wait_s: report where it moves, then mute it as animation
            changed |= (self.cell_motion >= self.episode) & ~self.muted
        repeat = changed & (stamp_ns - self.cell_report < cfg.repeat_s * NS)
        self.muted |= repeat
        if not settled:
            self.muted |= stamp_ns - self.cell_motion < cfg.settle_s * NS
        fresh = changed & ~repeat
        self.cell_report[fresh] = stamp_ns
        self.ref[changed] = grid[changed]
        start, self.episode = self.episode, None
        shape = rgb.shape[:2]
        regions = regions_of(fresh, cfg.block, shape, cfg.merge_cells, cfg.min_area_px)
        return [Change(start, regions, float(fresh.mean()), settled)] if regions else []
