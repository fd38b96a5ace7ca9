"""`seal launch` as a user runs it: the graph comes up, another process sees it, Ctrl-C ends all."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy

from seal_nodes.core import topics
from seal_nodes.nodes.common import subscription

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_seal_launch_brings_up_the_graph_and_ctrl_c_stops_everything(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    log = (tmp_path / "launch.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "seal_nodes.cli", "launch", "launch/sim.launch.yaml", "seed:=3"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("launch_probe", context=ctx)
    counts = {"img": 0, "js": 0}
    subscription(node, topics.CAMERA, lambda m: counts.__setitem__("img", counts["img"] + 1))
    subscription(node, topics.JOINT_STATES, lambda m: counts.__setitem__("js", counts["js"] + 1))
    subscription(node, topics.EVENTS, lambda m: None)
    try:
        # Messages arrive on both sensor topics (their rates are measured by `seal bench`, not here).
        deadline = time.monotonic() + 60
        while (counts["img"] < 5 or counts["js"] < 20) and time.monotonic() < deadline:
            _spin(node, ctx, 0.1)
        assert counts["img"] >= 5, "no camera images from the launched graph"
        assert counts["js"] >= 20, "no joint states from the launched graph"
        types = dict(node.get_topic_names_and_types())
        assert types[topics.EVENTS.name] == [topics.EVENTS.type]
        assert node.count_publishers(topics.EVENTS.name) >= 4  # perception, thinker, tts, vla, sim
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    log.seek(0)
    text = log.read()
    assert code == 0, text[-3000:]
    pids = [int(p) for p in re.findall(r"started with pid (\d+)", text)]
    assert len(pids) >= 5
    assert not [p for p in pids if alive(p)], "node processes left behind"


def _spin(node, ctx, timeout: float) -> None:
    from rclpy.executors import SingleThreadedExecutor

    ex = getattr(node, "_probe_executor", None)
    if ex is None:
        ex = node._probe_executor = SingleThreadedExecutor(context=ctx)
        ex.add_node(node)
    ex.spin_once(timeout_sec=timeout)


def test_seal_launch_rejects_unknown_arguments():
    out = subprocess.run([sys.executable, "-m", "seal_nodes.cli", "launch", "launch/sim.launch.yaml", "colour:=red"],
                         cwd=REPO, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "unknown launch argument" in out.stderr and "seed" in out.stderr
