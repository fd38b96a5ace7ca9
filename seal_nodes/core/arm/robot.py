"""The robot: gym-hil's Franka Panda with a Robotiq 2F-85, as the simulator and the policy model it.

Robot source: ``gym_hil/assets/panda.xml`` (located with ``importlib.util.find_spec``,
never imported, never copied). What that file defines, and what we change at load time:

* Arm: 7 hinge joints ``joint1..joint7`` (armature 0.1, damping 1). Ranges [rad]:
  j1/j3/j5/j7 +-2.8973, j2 +-1.7628, j4 [-3.0718, -0.0698], j6 [-0.0175, 3.7525].
* Arm actuators ``actuator1..7`` are *torque motors* (ctrlrange +-87 N m for 1-4,
  +-12 N m for 5-7; gym-hil runs its own op-space controller). We need joint
  position commands, so we convert them to position servos (kp 4500/kv 450 for 1-4,
  kp 2000/kv 200 for 5-7, like MuJoCo Menagerie's Panda), keep the original torque
  limits as ``forcerange``, set ``ctrlrange`` to the joint range, and enable
  body gravity compensation on the robot so the servos have no static droop.
* Gripper: ``fingers_actuator`` is an affine position servo on the tendon ``split``
  (mean of the two ``*_driver_joint`` angles, range 0..0.8 rad), ctrlrange 0..255,
  force limited to +-5 N; ctrl 255 targets 0.8 rad = fully closed.
* TCP: site ``pinch`` on the gripper base, between the finger pads.

Conventions:

* Everything is attached with prefix ``panda_``: arm joints are ``panda_joint1..7``
  (the names published in /joint_states, = franka_description names), bodies
  ``panda_link0..7``, TCP site ``panda_pinch``.
* The robot base (``panda_link0``) is the origin of the frame it is attached in.
* Gripper value (command and measurement) is normalised: 0 = fully open,
  1 = fully closed. Measured = tendon ``split`` length / 0.8.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mujoco
import numpy as np

PREFIX = "panda_"
ARM_JOINTS: list[str] = [f"{PREFIX}joint{i}" for i in range(1, 8)]
# The gripper in /joint_states and trajectories: normalised, 0 = open … 1 = closed.
GRIPPER_NAME = f"{PREFIX}gripper"
JOINT_NAMES: list[str] = ARM_JOINTS + [GRIPPER_NAME]
ARM_ACTUATORS: list[str] = [f"{PREFIX}actuator{i}" for i in range(1, 8)]
GRIPPER_TENDON = f"{PREFIX}split"
GRIPPER_ACTUATOR = f"{PREFIX}fingers_actuator"
GRIPPER_CTRL_MAX = 255.0
GRIPPER_CLOSED_RAD = 0.8
TCP_SITE = f"{PREFIX}pinch"

# Panda "ready" pose: TCP ~0.5 m above the base, gripper pointing straight down.
HOME_Q = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])

_ARM_KP = [4500.0] * 4 + [2000.0] * 3
_ARM_KV = [450.0] * 4 + [200.0] * 3


def gym_hil_assets_dir() -> Path:
    """Folder holding panda.xml and its meshes (without importing gym_hil)."""
    spec = importlib.util.find_spec("gym_hil")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("gym_hil is not installed (needed for the Panda model)")
    return Path(list(spec.submodule_search_locations)[0]) / "assets"


def panda_spec() -> mujoco.MjSpec:
    """panda.xml with position-servo arm actuators and gravity compensation."""
    path = gym_hil_assets_dir() / "panda.xml"
    robot = mujoco.MjSpec.from_file(str(path))
    # Absolute meshdir so mesh paths survive attaching into a spec from another folder.
    robot.meshdir = str(path.parent) + "/"
    for i in range(7):
        act = robot.actuator(f"actuator{i + 1}")
        joint = robot.joint(f"joint{i + 1}")
        torque = float(act.ctrlrange[1])
        act.set_to_position(kp=_ARM_KP[i], kv=_ARM_KV[i])
        act.ctrlrange = np.array(joint.range, dtype=float)
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = np.array([-torque, torque])
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    for body in robot.bodies:
        body.gravcomp = 1.0
    return robot


def attach_robot(parent: mujoco.MjSpec, base: tuple[float, float, float] = (0.0, 0.0, 0.0),
                 robot: mujoco.MjSpec | None = None) -> None:
    """Attach the robot (names prefixed ``panda_``) with its base at ``base`` in ``parent``'s world.

    ``robot``: a ``panda_spec()`` changed before attaching (e.g. lighter visual meshes).
    """
    frame = parent.worldbody.add_frame(pos=list(base))
    frame.attach_body((robot or panda_spec()).body("link0"), PREFIX, "")


def robot_spec() -> mujoco.MjSpec:
    """Robot alone (no scene), same names/frames as in the simulated world; for IK/FK."""
    spec = mujoco.MjSpec()
    spec.modelname = "panda_only"
    attach_robot(spec)
    return spec


def robot_model() -> mujoco.MjModel:
    """Kinematics model of the robot alone, base at the origin."""
    return robot_spec().compile()
