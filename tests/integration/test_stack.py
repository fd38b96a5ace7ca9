"""The node graph on real topics: each node a process, checked only through ROS 2 traffic."""
from __future__ import annotations

import math
import os
import signal
import time

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from sensor_msgs.msg import Image, JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from seal_interfaces.action import Manipulate, Speak
from seal_interfaces.msg import AudioChunk, Event
from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.nodes.common import stamp_to_ns
from seal_nodes.stack.measure import POLICY_STAGES
from seal_nodes.tools.wer import normalize
from tests.integration.conftest import call, wait_event

pytestmark = pytest.mark.integration


def heights(stack) -> dict[str, float]:
    last = stack.messages(topics.OBJECT_POSES)[-1].msg
    return {n: p.position.z for n, p in zip(last.names, last.poses)}


def test_graph_topics_and_messages(stack):
    names = dict(stack.node.get_topic_names_and_types())
    for topic in (topics.EVENTS, topics.JOINT_STATES, topics.CAMERA):
        assert names[topic.name] == [topic.type]
    # Messages keep arriving on both sensor topics; their rates are benchmark figures, not test ones.
    seen = {t: len(stack.messages(t)) for t in (topics.CAMERA, topics.JOINT_STATES)}
    stack.wait_for(lambda: all(len(stack.messages(t)) >= n + 5 for t, n in seen.items()), 30, "fresh sensor messages")
    img = stack.messages(topics.CAMERA)[-1].msg
    assert (img.height, img.width, img.encoding) == (224, 224, "rgb8")
    assert len(stack.messages(topics.JOINT_STATES)[-1].msg.name) == 8


def test_speech_gives_events_and_a_spoken_reply(stack):
    since = time.time_ns()
    turn = stack.say("Hello robot.")
    start = wait_event(stack, ev.SPEECH_START, since)
    end = wait_event(stack, ev.SPEECH_END, since)
    assert normalize(end.msg.text) == normalize("hello robot"), end.msg.text
    assert end.msg.trace_id == start.msg.trace_id
    # partials are the first work shed when the decoder falls behind (a loaded machine may give
    # none for a turn this short); those that came belong to the turn
    assert all(r.msg.trace_id == start.msg.trace_id for r in stack.events(ev.SPEECH_FRAGMENT, since)
               if r.t_ns <= end.t_ns)
    # header.stamp is the onset in the audio stream, close to the true onset
    onset_error_ms = (start.msg.header.stamp.sec * 1e9 + start.msg.header.stamp.nanosec - turn.onset_ns) / 1e6
    assert -100 < onset_error_ms < 150
    def reply() -> list:
        return [r for r in stack.messages(topics.SPEAKER) if r.msg.trace_id == start.msg.trace_id]
    stack.wait_for(lambda: reply() and stack.agent_idle(since, 1.0), 30, "the reply")
    assert len(reply()) > 50  # > 1 s of voice, in 20 ms chunks
    thoughts = [(r.msg.kind, r.msg.text) for r in stack.messages(topics.THOUGHTS) if r.t_ns >= since]
    assert ("user", "Hello robot.") in thoughts
    assert any(kind == "say" for kind, _ in thoughts)


def test_talking_over_the_agent_pauses_it_at_once_and_an_interjection_stops_it(stack):
    """The barge-in path end to end: speech_start over the agent → the thinker pauses the TTS
    (/tts/control) → perception's interrupt → the Speak goal is cancelled, what was said kept."""
    since = time.time_ns()
    # a long answer (what it can do: ~5 s of voice), so the user's words surely fall within it
    # however late this process sees the voice begin on a loaded machine ("Hello!" was ~2 s)
    stack.say("What can you do?")
    stack.wait_for(lambda: len([r for r in stack.messages(topics.SPEAKER) if r.t_ns > since]) > 40, 20,
                   "the agent to be talking")
    barge_since = time.time_ns()
    turn = stack.say("Stop, wait a second.")
    start = wait_event(stack, ev.SPEECH_START, barge_since)
    played = [stamp_to_ns(r.msg.header.stamp) for r in stack.messages(topics.SPEAKER) if r.t_ns > since]
    assert '"agent_speaking":true' in start.msg.payload_json.replace(" ", ""), (
        f"onset {(turn.onset_ns - played[0]) / 1e6:.0f} ms into the voice, whose last chunk so far plays at "
        f"{(played[-1] - played[0]) / 1e6:.0f} ms")
    wait_event(stack, ev.INTERRUPT, barge_since)
    stack.wait_for(lambda: stack.agent_idle(barge_since, 1.0), 20, "the agent to stop")
    reply_trace = next(r.msg.trace_id for r in stack.messages(topics.SPEAKER) if r.t_ns > since)
    chunks = [r for r in stack.messages(topics.SPEAKER) if r.msg.trace_id == reply_trace]
    last_end_ns = max(stamp_to_ns(r.msg.header.stamp) + 20_000_000 for r in chunks)
    # the voice fell silent while the user was still talking: paused on their onset, not on the
    # transcript of their words (how soon is a benchmark figure: barge_in_stop_ms)
    assert last_end_ns < turn.offset_ns, (f"the voice went on {(last_end_ns - turn.onset_ns) / 1e6:.0f} ms after "
                                          f"the onset, past the user's {(turn.offset_ns - turn.onset_ns) / 1e6:.0f} ms")
    ended = [r for r in stack.events(ev.AGENT_SPEECH_END, since) if r.msg.trace_id == reply_trace]
    assert ended and '"interrupted":true' in ended[0].msg.payload_json.replace(" ", "")


def test_speak_goal_streams_and_a_cancel_reports_what_was_said(stack):
    text = "This sentence is long enough that cancelling it halfway leaves most words unspoken for sure."
    since = time.time_ns()
    handle = call(stack.speak_client.send_goal_async(Speak.Goal(text=text, utterance_id="t1", trace_id="cancel-test")))
    assert handle.accepted
    stack.wait_for(lambda: sum(r.msg.trace_id == "cancel-test" for r in stack.messages(topics.SPEAKER)) >= 40,
                   10, "40 chunks")
    call(handle.cancel_goal_async())
    res = call(handle.get_result_async())
    assert res.status == GoalStatus.STATUS_CANCELED
    assert res.result.interrupted and not res.result.completed
    spoken = res.result.spoken_text.split()
    assert 0 < len(spoken) < len(text.split())
    assert text.split()[: len(spoken)] == spoken  # a true prefix, word for word
    chunks = [r for r in stack.messages(topics.SPEAKER) if r.msg.trace_id == "cancel-test"]
    time.sleep(0.3)
    assert len([r for r in stack.messages(topics.SPEAKER) if r.msg.trace_id == "cancel-test"]) == len(chunks)
    # the words reported fit in the audio that was played (espeak here: ~2.5 words/s at 175 wpm)
    played_s = len(chunks) * 0.02
    assert len(spoken) <= played_s * 4.0
    assert all(r.msg.sample_rate == 22050 and r.msg.encoding == "S16LE" for r in chunks)
    assert stack.events(ev.AGENT_SPEECH_END, since)


def test_speak_goal_completes_with_full_text(stack):
    handle = call(stack.speak_client.send_goal_async(Speak.Goal(text="[THINKING] Okay, done.", utterance_id="t2",
                                                                trace_id="full")))
    res = call(handle.get_result_async())
    assert res.status == GoalStatus.STATUS_SUCCEEDED
    assert res.result.completed and res.result.spoken_text == "Okay, done."


def test_manipulate_picks_up_the_cube(stack):
    before = heights(stack)
    fb = []
    handle = call(stack.manip_client.send_goal_async(Manipulate.Goal(instruction="pick up the red cube", trace_id="p1"),
                                                     feedback_callback=lambda m: fb.append(m.feedback.phase)))
    res = call(handle.get_result_async(), 60)
    assert res.status == GoalStatus.STATUS_SUCCEEDED and res.result.success, res.result.message
    time.sleep(0.3)
    assert heights(stack)["red_cube"] - before["red_cube"] > 0.05
    assert {"approach", "grasp", "lift"} <= set(fb)
    lat = [r.msg for r in stack.messages(topics.LATENCY) if r.msg.trace_id == "p1"]
    assert {m.path for m in lat} == {"frame_to_command_ms", "policy_inference_ms", *POLICY_STAGES}


def test_cancel_holds_the_arm(stack):
    handle = call(stack.manip_client.send_goal_async(Manipulate.Goal(instruction="go home", trace_id="h1")))
    time.sleep(0.6)
    call(handle.cancel_goal_async())
    res = call(handle.get_result_async())
    assert res.status == GoalStatus.STATUS_CANCELED
    time.sleep(0.4)
    q1 = np.array(stack.messages(topics.JOINT_STATES)[-1].msg.position[:7])
    time.sleep(0.5)
    q2 = np.array(stack.messages(topics.JOINT_STATES)[-1].msg.position[:7])
    assert np.max(np.abs(q2 - q1)) < 0.01


def test_manipulate_unknown_object_fails_clearly_and_server_keeps_serving(stack):
    since = time.time_ns()
    handle = call(stack.manip_client.send_goal_async(Manipulate.Goal(instruction="pick up the purple cube",
                                                                     trace_id="u1")))
    res = call(handle.get_result_async())
    assert res.status == GoalStatus.STATUS_ABORTED and not res.result.success
    assert "no purple cube" in res.result.message
    wait_event(stack, ev.ERROR, since, where=lambda r: r.msg.source == "vla_policy")
    handle = call(stack.manip_client.send_goal_async(Manipulate.Goal(instruction="do a backflip", trace_id="u2")))
    res = call(handle.get_result_async())
    assert res.status == GoalStatus.STATUS_ABORTED and "no task matches" in res.result.message


def test_malformed_audio_chunk_is_reported_and_perception_keeps_working(stack):
    pub = stack.publisher(topics.MIC)
    since = time.time_ns()
    bad = AudioChunk(sample_rate=16000, channels=1, encoding="S16LE", data=[1, 2, 3])
    pub.publish(bad)
    wait_event(stack, ev.ERROR, since, where=lambda r: r.msg.source == "audio_perception" and "bytes" in r.msg.text)
    pub.publish(AudioChunk(sample_rate=16000, channels=1, encoding="F32LE", data=[0] * 8))
    wait_event(stack, ev.ERROR, since, where=lambda r: "encoding" in r.msg.text)
    since = time.time_ns()
    stack.say("Go home.")
    end = wait_event(stack, ev.SPEECH_END, since)
    assert normalize(end.msg.text) == normalize("go home"), end.msg.text
    stack.wait_for(lambda: bool(stack.events(ev.ACTION_RESULT, since)), 40, "go home to finish")


def test_bad_image_and_nan_state_are_reported(stack):
    img_pub = stack.publisher(topics.CAMERA)
    js_pub = stack.publisher(topics.JOINT_STATES)
    time.sleep(1.0)  # let the best-effort publishers match
    since = time.time_ns()
    for _ in range(3):
        img_pub.publish(Image(height=10, width=10, encoding="rgb8", step=30, data=[0] * 300))
        js = JointState(name=[f"panda_joint{i}" for i in range(1, 8)] + ["panda_gripper"],
                        position=[math.nan] + [0.0] * 7)
        js_pub.publish(js)
        time.sleep(0.2)
    wait_event(stack, ev.ERROR, since, where=lambda r: "image" in r.msg.text and "expected 224x224" in r.msg.text)
    wait_event(stack, ev.ERROR, since, where=lambda r: "NaN" in r.msg.text and r.msg.source == "vla_policy")
    # a bad stream is reported, not flooded: three bad frames within 2 s give one report
    assert len([r for r in stack.events(ev.ERROR, since) if "expected 224x224" in r.msg.text]) == 1


def test_unsafe_trajectory_is_rejected_by_the_sim(stack):
    pub = stack.publisher(topics.ARM_TRAJECTORY)
    time.sleep(0.5)
    since = time.time_ns()
    pub.publish(JointTrajectory(joint_names=["panda_joint1"], points=[JointTrajectoryPoint(positions=[math.nan])]))
    wait_event(stack, ev.ERROR, since, where=lambda r: r.msg.source == "sim" and "NaN" in r.msg.text)
    pub.publish(JointTrajectory(joint_names=["elbow"], points=[JointTrajectoryPoint(positions=[0.0])]))
    wait_event(stack, ev.ERROR, since, where=lambda r: r.msg.source == "sim" and "unknown joints" in r.msg.text)


def test_thinker_refuses_bad_requests_and_reports_bad_events(stack):
    pub = stack.publisher(topics.EVENTS)
    time.sleep(0.5)
    since = time.time_ns()

    def event(type_: str, text: str = "", payload: str = "") -> Event:
        msg = Event(type=type_, text=text, source="test", trace_id=f"t-{type_}", payload_json=payload)
        msg.header.stamp = stack.node.get_clock().now().to_msg()
        return msg

    pub.publish(event(ev.SPEECH_END, "pick up the purple cube"))
    stack.wait_for(lambda: any(r.msg.kind == "say" and "purple" in r.msg.text
                               for r in stack.messages(topics.THOUGHTS) if r.t_ns >= since), 10, "a refusal")
    pub.publish(event("teleport"))
    wait_event(stack, ev.ERROR, since, where=lambda r: r.msg.source == "thinker" and "teleport" in r.msg.text)
    pub.publish(event(ev.SPEECH_END, "hello", payload="{not json"))
    wait_event(stack, ev.ERROR, since, where=lambda r: r.msg.source == "thinker" and "malformed" in r.msg.text)
    assert not [r for r in stack.events(ev.ACTION_RESULT, since) if "purple" in r.msg.payload_json]


def test_a_crashed_node_is_respawned_and_reported(stack):
    pid = stack.supervisor.status()["thinker"].pid
    os.kill(pid, signal.SIGKILL)
    stack.wait_for(lambda: any(kind == "exited" and info.get("label") == "thinker" for kind, info in stack.node_events),
                   10, "the crash report")
    stack.wait_for(lambda: stack.supervisor.status()["thinker"].pid not in (None, pid), 15, "the respawn")
    pub = stack.publisher(topics.EVENTS)
    since = time.time_ns()
    poked = [0.0]

    def answered() -> bool:
        # Poke the new thinker until it is matched and answers; a poke waits 5 s for its answer
        # (the new process is still loading), so the answers do not pile up in the TTS.
        if time.monotonic() - poked[0] > 5.0:
            msg = Event(type=ev.SPEECH_END, text="hello", source="test", trace_id="respawn")
            msg.header.stamp = stack.node.get_clock().now().to_msg()
            pub.publish(msg)
            poked[0] = time.monotonic()
        time.sleep(0.2)
        return any(r.msg.kind == "say" and r.msg.trace_id == "respawn"
                   for r in stack.messages(topics.THOUGHTS) if r.t_ns >= since)

    stack.wait_for(answered, 60, "the respawned thinker to answer")
    stack.wait_for(lambda: stack.agent_idle(since, quiet_s=0.5), 30, "its answer to be spoken")


def test_thinker_survives_a_tts_crash_mid_utterance(stack):
    """The TTS dies while speaking: the thinker gives the utterance up (keeping what was said)
    and speaks again once the launcher has respawned the TTS."""
    pub = stack.publisher(topics.EVENTS)
    time.sleep(0.5)

    def user(text: str, trace: str) -> None:
        msg = Event(type=ev.SPEECH_END, text=text, source="test", trace_id=trace)
        msg.header.stamp = stack.node.get_clock().now().to_msg()
        pub.publish(msg)

    user("hello robot", "tts-crash")
    # The thinker respawned by the test before may still be loading its intent step, answering
    # through the model meanwhile: on a busy machine that reply takes tens of seconds.
    stack.wait_for(lambda: sum(r.msg.trace_id == "tts-crash" for r in stack.messages(topics.SPEAKER)) > 25,
                   60, "the reply to start playing")
    os.kill(stack.supervisor.status()["tts"].pid, signal.SIGKILL)
    stack.wait_for(lambda: any(r.msg.kind == "interrupted" and r.msg.trace_id == "tts-crash"
                               for r in stack.messages(topics.THOUGHTS)), 15, "the utterance to be given up")

    def answered() -> bool:
        user("thank you", "after-crash")
        time.sleep(1.0)
        return any(r.msg.trace_id == "after-crash" for r in stack.messages(topics.SPEAKER))

    stack.wait_for(answered, 40, "the respawned TTS to speak")
