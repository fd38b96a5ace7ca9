"""The simulated tabletop as an arm skill's world: MuJoCo, the learned policy, colour vision, checked moves.

``SimArm`` implements ``core.skills.arm.model.ArmWorld`` in process (no ROS), with the parts the
stack uses: objects from the vision perception's colour blobs on the front camera's frame,
back-projected by the scene file's nominal camera (``core.perception.vision``; the simulator
jitters the real camera around it), the bin from the simulator's published pose (as on
/sim/object_poses), the grasp by the learned VLA policy's closed loop (``vla_policy.arm``), free
space by straight-line IK. Every arm command, the policy's included, passes
``core.arm.limits.SafetyLimits`` first, as in the ``vla_policy`` node. It counts policy steps and
keeps what the bench needs to judge side effects from the simulator's ground truth.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from seal_nodes.core.arm.kinematics import DOWN_ROT, ArmIK
from seal_nodes.core.arm.limits import DEFAULT_WORKSPACE, SafetyLimits, UnsafeCommand
from seal_nodes.core.perception.vision.features import CameraModel, camera_from_mjcf, color_table, detect_objects
from seal_nodes.core.skills.arm.model import ArmError, Point, SeenObject
from sim_worlds.tabletop.world import SCENES, TabletopWorld
from vla_policy.arm.runtime import LearnedPolicy

DT = 0.05  # the control period of the vla_policy node (20 Hz)
SPEED_M_S = 0.5  # free-space peak tool speed
CARRY_M_S = 0.25  # ... with a cube in hand: the policy's own carrying speed (faster shakes edge grasps loose)
REACH_M = 0.01  # a move has arrived when the tool is this close to its last waypoint
GRASP_S = 12.0  # the pick task's time limit
MAX_JOINT_SPEED = 2.5  # rad/s, the node's limit
TABLE_PLANE_Z = 0.02  # the height the vision perception assumes for an object on the table (a cube's centre)


class SimArm:
    """One simulated tabletop, driven through the ArmWorld contract."""

    def __init__(self, world: TabletopWorld, policy: LearnedPolicy, ik: ArmIK | None = None,
                 camera: CameraModel | None = None) -> None:
        self.world = world
        self.policy = policy
        self.ik = ik if ik is not None else ArmIK()
        self.camera = camera if camera is not None else camera_from_mjcf(SCENES[world.scene], "front")
        self.colors = color_table()
        lower, upper = world.joint_limits()
        self.limits = SafetyLimits(lower, upper, max_step=MAX_JOINT_SPEED * DT,
                                   tcp_position=lambda q: self.ik.fk(q)[0])
        self.reset_counts()
        self._q_cmd = world.joint_positions()[:7]
        self._grip_cmd = 0.0

    def reset_counts(self) -> None:
        self.policy_steps = 0
        self.control_steps = 0
        self.frames = 0
        self.empty_releases = 0  # a release with no cube in the gripper (ground truth)

    def sync(self) -> None:
        """Take the commands from where the arm is (after a reset or another controller)."""
        q = self.world.joint_positions()
        self._q_cmd, self._grip_cmd = q[:7].copy(), float(round(q[7]))

    # --- perception -----------------------------------------------------------------------------
    def perceive(self, height: float | None = None) -> list[SeenObject]:
        self.frames += 1
        plane = TABLE_PLANE_Z if height is None else float(height)
        found = detect_objects(self.world.render(), self.colors, camera=self.camera, plane_z=plane)
        return [SeenObject(d.name, d.world_xyz) for d in found if d.world_xyz is not None]

    def frame(self, name: str) -> Point | None:
        if name != "bin":
            return None
        b = self.world.bin_position()
        return None if b is None else tuple(float(v) for v in b)

    def tool(self) -> Point:
        return tuple(float(v) for v in self.world.ee_position())

    # --- acting ---------------------------------------------------------------------------------
    def send(self, arm_q: np.ndarray, gripper: float) -> None:
        """One control step: the command checked against the limits, then a period of physics."""
        q = self.world.joint_positions()
        try:
            q_send, _ = self.limits.check(arm_q, q[:7])
            grip = self.limits.check_gripper(gripper)
        except UnsafeCommand as exc:
            raise ArmError(f"command refused: {exc}") from exc
        self.world.set_command(q_send, grip)
        self.world.step(DT)
        self._q_cmd, self._grip_cmd = q_send, grip
        self.control_steps += 1

    def move(self, path: list[Point], gripper: float) -> None:
        """Through ``path`` with a minimum-jerk profile per leg, slower with something in hand."""
        if not path:
            return
        peak = SPEED_M_S if gripper < 0.5 else CARRY_M_S
        q_seed = self._q_cmd
        for goal in (np.asarray(p, dtype=float) for p in path):
            if not DEFAULT_WORKSPACE.contains(goal):
                raise ArmError(f"waypoint {np.round(goal, 3).tolist()} is outside the workspace")
            start = self.ik.fk(q_seed)[0]
            n = max(1, math.ceil(1.875 * float(np.linalg.norm(goal - start)) / (peak * DT)))
            for i in range(1, n + 1):
                s = i / n
                q, err = self.ik.solve(start + (goal - start) * (10 * s**3 - 15 * s**4 + 6 * s**5), DOWN_ROT, q_seed)
                if err > 0.01:
                    raise ArmError(f"no joint solution reaches {np.round(goal, 3).tolist()}")
                self.send(q, gripper)
                q_seed = q
        for _ in range(int(1.0 / DT)):  # the servos catch up with the last command
            if np.linalg.norm(self.world.ee_position() - goal) < REACH_M:
                return
            self.send(q_seed, gripper)
        raise ArmError(f"the tool did not reach {np.round(goal, 3).tolist()}")

    def grasp(self, instruction: str, lift_m: float) -> float:
        self.policy.reset(instruction, task="pick")
        close_z: float | None = None
        z = float(self.world.ee_position()[2])
        for _ in range(int(GRASP_S / DT)):
            q = self.world.joint_positions()
            a = self.policy.act(q[:7], float(q[7]), self.world.render())
            self.policy_steps += 1
            self.send(a.arm_q, a.gripper)
            z = float(self.world.ee_position()[2])
            if self.policy.grasp.held and close_z is None:
                close_z = z
            if a.done or (close_z is not None and z - close_z >= lift_m):
                break
        return 0.0 if close_z is None else z - close_z

    def set_gripper(self, value: float) -> None:
        if self._grip_cmd >= 0.5 > value:
            self._note_release()
        prev = float(self.world.joint_positions()[7])
        for i in range(int(1.5 / DT)):
            self.send(self._q_cmd, value)
            g = float(self.world.joint_positions()[7])
            if i * DT >= 0.3 and abs(g - prev) < 0.005:
                return
            prev = g

    # --- ground truth, for the bench's judgement only ---------------------------------------------
    def _note_release(self) -> None:
        tool = self.world.ee_position()
        near = [n for n in self.world.object_names() if np.linalg.norm(self.world.object_pose(n)[0] - tool) < 0.05]
        if not near:
            self.empty_releases += 1

    def positions(self) -> dict[str, np.ndarray]:
        w = self.world
        return {n: w.object_pose(n)[0] for n in w.object_names() + w.distractor_names()}


# --- injected changes (after the world's reset; ``inject`` returns what undoes them) -----------------
CHANGES = ("recolour", "missing", "grasp_fails")
OFF_COLOUR = (0.55, 0.2, 0.7)  # purple: no cube has it, the vision's table has no class for it
SLIPPERY = 0.02  # sliding friction of a cube that cannot be held (the cubes have 1)


def inject(world: TabletopWorld, change: str, name: str) -> Callable[[], None]:
    """``recolour``: the object painted purple; ``missing``: taken off the table (onto the floor
    behind the robot, out of view); ``grasp_fails``: slippery (friction 0.02), it slides out of the fingers."""
    m, d = world.model, world.data
    if change == "recolour":
        g = m.geom(name).id
        old = m.geom_rgba[g].copy()
        m.geom_rgba[g, :3] = OFF_COLOUR

        def undo() -> None:
            m.geom_rgba[g] = old
    elif change == "missing":
        a, v = m.joint(name).qposadr[0], m.joint(name).dofadr[0]
        d.qpos[a:a + 7] = (-0.6, 0.9, -0.72, 1.0, 0.0, 0.0, 0.0)
        d.qvel[v:v + 6] = 0.0
        world.set_arm(world.joint_positions()[:7], float(round(world.joint_positions()[7])))  # recomputes poses

        def undo() -> None:
            pass  # the next reset puts every object back on the table
    elif change == "grasp_fails":
        g = m.geom(name).id
        friction = m.geom_friction[g].copy()
        m.geom_friction[g, 0] = SLIPPERY

        def undo() -> None:
            m.geom_friction[g] = friction
    else:
        raise ValueError(f"unknown change {change!r}; known: {', '.join(CHANGES)}")
    return undo
