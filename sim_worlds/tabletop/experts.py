"""Scripted experts for closed-loop control (20-50 Hz) of the Panda in TabletopWorld.

The experts only see what a real controller sees (measured joints, gripper, object
position) and do inverse kinematics on their own kinematics-only copy of the robot
model (``seal_nodes.core.arm.kinematics.ArmIK``); they never touch simulator state.
Every expert is deterministic: same call sequence -> same outputs.
"""

from __future__ import annotations

import numpy as np

from seal_nodes.core.arm.kinematics import DOWN_ROT, ArmCommand, ArmIK
from seal_nodes.core.arm.robot import HOME_Q

PHASES = ("approach", "descend", "grasp", "lift", "done")


def _near(wp: np.ndarray, goal: np.ndarray) -> bool:
    """The waypoint has arrived (1 mm: a resting cube creeps by micrometres between calls)."""
    return bool(np.linalg.norm(wp - goal) < 1e-3)


def _move_towards(cur: np.ndarray, goal: np.ndarray, max_step: float) -> np.ndarray:
    delta = goal - cur
    dist = float(np.linalg.norm(delta))
    return goal.copy() if dist <= max_step else cur + delta * (max_step / dist)


class PickExpert:
    """approach (above cube) -> descend -> grasp (close) -> lift -> done.

    The Cartesian waypoint moves at most ``max_speed * dt`` per ``act`` call, and the
    joint targets are IK solutions seeded with the previous command, so the output
    is a smooth trajectory. Phase transitions use the *measured* joints (via FK).
    A lift where the cube stays behind re-opens and retries (``max_retries``).
    """

    def __init__(
        self,
        dt: float = 0.04,
        max_speed: float = 0.25,
        approach_height: float = 0.10,
        grasp_offset: float = 0.0,
        lift_height: float = 0.15,
        max_retries: int = 2,
        ik: ArmIK | None = None,
    ) -> None:
        self.ik = ik if ik is not None else ArmIK()
        self.dt = dt
        self.max_step = max_speed * dt
        self.approach_height = approach_height
        self.grasp_offset = grasp_offset
        self.lift_height = lift_height
        self.max_retries = max_retries
        self.reset("")

    def reset(self, target_name: str) -> None:
        self.target_name = target_name
        self.phase = "approach"
        self._wp: np.ndarray | None = None  # commanded TCP waypoint
        self._q_cmd: np.ndarray | None = None
        self._grip_cmd = 0.0
        self._phase_t = 0.0
        self._grasp_xyz: np.ndarray | None = None
        self._obj_z0: float | None = None
        self._prev_grip = 0.0
        self.retries = 0

    def _set_phase(self, phase: str) -> None:
        self.phase, self._phase_t = phase, 0.0

    def act(self, q: np.ndarray, gripper: float, object_pos: np.ndarray) -> ArmCommand:
        q = np.asarray(q, dtype=float)[:7]
        obj = np.asarray(object_pos, dtype=float)
        tcp, _ = self.ik.fk(q)
        if self._wp is None:
            self._wp, self._q_cmd = tcp.copy(), q.copy()
        if self._obj_z0 is None:
            self._obj_z0 = float(obj[2])
        self._phase_t += self.dt
        above = obj + [0.0, 0.0, self.approach_height]
        at_grasp = obj + [0.0, 0.0, self.grasp_offset]
        frac = 0.0

        if self.phase == "approach":
            goal, self._grip_cmd = above, 0.0
            dist = np.linalg.norm(tcp - goal)
            frac = 1.0 - min(1.0, dist / 0.4)
            if _near(self._wp, goal) and dist < 0.015:
                self._set_phase("descend")
        if self.phase == "descend":
            goal = at_grasp
            dist = np.linalg.norm(tcp - goal)
            frac = 1.0 - min(1.0, dist / self.approach_height)
            if _near(self._wp, goal) and dist < 0.008:
                self._grasp_xyz = goal.copy()
                self._prev_grip = float(gripper)
                self._set_phase("grasp")
        if self.phase == "grasp":
            goal = self._grasp_xyz
            self._grip_cmd = min(1.0, self._grip_cmd + 0.25)  # ramp closed over ~4 calls
            settled = abs(gripper - self._prev_grip) < 0.01 and gripper > 0.15
            self._prev_grip = float(gripper)
            frac = min(1.0, self._phase_t / 0.8)
            if self._grip_cmd >= 1.0 and ((settled and self._phase_t >= 0.4) or self._phase_t >= 1.2):
                self._set_phase("lift")
        if self.phase == "lift":
            goal = self._grasp_xyz + [0.0, 0.0, self.lift_height]
            frac = min(1.0, max(0.0, (tcp[2] - self._grasp_xyz[2]) / self.lift_height))
            lifted = obj[2] - self._obj_z0 >= 0.6 * self.lift_height
            if lifted and _near(self._wp, goal) and np.linalg.norm(tcp - goal) < 0.02:
                self._set_phase("done")
            elif tcp[2] - obj[2] > 0.06 and self.retries < self.max_retries:
                self.retries += 1  # cube slipped out: open and try again
                self._grip_cmd = 0.0
                self._set_phase("approach")
                goal = above
            elif tcp[2] - obj[2] > 0.06:
                self._set_phase("failed")  # slipped out again with no retries left
        if self.phase == "failed":
            return ArmCommand(self._q_cmd.copy(), 0.0, "failed", 0.0, done=True, failed=True)
        if self.phase == "done":
            goal, frac = self._wp, 1.0

        self._wp = _move_towards(self._wp, goal, self.max_step)
        q_new, _ = self.ik.solve(self._wp, DOWN_ROT, self._q_cmd)
        # Joint-space safety bound per call on top of the Cartesian one.
        self._q_cmd = self._q_cmd + np.clip(q_new - self._q_cmd, -0.15, 0.15)
        idx = PHASES.index(self.phase)
        progress = 1.0 if self.phase == "done" else (idx + frac) / (len(PHASES) - 1)
        return ArmCommand(self._q_cmd.copy(), float(self._grip_cmd), self.phase, float(progress),
                            done=self.phase == "done")


class HomeExpert:
    """Moves the arm back to ``HOME_Q`` in joint space with bounded steps, gripper open."""

    def __init__(self, dt: float = 0.04, max_joint_speed: float = 1.0, tol: float = 0.02) -> None:
        self.max_step = max_joint_speed * dt
        self.tol = tol
        self._q_cmd: np.ndarray | None = None
        self._start_err = 1.0

    def reset(self, target_name: str = "") -> None:
        self._q_cmd = None

    def act(self, q: np.ndarray, gripper: float, object_pos: np.ndarray | None = None) -> ArmCommand:
        q = np.asarray(q, dtype=float)[:7]
        if self._q_cmd is None:
            self._q_cmd = q.copy()
            self._start_err = max(float(np.max(np.abs(HOME_Q - q))), 1e-6)
        self._q_cmd = self._q_cmd + np.clip(HOME_Q - self._q_cmd, -self.max_step, self.max_step)
        err = float(np.max(np.abs(HOME_Q - q)))
        done = err < self.tol
        progress = 1.0 if done else float(np.clip(1.0 - err / self._start_err, 0.0, 1.0))
        return ArmCommand(self._q_cmd.copy(), 0.0, "done" if done else "home", progress, done)


class _WaypointExpert:
    """Base of the Cartesian experts: a TCP waypoint moved at bounded speed, IK to joints."""

    def __init__(self, dt: float = 0.05, max_speed: float = 0.25, ik: ArmIK | None = None) -> None:
        self.ik = ik if ik is not None else ArmIK()
        self.dt = dt
        self.max_step = max_speed * dt
        self._wp: np.ndarray | None = None
        self._q_cmd: np.ndarray | None = None

    def _start(self, q: np.ndarray) -> np.ndarray:
        tcp, _ = self.ik.fk(q)
        if self._wp is None:
            self._wp, self._q_cmd = tcp.copy(), q.copy()
        return tcp

    def _reached(self, tcp: np.ndarray, goal: np.ndarray, tol: float) -> bool:
        return bool(_near(self._wp, goal) and np.linalg.norm(tcp - goal) < tol)

    def _command(self, goal: np.ndarray) -> np.ndarray:
        self._wp = _move_towards(self._wp, goal, self.max_step)
        q_new, _ = self.ik.solve(self._wp, DOWN_ROT, self._q_cmd)
        self._q_cmd = self._q_cmd + np.clip(q_new - self._q_cmd, -0.15, 0.15)
        return self._q_cmd.copy()


class PlaceExpert(_WaypointExpert):
    """Pick (PickExpert) -> carry above the bin -> lower -> release -> retreat -> done."""

    STAGES = ("pick", "carry", "lower", "release", "retreat", "done")

    def __init__(self, bin_pos: np.ndarray, dt: float = 0.05, ik: ArmIK | None = None) -> None:
        super().__init__(dt, ik=ik)
        self.bin = np.asarray(bin_pos, dtype=float)
        self.pick = PickExpert(dt=dt, ik=self.ik)
        self.reset("")

    def reset(self, target_name: str, stage: str = "pick") -> None:
        """``stage``: where to begin when taking over mid-task ("carry": the object is in the
        gripper; "lower": in the gripper above the bin, so lower and let go; "retreat": it is in
        the bin already)."""
        if stage not in ("pick", "carry", "lower", "retreat"):
            raise ValueError(f"cannot begin a place at stage {stage!r}")
        self.pick.reset(target_name)
        self.stage, self._t, self._wp, self._q_cmd = stage, 0.0, None, None

    def act(self, q: np.ndarray, gripper: float, object_pos: np.ndarray) -> ArmCommand:
        q = np.asarray(q, dtype=float)[:7]
        if self.stage == "pick":
            a = self.pick.act(q, gripper, object_pos)
            if a.failed or not a.done:
                return ArmCommand(a.arm_q, a.gripper, a.phase, 0.5 * a.progress, a.done, a.failed)
            self.stage, self._wp, self._q_cmd = "carry", self.pick._wp.copy(), a.arm_q.copy()
        tcp = self._start(q)
        self._t += self.dt
        above, low = self.bin + [0.0, 0.0, 0.20], self.bin + [0.0, 0.0, 0.10]
        grip = 1.0
        if self.stage == "carry":
            goal = above
            if self._reached(tcp, goal, 0.02):
                self.stage = "lower"
        if self.stage == "lower":
            goal = low
            if self._reached(tcp, goal, 0.015):
                self.stage, self._t = "release", 0.0
        if self.stage == "release":
            goal, grip = low, 0.0
            if self._t >= 0.6:
                self.stage = "retreat"
        if self.stage == "retreat":
            goal, grip = above, 0.0
            if self._reached(tcp, goal, 0.03):
                self.stage = "done"
        if self.stage == "done":
            goal, grip = self._wp, 0.0
        arm = self._command(goal)
        i = self.STAGES.index(self.stage)
        progress = 1.0 if self.stage == "done" else 0.5 + 0.5 * i / (len(self.STAGES) - 1)
        return ArmCommand(arm, grip, self.stage, progress, done=self.stage == "done")


class PushExpert(_WaypointExpert):
    """Closed gripper beside the cube -> down to table level -> push ``distance`` along y -> up."""

    STAGES = ("approach", "descend", "push", "retreat", "done")

    def __init__(self, direction: str, dt: float = 0.05, distance: float = 0.10,
                 ik: ArmIK | None = None) -> None:
        super().__init__(dt, max_speed=0.2, ik=ik)
        if direction not in ("left", "right"):
            raise ValueError(f"direction must be left or right, got {direction!r}")
        self.sign = 1.0 if direction == "left" else -1.0  # the robot's left is +y
        self.distance = distance
        self.reset("")

    def reset(self, target_name: str) -> None:
        self.stage, self._wp, self._q_cmd, self._start_xy = "approach", None, None, None

    def act(self, q: np.ndarray, gripper: float, object_pos: np.ndarray) -> ArmCommand:
        q = np.asarray(q, dtype=float)[:7]
        obj = np.asarray(object_pos, dtype=float)
        tcp = self._start(q)
        if self._start_xy is None:
            self._start_xy = obj[:2].copy()
        behind = np.r_[self._start_xy + [0.0, -self.sign * 0.075], 0.0]
        if self.stage == "approach":
            goal = behind + [0.0, 0.0, 0.12]
            if self._reached(tcp, goal, 0.02):
                self.stage = "descend"
        if self.stage == "descend":
            goal = behind + [0.0, 0.0, 0.02]
            if self._reached(tcp, goal, 0.01):
                self.stage = "push"
        if self.stage == "push":
            goal = behind + [0.0, self.sign * (self.distance + 0.02), 0.02]
            if self._reached(tcp, goal, 0.015):
                self.stage = "retreat"
        if self.stage == "retreat":
            goal = np.r_[self._wp[:2], 0.15]
            if self._reached(tcp, goal, 0.02):
                self.stage = "done"
        if self.stage == "done":
            goal = self._wp
        arm = self._command(goal)
        i = self.STAGES.index(self.stage)
        return ArmCommand(arm, 1.0, self.stage, i / (len(self.STAGES) - 1), done=self.stage == "done")


class PointExpert(_WaypointExpert):
    """Closed gripper to ``height`` above the cube, held there for ``hold_s``, then done."""

    STAGES = ("approach", "hold", "done")

    def __init__(self, dt: float = 0.05, height: float = 0.08, hold_s: float = 0.5,
                 ik: ArmIK | None = None) -> None:
        super().__init__(dt, ik=ik)
        self.height, self.hold_s = height, hold_s
        self.reset("")

    def reset(self, target_name: str) -> None:
        self.stage, self._wp, self._q_cmd, self._t = "approach", None, None, 0.0

    def act(self, q: np.ndarray, gripper: float, object_pos: np.ndarray) -> ArmCommand:
        q = np.asarray(q, dtype=float)[:7]
        tcp = self._start(q)
        goal = np.asarray(object_pos, dtype=float) + [0.0, 0.0, self.height]
        if self.stage == "approach" and self._reached(tcp, goal, 0.012):
            self.stage = "hold"
        if self.stage == "hold":
            self._t += self.dt
            if self._t >= self.hold_s:
                self.stage = "done"
        arm = self._command(goal)
        i = self.STAGES.index(self.stage)
        return ArmCommand(arm, 1.0, self.stage, i / (len(self.STAGES) - 1), done=self.stage == "done")
