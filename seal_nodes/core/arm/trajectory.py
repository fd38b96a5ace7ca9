"""Follow a joint trajectory command: map names, validate, interpolate over time (ROS-free)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class TrajectoryError(ValueError):
    """A trajectory that must not be executed; the message says why."""


@dataclass
class JointTrajectory:
    """Targets for the named joints; ``times_s[i]`` is point i's time from start."""

    names: list[str]
    times_s: np.ndarray  # (n,)
    positions: np.ndarray  # (n, len(names))


def validate_trajectory(names: list[str], times_s: list[float], positions: list[list[float]],
                        known: list[str]) -> JointTrajectory:
    """Check a received trajectory against the robot's joints; raises TrajectoryError."""
    if not names:
        raise TrajectoryError("trajectory has no joint_names")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise TrajectoryError(f"unknown joints {unknown}; this robot has {known}")
    if len(set(names)) != len(names):
        raise TrajectoryError("duplicate joint names")
    if not positions:
        raise TrajectoryError("trajectory has no points")
    if any(len(p) != len(names) for p in positions):
        raise TrajectoryError(f"every point needs {len(names)} positions")
    if len(times_s) != len(positions):
        raise TrajectoryError(f"{len(times_s)} times for {len(positions)} points")
    pos = np.asarray(positions, dtype=float)
    if not np.all(np.isfinite(pos)):
        raise TrajectoryError("trajectory contains NaN or inf positions")
    t = np.asarray(times_s, dtype=float)
    if not np.all(np.isfinite(t)):
        raise TrajectoryError("time_from_start contains NaN or inf")
    if np.any(np.diff(t) < 0) or np.any(t < 0):
        raise TrajectoryError("time_from_start must be non-negative and non-decreasing")
    return JointTrajectory(list(names), t, pos)


def sample(traj: JointTrajectory, t_s: float, start: np.ndarray) -> np.ndarray:
    """Positions at ``t_s`` after receipt: linear from ``start`` to point 0, then between points."""
    times = np.concatenate([[0.0], traj.times_s])
    points = np.vstack([start, traj.positions])
    if t_s >= times[-1]:
        return points[-1].copy()
    i = int(np.searchsorted(times, t_s, side="right"))
    t0, t1 = times[i - 1], times[i]
    a = 1.0 if t1 <= t0 else (t_s - t0) / (t1 - t0)
    return points[i - 1] + a * (points[i] - points[i - 1])
