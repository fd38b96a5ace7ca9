"""The grounded intent step: new wordings, misheard words, confidence bands, compound requests,
executors and yes/no replies, read with the real MiniLM encoder against a scene with positions.

The wordings here are not the reader's paraphrases (a test checks it): they stand for what a
new user says.
"""
from __future__ import annotations

import pytest

from seal_nodes.core.actions import Action
from seal_nodes.core.language.encoder import SentenceEncoder
from seal_nodes.core.thinking.intent import ACT, CONFIRM, UNSURE, IntentReader, Reading, SceneObject, clean
from seal_nodes.core.thinking.references import scene_objects
from seal_nodes.core.thinking.paraphrases import CHAT, OUT_OF_SCOPE, QUESTIONS, wordings

pytestmark = pytest.mark.unit

# Robot frame: x forward, y to the robot's left. Red is furthest left (and furthest away), blue
# furthest right, green closest.
SCENE = [SceneObject("red_cube", "red", (0.58, 0.15)), SceneObject("green_cube", "green", (0.42, 0.02)),
         SceneObject("blue_cube", "blue", (0.50, -0.14))]


def pick(o): return Action("pick", {"object": f"{o}_cube"})
def place(o): return Action("place", {"object": f"{o}_cube", "target": "bin"})
def push(o, d): return Action("push", {"object": f"{o}_cube", "direction": d})
def point(o): return Action("point", {"object": f"{o}_cube"})


HOME = Action("home")

NEW_WORDINGS = [
    ("would you be so kind as to lift the blue block off the table", pick("blue")),
    ("hey, grab me that blue cube please", pick("blue")),
    ("get hold of the red one", pick("red")),
    ("I need the green cube, can you pick it up", pick("green")),
    ("chuck the red cube in the bin", place("red")),
    ("pop the green block into the bin for me", place("green")),
    ("could you drop the blue one in the trash bin", place("blue")),
    ("nudge the green cube a little to the right", push("green", "right")),
    ("give the red block a shove to the left", push("red", "left")),
    ("slide the blue one over towards the right", push("blue", "right")),
    ("show me which one is the green block", point("green")),
    ("point your finger at the red one", point("red")),
    ("head back to your home position", HOME),
    ("return to where you began please", HOME),
    ("okay go back to your resting pose", HOME),
]
MISHEARD = [
    ("could you ramp the blue cube", pick("blue"), "grab"),   # "grab"
    ("pick up the read cube", pick("red"), "red"),
    ("point at the blew cube", point("blue"), "blue"),
    ("push the grin cube to the left", push("green", "left"), "green"),
]
COMPOUND = [
    ("Could you put the two cubes that are not blue into the bin?", (place("red"), place("green"))),
    ("pick up all of them", (pick("red"), pick("green"), pick("blue"))),
    ("point at every cube", (point("red"), point("green"), point("blue"))),
    ("put the red and the green cube in the bin", (place("red"), place("green"))),
    ("grab the one closest to you", (pick("green"),)),
    ("push the one on the left to the right", (push("red", "right"),)),
    ("point at the one on your right", (point("blue"),)),
]
OUT_OF_SCOPE_ASKS = ["brew me a cup of coffee", "what's the weather going to be like tomorrow",
                     "book me a flight to rome", "how tall is the eiffel tower"]
QUESTIONS_ASKED = ["so what do you see in front of you", "hi there, what's your name?",
                   "why on earth did you do that", "what are you up to", "where is the red cube?"]


@pytest.fixture(scope="module")
def reader() -> IntentReader:
    return IntentReader(SentenceEncoder())


def test_the_wordings_here_are_not_the_readers_paraphrases():
    known = {clean(w) for o in SCENE for name in ("pick", "place", "point") for w in
             wordings(Action(name, {"object": o.name, "target": "bin"} if name == "place" else {"object": o.name}),
                      o.color, o.name)}
    known |= {clean(w) for o in SCENE for d in ("left", "right")
              for w in wordings(Action("push", {"object": o.name, "direction": d}), o.color, o.name)}
    known |= {clean(w) for w in wordings(HOME)} | {clean(w) for w in QUESTIONS + CHAT + OUT_OF_SCOPE}
    ours = [t for t, _ in NEW_WORDINGS] + [t for t, *_ in MISHEARD] + [t for t, _ in COMPOUND] + \
        OUT_OF_SCOPE_ASKS + QUESTIONS_ASKED
    assert not [t for t in ours if clean(t) in known]


@pytest.mark.parametrize("text, action", NEW_WORDINGS, ids=[t for t, _ in NEW_WORDINGS])
def test_new_wordings_are_read_by_meaning(reader, text, action):
    u = reader.read(text, SCENE)
    assert u.kind == "command" and u.best is not None
    assert u.best.actions == (action,)
    assert u.band in (ACT, CONFIRM)


def test_most_plain_new_wordings_are_acted_on(reader):
    acted = [t for t, a in NEW_WORDINGS if reader.read(t, SCENE).band == ACT]
    assert len(acted) >= 0.8 * len(NEW_WORDINGS)


@pytest.mark.parametrize("text, action, corrected", MISHEARD, ids=[t for t, *_ in MISHEARD])
def test_misheard_words_are_corrected_by_sound(reader, text, action, corrected):
    u = reader.read(text, SCENE)
    assert u.best is not None and u.best.actions == (action,)
    assert u.band in (ACT, CONFIRM)
    assert corrected in u.best.heard.split()


def test_a_corrected_reading_is_asked_about_rather_than_acted_on(reader):
    u = reader.read("could you ramp the blue cube", SCENE)
    assert u.best.source == "sound" and u.band == CONFIRM


def test_another_transcript_can_carry_the_reading(reader):
    alone = reader.read("pig up the grin cube", SCENE)
    helped = reader.read("pig up the grin cube", SCENE, alternatives=["pick up the green cube"])
    assert helped.best.actions == (pick("green"),)
    assert helped.best.confidence >= (alone.best.confidence if alone.best else 0.0)


def test_a_clear_request_is_acted_on_with_a_calibrated_confidence(reader):
    u = reader.read("Please pick up the red cube.", SCENE)
    assert u.band == ACT and u.best.confidence >= reader.act_at
    assert u.best.describe() == "pick up the red cube"
    assert all(r.actions != u.best.actions for r in u.alternatives)


def test_the_cube_among_three_is_not_acted_on(reader):
    u = reader.read("pick up the cube", SCENE)
    assert u.kind == "command" and u.band in (CONFIRM, UNSURE)
    named = {a.args.get("object") for r in (u.best, *u.alternatives) for a in r.actions}
    assert {"red_cube", "green_cube"} <= named  # the readings to choose from are offered


def test_the_cube_alone_on_the_table_is(reader):
    u = reader.read("pick up the cube", [SceneObject("red_cube", "red", (0.5, 0.0))])
    assert u.band == ACT and u.best.actions == (pick("red"),)


@pytest.mark.parametrize("text", ["purple monkey dishwasher", "pick up the yellow cube",
                                  "don't pick up the red cube", "put the two cubes in the bin"])
def test_nonsense_absent_objects_negations_and_wrong_counts_are_not_acted_on(reader, text):
    assert reader.read(text, SCENE).band != ACT


@pytest.mark.parametrize("text", OUT_OF_SCOPE_ASKS)
def test_out_of_scope_asks_are_unsure_with_nothing_to_do(reader, text):
    u = reader.read(text, SCENE)
    assert (u.kind, u.band, u.best) == ("none", UNSURE, None)


@pytest.mark.parametrize("text", QUESTIONS_ASKED)
def test_questions_are_left_to_the_thinker_to_answer(reader, text):
    u = reader.read(text, SCENE)
    assert (u.kind, u.best) == ("question", None)


@pytest.mark.parametrize("text", ["hello there", "thanks a lot", "thank you so much"])
def test_greetings_and_thanks_are_chat(reader, text):
    assert reader.read(text, SCENE).kind == "chat"


@pytest.mark.parametrize("text", ["stop!", "Halt right now", "freeze"])
def test_stop_is_acted_on_at_once(reader, text):
    u = reader.read(text, SCENE)
    assert (u.kind, u.band, u.best.actions) == ("stop", ACT, (Action("stop"),))


def test_dont_stop_is_no_stop(reader):
    assert reader.read("please don't stop", SCENE).kind != "stop"


@pytest.mark.parametrize("text, actions", COMPOUND, ids=[t for t, _ in COMPOUND])
def test_compound_requests_resolve_against_the_scene(reader, text, actions):
    u = reader.read(text, SCENE)
    assert u.kind == "command" and u.band == ACT
    assert u.best.actions == actions


def test_a_compound_reading_is_described_as_one_request(reader):
    u = reader.read("Could you put the two cubes that are not blue into the bin?", SCENE)
    assert u.best.source == "compound"
    assert u.best.describe() == "put the red cube and the green cube in the bin"


def test_positions_unknown_leave_the_one_on_the_left_unresolved(reader):
    blind = [SceneObject(o.name, o.color, None) for o in SCENE]
    assert reader.read("push the one on the left to the right", blind).band != ACT


def test_without_an_arm_no_arm_action_is_offered(reader):
    u = reader.read("pick up the blue cube", SCENE, executors=("system",))
    assert u.best is None or all(a.executor != "arm" for r in (u.best, *u.alternatives) for a in r.actions)
    assert u.band == UNSURE and u.kind == "none"
    assert reader.read("stop", SCENE, executors=("system",)).kind == "stop"


def test_on_screen_requests_keep_the_verb_rules(reader):
    u = reader.read("click the search button", SCENE, executors=("gui", "system"))
    assert u.band == ACT and u.best.actions == (Action("click", {"target": "the search button"}),)
    assert reader.read("click the search button", SCENE).band != ACT  # no screen to click on


@pytest.mark.parametrize("text, kind", [("yes please", "yes"), ("yeah do it", "yes"), ("sure, go ahead", "yes"),
                                        ("no, the red one", "no"), ("nope", "no"), ("not that one", "no"),
                                        ("the red one", "none"), ("what", "none")])
def test_answers_to_a_question_back(reader, text, kind):
    assert reader.answer_kind(text) == kind


def test_a_reply_is_read_as_an_answer_with_its_correction(reader):
    assert reader.read("yes please", SCENE).kind == "yes"
    u = reader.read("no, the red one", SCENE)
    assert u.kind == "no"
    assert u.best is not None and all(a.args.get("object") == "red_cube" for a in u.best.actions)


def test_scene_objects_come_from_the_thinkers_state():
    known = {"red_cube", "blue_cube", "mug"}
    scene = {"red_cube": {"name": "red_cube", "color": "red", "position": [0.5, 0.1, 0.02], "frame": "world"},
             "blue_cube": {"name": "blue_cube", "centroid": [320.0, 200.0]}}
    assert scene_objects(known, scene) == [SceneObject("blue_cube", "blue", None), SceneObject("mug", "", None),
                                           SceneObject("red_cube", "red", (0.5, 0.1))]


def test_describe_names_every_action_in_order():
    r = Reading((pick("red"), place("red"), push("green", "left"), push("blue", "left"), HOME), 0.9, "compound", "")
    assert r.describe() == ("pick up the red cube, then put the red cube in the bin, "
                            "then push the green cube and the blue cube left, then go home")


def test_a_reading_only_another_transcript_supports_is_asked_about_not_acted_on():
    reader = IntentReader()  # the band needs no encoder
    pick_red = (Action("pick", {"object": "red_cube"}),)
    assert reader._band(Reading(pick_red, 0.99, "meaning", "pick up the red cube")) == ACT
    assert reader._band(Reading(pick_red, 0.99, "alternative", "pick up the red cube")) == CONFIRM
