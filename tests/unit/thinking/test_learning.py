"""The thinker learning on screen: a lesson begun and saved by voice, a request done by a skill
found in the knowledge base (its values bound from the words), a near miss offered to the model
as a hint, and the skill's result said aloud."""
from __future__ import annotations

import json

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.memory.reader import MemoryReader
from seal_nodes.core.memory.store import Store
from seal_nodes.core.skills.library import SkillLibrary
from seal_nodes.core.skills.model import Anchor, Postcondition, Skill, Step
from seal_nodes.core.thinking.commands import Act, Publish, Say
from seal_nodes.core.thinking.context import ACT, HINT, Segment
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig

pytestmark = pytest.mark.unit

SKILL = Skill("check_tab_city", "check the {tab} in {city}", {"city": "Rome", "tab": "Humidity"}, (
    Step("click", Anchor("link", "Open search"), post=Postcondition("search")),
    Step("fill", Anchor("textbox", "City", "City"), value="{city}", at="search"),
    Step("click", Anchor("tab", "{tab}"), at="results"),
    Step("read", Anchor("status", "{tab} value"), output="tab_value", at="results"),
))


class Clock:
    t = 10**18

    def __call__(self) -> int:
        Clock.t += 1_000_000
        return Clock.t


@pytest.fixture
def reader(tmp_path):
    store = Store(tmp_path / "memory.sqlite3")
    SkillLibrary(store).save(SKILL)
    store.close()
    r = MemoryReader(tmp_path / "memory.sqlite3")
    yield r
    r.close()


def thinker(memory=None, executors=("gui", "system")) -> Thinker:
    return Thinker(None, set(), clock_ns=Clock(), config=ThinkerConfig(think_while_listening=False),
                   executors=executors, memory=memory)


def say(th: Thinker, text: str, trace: str = "t") -> list:
    return th.handle(ev.Event(ev.SPEECH_END, th._clock(), text=text, trace_id=trace))


def acts(out) -> list[Act]:
    return [c for c in out if isinstance(c, Act)]


def test_a_lesson_is_begun_shown_step_by_step_and_saved():
    th = thinker()
    out = say(th, "Let me show you how to check the humidity in Rome.", "t1")
    assert [(a.action.name, a.instruction) for a in acts(out)] == \
        [("begin_lesson", "begin lesson: check the humidity in Rome")]
    assert [c.text for c in out if isinstance(c, Say)] == \
        ["Okay, show me how to check the humidity in Rome, step by step. Say \"that's it\" when it's done."]
    step = acts(say(th, "Type Rome into the city field.", "t2"))
    assert [(a.action.name, a.action.args) for a in step] == [("type", {"target": "the city field", "text": "Rome"})]
    assert [a.instruction for a in acts(say(th, "Read the humidity value.", "t3"))] == ["read the humidity value"]
    saved = acts(say(th, "That's it.", "t4"))
    assert [a.instruction for a in saved] == ["save skill: check the humidity in Rome"]
    assert th.lesson == ""
    assert acts(say(th, "That's it.", "t5")) == []  # no lesson runs: nothing to save


def test_a_request_a_skill_does_runs_it_with_the_values_it_says(reader):
    th = thinker(reader)
    out = say(th, "Could you check the wind in Paris, please?")
    [act] = acts(out)
    assert act.action.args == {"name": "check_tab_city", "tab": "Wind", "city": "Paris"}
    sent = json.loads(act.instruction.removeprefix("run skill: "))
    assert sent["params"] == {"tab": "Wind", "city": "Paris"}
    assert Skill.from_dict(sent["skill"]).steps == SKILL.steps  # the skill as it was found
    assert [c.text for c in out if isinstance(c, Say)] == ["I know how to do that: check the Wind in Paris."]
    result = th.handle(ev.Event(ev.ACTION_RESULT, th._clock(), text="Done: check the Wind in Paris, in 4 steps. "
                                "The Wind value is 12 km/h.", trace_id="t",
                                payload={"goal_id": act.goal_id, "success": True, "action": str(act.action)}))
    assert [c.text for c in result if isinstance(c, Say)] == \
        ["Done: check the Wind in Paris, in 4 steps. The Wind value is 12 km/h."]


def test_a_skill_that_matches_but_cannot_be_bound_is_a_hint_and_the_turn_goes_on(reader):
    th = thinker(reader)
    out = say(th, "What is the humidity like in Rome?")
    assert acts(out) == []
    hints = [c.segment.text for c in out if isinstance(c, Publish) and c.segment.kind == HINT]
    assert hints and hints[0].startswith("Skills learned earlier that may do this: run_skill(name=check_tab_city, "
                                         "city=…, tab=…): check the {tab} in {city}")
    assert any(isinstance(c, Say) for c in out)  # answered as any request is


def test_a_skill_call_the_context_has_not_found_is_refused(reader):
    th = thinker(reader)
    out = th._act(Segment(ACT, "run_skill(name=check_tab_city, tab=Wind, city=Paris)", trace_id="t"))
    assert acts(out) == [] and any("no skill named" in getattr(c, "text", "") for c in out)


def test_without_a_screen_there_are_no_lessons(reader):
    th = thinker(reader, executors=("arm", "system"))
    assert not any(a.action.name == "begin_lesson" for a in acts(say(th, "Let me show you how to sort the cubes.")))


def test_a_skill_that_hands_back_asks_to_be_shown_the_rest_and_saves_the_new_way(reader):
    th = thinker(reader)
    [act] = acts(say(th, "Check the wind in Paris.", "t1"))
    failed = th.handle(ev.Event(ev.ACTION_RESULT, th._clock(), text="check_tab_city stopped before step 2 of 4: "
                                "missing element", trace_id="t1",
                                payload={"goal_id": act.goal_id, "success": False, "action": str(act.action)}))
    lines = [c.text for c in failed if isinstance(c, Say)]
    assert lines[0].startswith("Sorry, that didn't work: check_tab_city stopped before step 2")
    assert lines[1].startswith("Could you show me how to go on from here")
    assert th.lesson == "check the Wind in Paris"
    assert [a.instruction for a in acts(say(th, "That's it.", "t2"))] == ["save skill: check the Wind in Paris"]
