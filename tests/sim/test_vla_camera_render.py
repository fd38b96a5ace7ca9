"""The policy's nominal camera model against the simulator's rendering."""
from __future__ import annotations

import numpy as np
import pytest

from sim_worlds.tabletop.world import TabletopWorld
from vla_policy.arm.camera import FRONT_CAMERA

pytestmark = pytest.mark.sim


def test_projected_cubes_land_on_their_pixels():
    w = TabletopWorld(render=True, scene="tabletop_bin", randomize=False, seed=3)
    img = w.render().astype(int)
    for ch, colour in enumerate(["red", "green", "blue"]):
        r, c = FRONT_CAMERA.project(w.object_pose(f"{colour}_cube")[0])
        mask = img[..., ch] - np.delete(img, ch, axis=2).max(axis=2) > 60
        rows, cols = np.nonzero(mask)
        assert mask.sum() > 50  # the cube is in view
        assert abs(rows.mean() - r) < 1.5 and abs(cols.mean() - c) < 1.5  # visible faces' centroid
    w.close()
