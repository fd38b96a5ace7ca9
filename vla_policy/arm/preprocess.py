"""Camera image and joint state -> the network's inputs (shared by dataset, training and runtime).

The 224x224 camera frame is cropped to the table (rows 64-224, cols 32-192: the cubes, the bin
and the gripper near the table) and averaged 2x2 to 80x80. Area averaging keeps a small cube's
centroid, which is what the policy must localise. At 80x80 a cube is 4-5 pixels and a
centimetre along the camera's depth axis under one, so the network also gets a *fovea*: a
32x32 patch of the full-resolution frame around its own estimate of the object
(``fovea_patch``; datasets store 48x48 around the true object and training cuts the 32x32 at
random offsets from it). Proprioception is the 7 arm joints, the gripper opening, the tool
position from forward kinematics of those joints, and the goal's one bit of memory: has the
gripper held something yet (``grasp.GraspMemory``).
"""
from __future__ import annotations

import numpy as np

from vla_policy.inference import InputError

CAMERA_HW = (224, 224)
CROP = (64, 224, 32, 192)  # rows from, to; cols from, to
POOL = 2
IMAGE_HW = ((CROP[1] - CROP[0]) // POOL, (CROP[3] - CROP[2]) // POOL)  # (80, 80)
PROPRIO_DIM = 12
FOVEA = 32  # px of the 224x224 frame the network sees around its object estimate
FOVEA_STORED = 48  # px stored per frame around the true object: training shifts the 32 inside it


def prepare_image(rgb: np.ndarray) -> np.ndarray:
    """224x224x3 uint8 RGB -> 80x80x3 uint8 (crop + 2x2 area average)."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.shape != (*CAMERA_HW, 3):
        shape = getattr(rgb, "shape", None)
        raise InputError(f"expected a {CAMERA_HW[0]}x{CAMERA_HW[1]}x3 uint8 RGB image, got "
                         f"{getattr(rgb, 'dtype', type(rgb).__name__)} {shape}")
    c = rgb[CROP[0]:CROP[1], CROP[2]:CROP[3]].astype(np.uint16)
    h, w = IMAGE_HW
    pooled = c.reshape(h, POOL, w, POOL, 3).sum(axis=(1, 3))
    return ((pooled + POOL * POOL // 2) // (POOL * POOL)).astype(np.uint8)


def fovea_patch(rgb: np.ndarray, centre_rc: np.ndarray, size: int = FOVEA) -> np.ndarray:
    """``size`` x ``size`` x 3 patch of a 224x224 frame centred on (row, col), kept inside the frame."""
    h, w = rgb.shape[:2]
    rc = np.asarray(centre_rc, float)
    if rc.shape != (2,) or not np.all(np.isfinite(rc)):
        raise InputError(f"fovea centre must be a finite (row, col), got {rc}")
    r0 = int(np.clip(np.round(rc[0]) - size // 2, 0, h - size))
    c0 = int(np.clip(np.round(rc[1]) - size // 2, 0, w - size))
    return rgb[r0:r0 + size, c0:c0 + size]


def proprio(q8: np.ndarray, tcp: np.ndarray, held: bool = False) -> np.ndarray:
    """[7 joints, gripper, tcp xyz, held] as float32; refuses NaN/inf and wrong sizes."""
    q8 = np.asarray(q8, dtype=np.float64)
    tcp = np.asarray(tcp, dtype=np.float64)
    if q8.shape != (8,) or tcp.shape != (3,):
        raise InputError(f"expected 8 joint values and a 3-d tool position, got {q8.shape} / {tcp.shape}")
    v = np.concatenate([q8, tcp, [float(held)]])
    if not np.all(np.isfinite(v)):
        raise InputError(f"joint state contains NaN/inf: {np.round(v, 3).tolist()}")
    return v.astype(np.float32)
