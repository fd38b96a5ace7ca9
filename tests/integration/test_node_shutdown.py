"""A node's shutdown is not abandoned halfway by a second signal (Ctrl-C twice, the launcher's SIGTERM)."""
from __future__ import annotations

import os
import select
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


def read_line(proc: subprocess.Popen, timeout_s: float = 60.0) -> str:
    """The child's next line of stdout, or "" if none comes in time (never blocks the suite)."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    return proc.stdout.readline().strip() if ready else ""


def test_a_second_signal_during_close_lets_close_finish() -> None:
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    # Started with SIGINT ignored, as a background job of a non-interactive shell (nohup, CI) is:
    # the node must stop on it all the same.
    proc = subprocess.Popen([sys.executable, "-c", NODE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert read_line(proc) == "ready"
        proc.send_signal(signal.SIGINT)
        assert read_line(proc) == "closing"
        proc.send_signal(signal.SIGTERM)  # the launcher's second step, while close() runs
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "closed" in out, err
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "while stopping" in err
