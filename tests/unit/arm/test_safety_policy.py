"""Policy side: safety limits, observation validation, expert backend, trajectory following."""
from __future__ import annotations

import numpy as np
import pytest

from seal_nodes.core.arm.backend import BackendError, Observation
from seal_nodes.core.arm.instructions import Task
from seal_nodes.core.arm.kinematics import ArmCommand, ArmIK
from seal_nodes.core.arm.limits import DEFAULT_WORKSPACE, SafetyLimits, UnsafeCommand, Workspace
from seal_nodes.core.arm.robot import HOME_Q
from seal_nodes.core.arm.trajectory import JointTrajectory, TrajectoryError, sample, validate_trajectory
from sim_worlds.tabletop.expert_backend import ExpertBackend
from vla_policy.arm.observation import ObservationError, image_from_buffer, joint_vector

pytestmark = pytest.mark.unit

INSIDE = np.array([0.5, 0.0, 0.3])


def limits(tcp=lambda q: INSIDE, max_step=0.1):
    return SafetyLimits(lower=-2.0 * np.ones(7), upper=2.0 * np.ones(7), max_step=max_step, tcp_position=tcp)


# --- safety ------------------------------------------------------------------------------------

def test_small_step_passes_unchanged():
    q_now = np.zeros(7)
    q_cmd = np.full(7, 0.05)
    q, notes = limits().check(q_cmd, q_now)
    np.testing.assert_allclose(q, q_cmd)
    assert notes == []


def test_speed_is_limited_per_joint():
    q_now = np.zeros(7)
    q_cmd = np.array([0.5, -0.5, 0.05, 0, 0, 0, 1.0])
    q, notes = limits().check(q_cmd, q_now)
    np.testing.assert_allclose(q, [0.1, -0.1, 0.05, 0, 0, 0, 0.1])
    assert notes == ["speed limited"]


def test_joint_limits_are_clipped_with_margin():
    q_now = np.full(7, 1.95)
    q_cmd = np.full(7, 2.03)
    q, notes = limits().check(q_cmd, q_now)
    np.testing.assert_allclose(q, np.full(7, 1.99))
    assert notes == ["clipped to joint limits"]
    q, notes = limits().check(np.full(7, 3.0), q_now)
    np.testing.assert_allclose(q, np.full(7, 1.99))
    assert notes == ["clipped to joint limits"]  # clipped first, then within the speed limit


@pytest.mark.parametrize("bad", ["cmd", "now"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_is_refused(bad, value):
    q_cmd, q_now = np.zeros(7), np.zeros(7)
    (q_cmd if bad == "cmd" else q_now)[3] = value
    with pytest.raises(UnsafeCommand, match="NaN"):
        limits().check(q_cmd, q_now)


@pytest.mark.parametrize("shape", [(6,), (8,), (7, 1)])
def test_wrong_shape_is_refused(shape):
    with pytest.raises(UnsafeCommand, match="7 joint values"):
        limits().check(np.zeros(shape), np.zeros(7))


def test_workspace_uses_the_limited_command():
    seen = []

    def tcp(q):
        seen.append(q.copy())
        return INSIDE

    q, _ = limits(tcp).check(np.full(7, 5.0), np.zeros(7))
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], q)
    np.testing.assert_allclose(q, np.full(7, 0.1))


@pytest.mark.parametrize("tcp", [np.array([0.5, 0.0, -0.05]), np.array([1.2, 0, 0.3]),
                                 np.array([0.5, 0.7, 0.3]), np.array([np.nan, 0, 0.3])])
def test_outside_workspace_is_refused(tcp):
    with pytest.raises(UnsafeCommand, match="outside the workspace"):
        limits(lambda q: tcp).check(np.zeros(7), np.zeros(7))


def test_workspace_contains_bounds_inclusive():
    ws = Workspace(np.zeros(3), np.ones(3))
    assert ws.contains(np.zeros(3)) and ws.contains(np.ones(3))
    assert not ws.contains(np.array([0.5, 0.5, 1.0001]))
    assert DEFAULT_WORKSPACE.contains(INSIDE)


def test_unsafe_command_is_value_error():
    assert issubclass(UnsafeCommand, ValueError)


@pytest.fixture(scope="module")
def arm_ik():
    return ArmIK()


def test_real_forward_kinematics(arm_ik):
    safety = SafetyLimits(arm_ik.lower, arm_ik.upper, 0.05, lambda q: arm_ik.fk(q)[0])
    q, notes = safety.check(HOME_Q + 0.01, HOME_Q)
    np.testing.assert_allclose(q, HOME_Q + 0.01)
    assert notes == []
    down = HOME_Q.copy()
    down[1] = 1.5  # shoulder forward: the arm folds to just above the robot base, x < 0.15
    with pytest.raises(UnsafeCommand, match="outside the workspace"):
        safety.check(down, down)
    back = HOME_Q.copy()
    back[0] = 2.5  # turned behind the robot
    with pytest.raises(UnsafeCommand):
        safety.check(back, back)


# --- observation -------------------------------------------------------------------------------

def rgb_image(h=3, w=4):
    return (np.arange(h * w * 3) % 251).astype(np.uint8).reshape(h, w, 3)


def test_rgb8_buffer_decodes():
    img = rgb_image()
    out = image_from_buffer(img.tobytes(), 3, 4, 12, "rgb8", (3, 4))
    np.testing.assert_array_equal(out, img)
    assert out.dtype == np.uint8 and out.shape == (3, 4, 3)


def test_bgr8_is_converted_to_rgb():
    img = rgb_image()
    bgr = img[..., ::-1].copy()
    out = image_from_buffer(bgr.tobytes(), 3, 4, 12, "bgr8", (3, 4))
    np.testing.assert_array_equal(out, img)


def test_row_padding_is_dropped():
    img = rgb_image()
    padded = np.concatenate([img.reshape(3, 12), np.full((3, 4), 99, np.uint8)], axis=1)
    out = image_from_buffer(padded.tobytes(), 3, 4, 16, "rgb8", (3, 4))
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize("kwargs, match", [
    (dict(encoding="mono8"), "unsupported image encoding"),
    (dict(encoding="rgba8"), "unsupported image encoding"),
    (dict(height=4), "expected 4x3"),
    (dict(width=5, step=15), "expected 4x3"),
    (dict(data_len=35), "does not match"),
    (dict(data_len=37), "does not match"),
    (dict(step=11), "does not match"),
])
def test_bad_images_are_refused(kwargs, match):
    args = dict(height=3, width=4, step=12, encoding="rgb8")
    n = kwargs.pop("data_len", None)
    args.update(kwargs)
    data = bytes(n if n is not None else args["step"] * args["height"])
    with pytest.raises(ObservationError, match=match):
        image_from_buffer(data, args["height"], args["width"], args["step"], args["encoding"], (3, 4))


def test_joint_vector_orders_by_wanted():
    q = joint_vector(["b", "a", "c"], [2.0, 1.0, 3.0], ["a", "b"])
    np.testing.assert_array_equal(q, [1.0, 2.0])


def test_joint_vector_missing_joint():
    with pytest.raises(ObservationError, match="lacks \\['d'\\]"):
        joint_vector(["a", "b"], [1.0, 2.0], ["a", "d"])


def test_joint_vector_length_mismatch():
    with pytest.raises(ObservationError, match="number of names"):
        joint_vector(["a", "b"], [1.0], ["a"])


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_joint_vector_non_finite(value):
    with pytest.raises(ObservationError, match="NaN"):
        joint_vector(["a", "b"], [1.0, value], ["a", "b"])
    # a non-finite joint that is not wanted is fine
    np.testing.assert_array_equal(joint_vector(["a", "b"], [1.0, value], ["a"]), [1.0])


# --- expert backend ----------------------------------------------------------------------------

CUBE = np.array([0.5, 0.0, 0.02])


def test_expert_refuses_a_task_the_scene_cannot_have():
    backend = ExpertBackend(dt=0.05)
    with pytest.raises(BackendError, match="no bin"):
        backend.reset(Task("place", "red_cube"), {"red_cube": CUBE})
    assert backend.task is None


def test_expert_refuses_unknown_object():
    backend = ExpertBackend(dt=0.05)
    with pytest.raises(BackendError, match="no purple cube in the scene"):
        backend.reset(Task("pick", "purple_cube"), {"red_cube": CUBE})


def test_expert_pick_step_returns_action():
    backend = ExpertBackend(0.05)
    backend.reset(Task("pick", "red_cube"), {"red_cube": CUBE})
    act = backend.act(Observation(HOME_Q.copy(), 0.0, None, {"red_cube": CUBE}))
    assert isinstance(act, ArmCommand)
    assert act.arm_q.shape == (7,) and np.all(np.isfinite(act.arm_q))
    assert act.phase == "approach" and not act.done
    assert 0.0 <= act.progress <= 1.0
    assert act.gripper == pytest.approx(0.0)


def test_expert_object_disappears():
    backend = ExpertBackend(dt=0.05)
    backend.reset(Task("pick", "red_cube"), {"red_cube": CUBE})
    with pytest.raises(BackendError, match="disappeared"):
        backend.act(Observation(HOME_Q.copy(), 0.0, None, {}))


def test_expert_home_needs_no_object():
    backend = ExpertBackend(dt=0.05)
    backend.reset(Task("home"), {})
    act = backend.act(Observation(HOME_Q + 0.3, 0.0, None, {}))
    assert act.arm_q.shape == (7,)


def test_backend_error_is_value_error():
    assert issubclass(BackendError, ValueError)


# --- trajectory --------------------------------------------------------------------------------

JOINTS = ["j1", "j2", "j3"]


def test_validate_trajectory_ok():
    traj = validate_trajectory(["j2", "j1"], [0.5, 1.0], [[1, 2], [3, 4]], JOINTS)
    assert isinstance(traj, JointTrajectory)
    assert traj.names == ["j2", "j1"]
    np.testing.assert_array_equal(traj.positions, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(traj.times_s, [0.5, 1.0])


@pytest.mark.parametrize("names, times, positions, match", [
    ([], [1.0], [[1.0]], "no joint_names"),
    (["j9"], [1.0], [[1.0]], "unknown joints \\['j9'\\]"),
    (["j1", "j1"], [1.0], [[1.0, 2.0]], "duplicate"),
    (["j1"], [], [], "no points"),
    (["j1", "j2"], [1.0], [[1.0]], "every point needs 2"),
    (["j1"], [1.0], [[np.nan]], "NaN"),
    (["j1"], [1.0], [[np.inf]], "NaN or inf"),
    (["j1"], [1.0, 0.5], [[1.0], [2.0]], "non-decreasing"),
    (["j1"], [-0.1], [[1.0]], "non-negative"),
])
def test_validate_trajectory_refuses(names, times, positions, match):
    with pytest.raises(TrajectoryError, match=match):
        validate_trajectory(names, times, positions, JOINTS)


def test_ragged_points_are_a_trajectory_error():
    with pytest.raises(TrajectoryError):
        validate_trajectory(["j1", "j2"], [1.0, 2.0], [[1.0, 2.0], [1.0]], JOINTS)


def test_times_and_points_must_match():
    with pytest.raises(TrajectoryError):
        validate_trajectory(["j1"], [1.0, 2.0], [[1.0]], JOINTS)


def test_sample_interpolates_from_start_and_between_points():
    traj = validate_trajectory(["j1", "j2"], [1.0, 3.0], [[1.0, 10.0], [3.0, 30.0]], JOINTS)
    start = np.array([0.0, 0.0])
    np.testing.assert_allclose(sample(traj, 0.0, start), [0.0, 0.0])
    np.testing.assert_allclose(sample(traj, 0.5, start), [0.5, 5.0])
    np.testing.assert_allclose(sample(traj, 1.0, start), [1.0, 10.0])
    np.testing.assert_allclose(sample(traj, 2.0, start), [2.0, 20.0])
    np.testing.assert_allclose(sample(traj, 3.0, start), [3.0, 30.0])
    np.testing.assert_allclose(sample(traj, 99.0, start), [3.0, 30.0])


def test_sample_end_is_a_copy():
    traj = validate_trajectory(["j1"], [1.0], [[1.0]], JOINTS)
    out = sample(traj, 5.0, np.zeros(1))
    out[0] = 42.0
    assert traj.positions[0, 0] == 1.0


def test_sample_zero_duration_points_jump():
    traj = validate_trajectory(["j1"], [0.0, 0.0, 2.0], [[1.0], [2.0], [4.0]], JOINTS)
    np.testing.assert_allclose(sample(traj, 1.0, np.zeros(1)), [3.0])
    immediate = validate_trajectory(["j1"], [0.0], [[7.0]], JOINTS)
    np.testing.assert_allclose(sample(immediate, 0.0, np.zeros(1)), [7.0])
