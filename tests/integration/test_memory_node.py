"""The memory node records the loop's events into the store and the raw files, survives bad
events, and forgets a user on request; the thinker node reads what it wrote ("my favourite cube").
Real node processes on real topics; the store is checked by opening the file."""
from __future__ import annotations

import time

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.memory.location import raw_dir, store_path
from seal_nodes.core.memory.store import Store
from seal_nodes.nodes.common import event_to_msg, publisher
from seal_nodes.stack.session import StackSession

pytestmark = pytest.mark.integration

LAUNCH = """
launch:
- node:
    pkg: seal_bringup
    exec: memory
    name: memory
    param:
    - {name: memory_dir, value: "MEMORY_DIR"}
    - {name: embeddings, value: false}
    - {name: idle_gap_s, value: 3.0}
    - {name: turn_timeout_s, value: 2.0}
    - {name: summary_backend, value: scripted}
    - {name: summary_script, value: "SUMMARY_SCRIPT"}
- node:
    pkg: seal_bringup
    exec: thinker
    name: thinker
    param:
    - {name: backend, value: commands}
    - {name: understanding, value: false}
    - {name: memory_dir, value: "MEMORY_DIR"}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("memory")
    (folder / "summary.yaml").write_text('- "<think>One thing.</think><assistant>Ana wants tidy tables.</assistant>"\n')
    (folder / "memory.launch.yaml").write_text(LAUNCH.replace("MEMORY_DIR", str(folder / "mem"))
                                               .replace("SUMMARY_SCRIPT", str(folder / "summary.yaml")))
    log = folder / "nodes.log"
    with StackSession(launch_file=folder / "memory.launch.yaml", node_log=log) as session:
        session.event_pub = publisher(session.node, topics.EVENTS)
        session.memory_dir = folder / "mem"
        # matched, not only on the graph: an event sent before the match is lost
        session.wait_for(lambda: session.event_pub.get_subscription_count() >= 3, 60, "memory and thinker")
        yield session
    print(log.read_text()[-4000:])


def send(session: StackSession, type_: str, text: str = "", trace: str = "", **payload) -> None:
    event = ev.Event(type_, time.time_ns(), text=text, source="test", payload=payload)
    if trace:
        event.trace_id = trace
    session.event_pub.publish(event_to_msg(event))


def entries(session: StackSession) -> list[str]:
    store = Store(store_path(session.memory_dir))
    try:
        return [e.text for e in store.entries(list(range(1, 1000)))]
    finally:
        store.close()


def test_a_turn_is_recorded_a_bad_event_reported_and_a_user_forgotten(stack):
    since = time.time_ns()
    send(stack, ev.TURN_DONE, "", "bad", outcome="answered", actions="not a list", success=[])  # no turn: ignored
    stack.event_pub.publish(event_to_msg(ev.Event(ev.SPEECH_END, time.time_ns(), text="x", source="test")))
    msg = event_to_msg(ev.Event(ev.ACTION_RESULT, 0, source="test"))
    msg.payload_json = "{not json"
    stack.event_pub.publish(msg)
    stack.wait_for(lambda: any(r.msg.source == "memory" for r in stack.events(ev.ERROR, since)), 20,
                   "the memory node to report the malformed event")
    send(stack, ev.SPEECH_END, "Hi, my name is Ana. My favourite cube is the blue one.", "t1")
    send(stack, ev.TURN_DONE, "", "t1", outcome="answered", actions=[], success=[])
    stack.wait_for(lambda: any("favourite cube is the blue one" in t for t in entries(stack)), 30,
                   "the preference in the store")
    assert any(t.startswith('Ana asked "Hi, my name is Ana.') for t in entries(stack))
    assert list(raw_dir(stack.memory_dir).glob("*_ana_*.jsonl"))

    # the thinker reads it: "my favourite cube" is the blue one
    since = time.time_ns()
    send(stack, ev.SPEECH_END, "Please pick up my favourite cube.", "t2")
    stack.wait_for(lambda: any(r.msg.kind == "act" and r.msg.text == "pick(object=blue_cube)"
                               for r in stack.messages(topics.THOUGHTS) if r.t_ns >= since), 30,
                   "the thinker to pick the blue cube")

    # the episode closes when idle: the model adds its own line
    stack.wait_for(lambda: "Ana wants tidy tables." in entries(stack), 30, "the model's summary")

    send(stack, ev.FORGET, "forget Ana", "t3", user="Ana")
    stack.wait_for(lambda: not any("Ana" in t for t in entries(stack)), 30, "Ana's entries to go")
    assert not list(raw_dir(stack.memory_dir).glob("*_ana_*.jsonl"))


def identified(session: StackSession, since: int) -> list[dict]:
    import json
    return [json.loads(r.msg.payload_json) for r in session.events(ev.USER_IDENTIFIED, since)
            if r.msg.source == "memory"]


def test_voices_are_enrolled_told_apart_and_reported(stack):
    since = time.time_ns()
    send(stack, ev.VOICE, "", "v0", embedding="not a list")
    stack.wait_for(lambda: any("voice event" in r.msg.text for r in stack.events(ev.ERROR, since)), 20,
                   "the malformed voice event reported")
    ana, other = [0.0] * 256, [0.0] * 256
    ana[3], other[200] = 1.0, 1.0
    send(stack, ev.SPEECH_END, "Hello, my name is Ana.", "v1")
    send(stack, ev.VOICE, "", "v1", embedding=ana, seconds=1.5, model="test")
    stack.wait_for(lambda: len(identified(stack, since)) == 1, 20, "Ana's voice enrolled")
    assert identified(stack, since)[0]["user"] == "Ana"
    send(stack, ev.SPEECH_END, "Pick up the red cube.", "v2")
    send(stack, ev.VOICE, "", "v2", embedding=other, seconds=1.2, model="test")
    stack.wait_for(lambda: len(identified(stack, since)) == 2, 20, "the second voice")
    assert identified(stack, since)[1] == {"user": "guest-1", "how": "new voice", "score": 1.0}
    stack.wait_for(lambda: any(r.msg.kind == "think" and "a voice I don't know (guest-1)" in r.msg.text
                               for r in stack.messages(topics.THOUGHTS) if r.t_ns >= since), 20,
                   "the thinker to hear it is someone else")


def test_a_learned_skill_is_stored_counted_and_a_bad_one_reported(stack):
    from seal_nodes.core.skills.library import SkillLibrary
    from seal_nodes.core.skills.model import Anchor, Skill, Step

    skill = Skill("check_tab_city", "check the {tab} in {city}", {"city": "Paris", "tab": "Wind"},
                  (Step("click", Anchor("tab", "{tab}")),))

    def stored() -> Skill | None:
        store = Store(store_path(stack.memory_dir))
        try:
            return SkillLibrary(store).get("check_tab_city")
        finally:
            store.close()

    since = time.time_ns()
    send(stack, ev.SKILL_LEARNED, skill.description, "s1", skill=skill.to_dict())
    stack.wait_for(lambda: stored() is not None, 30, "the skill in the library")
    for n in range(2):
        send(stack, ev.SKILL_OUTCOME, "done", f"s{n + 2}", name="check_tab_city", ok=True, steps_done=1)
    stack.wait_for(lambda: (s := stored()) is not None and s.status == "trusted", 30, "two successes: trusted")
    send(stack, ev.SKILL_LEARNED, "", "s4", skill={"name": "broken"})
    send(stack, ev.SKILL_OUTCOME, "", "s5", name="no_such_skill", ok=False)
    stack.wait_for(lambda: len([r for r in stack.events(ev.ERROR, since) if r.msg.source == "memory"]) >= 2, 20,
                   "both bad skill events reported")
    assert stored().successes == 2
