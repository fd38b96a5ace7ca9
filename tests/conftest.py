"""Every test process: DDS on this machine only, its own ROS domain, headless MuJoCo, a memory of its own."""
import atexit
import os
import shutil
import tempfile

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
# A domain of its own per test run, so parallel runs (and a developer's running stack) never mix.
os.environ.setdefault("ROS_DOMAIN_ID", str(10 + os.getpid() % 80))
os.environ.setdefault("MUJOCO_GL", "egl")
# Nodes a test starts keep their memory in a folder of this run, never in the user's own.
os.environ["SEAL_MEMORY_DIR"] = tempfile.mkdtemp(prefix="seal-test-memory-")
atexit.register(shutil.rmtree, os.environ["SEAL_MEMORY_DIR"], True)
