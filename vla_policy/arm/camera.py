"""The front camera's nominal pinhole model: world points -> pixels of its 224x224 frame.

The policy uses it for one thing: to cut a full-resolution patch (the fovea) around where it
believes the named object is. It is the *nominal* calibration (the scene file's camera); the
simulator jitters the real camera around it (±1 cm, ±1°) as a calibration error a robot would
have too, so a projected point lands a few pixels off and the patch is cut with room to spare.
On a robot, build a ``PinholeCamera`` from its calibration.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    pos: tuple[float, float, float]  # optical centre, world frame (m)
    xyaxes: tuple[float, ...]  # image right and image up as world vectors (MuJoCo's convention)
    fovy_deg: float  # vertical field of view
    hw: tuple[int, int] = (224, 224)  # image height, width (px)

    def project(self, points: np.ndarray) -> np.ndarray:
        """[..., 3] world points -> [..., 2] (row, col) pixel coordinates (row 0 at the top)."""
        x = np.asarray(self.xyaxes[:3], float)
        y = np.asarray(self.xyaxes[3:], float)
        x, y = x / np.linalg.norm(x), y / np.linalg.norm(y)
        z = np.cross(x, y)  # the camera looks along -z
        d = np.asarray(points, float) - np.asarray(self.pos, float)
        depth = -(d @ z)
        if np.any(depth <= 1e-6):
            raise ValueError("point behind the camera")
        h, w = self.hw
        f = 0.5 * h / np.tan(np.radians(self.fovy_deg) / 2)
        col = 0.5 * w + f * (d @ x) / depth
        row = 0.5 * h - f * (d @ y) / depth
        return np.stack([row, col], axis=-1)


# sim_worlds/tabletop/scenes/tabletop*.xml, camera "front" (tests check they agree)
FRONT_CAMERA = PinholeCamera(pos=(1.25, 0.0, 0.75), xyaxes=(0.0, 1.0, 0.0, -0.607, 0.0, 0.794), fovy_deg=55.0)
