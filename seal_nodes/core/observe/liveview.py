"""The live view: the running stack on a Foxglove WebSocket server (``foxglove-sdk``), ROS-free.

What a ROS user opens to watch the robot: the camera, the events, the thoughts as a readable
transcript, latencies and joint states, each on a channel named after its ROS topic (the
transcript on its own, as a recording has it too) and, where a panel reads fields, shaped like the
ROS message, so one layout opens the live view and a ``recording.mcap``. The server binds 127.0.0.1 unless told otherwise; the Foxglove app
connects to ``ws://HOST:PORT`` (layout: ``launch/foxglove_layout.json``).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import foxglove
from foxglove.channels import LogChannel, RawImageChannel
from foxglove.messages import Log, LogLevel, RawImage, Timestamp

from seal_nodes.core import topics
from seal_nodes.core.observe.transcript import TRANSCRIPT, transcript_line

# Foxglove's own protocol name; the app and any client ask for it when they connect.
SUBPROTOCOL = "foxglove.sdk.v1"
CHANNELS = (topics.CAMERA.name, topics.EVENTS.name, TRANSCRIPT, topics.LATENCY.name, topics.JOINT_STATES.name)


def _stamp(ns: int) -> Timestamp:
    return Timestamp(sec=ns // 1_000_000_000, nsec=ns % 1_000_000_000)


class LiveView:
    """A Foxglove WebSocket server with the stack's channels; every method is safe from any thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, name: str = "seal") -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535 (0: any free port), got {port}")
        self._context = foxglove.Context()  # its own: nothing else logged in the process leaks in
        self._server = foxglove.start_server(name=name, host=host, port=port, context=self._context)
        self.host = host
        self._camera = RawImageChannel(topics.CAMERA.name, context=self._context)
        self._events = foxglove.Channel(topics.EVENTS.name, context=self._context)
        self._transcript = LogChannel(TRANSCRIPT, context=self._context)
        self._latency = foxglove.Channel(topics.LATENCY.name, context=self._context)
        # shaped like sensor_msgs/JointState, so the layout's plot paths read recordings too
        self._joints = foxglove.Channel(topics.JOINT_STATES.name, context=self._context)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def camera(self, stamp_ns: int, width: int, height: int, encoding: str, step: int, data: bytes,
               frame_id: str = "") -> None:
        if width <= 0 or height <= 0 or step < width or len(data) < step * height:
            raise ValueError(f"image {width}x{height} step {step} does not fit {len(data)} bytes")
        self._camera.log(RawImage(timestamp=_stamp(stamp_ns), frame_id=frame_id, width=width, height=height,
                                  encoding=encoding, step=step, data=bytes(data)), log_time=stamp_ns)

    def event(self, stamp_ns: int, record: Mapping[str, Any]) -> None:
        self._events.log(dict(record), log_time=stamp_ns)

    def thought(self, stamp_ns: int, kind: str, text: str, trace_id: str = "") -> None:
        self._transcript.log(Log(timestamp=_stamp(stamp_ns), level=LogLevel.Info, message=transcript_line(kind, text),
                                 name=trace_id or "thinker"), log_time=stamp_ns)

    def latency(self, stamp_ns: int, path: str, ms: float, trace_id: str = "") -> None:
        self._latency.log({"path": path, "ms": float(ms), "trace_id": trace_id}, log_time=stamp_ns)

    def joints(self, stamp_ns: int, names: Sequence[str], positions: Sequence[float],
               velocities: Sequence[float] = (), efforts: Sequence[float] = ()) -> None:
        if len(positions) != len(names):
            raise ValueError(f"{len(names)} joint names but {len(positions)} positions")
        self._joints.log({"header": {"stamp": {"sec": stamp_ns // 1_000_000_000, "nanosec": stamp_ns % 1_000_000_000}},
                          "name": list(names), "position": [float(p) for p in positions],
                          "velocity": [float(v) for v in velocities], "effort": [float(e) for e in efforts]},
                         log_time=stamp_ns)

    def close(self) -> None:
        self._server.stop()
