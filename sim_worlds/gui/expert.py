"""A scripted, human-like mouse: a minimum-jerk reach that overshoots a little, a short
correction back onto the target, then a click.

Reach duration follows Fitts' law (longer for far, small targets). Each segment is the
minimum-jerk quintic between two rest states; when the pointer is found off the plan (noise
injected for training, DART-style), the segment is re-planned from the measured position and
velocity to the same end point, so the expert labels a correction from any state it is put in.
Positions are viewport pixels; one step is ``dt`` seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_worlds.gui.world import Box

DT = 0.05  # the nominal control step (20 Hz)


def quintic(p0: np.ndarray, v0: np.ndarray, a0: np.ndarray, p1: np.ndarray, T: float) -> np.ndarray:
    """Coefficients [6, 2] of the quintic from (p0, v0, a0) to (p1, 0, 0) in time T."""
    T = max(T, 1e-3)
    c0, c1, c2 = p0, v0, a0 / 2
    d = p1 - (c0 + c1 * T + c2 * T ** 2)
    dv = -(c1 + 2 * c2 * T)
    da = -(2 * c2)
    A = np.array([[T ** 3, T ** 4, T ** 5], [3 * T ** 2, 4 * T ** 3, 5 * T ** 4], [6 * T, 12 * T ** 2, 20 * T ** 3]])
    c345 = np.linalg.solve(A, np.stack([d, dv, da]))
    return np.vstack([c0, c1, c2, c345])


def eval_quintic(c: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ts = np.array([1, t, t ** 2, t ** 3, t ** 4, t ** 5])
    dts = np.array([0, 1, 2 * t, 3 * t ** 2, 4 * t ** 3, 5 * t ** 4])
    ddts = np.array([0, 0, 2, 6 * t, 12 * t ** 2, 20 * t ** 3])
    return ts @ c, dts @ c, ddts @ c


@dataclass
class ExpertStep:
    target_pos: np.ndarray  # where the pointer goes this step
    click: bool  # click now (pointer at rest on the target)
    phase: str  # reach | correct | click


class MouseExpert:
    """One reach-and-click; ``step(pointer)`` gives the next pointer position or the click."""

    def __init__(self, box: Box, start: np.ndarray, rng: np.random.Generator, dt: float = DT,
                 overshoot: bool = True, bounds: tuple[float, float] = (640.0, 400.0)) -> None:
        self.box, self.dt = box, dt
        cx, cy = box.center
        self.aim = np.array([cx + rng.uniform(-0.2, 0.2) * box.w, cy + rng.uniform(-0.2, 0.2) * box.h])
        p0 = np.asarray(start, dtype=float)
        delta = self.aim - p0
        dist = float(np.linalg.norm(delta))
        u = delta / dist if dist > 1e-6 else np.array([1.0, 0.0])
        perp = np.array([-u[1], u[0]])
        width = max(4.0, min(box.w, box.h))
        self.T1 = 0.25 + 0.11 * np.log2(dist / width + 1.0) * rng.uniform(0.85, 1.2)
        if overshoot and dist > 30:
            over = min(0.08 * dist * rng.uniform(0.5, 1.3), 28.0)
            self.over = self.aim + u * over + perp * rng.normal(0, 0.02 * dist)
            self.over = np.clip(self.over, [1.0, 1.0], [bounds[0] - 2.0, bounds[1] - 2.0])  # the pointer's own limits
            self.T2 = float(rng.uniform(0.15, 0.25))
        else:
            self.over = self.aim.copy()
            self.T2 = 0.0
        self.t = 0.0
        self.seg = 0
        self.coef = quintic(p0, np.zeros(2), np.zeros(2), self.over, self.T1)
        self.seg_t0 = 0.0
        self.seg_T = self.T1
        self.v = np.zeros(2)
        self.a = np.zeros(2)
        self.last_cmd: np.ndarray | None = None

    def _segment_end(self) -> np.ndarray:
        return self.over if self.seg == 0 else self.aim

    def step(self, pointer: np.ndarray) -> ExpertStep:
        pointer = np.asarray(pointer, dtype=float)
        if self.last_cmd is not None and np.linalg.norm(pointer - self.last_cmd) > 1.5:
            # Off the plan: re-plan this segment from where the pointer really is.
            rem = max(self.seg_t0 + self.seg_T - self.t, 0.15)
            self.coef = quintic(pointer, self.v, self.a * 0.5, self._segment_end(), rem)
            self.seg_t0, self.seg_T = self.t, rem
        self.t += self.dt
        if self.seg == 0 and self.t >= self.seg_t0 + self.seg_T - 1e-9:
            end = self.over
            if self.T2 > 0:  # the correction back onto the aim point
                self.seg, self.seg_t0, self.seg_T = 1, self.seg_t0 + self.seg_T, self.T2
                self.coef = quintic(end, np.zeros(2), np.zeros(2), self.aim, self.T2)
            else:
                self.seg = 2
        elif self.seg == 1 and self.t >= self.seg_t0 + self.seg_T - 1e-9:
            self.seg = 2
        if self.seg == 2:
            at_rest = self.box.contains(*pointer, margin=1.0) and np.linalg.norm(pointer - self.aim) < 3.0
            self.v = np.zeros(2)
            self.a = np.zeros(2)
            self.last_cmd = self.aim.copy()
            return ExpertStep(self.aim.copy(), at_rest, "click" if at_rest else "correct")
        p, v, a = eval_quintic(self.coef, min(self.t - self.seg_t0, self.seg_T))
        self.v, self.a = v, a
        self.last_cmd = p.copy()
        return ExpertStep(p, False, "reach" if self.seg == 0 else "correct")
