"""foxglove_bridge: the live view. Camera, events, thoughts, latencies and joint states → Foxglove.

A thin adapter over ``seal_nodes.core.observe.liveview.LiveView``: a WebSocket server on
``host``:``port`` (127.0.0.1:8765 by default) that the Foxglove app opens
(``launch/foxglove_layout.json``). Opt-in in the launch files: ``foxglove:=true``. A malformed
message is reported as an ``error`` event (throttled) and skipped.
"""
from __future__ import annotations

from seal_interfaces.msg import Event, Latency, Thought
from sensor_msgs.msg import Image, JointState

from seal_nodes.core import topics
from seal_nodes.core.observe.liveview import LiveView
from seal_nodes.nodes.common import SealNode, msg_to_event, run, stamp_to_ns, subscription


class FoxgloveBridgeNode(SealNode):
    def __init__(self) -> None:
        super().__init__("foxglove_bridge")
        host = str(self.declare_parameter("host", "127.0.0.1").value)
        port = int(self.declare_parameter("port", 8765).value)
        self.view = LiveView(host, port)
        subscription(self, topics.CAMERA, self._camera)
        subscription(self, topics.EVENTS, self._event)
        subscription(self, topics.THOUGHTS, self._thought)
        subscription(self, topics.LATENCY, self._latency)
        subscription(self, topics.JOINT_STATES, self._joints)
        self.get_logger().info(f"live view on {self.view.url} (Foxglove: open connection, Foxglove WebSocket)")

    def _camera(self, msg: Image) -> None:
        try:
            self.view.camera(stamp_to_ns(msg.header.stamp), msg.width, msg.height, msg.encoding, msg.step,
                             bytes(msg.data), msg.header.frame_id)
        except ValueError as exc:
            self.report_error(f"live view: bad {topics.CAMERA.name} frame: {exc}", throttle_key="camera")

    def _event(self, msg: Event) -> None:
        try:
            event = msg_to_event(msg)
        except ValueError as exc:
            self.report_error(f"live view: bad event from {msg.source!r}: {exc}", throttle_key="event")
            return
        self.view.event(event.stamp_ns, {"type": event.type, "text": event.text, "source": event.source,
                                         "confidence": event.confidence, "trace_id": event.trace_id,
                                         "payload": event.payload})

    def _thought(self, msg: Thought) -> None:
        self.view.thought(stamp_to_ns(msg.header.stamp), msg.kind, msg.text, msg.trace_id)

    def _latency(self, msg: Latency) -> None:
        self.view.latency(stamp_to_ns(msg.header.stamp), msg.path, msg.ms, msg.trace_id)

    def _joints(self, msg: JointState) -> None:
        try:
            self.view.joints(stamp_to_ns(msg.header.stamp), list(msg.name), list(msg.position), list(msg.velocity),
                             list(msg.effort))
        except ValueError as exc:
            self.report_error(f"live view: bad {topics.JOINT_STATES.name}: {exc}", throttle_key="joints")

    def close(self) -> None:
        self.view.close()


def main(args=None) -> None:
    run(FoxgloveBridgeNode)


if __name__ == "__main__":
    main()
