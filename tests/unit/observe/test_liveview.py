"""The live view's Foxglove WebSocket server, watched by a real WebSocket client that subscribes
and decodes the frames with the schemas the server advertises."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from seal_nodes.core import topics
from seal_nodes.core.observe.liveview import CHANNELS, TRANSCRIPT, LiveView, transcript_line
from tests.helpers.foxglove_ws import foxglove_client

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]
T0 = 1_700_000_000_123_456_789


@pytest.fixture
def view():
    v = LiveView(port=0)  # any free port
    yield v
    v.close()


def test_a_client_receives_every_channel_decoded(view):
    assert view.url.startswith("ws://127.0.0.1:") and view.port > 0
    with foxglove_client(view.url) as client:
        client.subscribe(list(CHANNELS))
        assert client.server_info["name"] == "seal"
        image = (np.arange(4 * 3 * 3) % 256).astype(np.uint8)

        def send() -> None:
            view.camera(T0, 4, 3, "rgb8", 12, image.tobytes(), "front")
            view.event(T0 + 1, {"type": "speech_end", "text": "pick up the red cube", "source": "audio_perception",
                                "payload": {"n_best": ["pick up the red cube"]}})
            view.thought(T0 + 2, "say", "Picking up the red cube.", "t1")
            view.latency(T0 + 3, "frame_to_command_ms", 4.5, "t1")
            view.joints(T0 + 4, ["j1", "j2"], [0.1, -0.2], [0.0, 0.5])

        got = client.first_of_each(set(CHANNELS), send)
    assert set(got) == set(CHANNELS)
    t, cam = got[topics.CAMERA.name]
    assert (t, cam.width, cam.height, cam.encoding, cam.step, cam.frame_id) == (T0, 4, 3, "rgb8", 12, "front")
    assert cam.data == image.tobytes()
    assert (cam.timestamp.seconds, cam.timestamp.nanos) == (T0 // 10**9, T0 % 10**9)
    assert got[topics.EVENTS.name][1]["payload"] == {"n_best": ["pick up the red cube"]}
    assert got[TRANSCRIPT][1].message == "<assistant>Picking up the red cube.</assistant>"
    assert got[topics.LATENCY.name][1] == {"path": "frame_to_command_ms", "ms": 4.5, "trace_id": "t1"}
    joints = got[topics.JOINT_STATES.name][1]  # sensor_msgs/JointState's fields: one layout for live and recorded
    assert (joints["name"], joints["position"], joints["velocity"]) == (["j1", "j2"], [0.1, -0.2], [0.0, 0.5])


def test_the_transcript_reads_like_the_conversation():
    assert transcript_line("user", "Pick up the red cube.") == "<user>Pick up the red cube.</user>"
    assert transcript_line("act", "manipulate(red_cube)") == "<action>manipulate(red_cube)</action>"
    assert transcript_line("interrupted", "Sure, I") == "<assistant>Sure, I<interrupted/></assistant>"


def test_bad_input_is_refused_with_a_clear_error(view):
    with pytest.raises(ValueError, match="does not fit"):
        view.camera(T0, 4, 3, "rgb8", 12, b"\x00" * 10)
    with pytest.raises(ValueError, match="2 joint names but 1 positions"):
        view.joints(T0, ["a", "b"], [0.0])
    with pytest.raises(ValueError, match="port"):
        LiveView(port=70000)


def test_the_layout_shows_the_live_views_channels():
    text = (REPO / "launch" / "foxglove_layout.json").read_text()
    layout = json.loads(text)
    assert layout["content"]["type"] == "split"
    shown = {m.split(".")[0] for m in re.findall(r'"(/[a-z_/]+(?:\.[a-z_\[\]0-9.]+)?)"', text)}
    assert shown == set(CHANNELS)
