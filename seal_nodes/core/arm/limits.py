"""Every arm command passes here before it leaves the policy: joint, speed and workspace limits."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


class UnsafeCommand(ValueError):
    """A command that must not be sent (NaN, or a target outside the workspace)."""


@dataclass
class Workspace:
    """Axis-aligned box the tool centre point must stay in (robot base frame, metres)."""

    lo: np.ndarray
    hi: np.ndarray

    def contains(self, p: np.ndarray) -> bool:
        return bool(np.all(p >= self.lo) and np.all(p <= self.hi))


DEFAULT_WORKSPACE = Workspace(np.array([0.15, -0.5, 0.005]), np.array([0.85, 0.5, 0.8]))


@dataclass
class SafetyLimits:
    lower: np.ndarray  # 7 joint lower limits (rad)
    upper: np.ndarray
    max_step: float  # largest change per control period (rad), a joint speed limit
    tcp_position: Callable[[np.ndarray], np.ndarray]  # forward kinematics q → TCP xyz
    workspace: Workspace = field(default_factory=lambda: DEFAULT_WORKSPACE)
    margin: float = 0.01  # stay this far inside the joint limits

    def check_gripper(self, gripper: float) -> float:
        """The gripper command in 0 (open) … 1 (closed); refuse NaN/inf."""
        if not np.isfinite(gripper):
            raise UnsafeCommand(f"gripper command {gripper} is not a number")
        return float(min(max(gripper, 0.0), 1.0))

    def check(self, q_cmd: np.ndarray, q_now: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Return the command to send and what was limited; raise UnsafeCommand to refuse it."""
        q_cmd = np.asarray(q_cmd, dtype=float)
        q_now = np.asarray(q_now, dtype=float)
        if q_cmd.shape != (7,) or q_now.shape != (7,):
            raise UnsafeCommand(f"expected 7 joint values, got {q_cmd.shape} / {q_now.shape}")
        if not (np.all(np.isfinite(q_cmd)) and np.all(np.isfinite(q_now))):
            raise UnsafeCommand("command or state contains NaN/inf")
        notes = []
        target = np.clip(q_cmd, self.lower + self.margin, self.upper - self.margin)
        if np.any(target != q_cmd):
            notes.append("clipped to joint limits")
        # Speed limit last, so no command jumps (even back into range from outside it).
        step = np.clip(target - q_now, -self.max_step, self.max_step)
        if np.any(step != target - q_now):
            notes.append("speed limited")
        q = q_now + step
        if np.any(q < self.lower) or np.any(q > self.upper):
            # Only possible when the arm already is outside its limits: the step moves it back in.
            notes.append("recovering into joint limits")
        tcp = self.tcp_position(q)
        if not self.workspace.contains(tcp):
            raise UnsafeCommand(f"target TCP {np.round(tcp, 3).tolist()} is outside the workspace")
        return q, notes
