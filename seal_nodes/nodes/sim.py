"""sim: the MuJoCo Panda tabletop stepping in real time, headless.

Publishes /joint_states, /camera/image_raw (rgb8) and /sim/object_poses (ground truth);
follows /arm/joint_trajectory (trajectory_msgs/JointTrajectory, the topic a ros2_control
joint_trajectory_controller accepts). Joint names: panda_joint1..7 and ``panda_gripper``
(normalised 0 = open … 1 = closed). ``scene``: a scene of ``sim_worlds.tabletop.world.SCENES``;
``randomize``: seeded jitter of sizes, colours, lighting and camera (as in training). A scene
with a bin also publishes the bin's pose (name ``bin``) on /sim/object_poses.
``fault_stuck_object`` (default ""): a fault injected on purpose, that cube held to the table so
every grasp of it comes up empty (a missed grasp for ``seal diagnose``; launch argument
``fault_stuck_object`` of ``launch/sim.launch.yaml``).
``mesh_detail`` (default ``RENDER_MESH_DETAIL``): share of the robot's visual triangles the camera
draws (1: the meshes as shipped); the physics is the same whatever it is.
``realtime`` (default false): the physics and camera threads ask for real-time scheduling, as a
robot's drivers run (``SCHED_FIFO`` below the audio thread, else a lower nice; the log says
which). Off by default: docs/arm.md has what it gains and the starvation it caused.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from typing import Callable

from seal_nodes.nodes.common import SealNode, ns_to_stamp, publisher, run, subscription

import mujoco
import numpy as np
from geometry_msgs.msg import Pose
from sensor_msgs.msg import Image, JointState
from seal_interfaces.msg import ObjectPoses
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.arm.robot import JOINT_NAMES
from seal_nodes.core.audio.realtime import CONTROL_FIFO_PRIORITY, raise_session_priority, raise_thread_priority
from seal_nodes.core.bounds import check_trajectory
from seal_nodes.core.arm.trajectory import TrajectoryError, sample, validate_trajectory
from sim_worlds.tabletop.world import RENDER_MESH_DETAIL, TabletopWorld


class SimNode(SealNode):
    def __init__(self) -> None:
        super().__init__("sim")
        seed = int(self.declare_parameter("seed", 0).value)
        width = int(self.declare_parameter("image_width", 224).value)
        height = int(self.declare_parameter("image_height", 224).value)
        self.camera = str(self.declare_parameter("camera", "front").value)
        self.camera_hz = float(self.declare_parameter("camera_hz", 15.0).value)
        self.state_hz = float(self.declare_parameter("state_hz", 100.0).value)
        scene = str(self.declare_parameter("scene", "tabletop").value)
        randomize = bool(self.declare_parameter("randomize", False).value)
        stuck = str(self.declare_parameter("fault_stuck_object", "").value).strip()
        mesh_detail = float(self.declare_parameter("mesh_detail", RENDER_MESH_DETAIL).value)
        if not 0.0 < mesh_detail <= 1.0:
            self.report_error(f"sim: mesh_detail {mesh_detail} is not in (0, 1]; drawing {RENDER_MESH_DETAIL}")
            mesh_detail = RENDER_MESH_DETAIL
        world = dict(seed=seed, image_size=(height, width), render=True, scene=scene, randomize=randomize,
                     mesh_detail=mesh_detail)
        self.realtime = bool(self.declare_parameter("realtime", False).value)
        if self.realtime:
            # Mesa's software rasterizer draws on worker threads of ordinary priority: with none, a
            # frame is drawn on the camera thread itself, at its priority (a light frame needs no more).
            os.environ.setdefault("LP_NUM_THREADS", "0")
            # the session is the whole process's, once: its threads ask for their own below
            self.get_logger().info(f"session scheduling: {raise_session_priority()}")
        try:
            self.world = TabletopWorld(**world, fault_stuck_object=stuck)
        except KeyError as exc:  # a bad fault name: said, and the world built without it
            if not stuck:
                raise
            self.report_error(f"sim: {exc.args[0]}; no object is stuck")
            stuck = ""
            self.world = TabletopWorld(**world)
        if stuck:
            self.get_logger().warning(f"fault injected: {stuck} is held to the table (every pick of it fails)")
        q = self.world.joint_positions()
        self.world.set_command(q[:7], q[7])
        self.hold = q.copy()
        self.traj = None  # (JointTrajectory, receipt wall time, start positions)
        self.lock = threading.Lock()
        self.joint_pub = publisher(self, topics.JOINT_STATES)
        self.image_pub = publisher(self, topics.CAMERA)
        self.pose_pub = publisher(self, topics.OBJECT_POSES)
        subscription(self, topics.ARM_TRAJECTORY, self.on_trajectory)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run_or_exit, args=(what, loop), name=what, daemon=True)
                         for what, loop in (("simulation", self._step_in_real_time), ("camera", self._render_frames))]
        for thread in self._threads:
            thread.start()
        self.get_logger().info(f"sim ready: seed={seed} camera {width}x{height} @ {self.camera_hz} Hz")

    def on_trajectory(self, msg: JointTrajectoryMsg) -> None:
        end = msg.points[-1].time_from_start if msg.points else None
        reason = check_trajectory(msg.joint_names, len(msg.points), (len(p.positions) for p in msg.points),
                                  end.sec + end.nanosec * 1e-9 if end else 0.0)
        if reason:  # before any list or array is built from it
            self.refuse(topics.ARM_TRAJECTORY.name, reason)
            return
        try:
            traj = validate_trajectory(
                list(msg.joint_names),
                [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points],
                [list(p.positions) for p in msg.points], JOINT_NAMES)
        except TrajectoryError as exc:
            self.refuse(topics.ARM_TRAJECTORY.name, str(exc))
            return
        with self.lock:
            current = self.command_vector()
            idx = [JOINT_NAMES.index(n) for n in traj.names]
            self.traj = (traj, idx, time.monotonic(), current[idx])

    def command_vector(self) -> np.ndarray:
        """The target currently applied (what a new trajectory starts from)."""
        if self.traj is None:
            return self.hold.copy()
        traj, idx, t0, start = self.traj
        out = self.hold.copy()
        out[idx] = sample(traj, time.monotonic() - t0, start)
        return out

    def _run_or_exit(self, what: str, loop: Callable[[], None]) -> None:
        if self.realtime:  # the robot's drivers: a real one runs its control loop real-time too
            self.get_logger().info(f"{what} thread scheduling: {raise_thread_priority(CONTROL_FIFO_PRIORITY)}")
        try:
            loop()
        except Exception as exc:
            # A sim that cannot step or draw is worse than none: report, then end the process so
            # the launcher's respawn brings a fresh one.
            self.report_error(f"{what} loop failed: {exc!r}; exiting for a respawn")
            time.sleep(0.5)  # let the report go out
            os.kill(os.getpid(), signal.SIGTERM)

    def _step_in_real_time(self) -> None:
        dt = 0.005
        state_period = 1.0 / self.state_hz
        next_state = next_pose = t = time.monotonic()
        while not self._stop.is_set():
            t += dt
            with self.lock:
                target = self.command_vector()
                if self.traj is not None and time.monotonic() - self.traj[2] >= self.traj[0].times_s[-1]:
                    self.hold, self.traj = target, None  # trajectory finished: hold its last point
                clipped = self.world.set_command(target[:7], target[7])
                self.world.step(dt)
            if clipped:
                self.get_logger().warning("command clipped to joint limits", throttle_duration_sec=2.0)
            now = time.monotonic()
            if now >= next_state:
                next_state += state_period  # on a fixed grid: a late tick does not stretch the period
                if next_state <= now:
                    next_state = now + state_period  # far behind: skip, no burst
                self.publish_joint_state()
            if now >= next_pose:
                next_pose = now + 0.1
                self.publish_poses()
            delay = t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.25:
                t = time.monotonic()  # fell far behind (e.g. the machine stalled): drop the debt

    def _render_frames(self) -> None:
        """The camera on a thread of its own: a frame's cost never holds up the physics.

        Each frame draws a copy of the state taken under the lock (microseconds), so the
        physics steps on while the frame renders.
        """
        snapshot = mujoco.MjData(self.world.model)
        period = 1.0 / self.camera_hz
        next_frame = time.monotonic()
        try:
            while not self._stop.is_set():
                with self.lock:
                    mujoco.mj_copyData(snapshot, self.world.model, self.world.data)
                    stamp = ev.now_ns()  # the state being rendered is the state at this instant
                t0 = time.perf_counter()
                rgb = self.world.render(self.camera, data=snapshot)
                t1 = time.perf_counter()
                self.publish_image(rgb, stamp)
                # The first stages of camera → command (the policy node measures the rest).
                self.publish_latency("camera_render_ms", (t1 - t0) * 1e3)
                self.publish_latency("camera_publish_ms", (time.perf_counter() - t1) * 1e3)
                next_frame += period
                delay = next_frame - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_frame = time.monotonic()  # a slow frame: the next one starts now, no burst
        finally:
            self.world.close()  # the GL context belongs to this thread: release it here

    def publish_joint_state(self) -> None:
        msg = JointState()
        msg.header.stamp = ns_to_stamp(ev.now_ns())
        msg.name = JOINT_NAMES
        with self.lock:
            msg.position = self.world.joint_positions().tolist()
            msg.velocity = self.world.joint_velocities().tolist()
        self.joint_pub.publish(msg)

    def publish_image(self, rgb: np.ndarray, stamp: int) -> None:
        msg = Image()
        msg.header.stamp = ns_to_stamp(stamp)
        msg.header.frame_id = f"{self.camera}_camera"
        msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
        msg.encoding = "rgb8"
        msg.step = msg.width * 3
        msg.data = rgb.tobytes()
        self.image_pub.publish(msg)

    def publish_poses(self) -> None:
        msg = ObjectPoses()
        msg.header.stamp = ns_to_stamp(ev.now_ns())
        msg.header.frame_id = "world"
        with self.lock:
            for name in self.world.object_names():
                pos, quat = self.world.object_pose(name)
                p = Pose()
                p.position.x, p.position.y, p.position.z = (float(v) for v in pos)
                p.orientation.w, p.orientation.x, p.orientation.y, p.orientation.z = (float(v) for v in quat)
                msg.names.append(name)
                msg.poses.append(p)
            bin_pos = self.world.bin_position()
            if bin_pos is not None:
                p = Pose()
                p.position.x, p.position.y, p.position.z = (float(v) for v in bin_pos)
                p.orientation.w = 1.0
                msg.names.append("bin")
                msg.poses.append(p)
        self.pose_pub.publish(msg)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)


def main(args=None) -> None:
    run(SimNode)


if __name__ == "__main__":
    main()
