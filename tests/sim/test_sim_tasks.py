"""Task registry and scripted experts for every task, in every scene, under seeded randomisation."""

import numpy as np
import pytest

from seal_nodes.core.arm.kinematics import ArmIK
from sim_worlds.tabletop.world import SCENES, TabletopWorld
from sim_worlds.tabletop.tasks import TASKS, Episode, expert_controller, instruction, run_episode, start_episode

pytestmark = pytest.mark.sim
DT = 0.05


@pytest.fixture(scope="module")
def ik():
    return ArmIK()


@pytest.fixture(scope="module")
def worlds():
    ws = {s: TabletopWorld(render=False, scene=s, randomize=True) for s in SCENES}
    yield ws
    for w in ws.values():
        w.close()


def _episode(world, task, seed, ik):
    rng = np.random.default_rng(seed)
    world.reset(rng=rng)
    ep = start_episode(world, task, rng, ik)
    return ep, run_episode(world, ep, expert_controller(world, ep, DT, ik), DT, render=False)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_expert_solves_every_task_in_every_scene(task, worlds, ik):
    for scene in TASKS[task].scenes:
        for seed in (11, 12):
            ep, (ok, last, steps) = _episode(worlds[scene], task, seed, ik)
            assert ok, f"{task} in {scene}, seed {seed}: ended in phase {last.phase} after {steps} steps"
            assert last.done and not last.failed
            assert worlds[scene].warnings() == {}


def test_success_is_judged_from_the_simulator_and_can_fail(worlds, ik):
    w = worlds["tabletop_bin"]
    w.reset(3)
    start = {n: w.object_pose(n)[0] for n in w.object_names()}
    for task in ("pick", "place", "push_left", "push_right", "point"):
        assert not TASKS[task].success(w, Episode(task, "red_cube", start)), task
    w.set_arm(np.array([0.5, -0.3, 0.0, -2.0, 0.0, 2.0, 0.8]))
    assert not TASKS["home"].success(w, Episode("home", ""))


def test_expert_is_deterministic_per_seed(worlds, ik):
    runs = []
    for _ in range(2):
        w = worlds["tabletop_bin"]
        rng = np.random.default_rng(5)
        w.reset(rng=rng)
        ep = start_episode(w, "place", rng, ik)
        ctl = expert_controller(w, ep, DT, ik)
        arm = []
        run_episode(w, ep, ctl, DT, render=False, on_step=lambda d: arm.append(d["action"].arm_q))
        runs.append(np.array(arm))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_randomised_scenes_step_without_warnings_and_repeat_per_seed():
    """Seeded jitter of sizes, colours, lights and camera: same seed, same world and trajectory."""
    def rollout(seed):
        w = TabletopWorld(seed=seed, render=True, scene="tabletop_bin", randomize=True)
        rng = np.random.default_rng(seed)
        hist = []
        for _ in range(25):
            w.set_command(w.joint_positions()[:7] + rng.normal(0.0, 0.2, 7), float(rng.uniform()))
            w.step(0.04)
            hist.append(w.data.qpos.copy())
        img = w.render()
        warn = w.warnings()
        sizes = w.model.geom_size.copy()
        w.close()
        return np.array(hist), img, warn, sizes
    a, b, c = rollout(21), rollout(21), rollout(22)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == {} and c[2] == {}
    assert not np.array_equal(a[3], c[3]) and not np.array_equal(a[1], c[1])


def test_bin_scene_accessors():
    w = TabletopWorld(render=False, scene="tabletop_bin")
    assert w.object_names() == ["red_cube", "green_cube", "blue_cube"]
    assert set(w.distractor_names()) == {"yellow_cylinder", "purple_block"}
    assert w.bin_position() is not None and not any(w.in_bin(n) for n in w.object_names())
    plain = TabletopWorld(render=False)
    assert plain.bin_position() is None and plain.distractor_names() == []
    with pytest.raises(KeyError):
        TabletopWorld(render=False, scene="kitchen")


def test_instructions_fill_their_slots():
    assert instruction("pick", "red_cube") == "pick up the red cube"
    assert instruction("push_left", "blue_cube", "push the {color} block to the left") == \
        "push the blue block to the left"
    assert instruction("home", "") == "go home"


def _place_until(w, ik, seed: int, stop, max_steps: int = 400):
    """A place episode driven by the first teacher until ``stop(action, episode)``; (episode, last action)."""
    rng = np.random.default_rng(seed)
    w.reset(rng=rng)
    ep = start_episode(w, "place", rng, ik)
    first = expert_controller(w, ep, DT, ik)
    for _ in range(max_steps):
        qg = w.joint_positions()
        a = first(qg[:7], float(qg[7]), None)
        if stop(a, ep):
            break
        w.set_command(a.arm_q, a.gripper)
        w.step(DT)
    return ep, a


def test_place_expert_takes_over_mid_task(worlds, ik):
    """A teacher can begin with the cube already in hand ("carry") or already in the bin ("retreat")."""
    w = worlds["tabletop_bin"]
    ep, _ = _place_until(w, ik, 21, lambda a, ep: w.is_lifted(ep.target))
    assert w.is_lifted(ep.target)
    ok, last, _ = run_episode(w, ep, expert_controller(w, ep, DT, ik, stage="carry"), DT, render=False)
    assert ok and last.done and last.phase == "done"
    ok, last, steps = run_episode(w, ep, expert_controller(w, ep, DT, ik, stage="retreat"), DT, render=False)
    assert ok and last.done and w.joint_positions()[7] < 0.2  # leaves it there, gripper open
    with pytest.raises(ValueError):
        expert_controller(w, ep, DT, ik, stage="release")


def test_place_expert_takes_over_above_the_bin_and_lets_go(worlds, ik):
    """Stage "lower": the cube is in hand over the bin; the teacher lowers it and opens at once."""
    w = worlds["tabletop_bin"]
    ep, a = _place_until(w, ik, 22, lambda a, ep: a.phase == "lower")
    assert a.phase == "lower" and w.is_lifted(ep.target)
    second = expert_controller(w, ep, DT, ik, stage="lower")
    phases = []
    ok, last, steps = run_episode(w, ep, lambda q, g, im: phases.append(second(q, g, im)) or phases[-1], DT,
                                  render=False)
    assert ok and last.done
    assert "carry" not in {p.phase for p in phases}  # never lifted back up first
    assert phases[0].phase in ("lower", "release") and min(p.gripper for p in phases[:40]) == 0.0
