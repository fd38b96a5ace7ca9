"""vision_perception as a real process on the real sim's camera, checked through ROS 2 traffic only."""
from __future__ import annotations

import time

import numpy as np
import pytest
from builtin_interfaces.msg import Duration
from sensor_msgs.msg import Image
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.arm.robot import HOME_Q
from seal_nodes.nodes.common import SealNode, stamp_to_ns, subscription
from seal_nodes.stack.session import StackSession
from tests.integration.conftest import wait_event

pytestmark = pytest.mark.integration

# Only the two nodes under test. Re-announcing every 2 s gives object_seen events on demand.
LAUNCH = """
launch:
- set_env: {name: MUJOCO_GL, value: egl}
- node:
    pkg: seal_bringup
    exec: sim
    name: sim
    param:
    - {name: seed, value: 0}
    - {name: camera_hz, value: 20.0}
- node:
    pkg: seal_bringup
    exec: vision_perception
    name: vision_perception
    param:
    - {name: camera_name, value: front}
    - {name: reannounce_s, value: 2.0}
"""


@pytest.fixture(scope="module")
def vision(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vision")
    (folder / "vision.launch.yaml").write_text(LAUNCH)
    log = folder / "nodes.log"
    with StackSession(launch_file=folder / "vision.launch.yaml", node_log=log) as session:
        stamps: set[int] = set()  # every camera frame's stamp, to check the events' stamps against
        subscription(session.node, topics.CAMERA, lambda m: stamps.add(stamp_to_ns(m.header.stamp)))
        session.frame_stamps = stamps
        session.wait_for(lambda: session.node.count_subscribers(topics.CAMERA.name) >= 3
                         and bool(session.messages(topics.OBJECT_POSES)), 90, "sim and vision_perception")
        yield session
    print(log.read_text()[-4000:])


def a_frame_stamp(session: StackSession, stamp_ns: int) -> bool:
    """Is ``stamp_ns`` a camera frame's? One this test received, or one in a gap of the frames it
    received: its subscription is best effort, and a loaded machine drops frames on the way."""
    if stamp_ns in session.frame_stamps:
        return True
    seen = sorted(session.frame_stamps.copy())  # copy(): atomic while the executor adds to it
    i = int(np.searchsorted(seen, stamp_ns))
    if i == 0 or i == len(seen):
        return False
    period = float(np.median(np.diff(seen)))
    return seen[i] - seen[i - 1] > 1.5 * period


def truth(session: StackSession) -> dict[str, np.ndarray]:
    last = session.messages(topics.OBJECT_POSES)[-1].msg
    return {n: np.array([p.position.x, p.position.y, p.position.z]) for n, p in zip(last.names, last.poses)}


def vision_events(session: StackSession, type_: str, since: int) -> list:
    return [r for r in session.events(type_, since) if r.msg.source == "vision_perception"]


def test_object_seen_carries_frame_stamps_and_table_positions(vision):
    since = time.time_ns()
    vision.wait_for(lambda: {r.msg.text for r in vision_events(vision, ev.OBJECT_SEEN, since)}
                    >= {"red cube", "green cube", "blue cube"}, 60, "every cube announced")
    poses = truth(vision)
    for r in vision_events(vision, ev.OBJECT_SEEN, since):
        p = ev.Event.parse_payload(r.msg.payload_json)
        assert a_frame_stamp(vision, stamp_to_ns(r.msg.header.stamp)), "not the stamp of a camera frame"
        assert stamp_to_ns(r.msg.header.stamp) < r.t_ns
        assert p["frame"] == "world" and p["image_size"] == [224, 224]
        assert np.hypot(*(np.array(p["position"][:2]) - poses[p["name"]][:2])) < 0.02, (p, poses[p["name"]])


def test_the_arm_moving_gives_one_unexplained_scene_change(vision):
    pub = vision.publisher(topics.ARM_TRAJECTORY)
    vision.wait_for(lambda: pub.get_subscription_count() >= 1, 10, "the sim to follow trajectories")

    def move(q: np.ndarray) -> None:
        point = JointTrajectoryPoint(positions=q.tolist(), time_from_start=Duration(sec=1))
        pub.publish(JointTrajectory(joint_names=[f"panda_joint{i}" for i in range(1, 8)], points=[point]))

    since = time.time_ns()
    move(HOME_Q + np.array([0.6, 0.5, 0, 0, 0, 0, 0]))
    change = wait_event(vision, ev.SCENE_CHANGE, since, where=lambda r: r.msg.source == "vision_perception")
    p = ev.Event.parse_payload(change.msg.payload_json)
    assert p["kind"] == "unexplained" and p["regions"] and stamp_to_ns(change.msg.header.stamp) >= since
    assert a_frame_stamp(vision, stamp_to_ns(change.msg.header.stamp))
    time.sleep(2.5)  # the move (1 s) and its settling: still just the one event
    assert len(vision_events(vision, ev.SCENE_CHANGE, since)) == 1
    since = time.time_ns()
    move(HOME_Q)
    wait_event(vision, ev.SCENE_CHANGE, since, where=lambda r: r.msg.source == "vision_perception")
    time.sleep(2.0)


def test_a_malformed_image_is_reported_and_the_node_keeps_serving(vision):
    pid = vision.supervisor.status()["vision_perception"].pid
    pub = vision.publisher(topics.CAMERA)
    vision.wait_for(lambda: pub.get_subscription_count() >= 2, 10, "the image subscribers")
    since = time.time_ns()

    def reported(text: str) -> bool:
        return any(text in r.msg.text for r in vision_events(vision, ev.ERROR, since))

    # The camera topic is best effort: the bad frames go on until both are reported, as a sensor's would.
    deadline = time.monotonic() + 60
    while not (reported("does not match 224 rows") and reported("unsupported image encoding")):
        assert time.monotonic() < deadline, [r.msg.text for r in vision_events(vision, ev.ERROR, since)]
        pub.publish(Image(height=224, width=224, encoding="rgb8", step=672, data=bytes(100)))
        pub.publish(Image(height=224, width=224, encoding="16UC1", step=448, data=bytes(224 * 448)))
        time.sleep(0.2)
    # reported, not flooded: one report per kind of fault as each refusal window opens
    windows = (time.time_ns() - since) / 1e9 / SealNode.REFUSAL_WINDOW_S + 1
    assert len([r for r in vision_events(vision, ev.ERROR, since) if "does not match" in r.msg.text]) <= windows
    after = time.time_ns()
    seen = wait_event(vision, ev.OBJECT_SEEN, after, where=lambda r: r.msg.source == "vision_perception")
    assert a_frame_stamp(vision, stamp_to_ns(seen.msg.header.stamp))
    assert vision.supervisor.status()["vision_perception"].pid == pid
