"""Arm kinematics on the robot model (FK, damped-least-squares IK) and the command every arm controller gives.

Controllers (the simulator's scripted experts, the learned policy) do their IK on their own
kinematics-only copy of the robot (``robot.robot_model()``); they never touch simulator state.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from seal_nodes.core.arm.robot import ARM_JOINTS, HOME_Q, TCP_SITE, robot_model

# Gripper pointing down, fingers closing along world y (matches axis-aligned cubes).
DOWN_ROT = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


@dataclass
class ArmCommand:
    """One control step of an arm controller: joint targets, gripper, and how the task goes."""

    arm_q: np.ndarray  # 7 joint position targets [rad]
    gripper: float  # 0 = open .. 1 = closed
    phase: str
    progress: float  # 0..1 over the whole task
    done: bool  # the task ended (successfully unless ``failed``)
    failed: bool = False  # ended without success (e.g. the cube kept slipping out)


class ArmIK:
    """Damped-least-squares IK of the TCP site (position + orientation), 7 arm DoF."""

    def __init__(self, model: mujoco.MjModel | None = None, site: str = TCP_SITE) -> None:
        self.model = model if model is not None else robot_model()
        self.data = mujoco.MjData(self.model)
        m = self.model
        jids = [m.joint(j).id for j in ARM_JOINTS]
        self._qadr = m.jnt_qposadr[jids]
        self._dadr = m.jnt_dofadr[jids]
        margin = 0.02  # stay off hard limits so the servo never presses into them
        self.lower = m.jnt_range[jids, 0] + margin
        self.upper = m.jnt_range[jids, 1] - margin
        self._site = m.site(site).id
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))

    def fk(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TCP position and 3x3 rotation for arm joints ``q``."""
        self.data.qpos[self._qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self._site].copy(), self.data.site_xmat[self._site].reshape(3, 3).copy()

    def solve(
        self,
        pos: np.ndarray,
        rot: np.ndarray,
        q_seed: np.ndarray,
        iters: int = 30,
        damping: float = 0.02,
        rot_weight: float = 0.3,
        posture: np.ndarray | None = HOME_Q,
        tol: float = 1e-4,
    ) -> tuple[np.ndarray, float]:
        """Joint solution near ``q_seed`` and its final weighted task-space error."""
        m, d = self.model, self.data
        q = np.clip(np.asarray(q_seed, dtype=float).copy(), self.lower, self.upper)
        tq, cq, rot_err = np.zeros(4), np.zeros(4), np.zeros(3)
        mujoco.mju_mat2Quat(tq, np.ascontiguousarray(rot).ravel())
        err_norm = np.inf
        for _ in range(iters):
            d.qpos[self._qadr] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)  # cdof, needed by the Jacobian
            e_pos = pos - d.site_xpos[self._site]
            mujoco.mju_mat2Quat(cq, d.site_xmat[self._site])
            mujoco.mju_subQuat(rot_err, tq, cq)  # rotation error in the site frame [rad]
            dq_rot = d.site_xmat[self._site].reshape(3, 3) @ rot_err  # -> world frame
            err = np.concatenate([e_pos, rot_weight * dq_rot])
            err_norm = float(np.linalg.norm(err))
            if err_norm < tol:
                break
            mujoco.mj_jacSite(m, d, self._jacp, self._jacr, self._site)
            jac = np.vstack([self._jacp[:, self._dadr], rot_weight * self._jacr[:, self._dadr]])
            jjt = jac @ jac.T + damping**2 * np.eye(6)
            dq = jac.T @ np.linalg.solve(jjt, err)
            if posture is not None:  # null-space pull toward a comfortable posture
                pinv = jac.T @ np.linalg.inv(jjt)
                dq += (np.eye(7) - pinv @ jac) @ (0.02 * (posture - q))
            step = np.max(np.abs(dq))
            if step > 0.2:
                dq *= 0.2 / step
            q = np.clip(q + dq, self.lower, self.upper)
        return q, err_norm
