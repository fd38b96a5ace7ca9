"""Validate raw sensor data before a policy sees it (ROS-free)."""
from __future__ import annotations

import numpy as np

ENCODINGS = {"rgb8": 3, "bgr8": 3}


class ObservationError(ValueError):
    """Sensor data that must not reach the policy."""


def image_from_buffer(data: bytes, height: int, width: int, step: int, encoding: str,
                      expected_hw: tuple[int, int]) -> np.ndarray:
    """Decode an Image message's buffer to HxWx3 RGB uint8; raises ObservationError."""
    if encoding not in ENCODINGS:
        raise ObservationError(f"unsupported image encoding {encoding!r}; expected one of {sorted(ENCODINGS)}")
    if (height, width) != tuple(expected_hw):
        raise ObservationError(f"image is {width}x{height}, expected {expected_hw[1]}x{expected_hw[0]}")
    if step < width * 3 or len(data) != step * height:
        raise ObservationError(f"image buffer of {len(data)} bytes does not match {height} rows of step {step}")
    img = np.frombuffer(data, np.uint8).reshape(height, step)[:, : width * 3].reshape(height, width, 3)
    return img[..., ::-1] if encoding == "bgr8" else img


def joint_vector(names: list[str], positions: list[float], wanted: list[str]) -> np.ndarray:
    """Pick ``wanted`` joints out of a JointState; raises ObservationError on missing or NaN."""
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in wanted if n not in index]
    if missing:
        raise ObservationError(f"joint state lacks {missing}")
    if len(positions) != len(names):
        raise ObservationError("joint state has a different number of names and positions")
    q = np.array([positions[index[n]] for n in wanted], dtype=float)
    if not np.all(np.isfinite(q)):
        raise ObservationError(f"joint state contains NaN/inf: {q.round(3).tolist()}")
    return q
