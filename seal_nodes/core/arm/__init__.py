"""The arm shared by the simulator, the policy and the nodes: robot model, kinematics, limits, trajectories.

MuJoCo picks its GL backend once, when it is first imported, and the robot model may be the
first to import it; the simulator renders headless (EGL) unless the caller chose a backend.
"""
import os

os.environ.setdefault("MUJOCO_GL", "egl")
