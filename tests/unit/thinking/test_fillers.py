"""Natural fillers: fit what the user said, carry [THINKING], never repeat the previous one."""
from __future__ import annotations

import random

import pytest

from seal_nodes.core.thinking import fillers
from seal_nodes.core.thinking.fillers import FillerChooser, kind_of
from seal_nodes.core.voice.speech_tags import parse_speech

pytestmark = pytest.mark.unit

ALL_OPTIONS = {
    "question": fillers._QUESTION,
    "request": fillers._REQUEST,
    "statement": fillers._STATEMENT,
    "still": fillers._STILL,
}


# --- classification -------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "What is on the table?", "why", "How far is it", "Which cube is red", "where did it go", "When do we leave",
    "Who are you", "Can you help me", "could you wait", "Do you see it", "Does it work", "Is it red",
    "Are you there", "Will it rain", "Would you mind", "Should I go", "The cube is red?", "okay?  ",
    "WHAT now", "what, exactly", "Can you please pick up the cube",
])
def test_questions(text):
    assert kind_of(text) == "question"


@pytest.mark.parametrize("text", [
    "Please put the red cube in the bin", "Put it down.", "pick up the red cube", "Push the blue one",
    "move left", "Give me the cube", "Show me the table", "tell me a joke", "Find the green cube",
    "go home", "Book a flight to Alaska", "Click the button", "Okay, please stop", "Now, pick it up.",
    "hey robot, move", "Right! Pick it up",
])
def test_requests(text):
    assert kind_of(text) == "request"


@pytest.mark.parametrize("text", [
    "I like the red cube.", "The weather is nice today", "ok", "", "   ", "My name is Ann",
    "I think we should, eventually, pick it up",  # request word beyond the first three
    "Thanks!",
])
def test_statements(text):
    assert kind_of(text) == "statement"


# --- the filler itself ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind, options", ALL_OPTIONS.items())
def test_every_filler_carries_thinking_and_is_speakable(kind, options):
    assert len(options) >= 2  # otherwise "never twice in a row" is impossible
    assert len(set(options)) == len(options)
    for f in options:
        assert "[THINKING]" in f
        parsed = parse_speech(f)  # the TTS accepts it
        assert parsed.clean_text.strip()
        assert "[" not in parsed.clean_text


@pytest.mark.parametrize("text, kind", [
    ("What is that?", "question"), ("Please pick up the cube", "request"), ("I like cubes", "statement"),
])
def test_filler_fits_the_kind_of_input(text, kind):
    c = FillerChooser()
    for _ in range(10):
        assert c.choose(text) in ALL_OPTIONS[kind]


def test_still_thinking_uses_its_own_variants():
    c = FillerChooser()
    seen = set()
    for text in ("What is that?", "Please pick it", "I like it") * 4:
        f = c.choose(text, still_thinking=True)
        assert f in fillers._STILL
        seen.add(f)
    assert len(seen) >= 2


def test_all_variants_of_a_kind_get_used():
    c = FillerChooser()
    seen = {c.choose("What is that?") for _ in range(12)}
    assert seen == set(fillers._QUESTION)


def test_never_the_same_filler_twice_in_a_row_same_input():
    for still in (False, True):
        c = FillerChooser()
        prev = None
        for _ in range(200):
            f = c.choose("Where is the cube?", still_thinking=still)
            assert f != prev
            prev = f


def test_never_the_same_filler_twice_in_a_row_mixed_inputs():
    texts = ["What is that?", "Please pick up the cube", "I like cubes", "Okay.", "Can you move?", "go"]
    rng = random.Random(7)
    c = FillerChooser()
    prev = None
    for _ in range(2000):
        f = c.choose(rng.choice(texts), still_thinking=rng.random() < 0.3)
        assert "[THINKING]" in f
        assert f != prev
        prev = f


def test_choosers_are_independent():
    a, b = FillerChooser(), FillerChooser()
    assert [a.choose("What?") for _ in range(5)] == [b.choose("What?") for _ in range(5)]
