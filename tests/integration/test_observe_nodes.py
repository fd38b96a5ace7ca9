"""Watching a running stack: every node's /diagnostics, and the live view (foxglove_bridge) as the
Foxglove app sees it — a real WebSocket client subscribes and decodes camera and event frames.
Real node processes on real topics."""
from __future__ import annotations

import socket
import time

import pytest
from sensor_msgs.msg import Image

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.observe.health import WARN
from seal_nodes.nodes.common import event_to_msg, ns_to_stamp, publisher, subscription
from seal_nodes.stack.session import StackSession
from tests.helpers.foxglove_ws import foxglove_client

pytestmark = pytest.mark.integration

LAUNCH = """
launch:
- node:
    pkg: seal_bringup
    exec: foxglove_bridge
    name: foxglove_bridge
    param:
    - {name: port, value: PORT}
- node:
    pkg: seal_bringup
    exec: vision_perception
    name: vision_perception
    param:
    - {name: camera_name, value: ""}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def image(width: int = 8, height: int = 6, short: bool = False) -> Image:
    msg = Image(width=width, height=height, encoding="rgb8", step=width * 3)
    msg.header.stamp = ns_to_stamp(time.time_ns())
    msg.header.frame_id = "front"
    msg.data = bytes(range(256)) * (width * height * 3 // 256) + bytes(width * height * 3 % 256)
    if short:
        msg.data = msg.data[:-3]
    return msg


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("observe")
    port = free_port()
    (folder / "observe.launch.yaml").write_text(LAUNCH.replace("PORT", str(port)))
    log = folder / "nodes.log"
    with StackSession(launch_file=folder / "observe.launch.yaml", node_log=log) as session:
        session.port = port
        session.camera_pub = publisher(session.node, topics.CAMERA)
        session.event_pub = publisher(session.node, topics.EVENTS)
        session.health = {}  # status name → latest DiagnosticStatus
        subscription(session.node, topics.DIAGNOSTICS,
                     lambda m: session.health.update({s.name: s for s in m.status}))
        session.wait_for(lambda: session.camera_pub.get_subscription_count() >= 2, 60,  # matched, not only seen
                         "foxglove_bridge and vision_perception")
        yield session
    print(log.read_text()[-4000:])


def test_every_node_reports_its_health_and_counts_dropped_input(stack):
    stack.wait_for(lambda: {"foxglove_bridge: health", "vision_perception: health"} <= set(stack.health), 30,
                   "/diagnostics from both nodes")
    status = stack.health["foxglove_bridge: health"]
    values = {kv.key: kv.value for kv in status.values}
    assert status.hardware_id == "seal" and float(values["up_s"]) > 0 and values["dropped_input"] == "0"

    def dropped() -> int:
        s = stack.health["vision_perception: health"]
        return int({kv.key: kv.value for kv in s.values}["dropped_input"])

    stack.camera_pub.publish(image(short=True))  # a frame whose data does not fill it
    stack.wait_for(lambda: dropped() >= 1, 20, "the bad frame counted as dropped input")
    status = stack.health["vision_perception: health"]
    assert status.level == bytes([WARN]) and "dropping input" in status.message


def test_the_live_view_serves_camera_and_event_frames(stack):
    with foxglove_client(f"ws://127.0.0.1:{stack.port}", timeout_s=30) as client:
        client.subscribe([topics.CAMERA.name, topics.EVENTS.name])
        sent = image()

        def send() -> None:
            stack.camera_pub.publish(sent)
            stack.event_pub.publish(event_to_msg(ev.Event(ev.SPEECH_END, time.time_ns(), text="pick up the red cube",
                                                          source="test")))

        got = client.first_of_each({topics.CAMERA.name, topics.EVENTS.name}, send,
                                   lambda topic, msg: topic == topics.CAMERA.name or msg["source"] == "test")
    camera = got[topics.CAMERA.name][1]
    assert (camera.width, camera.height, camera.encoding, camera.frame_id) == (8, 6, "rgb8", "front")
    assert camera.data == bytes(sent.data)
    event = got[topics.EVENTS.name][1]
    assert (event["type"], event["text"], event["source"]) == (ev.SPEECH_END, "pick up the red cube", "test")
