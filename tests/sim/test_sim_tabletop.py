"""TabletopWorld: loading, determinism, rendering, command validation."""

import numpy as np
import pytest

from seal_nodes.core.arm.robot import ARM_JOINTS, HOME_Q, robot_model
from sim_worlds.tabletop.world import SCENES, TabletopWorld

pytestmark = pytest.mark.sim


def _noisy_rollout(world: TabletopWorld, seed: int, seconds: float = 2.0) -> np.ndarray:
    """Random joint targets around home (new sample every 40 ms); returns qpos history."""
    rng = np.random.default_rng(seed)
    hist = []
    for _ in range(int(round(seconds / 0.04))):
        world.set_command(HOME_Q + rng.normal(0.0, 0.3, 7), float(rng.uniform()))
        world.step(0.04)
        hist.append(world.data.qpos.copy())
    return np.array(hist)


@pytest.mark.parametrize("randomize", [False, True])
@pytest.mark.parametrize("scene", sorted(SCENES))
def test_scene_steps_without_warnings(scene, randomize):
    w = TabletopWorld(seed=3, render=False, scene=scene, randomize=randomize)
    hist = _noisy_rollout(w, seed=3)
    assert w.time == pytest.approx(2.0)
    assert np.all(np.isfinite(hist))
    assert w.warnings() == {}
    for name in w.object_names():  # cubes stay on the table
        assert w.object_pose(name)[0][2] > 0.0


def test_same_seed_same_trajectory_different_seed_different_layout():
    a, b = TabletopWorld(seed=7, render=False), TabletopWorld(seed=7, render=False)
    np.testing.assert_array_equal(_noisy_rollout(a, 1), _noisy_rollout(b, 1))
    layouts = []
    for seed in (0, 1, 2):
        a.reset(seed)
        layouts.append(np.concatenate([a.object_pose(n)[0] for n in a.object_names()]))
    assert not np.allclose(layouts[0], layouts[1]) and not np.allclose(layouts[1], layouts[2])
    a.reset(rng=np.random.default_rng(0))  # injected generator == seed
    np.testing.assert_array_equal(layouts[0], np.concatenate([a.object_pose(n)[0] for n in a.object_names()]))


def test_layout_in_reach_and_not_overlapping():
    w = TabletopWorld(render=False)
    for seed in range(20):
        w.reset(seed)
        xy = np.array([w.object_pose(n)[0][:2] for n in w.object_names()])
        assert np.all(np.linalg.norm(xy, axis=1) < 0.75)
        d = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(3)
        assert d.min() >= 0.09


def test_render_shape_and_not_blank(world):
    img = world.render("front")
    assert img.shape == (224, 224, 3) and img.dtype == np.uint8
    assert img.std() > 10.0 and len(np.unique(img.reshape(-1, 3), axis=0)) > 50
    with pytest.raises(KeyError, match="unknown camera"):
        world.render("nope")


def test_set_command_validation_and_clipping(world):
    lower, upper = world.joint_limits()
    assert lower.shape == upper.shape == (7,) and np.all(lower < upper)
    for bad in (np.full(7, np.nan), np.r_[HOME_Q[:6], np.inf]):
        with pytest.raises(ValueError):
            world.set_command(bad, 0.0)
    with pytest.raises(ValueError):
        world.set_command(HOME_Q, float("nan"))
    with pytest.raises(ValueError):
        world.set_command(np.zeros(6), 0.0)
    assert world.set_command(HOME_Q, 0.5) is False
    assert world.set_command(upper + 1.0, 2.0) is True and world.last_command_clipped
    world.step(1.0)
    q = world.joint_positions()
    assert np.all(q[:7] <= upper + 1e-3) and world.warnings() == {}


def test_accessors(world):
    q = world.joint_positions()
    assert q.shape == (8,) and world.joint_velocities().shape == (8,)
    np.testing.assert_allclose(q[:7], HOME_Q)
    assert len(ARM_JOINTS) == 7
    assert world.object_names() == ["red_cube", "green_cube", "blue_cube"]
    pos, quat = world.object_pose("red_cube")
    assert pos.shape == (3,) and quat.shape == (4,)
    with pytest.raises(KeyError, match="unknown object"):
        world.object_pose("purple_cube")
    with pytest.raises(KeyError):
        world.is_lifted("purple_cube")
    assert not any(world.is_lifted(n) for n in world.object_names())
    world.set_command(HOME_Q, 1.0)
    world.step(1.0)
    assert world.joint_positions()[7] > 0.9  # closes fully on nothing


def test_robot_model_matches_world_kinematics(world):
    import mujoco

    m = robot_model()
    d = mujoco.MjData(m)
    for name, q in zip(ARM_JOINTS, HOME_Q):
        d.qpos[m.joint(name).qposadr[0]] = q
    mujoco.mj_kinematics(m, d)
    np.testing.assert_allclose(d.site_xpos[m.site("panda_pinch").id], world.ee_position(), atol=1e-9)
