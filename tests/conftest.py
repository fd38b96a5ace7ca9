"""Every test process: DDS on this machine only, its own ROS domain, headless MuJoCo."""
import os

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
# A domain of its own per test run, so parallel runs (and a developer's running stack) never mix.
os.environ.setdefault("ROS_DOMAIN_ID", str(10 + os.getpid() % 80))
os.environ.setdefault("MUJOCO_GL", "egl")
