"""The thinker node with a real TTS node: streamed clauses become back-to-back Speak goals, every
segment reaches /seal/thoughts, a barge-in mid-stream keeps what was really said. Events go in
on /seal/events as perception would publish them; everything is checked on real topics."""
from __future__ import annotations

import time

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.nodes.common import event_to_msg, publisher
from seal_nodes.stack.session import StackSession

pytestmark = pytest.mark.integration

SCRIPT = """
- "<think>A greeting and a question.</think><assistant>Hello there, nice to meet you. I can move the cubes on the table, and I can tell you what I see.</assistant>"
- "<think>The user interrupted me; answer the new question.</think><assistant>The red cube is on the left.</assistant>"
- "<think>Pick it up.</think><action>pick(object=red_cube)</action><action>launch(object=red_cube)</action>"
"""

LAUNCH = """
launch:
- node:
    pkg: seal_bringup
    exec: tts
    name: tts
    param:
    - {name: engine, value: espeak}
- node:
    pkg: seal_bringup
    exec: thinker
    name: thinker
    param:
    - {name: backend, value: scripted}
    - {name: script, value: "SCRIPT_PATH"}
    - {name: tokens_per_s, value: 100.0}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("thinker")
    (folder / "script.yaml").write_text(SCRIPT)
    (folder / "thinker.launch.yaml").write_text(LAUNCH.replace("SCRIPT_PATH", str(folder / "script.yaml")))
    log = folder / "nodes.log"
    with StackSession(launch_file=folder / "thinker.launch.yaml", node_log=log) as session:
        session.event_pub = publisher(session.node, topics.EVENTS)
        # Both ways: the nodes hear this session, and it hears them (a thought published before
        # this session's subscription matched the thinker's publisher never arrives).
        # The graph's count is not a match: an event sent before this publisher matched the
        # thinker's reader is lost (volatile), so the publisher's own matched count is waited for.
        session.wait_for(lambda: session.speak_client.server_is_ready()
                         and session.event_pub.get_subscription_count() >= 3
                         and hears(session, topics.THOUGHTS, 1) and hears(session, topics.EVENTS, 3),
                         60, "thinker and tts")
        yield session
    print(log.read_text()[-4000:])


def hears(session: StackSession, topic: topics.Topic, publishers: int) -> bool:
    """The session's subscription to ``topic`` has matched that many publishers (its own included)."""
    return any(sub.topic_name == topic.name and sub.get_publisher_count() >= publishers
               for sub in session.node.subscriptions)


def send(session: StackSession, type_: str, text: str = "", **payload) -> None:
    session.event_pub.publish(event_to_msg(ev.Event(type_, time.time_ns(), text=text, source="test",
                                                    payload=payload)))


def thoughts(session: StackSession, since: int) -> list:
    return [r.msg for r in session.messages(topics.THOUGHTS) if r.t_ns >= since]


def tts_events(session: StackSession, type_: str, since: int) -> list:
    return [r.msg for r in session.events(type_, since) if r.msg.source == "tts"]


def test_clauses_stream_as_back_to_back_goals_and_a_barge_in_keeps_what_was_said(stack):
    since = time.time_ns()
    send(stack, ev.SPEECH_END, "Hi, who are you?")
    # the first clause is playing while later ones are queued behind it
    stack.wait_for(lambda: len(tts_events(stack, ev.AGENT_SPEECH_START, since)) >= 1, 20, "the first clause")
    # (a filler may come before the thought on a busy machine: that is timing, not the contract)
    stack.wait_for(lambda: "think" in [t.kind for t in thoughts(stack, since)], 20, "the thought")
    assert thoughts(stack, since)[0].kind == "user"
    stack.wait_for(lambda: any("Hello there, nice to meet you." in e.text
                               for e in tts_events(stack, ev.AGENT_SPEECH_END, since)), 20, "the first clause to end")
    # the user talks over the second clause: pause, then a real interruption
    send(stack, ev.SPEECH_START, agent_speaking=True)
    time.sleep(0.2)
    send(stack, ev.INTERRUPT, "where")
    send(stack, ev.SPEECH_END, "Where is the red cube?")
    stack.wait_for(lambda: any(t.kind == "say" and "red cube is on the left" in t.text
                               for t in thoughts(stack, since)), 20, "the answer to the new question")
    revised = [t for t in thoughts(stack, since) if t.kind == "interrupted"]
    assert revised, "the cut utterance is published again with what was really said"
    said = revised[-1].text
    assert said.startswith("Hello there, nice to meet you.") and "what I see" not in said


def test_actions_from_the_model_are_validated_and_refusals_reported(stack):
    since = time.time_ns()
    send(stack, ev.SPEECH_END, "Pick up the red cube.")
    # no Manipulate server runs here: the valid action fails as an observation, the
    # undeclared one is refused before it could reach any executor
    stack.wait_for(lambda: any(r.msg.source == "thinker" and "action refused" in r.msg.text
                               for r in stack.events(ev.ERROR, since)), 20, "the refusal")
    stack.wait_for(lambda: any(t.kind == "act" and t.text == "pick(object=red_cube)"
                               for t in thoughts(stack, since)), 20, "the valid action")
    results = [r.msg for r in stack.events(ev.ACTION_RESULT, since)]
    assert results and "no Manipulate action server" in results[0].text
    assert not any(t.kind == "act" and "launch" in t.text for t in thoughts(stack, since))
