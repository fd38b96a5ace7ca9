"""mic and speaker nodes on real (virtual) sound devices: a PulseAudio null sink per test.

Speech played into the virtual microphone reaches perception through PyAudio; the agent's
voice leaves through PyAudio into the virtual loudspeaker, where it is recorded back.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import numpy as np
import pytest
from action_msgs.msg import GoalStatus

from seal_interfaces.action import Speak
from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.tools.spoken import synthesize_piper
from seal_nodes.core.audio.frames import resample
from seal_nodes.core.audio.wav import write_wav
from seal_nodes.stack.session import StackSession
from seal_nodes.tools.wer import normalize, word_errors
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
    """A private PulseAudio daemon with null sinks: robot_mic (its monitor is the default
    source, i.e. the microphone), robot_speaker (the default sink) and room (for echo tests:
    what is played into it is what its monitor hears)."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("pulseaudio is not installed (make setup installs it)")
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    env = dict(os.environ)
    subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "-n", "--load=module-native-protocol-unix",
                    "--load=module-null-sink sink_name=robot_mic", "--load=module-null-sink sink_name=robot_speaker",
                    "--load=module-null-sink sink_name=room"],
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


def heard_whole(text: str) -> bool:
    """"Pick up the red cube." as heard through the devices: at most one word of five wrong, and
    the object whole."""
    return word_errors("pick up the red cube", text).rate <= 0.2 and normalize(text)[-3:] == ["the", "red", "cube"]


def loud_frames(recording) -> np.ndarray:
    """Which 10 ms frames of a 16 kHz S16 recording are voice, not the null sink's silence."""
    data = recording.read_bytes()
    return loud_frames_of(np.frombuffer(data[: len(data) // 2 * 2], "<i2"))


def loud_frames_of(pcm: np.ndarray) -> np.ndarray:
    """Which 10 ms frames of 16 kHz samples are voice."""
    frames = pcm[: len(pcm) // 160 * 160].astype(float).reshape(-1, 160)
    return np.sqrt(np.mean(frames**2, axis=1)) > 300


def quiet_tail(recording, seconds: float) -> bool:
    """True once the recording holds voice and then ``seconds`` of silence."""
    loud = loud_frames(recording)
    tail = int(seconds * 100)
    return bool(loud.any()) and len(loud) > tail and not loud[-tail:].any()


def wait_perception(session: StackSession) -> None:
    """audio_perception subscribes once its models are loaded; /audio/mic is not latched, and the
    mic process matches the new subscriber a moment after this session sees it."""
    session.wait_for(lambda: session.node.count_subscribers(topics.MIC.name) >= 1, 30, "audio perception")
    time.sleep(1.5)


def test_voice_in_through_the_mic_and_out_through_the_speaker(pulse, tmp_path):
    launch = tmp_path / "devices.launch.yaml"
    launch.write_text(LAUNCH)
    wav = tmp_path / "command.wav"
    write_wav(wav, synthesize_piper("Pick up the red cube.").pcm, 16000)
    with StackSession(launch, node_log=tmp_path / "nodes.log") as session:
        session.wait_for(lambda: len(session.messages(topics.MIC)) >= 50, 30, "the microphone to stream")
        wait_perception(session)
        # Said again if it went unheard or came through clipped: under heavy load (load average
        # 25 on 2 cores) an utterance was once lost between PulseAudio's capture and perception,
        # and beside a busy loop per core its first words were lost on 1 of 4 tries ("Got the red
        # cube.", with nothing dropped in the nodes). This test is about the device path carrying
        # speech; what load costs is measured by the benchmarks.
        tries: list[str] = []  # what each try was heard as
        for attempt in range(3):
            since = time.time_ns()
            subprocess.run(["paplay", "--device=robot_mic", str(wav)], env=pulse, check=True, timeout=20)
            try:
                end = wait_event(session, ev.SPEECH_END, since, timeout_s=20)
            except AssertionError:
                if attempt == 2:
                    raise
                continue
            tries.append(end.msg.text)
            if heard_whole(end.msg.text) or attempt == 2:
                break
            time.sleep(1.0)  # the turn closed; the next try is a turn of its own
        # what perception heard, and any audio the mic says it lost (its capture fell behind)
        heard = [(r.msg.source, r.msg.type, r.msg.text) for r in session.events(None, since)
                 if r.msg.source in ("audio_perception", "mic")]
        # The words came through the device; one of five may be lost to an onset the loaded
        # machine clipped ("Click up the red cube." was heard in a full-suite run).
        assert heard_whole(end.msg.text), (tries, heard)

        # Said again if it came out with parts missing, as the microphone half does: beside a busy
        # loop per core 2 of 9 tries lost about half the voice between the speaker node and the
        # recording (with nothing dropped in the node); what load costs is the benchmarks' to measure.
        seen: list[str] = []  # each try, in words
        for attempt in range(3):
            whole, words = speak_and_record(session, pulse, tmp_path / f"speaker{attempt}.raw", f"dev{attempt}")
            seen.append(words)
            if whole:
                break
        assert whole, seen


def speak_and_record(session, pulse: dict[str, str], recording, trace: str) -> tuple[bool, str]:
    """Speak one sentence through the graph while recording the loudspeaker: did its voice come
    out whole (over a second, and 90 % of the voiced 10 ms frames the TTS sent)?"""
    with open(recording, "wb") as out:
        # a second of buffer: a recorder starved on a loaded machine must not drop what it records
        rec = subprocess.Popen(["parec", "--device=robot_speaker.monitor", "--raw", "--format=s16le",
                                "--latency-msec=1000", "--rate=16000", "--channels=1"], env=pulse, stdout=out)
        try:
            # The null sink's monitor streams silence while idle, so bytes in the file mean
            # parec is recording: on a busy machine it connected after the first words once.
            session.wait_for(lambda: recording.stat().st_size >= 3200, 20, "parec to record")
            session.wait_for(session.speak_client.server_is_ready, 20, "the Speak server")
            handle = call(session.speak_client.send_goal_async(
                Speak.Goal(text="Testing the loudspeaker, one two three.", utterance_id=trace, trace_id=trace)))
            res = call(handle.get_result_async())
            assert res.status == GoalStatus.STATUS_SUCCEEDED
            # The goal ends when its last chunk is sent; the device buffers play on after it,
            # and a speaker node starved on a loaded machine plays them with gaps: the voice is
            # over after a silence longer than such a gap (the gaps are the benchmarks' to count).
            session.wait_for(lambda: quiet_tail(recording, 1.5), 20, "the loudspeaker to go quiet")
        finally:
            rec.terminate()
            rec.wait(timeout=5)
    loud = loud_frames(recording)
    sent = [r.msg for r in session.messages(topics.SPEAKER) if r.msg.trace_id == trace]
    assert sent, f"no /audio/speaker chunk of {trace}"
    voice = np.frombuffer(b"".join(m.data for m in sent), "<i2")
    said = loud_frames_of(resample(voice, sent[0].sample_rate, 16000))
    words = (f"{loud.sum() * 0.01:.2f} s of voice in {len(loud) * 0.01:.2f} s recorded; the TTS sent "
             f"{len(voice) / sent[0].sample_rate:.2f} s in {len(sent)} chunks, {said.sum() * 0.01:.2f} s of it "
             f"voice; the speaker node's reports: "
             f"{[r.msg.text for r in session.events(ev.ERROR, 0) if r.msg.source == 'speaker']}")
    return loud.sum() * 0.01 > 1.0 and loud.sum() >= 0.9 * said.sum(), words


@pytest.mark.skipif(os.environ.get("SEAL_LIVE_ECHO") != "1",
                    reason="live echo loop through PulseAudio is a measurement, not a CI gate (set SEAL_LIVE_ECHO=1): "
                           "PulseAudio's rate adaptation sometimes time-warps the echo, and then the agent's "
                           "voice can still start a turn (README, Real audio devices)")
def test_the_agent_hearing_itself_is_not_the_user_but_a_real_interjection_is(pulse, tmp_path):
    """One acoustic space: the loudspeaker plays into the room and the microphone records the
    room, so every word the agent says comes back through the microphone (a real echo path
    through PulseAudio and PyAudio buffers). The agent must not take its own voice for the
    user; a user talking over it must still be heard as an interruption."""
    for cmd in (["pactl", "set-default-source", "room.monitor"], ["pactl", "set-default-sink", "room"]):
        subprocess.run(cmd, env=pulse, check=True)
    launch = tmp_path / "devices.launch.yaml"
    # the loudspeaker 12 dB under the user's voice: a person near the robot is louder in its
    # microphone than its own speaker (and through PulseAudio the echo is sometimes time-warped
    # by its rate adaptation, which leaves the linear canceller only a few dB to work with)
    launch.write_text(LAUNCH.replace("name: speaker, param: [{name: device, value: pulse}]",
                                     "name: speaker, param: [{name: device, value: pulse}, {name: gain_db, value: -12.0}]"))
    wav = tmp_path / "interjection.wav"
    write_wav(wav, synthesize_piper("Stop, wait a second, that is the wrong cube.").pcm, 16000)
    text = ("I am going to pick up the red cube now, then I will carry it over to the bin on the left "
            "side of the table, and after that I will come back and tell you what else I can see.")
    domain = 10 + (int(os.environ["ROS_DOMAIN_ID"]) - 9) % 80  # not the one the previous test's nodes just left
    with StackSession(launch, node_log=tmp_path / "nodes.log", domain_id=domain) as session:
        session.wait_for(lambda: len(session.messages(topics.MIC)) >= 50, 30, "the microphone to stream")
        wait_perception(session)
        session.wait_for(session.speak_client.server_is_ready, 30, "the Speak server")
        since = time.time_ns()
        handle = call(session.speak_client.send_goal_async(Speak.Goal(text=text, utterance_id="e1", trace_id="echo")))
        result = handle.get_result_async()
        time.sleep(6.0)  # the agent alone: its voice fills the room and the microphone
        heard = [(r.msg.type, r.msg.text, r.msg.payload_json) for r in session.events(None, since)
                 if r.msg.source == "audio_perception" and r.msg.type in (ev.SPEECH_START, ev.INTERRUPT, ev.SPEECH_END)]
        # Never an interruption or a turn. A lone tentative onset (the thinker would pause the
        # voice for a moment, then resume on the `noise` that follows) is tolerated: through
        # PulseAudio's rate adaptation the canceller sometimes takes out only a few dB (README).
        taken = [h for h in heard if h[0] != ev.SPEECH_START]
        assert not taken and len(heard) <= 1, f"the agent's own voice was taken for the user: {heard}"
        assert not result.done(), "the agent stopped talking on its own"
        user_since = time.time_ns()
        subprocess.run(["paplay", "--device=room", str(wav)], env=pulse, check=True, timeout=20)
        intr = wait_event(session, ev.INTERRUPT, user_since, timeout_s=10)
        assert intr.msg.source == "audio_perception"
        start = wait_event(session, ev.SPEECH_START, user_since, timeout_s=1)
        assert json.loads(start.msg.payload_json)["agent_speaking"] is True
        call(handle.cancel_goal_async())
        call(result)
