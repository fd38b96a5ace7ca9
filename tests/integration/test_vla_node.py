"""The vla_policy node with the learned policy, against the MuJoCo sim node, on real topics."""
from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from sensor_msgs.msg import Image, JointState

from seal_interfaces.action import Manipulate
from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.nodes.common import subscription
from seal_nodes.stack.measure import POLICY_STAGES
from seal_nodes.stack.session import StackSession
from tests.integration.conftest import call, wait_event

pytestmark = pytest.mark.integration
LAUNCH = Path(__file__).with_name("vla_sim.launch.yaml")


@pytest.fixture(scope="module")
def arm(tmp_path_factory):
    log = tmp_path_factory.mktemp("vla") / "nodes.log"
    with StackSession(launch_file=LAUNCH, node_log=log) as session:
        session.wait_for(lambda: bool(session.messages(topics.CAMERA)) and bool(session.messages(topics.OBJECT_POSES))
                         and session.manip_client.server_is_ready(), 90, "sim and vla_policy")
        yield session
    print(log.read_text()[-3000:])


def test_learned_policy_runs_frame_by_frame_within_limits_and_ends_the_goal_itself(arm):
    """The closed loop, not the policy's skill (that is `seal eval-vla`'s job): one command per
    camera frame, every command inside the joint limits, and the policy's own status ends the goal."""
    from seal_nodes.core.arm.robot import robot_model
    m = robot_model()
    lower = np.array([m.joint(f"panda_joint{i}").range[0] for i in range(1, 8)])
    upper = np.array([m.joint(f"panda_joint{i}").range[1] for i in range(1, 8)])
    commands = []
    sub = subscription(arm.node, topics.ARM_TRAJECTORY, lambda msg: commands.append(list(msg.points[0].positions)))
    fb = []
    handle = call(arm.manip_client.send_goal_async(Manipulate.Goal(instruction="pick up the red cube", trace_id="L1"),
                                                   feedback_callback=lambda m: fb.append(m.feedback.phase)))
    res = call(handle.get_result_async(), 60)
    assert "timed out" not in res.result.message  # ended by the policy's done/fail signal
    assert res.result.message.endswith(": done") == res.result.success, res.result.message
    assert "approach" in fb
    lat = [r.msg for r in arm.messages(topics.LATENCY) if r.msg.trace_id == "L1"]
    assert {m.path for m in lat} == {"frame_to_command_ms", "policy_inference_ms", *POLICY_STAGES}
    assert len([m for m in lat if m.path == "policy_inference_ms"]) >= 20  # a closed loop, frame by frame
    arm.node.destroy_subscription(sub)
    q = np.array(commands)[:, :7]
    assert len(q) >= 20 and np.all(q >= lower) and np.all(q <= upper)
    assert np.abs(np.diff(q, axis=0)).max() <= 2.5 / 20.0 + 0.01  # the speed limit, per period


def test_the_control_path_asks_for_real_time_scheduling_and_says_what_it_got(arm):
    """With ``realtime:=true`` (this launch; off by default): a goal's control loop, the sim's physics
    and camera threads each say in the nodes' log what they got. The policy's executor thread, which
    takes whatever arrives, asks for nothing."""
    handle = call(arm.manip_client.send_goal_async(Manipulate.Goal(instruction="pick up the purple cube",
                                                                   trace_id="L5")))
    call(handle.get_result_async())  # refused inside the goal's thread: its scheduling is logged first
    log = ""
    deadline = time.monotonic() + 10.0
    while "control loop scheduling" not in log and time.monotonic() < deadline:  # the log reaches the file
        time.sleep(0.1)
        log = arm.node_log_path.read_text()
    said = r"(SCHED_FIFO priority 5|nice -?\d+|unchanged \(.+\))"
    assert "executor thread scheduling" not in log
    assert re.search(rf"control loop scheduling: {said}", log), log[-2000:]
    assert re.search(rf"simulation thread scheduling: {said}", log), log[-2000:]
    assert re.search(rf"camera thread scheduling: {said}", log), log[-2000:]


def test_cancel_holds_the_arm(arm):
    handle = call(arm.manip_client.send_goal_async(Manipulate.Goal(instruction="point at the blue cube",
                                                                   trace_id="L2")))
    time.sleep(0.8)
    call(handle.cancel_goal_async())
    res = call(handle.get_result_async())
    assert res.status == GoalStatus.STATUS_CANCELED and "holding" in res.result.message
    time.sleep(0.4)
    q1 = np.array(arm.messages(topics.JOINT_STATES)[-1].msg.position[:7])
    time.sleep(0.5)
    q2 = np.array(arm.messages(topics.JOINT_STATES)[-1].msg.position[:7])
    assert np.max(np.abs(q2 - q1)) < 0.01


def test_unknown_object_and_bad_input_are_refused_and_the_node_keeps_serving(arm):
    since = time.time_ns()
    handle = call(arm.manip_client.send_goal_async(Manipulate.Goal(instruction="pick up the purple cube",
                                                                   trace_id="L3")))
    res = call(handle.get_result_async())
    assert res.status == GoalStatus.STATUS_ABORTED and "unknown object" in res.result.message
    wait_event(arm, ev.ERROR, since, where=lambda r: r.msg.source == "vla_policy")
    img_pub = arm.publisher(topics.CAMERA)
    js_pub = arm.publisher(topics.JOINT_STATES)
    time.sleep(1.0)
    for _ in range(3):
        img_pub.publish(Image(height=224, width=224, encoding="mono8", step=224, data=[0] * 224 * 224))
        js_pub.publish(JointState(name=[f"panda_joint{i}" for i in range(1, 8)] + ["panda_gripper"],
                                  position=[math.nan] + [0.0] * 7))
        time.sleep(0.2)
    wait_event(arm, ev.ERROR, since, where=lambda r: "encoding" in r.msg.text)
    wait_event(arm, ev.ERROR, since, where=lambda r: "NaN" in r.msg.text)
    handle = call(arm.manip_client.send_goal_async(Manipulate.Goal(instruction="do a backflip", trace_id="L4")))
    res = call(handle.get_result_async())
    assert res.status == GoalStatus.STATUS_ABORTED and "no task matches" in res.result.message
    # Still serving after every bad input; a free wording the grammar does not parse is read, not refused.
    handle = call(arm.manip_client.send_goal_async(Manipulate.Goal(instruction="okay, could you head home now",
                                                                   trace_id="L5")))
    assert handle.accepted
    time.sleep(0.5)
    call(handle.cancel_goal_async())
    res = call(handle.get_result_async())
    assert res.status == GoalStatus.STATUS_CANCELED, res.result.message
