"""The GUI executor on an app page (the in-memory weather app): steps named in words, a lesson
that becomes a skill, the skill replayed on another app, hand-back before a wrong click, and bad
instructions refused with the reason."""
from __future__ import annotations

import json

import pytest

from seal_nodes.core.skills.operator import MAX_INSTRUCTION_CHARS, GuiOperator
from tests.unit.skills.fake_page import weather

pytestmark = pytest.mark.unit

LESSON = ["begin lesson: check the humidity in Paris", "click open search", "type 'Paris' into the city field",
          "click paris", "click the search button", "click humidity", "read the value"]


def taught() -> tuple[GuiOperator, object]:
    app = weather()
    op = GuiOperator(app)
    for instruction in LESSON:
        out = op.do(instruction)
        assert out.success, (instruction, out.message)
    return op, app


def test_a_lesson_becomes_a_skill_with_the_values_the_task_names():
    op, app = taught()
    out = op.do("save skill: check the humidity in Paris")
    assert out.success, out.message
    skill = out.learned
    assert (skill.name, skill.description) == ("check_tab_city", "check the {tab} in {city}")
    assert skill.params == {"city": "Paris", "tab": "Humidity"}
    assert [s.op for s in skill.steps] == ["click", "fill", "click", "click", "click", "read"]
    assert out.message.startswith("Got it: I learned how to check the humidity in Paris, in 6 steps")
    assert app.effects == ["search Paris", "tab Humidity"]
    assert op.lesson == "" and not op.do("save skill: check the humidity in Paris").success  # the lesson is spent


def test_steps_say_what_they_did_and_a_read_says_the_value():
    app = weather()
    op = GuiOperator(app)
    assert op.do("click open search").message == 'clicked button "Open search"'
    typed = op.do("type 'Tok' into the city box")
    assert typed.success and typed.target == 'textbox "City" labelled "City"'
    for step in ("click tokyo", "click search", "click the wind tab"):
        assert op.do(step).success, step
    assert op.do("read the value").message == "Value: 12 km/h."


def test_the_skill_replays_on_a_new_app_with_new_values():
    op, _ = taught()
    skill = op.do("save skill: check the humidity in Paris").learned
    other = weather(slow_s=1.5)  # a slow load: waited for, never slept through
    out = GuiOperator(other).do("run skill: " + json.dumps({"skill": skill.to_dict(),
                                                            "params": {"city": "Tokyo", "tab": "Wind"}}))
    assert out.success, out.message
    assert out.message == "Done: check the Wind in Tokyo, in 6 steps. The value is 12 km/h."
    assert out.replay.ok and out.skill == "check_tab_city"
    assert other.effects == ["search Tokyo", "tab Wind"]


def test_a_changed_page_is_handed_back_before_any_wrong_click():
    op, _ = taught()
    skill = op.do("save skill: check the humidity in Paris").learned
    renamed = weather("rename_button")
    out = GuiOperator(renamed).do("run skill: " + json.dumps({"skill": skill.to_dict(),
                                                              "params": {"city": "Lima", "tab": "Wind"}}))
    assert not out.success
    assert out.message == ('check_tab_city stopped before step 4 of 6: postcondition failed after step 3: '
                           'button "Search" is not there')
    assert out.replay.handed_back_at == 3
    assert renamed.effects == []


def test_a_failed_step_is_reported_and_left_out_of_the_lesson():
    app = weather()
    op = GuiOperator(app, timeout_s=0.3)  # a name that is not there is looked for until then
    op.do("begin lesson: check the wind in Lima")
    missing = op.do("click the settings button")
    assert not missing.success and "nothing here is called 'settings'" in missing.message
    assert 'button "Open search"' in missing.message  # what there is, to choose from
    for step in ("click open search", "type 'Lima' into the city field", "click lima", "click search",
                 "click wind", "read the value"):
        assert op.do(step).success, step
    learned = op.do("save skill: check the wind in Lima").learned
    assert len(learned.steps) == 6


def test_two_equally_good_matches_are_refused_not_guessed():
    app = weather("duplicate_button")
    op = GuiOperator(app)
    for step in ("click open search", "type 'Lima' into the city field", "click lima"):
        assert op.do(step).success
    out = op.do("click search")
    assert not out.success and "could be" in out.message
    assert app.effects == []


@pytest.mark.parametrize("instruction, why", [
    ("", "empty instruction"),
    ("x" * (MAX_INSTRUCTION_CHARS + 1), "instruction too long"),
    ("dance", "not an instruction for an app page"),
    ("run skill: {not json", "bad skill call"),
    ('run skill: {"skill": {"name": "x"}}', "bad skill call"),
    ("save skill: check the wind", "there is nothing to save"),
    ("begin lesson:", "a lesson needs the task"),
    ("click the", "no element named"),
])
def test_bad_instructions_are_refused_with_the_reason(instruction, why):
    out = GuiOperator(weather(), timeout_s=0.3).do(instruction)
    assert not out.success and why in out.message


def test_a_skill_that_hands_back_is_repaired_from_where_it_stopped():
    op, _ = taught()
    skill = op.do("save skill: check the humidity in Paris").learned
    renamed = weather("rename_button")
    fixer = GuiOperator(renamed)
    stopped = fixer.do("run skill: " + json.dumps({"skill": skill.to_dict(), "params": {"city": "Lima", "tab": "Wind"}}))
    assert not stopped.success and fixer.lesson == "check the Wind in Lima"
    for step in ("click find", "click wind", "read the value"):  # the user shows the rest
        assert fixer.do(step).success, step
    repaired = fixer.do("save skill: check the Wind in Lima").learned
    assert repaired.name == skill.name and repaired.params == {"city": "Lima", "tab": "Wind"}
    assert [s.anchor.name for s in repaired.steps if s.op == "click"] == ["Open search", "{city}", "Find", "{tab}"]
    assert renamed.effects == ["search Lima", "tab Wind"]
    again = GuiOperator(weather("rename_button")).do(
        "run skill: " + json.dumps({"skill": repaired.to_dict(), "params": {"city": "Tokyo", "tab": "Humidity"}}))
    assert again.success, again.message
