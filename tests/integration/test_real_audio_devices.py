"""mic and speaker nodes on real (virtual) sound devices: a PulseAudio null sink per test.

Speech played into the virtual microphone reaches perception through PyAudio; the agent's
voice leaves through PyAudio into the virtual loudspeaker, where it is recorded back.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import pytest
from action_msgs.msg import GoalStatus

from seal_interfaces.action import Speak
from seal_nodes.core import events as ev
from seal_nodes.core.spoken import synthesize
from seal_nodes.core.wav import write_wav
from seal_nodes.session import StackSession
from tests.integration.conftest import call, wait_event

pytestmark = pytest.mark.integration

LAUNCH = """
launch:
- node: {pkg: seal_bringup, exec: mic, name: mic, param: [{name: device, value: pulse}]}
- node: {pkg: seal_bringup, exec: audio_perception, name: audio_perception}
- node: {pkg: seal_bringup, exec: tts, name: tts}
- node: {pkg: seal_bringup, exec: speaker, name: speaker, param: [{name: device, value: pulse}]}
"""


@pytest.fixture
def pulse(tmp_path, monkeypatch):
    """A private PulseAudio daemon with two null sinks: robot_mic (its monitor is the default
    source, i.e. the microphone) and robot_speaker (the default sink)."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("pulseaudio is not installed (make setup installs it)")
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    env = dict(os.environ)
    subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "-n", "--load=module-native-protocol-unix",
                    "--load=module-null-sink sink_name=robot_mic", "--load=module-null-sink sink_name=robot_speaker"],
                   env=env, check=True, capture_output=True, timeout=20)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "PulseAudio did not come up"
            time.sleep(0.1)
        subprocess.run(["pactl", "set-default-source", "robot_mic.monitor"], env=env, check=True)
        subprocess.run(["pactl", "set-default-sink", "robot_speaker"], env=env, check=True)
        yield env
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True)


def test_voice_in_through_the_mic_and_out_through_the_speaker(pulse, tmp_path):
    launch = tmp_path / "devices.launch.yaml"
    launch.write_text(LAUNCH)
    wav = tmp_path / "command.wav"
    write_wav(wav, synthesize("Pick up the red cube.").pcm, 16000)
    with StackSession(launch, node_log=tmp_path / "nodes.log") as session:
        session.wait_for(lambda: session.rate_hz("/audio/mic", 1.0) > 30, 30, "the microphone to stream")
        since = time.time_ns()
        subprocess.run(["paplay", "--device=robot_mic", str(wav)], env=pulse, check=True, timeout=20)
        end = wait_event(session, ev.SPEECH_END, since, timeout_s=20)
        assert end.msg.text == "pick up the red cube"

        recording = tmp_path / "speaker.raw"
        with open(recording, "wb") as out:
            rec = subprocess.Popen(["parec", "--device=robot_speaker.monitor", "--raw", "--format=s16le",
                                    "--rate=16000", "--channels=1"], env=pulse, stdout=out)
            try:
                session.wait_for(session.speak_client.server_is_ready, 20, "the Speak server")
                handle = call(session.speak_client.send_goal_async(
                    Speak.Goal(text="Testing the loudspeaker, one two three.", utterance_id="d1", trace_id="dev")))
                res = call(handle.get_result_async())
                time.sleep(0.5)
            finally:
                rec.terminate()
                rec.wait(timeout=5)
        assert res.status == GoalStatus.STATUS_SUCCEEDED
        voice = np.frombuffer(recording.read_bytes(), "<i2").astype(float)
        assert len(voice) > 16000  # recorded for over a second
        frames = voice[: len(voice) // 160 * 160].reshape(-1, 160)  # 10 ms frames
        loud = np.sqrt(np.mean(frames**2, axis=1)) > 300
        assert loud.sum() * 0.01 > 1.0  # over a second of the agent's voice came out of the speaker
