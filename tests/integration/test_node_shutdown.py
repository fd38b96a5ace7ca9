"""A node's shutdown is not abandoned halfway by a second signal (Ctrl-C twice, the launcher's SIGTERM)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

# A real rclpy node run by the project's ``run``; its close() takes a second, like a node joining threads.
NODE = textwrap.dedent("""
    import sys, time
    from rclpy.node import Node
    from seal_nodes.nodes.common import run

    class Slow(Node):
        def __init__(self):
            super().__init__("slow_close")
            self.timer = self.create_timer(0.05, self.ready)  # spinning: run() holds the node now

        def ready(self):
            self.timer.cancel()
            print("ready", flush=True)

        def close(self):
            print("closing", flush=True)
            time.sleep(1.0)
            print("closed", flush=True)

    run(Slow)
""")


def test_a_second_signal_during_close_lets_close_finish() -> None:
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    proc = subprocess.Popen([sys.executable, "-c", NODE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline().strip() == "closing"
        proc.send_signal(signal.SIGTERM)  # the launcher's second step, while close() runs
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "closed" in out, err
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "while stopping" in err
