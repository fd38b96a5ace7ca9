"""Lighter visual meshes: fewer triangles to draw, the same physics, nearly the same image."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim_worlds.tabletop.mesh_detail import VISUAL_GROUP, lighten_visual_meshes, simplify
from sim_worlds.tabletop.world import RENDER_MESH_DETAIL, TabletopWorld

pytestmark = pytest.mark.sim


def _drawn_faces(model: mujoco.MjModel) -> int:
    return sum(int(model.mesh_facenum[model.geom_dataid[g]]) for g in range(model.ngeom)
               if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and model.geom_group[g] == VISUAL_GROUP)


@pytest.fixture(scope="module")
def worlds():
    light, full = TabletopWorld(seed=5, render=True), TabletopWorld(seed=5, render=True, mesh_detail=1.0)
    yield light, full
    light.close()
    full.close()


def test_a_rendering_world_draws_a_fraction_of_the_triangles(worlds):
    light, full = worlds
    assert light.mesh_detail == RENDER_MESH_DETAIL < 1.0
    assert _drawn_faces(light.model) < 0.3 * _drawn_faces(full.model)
    assert TabletopWorld(render=False).mesh_detail == 1.0  # nothing drawn: nothing to lighten


def test_the_physics_is_the_same(worlds):
    light, full = worlds
    np.testing.assert_array_equal(light.model.body_mass, full.model.body_mass)
    np.testing.assert_array_equal(light.model.body_inertia, full.model.body_inertia)
    colliding = full.model.geom_contype | full.model.geom_conaffinity != 0
    assert colliding.sum() > 10
    for field in ("geom_size", "geom_pos", "geom_quat", "geom_dataid"):
        np.testing.assert_array_equal(getattr(light.model, field)[colliding], getattr(full.model, field)[colliding])
    # The same commands from the same state: the same motion, step for step.
    for w in worlds:
        w.reset(5)
        target = w.joint_positions()[:7] + np.array([0.3, -0.2, 0.1, 0.2, 0.0, -0.1, 0.2])
        w.set_command(target, 1.0)
        w.step(0.5)
    np.testing.assert_array_equal(light.data.qpos, full.data.qpos)


def test_the_camera_sees_nearly_the_same_robot(worlds):
    light, full = worlds
    rng = np.random.default_rng(0)
    for _ in range(4):
        for w in worlds:
            w.reset(5)
        q = full.joint_positions()[:7] + rng.normal(0.0, 0.3, 7)
        for w in worlds:
            w.set_arm(q, 0.5)
        a, b = (w.render().astype(int) for w in worlds)
        diff = np.abs(a - b).max(axis=2)
        assert diff.mean() < 1.5  # of 255: the robot's outline moves by a pixel here and there
        assert (diff > 40).mean() < 0.01


def test_a_welded_triangle_soup_simplifies_without_holes():
    # A sphere as OBJ files arrive: every face with its own three vertices.
    s = mujoco.MjSpec()
    s.add_mesh(name="ball").make_sphere(subdivision=4)
    b = s.worldbody.add_body()
    b.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="ball", size=[0.1, 0, 0])
    m = s.compile()
    va, vn, fa, fn = m.mesh_vertadr[0], m.mesh_vertnum[0], m.mesh_faceadr[0], m.mesh_facenum[0]
    faces = m.mesh_face[fa : fa + fn]
    soup = m.mesh_vert[va : va + vn][faces].reshape(-1, 3).astype(float)
    verts, out = simplify(soup, np.arange(len(soup)).reshape(-1, 3), 0.25)
    assert 0.15 * fn < len(out) < 0.35 * fn
    # Closed: every edge is shared by exactly two faces.
    edges = np.sort(np.concatenate([out[:, [0, 1]], out[:, [1, 2]], out[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert set(counts.tolist()) == {2}
    radius = np.linalg.norm(verts - soup.mean(axis=0), axis=1)
    assert np.allclose(radius, radius.mean(), rtol=0.1)


def test_detail_one_leaves_the_spec_as_shipped_and_nonpositive_is_refused():
    from seal_nodes.core.arm.robot import panda_spec

    robot = panda_spec()
    assert lighten_visual_meshes(robot, 1.0) == 0
    assert all(mesh.file for mesh in robot.meshes)
    with pytest.raises(ValueError, match="mesh detail"):
        lighten_visual_meshes(robot, 0.0)
