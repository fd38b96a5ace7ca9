"""The nominal front camera model and the fovea patch (no simulator)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from vla_policy.arm.camera import FRONT_CAMERA, PinholeCamera
from vla_policy.arm.preprocess import FOVEA, fovea_patch
from vla_policy.inference import InputError

pytestmark = pytest.mark.unit
SCENES = Path(__file__).resolve().parents[3] / "sim_worlds" / "tabletop" / "scenes"


@pytest.mark.parametrize("scene", ["tabletop.xml", "tabletop_bin.xml"])
def test_front_camera_is_the_scene_files_camera(scene):
    cam = next(c for c in ET.parse(SCENES / scene).iter("camera") if c.get("name") == "front")
    assert np.allclose([float(v) for v in cam.get("pos").split()], FRONT_CAMERA.pos)
    assert np.allclose([float(v) for v in cam.get("xyaxes").split()], FRONT_CAMERA.xyaxes)
    assert float(cam.get("fovy")) == FRONT_CAMERA.fovy_deg


def test_projection_geometry():
    cam = PinholeCamera(pos=(0.0, 0.0, 1.0), xyaxes=(1, 0, 0, 0, 1, 0), fovy_deg=90.0, hw=(100, 100))  # looks down
    assert np.allclose(cam.project(np.array([0.0, 0.0, 0.0])), (50, 50))  # on the axis: the centre
    assert np.allclose(cam.project(np.array([1.0, 0.0, 0.0])), (50, 100))  # 45° right: the right edge
    assert np.allclose(cam.project(np.array([0.0, 0.5, 0.0])), (25, 50))  # image up is row 0
    both = cam.project(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert both.shape == (2, 2)
    with pytest.raises(ValueError, match="behind"):
        cam.project(np.array([0.0, 0.0, 2.0]))


def test_fovea_patch_is_centred_and_stays_inside_the_frame():
    frame = np.arange(224 * 224 * 3, dtype=np.uint32).reshape(224, 224, 3).astype(np.uint8)
    p = fovea_patch(frame, np.array([100.4, 60.6]))
    assert p.shape == (FOVEA, FOVEA, 3)
    np.testing.assert_array_equal(p, frame[100 - 16:100 + 16, 61 - 16:61 + 16])
    np.testing.assert_array_equal(fovea_patch(frame, np.array([-30.0, 500.0])), frame[:FOVEA, -FOVEA:])
    assert fovea_patch(frame, np.array([112.0, 112.0]), 48).shape == (48, 48, 3)
    with pytest.raises(InputError, match="fovea centre"):
        fovea_patch(frame, np.array([np.nan, 3.0]))
