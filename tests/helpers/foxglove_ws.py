"""A real Foxglove WebSocket client for tests: connect, read the advertised channels, subscribe,
and decode the binary message frames (opcode 0x01) with each channel's own schema."""
from __future__ import annotations

import base64
import json
import struct
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from websockets.sync.client import ClientConnection, connect

from seal_nodes.core.observe.liveview import SUBPROTOCOL

MESSAGE_DATA = 0x01


@contextmanager
def foxglove_client(url: str, timeout_s: float = 10.0) -> Iterator[FoxgloveClient]:
    with connect(url, subprotocols=[SUBPROTOCOL], open_timeout=timeout_s) as ws:
        yield FoxgloveClient(ws, timeout_s)


class FoxgloveClient:
    def __init__(self, ws: ClientConnection, timeout_s: float) -> None:
        self.ws = ws
        self.timeout_s = timeout_s
        self.server_info: dict = {}
        self.channels: dict[str, dict] = {}  # topic → advertised channel
        self._subscribed: dict[int, dict] = {}  # subscription id → channel

    def wait_channels(self, topics: set[str]) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not topics <= set(self.channels):
            frame = self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(frame, str):
                self._control(json.loads(frame))

    def subscribe(self, topics: list[str]) -> None:
        self.wait_channels(set(topics))
        subs = []
        for topic in topics:
            sub_id = len(self._subscribed) + 1
            self._subscribed[sub_id] = self.channels[topic]
            subs.append({"id": sub_id, "channelId": self.channels[topic]["id"]})
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": subs}))

    def first_of_each(self, topics: set[str], send: Callable[[], None],
                      accept: Callable[[str, Any], bool] = lambda topic, msg: True) -> dict[str, tuple[int, Any]]:
        """Call ``send`` until an accepted message of every topic arrived (the protocol does not confirm
        a subscription, so the first ones may go out before it took effect): topic → (log time, message)."""
        got: dict[str, tuple[int, Any]] = {}
        deadline = time.monotonic() + self.timeout_s
        while not topics <= set(got):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no message on {sorted(topics - set(got))}")
            send()
            try:
                while not topics <= set(got):
                    topic, t, msg = self.messages(1, timeout_s=0.5)[0]
                    if accept(topic, msg):
                        got.setdefault(topic, (t, msg))
            except TimeoutError:
                continue
        return got

    def messages(self, count: int, timeout_s: float | None = None) -> list[tuple[str, int, Any]]:
        """The next ``count`` message frames as (topic, log time ns, decoded message)."""
        out = []
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while len(out) < count:
            frame = self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(frame, str):
                self._control(json.loads(frame))
                continue
            assert frame[0] == MESSAGE_DATA, f"unexpected binary opcode {frame[0]}"
            sub_id, log_time = struct.unpack_from("<IQ", frame, 1)
            channel = self._subscribed[sub_id]
            out.append((channel["topic"], log_time, decode(channel, frame[13:])))
        return out

    def _control(self, msg: dict) -> None:
        if msg["op"] == "serverInfo":
            self.server_info = msg
        elif msg["op"] == "advertise":
            self.channels.update({c["topic"]: c for c in msg["channels"]})


def decode(channel: dict, payload: bytes) -> Any:
    if channel["encoding"] == "json":
        return json.loads(payload)
    assert channel["encoding"] == "protobuf" and channel["schemaEncoding"] == "protobuf"
    files = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(channel["schema"]))
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(channel["schemaName"]))
    return cls.FromString(payload)
