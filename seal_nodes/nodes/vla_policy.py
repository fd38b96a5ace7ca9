"""vla_policy: the Manipulate action server, a closed control loop driven by the camera.

Each new camera frame (with the freshest joint state) gives one step: the backend proposes the
next arm target, the safety limits check it, and it goes out on /arm/joint_trajectory.
``backend``: ``learned`` (default; the VLA policy: camera image + joints + instruction in free
wording, its own done/fail ends the goal) or ``expert`` (the scripted teacher on
/sim/object_poses, sim only; instructions in the grammar of ``core.arm.instructions``).
``control_hz`` is the expected frame rate (the backend's time step).
The control loop looks at a new frame at most twice a period: a flood of frames cannot make it
a busy loop. ``realtime`` (default false): the control loop asks for real-time scheduling (``SCHED_FIFO``
below the audio thread, else a lower nice; the log says which). Off by default: a real-time
Python thread shares its GIL with the executor thread, and on 2 busy cores that starved the
executor of joint states for 2 s (docs/arm.md). The executor thread never asks: it takes
whatever arrives, and a flood there must not starve the machine.
Cancel holds the arm where it is. Bad sensor data is reported and never reaches the backend.
A goal whose robot stops reporting joint states for ``state_timeout_s`` (its driver, or the sim,
crashed or froze) is failed without a hold: a hold would replay the last state seen, which a
restarted robot may no longer be in.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from seal_nodes.nodes.common import SealNode, in_thread, publisher, run, stamp_to_ns, subscription

import numpy as np
from builtin_interfaces.msg import Duration
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from sensor_msgs.msg import Image, JointState
from seal_interfaces.action import Manipulate
from seal_interfaces.msg import ObjectPoses
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from seal_nodes.core import topics
from seal_nodes.core.audio.realtime import CONTROL_FIFO_PRIORITY, raise_session_priority, raise_thread_priority
from seal_nodes.core.bounds import (MAX_INSTRUCTION_CHARS, check_finite, check_goal_text, check_image,
                                    check_joint_state, check_object_poses)
from seal_nodes.core.arm.backend import ArmBackend, BackendError, Observation
from seal_nodes.core.arm.instructions import InstructionError
from seal_nodes.core.arm.kinematics import ArmIK
from seal_nodes.core.arm.limits import SafetyLimits, UnsafeCommand
from seal_nodes.core.arm.robot import ARM_JOINTS, JOINT_NAMES, robot_model
from seal_nodes.core.arm.state_watch import StateWatch
from vla_policy.arm.backends import LearnedBackend
from vla_policy.arm.observation import ObservationError, image_from_buffer, joint_vector


def _expert_backend(dt: float) -> ArmBackend:
    """The scripted teacher reads true object poses: sim only, so it is loaded only when asked for."""
    from sim_worlds.tabletop.expert_backend import ExpertBackend

    return ExpertBackend(dt)


BACKENDS: dict[str, Callable[[float], ArmBackend]] = {"learned": LearnedBackend, "expert": _expert_backend}


def make_backend(name: str, dt: float) -> ArmBackend:
    if name not in BACKENDS:
        raise ValueError(f"unknown manipulation backend {name!r}; available: {sorted(BACKENDS)}")
    return BACKENDS[name](dt)


class VlaPolicyNode(SealNode):
    def __init__(self) -> None:
        super().__init__("vla_policy")
        self.backend_name = str(self.declare_parameter("backend", "learned").value)
        self.hz = float(self.declare_parameter("control_hz", 20.0).value)
        self.timeout_s = float(self.declare_parameter("goal_timeout_s", 30.0).value)
        h = int(self.declare_parameter("image_height", 224).value)
        w = int(self.declare_parameter("image_width", 224).value)
        self.image_hw = (h, w)
        self.max_frame_age_s = float(self.declare_parameter("max_frame_age_s", 0.5).value)
        state_timeout_s = min(max(float(self.declare_parameter("state_timeout_s", 2.0).value), 0.1), 60.0)
        self.realtime = bool(self.declare_parameter("realtime", False).value)
        if self.realtime:  # the session is the whole process's, once; each goal's loop thread asks below
            self.get_logger().info(f"session scheduling: {raise_session_priority()}")
        weights = str(self.declare_parameter("weights_dir", "").value)  # "": the shipped policy
        if weights:
            LearnedBackend.weights_dir = weights
        model = robot_model()
        self.ik = ArmIK(model)
        lower = np.array([model.joint(j).range[0] for j in ARM_JOINTS])
        upper = np.array([model.joint(j).range[1] for j in ARM_JOINTS])
        # Speed limit 2.5 rad/s, applied per control period.
        self.safety = SafetyLimits(lower, upper, max_step=2.5 / self.hz, tcp_position=lambda q: self.ik.fk(q)[0])
        self.lock = threading.Lock()
        self.q: np.ndarray | None = None
        self.gripper = 0.0
        self.state_watch = StateWatch(state_timeout_s)
        self.frame: tuple[int, np.ndarray, int, int] | None = None  # (stamp, image, received, decoded) ns
        self.objects: dict[str, np.ndarray] = {}
        self.last_gripper_cmd: float | None = None
        self.busy = False  # a goal is running (guarded by self.lock)
        self.stopping = threading.Event()
        self.new_frame = threading.Event()
        # A bad backend name or missing weights fail at start-up, loudly; the encoder loads now.
        warm = make_backend(self.backend_name, 1.0 / self.hz)
        if hasattr(warm, "warm_up"):
            warm.warm_up()
        # Reentrant: the async execute callback holds its group for the whole goal, and the
        # sensor callbacks must keep running meanwhile (even with a single-threaded executor).
        group = ReentrantCallbackGroup()
        subscription(self, topics.JOINT_STATES, self.on_joints, callback_group=group)
        subscription(self, topics.CAMERA, self.on_image, callback_group=group)
        subscription(self, topics.OBJECT_POSES, self.on_poses, callback_group=group)
        self.cmd_pub = publisher(self, topics.ARM_TRAJECTORY)
        self.server = ActionServer(
            self, Manipulate, topics.MANIPULATE.name, execute_callback=self.execute,
            goal_callback=self.on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT, callback_group=group)
        self.get_logger().info(f"vla_policy ready: backend={self.backend_name} at {self.hz:.0f} Hz")

    # --- sensors ----------------------------------------------------------------------------
    def on_joints(self, msg: JointState) -> None:
        self.state_watch.heard()
        reason = check_joint_state(msg.name, msg.position, msg.velocity)
        if reason:
            self.refuse(topics.JOINT_STATES.name, reason)
            with self.lock:
                self.q = None  # never act on a state we cannot trust
            return
        try:
            q = joint_vector(list(msg.name), list(msg.position), JOINT_NAMES)
        except ObservationError as exc:
            self.refuse(topics.JOINT_STATES.name, str(exc))
            with self.lock:
                self.q = None  # never act on a state we cannot trust
            return
        with self.lock:
            self.q, self.gripper = q[:7], float(q[7])

    def on_image(self, msg: Image) -> None:
        received_ns = time.time_ns()
        reason = check_image(msg.height, msg.width, msg.step, msg.encoding, len(msg.data), msg.header.frame_id)
        if reason:  # before the buffer is copied
            self.refuse(topics.CAMERA.name, reason)
            return
        try:
            img = image_from_buffer(bytes(msg.data), msg.height, msg.width, msg.step, msg.encoding, self.image_hw)
        except ObservationError as exc:
            self.refuse(topics.CAMERA.name, str(exc))
            return
        with self.lock:
            self.frame = (stamp_to_ns(msg.header.stamp), img, received_ns, time.time_ns())
        self.new_frame.set()

    def on_poses(self, msg: ObjectPoses) -> None:
        reason = check_object_poses(msg.names, len(msg.poses))
        objects = {} if reason else {n: (p.position.x, p.position.y, p.position.z)
                                     for n, p in zip(msg.names, msg.poses)}
        reason = reason or check_finite("object positions", [v for xyz in objects.values() for v in xyz])
        if reason:
            self.refuse(topics.OBJECT_POSES.name, reason)
            return
        with self.lock:
            self.objects = {n: np.array(xyz) for n, xyz in objects.items()}

    # --- action -----------------------------------------------------------------------------
    def on_goal(self, goal: Manipulate.Goal) -> GoalResponse:
        reason = check_goal_text("instruction", goal.instruction, MAX_INSTRUCTION_CHARS, goal.trace_id)
        if reason:
            self.refuse(f"{topics.MANIPULATE.name} goal", reason)
            return GoalResponse.REJECT
        with self.lock:
            if self.busy:  # one arm, one goal at a time (no preemption yet)
                self.get_logger().warning("rejecting goal: another Manipulate goal is running")
                return GoalResponse.REJECT
            self.busy = True  # taken here, at admission, so two quick goals cannot both pass
        return GoalResponse.ACCEPT

    async def execute(self, handle) -> Manipulate.Result:
        # The loop runs on its own thread; the executor stays free for sensors and cancel.
        return await in_thread(self, self._guarded_run, handle)

    def _guarded_run(self, handle) -> Manipulate.Result:
        if self.realtime:  # frame in, command out ahead of the rest of a busy machine
            self.get_logger().info(f"control loop scheduling: {raise_thread_priority(CONTROL_FIFO_PRIORITY)}",
                                   once=True)
        try:
            return self._run(handle)
        except Exception as exc:  # a backend bug: stop the arm, fail the goal, keep serving
            return self._abort(handle, f"policy error: {exc!r}")
        finally:
            with self.lock:
                self.busy = False

    def _run(self, handle) -> Manipulate.Result:
        goal = handle.request
        backend = make_backend(self.backend_name, 1.0 / self.hz)
        try:
            task = backend.task_for(goal.instruction)  # the learned backend reads free wordings
            with self.lock:
                objects = dict(self.objects)
            backend.reset(task, objects, goal.instruction, objects.get("bin"))
        except (InstructionError, BackendError) as exc:
            return self._finish(handle, False, str(exc))
        period = 1.0 / self.hz
        deadline = time.monotonic() + self.timeout_s
        last_frame_ns = 0
        next_look = 0.0  # monotonic time before which the loop does not look at a new frame
        self.state_watch.start()
        while True:
            silent_s = self.state_watch.silent_s()
            if silent_s is not None:
                return self._lost_robot(handle, silent_s)
            if handle.is_cancel_requested:
                self.hold()
                handle.canceled()
                return Manipulate.Result(success=False, message="canceled; holding position")
            if self.stopping.is_set():
                return self._abort(handle, "policy node shutting down; holding position")
            if time.monotonic() > deadline:
                return self._abort(handle, f"timed out after {self.timeout_s:.0f} s")
            # Closed loop on the camera: every command is derived from a frame newer than the last.
            if self.new_frame.wait(timeout=period):
                # At most two looks a period: a flood of frames (new, stale or repeated) cannot make
                # this loop a busy one; after the wait the freshest frame is taken.
                hold_off = next_look - time.monotonic()
                if hold_off > 0:
                    self.stopping.wait(hold_off)
                next_look = time.monotonic() + 0.5 * period
            self.new_frame.clear()
            with self.lock:
                q, grip, frame, objects = self.q, self.gripper, self.frame, dict(self.objects)
            if q is None or frame is None or frame[0] == last_frame_ns:
                continue  # no fresh, trustworthy observation: do not act on stale data
            age_s = (time.time_ns() - frame[0]) / 1e9
            if age_s > self.max_frame_age_s:  # e.g. a camera on another clock: say so, do not act
                self.report_error(f"camera frame is {age_s:.2f} s old (limit {self.max_frame_age_s} s); waiting",
                                  goal.trace_id, throttle_key="stale_frame")
                continue
            last_frame_ns = frame[0]
            taken_ns = time.time_ns()
            t0 = time.perf_counter()
            try:
                action = backend.act(Observation(q, grip, frame[1], objects))
            except BackendError as exc:
                return self._abort(handle, str(exc))
            infer_ms = (time.perf_counter() - t0) * 1e3
            try:
                q_safe, notes = self.safety.check(action.arm_q, q)
                gripper = self.safety.check_gripper(action.gripper)
            except UnsafeCommand as exc:
                return self._abort(handle, f"refused unsafe command: {exc}")
            if notes:
                self.get_logger().info(f"command limited: {', '.join(notes)}", throttle_duration_sec=5.0)
            self.send(q_safe, gripper, period)
            sent_ns = time.time_ns()
            self.publish_latency("frame_to_command_ms", (sent_ns - frame[0]) / 1e6, goal.trace_id)
            self.publish_latency("policy_inference_ms", infer_ms, goal.trace_id)
            # The rest of camera → command, stage by stage (the sim publishes render and publish).
            stamp_ns, _, received_ns, decoded_ns = frame
            for path, ms in (("frame_transport_ms", (received_ns - stamp_ns) / 1e6),
                             ("frame_preprocess_ms", (decoded_ns - received_ns) / 1e6),
                             ("frame_queue_ms", (taken_ns - decoded_ns) / 1e6),
                             ("command_publish_ms", (sent_ns - taken_ns) / 1e6 - infer_ms)):
                self.publish_latency(path, ms, goal.trace_id)
            handle.publish_feedback(Manipulate.Feedback(phase=action.phase, progress=float(action.progress)))
            if action.failed:  # a backend that names no phase of its own says just "failed"
                where = f" in phase {action.phase}" if action.phase != "failed" else ""
                return self._abort(handle, f"{goal.instruction}: failed{where}")
            if action.done:
                return self._finish(handle, True, f"{goal.instruction}: done")

    def _abort(self, handle, message: str) -> Manipulate.Result:
        """Stop the arm where it is and fail the goal with ``message``."""
        self.hold()
        return self._finish(handle, False, message)

    def _lost_robot(self, handle, silent_s: float) -> Manipulate.Result:
        """No joint state for too long: forget the last one and fail the goal, sending nothing."""
        with self.lock:
            self.q = None
        return self._finish(handle, False, f"the robot sent no joint states for {silent_s:.1f} s, "
                                           "so I stopped sending it commands")

    def _finish(self, handle, success: bool, message: str) -> Manipulate.Result:
        if success:
            handle.succeed()
        else:
            handle.abort()
            self.report_error(f"Manipulate failed: {message}", handle.request.trace_id)
        return Manipulate.Result(success=success, message=message)

    def send(self, q: np.ndarray, gripper: float, horizon_s: float) -> None:
        """One-point trajectory reached ``horizon_s`` from now.

        ``header.stamp`` stays zero: for a joint_trajectory_controller that means "start now"
        (a past stamp would make it drop the command). The frame → command latency goes to
        /seal/latency instead.
        """
        msg = JointTrajectory()
        msg.joint_names = JOINT_NAMES
        point = JointTrajectoryPoint()
        point.positions = [float(v) for v in q] + [gripper]
        nanos = int(horizon_s * 1e9)
        point.time_from_start = Duration(sec=nanos // 1_000_000_000, nanosec=nanos % 1_000_000_000)
        msg.points = [point]
        self.cmd_pub.publish(msg)
        self.last_gripper_cmd = gripper

    def hold(self) -> None:
        """Command the current measured position: the arm stops where it is."""
        with self.lock:
            q, grip = self.q, self.gripper
        if q is not None:
            # Keep the commanded grip (not the measured opening) so a held object is not dropped.
            self.send(q, grip if self.last_gripper_cmd is None else self.last_gripper_cmd, 1.0 / self.hz)

    def close(self) -> None:
        """Shutdown: a running goal holds the arm and ends before the context goes away."""
        self.stopping.set()
        deadline = time.monotonic() + 1.0
        while self.busy and time.monotonic() < deadline:
            time.sleep(0.02)


def main(args=None) -> None:
    run(VlaPolicyNode)


if __name__ == "__main__":
    main()
