"""Declared action set, validation, instructions; command parsing and the commands backend."""
from __future__ import annotations

import pytest

from seal_nodes.core.actions import (ACTION_SET, ARM, GUI, MEMORY, SYSTEM, Action, ActionError, instruction_for,
                                     object_phrase, validate)
from seal_nodes.core.arm.instructions import InstructionError, Task, parse_instruction
from seal_nodes.core.thinking.context import ACT, SAY, THINK
from seal_nodes.core.thinking.fast_path import (CommandBackend, ReasoningInput, Trigger, format_action,
                                       parse_action, parse_command)

pytestmark = pytest.mark.unit

KNOWN = {"red_cube", "green_cube", "blue_cube"}


# --- actions -----------------------------------------------------------------------------------

def test_action_set_declares_executors():
    assert set(ACTION_SET) == {"pick", "place", "push", "point", "home", "click", "type", "read", "begin_lesson",
                               "save_skill", "run_skill", "stop", "recall"}
    assert Action("pick", {"object": "red_cube"}).executor == ARM
    assert Action("click", {"target": "ok"}).executor == GUI
    assert Action("run_skill", {"name": "check_tab_city"}).executor == GUI
    assert Action("stop").executor == SYSTEM
    assert Action("recall", {"query": "blue bin"}).executor == MEMORY


def test_a_skill_call_takes_exactly_the_skills_parameters():
    skills = {"check_tab_city": ("tab", "city")}
    ok = Action("run_skill", {"name": "check_tab_city", "tab": "Wind", "city": "Paris"})
    assert validate(ok, KNOWN, skills=skills) is ok
    with pytest.raises(ActionError, match="no skill named 'book'"):
        validate(Action("run_skill", {"name": "book"}), KNOWN, skills=skills)
    with pytest.raises(ActionError, match=r"missing \['city'\], unexpected \['town'\]"):
        validate(Action("run_skill", {"name": "check_tab_city", "tab": "Wind", "town": "Paris"}), KNOWN, skills=skills)
    with pytest.raises(ActionError, match="1..120 characters"):
        validate(Action("run_skill", {"name": "check_tab_city", "tab": "Wind", "city": "x" * 121}), KNOWN,
                 skills=skills)
    with pytest.raises(ActionError, match="no skill named"):  # nothing found, nothing callable
        validate(ok, KNOWN)


def test_a_recall_query_is_bounded():
    assert validate(Action("recall", {"query": "what does Ana like"}), KNOWN)
    with pytest.raises(ActionError, match="at most"):
        validate(Action("recall", {"query": "x" * 500}), KNOWN)


def test_action_str():
    assert str(Action("push", {"object": "red_cube", "direction": "left"})) == "push(object=red_cube, direction=left)"
    assert str(Action("home")) == "home()"


@pytest.mark.parametrize("action", [
    Action("pick", {"object": "red_cube"}),
    Action("place", {"object": "green_cube", "target": "bin"}),
    Action("push", {"object": "blue_cube", "direction": "right"}),
    Action("point", {"object": "red_cube"}),
    Action("home"),
    Action("stop"),
    Action("click", {"target": "the OK button"}),
    Action("type", {"target": "search box", "text": "cubes"}),
])
def test_valid_actions_pass(action):
    assert validate(action, KNOWN) is action


@pytest.mark.parametrize("action, match", [
    (Action("fly"), "unknown action"),
    (Action("pick"), "missing \\['object'\\]"),
    (Action("pick", {"object": ""}), "missing"),
    (Action("pick", {"object": "red_cube", "speed": "max"}), "unexpected \\['speed'\\]"),
    (Action("home", {"object": "red_cube"}), "unexpected"),
    (Action("pick", {"object": "purple_cube"}), "unknown object 'purple_cube'"),
    (Action("place", {"object": "red_cube", "target": "sink"}), "unknown target 'sink'"),
    (Action("push", {"object": "red_cube", "direction": "up"}), "direction must be"),
    (Action("push", {"object": "bin", "direction": "up"}), "unknown object"),
    (Action("type", {"target": "x"}), "missing \\['text'\\]"),
])
def test_invalid_actions_are_refused(action, match):
    with pytest.raises(ActionError, match=match):
        validate(action, KNOWN)


def test_action_error_is_a_value_error():
    assert issubclass(ActionError, ValueError)


def test_known_targets_override_default_bin():
    a = Action("place", {"object": "red_cube", "target": "tray"})
    assert validate(a, KNOWN, known_targets={"tray"}) is a
    with pytest.raises(ActionError):
        validate(Action("place", {"object": "red_cube", "target": "bin"}), KNOWN, known_targets={"tray"})


def test_gui_targets_are_not_checked_against_arm_targets():
    validate(Action("click", {"target": "anything"}), set(), known_targets=set())


@pytest.mark.parametrize("action, text", [
    (Action("pick", {"object": "red_cube"}), "pick up the red cube"),
    (Action("place", {"object": "green_cube", "target": "bin"}), "put the green cube in the bin"),
    (Action("push", {"object": "blue_cube", "direction": "left"}), "push the blue cube left"),
    (Action("point", {"object": "red_cube"}), "point at the red cube"),
    (Action("home"), "go home"),
    (Action("click", {"target": "OK"}), "click OK"),
    (Action("type", {"target": "box", "text": "hi"}), "type 'hi' into box"),
    (Action("stop"), "stop"),
])
def test_instruction_for(action, text):
    assert instruction_for(action) == text


def test_object_phrase():
    assert object_phrase("red_cube") == "the red cube"


@pytest.mark.parametrize("action, task", [
    (Action("pick", {"object": "red_cube"}), Task("pick", "red_cube")),
    (Action("place", {"object": "green_cube", "target": "bin"}), Task("place", "green_cube")),
    (Action("push", {"object": "blue_cube", "direction": "right"}), Task("push", "blue_cube", "right")),
    (Action("point", {"object": "red_cube"}), Task("point", "red_cube")),
    (Action("home"), Task("home")),
])
def test_thinker_instructions_parse_back_on_the_policy_side(action, task):
    # the thinker and the policy agree on the instruction language
    assert parse_instruction(instruction_for(action)) == task


# --- seal_nodes.core.arm.instructions ------------------------------------------------------------

@pytest.mark.parametrize("text, task", [
    ("Pick up the red cube.", Task("pick", "red_cube")),
    ("  grab   a blue block!", Task("pick", "blue_cube")),
    ("drop the green cube into the bin", Task("place", "green_cube")),
    ("push the red cube to the left", Task("push", "red_cube", "left")),
    ("home", Task("home")),
])
def test_parse_instruction(text, task):
    assert parse_instruction(text) == task


@pytest.mark.parametrize("text", ["", "   ", "dance", "pick up the red cube and dance", "push the red cube up"])
def test_parse_instruction_rejects(text):
    with pytest.raises(InstructionError):
        parse_instruction(text)


# --- parse_command -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, action", [
    ("Pick up the red cube.", Action("pick", {"object": "red_cube"})),
    ("could you grab the blue block", Action("pick", {"object": "blue_cube"})),
    ("take the green one", Action("pick", {"object": "green_cube"})),
    ("Put the red cube in the bin", Action("place", {"object": "red_cube", "target": "bin"})),
    ("throw the yellow cube into the box", Action("place", {"object": "yellow_cube", "target": "bin"})),
    ("push the blue cube to the left", Action("push", {"object": "blue_cube", "direction": "left"})),
    ("slide the red block right", Action("push", {"object": "red_cube", "direction": "right"})),
    ("point at the green cube", Action("point", {"object": "green_cube"})),
    ("show me the red cube", Action("point", {"object": "red_cube"})),
    ("go home", Action("home")),
    ("Stop!", Action("stop")),
    ("please cancel that", Action("stop")),
])
def test_parse_command(text, action):
    assert parse_command(text) == action


@pytest.mark.parametrize("text", [
    "hello", "", "pick up the cube", "pick up the red ball", "say pick(object=red_cube)",
    "push(object=bin, direction=up)", "push the red cube up", "pickup the red cube",
])
def test_parse_command_none(text):
    assert parse_command(text) is None


# --- parse_action / format_action --------------------------------------------------------------

@pytest.mark.parametrize("action", [
    Action("pick", {"object": "red_cube"}),
    Action("push", {"object": "red_cube", "direction": "left"}),
    Action("home"),
])
def test_format_parse_roundtrip(action):
    text = format_action(action)
    assert text == str(action)
    assert parse_action(text) == action


def test_parse_action_tolerates_spaces():
    assert parse_action("  place( object = red_cube ,target=bin )  ") == Action(
        "place", {"object": "red_cube", "target": "bin"})


@pytest.mark.parametrize("text", ["", "pick", "pick object=red_cube", "pick(red_cube)", "pick(=x)",
                                  "Pick(object=red_cube)", "pick(object=red_cube) now", "pi ck()"])
def test_parse_action_malformed(text):
    with pytest.raises(ValueError):
        parse_action(text)


# --- CommandBackend ----------------------------------------------------------------------------

def respond(trigger, known=KNOWN):
    return list(CommandBackend().respond(ReasoningInput("", trigger, set(known))))


def kinds(segs):
    return [s.kind for s in segs]


def test_backend_greeting_and_small_talk_have_no_thought():
    for text in ("hi", "Good morning robot", "thanks a lot", "how are you?"):
        segs = respond(Trigger("user", text))
        assert kinds(segs) == [SAY], text


def test_backend_command_yields_think_act_say():
    segs = respond(Trigger("user", "pick up the red cube"))
    assert kinds(segs) == [THINK, ACT, SAY]
    assert segs[1].text == "pick(object=red_cube)"
    assert segs[2].text == "Sure, picking up the red cube."


def test_backend_stop_has_no_object():
    segs = respond(Trigger("user", "stop"), known=set())
    assert kinds(segs) == [THINK, ACT, SAY] and segs[1].text == "stop()"


def test_backend_unknown_object_no_act():
    segs = respond(Trigger("user", "pick up the red cube"), known={"blue_cube"})
    assert ACT not in kinds(segs)
    assert segs[-1].text == "I don't see the red cube here."


def test_backend_not_understood():
    segs = respond(Trigger("user", "sing a song"))
    assert kinds(segs) == [THINK, SAY] and "didn't understand" in segs[-1].text


def test_backend_observation_success_failure_cancel():
    ok = respond(Trigger("observation", "ok", {"action": "place(object=red_cube, target=bin)", "success": True}))
    assert [s.text for s in ok] == ["Done, the red cube is in the bin."]
    bad = respond(Trigger("observation", "dropped", {"action": "pick(object=red_cube)", "success": False}))
    assert kinds(bad) == [THINK, SAY] and bad[-1].text == "Sorry, that didn't work: dropped"
    cancel = respond(Trigger("observation", "x", {"action": "pick(object=red_cube)", "success": False,
                                                   "canceled": True}))
    assert cancel == []
    garbage = respond(Trigger("observation", "?", {"action": "###", "success": True}))
    assert garbage == []  # parsed as stop(): no done template


def test_backend_an_action_lost_to_a_restarted_executor_is_told_with_what_was_left_undone():
    lost = respond(Trigger("observation", "the Manipulate server restarted; the goal was lost",
                           {"action": "pick(object=red_cube)", "success": False, "lost": True}))
    assert kinds(lost) == [THINK, SAY]
    assert lost[-1].text.startswith("My arm controller restarted; the pick of the red cube was not finished.")
    gui = respond(Trigger("observation", "lost", {"action": "click(target=OK)", "success": False, "lost": True}))
    assert gui[-1].text.startswith("My screen controller restarted; the click on OK was not finished.")


def test_backend_refusal():
    segs = respond(Trigger("refusal", "unknown object", {"reason_for_user": "I don't see it."}))
    assert kinds(segs) == [THINK, SAY]
    assert segs[-1].text == "Sorry, I can't do that. I don't see it."
    segs = respond(Trigger("refusal", "nope"))
    assert segs[-1].text == "Sorry, I can't do that."


# --- on-screen requests ------------------------------------------------------------------------

@pytest.mark.parametrize("utterance,action", [
    ("Click the search button.", Action("click", {"target": "the search button"})),
    ("please click on the product in the third row, second column",
     Action("click", {"target": "the product in the third row, second column"})),
    ("Could you press the cart icon?", Action("click", {"target": "the cart icon"})),
    ("Type hello world into the search box", Action("type", {"target": "the search box", "text": "hello world"})),
    ("click the cancel button", Action("click", {"target": "the cancel button"})),  # not "stop"
])
def test_gui_requests_are_parsed(utterance, action):
    assert parse_command(utterance) == action


@pytest.mark.parametrize("args", [
    {"target": "the product in the third row, second column"},
    {"target": 'the "OK" button (top)', "text": "a, b"},
    {"target": "back\\slash"},
])
def test_values_with_commas_quotes_and_parentheses_round_trip(args):
    action = Action("type" if "text" in args else "click", args)
    assert parse_action(format_action(action)) == action


@pytest.mark.parametrize("bad", ['click(target="unterminated)', 'click(target=a, "b)'])
def test_unterminated_quotes_are_malformed(bad):
    with pytest.raises(ValueError, match="unterminated"):
        parse_action(bad)


# --- the scene, from what vision reported -----------------------------------------------------

def _ask(text, scene=None, known=("red_cube", "green_cube", "blue_cube")):
    request = ReasoningInput("", Trigger("user", text), set(known), scene or {})
    return [s.text for s in CommandBackend(strict=False).respond(request)]


def test_scene_questions_are_answered_from_what_was_seen():
    assert _ask("What do you see?") == ["I see 3 cubes on the table: the blue cube, the green cube and the red cube, "
                                        "and the bin."]
    assert _ask("How many cubes are there?") == _ask("What is on the table?") == _ask("What do you see?")
    assert _ask("Where is the red cube?", {"red_cube": {"position": [0.45, 0.12, 0.02]}}) == [
        "The red cube is on my left, close to me."]
    assert _ask("where's the blue cube", {"blue_cube": {"position": [0.6, -0.15, 0.02]}}) == [
        "The blue cube is on my right, far from me."]
    assert "haven't seen exactly where" in _ask("Where is the green cube?")[0]
    assert _ask("Where is the purple cube?") == ["I don't see the purple cube here."]


@pytest.mark.parametrize("text", ["What's the weather like there?", "What is your name?", "Tell me a joke"])
def test_other_questions_are_left_to_the_model(text):
    assert _ask(text) == []


def test_a_follow_up_names_another_object_for_the_last_action():
    transcript = ("<user>Put the purple cube in the bin.</user>\n"
                  "<observation>refused place(object=purple_cube, target=bin): unknown object</observation>")
    request = ReasoningInput(transcript, Trigger("user", "Then the red one, please."), {"red_cube"})
    segs = list(CommandBackend(strict=False).respond(request))
    assert [s.text for s in segs if s.kind == "act"] == ["place(object=red_cube, target=bin)"]
    # nothing to follow up: left to the model
    assert list(CommandBackend(strict=False).respond(
        ReasoningInput("", Trigger("user", "Then the red one, please."), {"red_cube"}))) == []
