"""Rule summaries from scripted turns: preferences, facts, requests, what failed, what worked; the LM hook."""
from __future__ import annotations

import pytest

from seal_nodes.core.memory import summaries
from seal_nodes.core.memory.summaries import Turn, describe_action, parse_action, rules, task_type, turn_outcome

pytestmark = pytest.mark.unit


def _event(type_: str, text: str = "", **payload) -> dict:
    return {"type": type_, "stamp_ns": 0, "text": text, "trace_id": "t", "source": "", "payload": payload}


def _result(action: str, ok: bool, message: str = "", canceled: bool = False) -> dict:
    return _event("action_result", message, action=action, success=ok, canceled=canceled)


def _turn(text: str, *events: dict, outcome: str = "answered", actions=(), success=(), understood="",
          user: str = "Ana") -> Turn:
    return Turn("t", user, 0, text, [_event("speech_end", text), *events], outcome, list(actions), list(success),
                understood)


def _texts(notes, kind):
    return [n.text for n in notes if n.kind == kind]


@pytest.mark.parametrize("said,entry", [
    ("I prefer the blue bin.", "Ana prefers the blue bin"),
    ("I prefer the blue bin, so put the cubes there", "Ana prefers the blue bin"),
    ("Hi there. I really like my cubes stacked, thanks", "Ana likes their cubes stacked"),
    ("I don't like the red bin", "Ana does not like the red bin"),
    ("I always want the lights off", "Ana always wants the lights off"),
    ("I'd rather you use the left bin please", "Ana would rather you use the left bin"),
    ("from now on put my cubes in the green box", "Ana wants you to always put their cubes in the green box"),
    ("my favourite colour is purple", "Ana's favourite colour is purple"),
    ("Hi, I'm Ana My favorite cube is the blue one.", "Ana's favourite cube is the blue one"),  # no full stop heard
])
def test_stated_preferences(said, entry):
    notes = rules(_turn(said), [], "e1")
    assert _texts(notes, "preference") == [entry]
    assert _texts(notes, "fact") == []  # a favourite is a preference, not also a fact
    assert all(n.outcome == "stated" and not n.shared for n in notes if n.kind == "preference")


@pytest.mark.parametrize("said", [
    "I'd like you to pick up the red cube", "would you like to play", "do I prefer the blue bin?", "I like it",
    "pick up the green cube",
])
def test_not_preferences(said):
    assert _texts(rules(_turn(said), [], "e1"), "preference") == []


def test_the_same_preference_keeps_one_key_and_a_reversal_shares_it():
    liked = rules(_turn("I like the blue bin"), [], "e1")[0]
    disliked = rules(_turn("I don't like the blue bin"), [], "e2")[0]
    assert liked.key == disliked.key == "preference:the blue bin"  # the newer statement replaces the older


@pytest.mark.parametrize("said,entry", [
    ("my office is room 4", "Ana's office is room 4"),
    ("and my cats are called Tom and Jerry", "Ana's cats are called tom and jerry"),
    ("I'm allergic to peanuts", "Ana is allergic to peanuts"),
    ("I work at the library", "Ana works at the library"),
])
def test_stated_facts(said, entry):
    assert _texts(rules(_turn(said), [], "e1"), "fact") == [entry]


def test_my_name_is_not_a_fact():
    assert _texts(rules(_turn("my name is Ana"), [], "e1"), "fact") == []


def test_a_request_says_what_was_asked_and_done():
    turn = _turn("put the red cube in the bin", _result("place(object=red_cube, target=bin)", True, "done"),
                 outcome="acted", actions=["place(object=red_cube, target=bin)"], success=[True],
                 understood="put the red cube in the bin")
    notes = rules(turn, [], "e1")
    assert _texts(notes, "request") == ['Ana asked "put the red cube in the bin"; '
                                        'done: put the red cube in the bin (succeeded)']
    assert (notes[0].task, notes[0].outcome) == ("place", "succeeded")


def test_a_request_names_what_was_understood_and_the_error():
    turn = _turn("grab the purple ball", _event("error", "unknown object 'purple_ball'"), outcome="apologized",
                 understood="pick up the purple ball")
    assert _texts(rules(turn, [], "e1"), "request") == [
        'Ana asked "grab the purple ball" (understood: pick up the purple ball); could not help; '
        "error: unknown object 'purple_ball'"]


def test_an_answer_is_quoted_and_a_long_request_cut():
    turn = _turn("what do you see?", _event("agent_speech_end", "A red cube and a green cube."))
    assert _texts(rules(turn, [], "e1"), "request") == ['Ana asked "what do you see?"; '
                                                        'answered "A red cube and a green cube."']
    long = rules(_turn("tell me " + "a very long story " * 20), [], "e1")
    assert len(_texts(long, "request")[0]) < 200 and " …\"" in _texts(long, "request")[0]


def test_failures_are_counted_over_the_episode_with_the_last_reason():
    pick = "pick(object=green_cube)"
    first = _turn("pick up the green cube", _result(pick, False, "slipped at the edge"), outcome="acted",
                  actions=[pick], success=[False])
    second = _turn("try again", _result(pick, False, "slipped again"), outcome="acted", actions=[pick], success=[False])
    third = _turn("once more", _result(pick, True, "picked"), outcome="acted", actions=[pick], success=[True])
    n1 = rules(first, [], "e1")
    n2 = rules(second, [first], "e1")
    n3 = rules(third, [first, second], "e1")
    assert _texts(n1, "failure") == ["pick up the green cube failed once: slipped at the edge"]
    assert _texts(n2, "failure") == ["pick up the green cube failed twice: slipped again"]
    assert [n.key for n in n1 + n2 if n.kind == "failure"] == ["e1:failed:" + pick] * 2  # the count replaces
    assert all(n.shared and n.task == "pick" for n in n1 + n2 if n.kind == "failure")
    assert _texts(n3, "worked") == ["pick up the green cube succeeded after failing twice "
                                    "(last failure: slipped again)"]
    assert _texts(n3, "failure") == []


def test_a_canceled_action_teaches_nothing_about_the_action():
    turn = _turn("stop", _result("pick(object=red_cube)", False, "stopped", canceled=True), outcome="acted",
                 actions=["pick(object=red_cube)"], success=[False])
    notes = rules(turn, [], "e1")
    assert _texts(notes, "failure") == [] and turn_outcome(turn) == "canceled"


def test_task_types_and_outcomes():
    assert task_type(_turn("push it", outcome="acted", actions=["push(object=red_cube, direction=left)"])) == "push"
    assert task_type(_turn("what is on the table?")) == "question"
    assert task_type(_turn("hello", outcome="apologized")) == "conversation"
    assert task_type(_turn("my office is room 12", outcome="answered")) == "conversation"  # a statement
    assert task_type(_turn("where is the red cube", outcome="answered")) == "question"  # no "?" heard
    assert turn_outcome(_turn("hello", outcome="")) == "unfinished"
    assert turn_outcome(_turn("x", outcome="acted", actions=["home()"], success=[False])) == "failed"


def test_actions_in_words():
    assert parse_action("place(object=red_cube, target=bin)").args == {"object": "red_cube", "target": "bin"}
    assert parse_action("home()").args == {} and parse_action("not an action") is None
    assert parse_action("pick(red_cube)") is None
    assert describe_action("pick(object=green_cube)") == "pick up the green cube"
    assert describe_action("place(object=red_cube)") == "place(object=red_cube)"  # a template it cannot fill
    assert describe_action("wave(hand=left)") == "wave"
    assert describe_action("x", "pick up the cube gently") == "pick up the cube gently"


def test_an_empty_turn_writes_nothing():
    assert rules(_turn("   ", outcome="apologized"), [], "e1") == []


def test_lm_prompt_and_reply_parsing():
    pick = "pick(object=green_cube)"
    turn = _turn("I prefer the blue bin", _event("agent_speech_end", "Noted."), _result(pick, False, "slipped"),
                 _event("error", "gripper fault"))
    prompt = summaries.lm_prompt([turn])
    assert "Ana: I prefer the blue bin" in prompt and "robot: Noted." in prompt
    assert f"robot did {pick}: failed slipped" in prompt and "error: gripper fault" in prompt
    assert len(summaries.lm_prompt([turn] * 500, max_chars=1000)) < 1400
    reply = "- Ana prefers the blue bin.\n\n2) The green cube slips at the table edge.\n* ok\n* a\nline four\nline five"
    notes = summaries.lm_notes(reply, "pick", "failed", "e1")
    assert [n.text for n in notes] == ["Ana prefers the blue bin.", "The green cube slips at the table edge.",
                                       "line four"]
    assert [n.key for n in notes] == ["e1:summary:0", "e1:summary:1", "e1:summary:2"]
    assert summaries.lm_notes("", "pick", "failed", "e1") == []
