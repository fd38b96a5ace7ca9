"""Requests as slots: what the words name (action, object, direction), what a reply fills or
corrects, and how a request of several steps is split; with the real reader's verb table."""
from __future__ import annotations

import pytest

from seal_nodes.core.actions import Action
from seal_nodes.core.thinking.frames import Frame, frame_of_action, merge, read_frame
from seal_nodes.core.thinking.intent import IntentReader
from seal_nodes.core.thinking.references import SceneObject
from seal_nodes.core.thinking.steps import split_steps

pytestmark = pytest.mark.unit

# Robot frame: x forward, y to the robot's left.
SCENE = [SceneObject("red_cube", "red", (0.42, 0.15)), SceneObject("blue_cube", "blue", (0.50, 0.0)),
         SceneObject("green_cube", "green", (0.58, -0.13))]


@pytest.fixture(scope="module")
def verbs() -> dict[str, str]:
    return IntentReader().verbs  # the verb table needs no encoder


@pytest.mark.parametrize("text, want", [
    ("grab a block for me", Frame("pick", "", "", vague=True, named=True)),
    ("push the red cube", Frame("push", "red_cube", "", named=True)),
    ("the blue cube", Frame("", "blue_cube")),
    ("nudge it to the right", Frame("push", "", "right", vague=True, named=True)),
    ("would you mind grabbing the green block", Frame("pick", "green_cube", "", named=True)),
    ("bump the red one a bit to the left", Frame("push", "red_cube", "left")),  # the only action that goes somewhere
    ("put the green cube in the drawer", Frame("place", "green_cube", "")),  # "put" alone does not name the bin
    ("put the green cube in the bin", Frame("place", "green_cube", "", named=True)),
    ("pick up the cube on your left", Frame("pick", "red_cube", "", named=True)),
    ("don't pick up the red cube", Frame("pick", "red_cube", "", named=True, negated=True)),
    ("bin the other two", Frame("place", "", "", vague=False, named=False)),  # picked some other way
])
def test_the_slots_the_words_fill(verbs, text, want):
    assert read_frame(text, SCENE, verbs) == want


def test_what_is_missing_and_the_action_once_complete(verbs):
    assert Frame("pick", vague=True).missing() == ("object",)
    assert Frame("push", "red_cube").missing() == ("direction",)
    assert Frame("", "blue_cube").missing() == ("action",)
    assert Frame().missing() == ("action", "object")
    assert Frame("push", "red_cube", "left").to_action() == Action("push", {"object": "red_cube", "direction": "left"})
    assert Frame("place", "red_cube").to_action() == Action("place", {"object": "red_cube", "target": "bin"})
    assert Frame("home").to_action() == Action("home")
    assert Frame("pick").to_action() is None


def test_a_reply_fills_the_missing_slot_or_corrects_one(verbs):
    asked = Frame("pick", vague=True, named=True)
    assert merge(asked, read_frame("the green one", SCENE, verbs)).to_action() == Action("pick", {"object": "green_cube"})
    which_way = Frame("push", "red_cube")
    assert merge(which_way, read_frame("to the left", SCENE, verbs)).to_action() == Action(
        "push", {"object": "red_cube", "direction": "left"})
    what = Frame("", "blue_cube")
    assert merge(what, read_frame("pick it up", SCENE, verbs)).to_action() == Action("pick", {"object": "blue_cube"})
    guessed = frame_of_action(Action("pick", {"object": "green_cube"}))
    assert merge(guessed, read_frame("push it to the right", SCENE, verbs)).to_action() == Action(
        "push", {"object": "green_cube", "direction": "right"})
    assert merge(guessed, read_frame("no the blue one", SCENE, verbs)).to_action() == Action(
        "pick", {"object": "blue_cube"})


@pytest.mark.parametrize("text, steps", [
    ("Pick up the red cube, then go back home.", ["pick up the red cube", "go back home"]),
    ("Push the green cube to the right and point at the blue one.",
     ["push the green cube to the right", "point at the blue one"]),
    ("First point at the blue cube, then at the green one.", ["point at the blue cube", "at the green one"]),
    ("Which one is the blue cube? Point at it.", ["which one is the blue cube", "point at it"]),
    ("Put the red and the green cube in the bin.", ["put the red and the green cube in the bin"]),
    ("Grab the red cube and hold it.", ["grab the red cube", "hold it"]),
])
def test_a_request_is_split_only_where_the_words_mark_a_step(verbs, text, steps):
    assert split_steps(text, verbs.keys() | {"go"}) == steps
