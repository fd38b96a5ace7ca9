"""Pointer and screenshot sizes -> the mouse network's inputs (shared by dataset, training and runtime).

Neither torch nor the browser is needed here, so the runtime loads without either.
"""
from __future__ import annotations

import numpy as np

VIEWPORT = (640, 400)  # width, height in CSS pixels: sim_worlds.gui.layout's page (a test checks they agree)
SCREEN_HW = (200, 320)  # half-scale screenshot of the viewport
STATE_DIM = 6  # pointer x, y (-1..1), last two displacements / MOTION_SCALE
MOTION_SCALE = 40.0
MAX_MOTION = 150.0  # pixels per step; commands beyond it are clipped


def pointer_state(pointer: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """[x, y in -1..1, last displacement, the one before] as the network's state input."""
    w, h = VIEWPORT
    return np.array([pointer[0] / w * 2 - 1, pointer[1] / h * 2 - 1, *(d1 / MOTION_SCALE), *(d2 / MOTION_SCALE)],
                    dtype=np.float32)
