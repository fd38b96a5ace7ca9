"""Scripted experts in closed loop against TabletopWorld at 25 Hz."""

import numpy as np
import pytest

from seal_nodes.core.arm.kinematics import DOWN_ROT, ArmIK
from seal_nodes.core.arm.robot import HOME_Q
from sim_worlds.tabletop.experts import HomeExpert, PickExpert
from sim_worlds.tabletop.world import TabletopWorld

pytestmark = pytest.mark.sim
DT = 0.04


def _run_pick(world: TabletopWorld, expert: PickExpert, name: str, limit_s: float = 12.0):
    actions = []
    while world.time < limit_s:
        q = world.joint_positions()
        a = expert.act(q[:7], q[7], world.object_pose(name)[0])
        actions.append(a)
        world.set_command(a.arm_q, a.gripper)
        world.step(DT)
        if world.is_lifted(name):
            break
    return actions


@pytest.fixture(scope="module")
def expert():
    return PickExpert(dt=DT)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expert_lifts_every_cube(seed, expert):
    w = TabletopWorld(seed=seed, render=False)
    for name in w.object_names():
        w.reset(seed)
        expert.reset(name)
        actions = _run_pick(w, expert, name)
        assert w.is_lifted(name), f"{name} not lifted (seed {seed}, phase {actions[-1].phase})"
        assert w.warnings() == {}
        arm = np.array([a.arm_q for a in actions])
        assert np.abs(np.diff(arm, axis=0)).max() <= 0.15 + 1e-9  # a trajectory, no teleports
        progress = [a.progress for a in actions]
        assert all(0.0 <= p <= 1.0 for p in progress)


def test_expert_deterministic(expert):
    runs = []
    for _ in range(2):
        w = TabletopWorld(seed=4, render=False)
        expert.reset("green_cube")
        runs.append(np.array([a.arm_q for a in _run_pick(w, expert, "green_cube", limit_s=2.0)]))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_expert_reaches_done_and_home_expert_returns():
    w = TabletopWorld(seed=5, render=False)
    pick, home = PickExpert(dt=DT), HomeExpert(dt=DT)
    pick.reset("blue_cube")
    for _ in range(300):
        q = w.joint_positions()
        a = pick.act(q[:7], q[7], w.object_pose("blue_cube")[0])
        w.set_command(a.arm_q, a.gripper)
        w.step(DT)
        if a.done:
            break
    assert a.done and a.phase == "done" and a.progress == 1.0 and w.is_lifted("blue_cube")
    home.reset()
    for _ in range(150):
        q = w.joint_positions()
        h = home.act(q[:7], q[7])
        w.set_command(h.arm_q, 1.0)
        w.step(DT)
        if h.done:
            break
    assert h.done and np.abs(w.joint_positions()[:7] - HOME_Q).max() < 0.02
    assert w.is_lifted("blue_cube")  # still holding it


def test_ik_reaches_pose_gripper_down():
    ik = ArmIK()
    target = np.array([0.5, -0.15, 0.1])
    q, err = ik.solve(target, DOWN_ROT, HOME_Q, iters=100)
    pos, rot = ik.fk(q)
    assert err < 1e-3
    np.testing.assert_allclose(pos, target, atol=1e-3)
    assert rot[:, 2] @ np.array([0.0, 0.0, -1.0]) > 0.999


def test_expert_reports_failure_when_the_cube_keeps_slipping():
    """A cube that falls out of the gripper every time ends the task as failed, not in a loop."""
    import mujoco

    w = TabletopWorld(seed=6, render=False)
    expert = PickExpert(dt=DT, max_retries=1)
    expert.reset("red_cube")
    adr = w.model.joint("red_cube").qposadr[0]
    rest = w.data.qpos[adr:adr + 7].copy()
    for _ in range(600):
        q = w.joint_positions()
        a = expert.act(q[:7], q[7], w.object_pose("red_cube")[0])
        if a.done:
            break
        if a.phase == "lift" and w.ee_position()[2] > 0.08:  # knock it back onto the table
            w.data.qpos[adr:adr + 7] = rest
            w.data.qvel[w.model.joint("red_cube").dofadr[0]:][:6] = 0.0
            mujoco.mj_forward(w.model, w.data)
        w.set_command(a.arm_q, a.gripper)
        w.step(DT)
    assert a.done and a.failed and a.phase == "failed"
    assert expert.retries == 1
