"""The thinker with a knowledge base: names, welcome back, preferences resolved, the usual,
forgetting, the memory in the system prompt and the model's ``recall`` action (scripted model)."""
from __future__ import annotations

import time

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.actions import Action
from seal_nodes.core.memory.episodes import EpisodeRecorder
from seal_nodes.core.memory.reader import MemoryReader
from seal_nodes.core.memory.store import Store
from seal_nodes.core.thinking.commands import Act, Publish, Report, Say
from seal_nodes.core.thinking.context import HINT, OBSERVE
from seal_nodes.core.thinking.goals import Notice
from seal_nodes.core.thinking.lm.scripted import ScriptedModel
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig

pytestmark = pytest.mark.unit

OBJECTS = {"red_cube", "green_cube", "blue_cube"}
T = 1_765_000_000 * 10**9  # the first session: long before the thinker's clock
S = 10**9
PICK_BLUE = "pick(object=blue_cube)"


class Clock:
    def __init__(self) -> None:
        self.t = T + 86_400 * S  # the next day

    def __call__(self) -> int:
        self.t += 1_000_000
        return self.t


def _e(t: float, type_: str, text: str = "", trace: str = "t", **payload) -> dict:
    return {"type": type_, "stamp_ns": T + int(t * S), "text": text, "trace_id": trace, "payload": payload}


def first_session(folder) -> None:
    """Ana introduces herself, says which cube she likes, and has it picked up twice."""
    store = Store(folder / "memory.sqlite3")
    rec = EpisodeRecorder(store, folder)
    events = [
        _e(0, "speech_end", "Hi, I'm Ana. My favourite cube is the blue one.", "t1"),
        _e(2, "turn_done", "", "t1", outcome="answered", actions=[], success=[]),
    ]
    for n, t in enumerate((10, 20)):
        trace = f"p{n}"
        events += [_e(t, "speech_end", "Pick up the blue cube.", trace),
                   _e(t + 5, "action_result", "picked", trace, action=PICK_BLUE, success=True, canceled=False,
                      instruction="pick up the blue cube"),
                   _e(t + 6, "turn_done", "", trace, outcome="acted", actions=[PICK_BLUE], success=[True])]
    for e in events:
        rec.feed(e)
    rec.close()
    store.close()


@pytest.fixture
def remembered(tmp_path):
    first_session(tmp_path)
    reader = MemoryReader(tmp_path / "memory.sqlite3")
    yield reader
    reader.close()


def make(reader, model=None, user=None):
    clock = Clock()
    if isinstance(model, list):
        model = ScriptedModel(model, tokens_per_s=1000.0, clock_ns=clock)
    cfg = ThinkerConfig(fast_path=model is None, think_while_listening=False)
    return Thinker(model, set(OBJECTS), clock_ns=clock, config=cfg, memory=reader, user=user)


def say(th: Thinker, text: str, trace: str = "x") -> list:
    out = th.handle(ev.Event(ev.SPEECH_END, th._clock(), text=text, trace_id=trace))
    deadline = time.monotonic() + 30  # the searches run on the reader's thread
    while th.gen is not None or th.recalls or (th.memory is not None and th.memory.busy()):
        out += th.tick()
        if time.monotonic() > deadline:
            raise AssertionError("the memory searches never finished")
        time.sleep(0.001)
    return out


def lines(cmds) -> list[str]:
    return [c.text for c in cmds if isinstance(c, Say)]


def acts(cmds) -> list[Action]:
    return [c.action for c in cmds if isinstance(c, Act)]


def test_a_returning_user_is_welcomed_back_by_name(remembered):
    th = make(remembered)
    out = say(th, "Hi, I'm Ana.")
    assert lines(out) == ["Welcome back, Ana! Last time you asked me to pick up the blue cube. "
                          "What can I do for you today?"]
    assert th.user == "Ana"
    hints = [c.segment.text for c in out if isinstance(c, Publish) and c.segment.kind == HINT]
    assert any("Ana's favourite cube is the blue one" in h for h in hints)


def test_a_new_user_is_met_and_a_request_with_a_name_is_greeted_by_it(remembered):
    th = make(remembered)
    assert lines(say(th, "Hello, my name is Bob.")) == ["Nice to meet you, Bob! What can I do for you?"]
    out = say(th, "Hi, I'm Ana, pick up the red cube please.", "y")
    assert acts(out) == [Action("pick", {"object": "red_cube"})]
    assert lines(out)[0].startswith("Welcome back, Ana!")


def test_my_favourite_cube_is_the_one_she_said(remembered):
    th = make(remembered, user="Ana")
    out = say(th, "Please pick up my favourite cube.")
    assert acts(out) == [Action("pick", {"object": "blue_cube"})]
    assert any("likes the blue cube best" in c.segment.text for c in out if isinstance(c, Publish))


def test_the_usual_is_the_most_frequent_request(remembered):
    th = make(remembered, user="Ana")
    assert acts(say(th, "The usual, please.")) == [Action("pick", {"object": "blue_cube"})]


def test_a_stranger_has_no_favourite(remembered):
    th = make(remembered, user="Bob")
    assert acts(say(th, "Pick up my favourite cube.")) == []
    assert acts(say(th, "The usual.", "y")) == []


def test_forget_goes_to_the_memory_node(remembered):
    th = make(remembered, user="Ana")
    out = say(th, "Please forget what I told you.")
    forget = [c.event for c in out if isinstance(c, Notice) and c.event.type == ev.FORGET]
    assert len(forget) == 1 and forget[0].payload == {"user": "Ana"} and forget[0].text
    assert lines(out) == ["Done, Ana. I've forgotten what you told me."]
    assert th.profile == []


def test_forget_from_a_stranger_asks_who_they_are(remembered):
    th = make(remembered)
    out = say(th, "Forget everything about me.")
    assert not [c for c in out if isinstance(c, Notice)]
    assert "What's your name?" in lines(out)[0]


def test_the_model_sees_who_it_talks_to_and_what_it_remembers(remembered):
    th = make(remembered, ["<assistant>Hello Ana.</assistant>"], user="Ana")
    say(th, "Good to see you.")
    system = th.system_text
    assert "You are talking with Ana" in system
    assert "Ana's favourite cube is the blue one" in system
    assert "recall(query)" in system  # declared only with a memory


def test_recall_action_brings_an_observation_and_the_model_goes_on(remembered):
    streams = ["<think>I should check.</think><action>recall(query=favourite cube)</action>",
               "<assistant>Your favourite is the blue cube.</assistant>"]
    th = make(remembered, streams, user="Ana")
    out = say(th, "Which cube do I like?")
    observed = [c.segment.text for c in out if isinstance(c, Publish) and c.segment.kind == OBSERVE]
    assert len(observed) == 1 and observed[0].startswith("recall(query=favourite cube): - ")
    assert "favourite cube is the blue one" in observed[0]
    results = [c.event for c in out if isinstance(c, Notice) and c.event.type == ev.ACTION_RESULT]
    assert results and results[0].payload["action"] == "recall(query=favourite cube)"
    assert lines(out) == ["Your favourite is the blue cube."]
    assert "<observation>recall(query=favourite cube)" in th.transcript()


def test_recall_is_refused_without_a_memory():
    th = make(None, ["<action>recall(query=anything)</action>", "<assistant>Sorry.</assistant>"])
    out = say(th, "What do you remember about me?")
    refused = [c for c in out if isinstance(c, Report) and "refused" in c.text]
    assert refused and "memory" in refused[0].text


def test_a_broken_memory_file_does_not_take_the_turn_down(tmp_path):
    reader = MemoryReader(tmp_path / "memory.sqlite3")
    th = make(reader, user="Ana")
    reader.lookups.close()  # as if the file went away under it
    out = say(th, "Pick up the red cube.")
    assert [c for c in out if isinstance(c, Report) and "memory lookup failed" in c.text]
    assert acts(out) == [Action("pick", {"object": "red_cube"})]
    reader.close()


@pytest.mark.parametrize("said, reply", [
    ("Hi, I'm Ana. My favourite cube is the blue one.",
     "Welcome back, Ana! I'll remember that your favourite cube is the blue one."),
    ("Hi, I'm Ana My favorite cube is the green one.",  # as the recogniser wrote it: no full stop
     "Welcome back, Ana! I'll remember that your favourite cube is the green one."),
    ("I prefer the green cube.", "Got it. I'll remember that you prefer the green cube."),
    ("Hello, my name is Bob. I really like the red cube!", "Nice to meet you, Bob! I'll remember that you like the red cube."),
])
def test_a_stated_preference_is_acknowledged(remembered, said, reply):
    th = make(remembered, user="Ana")
    out = say(th, said)
    assert lines(out) == [reply] and acts(out) == []


def test_a_preference_with_a_request_is_a_request(remembered):
    th = make(remembered, user="Ana")
    out = say(th, "I like the red cube. Pick it up.")
    assert lines(out) != ["Got it. I'll remember that you like the red cube."]
    out = say(th, "I'd rather you put the green cube in the bin.", "y")
    assert acts(out) == [Action("place", {"object": "green_cube", "target": "bin"})]


def test_a_voice_names_the_user_for_the_next_turns(remembered):
    th = make(remembered)
    out = th.handle(ev.Event(ev.USER_IDENTIFIED, th._clock(), text="Ana", trace_id="v1",
                             payload={"user": "Ana", "how": "voice", "score": 0.91}))
    assert th.user == "Ana" and th.met is not None and th.met.returning
    assert [c.segment.text for c in out if isinstance(c, Publish)] == ["By their voice, this is Ana."]
    assert acts(say(th, "Pick up my favourite cube.")) == [Action("pick", {"object": "blue_cube"})]
    assert th.handle(ev.Event(ev.USER_IDENTIFIED, th._clock(), payload={"user": "Ana"})) == []  # no news
    out = th.handle(ev.Event(ev.USER_IDENTIFIED, th._clock(), payload={"user": "guest-3"}))
    assert th.user == "guest-3" and "a voice I don't know" in out[0].segment.text


def test_where_i_like_is_the_place_they_said(tmp_path):
    store = Store(tmp_path / "memory.sqlite3")
    rec = EpisodeRecorder(store, tmp_path, user="ana")
    rec.feed(_e(0, "speech_end", "I prefer the bin for my cubes.", "t1"))
    rec.feed(_e(1, "turn_done", "", "t1", outcome="answered"))
    rec.close()
    store.close()
    reader = MemoryReader(tmp_path / "memory.sqlite3")
    th = make(reader, user="Ana")
    assert acts(say(th, "Put the red cube where I like.")) == [Action("place", {"object": "red_cube", "target": "bin"})]
    th = make(reader, user="Bob")  # nothing said about it: not guessed
    assert acts(say(th, "Put the red cube where I like.", "y")) != [Action("place", {"object": "red_cube",
                                                                                       "target": "bin"})]
    reader.close()
