"""A streaming model as the memory's summariser: its spoken answer, one line per sentence."""
from __future__ import annotations

import pytest

from seal_nodes.core.thinking.lm.base import ModelError
from seal_nodes.core.thinking.lm.scripted import ScriptedModel
from seal_nodes.core.thinking.lm.summarise import summariser

pytestmark = pytest.mark.unit


def test_the_spoken_answer_is_the_summary_one_sentence_per_line():
    model = ScriptedModel(["<think>Two things.</think><assistant>Ana prefers the blue bin. The green cube "
                           "slipped twice.</assistant><assistant>Ana is left-handed.</assistant>"],
                          tokens_per_s=1e6)
    reply = summariser(model, sleep=lambda s: None)("Ana: put it in the blue bin\nrobot did …")
    assert reply.splitlines() == ["Ana prefers the blue bin.", "The green cube slipped twice.", "Ana is left-handed."]


def test_a_model_that_never_finishes_is_given_up():
    model = ScriptedModel(["<assistant>" + "word " * 50 + "</assistant>"], tokens_per_s=0.001)
    with pytest.raises(ModelError, match="no summary"):
        summariser(model, timeout_s=0.0, sleep=lambda s: None)("anything")


def test_a_model_that_has_nothing_to_say_gives_an_empty_summary():
    model = ScriptedModel(["<think>Nothing worth keeping.</think>"], tokens_per_s=1e6)
    assert summariser(model, sleep=lambda s: None)("hello") == ""
