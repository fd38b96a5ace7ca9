"""A short flood of malformed messages on every subscribed topic and action of the sim graph:
no node exits, refusals are reported in bulk, and well-formed messages still get through."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter

import numpy as np
import pytest
from builtin_interfaces.msg import Duration
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from seal_nodes.bench.flood import run_flood
from seal_nodes.bench.flood_messages import GOALS, MARK, VARIANTS
from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.arm.robot import JOINT_NAMES
from seal_nodes.nodes.common import SealNode

pytestmark = pytest.mark.integration


def graph_state(stack) -> np.ndarray:
    """The sim's latest joint state (the flood's own JointStates left out)."""
    own = [r.msg for r in stack.messages(topics.JOINT_STATES) if r.msg.header.frame_id != MARK]
    return np.asarray(own[-1].position, dtype=float)


def test_a_flood_is_refused_cheaply_and_good_input_still_arrives(stack):
    since = time.time_ns()
    q = graph_state(stack)
    target = q.copy()
    target[0] = q[0] + (0.3 if q[0] < 0 else -0.3)
    pub = stack.publisher(topics.ARM_TRAJECTORY)
    good = JointTrajectory(joint_names=JOINT_NAMES, points=[
        JointTrajectoryPoint(positions=[float(v) for v in target], time_from_start=Duration(sec=1))])
    done = threading.Event()

    def controller() -> None:  # a well-behaved publisher streams its command, as vla_policy does
        while not done.wait(0.1):
            pub.publish(good)
    threading.Thread(target=controller, daemon=True).start()
    try:
        _, _, sent, _ = run_flood([t.name for t in VARIANTS] + [GOALS], seconds=4.0, rate=100.0)
        time.sleep(2.0)  # and on a little: a cancelled Manipulate goal's hold may still come in
        assert all(n > 0 for kind, n in sent.items() if kind != "publish_failed"), sent
        exits = [info for kind, info in stack.node_events if kind in ("exited", "gave_up")]
        assert not exits, exits
        # The well-formed trajectory, streamed through the flood and after it, is followed. When
        # during the flood is a figure of `seal flood` (how many queue slots it wins on a busy machine).
        stack.wait_for(lambda: abs(graph_state(stack)[0] - target[0]) < 0.05, 30,
                       "the arm at the good trajectory's target")
    finally:
        done.set()
    # Sensors still flow from the graph.
    n = len(stack.messages(topics.CAMERA))
    stack.wait_for(lambda: len(stack.messages(topics.CAMERA)) > n + 3, 15, "camera frames after the flood")
    # Refusals are reported in bulk: per node and kind of fault at most a report as a window opens
    # and one for what the window held back, however many messages came (on any machine's pace).
    elapsed_s = (time.time_ns() - since) / 1e9
    reports = [r.msg for r in stack.events(ev.ERROR, since) if r.msg.source != "flood"]
    refused = [(m.source, json.loads(m.payload_json)) for m in reports if '"refused"' in m.payload_json]
    assert refused, [m.text for m in reports][:10]
    per_kind = Counter((source, payload["fault"]) for source, payload in refused)
    windows = elapsed_s / SealNode.REFUSAL_WINDOW_S + 1
    assert max(per_kind.values()) <= 2 * windows, (per_kind.most_common(3), elapsed_s)
    stack.wait_for(lambda: any('"refused"' in r.msg.payload_json and json.loads(r.msg.payload_json)["refused"] > 1
                               for r in stack.events(ev.ERROR, since)), 15, "a report standing for many refusals")
