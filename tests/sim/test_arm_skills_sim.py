"""Arm skills in the MuJoCo tabletop with the learned policy (headless: MUJOCO_GL=egl): a task done
goal by goal is recorded, compiled and replayed on another layout; a missing cube is handed back
before the arm goes for it; cubes piled in the bin count as in it.

The recording seed is one where the policy's first attempt succeeds (the policy fails some
layouts, and a failed attempt leaves nothing to compile; ``arm_skills.RECORD_BASE`` + 0, found by
running the benchmark's recording step); the replay seed is one where the policy's grasps succeed
too (outside the benchmark's seeds: a skill cannot grasp better than its policy).
Both runs are deterministic (the simulator and the policy on the CPU)."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.sim

RECORD_SEED, REPLAY_SEED = 925_000, 955_001


@pytest.fixture(scope="module")
def bench():
    from seal_nodes.bench.arm_skills import ArmBench

    b = ArmBench()
    yield b
    b.close()


@pytest.fixture(scope="module")
def skill(bench):
    from seal_nodes.bench.arm_skills import make_arm_task
    from seal_nodes.core.skills.arm.record import compile_arm_skill

    task = make_arm_task("two_in_bin", RECORD_SEED)
    first, goals = bench.first_attempt(task, RECORD_SEED)
    assert first.success and first.model_calls == 3 and first.policy_steps > 0  # two goals, then "done"
    return compile_arm_skill(goals, task.text, task.params, "two", task.text)


def test_recorded_task_replays_on_a_new_layout(bench, skill):
    from seal_nodes.bench.arm_skills import make_arm_task

    task = make_arm_task("two_in_bin", REPLAY_SEED)
    second = bench.replay(skill, task, REPLAY_SEED)
    assert second.handed_back_at is None, second.reason
    assert second.success and second.model_calls == 1 and not second.wrong_side_effects
    assert 0 < second.policy_steps  # the grasps are the policy's closed loop


def test_missing_cube_is_handed_back_before_the_arm_goes_for_it(bench, skill):
    from seal_nodes.bench.arm_skills import make_arm_task

    task = make_arm_task("two_in_bin", REPLAY_SEED)
    run = bench.replay(skill, task, REPLAY_SEED, "missing")
    first_about_it = next(n for n, s in enumerate(skill.segments) if s.about == "{second}_cube")
    assert run.check == "seen" and run.handed_back_at == run.first_affected == first_about_it
    assert not run.wrong_side_effects


def test_cubes_piled_in_the_bin_are_in_it():
    from sim_worlds.tabletop.world import TabletopWorld

    w = TabletopWorld(render=False, scene="tabletop_bin")
    try:
        b = w.bin_position()
        for name, z in (("red_cube", 0.03), ("green_cube", 0.09), ("blue_cube", 0.15)):  # dropped onto each other
            a = w._obj_qadr[name]
            w.data.qpos[a:a + 7] = (b[0], b[1], z, 1.0, 0.0, 0.0, 0.0)
        w.step(2.0)
        assert w.object_pose("blue_cube")[0][2] > b[2] + 0.06  # above the walls' top, on the others
        assert all(w.in_bin(n) for n in w.object_names())
        a = w._obj_qadr["blue_cube"]
        w.data.qpos[a:a + 3] = (b[0] + 0.2, b[1], 0.03)  # beside the bin, on the table
        w.step(1.0)
        assert not w.in_bin("blue_cube") and np.linalg.norm(w.object_pose("blue_cube")[0][:2] - b[:2]) > 0.1
    finally:
        w.close()
